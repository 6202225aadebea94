"""A derivation in the terminal: one rich panel per step, SymPy's unicode maths, notes beside names.

Nothing here computes maths: it lays out what the steps hold. Equations wider
than the terminal are broken after each "=" instead of being wrapped mid-formula.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import sympy as sp
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm

from symcalc.render.lines import wrap_maths
from symcalc.render.order import PositiveFirst
from symcalc.render.text import printable
from symcalc.render.vector_names import declared_names
from symcalc.render.views import Views, views_for
from symcalc.render.wording import (
    BATCH_MEAN,
    Phrase,
    insight_template,
    second_order_missing,
    sentence_parts,
    step_rule_parts,
    step_title_parts,
    title_parts,
    vector_form_missing,
)
from symcalc.spec.shapes import bracketed, entry_label
from symcalc.symbolic.entries import entries_named, entry, unicode_entry
from symcalc.symbolic.functions import TextPrinter
from symcalc.symbolic.notation import (
    Adjoint,
    AsWritten,
    AtSample,
    Hadamard,
    Partial,
    Product,
    SampleMean,
    Second,
    Sum,
    Total,
)
from symcalc.symbolic.steps import Derivation, Equation, Recognition, Step

PANEL_PADDING = 4  # a panel's border and padding take this many columns


class UnicodePrinter(PositiveFirst, PrettyPrinter):
    """SymPy's pretty printer, without the import of sympy.physics.units its products make.

    SymPy's `_print_Mul` imports sympy.physics.units (about 65 ms, more than printing a whole
    derivation) only to move unit quantities to the end of a product. A quantity cannot exist
    before that module is loaded, so until then the same method without that sort prints the same.
    """

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


def _printer() -> PrettyPrinter:
    return UnicodePrinter({"use_unicode": not _ASCII[0], "wrap_line": False})


def pretty(expr: sp.Basic) -> str:
    """SymPy's unicode rendering of one expression, never wrapped."""
    printer = _printer()
    return str(printer._print(expr).render(**printer._settings))


def pretty_chain(parts: list[sp.Basic], joiner: str = " = ", width: int = 10_000) -> str:
    """`parts` joined by `joiner`, every line at most `width` columns wide where the maths allows.

    On one line when it fits; else one part per line ("= …" under the first joiner); a part still
    too wide is broken between its terms (before each + or -), each piece still drawn in 2-D; where a
    single term is too wide, the whole chain is written in its one-line form (`inline`), broken only
    at the spaces before an operator. A symbol, a fraction and a power are never split.
    """
    printer = _printer()
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
    """The chain one part per row, a part broken between its terms where it must be; None if a term
    (or the left-hand side) is too wide for that."""
    if len(forms) == 1:
        return _terms(printer, parts[0], width)
    lhs = forms[0]
    indent = lhs.width() + len(joiner)
    if indent > width // 2:
        return None
    rows: list[prettyForm] = []
    for i, (part, form) in enumerate(zip(parts[1:], forms[1:], strict=True)):
        head = lhs if i == 0 else _blank(lhs.width())
        row = prettyForm(*head.right(joiner, form))
        if row.width() <= width:
            rows.append(row)
            continue
        pieces = _terms(printer, part, width - indent)
        if pieces is None:
            return None
        rows.append(prettyForm(*head.right(joiner, pieces[0])))
        rows += [prettyForm(*_blank(indent).right(piece)) for piece in pieces[1:]]
    return rows


def _signed_terms(printer: PrettyPrinter, expr: sp.Basic) -> list[tuple[str, prettyForm]] | None:
    """The terms of a sum as SymPy prints them, each with the sign before it ("" for the first)."""
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
        form = printer._print(term)
        binding = form.binding or prettyForm.ATOM
        if i and (binding > prettyForm.NEG or binding == prettyForm.ADD):
            form = prettyForm(*form.parens())
        out.append(("" if i == 0 else sign, form))
    return out


def _terms(printer: PrettyPrinter, expr: sp.Basic, width: int) -> list[prettyForm] | None:
    """A sum's terms packed into rows at most `width` wide, each row after the first starting with its
    sign; None when `expr` is no sum or one of its terms alone is too wide."""
    signed = _signed_terms(printer, expr)
    if signed is None or width < 8:
        return None
    rows: list[prettyForm] = []
    current = signed[0][1]
    for sign, form in signed[1:]:
        joined = prettyForm(*current.right(f" {sign} ", form))
        if joined.width() <= width:
            current = joined
            continue
        rows.append(current)
        current = prettyForm(*form.left(f"{sign} "))
    rows.append(current)
    return rows if all(row.width() <= width for row in rows) else None


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


