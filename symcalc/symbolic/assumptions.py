"""Assumptions ("y1 + y2 + y3 = 1", "y^2 = y"): which ones symcalc can use, and a polynomial's roots."""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from symcalc.errors import DomainError
from symcalc.symbolic.forms import solve_linear

MAX_ASSUMPTION_DEGREE = 8


def polynomial_roots(equation: sp.Expr) -> tuple[Fraction, ...] | None:
    """The real roots of `equation` = 0 when it is a polynomial in one name of degree 2 or more.

    None when it is not (a linear equation is solved by `Model.assumption_solutions`).
    DomainError when it is one but its roots cannot be used: none real, or not rational.
    """
    names = equation.free_symbols
    if len(names) != 1:
        return None
    (name,) = names
    if not equation.is_polynomial(name):
        return None
    poly = sp.Poly(equation, name)
    if poly.degree() < 2:
        return None
    if poly.degree() > MAX_ASSUMPTION_DEGREE:
        raise DomainError(f"has degree {poly.degree()}; the limit is {MAX_ASSUMPTION_DEGREE}")
    if not all(c.is_Rational for c in poly.all_coeffs()):
        raise DomainError("has coefficients that are not exact rational numbers")
    roots = sorted(set(sp.real_roots(poly)), key=lambda r: float(r))
    if not roots:
        raise DomainError(f"has no real solution for {name}")
    if not all(root.is_Rational for root in roots):
        raise DomainError(f"has a root that is not a rational number ({roots[0]}...)")
    return tuple(Fraction(int(root.p), int(root.q)) for root in roots)


def usable_assumption(equation: sp.Expr) -> str | None:
    """Why symcalc cannot use an assumption (None when it can): it must be linear in one of its
    names (solved for it) or a polynomial in a single name (its real roots are that name's values)."""
    try:
        if polynomial_roots(equation) is not None:
            return None
    except DomainError as err:
        return str(err)
    if any(solve_linear(equation, name) is not None for name in equation.free_symbols):
        return None
    return "is neither linear in one of its names nor a polynomial in a single name, so it cannot be used"


def split_equation(text: str) -> tuple[str, str] | None:
    parts = text.split("=")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[0], parts[1]
