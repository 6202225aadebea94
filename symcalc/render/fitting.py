"""SymPy's 2-D maths fitted to a width, never cut apart: a sum too wide is broken between its terms (a
row per run of terms, each later row starting with its sign), a product between its factors (each
later row starting with its ⋅ or ⊙), and any other form (a function's argument, a power's base, a
fraction's numerator, a Σ's summand) by fitting its widest part inside it, where the form's own
printing puts that part, now several rows high, between tall brackets (⎛ ⎜ ⎝).

Layout only: each form is the printer's own, of the expression's own parts; nothing is rewritten.
The printer is `render.pretty.UnicodePrinter`, whose `fitted` maps a part to the form it was fitted to.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.pretty.stringpict import prettyForm, stringPict

from symcalc.symbolic.notation import AsWritten, Hadamard, Product, Sum

#: The narrowest width a part is fitted to; a part that needs less room than this is left whole.
MIN_WIDTH = 6
#: How many times one form's parts are refitted, narrower each time, before it gives up.
_ROUNDS = 8
#: How many widths a part is tried at, between what is wanted of it and what it takes.
_PROBES = 4
#: How many fittings one expression may try in all: a bound on the time a deep expression takes.
BUDGET = 4000


class Fitted(dict[sp.Basic, prettyForm]):
    """The parts laid out narrower, part → form; `version` counts its changes, after which a form
    drawn around a part is drawn again."""

    version = 0

    def __setitem__(self, part: sp.Basic, form: prettyForm) -> None:
        self.version += 1
        super().__setitem__(part, form)

    def pop(self, part: sp.Basic, *default: Any) -> Any:
        self.version += 1
        return super().pop(part, *default)


def fit(printer: Any, expr: sp.Basic, width: int) -> prettyForm | None:
    """`expr` drawn at most `width` columns wide, or None where no layout fits."""
    form = printer._print(expr)
    if form.width() <= width:
        return form
    if width < MIN_WIDTH or printer.budget <= 0:
        return None
    if (expr, width) not in printer.tried:  # a part met again at the same width is laid out as before
        printer.budget -= 1
        printer.tried[expr, width] = _laid_out(printer, expr, width)
    return printer.tried[expr, width]


def _laid_out(printer: Any, expr: sp.Basic, width: int) -> prettyForm | None:
    """`expr` at most `width` wide by the first layout that fits: by terms, by fitting its parts, by
    factors, a fraction's numerator and denominator, or a Σ drawn small."""
    signed = signed_terms(printer, expr)
    if signed is not None:
        return _sum_rows(printer, signed, width)
    if isinstance(expr, sp.Mul) and expr.could_extract_minus_sign():
        rest = fit(printer, -expr, width - 1)
        if rest is not None:
            return prettyForm(*rest.left("-"), binding=prettyForm.NEG)
        return _shrunk(printer, expr, width)
    return (
        _product_rows(printer, expr, width, whole=True)  # between whole factors, where they fit
        or _small_sigma(printer, expr, width)  # a Σ a row high before its summand is squeezed
        or _shrunk(printer, expr, width)
        or _fraction(printer, expr, width)
        or _product_rows(printer, expr, width)
    )


def signed_terms(printer: Any, expr: sp.Basic) -> list[tuple[str, sp.Basic, bool]] | None:
    """A sum's terms as SymPy prints them: each with the sign before it ("" for the first) and whether
    it is bracketed; None for anything but a sum."""
    order = None
    if isinstance(expr, AsWritten):  # a file's expression: its terms in the file's order
        expr, order = expr.args[0], "none"
    if isinstance(expr, Sum):
        signed = expr._signed()
    elif isinstance(expr, sp.Add):
        signed = []
        for i, term in enumerate(printer._as_ordered_terms(expr, order=order)):
            negative = i > 0 and term.could_extract_minus_sign()
            signed.append(("-" if negative else "+", -term if negative else term))
    else:
        return None
    out = []
    for i, (sign, term) in enumerate(signed):
        binding = printer._print(term).binding or prettyForm.ATOM
        bracketed = bool(i) and (binding > prettyForm.NEG or binding == prettyForm.ADD)
        out.append(("" if i == 0 else sign, term, bracketed))
    return out


