"""Reading a CSV file: wall time and peak memory of `load_csv` at 16 MiB and at the 256 MiB cap.

    python benchmarks/csv_reading.py [--quick]

Each file is read in a fresh process, timed by the wall clock and by its processor time (the machine
may be shared: the load average before each reading is printed too), whose peak resident memory
(Linux's VmHWM, reset before reading) is the reading's plus the interpreter with NumPy and SymPy
loaded, printed separately as "before". The files:

- "typical": x1 … x30 and a 0/1 label y, each value written to 6 decimals (about 310 bytes a row),
  read for logistic_regression_vector at n = 30;
- "densest": two columns of one-digit values ("1,0"), read for a model of one input and one label:
  the most values per byte a file can hold, where the columns reach their bound of memory.

A 16 MiB block of rows is written once and repeated to reach each size. The numbers are printed and
a dated line is appended to benchmarks/RESULTS.md. `--quick` reads the 16 MiB files only. Not a test:
nothing here fails on time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MIB = 1024**2

DENSEST_MODEL = """title = "one input, one label"
inputs = ["x1"]
targets = ["y"]
parameters = ["w", "b"]
[definitions]
a = "sigmoid(w*x1 + b)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
"""

READ = """
import json, sys, time
import symcalc
from symcalc.numeric.data import load_csv
model = symcalc.Model.load(sys.argv[1], {"n": 30}) if sys.argv[1] != "-" else None
if model is None:
    model = symcalc.Model.load(sys.argv[3])
def status(field):
    text = open("/proc/self/status").read()
    return int(text.split(field + ":")[1].split()[0]) * 1024
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak (VmHWM) starts again from what is resident now
before = status("VmRSS")
start, cpu = time.perf_counter(), time.process_time()
data = load_csv(sys.argv[2], model)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak = status("VmHWM")
held = sum(c.nbytes for c in data.columns.values()) + data.lines.nbytes
found = {"rows": len(data), "seconds": seconds, "cpu": cpu, "before": before, "peak": peak, "held": held}
print(json.dumps(found))
"""


def _typical_block(rows: int) -> bytes:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 30))
    y = (rng.random(rows) < 0.5).astype(int)
    lines = [",".join(f"{v:.6f}" for v in x[r]) + f",{y[r]}" for r in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _densest_block(rows: int) -> bytes:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2, (rows, 2))
    return ("\n".join(f"{a},{b}" for a, b in values) + "\n").encode()


def _write(path: Path, header: str, block: bytes, size: int) -> None:
    """`header`, then `block` repeated, cut at a line break, up to `size` bytes in all."""
    with path.open("wb") as out:
        out.write(header.encode() + b"\n")
        written = len(header) + 1
        while written + len(block) <= size:
            out.write(block)
            written += len(block)
        rest = block[: size - written]
        out.write(rest[: rest.rfind(b"\n") + 1])


def _read(model: list[str], path: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", READ, *model[:1], str(path), *model[1:]],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 16 MiB files only")
    options = parser.parse_args()
    sizes = [16 * MIB] if options.quick else [16 * MIB, 256 * MIB]
    header = ",".join([*(f"x{i}" for i in range(1, 31)), "y"])
    typical = _typical_block(16 * MIB // 310)
    densest = _densest_block(16 * MIB // 4)
    found: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "densest.toml"
        model.write_text(DENSEST_MODEL)
        for size in sizes:
            for kind, head, block, reader in (
                ("typical", header, typical, ["logistic_regression_vector"]),
                ("densest", "x1,y", densest, ["-", str(model)]),
            ):
                path = Path(folder) / f"{kind}.csv"
                _write(path, head, block, size)
                bytes_ = path.stat().st_size
                load = os.getloadavg()[0]
                r = _read(reader, path)
                path.unlink()
                used = r["peak"] - r["before"]
                line = (
                    f"{kind} {bytes_ / MIB:.0f} MiB ({int(r['rows'])} rows): {r['seconds']:.1f} s "
                    f"({r['cpu']:.1f} s of processor time, load {load:.1f} before), "
                    f"peak {r['peak'] / 1e6:.0f} MB ({r['before'] / 1e6:.0f} MB before reading; "
                    f"{used / bytes_:.2f} bytes per byte of file; columns held {r['held'] / 1e6:.0f} MB)"
                )
                print(line, flush=True)
                found.append(line)
    load = os.getloadavg()[0]
    results = HERE / "RESULTS.md"
    if not results.exists():
        results.write_text("# Benchmark results\n\nOne dated line per run of a benchmark script.\n\n")
    with results.open("a") as out:
        today = datetime.date.today().isoformat()
        out.write(f"- {today} csv_reading.py (load average {load:.1f}): " + "; ".join(found) + "\n")


if __name__ == "__main__":
    main()
