"""The fixed table of functions an expression may call, the ML functions SymPy lacks, and their text form.

`sigmoid`, `softplus`, `relu` and `step` are real SymPy functions: they
differentiate (σ′ = σ(1 − σ), softplus′ = σ, relu′ = step), evaluate
numerically, rewrite to elementary form with ``.rewrite(exp)`` and print as σ,
softplus, relu and 𝟙[x > 0]. `step` is 1 for x > 0 and 0 otherwise, so
relu′(0) = 0 as in PyTorch and JAX (SymPy's Heaviside(0) is ½): derivatives of
max and min are written with it too (`heaviside_as_step`).

`text` prints any result with the names of the table (``abs``, ``max``,
``step``), so every expression symcalc prints parses back as a claim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm
from sympy.printing.str import StrPrinter


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


class step(sp.Function):
    """step(x) = 𝟙[x > 0]: 1 for x > 0, else 0 (so step(0) = 0); relu′ and the derivative of max."""

    nargs = 1

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_extended_positive:
            return sp.S.One
        if x.is_extended_nonpositive:
            return sp.S.Zero
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        # 0 wherever it is defined (everywhere but 0), as automatic differentiation takes it.
        return sp.S.Zero

    def _eval_rewrite_as_Heaviside(self, x: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Heaviside(x, 0)

    def _eval_evalf(self, prec: int) -> sp.Expr | None:
        value = self.args[0]._eval_evalf(prec)
        if value is None or not value.is_number or not value.is_extended_real:
            return None
        return sp.Float(1 if value > 0 else 0, prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_nonnegative(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        base = rf"\mathbb{{1}}\left[{printer._print(self.args[0])} > 0\right]"
        return f"{base}^{{{exp}}}" if exp else base

    def _pretty(self, printer: PrettyPrinter) -> prettyForm:
        inner = prettyForm(*printer._print(self.args[0]).right(" > 0"))
        inner = prettyForm(*inner.parens("[", "]"))
        return prettyForm(*inner.left("𝟙"), binding=prettyForm.FUNC)


class relu(sp.Function):
    """relu(x) = max(0, x); its derivative is step(x), 0 at x = 0 by convention."""

    nargs = 1

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        if x.is_number and x.is_real:
            return sp.Max(0, x)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return step(self.args[0])

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


def heaviside_as_step(expr: sp.Expr) -> sp.Expr:
    """`expr` with SymPy's Heaviside (from differentiating max and min) written as `step`.

    The two differ only at 0, where Heaviside is ½ and our convention is 0.
    """
    if not expr.has(sp.Heaviside):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: step(e.args[0]))


class TextPrinter(StrPrinter):
    """SymPy's str() with the function names of the table, so that the text parses back."""

    def _print_Abs(self, expr: sp.Abs) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Max(self, expr: sp.Expr) -> str:
        return f"max({self.stringify(expr.args, ', ')})"

    def _print_Min(self, expr: sp.Expr) -> str:
        return f"min({self.stringify(expr.args, ', ')})"

    def _print_Exp1(self, expr: sp.Expr) -> str:
        return "exp(1)"


def text(expr: sp.Basic) -> str:
    """An expression as one line of text in the file's syntax: ``abs(z)``, ``max(a, b)``, ``step(s)``."""
    return str(TextPrinter().doprint(expr))


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
    "sign": FunctionSpec(sp.sign),
    "step": FunctionSpec(step),
    "softplus": FunctionSpec(softplus),
    "relu": FunctionSpec(relu),
    "max": FunctionSpec(_max, min_args=2, max_args=8),
    "min": FunctionSpec(_min, min_args=2, max_args=8),
}