def stacked(rows: list[prettyForm], binding: int) -> prettyForm:
    """`rows` one under another, left-aligned, on the first row's baseline."""
    widest = max(row.width() for row in rows)
    lines: list[str] = []
    for row in rows:
        if row.width() < widest:
            row = prettyForm(*row.right(" " * (widest - row.width())))
        lines += row.picture
    return prettyForm("\n".join(lines), rows[0].baseline, binding)


def _sum_rows(printer: Any, signed: list[tuple[str, sp.Basic, bool]], width: int) -> prettyForm | None:
    """The terms packed into rows at most `width` wide, each later row starting with its sign."""
    rows: list[prettyForm] = []
    current: prettyForm | None = None
    for sign, term, bracketed in signed:
        room = width - (2 if sign else 0) - (2 if bracketed else 0)
        form = fit(printer, term, room)
        if form is None:
            return None
        if bracketed:
            form = prettyForm(*form.parens())
        if current is None:
            current = form
            continue
        joined = prettyForm(*current.right(f" {sign} ", form))
        if joined.width() <= width:
            current = joined
            continue
        rows.append(current)
        current = prettyForm(*form.left(f"{sign} "))
    assert current is not None
    rows.append(current)
    return stacked(rows, prettyForm.ADD)


def _shrunk(printer: Any, expr: sp.Basic, width: int) -> prettyForm | None:
    """`expr` as its printer draws it, its widest part fitted narrower until the whole fits."""
    parts = [
        a for a in expr.args if isinstance(a, sp.Basic) and not a.is_Atom and not isinstance(a, sp.Tuple)
    ]
    if not parts:
        return None
    tried: dict[sp.Basic, prettyForm | None] = {part: printer.fitted.get(part) for part in parts}
    for _ in range(_ROUNDS):
        form = printer._print(expr)
        if form.width() <= width:
            return form
        widths = {part: printer._print(part).width() for part in parts}
        widest = max(parts, key=lambda part: widths[part])
        narrower = _narrowest(printer, widest, widths[widest], widths[widest] - (form.width() - width))
        if narrower is None:
            break
        printer.fitted[widest] = narrower
    for part, before in tried.items():  # no layout: the parts as they were
        if before is None:
            printer.fitted.pop(part, None)
        else:
            printer.fitted[part] = before
    return None


def _narrowest(printer: Any, part: sp.Basic, now: int, wanted: int) -> prettyForm | None:
    """`part` fitted to `wanted` columns, or else as narrow as a few tries between that and the `now`
    it takes find; None if none is narrower than `now`."""
    before = printer.fitted.pop(part, None)
    low, high, best = max(wanted, MIN_WIDTH), now - 1, None
    probe = low
    for _ in range(_PROBES):
        if low > high or printer.budget <= 0:
            break
        form = fit(printer, part, probe)
        if form is None:
            low = probe + 1
        else:
            best, high = form, form.width() - 1
            if form.width() <= wanted:
                break
        probe = (low + high) // 2
    if best is None and before is not None:
        printer.fitted[part] = before
    return best


def _fraction(printer: Any, expr: sp.Basic, width: int) -> prettyForm | None:
    """A product with a denominator as its printer draws it, numerator over denominator, each fitted."""
    if not isinstance(expr, sp.Mul):
        return None
    top: list[sp.Basic] = []
    bottom: list[sp.Basic] = []
    for factor in expr.as_ordered_factors():  # as `UnicodePrinter.print_mul_without_units` splits it
        if factor.is_commutative and factor.is_Pow and factor.exp.is_Rational and factor.exp.is_negative:
            bottom.append(sp.Pow(factor.base, -factor.exp, evaluate=factor.exp == -1))
        elif factor.is_Rational:
            top += [sp.Integer(factor.p)] if factor.p != 1 else []
            bottom += [sp.Integer(factor.q)] if factor.q != 1 else []
        else:
            top.append(factor)
    if not bottom:
        return None
    dot = "⋅" if printer._use_unicode else "*"
    over = [
        _rows(
            printer, [(f, _binds_looser(printer, f, prettyForm.MUL)) for f in side or [sp.S.One]], dot, width
        )
        for side in (top, bottom)
    ]
    if over[0] is None or over[1] is None:
        return None
    return prettyForm.__truediv__(over[0], over[1])


