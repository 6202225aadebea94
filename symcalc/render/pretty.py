"""Maths as terminal text: SymPy's 2-D pretty forms (unicode, or ASCII for a stream that cannot encode
it), a chain of equal forms broken to a width, and one-line maths for use inside a sentence."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sympy as sp
from rich.cells import cell_len
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.pretty_symbology import pretty_use_unicode
from sympy.printing.pretty.stringpict import prettyForm

from symcalc.render.fitting import BUDGET, Fitted, fit
from symcalc.render.lines import wrap_maths
from symcalc.spec.shapes import bracketed, entry_label
from symcalc.symbolic.arrays import matmul, transpose
from symcalc.symbolic.entries import entry, unicode_entry
from symcalc.symbolic.functions import TextPrinter
from symcalc.symbolic.notation import (
    Adjoint,
    AtSample,
    Hadamard,
    Partial,
    Product,
    SampleMean,
    Second,
)
from symcalc.symbolic.order import PositiveFirst


class UnicodePrinter(PositiveFirst, PrettyPrinter):
    """SymPy's pretty printer, without the import of sympy.physics.units its products make.

    SymPy's `_print_Mul` imports sympy.physics.units (about 65 ms, more than printing a whole
    derivation) only to move unit quantities to the end of a product. A quantity cannot exist
    before that module is loaded, so until then the same method without that sort prints the same.

    `fitted` holds the parts of an expression that `render.fitting` laid out narrower: each prints as
    that form wherever it appears, so that the form around it is drawn around its rows.
    """

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.fitted = Fitted()
        self.budget = BUDGET
        self.tried: dict[tuple[sp.Basic, int], prettyForm | None] = {}
        #: Each expression's form as last drawn, with the `fitted` it was drawn with (its version).
        self.drawn: dict[sp.Basic, tuple[int, prettyForm]] = {}

    def _print(self, expr: Any, **kwargs: Any) -> Any:
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        form = self.fitted.get(expr)
        if form is None:
            version, form = self.drawn.get(expr, (-1, None))
            if form is None or version != self.fitted.version:  # drawn again where a part was refitted
                form = super()._print(expr)
                self.drawn[expr] = (self.fitted.version, form)
        return copy.copy(form)  # a printer may set the binding of the form it is given

    def _print_Symbol(self, symbol: sp.Symbol, bold_name: bool = False) -> prettyForm:
        """An entry of the model being printed as `symbolic.entries` writes it: (W₁)₁ ₂, W1[1,2] in ASCII."""
        found = entry(symbol)
        if found is None:
            return super()._print_Symbol(symbol, bold_name)
        name, index = found
        if not self._use_unicode:
            return prettyForm(entry_label(name, index))
        return prettyForm(unicode_entry(name, "".join(self._print(sp.Symbol(name)).picture), index))

    def _print_Indexed(self, entry: sp.Indexed) -> prettyForm:
        """Wᵢⱼ and (dL/ds)ᵢ, as a lecture writes an entry; W[i, j] where an index has no subscript letter."""
        base = self._print(entry.base.label)
        if base.height() > 1 or _bracketed(entry.base.label):  # (W₁)ᵢⱼ, not W₁ᵢⱼ
            base = prettyForm(*base.parens())
        indices = [str(i) for i in entry.indices]
        if self._use_unicode and all(len(i) == 1 and i in _SUBSCRIPTS for i in indices):
            return prettyForm(*base.right("".join(_SUBSCRIPTS[i] for i in indices)))
        return prettyForm(*base.right(f"[{', '.join(indices)}]"))

    def _print_Mul(self, product: sp.Mul) -> prettyForm:
        if "sympy.physics.units" in sys.modules:
            return super()._print_Mul(product)
        return self.print_mul_without_units(product)

    def print_mul_without_units(self, product: sp.Mul) -> prettyForm:
        """SymPy 1.14's `PrettyPrinter._print_Mul` less the quantities' sort (a no-op without them)."""
        args = product.args
        # An unevaluated Mul (1*x, x*2): every factor shown, in the order given.
        if args[0] is sp.S.One or any(isinstance(arg, sp.Number) for arg in args[1:]):
            strargs = [self._print(arg) for arg in args]
            # prettyForm.__mul__ absorbs a leading -1.
            negone = strargs[0] == "-1"
            if negone:
                strargs[0] = prettyForm("1", 0, 0)
            obj = prettyForm.__mul__(*strargs)
            if negone:
                obj = prettyForm("-" + obj.s, obj.baseline, obj.binding)
            return obj
        factors = product.as_ordered_factors() if self.order not in ("old", "none") else list(args)
        numerator: list[Any] = []
        denominator: list[Any] = []
        for item in factors:
            if item.is_commutative and item.is_Pow and item.exp.is_Rational and item.exp.is_negative:
                if item.exp != -1:
                    denominator.append(sp.Pow(item.base, -item.exp, evaluate=False))
                else:
                    denominator.append(sp.Pow(item.base, -item.exp))
            elif item.is_Rational and item is not sp.S.Infinity:
                if item.p != 1:
                    numerator.append(sp.Rational(item.p))
                if item.q != 1:
                    denominator.append(sp.Rational(item.q))
            else:
                numerator.append(item)
        # Parentheses are added by prettyForm.__mul__.
        top = [self._print(factor) for factor in numerator]
        bottom = [self._print(factor) for factor in denominator]
        if not bottom:
            return prettyForm.__mul__(*top)
        if not top:
            top.append(self._print(sp.S.One))
        return prettyForm.__mul__(*top) / prettyForm.__mul__(*bottom)


def _bracketed(label: sp.Basic) -> bool:
    return isinstance(label, sp.Symbol) and bracketed(label.name)


#: Whether maths is drawn in SymPy's ASCII forms (`set_ascii`), for a stream that cannot encode it.
_ASCII = [False]


def set_ascii(ascii_only: bool) -> None:
    """Draw the maths of every later rendering in ASCII (True) or in unicode (False, the default)."""
    _ASCII[0] = ascii_only


def is_ascii() -> bool:
    """Whether maths is drawn in ASCII (`set_ascii`)."""
    return _ASCII[0]


def _printer() -> PrettyPrinter:
    return UnicodePrinter({"use_unicode": not _ASCII[0], "wrap_line": False})


@contextmanager
def _drawing() -> Iterator[None]:
    """While maths is drawn: in ASCII, SymPy's own switch off too. A printer told use_unicode=False
    takes SymPy's process-wide default, which anything in the process (a notebook's init_printing)
    may have turned on, and would draw fraction bars and brackets in unicode."""
    if not _ASCII[0]:
        yield
        return
    previous = pretty_use_unicode(False)
    try:
        yield
    finally:
        pretty_use_unicode(previous)


def pretty(expr: sp.Basic) -> str:
    """SymPy's unicode rendering of one expression, never wrapped."""
    printer = _printer()
    with _drawing():
        return str(printer._print(expr).render(**printer._settings))


