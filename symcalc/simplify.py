"""Choosing the form of a result a teacher would write: short, in the model's own names.

Each candidate is an identity of the expression it came from (cancel, factor,
…), so choosing among them never changes the value; the choice is the shortest.
A rewrite that is not an identity by construction (re-expressing a derivative
in terms of a node's output) is checked before it is used.
"""

from __future__ import annotations

import sympy as sp


def size(expr: sp.Expr) -> tuple[int, int]:
    """How big an expression reads: its operation count, then its printed length."""
    return (int(sp.count_ops(expr)), len(str(expr)))


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest of a few exact rewritings of `expr` (cancel, factor, …)."""
    candidates = [expr, sp.factor_terms(expr)]
    if expr.is_rational_function():
        candidates += [sp.cancel(expr), sp.factor(expr)]
    else:
        candidates += [sp.together(expr)]
    return min(candidates, key=size)


def in_terms_of_output(derivative: sp.Expr, node: sp.Symbol, definition: sp.Expr) -> sp.Expr:
    """`derivative` with `definition` replaced by `node` where that is no longer and provably equal.

    σ′(z) = σ(z)(1 − σ(z)) becomes a(1 − a) for a = σ(z); tanh′ becomes 1 − a².
    Otherwise the derivative is kept as differentiation gave it, term by term,
    as a teacher writes a local derivative before any chain rule is applied.
    """
    if definition.is_Atom:
        return derivative
    candidate = derivative.subs(definition, node)
    if candidate == derivative or size(candidate) > size(derivative):
        return derivative
    difference = candidate.xreplace({node: definition}) - derivative
    if sp.expand(difference) != 0 and sp.simplify(difference) != 0:
        return derivative
    return candidate
