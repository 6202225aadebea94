"""A derivation in the terminal: one rich panel per step, SymPy's unicode maths, notes beside names.

Nothing here computes maths: it lays out what the steps hold. Equations wider
than the terminal are broken after each "=" instead of being wrapped mid-formula.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

import sympy as sp
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm

from symcalc.render.order import PositiveFirst
from symcalc.render.wording import insight_text, second_order_missing, sentence, step_rule, step_title
from symcalc.symbolic.functions import TextPrinter
from symcalc.symbolic.notation import Partial, Second, Total
from symcalc.symbolic.steps import Derivation, Equation, Recognition, Step

PANEL_PADDING = 4  # a panel's border and padding take this many columns


class UnicodePrinter(PositiveFirst, PrettyPrinter):
    """SymPy's pretty printer, without the import of sympy.physics.units its products make.

    SymPy's `_print_Mul` imports sympy.physics.units (about 65 ms, more than printing a whole
    derivation) only to move unit quantities to the end of a product. A quantity cannot exist
    before that module is loaded, so until then the same method without that sort prints the same.
    """

    def _print_Indexed(self, entry: sp.Indexed) -> prettyForm:
        """Wᵢⱼ and (dL/ds)ᵢ, as a lecture writes an entry; W[i, j] where an index has no subscript letter."""
        base = self._print(entry.base.label)
        if base.height() > 1:
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
    """`parts` joined by `joiner` on one line, or one per line ("= …") when wider than `width`."""
    printer = _printer()
    forms = [printer._print(p) for p in parts]
    line = forms[0]
    for form in forms[1:]:
        line = prettyForm(*line.right(joiner, form))
    if line.width() <= width or len(forms) == 1:
        return str(line.render(**printer._settings))
    indent = " " * forms[0].width()
    rows = [prettyForm(*forms[0].right(joiner, forms[1]))]
    rows += [prettyForm(*prettyForm(indent).right(joiner, form)) for form in forms[2:]]
    return "\n".join(str(row.render(**printer._settings)) for row in rows)


def equation_parts(equation: Equation) -> list[sp.Basic]:
    """The forms of an equation that are worth showing, left to right."""
    parts: list[sp.Basic] = [equation.lhs]
    parts += [p for p in (equation.chain, equation.unsimplified) if p is not None]
    parts.append(equation.result)
    return parts


def render_derivation(derivation: Derivation, width: int = 100) -> Iterator[RenderableType]:
    """Everything `symcalc derive` prints, as rich renderables."""
    inner = max(width - PANEL_PADDING, 20)
    yield _header(derivation, inner)
    if derivation.vector is not None:
        yield _vector_panel(derivation, inner)
    if derivation.batch is not None:
        yield _batch_panel(derivation, inner)
    total = len(derivation.steps)
    for step in derivation.steps:
        yield _step_panel(derivation, step, total, inner)
    yield _updates_panel(derivation, inner)
    if derivation.insights:
        yield _insights_panel(derivation)
    yield _summary_table(derivation)


def _header(derivation: Derivation, width: int) -> Panel:
    model = derivation.model
    objective = ", ".join(inline(Total(model.loss, p)) for p in model.parameters)
    definitions = Table.grid(padding=(0, 3))
    definitions.add_column()
    definitions.add_column(style="dim")
    for sym, expr in model.definitions:
        definitions.add_row(pretty_chain([sym, expr], width=width), model.note(sym) or "")
    names = Table.grid(padding=(0, 3))
    names.add_column(style="bold")
    names.add_column(style="italic")
    names.add_column(style="dim")
    for role, symbols in _roles(derivation):
        for sym in symbols:
            names.add_row(pretty(sym), role, model.note(sym) or "")
    body: list[RenderableType] = [
        Text.assemble(("Objective: ", "bold"), f"find {objective} and update the parameters."),
        Text(""),
        Text("Model", style="bold"),
        definitions,
        Text(""),
        Text("Names", style="bold"),
        names,
    ]
    return Panel(Group(*body), title=Text(derivation.title, style="bold"), title_align="left")


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
    body: list[RenderableType] = [Text(sentence(step_rule(step)), style="italic dim")]
    if isinstance(step, Recognition):
        body += [Text(""), Text(pretty_chain([step.node, step.written, step.named], width=width))]
    for equation in step.equations:
        body.append(Text(""))
        body.append(Text(pretty_chain(equation_parts(equation), width=width)))
    using = sorted({text for equation in step.equations for text in equation.using})
    if using:
        body += [Text(""), Text("using the file's assumption " + "; ".join(using), style="italic dim")]
    return body


def step_panel(step: Step, width: int = 100) -> Panel:
    """One step on its own (`rich.print(step)`): its panel without the model's notes."""
    body = _step_body(step, max(width - PANEL_PADDING, 20))
    title = Text.assemble((f"Step {step.number}", "bold cyan"), ": ", step_title(step))
    return Panel(Group(*body), title=title, title_align="left", border_style="cyan")


def _step_panel(derivation: Derivation, step: Step, total: int, width: int) -> Panel:
    body = _step_body(step, width)
    names = [name for equation in step.equations for name in (equation.of, equation.wrt)]
    notes = _notes(derivation, names)
    if notes.row_count:
        body += [Text(""), notes]
    title = Text.assemble((f"Step {step.number} of {total}", "bold cyan"), ": ", step_title(step))
    return Panel(Group(*body), title=title, title_align="left", border_style="cyan")