def pretty_chain(parts: list[sp.Basic], joiner: str = " = ", width: int = 10_000) -> str:
    """`parts` joined by `joiner`, every line at most `width` columns wide where the maths allows.

    On one line when it fits; else one part per line ("= …" under the first joiner, or under the
    left-hand side where that leaves more room); a part still too wide is fitted in 2-D by
    `render.fitting`: broken between its terms (before each + or -) or its factors (before each ⋅),
    a sum inside brackets broken inside them, the brackets as tall as its rows. Only where no 2-D
    layout fits is the chain written in its one-line form (`inline`), broken at the spaces before an
    operator. A symbol, a fraction's bar and a power are never split.
    """
    printer = _printer()
    with _drawing():
        forms = [printer._print(p) for p in parts]
        line = forms[0]
        for form in forms[1:]:
            line = prettyForm(*line.right(joiner, form))
        if line.width() <= width:
            return _render(printer, line)
        drawn = _rows_2d(printer, parts, forms, joiner, width)
        if drawn is not None:
            return "\n".join(_render(printer, row) for row in drawn)
        return "\n".join(_rows_inline(parts, joiner, width))


def _render(printer: PrettyPrinter, form: prettyForm) -> str:
    return "\n".join(line.rstrip() for line in str(form.render(**printer._settings)).split("\n"))


def _blank(width: int) -> prettyForm:
    return prettyForm(" " * width)


def _rows_2d(
    printer: PrettyPrinter, parts: list[sp.Basic], forms: list[prettyForm], joiner: str, width: int
) -> list[prettyForm] | None:
    """The chain one part per row, a part too wide fitted to the room after the left-hand side
    (`render.fitting`); failing that, the left-hand side on a row of its own and each part under it
    after its "= "; None if a part is too wide even so."""
    if len(forms) == 1:
        form = fit(printer, parts[0], width)
        return None if form is None else [form]
    lhs = forms[0]
    if lhs.width() + len(joiner) <= width // 2:
        rows = _parts_after(printer, parts[1:], forms[1:], lhs, joiner, width)
        if rows is not None:
            return rows
    below = _parts_after(printer, parts[1:], forms[1:], prettyForm(""), joiner.lstrip(), width)
    return None if below is None else [lhs, *below]


def _parts_after(
    printer: PrettyPrinter,
    parts: list[sp.Basic],
    forms: list[prettyForm],
    lhs: prettyForm,
    joiner: str,
    width: int,
) -> list[prettyForm] | None:
    """Each part on a row of its own after `lhs` and `joiner` (the first) or as much blank (the others)."""
    indent = lhs.width() + len(joiner)
    rows: list[prettyForm] = []
    for i, (part, form) in enumerate(zip(parts, forms, strict=True)):
        head = lhs if i == 0 else _blank(lhs.width())
        row = prettyForm(*head.right(joiner, form))
        if row.width() > width:
            fitted = fit(printer, part, width - indent)
            if fitted is None:
                return None
            row = prettyForm(*head.right(joiner, fitted))
        rows.append(row)
    return rows


