"""Issue 19's scaling rows: deep models derive, codegen and train in time and size linear in depth.

Run:  python benchmarks/depth.py            (depths 25, 50, 100, 200 of each model)
      python benchmarks/depth.py --quick    (depths 25 and 50)

For a tanh chain, a residual chain and a network of 4 tanh units per layer, each
depth runs in its own child process (a budget of --timeout seconds each) and
reports the seconds to derive, to build the numeric program, to generate the
module (and its lines), and per gradient-descent step on 1 000 samples. The
"growth" columns are (value at depth d ÷ value at the first depth) ÷ (d ÷ first
depth): 1.0 is linear, 2.0 at depth 200 against 25 would be quadratic's 8 ÷ 4.
Prints, never fails.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: (label, the function of tests/deep_models.py, its arguments after the depth). The network is 2 units
#: wide here: at 4 units, depth 100 declares 2 005 names, past the file format's cap of 2 000.
FAMILIES = (
    ("tanh chain", "tanh_chain", ""),
    ("residual chain", "residual_chain", ""),
    ("network, 2 units", "network", ", width=2"),
    ("network, 4 units", "network", ", width=4"),
)

_CHILD = """
import json, pathlib, sys, tempfile, time
sys.path.insert(0, {root!r})
sys.setrecursionlimit(10000)
import numpy as np
import dataclasses

import symcalc
from symcalc.numeric.codegen import generate
from symcalc.numeric.descent import train
from symcalc.numeric.model import NumericModel
from symcalc.numeric.program import build_program
from tests import deep_models

path = pathlib.Path(tempfile.mkdtemp()) / "model.toml"
path.write_text(getattr(deep_models, {family!r})({depth}{arguments}))
row = {{}}
start = time.perf_counter()
derivation = symcalc.derive(symcalc.load(str(path)))
row["derive"] = time.perf_counter() - start
start = time.perf_counter()
program = build_program(derivation)
row["program"] = time.perf_counter() - start
row["lines"] = len(program.shared)
start = time.perf_counter()
module = generate(derivation)
row["codegen"] = time.perf_counter() - start
row["module_lines"] = module.count("\\n")
numeric = NumericModel(dataclasses.replace(program, batch_source=module, batch_problem=""))
start = time.perf_counter()
numeric.build()
row["build"] = time.perf_counter() - start
row["backend"] = numeric.backend
rng = np.random.default_rng(0)
data = {{name: rng.standard_normal(1000) for name in program.inputs}}
data |= {{name: rng.integers(0, 2, 1000).astype(float) for name in program.targets}}
params = numeric.start(scale=0.3)
numeric.evaluate(params, data)  # warm
start = time.perf_counter()
for _ in range(20):
    params = numeric.step(params, data, 0.01)
row["step"] = (time.perf_counter() - start) / 20
print(json.dumps(row))
"""


def measure(family: str, arguments: str, depth: int, timeout: float) -> dict[str, Any] | str:
    code = _CHILD.format(root=str(ROOT), family=family, arguments=arguments, depth=depth)
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"over {timeout:.0f} s"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["?"]
        first = next((line for line in lines if "Error" in line or "error" in line), lines[-1])
        return "failed: " + first[-140:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    depths = (25, 50) if args.quick else (25, 50, 100, 200)
    columns = ("derive", "program", "codegen", "step")
    print(
        f"| model | depth | {' | '.join(f'{c} (s)' for c in columns)} | lines | module lines | back end "
        f"| growth of {' / '.join(columns)} / lines |"
    )
    print("|---" * (len(columns) + 6) + "|")
    for label, family, arguments in FAMILIES:
        first: dict[str, Any] | None = None
        for depth in (14, 25) if "4 units" in label else depths:
            row = measure(family, arguments, depth, args.timeout)
            if isinstance(row, str):
                print(f"| {label} | {depth} | {row} |")
                continue
            if first is None:
                first, first_depth = row, depth
            growth = " / ".join(
                f"{(row[c] / first[c]) / (depth / first_depth):.2f}" if first[c] > 0 else "-"
                for c in (*columns, "lines")
            )
            cells = " | ".join(f"{row[c]:.3g}" for c in columns)
            print(
                f"| {label} | {depth} | {cells} | {row['lines']} | {row['module_lines']} | {row['backend']} "
                f"| {growth} |",
                flush=True,
            )


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"\n{time.perf_counter() - start:.0f} s in all", file=sys.stderr)