def equation_parts(equation: Equation) -> list[sp.Basic]:
    """The forms of an equation that are worth showing, left to right."""
    parts: list[sp.Basic] = [equation.lhs]
    parts += [p for p in (equation.chain, equation.unsimplified) if p is not None]
    parts.append(equation.result)
    return parts


@entries_named
def render_derivation(
    derivation: Derivation, width: int = 100, compact: bool = False, views: Views | None = None
) -> Iterator[RenderableType]:
    """Everything `symcalc derive` prints, as rich renderables; `compact` leaves out each step's notes
    (the model's panel lists them once); `views` (`symcalc.render.views`) which forms a vector model shows."""
    inner = max(width - PANEL_PADDING, 20)
    shown = views_for(derivation, views)
    entries = "entries" in shown
    yield _header(derivation, inner, entries)
    if derivation.vector is not None and shown & {"vector", "index"}:
        yield _vector_panel(derivation, inner, "vector" in shown, "index" in shown, entries)
    elif derivation.vector_problem and shown & {"vector", "index"}:
        yield Text(vector_form_missing(derivation.vector_problem), style="italic dim")
    if derivation.batch is not None and "batch" in shown:
        yield _batch_panel(derivation, inner)
    if not entries:
        return
    total = len(derivation.steps)
    for step in derivation.steps:
        yield _step_panel(derivation, step, total, inner, compact)
    yield _updates_panel(derivation, inner)
    if derivation.insights:
        yield _insights_panel(derivation, inner)
    yield _summary_table(derivation, width)


#: The least width the notes beside the model's definitions get; where that is not left, each goes under.
NOTE_WIDTH = 20


def maths(text: str, style: str = "") -> Text:
    """Maths already laid out to its width: Rich must never wrap it, which would cut a 2-D form apart."""
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def _header(derivation: Derivation, width: int, entries: bool = True) -> Panel:
    model = derivation.model
    shaped = None if entries else model.shaped  # the vector views: names as the file declares them
    parameters = model.parameters if shaped is None else shaped.parameters
    wanted = [(inline(Total(model.loss, p)), True) for p in parameters]
    listed = [part for i, name in enumerate(wanted) for part in ([(", ", False)] if i else []) + [name]]
    objective = Text(
        prose([("Objective: find ", False), *listed, (" and update the parameters.", False)], width),
        no_wrap=True,
    )
    objective.stylize("bold", 0, len("Objective:"))
    names = Table.grid(padding=(0, 3))
    names.add_column(style="bold", no_wrap=True)
    names.add_column(style="italic", no_wrap=True)
    names.add_column(style="dim")
    if shaped is not None:
        names.columns[2].style = ""  # the sizes, then the notes
        names.add_column(style="dim")
        for sym, role, size, said in declared_names(derivation):
            names.add_row(pretty(sym), role, size, Text(printable(said)))
        heading = Text(f"Names (sizes: {shaped.describe()})", style="bold")
        body: list[RenderableType] = [objective, Text(""), heading, names]
        return _panel(
            body, Text(words(title_parts(printable(derivation.title), model.symbols)), style="bold"), width
        )
    for role, symbols in _roles(derivation):
        for sym in symbols:
            names.add_row(pretty(sym), role, note(derivation, sym))
    body = [
        objective,
        Text(""),
        Text("Model", style="bold"),
        _definitions(derivation, width),
        Text(""),
        Text("Names", style="bold"),
        names,
    ]
    title = words(title_parts(printable(derivation.title), model.symbols))
    return _panel(body, Text(title, style="bold"), width)


def note(derivation: Derivation, sym: sp.Symbol, style: str = "") -> Text:
    """The file's note on `sym` as text, never markup or a control sequence (empty where it has none)."""
    return Text(printable(derivation.model.note(sym) or ""), style=style)


