"""Values of SymPy expressions with mpmath (50 or 100 digits, or float64), every undefined value caught."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import mpmath
import sympy as sp

from symcalc.errors import EvaluationUnsupported, Undefined
from symcalc.symbolic.functions import calls, spec_of
from symcalc.symbolic.graph import Model

DIGITS = 50  # working precision of the numeric rung
CONFIRM_DIGITS = 100  # a mismatch must survive this precision to count


class Evaluator:
    """Evaluates SymPy expressions with an mpmath context (mp at given digits, or fp = float64).

    Written out rather than lambdified so that nothing is generated or executed
    from expression text, and so that every undefined value is caught, never
    returned as a complex number or nan.
    """

    def __init__(self, ctx: Any, values: Mapping[sp.Symbol, Any], digits: int | None = None):
        self.ctx = ctx
        self.values = values
        self.digits = digits
        self.memo: dict[sp.Basic, Any] = {}

    def __call__(self, expr: sp.Basic) -> Any:
        if self.digits is None:
            return self.eval(expr)
        with mpmath.workdps(self.digits):
            return self.eval(expr)

    def eval(self, expr: sp.Basic) -> Any:
        if expr in self.memo:
            return self.memo[expr]
        try:
            value = self.real(self.compute(expr))
        except (ZeroDivisionError, OverflowError, ValueError):
            raise Undefined from None
        except RecursionError:
            raise EvaluationUnsupported("an expression too deeply nested to evaluate") from None
        self.memo[expr] = value
        return value

    def real(self, value: Any) -> Any:
        ctx = self.ctx
        if isinstance(value, complex | mpmath.mpc):
            if value.imag != 0:
                raise Undefined
            value = ctx.mpf(value.real)
        if ctx.isnan(value) or ctx.isinf(value):
            raise Undefined
        return value

    def compute(self, expr: sp.Basic) -> Any:
        ctx, ev = self.ctx, self.eval
        if expr.is_Symbol:
            if expr not in self.values:
                raise Undefined
            return self.values[expr]
        if expr.is_Integer:
            return ctx.mpf(int(expr))
        if expr.is_Rational:
            return ctx.mpf(int(expr.p)) / ctx.mpf(int(expr.q))
        if expr.is_Float:
            return ctx.mpf(str(expr))
        if expr is sp.pi:
            return ctx.pi
        if expr is sp.E:
            return ctx.e
        if expr.is_Add:
            total = ctx.mpf(0)
            for term in expr.args:
                total += ev(term)
            return total
        if expr.is_Mul:
            result = ctx.mpf(1)
            for factor in expr.args:
                result *= ev(factor)
            return result
        if expr.is_Pow:
            base, exponent = expr.args
            b = ev(base)
            if exponent.is_Integer:
                if b == 0 and exponent < 0:
                    raise Undefined
                return b ** int(exponent)
            if b < 0 or (b == 0 and ev(exponent) <= 0):
                raise Undefined
            return ctx.power(b, ev(exponent))
        spec = spec_of(expr)
        if spec is not None and spec.mp is not None:
            return spec.mp(ctx, *(ev(arg) for arg in expr.args))
        if isinstance(expr, sp.Heaviside | sp.DiracDelta):
            x = ev(expr.args[0])
            if x == 0:
                raise Undefined  # a kink: no derivative there
            if isinstance(expr, sp.DiracDelta):
                return ctx.mpf(0)
            return ctx.mpf(1) if x > 0 else ctx.mpf(0)
        raise EvaluationUnsupported(f"cannot evaluate {type(expr).__name__} numerically")


def kinks(expr: sp.Expr) -> list[sp.Expr]:
    """Expressions that are 0 exactly where `expr` has a kink or a jump (the table's `kinks`, Heaviside)."""
    found = [f.args[0] for f in expr.atoms(sp.Heaviside, sp.DiracDelta)]
    for call, spec in calls(expr):
        if spec.kinks is not None:
            found += spec.kinks(*call.args)
    return found


def evaluator_at(model: Model, raw: Mapping[sp.Symbol, Any], ctx: Any, digits: int | None) -> Evaluator:
    """An evaluator with the point's independent values and every definition computed from them."""
    values: dict[sp.Symbol, Any] = dict(raw)
    evaluator = Evaluator(ctx, values, digits)
    for sym, definition in model.definitions:
        with contextlib.suppress(Undefined):  # left out: whatever uses it is undefined here
            values[sym] = evaluator(definition)
    return evaluator
