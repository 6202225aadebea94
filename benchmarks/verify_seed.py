"""Time `symcalc.verify` on the seed against `symcalc.derive` in the same process; prints, never fails.

Run: python benchmarks/verify_seed.py [FILE]   (the issue's budget: under 5 s on a 2-core machine)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import symcalc


def best_of(repeats: int, work: Callable[[], Any]) -> float:
    """The fastest of `repeats` runs, in seconds: the least disturbed by other load."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else None
    model = symcalc.load(target)
    derivation = symcalc.derive(model)
    checks = symcalc.verify(derivation)
    load = best_of(5, lambda: symcalc.load(target))
    derive = best_of(5, lambda: symcalc.derive(model))
    verify = best_of(5, lambda: symcalc.verify(derivation))
    start = time.perf_counter()
    command = [sys.executable, "-m", "symcalc", "verify", *([target] if target else [])]
    code = subprocess.run(command, capture_output=True, check=False).returncode
    cli = time.perf_counter() - start
    print(f"model: {model.title} ({model.source}); {os.cpu_count()} CPUs")
    print(f"checks: {len(checks)}, all hold: {all(c.holds for c in checks)}")
    print(f"load                    {load * 1000:8.1f} ms")
    print(f"derive (baseline)       {derive * 1000:8.1f} ms")
    print(f"verify                  {verify * 1000:8.1f} ms   = {verify / derive:.1f} x derive")
    print(f"`symcalc verify` (CLI)  {cli * 1000:8.1f} ms   exit {code}, budget 5000 ms")


if __name__ == "__main__":
    main()