def _definitions(derivation: Derivation, width: int) -> RenderableType:
    """Each definition with its note beside it, or under it where the two do not fit side by side."""
    model = derivation.model
    # As the file writes it where that fits a line; else SymPy's form, which breaks between its terms
    # (the file's -(y1*log(a1) + …) could only break inside its brackets).
    written: list[tuple[sp.Symbol, sp.Expr, str]] = []  # each definition, the form shown, drawn on one line
    for sym, expr in model.definitions:
        as_written = derivation.as_written(sym)
        drawn = pretty_chain([sym, as_written])
        written.append(
            (sym, as_written, drawn) if _widest([drawn]) <= width else (sym, expr, pretty_chain([sym, expr]))
        )
    if _widest(drawn for _, _, drawn in written) + 3 + NOTE_WIDTH <= width:
        grid = Table.grid(padding=(0, 3))
        grid.add_column(no_wrap=True)
        grid.add_column(style="dim")
        for sym, _, drawn in written:
            grid.add_row(maths(drawn), note(derivation, sym))
        return grid
    stacked: list[RenderableType] = []
    for sym, expr, _ in written:
        stacked.append(maths(pretty_chain([sym, expr], width=width)))
        if model.note(sym):
            stacked.append(Padding(note(derivation, sym, "dim"), (0, 0, 0, 4)))
    return Group(*stacked)


def _panel(body: list[RenderableType], title: Text, width: int, border_style: str = "") -> Panel:
    """A panel `width` columns wide inside, its title at the left."""
    return Panel(Group(*body), title=panel_title(title, width), title_align="left", border_style=border_style)


def panel_title(title: Text, width: int) -> Text:
    """A panel's title, cut with "…" where it is wider than the panel's top border leaves room for."""
    title = title.copy()
    title.no_wrap, title.overflow = True, "ellipsis"
    # The border takes "╭─" and "─╮", and Rich pads the title with a space each side.
    room = width + PANEL_PADDING - 6
    if title.cell_len > room:
        title.truncate(room, overflow="ellipsis")
    return title


def words(phrase: Phrase) -> str:
    """A phrase with its names as the terminal's maths prints them: w₁ for w1 (w1 in ASCII)."""
    return "".join(part if isinstance(part, str) else inline(part) for part in phrase)


def _roles(derivation: Derivation) -> list[tuple[str, tuple[sp.Symbol, ...]]]:
    model = derivation.model
    return [
        ("input", model.inputs),
        ("target", model.targets),
        ("parameter", model.parameters),
        ("constant", tuple(s for s, _ in model.constants)),
    ]


def _step_body(step: Step, width: int) -> list[RenderableType]:
    """A step's rule, its equations and the assumptions they used."""
    body: list[RenderableType] = [Text(words(sentence_parts(step_rule_parts(step))), style="italic dim")]
    if isinstance(step, Recognition):
        body += [Text(""), maths(pretty_chain([step.node, step.written, step.named], width=width))]
    for equation in step.equations:
        body.append(Text(""))
        body.append(maths(pretty_chain(equation_parts(equation), width=width)))
    using = sorted({text for equation in step.equations for text in equation.using})
    if using:
        body += [Text(""), Text("using the file's assumption " + "; ".join(using), style="italic dim")]
    return body


def step_panel(step: Step, width: int = 100) -> Panel:
    """One step on its own (`rich.print(step)`): its panel without the model's notes."""
    width = max(width - PANEL_PADDING, 20)
    body = _step_body(step, width)
    title = Text.assemble((f"Step {step.number}", "bold cyan"), ": ", words(step_title_parts(step)))
    return _panel(body, title, width, "cyan")


def _step_panel(derivation: Derivation, step: Step, total: int, width: int, compact: bool = False) -> Panel:
    body = _step_body(step, width)
    names = [name for equation in step.equations for name in (equation.of, equation.wrt)]
    notes = _notes(derivation, names)
    if notes.row_count and not compact:
        body += [Text(""), notes]
    number = f"Step {step.number} of {total}"
    title = Text.assemble((number, "bold cyan"), ": ", words(step_title_parts(step)))
    return _panel(body, title, width, "cyan")