def _product_rows(printer: Any, expr: sp.Basic, width: int, whole: bool = False) -> prettyForm | None:
    """A product's factors packed into rows at most `width` wide, each later row starting with ⋅ (⊙);
    with `whole`, only where each factor fits as it is."""
    factors = _factors(printer, expr)
    return None if factors is None else _rows(printer, factors[1], factors[0], width, whole)


def _rows(
    printer: Any, pieces: list[tuple[sp.Basic, bool]], joiner: str, width: int, whole: bool = False
) -> prettyForm | None:
    """Factors (each with whether it is bracketed) joined by `joiner`, in rows at most `width` wide,
    each fitted to the room (as it is, with `whole`)."""
    rows: list[prettyForm] = []
    current: prettyForm | None = None
    for factor, bracketed in pieces:
        room = width - len(joiner) - (2 if bracketed else 0)
        form = printer._print(factor) if whole else fit(printer, factor, room)
        if form is None or form.width() > room:
            return None
        if bracketed:
            form = prettyForm(*form.parens())
        if current is None:
            current = form
            continue
        joined = prettyForm(*current.right(joiner, form))
        if joined.width() <= width:
            current = joined
            continue
        rows.append(current)
        current = prettyForm(*form.left(joiner.lstrip()))
    assert current is not None
    rows.append(current)
    return stacked(rows, prettyForm.MUL)


def _factors(printer: Any, expr: sp.Basic) -> tuple[str, list[tuple[sp.Basic, bool]]] | None:
    """The factors of a product as its printer joins them, each with whether it is bracketed: a Mul's
    (that is no fraction), a `Product`'s and a `Hadamard`'s; None for anything else."""
    dot = "⋅" if printer._use_unicode else "*"
    if isinstance(expr, sp.Mul):
        factors = expr.as_ordered_factors()
        if any((f.is_Rational and f not in (1, -1)) or (f.is_Pow and f.exp.is_negative) for f in factors):
            return None  # a fraction: its numerator is fitted inside it
        return dot, [(f, _binds_looser(printer, f, prettyForm.MUL)) for f in factors]
    if isinstance(expr, Product):
        compound = (sp.Add, sp.Mul, Sum, Product)
        return dot, [(f, len(expr.args) > 1 and isinstance(f, compound)) for f in expr.args]
    if isinstance(expr, Hadamard):
        between = " ⊙ " if printer._use_unicode else " o "
        return between, [
            (
                f,
                precedence(f) <= PRECEDENCE["Mul"]
                or (bool(k) and printer._print(f).binding == prettyForm.MUL),
            )
            for k, f in enumerate(expr.args)
        ]
    return None


def _binds_looser(printer: Any, factor: sp.Basic, binding: int) -> bool:
    """Whether SymPy brackets `factor` in a product (prettyForm.__mul__'s rule)."""
    form = printer._print(factor)
    return bool(form.binding > binding and form.binding != prettyForm.NEG)


def _small_sigma(printer: Any, expr: sp.Basic, width: int) -> prettyForm | None:
    """A Σ with one index, its bounds in the rows above and under a one-row Σ (SymPy's is four rows
    high and as wide as its bounds), its summand fitted beside it; None for anything else."""
    if not isinstance(expr, sp.Sum) or len(expr.limits) != 1:
        return None
    index, lower, upper = expr.limits[0]
    start = prettyForm(*printer._print(index).right("=", printer._print(lower)))
    sign = prettyForm("Σ" if printer._use_unicode else "sum")
    sigma = prettyForm(*stringPict.stack(printer._print(upper), sign, start))
    bracketed = isinstance(expr.function, sp.Add)
    summand = fit(printer, expr.function, width - sigma.width() - 1 - (2 if bracketed else 0))
    if summand is None:
        return None
    if bracketed:
        summand = prettyForm(*summand.parens())
    return prettyForm(*sigma.right(" ", summand), binding=prettyForm.MUL)
