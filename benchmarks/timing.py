"""The timing the benchmark scripts share (run as `python benchmarks/NAME.py`, they import it by name)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best(function: Callable[[], Any], repeat: int = 7) -> float:
    """The fastest of `repeat` calls of `function`, in seconds, after one call that warms it up."""
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)