def _vector_panel(
    derivation: Derivation, width: int, whole: bool = True, index: bool = True, entries: bool = True
) -> Panel:
    """Each adjoint and gradient in vector form: by the chain rule, then in the model's names; `whole`
    on whole vectors and matrices, `index` entry by entry (`entries`: the steps follow)."""
    assert derivation.vector is not None and derivation.model.shaped is not None
    sizes = derivation.model.shaped.describe()
    written = (
        f"the steps below write it out at {sizes}" if entries else f"the file's are {sizes.split(';')[0]}"
    )
    body: list[RenderableType] = [
        Text(
            "The chain rule on whole vectors and matrices (⊙ multiplies entry by entry, a function "
            f"acts on each entry, uᵀ⋅v is the dot product and u⋅xᵀ the outer product); it holds for "
            f"any sizes, and {written}.",
            style="italic dim",
        ),
        Text(""),
    ]
    vector = derivation.vector
    for node, expr in derivation.model.shaped.definitions:
        body.append(maths(pretty_chain([node, vector.marked(expr)], width=width)))
    body.append(Text(""))
    for result in vector.results:
        parts = [Total(result.loss, result.node), vector.marked(result.chain), vector.marked(result.result)]
        if result.chain == result.result:
            parts.pop(1)
        if whole or not result.shape:
            body.append(maths(pretty_chain(parts, width=width)))
        if result.shape and index:  # the same entry by entry
            lhs, chain, value = vector.index(result)
            index_parts = [lhs, chain, value] if chain != value else [lhs, value]
            body.append(maths(pretty_chain(index_parts, width=width), style="dim" if whole else ""))
        if result.using:
            body.append(Text(f"  using {', '.join(result.using)}", style="italic dim"))
    if derivation.vector_hessian:
        body.append(Text(""))
        for second in derivation.vector_hessian:
            lhs = Second(second.loss, second.first, second.second)
            body.append(maths(pretty_chain([lhs, vector.marked(second.result)], width=width)))
    elif derivation.vector_hessian_problem:
        body += [Text(""), Text(second_order_missing(derivation.vector_hessian_problem), style="italic dim")]
    title = Text("Vector form", style="bold magenta")
    return _panel(body, title, width, "magenta")


def _batch_panel(derivation: Derivation, width: int) -> Panel:
    """The vector form over a batch of m samples: the lines `codegen` computes, and each gradient of J."""
    batch = derivation.batch
    assert batch is not None
    objective = batch.objective_name
    body: list[RenderableType] = [
        Text(
            f"Over a batch of m samples (row k of a capital is sample k; a lower-case name is a column of m "
            f"values), training minimises {pretty(objective)} = the mean of {derivation.loss.name}; "
            "each gradient is the sum over the samples, by linearity.",
            style="italic dim",
        ),
        Text(""),
    ]
    for line in (*batch.forward, *batch.backward):
        body.append(maths(pretty_chain([line.target, line.value], width=width)))
    body.append(maths(pretty_chain([objective, batch.objective], width=width)))
    body.append(Text(""))
    parameters = {p.name: p for p in derivation.model.shaped.parameters} if derivation.model.shaped else {}
    for line in batch.gradients:
        parts = [Total(objective, parameters.get(line.label.split("/d")[-1], line.target)), line.value]
        if line.expanded is not None:
            parts.append(line.expanded)
        body.append(maths(pretty_chain(parts, width=width)))
    if batch.hessian:
        body.append(Text(""))
    for line, second in zip(batch.hessian, derivation.vector_hessian, strict=True):
        body.append(
            maths(pretty_chain([Second(objective, second.first, second.second), line.value], width=width))
        )
    title = Text("Batch form", style="bold blue")
    return _panel(body, title, width, "blue")


def _updates_panel(derivation: Derivation, width: int) -> Panel:
    rate = derivation.learning_rate
    body: list[RenderableType] = [
        Text(
            f"Move each parameter against its gradient; the learning rate {pretty(rate)} sets the step size.",
            style="italic dim",
        ),
        Text(""),
    ]
    for update in derivation.updates:
        body.append(maths(pretty_chain([update.parameter, update.rule], joiner=" := ", width=width)))
    means = [(u.parameter, u.mean_rule(derivation.per_sample)) for u in derivation.updates]
    if any(mean != update.rule for (_, mean), update in zip(means, derivation.updates, strict=True)):
        mark = "[k]" if _ASCII[0] else "⁽ᵏ⁾"
        body += [Text(""), Text(BATCH_MEAN.format(mark), style="italic dim"), Text("")]
        for (parameter, mean), update in zip(means, derivation.updates, strict=True):
            if _widest([inline(mean)]) + len(pretty(parameter)) + 4 > width:  # too wide for one line:
                mean = update.mean_rule(
                    derivation.per_sample, Total(derivation.loss, parameter)
                )  # (dL/dθ)⁽ᵏ⁾
            body.append(maths(pretty_chain([parameter, mean], joiner=" := ", width=width)))
    title = Text("Gradient descent", style="bold green")
    return _panel(body, title, width, "green")


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
#: The index letters with a unicode subscript (`symbolic.index.INDEX_LETTERS`), and digits.
_SUBSCRIPTS = dict(zip("ijklprstu0123456789", "ᵢⱼₖₗₚᵣₛₜᵤ₀₁₂₃₄₅₆₇₈₉", strict=True))


class _InlinePrinter(PositiveFirst, TextPrinter):
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