def _vector_panel(derivation: Derivation, width: int) -> Panel:
    """Each adjoint and gradient in vector form: by the chain rule, then in the model's names."""
    assert derivation.vector is not None and derivation.model.shaped is not None
    sizes = derivation.model.shaped.describe()
    body: list[RenderableType] = [
        Text(
            "The chain rule on whole vectors and matrices (⊙ multiplies entry by entry, a function "
            f"acts on each entry, uᵀ⋅v is the dot product and u⋅xᵀ the outer product); it holds for "
            f"any sizes, and the steps below write it out at {sizes}.",
            style="italic dim",
        ),
        Text(""),
    ]
    vector = derivation.vector
    for node, expr in derivation.model.shaped.definitions:
        body.append(Text(pretty_chain([node, vector.marked(expr)], width=width)))
    body.append(Text(""))
    for result in vector.results:
        parts = [Total(result.loss, result.node), vector.marked(result.chain), vector.marked(result.result)]
        if result.chain == result.result:
            parts.pop(1)
        body.append(Text(pretty_chain(parts, width=width)))
        if result.shape:  # the same entry by entry
            lhs, chain, value = vector.index(result)
            index_parts = [lhs, chain, value] if chain != value else [lhs, value]
            body.append(Text(pretty_chain(index_parts, width=width), style="dim"))
        if result.using:
            body.append(Text(f"  using {', '.join(result.using)}", style="italic dim"))
    if derivation.vector_hessian:
        body.append(Text(""))
        for second in derivation.vector_hessian:
            lhs = Second(second.loss, second.first, second.second)
            body.append(Text(pretty_chain([lhs, vector.marked(second.result)], width=width)))
    elif derivation.vector_hessian_problem:
        body += [Text(""), Text(second_order_missing(derivation.vector_hessian_problem), style="italic dim")]
    title = Text("Vector form", style="bold magenta")
    return Panel(Group(*body), title=title, title_align="left", border_style="magenta")


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
        body.append(Text(pretty_chain([line.target, line.value], width=width)))
    body.append(Text(pretty_chain([objective, batch.objective], width=width)))
    body.append(Text(""))
    parameters = {p.name: p for p in derivation.model.shaped.parameters} if derivation.model.shaped else {}
    for line in batch.gradients:
        parts = [Total(objective, parameters.get(line.label.split("/d")[-1], line.target)), line.value]
        if line.expanded is not None:
            parts.append(line.expanded)
        body.append(Text(pretty_chain(parts, width=width)))
    if batch.hessian:
        body.append(Text(""))
    for line, second in zip(batch.hessian, derivation.vector_hessian, strict=True):
        body.append(
            Text(pretty_chain([Second(objective, second.first, second.second), line.value], width=width))
        )
    title = Text("Batch form", style="bold blue")
    return Panel(Group(*body), title=title, title_align="left", border_style="blue")


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
        body.append(Text(pretty_chain([update.parameter, update.rule], joiner=" := ", width=width)))
    title = Text("Gradient descent", style="bold green")
    return Panel(Group(*body), title=title, title_align="left", border_style="green")


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
#: The index letters with a unicode subscript (`symbolic.index.INDEX_LETTERS`), and digits.
_SUBSCRIPTS = dict(zip("ijklprstu0123456789", "ᵢⱼₖₗₚᵣₛₜᵤ₀₁₂₃₄₅₆₇₈₉", strict=True))


class _InlinePrinter(PositiveFirst, TextPrinter):
    """The file's one-line syntax with the terminal's symbols: h₁ for h1, a² for a**2, ⋅ for *."""

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        shown = pretty(expr)
        return shown if "\n" not in shown else expr.name

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exponent = expr.args
        if exponent.is_Integer and 2 <= exponent <= 9:
            shown = self.parenthesize(base, PRECEDENCE["Pow"], strict=True)
            return shown + str(exponent).translate(_SUPERSCRIPTS)
        return str(super()._print_Pow(expr, rational))

    def _print_Mul(self, expr: sp.Mul) -> str:
        return str(super()._print_Mul(expr)).replace("*", "⋅")


def inline(expr: sp.Basic) -> str:
    """One line of unicode maths for use inside a sentence: ∂a/∂z, dL/dz, a⋅(1 - a), 1 - h₁², ½ as 1/2."""
    if isinstance(expr, Partial):
        return f"{expr.mark}{pretty(expr.of)}/{expr.mark}{pretty(expr.wrt)}"
    shown = pretty(expr)
    return shown if "\n" not in shown else str(_InlinePrinter().doprint(expr))


def _insights_panel(derivation: Derivation) -> Panel:
    body = [Text.assemble(("• ", "yellow"), insight_text(insight, inline)) for insight in derivation.insights]
    title = Text("Key insights", style="bold yellow")
    return Panel(Group(*body), title=title, title_align="left", border_style="yellow")


def _summary_table(derivation: Derivation) -> Table:
    loss = derivation.loss
    table = Table(title="Gradients and update rules", title_justify="left", show_lines=True)
    table.add_column("parameter")
    table.add_column(f"d{pretty(loss)}/dparameter")
    table.add_column("update")
    for update in derivation.updates:
        table.add_row(
            pretty(update.parameter),
            pretty(update.gradient),
            pretty_chain([update.parameter, update.rule], joiner=" := "),
        )
    return table


def _notes(derivation: Derivation, names: Iterable[sp.Symbol]) -> Table:
    """A two-column grid: each name that has a note, once, in the order given."""
    grid = Table.grid(padding=(0, 3))
    grid.add_column(style="bold")
    grid.add_column(style="dim")
    seen: set[sp.Symbol] = set()
    for name in names:
        note = derivation.model.note(name)
        if note and name not in seen:
            seen.add(name)
            grid.add_row(pretty(name), note)
    return grid
