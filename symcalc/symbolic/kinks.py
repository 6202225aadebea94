"""Second derivatives at a kink: the point mass left out and said in words, a step's square as the step.

Differentiating sign(w) (the gradient of |w|) or a step once more gives SymPy's DiracDelta: a
point mass at the kink, which no number holds and no claim can state. As relu′(0) = 0 is a
stated convention, a second derivative here is the one that holds away from the kinks (there
the point mass is 0), and each kink u = 0 it left out is kept to be said in words. A step is 0
or 1 (step(0) = 0), so step(u)ᵏ = step(u) everywhere, and a product of steps is reduced so.
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

from symcalc.symbolic.forms import tidy
from symcalc.symbolic.functions import step

#: A polynomial in more steps than this is left as it is (its monomials would be too many to reduce).
MAX_STEPS = 6


def point_masses(expr: sp.Expr) -> tuple[sp.Expr, ...]:
    """Where `expr` holds a point mass: each u of a DiracDelta(u) in it, in a fixed order."""
    return tuple(sorted({d.args[0] for d in expr.atoms(sp.DiracDelta)}, key=sp.default_sort_key))


def without_point_masses(expr: sp.Expr) -> sp.Expr:
    """`expr` with every DiracDelta 0: its value away from the kinks."""
    if not expr.has(sp.DiracDelta):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


def away_from_kinks(expr: sp.Expr) -> sp.Expr:
    """`expr` as it holds away from its kinks: every DiracDelta 0, every power of a step that step."""
    expr = without_point_masses(expr)
    if expr.has(sp.sign):  # sign(u)² is 1 away from u = 0 (from |u|′ squared, as Huber's abs writes it)
        expr = expr.replace(_sign_power, lambda e: sp.S.One if e.exp.is_even else e.base)
    steps = sorted(expr.atoms(step), key=sp.default_sort_key)
    if not steps:
        return expr
    if len(steps) <= MAX_STEPS and _step_powers(expr):
        return tidy(_multilinear(expr, steps))
    return expr


def _sign_power(expr: sp.Basic) -> bool:
    return (
        isinstance(expr, sp.Pow)
        and isinstance(expr.base, sp.sign)
        and bool(expr.exp.is_integer)
        and bool(expr.exp.is_positive)
    )


def kinks_of(exprs: Iterable[sp.Expr]) -> tuple[sp.Expr, ...]:
    """Every kink of `exprs` (`point_masses`), each once, in a fixed order."""
    found = {u for expr in exprs for u in point_masses(expr)}
    return tuple(sorted(found, key=sp.default_sort_key))


def _step_powers(expr: sp.Expr) -> bool:
    """Whether expanding `expr` could meet a step twice in one term (a power, or a product of sums)."""
    if any(isinstance(p.base, step) for p in expr.atoms(sp.Pow)):
        return True
    return any(
        sum(1 for f in m.args if f.has(step)) > 1 and any(isinstance(f, sp.Add) for f in m.args)
        for m in expr.atoms(sp.Mul)
    )


def _multilinear(expr: sp.Expr, steps: list[sp.Expr]) -> sp.Expr:
    """`expr` as a polynomial in `steps` with each step's exponent cut to 1 (step² = step)."""
    try:
        poly = sp.Poly(expr, *steps)
    except sp.PolynomialError:
        return expr
    reduced: dict[tuple[int, ...], sp.Expr] = {}
    for monomial, coefficient in poly.terms():
        support = tuple(min(e, 1) for e in monomial)
        reduced[support] = reduced.get(support, sp.S.Zero) + coefficient.as_expr()
    return sp.Add(
        *(
            sp.factor_terms(coefficient) * sp.Mul(*(s for s, e in zip(steps, support, strict=True) if e))
            for support, coefficient in reduced.items()
        )
    )