def _insights_panel(derivation: Derivation, width: int) -> Panel:
    body: list[RenderableType] = []
    for insight in derivation.insights:
        parts = re.split(r"(\{\d+\})", insight_template(insight))
        shown = [
            (inline(insight.expressions[int(p[1:-1])]), True) if _SLOT.fullmatch(p) else (p, False)
            for p in parts
        ]
        line = Text(prose([("• ", False), *shown], width), no_wrap=True)
        line.stylize("yellow", 0, 1)
        body.append(line)
    title = Text("Key insights", style="bold yellow")
    return _panel(body, title, width, "yellow")


_SLOT = re.compile(r"\{\d+\}")
#: Stands for a space inside maths while `prose` fills lines: one column wide, as the space is.
_GLUE = "\u00a0"


def prose(parts: Iterable[tuple[str, bool]], width: int) -> str:
    """Words and maths (the parts marked True) filled into lines at most `width` wide.

    A line breaks at a space between words, never inside a piece of maths, which SymPy may print
    with a space in a name (W₁ ₁ for W1_1); maths wider than a whole line is broken by `wrap_maths`.
    """
    glued = "".join(text.replace(" ", _GLUE) if is_maths else text for text, is_maths in parts)
    lines: list[str] = []
    line = ""
    for word in glued.split(" "):
        candidate = f"{line} {word}" if line else word
        if cell_len(candidate) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
        if cell_len(line) > width:  # one piece of maths wider than the line
            *full, line = wrap_maths(line.replace(_GLUE, " "), width, 2)
            lines += full
    lines.append(line)
    return "\n".join(lines).replace(_GLUE, " ")


def _widest(shown: Iterable[str]) -> int:
    return max((cell_len(line) for text in shown for line in text.split("\n")), default=0)


def _summary_table(derivation: Derivation, width: int) -> Table:
    """Each parameter's gradient and update; narrower than the terminal, each cell laid out to its column."""
    updates = derivation.updates
    names = [pretty(u.parameter) for u in updates]
    gradients = [pretty_chain([u.gradient]) for u in updates]
    rules = [pretty_chain([u.parameter, u.rule], joiner=" := ") for u in updates]
    header = f"d{pretty(derivation.loss)}/dparameter"
    first = max(cell_len("parameter"), _widest(names))
    room = width - 10 - first  # the borders and padding of three columns take 10
    if _widest([header, *gradients]) + _widest(["update", *rules]) > room:
        # Each cell in its one-line form, if those fit side by side; else one column.
        wide = _widest([header, *(inline(u.gradient) for u in updates)])
        wider = _widest(["update", *(f"{inline(u.parameter)} := {inline(u.rule)}" for u in updates)])
        if wide + wider > room:
            return _summary_column(derivation, width - 4)
        wide += (room - wide - wider) // 2
        wider = room - wide
        gradients = [pretty_chain([u.gradient], width=wide) for u in updates]
        rules = [pretty_chain([u.parameter, u.rule], joiner=" := ", width=wider) for u in updates]
    table = Table(title="Gradients and update rules", title_justify="left", show_lines=True)
    table.add_column("parameter", no_wrap=True)
    table.add_column(header, no_wrap=True, overflow="ellipsis")
    table.add_column("update", no_wrap=True, overflow="ellipsis")
    for name, gradient, rule in zip(names, gradients, rules, strict=True):
        table.add_row(name, maths(gradient), maths(rule))
    return table


def _summary_column(derivation: Derivation, width: int) -> Table:
    """The summary table in one column `width` wide: each parameter's gradient, then its update."""
    table = Table(title="Gradients and update rules", title_justify="left", show_lines=True)
    table.add_column("gradient and update", no_wrap=True, overflow="ellipsis")
    for u in derivation.updates:
        gradient = pretty_chain([Total(derivation.loss, u.parameter), u.gradient], width=width)
        rule = pretty_chain([u.parameter, u.rule], joiner=" := ", width=width)
        table.add_row(maths(f"{gradient}\n{rule}"))
    return table


def _notes(derivation: Derivation, names: Iterable[sp.Symbol]) -> Table:
    """A two-column grid: each name that has a note, once, in the order given."""
    grid = Table.grid(padding=(0, 3))
    grid.add_column(style="bold")
    grid.add_column(style="dim")
    seen: set[sp.Symbol] = set()
    for name in names:
        if derivation.model.note(name) and name not in seen:
            seen.add(name)
            grid.add_row(pretty(name), note(derivation, name))
    return grid
