"""Independent checks used by many tests: SymPy's own diff of the fully composed loss."""

from __future__ import annotations

import random

import sympy as sp

import symcalc
from symcalc.functions import to_elementary


def composed_gradient(model: symcalc.Model, parameter: sp.Symbol) -> sp.Expr:
    """d(loss)/d(parameter) by SymPy's diff on the loss with every definition substituted."""
    composed = to_elementary(model.composed[model.loss])
    return sp.diff(composed, parameter)


def sample_point(model: symcalc.Model, rng: random.Random) -> dict[sp.Symbol, float]:
    """Values for the independent names: targets in (0, 1) so log(a), log(1 - a) are defined."""
    point: dict[sp.Symbol, float] = {}
    for sym in model.independents:
        point[sym] = rng.uniform(0.05, 0.95) if sym in model.targets else rng.uniform(-2, 2)
    return point


def agree_numerically(
    model: symcalc.Model, ours: sp.Expr, oracle: sp.Expr, points: int = 5, seed: int = 0
) -> bool:
    """Both sides (ours may use intermediates) agree to 1e-9 relative at random points."""
    rng = random.Random(seed)
    ours_composed = to_elementary(model.expand(ours))
    for _ in range(points):
        point = sample_point(model, rng)
        left = complex(ours_composed.evalf(30, subs=point))
        right = complex(oracle.evalf(30, subs=point))
        if abs(left - right) > 1e-9 * max(1.0, abs(right)):
            return False
    return True
