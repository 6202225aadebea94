"""Damped Newton's method with a backtracking line search, as a generator of `Epoch` records.

Each iteration solves (H + μI)·d = −g for the step d, with μ = 0 when the Hessian H is
positive definite (its Cholesky factorisation exists) and otherwise the smallest of
μ = 10⁻⁸·s, 10⁻⁷·s, … (s the Hessian's largest diagonal entry, at least 1) that makes it so:
for a convex loss it is Newton's step (IRLS for a generalised linear model), elsewhere a
step that still goes downhill. The step length t is halved from 1 until the loss falls by
at least 10⁻⁴·t·gᵀd (Armijo's rule). Records and stopping rules are gradient descent's
(`symcalc.numeric.descent`); an iteration counts as an epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from symcalc.numeric.descent import Epoch, Flat, Stop, check_settings, non_finite, stopping

#: loss, gradient and Hessian at the parameters (gradient and Hessian over every entry of every
#: parameter, in the parameters' order, an array's entries row by row).
SecondOrderEvaluate = Callable[[Mapping[str, Any]], tuple[float, np.ndarray, np.ndarray]]
Loss = Callable[[Mapping[str, Any]], float]

ARMIJO = 1e-4  # the share of the predicted decrease a step must achieve
HALVINGS = 50  # 2⁻⁵⁰ ≈ 1e-15: below this the step changes nothing in float64
DAMPING = tuple(10.0**k for k in range(-8, 9))  # μ / s tried in turn when H is not positive definite


def newton(
    evaluate: SecondOrderEvaluate,
    loss_at: Loss,
    start: Mapping[str, Any],
    iterations: int,
    tol: float = 0.0,
) -> Iterator[Epoch]:
    """Yield an `Epoch` per iteration of damped Newton's method from `start` (numbers, or arrays),
    as `descend` does."""
    check_settings(iterations, tol)
    began = time.perf_counter()
    flat = Flat.of(start)

    def at(point: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        return evaluate(flat.named(point))

    params = flat.vector(start)
    loss, gradient_vector, hessian = at(params)
    history: list[float] = []
    previous: Epoch | None = None
    for iteration in range(iterations + 1):
        gradient = flat.named(gradient_vector)
        named = flat.named(params)
        elapsed = time.perf_counter() - began
        if not (math.isfinite(loss) and np.isfinite(gradient_vector).all() and np.isfinite(hessian).all()):
            yield non_finite(previous, named, loss, gradient, elapsed, history, iteration, "")
            return
        history.append(loss)
        record = Epoch(iteration, named, loss, gradient, elapsed)
        stop, message = stopping(record, iteration, iterations, tol, "iteration")
        step = None
        if stop is None:
            direction = _direction(hessian, gradient_vector)
            step = _step(at, loss_at, flat, params, loss, gradient_vector @ direction, direction)
            if step is None:
                stop = Stop.STALLED
                message = (
                    f"no step along Newton's direction lowers the loss (gradient norm "
                    f"{record.gradient_norm:.3g}, tolerance {tol:g}): the loss is as low as float64 resolves"
                )
        if stop is not None or step is None:
            yield Epoch(iteration, named, loss, gradient, elapsed, stop, message, tuple(history))
            return
        yield record
        previous = record
        params, (loss, gradient_vector, hessian) = step


def _direction(hessian: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """Solve (H + μI)·d = −g with the smallest μ of 0, `DAMPING`·s that leaves H + μI positive definite."""
    scale = max(1.0, float(np.abs(np.diag(hessian)).max(initial=0.0)))
    identity = np.eye(len(gradient))
    for damping in (0.0, *DAMPING):
        shifted = hessian + damping * scale * identity
        try:
            np.linalg.cholesky(shifted)
        except np.linalg.LinAlgError:
            continue
        return np.asarray(np.linalg.solve(shifted, -gradient))
    return -gradient  # a Hessian no damping tamed (not finite in some way): plain gradient descent


def _step(
    at: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]],
    loss_at: Loss,
    flat: Flat,
    params: np.ndarray,
    loss: float,
    slope: float,
    direction: np.ndarray,
) -> tuple[np.ndarray, tuple[float, np.ndarray, np.ndarray]] | None:
    """The next parameters and their evaluation: the first t of 1, 1/2, 1/4, … with
    loss(params + t·d) ≤ loss + ARMIJO·t·slope; None if none.

    The full step is tried with the whole evaluation (loss, gradient, Hessian), which the next
    iteration needs when it is taken, as it usually is; shorter ones with the loss alone.
    """
    if not slope < 0:
        return None
    trial = params + direction
    evaluation = at(trial)
    if math.isfinite(evaluation[0]) and evaluation[0] <= loss + ARMIJO * slope:
        return trial, evaluation
    length = 0.5
    for _ in range(HALVINGS - 1):
        trial = params + length * direction
        value = loss_at(flat.named(trial))
        if math.isfinite(value) and value <= loss + ARMIJO * length * slope:
            return trial, at(trial)
        length /= 2
    return None
