"""L-BFGS-B from SciPy (an optional extra) with symcalc's exact gradient, as `Epoch` records.

SciPy is imported here only, when the method is asked for. The loss and gradient come
from the same back end as gradient descent's; SciPy stops when every gradient component is
below tol/√n in absolute value (its `gtol`, so that the gradient's norm is below `tol`; `ftol`
is 0, so a slow stretch does not stop it early) or after `iterations` iterations. The records
are yielded once SciPy returns: one for the start and one per iteration, the last with the
reason it stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from symcalc.errors import DescentError
from symcalc.numeric.descent import Epoch, Evaluate, Flat, Stop, check_settings, non_finite, stopping

#: Gradient pairs L-BFGS keeps (SciPy's default is 10).
MEMORY = 10


def lbfgs(evaluate: Evaluate, start: Mapping[str, Any], iterations: int, tol: float = 0.0) -> Iterator[Epoch]:
    """Yield the `Epoch` records of SciPy's L-BFGS-B from `start` (numbers, or arrays); DescentError
    without SciPy."""
    check_settings(iterations, tol)
    try:
        from scipy.optimize import minimize
    except ImportError:
        raise DescentError(
            "--method lbfgs needs SciPy, which is not installed", fix="pip install 'symcalc-gradients[fit]'"
        ) from None
    flat = Flat.of(start)
    seen: dict[bytes, tuple[float, dict[str, Any]]] = {}
    began = time.perf_counter()
    records: list[Epoch] = []

    def named(x: np.ndarray) -> dict[str, Any]:
        return flat.named(np.asarray(x, dtype=np.float64))

    def function(x: np.ndarray) -> tuple[float, np.ndarray]:
        loss, gradient = evaluate(named(x))
        seen[np.asarray(x, dtype=np.float64).tobytes()] = (loss, dict(gradient))
        if not math.isfinite(loss):
            return math.inf, np.zeros(len(x))  # L-BFGS-B's line search then shortens its step
        return loss, flat.vector(gradient)

    def record(x: np.ndarray) -> Epoch:
        key = np.asarray(x, dtype=np.float64).tobytes()
        loss, gradient = seen[key] if key in seen else evaluate(named(x))
        return Epoch(len(records), named(x), loss, dict(gradient), time.perf_counter() - began)

    def callback(intermediate_result: Any) -> None:
        records.append(record(intermediate_result.x))

    x0 = flat.vector(start)
    records.append(record(x0))
    # max |gᵢ| ≤ tol/√n makes the gradient's norm at most tol, the test `stopping` applies
    options = {"maxiter": iterations, "gtol": tol / math.sqrt(len(x0)), "ftol": 0.0, "maxcor": MEMORY}
    result = minimize(function, x0, jac=True, method="L-BFGS-B", callback=callback, options=options)
    if not np.array_equal(flat.vector(records[-1].parameters), result.x):
        records.append(record(result.x))
    yield from records[:-1]
    yield _final(records[-1], records, iterations, tol, str(result.message))


def _final(last: Epoch, records: list[Epoch], iterations: int, tol: float, message: str) -> Epoch:
    """The last record with the reason it stopped: converged or out of iterations by `stopping`, else
    SciPy's own reason (its line search can go no further)."""
    history = tuple(r.loss for r in records)
    if not (math.isfinite(last.loss) and all(np.isfinite(g).all() for g in last.gradient.values())):
        previous = next((r for r in reversed(records) if math.isfinite(r.loss)), None)
        return non_finite(
            previous, last.parameters, last.loss, last.gradient, last.elapsed, history, last.epoch, ""
        )
    stop, reason = stopping(last, last.epoch, iterations, tol, "iteration")
    if stop is None:
        stop, reason = Stop.STALLED, f"L-BFGS-B stopped: {message} (gradient norm {last.gradient_norm:.3g})"
    return Epoch(last.epoch, last.parameters, last.loss, last.gradient, last.elapsed, stop, reason, history)
