"""Time `symcalc grade` on a generated class: 200 submissions, right, wrong and hostile.

Run: python benchmarks/grading.py [N]   (the issue's budget: 200 submissions under 2 minutes on a
2-core machine, one row each). The folder is generated in a temporary directory; the time, the
verdicts counted and the load average go to the terminal and, as a dated line, to
benchmarks/RESULTS.md. Not a test: it prints, and fails only when a submission has no row.
"""

from __future__ import annotations

import csv
import datetime
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

RIGHT = r"""Logistic regression, by hand.
\begin{align*}
\frac{\partial L}{\partial a} &= -\frac{y}{a} + \frac{1 - y}{1 - a} \\
\frac{\partial a}{\partial z} &= \sigma(z)\left(1 - \sigma(z)\right) = a(1 - a) \\
\frac{\partial L}{\partial z} &= \frac{\partial L}{\partial a}\frac{\partial a}{\partial z}
  = \left(-\frac{y}{a} + \frac{1 - y}{1 - a}\right) a (1 - a) \\
  &= a - y \\
\frac{\partial L}{\partial w_1} &= \frac{\partial L}{\partial z}\frac{\partial z}{\partial w_1}
  = (a - y)\, x_1 \\
\frac{\partial L}{\partial b} &= a - y
\end{align*}
"""
RIGHT_TXT = "dL/dz = a - y\ndL/dw1 = (a - y) x_1\ndL/db = a - y\n"
RIGHT_MD = "# Homework 3\n\n$$\\frac{dL}{dz} = a - y$$\n\nthen\n\n$$\\frac{dL}{dw_1} = x_1 (a - y)$$\n"
WRONG = [
    RIGHT.replace(r"= (a - y)\, x_1", r"= (y - a)\, x_1"),  # a sign slip
    RIGHT.replace(r"\right) a (1 - a) \\", r"\right) \\"),  # the a(1 - a) factor dropped
    RIGHT_TXT.replace("dL/db = a - y", "dL/db = (a - y) x_1"),
    RIGHT_MD.replace("x_1 (a - y)", "x_1 a"),
]
HOSTILE = [
    ("macro.tex", "$$ \\def\\x{1} \\x = 1 $$\n"),
    ("input.tex", "\\[ \\input{/etc/passwd} \\]\n"),
    ("unknown.tex", "$$ \\frac{\\partial Q}{\\partial z} = 1 $$\n"),
    ("deep.txt", "dL/dz = " + "(" * 500 + "a" + ")" * 500 + "\n"),
    ("power.txt", "dL/dz = (a + y + x_1 + w_1 + b)^{999} (a - y + b)^{998} - (a + y)^{998} + a - y\n"),
    ("catcode.tex", "$$ \\catcode`\\^^M=13 a = a $$\n"),
    ("empty.md", "no maths at all\n"),
]


def generate(folder: Path, count: int) -> None:
    """`count` submissions: two fifths right, two fifths wrong, one fifth hostile (a 10 MB file, a
    binary one, a link out of the folder and the HOSTILE texts among them)."""
    outside = folder.parent / "secret.txt"
    outside.write_text("dL/dz = a - y\n", encoding="utf-8")
    rights = [("tex", RIGHT), ("txt", RIGHT_TXT), ("md", RIGHT_MD)]
    for k in range(count):
        name = f"student{k:03d}"
        kind = k % 5
        if kind in (0, 1):
            suffix, text = rights[k % 3]
            (folder / f"{name}.{suffix}").write_text(text, encoding="utf-8")
        elif kind in (2, 3):
            text = WRONG[k % len(WRONG)]
            suffix = "txt" if text.startswith("dL/dz") else "md" if text.startswith("#") else "tex"
            (folder / f"{name}.{suffix}").write_text(text, encoding="utf-8")
        else:
            which = (k // 5) % (len(HOSTILE) + 3)
            if which == len(HOSTILE):
                (folder / f"{name}.tex").write_bytes(b"$$ a = a $$\n" + b"%" * 10_000_000)
            elif which == len(HOSTILE) + 1:
                (folder / f"{name}.md").write_bytes(os.urandom(4096))
            elif which == len(HOSTILE) + 2:
                (folder / f"{name}.txt").symlink_to(outside)
            else:
                suffix, text = HOSTILE[which]
                (folder / f"{name}-{suffix}").write_text(text, encoding="utf-8")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "class"
        folder.mkdir()
        generate(folder, count)
        out = Path(temporary) / "grades"
        load = os.getloadavg()[0]
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "symcalc",
            "grade",
            "logistic_regression",
            str(folder),
            "-o",
            str(out),
        ]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
        if finished.returncode != 0:
            sys.exit(f"symcalc grade exited {finished.returncode}: {finished.stderr.strip()}")
        with open(out / "grades.csv", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        verdicts = Counter(row["verdict"] for row in rows)
        files = len(os.listdir(folder))
    counted = ", ".join(f"{n} {verdict}" for verdict, n in sorted(verdicts.items()))
    line = (
        f"{count} submissions ({files} files) in {seconds:.1f} s ({cpu:.1f} s of processor time) on "
        f"{os.cpu_count()} CPUs, load {load:.1f} before: {len(rows)} rows ({counted})"
    )
    print(line)
    if len(rows) != files:
        sys.exit(f"{files} files but {len(rows)} rows")
    results = HERE / "RESULTS.md"
    with results.open("a", encoding="utf-8") as handle:
        handle.write(f"- {datetime.date.today().isoformat()} grading.py: {line}\n")


if __name__ == "__main__":
    main()
