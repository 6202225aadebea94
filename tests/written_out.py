"""Models written out by hand at their sizes in SymPy, never through symcalc: the oracle for vector models.

Each entry is a plain SymPy symbol named as symcalc names it (x1, W2_1), so a derivation's
results can be evaluated at the values this module computes. Derivatives are SymPy's `diff` of
the written-out loss, evaluated with mpmath at 40 digits.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy as sp

DIGITS = 40


def vector(name: str, size: int) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{name}{i + 1}", real=True) for i in range(size)])


def matrix(name: str, rows: int, columns: int) -> sp.Matrix:
    return sp.Matrix(rows, columns, lambda i, j: sp.Symbol(f"{name}{i + 1}_{j + 1}", real=True))


def softmax(s: sp.Matrix) -> sp.Matrix:
    exps = s.applyfunc(sp.exp)
    return exps / sum(exps)


@dataclass
class Written:
    """A written-out model: its loss and intermediates in the independent names, and those names."""

    loss: sp.Expr
    independents: list[sp.Symbol]
    parameters: list[sp.Symbol]
    values: dict[str, sp.Expr] = field(default_factory=dict)  # each intermediate entry, by symcalc's name

    def name(self, prefix: str, value: sp.Matrix | sp.Expr) -> None:
        """Records an intermediate's entries under symcalc's names (mu1, K2_1; a scalar as itself)."""
        if not isinstance(value, sp.MatrixBase):
            self.values[prefix] = value
        elif value.shape[1] == 1:
            self.values.update({f"{prefix}{i + 1}": value[i] for i in range(value.shape[0])})
        else:
            self.values.update(
                {
                    f"{prefix}{i + 1}_{j + 1}": value[i, j]
                    for i in range(value.shape[0])
                    for j in range(value.shape[1])
                }
            )

    def gradient(self, name: str) -> sp.Expr:
        return sp.diff(self.loss, sp.Symbol(name, real=True))

    def point(self, rng: random.Random, scale: float = 1.0) -> dict[str, sp.Rational]:
        """Exact values (multiples of 1/128) for the independent names, with |value| <= scale."""
        return {s.name: sp.Rational(round(rng.uniform(-scale, scale) * 128), 128) for s in self.independents}

    def at(self, expr: sp.Expr, point: Mapping[str, Any]) -> mpmath.mpf:
        """`expr` (in independent names) at the point, with mpmath at DIGITS (SymPy's evalf where it
        has a kink's Heaviside, which the mpmath module does not name)."""
        names = [sp.Symbol(n, real=True) for n in point]
        if expr.has(sp.Heaviside, sp.sign, sp.Abs, sp.Max, sp.Min):
            exact = {name: sp.Rational(value) for name, value in zip(names, point.values(), strict=True)}
            return mpmath.mpf(str(sp.N(expr.xreplace(exact), DIGITS)))
        with mpmath.workdps(DIGITS):
            function = sp.lambdify(names, expr, modules="mpmath")
            return mpmath.mpf(function(*(mpmath.mpf(v.p) / v.q for v in point.values())))

    def everything_at(self, point: Mapping[str, sp.Rational]) -> dict[str, mpmath.mpf]:
        """Every name's value at the point: the independent ones given, each intermediate computed here."""
        values = {name: mpmath.mpf(v.p) / v.q for name, v in point.items()}
        with mpmath.workdps(DIGITS):
            for name, expr in [*self.values.items(), ("L", self.loss)]:
                values[name] = self.at(expr, point)
        return values


def evaluate_result(result: sp.Expr, values: Mapping[str, Any]) -> mpmath.mpf:
    """A derivation's result (in its names) at values this module computed, at DIGITS."""
    with mpmath.workdps(DIGITS):
        known = {s: sp.Float(values[s.name], DIGITS) for s in result.free_symbols}
        return mpmath.mpf(str(sp.N(result.xreplace(known), DIGITS)))


def close(left: Any, right: Any, rtol: str = "1e-25") -> bool:
    with mpmath.workdps(DIGITS):
        return bool(abs(left - right) <= mpmath.mpf(rtol) * max(1, abs(right)))
