"""Which of the points where two sides differ to show: where they differ most in relative terms,
among points where no σ, tanh or softmax output sits near its limits.

A slip shown where an activation saturates looks like round-off (a forgotten factor v₁
"differs by 5e-8" at h₁ = 0.99999999); the same slip where every activation is in its working
range differs by a visible fraction of either side.
"""

from __future__ import annotations

from typing import Any

import mpmath
import sympy as sp

from symcalc.errors import Undefined
from symcalc.symbolic.functions import sigmoid
from symcalc.symbolic.graph import Model

#: An activation within this of a limit (σ of 0 or 1, tanh of ±1, a softmax output of 0 or 1) saturates.
SATURATION_MARGIN = 1e-3
#: Points compared after the first mismatch, to find a clearer one (a failed check only pays this).
SEARCH_POINTS = 24


def activations(model: Model) -> tuple[tuple[sp.Expr, tuple[int, ...]], ...]:
    """Each σ, tanh and softmax output of the model's definitions, with the limits it saturates at."""
    found: dict[sp.Expr, tuple[int, ...]] = {}
    for _, definition in model.definitions:
        for call in definition.atoms(sigmoid):
            found[call] = (0, 1)
        for call in definition.atoms(sp.tanh):
            found[call] = (-1, 1)
        for term in sp.preorder_traversal(definition):
            if _softmax_output(term):
                found[term] = (0, 1)
    return tuple(found.items())


def _softmax_output(expr: sp.Basic) -> bool:
    """exp(zᵢ) / (exp(z₁) + … + exp(zₖ)), as a softmax is written out."""
    if not isinstance(expr, sp.Mul) or len(expr.args) != 2:
        return False
    numerator = next((f for f in expr.args if isinstance(f, sp.exp)), None)
    denominator = next((f for f in expr.args if isinstance(f, sp.Pow) and f.exp == -1), None)
    if numerator is None or denominator is None or not isinstance(denominator.base, sp.Add):
        return False
    terms = denominator.base.args
    return numerator in terms and all(isinstance(t, sp.exp) for t in terms)


def saturated(at: Any, found: tuple[tuple[sp.Expr, tuple[int, ...]], ...]) -> bool:
    """Whether any activation's value at a point (`at`, an evaluator) is within the margin of a limit."""
    for expr, limits in found:
        try:
            value = at(expr)
        except Undefined:
            continue
        if any(abs(value - limit) < SATURATION_MARGIN for limit in limits):
            return True
    return False


def relative(left: Any, right: Any) -> float:
    """|left − right| relative to the larger side: 1 when one side is 0, 2 for opposite signs."""
    larger = max(abs(left), abs(right))
    return 0.0 if larger == 0 else float(abs(left - right) / larger)


def clearest(candidates: list[tuple[Any, Any, Any, bool]]) -> int:
    """The index of the candidate to show, each (point, left, right, saturated): the largest relative
    difference among unsaturated points, else among all."""
    unsaturated = [i for i, c in enumerate(candidates) if not c[3]]
    pool = unsaturated or list(range(len(candidates)))
    with mpmath.workdps(30):
        return max(pool, key=lambda i: relative(candidates[i][1], candidates[i][2]))