def _rows_inline(parts: list[sp.Basic], joiner: str, width: int) -> list[str]:
    """The chain in its one-line form, one part per line, each broken at spaces before an operator."""
    texts = [inline(p) for p in parts]
    if len(texts) == 1:
        return wrap_maths(texts[0], width, 2)
    head = texts[0]
    indent = cell_len(head) + len(joiner)
    lines: list[str] = []
    if indent > width // 2:  # the left-hand side alone, then each part under it
        lines.append(head)
        head, indent = "", len(joiner.lstrip())
        joiner = joiner.lstrip()
    for i, text in enumerate(texts[1:]):
        prefix = (head if i == 0 else " " * cell_len(head)) + joiner
        lines += wrap_maths(prefix + text, width, indent)
    return lines


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
#: The index letters with a unicode subscript (`symbolic.index.INDEX_LETTERS`), and digits.
_SUBSCRIPTS = dict(zip("ijklprstu0123456789", "ᵢⱼₖₗₚᵣₛₜᵤ₀₁₂₃₄₅₆₇₈₉", strict=True))


class _InlinePrinter(TextPrinter):
    """The file's one-line syntax with the terminal's symbols: h₁ for h1, a² for a**2, ⋅ for *."""

    def _print(self, expr: Any, **kwargs: Any) -> str:
        # Our notation prints its names through this printer, so that dL/dw₁ has w₁ as the maths has.
        if isinstance(expr, Partial):
            mark = _mark(expr)
            return f"{mark}{self._print(expr.of)}/{mark}{self._print(expr.wrt)}"
        if isinstance(expr, Adjoint):
            return f"d{self._print(expr.loss)}/d{self._print(expr.node)}"
        if isinstance(expr, Second):
            two = "^2" if _ASCII[0] else "²"
            below = f"d{self._print(expr.wrt)}" + (
                two if expr.wrt == expr.second else f" d{self._print(expr.second)}"
            )
            return f"d{two}{self._print(expr.of)}/({below})"
        if isinstance(expr, Product):
            return "⋅".join(expr._parts(self, "str"))
        if isinstance(expr, transpose) and not _ASCII[0]:  # Wᵀ, as the vector form draws it
            return self.parenthesize(expr.args[0], PRECEDENCE["Pow"], strict=True) + "ᵀ"
        if isinstance(expr, matmul) and not _ASCII[0]:  # W⋅h: ⋅ between vectors and matrices too
            return "⋅".join(
                self._print(arg) if _operand(arg) else f"({self._print(arg)})" for arg in expr.args
            )
        if isinstance(expr, AtSample):
            return f"{self._print(expr.args[0])}{'[k]' if _ASCII[0] else '⁽ᵏ⁾'}"
        if isinstance(expr, SampleMean):
            term = self.parenthesize(expr.args[0], PRECEDENCE["Mul"], strict=True)
            return f"(1/m)*sum_k {term}" if _ASCII[0] else f"(1/m)⋅Σₖ {term}"
        if isinstance(expr, Hadamard):
            return " ⊙ ".join(self.parenthesize(f, PRECEDENCE["Mul"], strict=True) for f in expr.args)
        return str(super()._print(expr, **kwargs))

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        shown = pretty(expr)
        return shown if "\n" not in shown else expr.name

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exponent = expr.args
        if exponent.is_Integer and 2 <= exponent <= 9 and not _ASCII[0]:
            shown = self.parenthesize(base, PRECEDENCE["Pow"], strict=True)
            return shown + str(exponent).translate(_SUPERSCRIPTS)
        return str(super()._print_Pow(expr, rational)).replace("**", "^")

    def _print_Mul(self, expr: sp.Mul) -> str:
        return str(super()._print_Mul(expr)).replace("*", "⋅")


def _operand(expr: sp.Basic) -> bool:
    """Whether an operand of a matrix product prints without parentheses: a name, Wᵀ, or a call."""
    return (
        expr.is_Atom
        or isinstance(expr, transpose)
        or (isinstance(expr, sp.Function) and not isinstance(expr, matmul))
    )


def _mark(expr: Partial) -> str:
    """∂ or d; in ASCII "partial " for ∂, which spelled as d would read as the total derivative."""
    return "partial " if _ASCII[0] and expr.kind == "local" else expr.mark


def inline(expr: sp.Basic) -> str:
    """One line of unicode maths for use inside a sentence: ∂a/∂z, dL/dz, a⋅(1 - a), 1 - h₁², ½ as 1/2."""
    if isinstance(expr, Partial):
        mark = _mark(expr)
        return f"{mark}{pretty(expr.of)}/{mark}{pretty(expr.wrt)}"
    shown = pretty(expr)
    return shown if "\n" not in shown else str(_InlinePrinter().doprint(expr))
