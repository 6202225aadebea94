"""The SymPy classes of the table's functions that SymPy lacks, and rewriting and printing with them.

`sigmoid`, `softplus`, `relu`, `step`, `gelu` and `leaky_relu` are real SymPy
functions: they differentiate (σ′ = σ(1 − σ), softplus′ = σ, relu′ = step,
gelu′ = Φ + xφ), evaluate numerically and print as σ, softplus, relu and
𝟙[x > 0]. `step` is 1 for x > 0 and 0 otherwise, so relu′(0) = 0 as in PyTorch
and JAX (SymPy's Heaviside(0) is ½): derivatives of max and min are written with
it too (`heaviside_as_step`); leaky_relu′(0) is its slope, as in PyTorch.

`text` prints any result with the names of the table (``abs``, ``max``,
``step``), so every expression symcalc prints parses back as a claim.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.codegen import cfunctions
from sympy.printing.latex import LatexPrinter
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm
from sympy.printing.str import StrPrinter

from symcalc.symbolic.order import PositiveFirst


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
        return _latex_call(r"\sigma", self, printer, exp)

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
        return _latex_call(r"\operatorname{softplus}", self, printer, exp)


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
        return prettyForm(*inner.left("𝟙" if printer._use_unicode else "1"), binding=prettyForm.FUNC)


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
        return _latex_call(r"\operatorname{relu}", self, printer, exp)


class gelu(sp.Function):
    """The exact GELU, gelu(x) = x·Φ(x) = x/2·(1 + erf(x/√2)); its derivative is Φ(x) + x·φ(x)."""

    nargs = 1

    @classmethod
    def eval(cls, x: sp.Expr) -> sp.Expr | None:
        return sp.S.Zero if x.is_zero else None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x = self.args[0]
        return (1 + sp.erf(x / sp.sqrt(2))) / 2 + x * sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)

    def _eval_rewrite_as_erf(self, x: sp.Expr, **kwargs: Any) -> sp.Expr:
        return x * (1 + sp.erf(x / sp.sqrt(2))) / 2

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self._eval_rewrite_as_erf(self.args[0])._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        return _latex_call(r"\operatorname{gelu}", self, printer, exp)


class leaky_relu(sp.Function):
    """leaky_relu(x, s) = max(0, x) + s·min(0, x); its derivative in x is s + (1 − s)·step(x), s at 0."""

    nargs = 2

    @classmethod
    def eval(cls, x: sp.Expr, slope: sp.Expr) -> sp.Expr | None:
        if x.is_number and x.is_real and slope.is_number:
            return sp.Max(0, x) + slope * sp.Min(0, x)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        x, slope = self.args
        return slope + (1 - slope) * step(x) if argindex == 1 else sp.Min(0, x)

    def _eval_rewrite_as_Max(self, x: sp.Expr, slope: sp.Expr, **kwargs: Any) -> sp.Expr:
        return sp.Max(0, x) + slope * sp.Min(0, x)

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self._eval_rewrite_as_Max(*self.args)._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real and self.args[1].is_real

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        return _latex_call(r"\operatorname{leaky\_relu}", self, printer, exp)


class log1p(cfunctions.log1p):
    """log1p(x) = log(1 + x), exact for small x; its derivative is 1/(1 + x)."""

    def _eval_is_real(self) -> bool | None:
        return (self.args[0] + 1).is_positive or None

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        return _latex_call(r"\operatorname{log1p}", self, printer, exp)


class expm1(cfunctions.expm1):
    """expm1(x) = exp(x) − 1, exact for small x; its derivative is exp(x)."""

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        return _latex_call(r"\operatorname{expm1}", self, printer, exp)

    def _pretty(self, printer: PrettyPrinter) -> prettyForm:
        return _pretty_call("expm1", self, printer)


def _latex_call(name: str, fn: sp.Function, printer: LatexPrinter, exp: Any) -> str:
    base = rf"{name}\left({', '.join(printer._print(a) for a in fn.args)}\right)"
    return f"{base}^{{{exp}}}" if exp else base


def _pretty_call(name: str, fn: sp.Function, printer: PrettyPrinter) -> prettyForm:
    if not printer._use_unicode and not name.isascii():
        name = type(fn).__name__  # σ as sigmoid where the stream takes ASCII only
    arg = printer._print(fn.args[0])
    arg = prettyForm(*arg.parens())
    form = prettyForm(*arg.left(name), binding=prettyForm.FUNC)
    # What SymPy's power of a function reads (σ²(t), as tanh²(t)): without them σ(t)² crashed
    form.prettyFunc, form.prettyArgs = prettyForm(name), arg
    return form


CUSTOM_FUNCTIONS = (sigmoid, softplus, relu)


def heaviside_as_step(expr: sp.Expr) -> sp.Expr:
    """`expr` with SymPy's Heaviside (from differentiating max and min) written as `step`, and its
    DiracDelta (from differentiating sign and step) as 0.

    Heaviside and step differ only at 0, where Heaviside is ½ and our convention is 0; DiracDelta(u)
    is 0 wherever u ≠ 0, and every result holds away from the kinks (u = 0), as verify checks it.
    """
    if expr.has(sp.DiracDelta):
        expr = expr.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    if not expr.has(sp.Heaviside):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: step(e.args[0]))


class TextPrinter(PositiveFirst, StrPrinter):
    """SymPy's str() with the function names of the table, so that the text parses back, and each
    sum in the terminal's order (yhat - y, not -y + yhat)."""

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
