"""Independent checks used by many tests: SymPy's own diff of the fully composed loss."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

import mpmath
import sympy as sp

import symcalc
from symcalc.symbolic.functions import step, to_elementary


def composed_gradient(model: symcalc.Model, parameter: sp.Symbol) -> sp.Expr:
    """d(loss)/d(parameter) by SymPy's diff on the loss with every definition substituted."""
    composed = to_elementary(model.composed[model.loss])
    return sp.diff(composed, parameter)


def sample_point(model: symcalc.Model, rng: random.Random) -> dict[sp.Symbol, float]:
    """Values for the independent names: targets in (0, 1) so log(a), log(1 - a) are defined.

    Each of the file's assumptions (e.g. y1 + y2 + y3 = 1) is met exactly by solving it
    for its last name and computing that name from the others.
    """
    point: dict[sp.Symbol, float] = {}
    for sym in model.independents:
        value = rng.uniform(0.05, 0.95) if sym in model.targets else rng.uniform(-2, 2)
        point[sym] = round(value * 1024) / 1024  # dyadic, so sums like 1 - y1 - y2 are exact

    for _, assumption in model.assumptions:
        name = sorted(assumption.free_symbols, key=str)[-1]
        (solution,) = sp.solve(assumption, name)
        point[name] = float(solution.subs(point))
    return point


@functools.lru_cache(maxsize=4096)
def _mp_function(names: tuple[sp.Symbol, ...], expr: sp.Expr) -> Callable[..., Any]:
    """An mpmath evaluator for a SymPy expression we built (never user text), sharing subexpressions;
    kept, since `values_at` evaluates the same definitions at every point of every comparison."""
    # step(u) is 1 for u > 0, else 0: written as a Piecewise so that SymPy's own printer evaluates it.
    plain = to_elementary(expr).replace(
        lambda e: isinstance(e, step), lambda e: sp.Piecewise((1, e.args[0] > 0), (0, True))
    )
    return sp.lambdify(names, plain, modules="mpmath", cse=True)


def values_at(model: symcalc.Model, point: dict[sp.Symbol, float]) -> dict[sp.Symbol, Any]:
    """Every name's value at `point`: the independent names given, the definitions computed in order."""
    values: dict[sp.Symbol, Any] = {sym: mpmath.mpf(v) for sym, v in point.items()}
    for sym, expr in model.definitions:
        values[sym] = _mp_function(tuple(values), expr)(*values.values())
    return values


def agree_numerically(
    model: symcalc.Model, ours: sp.Expr, oracle: sp.Expr, points: int = 5, seed: int = 0
) -> bool:
    """Ours (in intermediate names) and the oracle (in independent names) agree to 1e-20 at random points.

    Evaluated with mpmath at 40 digits: ours through a forward pass over the definitions,
    the oracle directly, so neither is expanded into the other's form.
    """
    rng = random.Random(seed)
    ours_at = oracle_at = None
    compared = 0
    with mpmath.workdps(40):
        for _ in range(20 * points):  # points where a side is undefined (log 0 at 40 digits) are redrawn
            point = sample_point(model, rng)
            try:
                values = values_at(model, point)
                ours_at = ours_at or _mp_function(tuple(values), ours)
                oracle_at = oracle_at or _mp_function(tuple(point), oracle)
                left = ours_at(*values.values())
                right = oracle_at(*[values[s] for s in point])
            except (ZeroDivisionError, ValueError):
                continue
            left, right = (
                mpmath.mpf(v) if isinstance(v, int | float) else v for v in (left, right)
            )  # constants
            if not all(isinstance(v, mpmath.mpf) and mpmath.isfinite(v) for v in (left, right)):
                continue
            if abs(left - right) > mpmath.mpf("1e-20") * max(1, abs(right)):
                return False
            compared += 1
            if compared == points:
                return True
    raise AssertionError(f"only {compared} of {points} points where both sides are defined")
