"""A derivation in the terminal: one rich panel per step, SymPy's unicode maths, notes beside names.

Nothing here computes maths: it lays out what the steps hold. Equations wider
than the terminal are broken after each "=" instead of being wrapped mid-formula.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import sympy as sp
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from symcalc.render.lines import wrap_maths
from symcalc.render.pretty import inline, is_ascii, pretty, pretty_chain
from symcalc.render.text import printable
from symcalc.render.vector_names import declared_names
from symcalc.render.views import Views, views_for
from symcalc.render.wording import (
    BATCH_MEAN,
    BATCH_NOTATION,
    Phrase,
    insight_template,
    missing,
    sentence_parts,
    step_rule_parts,
    step_title_parts,
    title_parts,
)
from symcalc.symbolic.entries import entries_named
from symcalc.symbolic.insights import Insight
from symcalc.symbolic.notation import (
    Second,
    Total,
)
from symcalc.symbolic.steps import Derivation, Equation, Recognition, Step

PANEL_PADDING = 4  # a panel's border and padding take this many columns


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
        yield Text(missing(derivation.vector_problem), style="italic dim")
    if derivation.batch is not None and "batch" in shown:
        yield _batch_panel(derivation, inner)
    if not entries:
        if derivation.vector_insights and shown & {"vector", "index"}:
            yield _insights_panel(derivation.vector_insights, inner)
        return
    total = len(derivation.steps)
    for step in derivation.steps:
        yield _step_panel(derivation, step, total, inner, compact)
    yield _updates_panel(derivation, inner)
    if derivation.insights:
        yield _insights_panel(derivation.insights, inner)
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
        # never inside a bracket, "of (h₂…": the maths would read as cut apart; cut before it instead
        opened: list[int] = []
        for i, char in enumerate(title.plain):
            if char in "()":
                opened = [*opened, i] if char == "(" else opened[:-1]
        if opened:
            title.truncate(len(title.plain[: opened[0]].rstrip()), overflow="crop")
            title.append("…")
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
    rule = [
        (part, False) if isinstance(part, str) else (inline(part), True)
        for part in sentence_parts(step_rule_parts(step))
    ]
    body: list[RenderableType] = [
        Text(prose(rule, width), style="italic dim", no_wrap=True)
    ]  # W₁ ₁ kept whole
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
    shaped = derivation.model.shaped
    written = (
        f"the steps below write it out {shaped.written_out()}"
        if entries
        else f"the file's are {shaped.describe().split(';')[0]}"
    )
    said = (
        "The chain rule on whole vectors and matrices (⊙ multiplies entry by entry, a function "
        f"acts on each entry, uᵀ⋅v is the dot product and u⋅xᵀ the outer product); it holds for "
        f"any sizes, and {written}."
    )
    # The sizes in brackets, (the model's are m = 4, n = 2), are kept on one line: maths cut at a
    # bracket would read as a formula broken inside it.
    sizes = [(text, bool(k % 2)) for k, text in enumerate(re.split(r"(\([^()]*= [^()]*\))", said))]
    body: list[RenderableType] = [Text(prose(sizes, width), style="italic dim", no_wrap=True), Text("")]
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
        body += [Text(""), Text(missing(derivation.vector_hessian_problem), style="italic dim")]
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
            f"each gradient is the sum over the samples, by linearity. {BATCH_NOTATION}",
            style="italic dim",
        ),
        Text(""),
    ]
    for line in (*batch.forward, *batch.backward):
        body.append(maths(pretty_chain([line.target, batch.marked(line.value)], width=width)))
    body.append(maths(pretty_chain([objective, batch.objective], width=width)))
    body.append(Text(""))
    parameters = {p.name: p for p in derivation.model.shaped.parameters} if derivation.model.shaped else {}
    for line in batch.gradients:
        parts = [
            Total(objective, parameters.get(line.label.split("/d")[-1], line.target)),
            batch.marked(line.value),
        ]
        if line.expanded is not None:
            parts.append(batch.marked(line.expanded))
        body.append(maths(pretty_chain(parts, width=width)))
    if batch.hessian:
        body.append(Text(""))
    for line, second in zip(batch.hessian, derivation.vector_hessian if batch.hessian else (), strict=True):
        body.append(
            maths(
                pretty_chain(
                    [Second(objective, second.first, second.second), batch.marked(line.value)], width=width
                )
            )
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
        mark = "[k]" if is_ascii() else "⁽ᵏ⁾"
        body += [Text(""), Text(BATCH_MEAN.format(mark), style="italic dim"), Text("")]
        for (parameter, mean), update in zip(means, derivation.updates, strict=True):
            if _widest([inline(mean)]) + len(pretty(parameter)) + 4 > width:  # too wide for one line:
                mean = update.mean_rule(
                    derivation.per_sample, Total(derivation.loss, parameter)
                )  # (dL/dθ)⁽ᵏ⁾
            body.append(maths(pretty_chain([parameter, mean], joiner=" := ", width=width)))
    title = Text("Gradient descent", style="bold green")
    return _panel(body, title, width, "green")


def _insights_panel(insights: tuple[Insight, ...], width: int) -> Panel:
    body: list[RenderableType] = []
    for insight in insights:
        parts = re.split(r"(\{\d+\})", insight_template(insight))
        shown = [
            (inline(insight.expressions[int(p[1:-1])]), True) if _SLOT.fullmatch(p) else (p, False)
            for p in parts
        ]
        # a hanging indent: the lines after a bullet's first start under its text, not under the •
        first, *rest = prose(shown, width - 2).split("\n")
        line = Text("\n".join([f"• {first}", *(f"  {more}" for more in rest)]), no_wrap=True)
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
