"""The fixed table of functions an expression may call, and the ML functions SymPy lacks.

`sigmoid`, `softplus` and `relu` are real SymPy functions: they differentiate
(σ′ = σ(1 − σ), softplus′ = σ, relu′ = H), evaluate numerically, rewrite to
elementary form with ``.rewrite(exp)`` and print as σ, softplus and relu.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm


class sigmoid(sp.Function):
    """The logistic function σ(x) = 1 / (1 + e^(−x))."""

    nargs = 1

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_zero:
            return sp.S.Half
        if x is sp.oo:
            return sp.S.One
        if x is sp.S.NegativeInfinity:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs: Any) -> sp.Expr:
        return 1 / (1 + sp.exp(-x))

    _eval_rewrite_as_tractable = _eval_rewrite_as_exp

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self._eval_rewrite_as_exp(self.args[0])._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_positive(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        inner = printer._print(self.args[0])
        base = rf"\sigma\left({inner}\right)"
        return f"{base}^{{{exp}}}" if exp else base

    def _pretty(self, printer: PrettyPrinter) -> prettyForm:
        return _pretty_call("σ", self, printer)

    def _sympystr(self, printer: Any) -> str:
        return f"sigmoid({printer._print(self.args[0])})"


class softplus(sp.Function):
    """softplus(x) = log(1 + e^x), a smooth ReLU whose derivative is σ(x)."""

    nargs = 1

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_zero:
            return sp.log(2)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.log(1 + sp.exp(x))

    _eval_rewrite_as_tractable = _eval_rewrite_as_exp

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self._eval_rewrite_as_exp(self.args[0])._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        inner = printer._print(self.args[0])
        base = rf"\operatorname{{softplus}}\left({inner}\right)"
        return f"{base}^{{{exp}}}" if exp else base


class relu(sp.Function):
    """relu(x) = max(0, x); its derivative is the Heaviside step H(x), undefined at 0."""

    nargs = 1

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_number and x.is_real:
            return sp.Max(0, x)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.Heaviside(self.args[0])

    def _eval_rewrite_as_Max(self, x: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Max(0, x)

    def _eval_rewrite_as_exp(self, x: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Max(0, x)

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.Max(0, self.args[0])._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_nonnegative(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        inner = printer._print(self.args[0])
        base = rf"\operatorname{{relu}}\left({inner}\right)"
        return f"{base}^{{{exp}}}" if exp else base


def _pretty_call(name: str, fn: sp.Function, printer: PrettyPrinter) -> prettyForm:
    arg = printer._print(fn.args[0])
    arg = prettyForm(*arg.parens())
    return prettyForm(*arg.left(name), binding=prettyForm.FUNC)


CUSTOM_FUNCTIONS = (sigmoid, softplus, relu)


def to_elementary(expr: sp.Expr) -> sp.Expr:
    """The same expression with σ, softplus and relu written with exp, log and Max.

    Only our functions are rewritten: ``rewrite(exp)`` would recurse into their
    arguments and turn a tanh inside σ into exponentials too. `replace` already
    works bottom-up, so nested σ(σ(z)) are each rewritten once.
    """
    return expr.replace(
        lambda e: isinstance(e, CUSTOM_FUNCTIONS),
        lambda e: e._eval_rewrite_as_exp(*e.args),
    )


@dataclass(frozen=True)
class FunctionSpec:
    """One entry of the table: how many arguments it takes and what it builds."""

    build: Callable[..., sp.Expr]
    min_args: int = 1
    max_args: int = 1


def _max(*args: sp.Expr) -> sp.Expr:
    return sp.Max(*args)


def _min(*args: sp.Expr) -> sp.Expr:
    return sp.Min(*args)


#: The only functions an expression may call, by the name used in files.
FUNCTIONS: dict[str, FunctionSpec] = {
    "sigmoid": FunctionSpec(sigmoid),
    "exp": FunctionSpec(sp.exp),
    "log": FunctionSpec(sp.log),
    "ln": FunctionSpec(sp.log),
    "sqrt": FunctionSpec(sp.sqrt),
    "tanh": FunctionSpec(sp.tanh),
    "sinh": FunctionSpec(sp.sinh),
    "cosh": FunctionSpec(sp.cosh),
    "sin": FunctionSpec(sp.sin),
    "cos": FunctionSpec(sp.cos),
    "tan": FunctionSpec(sp.tan),
    "abs": FunctionSpec(sp.Abs),
    "softplus": FunctionSpec(softplus),
    "relu": FunctionSpec(relu),
    "max": FunctionSpec(_max, min_args=2, max_args=8),
    "min": FunctionSpec(_min, min_args=2, max_args=8),
}
