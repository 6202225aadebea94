"""A derivation's document as format-neutral blocks: the outline that the LaTeX and Markdown writers lay out.

The document follows the seed page: objective, model, an overview of the steps,
one section per step (each equation's forms in rows aligned on ``=``), the
gradient-descent updates and the key insights. Free text is kept as `Text`, for
each writer to escape its own way; maths is TeX in both formats, printed by the
`tex` function the writer passes in, from the steps themselves, never recomputed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from symcalc.render.views import Views, views_for
from symcalc.render.wording import (
    BATCH_MEAN,
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
from symcalc.symbolic.notation import Second, Sum, Total
from symcalc.symbolic.steps import Derivation, Equation, LocalDerivatives, Recognition, Step

# Prints an expression, an Equation (rows with "&=") or an Update ("&:=") as TeX.
Tex = Callable[[Any], str]


@dataclass(frozen=True)
class Text:
    """Free text: each writer escapes it for its own format."""

    text: str


@dataclass(frozen=True)
class Math:
    """Inline maths, already printed as LaTeX."""

    tex: str


Inline = Text | Math


@dataclass(frozen=True)
class Heading:
    """Level 0 is the document's title; 1 a section."""

    level: int
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Inline, ...]
    emphasis: bool = False


@dataclass(frozen=True)
class Display:
    """Rows of an ``align*`` (or ``aligned``) environment, each with its ``&`` already placed."""

    rows: tuple[str, ...]


@dataclass(frozen=True)
class Items:
    items: tuple[tuple[Inline, ...], ...]
    numbered: bool = False


Block = Heading | Paragraph | Display | Items


@entries_named
def outline(
    derivation: Derivation, tex: Tex, compact: bool = False, views: Views | None = None
) -> list[Block]:
    """The whole document as blocks: what both the LaTeX and the Markdown writers lay out. `compact`
    leaves out the overview of the steps, which repeats their results, and the "where" list of
    notes under each step (the model's section lists every note once); `views` which forms of a
    model with vectors it shows (`symcalc.render.views`)."""
    model = derivation.model
    shown = views_for(derivation, views)
    entries = "entries" in shown
    title = title_parts(derivation.title, model.symbols) if derivation.title else ("Derivation",)
    blocks: list[Block] = [Heading(0, inlines(title, tex))]
    shaped = model.shaped
    whole = shaped.parameters if shaped is not None and not entries else model.parameters
    blocks += _objective(derivation, tex, whole)
    if entries:
        blocks += _model_section(derivation, tex)
    if shown & {"vector", "index"}:
        blocks += _vector_section(derivation, tex, "vector" in shown, "index" in shown, entries)
    if "batch" in shown:
        blocks += _batch_section(derivation, tex)
    if not entries:
        if shown & {"vector", "index"}:
            blocks += _insights_section(derivation.vector_insights, tex)
        return blocks
    if not compact:  # the overview repeats each step's results
        blocks += _overview(derivation, tex)
    for step in derivation.steps:
        blocks += _step_section(derivation, step, tex, compact)
    blocks += _updates_section(derivation, tex)
    blocks += _insights_section(derivation.insights, tex)
    return blocks


def _constant_rows(derivation: Derivation, tex: Tex) -> list[str]:
    """Each vector or matrix constant with its numbers (a vector as a column), as the file gives them;
    one of more than twelve numbers is left to the file."""
    model = derivation.model
    rows = []
    for name, sizes, values in model.spec.arrays if model.spec else ():
        if len(values) > 12:
            continue
        numbers = [sp.Integer(int(v)) if v.is_integer() else sp.Float(v, 6) for v in values]
        matrix = sp.Matrix(sizes[0], sizes[1] if len(sizes) == 2 else 1, numbers)
        rows.append(
            f"{tex(model.symbols[name] if name in model.symbols else sp.Symbol(name))} &= {tex(matrix)}"
        )
    return rows


def _vector_section(
    derivation: Derivation, tex: Tex, whole: bool = True, index: bool = True, entries: bool = True
) -> list[Block]:
    """For a model with vectors and matrices: each adjoint and gradient in vector form, any size;
    `whole` on whole vectors and matrices, `index` entry by entry (`entries`: the steps follow)."""
    vector, shaped = derivation.vector, derivation.model.shaped
    if vector is None or shaped is None:
        return []
    rows = []
    for result in vector.results:
        parts = [tex(vector.marked(result.chain)), tex(vector.marked(result.result))]
        if result.chain == result.result:
            parts.pop(0)
        assumed = dict(shaped.assumptions)
        used = ", ".join(f"{tex(assumed[text])} = 0" for text in result.using)
        using = rf" && \text{{using }} {used}" if result.using else ""
        if whole or not result.shape:
            rows.append(f"{tex(Total(result.loss, result.node))} &= " + " = ".join(parts) + using)
        if result.shape and index:  # the same entry by entry: the index form
            lhs, chain, value = vector.index(result)
            sides = [tex(chain), tex(value)] if chain != value else [tex(value)]
            rows.append(f"{tex(lhs)} &= " + " = ".join(sides))
    for second in derivation.vector_hessian:
        rows.append(
            f"{tex(Second(second.loss, second.first, second.second))} &= {tex(vector.marked(second.result))}"
        )
    written = (
        *_constant_rows(derivation, tex),
        *(f"{tex(node)} &= {tex(vector.marked(expr))}" for node, expr in shaped.definitions),
    )
    lacking = derivation.vector_hessian_problem
    return [
        Heading(1, (Text("Vector form"),)),
        Paragraph((Text("The model as the file writes it, with vectors and matrices:"),)),
        Display(written),
        Paragraph(
            (
                Text("The chain rule on whole vectors and matrices, for any sizes: "),
                Math(r"\odot"),
                Text(" multiplies entry by entry, a function acts on each entry, "),
                Math(r"u^{\top} v"),
                Text(" is the dot product and "),
                Math(r"u x^{\top}"),
                Text(
                    " is the outer product. Each result is checked entry by entry; "
                    + (
                        f"the steps below write the model out {shaped.written_out()}."
                        if entries
                        else f"the file's sizes are {shaped.describe().split(';')[0]}."
                    )
                ),
            )
        ),
        Display(tuple(rows)),
        *([Paragraph((Text(missing(lacking)),))] if lacking else []),
    ]


def _batch_section(derivation: Derivation, tex: Tex) -> list[Block]:
    """The vector form over a batch of m samples: its lines, and each gradient of J = (1/m) Σ L."""
    batch, shaped = derivation.batch, derivation.model.shaped
    if batch is None or shaped is None:
        return []
    objective = batch.objective_name
    lines = [
        f"{tex(line.target)} &= {tex(batch.marked(line.value))}" for line in (*batch.forward, *batch.backward)
    ]
    lines.append(f"{tex(objective)} &= {tex(batch.objective)}")
    parameters = {p.name: p for p in shaped.parameters}
    gradients = []
    for line in batch.gradients:
        parts = [tex(batch.marked(line.value))]
        parts += [tex(batch.marked(line.expanded))] if line.expanded is not None else []
        wrt = parameters.get(line.label.split("/d")[-1], line.target)
        gradients.append(f"{tex(Total(objective, wrt))} &= " + " = ".join(parts))
    for line, second in zip(batch.hessian, derivation.vector_hessian if batch.hessian else (), strict=True):
        gradients.append(
            f"{tex(Second(objective, second.first, second.second))} &= {tex(batch.marked(line.value))}"
        )
    return [
        Heading(1, (Text("Batch form"),)),
        Paragraph(
            (
                Text("Over a batch of m samples, row k of a capital letter's matrix is sample k and a "),
                Text("lower-case name is a column of m values; training minimises the mean loss "),
                Math(tex(objective)),
                Text(", and each gradient is the sum over the samples, by linearity. "),
                Math(r"\odot"),
                Text(" multiplies entry by entry, a function acts on each entry (softmax on each row) and "),
                Math(r"c v^{\top}"),
                Text(
                    " is an outer product (an m × h matrix); a parameter's vector added to or multiplied "
                    "entry by entry with a matrix of m rows acts on each row ("
                ),
                Math(r"c + X W^{\top}"),
                Text("), as a column of m values does on each column; "),
                Math(r"\mathbf{1}"),
                Text(" is a column of ones:"),
            )
        ),
        Display(tuple(lines)),
        Display(tuple(gradients)),
    ]


_SLOT = re.compile(r"\{(\d+)\}")


def _insights_section(insights: tuple[Insight, ...], tex: Tex) -> list[Block]:
    """The checked "Key insights": each template's slots set as maths."""
    if not insights:
        return []
    items = []
    for insight in insights:
        template = insight_template(insight)
        parts: list[Inline] = []
        start = 0
        for match in _SLOT.finditer(template):
            if match.start() > start:
                parts.append(Text(template[start : match.start()]))
            parts.append(Math(tex(insight.expressions[int(match.group(1))])))
            start = match.end()
        if start < len(template):
            parts.append(Text(template[start:]))
        items.append(tuple(parts))
    return [Heading(1, (Text("Key insights"),)), Items(tuple(items))]


def _equation_tex(text: str, derivation: Derivation, tex: Tex) -> str:
    """An assumption "y1 + y2 + y3 = 1" typeset from the model's parsed form (lhs − rhs = 0)."""
    expr = dict(derivation.model.assumptions)[text]
    return f"{tex(expr)} = 0"


def _objective(derivation: Derivation, tex: Tex, params: Sequence[sp.Symbol]) -> list[Block]:
    loss = derivation.loss
    plural = "parameters" if len(params) != 1 else "parameter"
    unknowns = [rf"{tex(Total(loss, x))} = \,?" for x in params]
    return [
        Heading(1, (Text("Objective"),)),
        Paragraph(
            (
                Text("Calculate the derivatives of the loss "),
                Math(tex(loss)),
                Text(f" with respect to the {plural} "),
                *_join_math([tex(x) for x in params]),
                Text(", then update each parameter by gradient descent to make the loss smaller."),
            )
        ),
        Display(tuple(r",\qquad ".join(row) for row in _rows(unknowns, 3))),
    ]


def _model_section(derivation: Derivation, tex: Tex) -> list[Block]:
    model = derivation.model
    blocks: list[Block] = [
        Heading(1, (Text("The model"),)),
        Paragraph((Text("Each name is defined from the names before it:"),)),
        Display(tuple(f"{tex(sym)} &= {tex(derivation.as_written(sym))}" for sym, _ in model.definitions)),
    ]
    roles = [
        ("input", model.inputs),
        ("target", model.targets),
        ("parameter", model.parameters),
        ("constant", tuple(s for s, _ in model.constants)),
        ("definition", tuple(s for s, _ in model.definitions)),
    ]
    items = []
    for role, symbols in roles:
        for sym in symbols:
            note = model.note(sym)
            role_text = "the loss" if sym == model.loss else role
            items.append((Math(tex(sym)), Text(f" ({role_text})" + (f": {note}" if note else ""))))
    if items:
        blocks += [Paragraph((Text("Names:"),)), Items(tuple(items))]
    return blocks


def _overview(derivation: Derivation, tex: Tex) -> list[Block]:
    items = []
    for step in derivation.steps:
        results = [f"{tex(eq.lhs)} = {tex(eq.result)}" for eq in step.equations]
        if isinstance(step, Recognition):
            results = [f"{tex(step.node)} = {tex(step.named)}"]
        parts: list[Inline] = [*inlines(step_title_parts(step), tex)]
        if results:
            parts += [Text(": "), *_join_math(results, last=", ")]
        items.append(tuple(parts))
    return [Heading(1, (Text("Calculation steps overview"),)), Items(tuple(items), numbered=True)]


def _step_section(derivation: Derivation, step: Step, tex: Tex, compact: bool = False) -> list[Block]:
    total = len(derivation.steps)
    blocks: list[Block] = [
        Heading(1, (Text(f"Step {step.number} of {total}: "), *inlines(step_title_parts(step), tex))),
        Paragraph(inlines(sentence_parts(step_rule_parts(step)), tex), emphasis=True),
    ]
    if isinstance(step, LocalDerivatives):
        definition = derivation.as_written(step.node)
        blocks.append(Paragraph((Text("Definition: "), Math(f"{tex(step.node)} = {tex(definition)}"))))
    if isinstance(step, Recognition):
        forms = (step.node, step.written, step.named)
        blocks.append(Display((" = ".join(tex(form) for form in forms),)))
    else:
        blocks.append(Display(tuple(tex(eq) for eq in step.equations)))
    using = sorted({text for eq in step.equations for text in eq.using})
    if using:
        blocks.append(
            Paragraph(
                (
                    Text("The simplification uses the file's assumption "),
                    *_join_math([_equation_tex(text, derivation, tex) for text in using]),
                    Text("."),
                )
            )
        )
    notes = _notes(derivation, _names_in(derivation, step.equations), tex)
    if notes and not compact:
        blocks += [Paragraph((Text("where"),)), Items(notes)]
    return blocks


def _updates_section(derivation: Derivation, tex: Tex) -> list[Block]:
    loss, rate = derivation.loss, derivation.learning_rate
    general = tuple(
        f"{tex(u.parameter)} &:= {tex(Sum(u.parameter, -rate * Total(loss, u.parameter)))}"
        for u in derivation.updates
    )
    return [
        Heading(1, (Text("Usage in gradient descent"),)),
        Paragraph(
            (
                Text("Move each parameter against its gradient. The learning rate "),
                Math(tex(rate)),
                Text(" sets the step size, and "),
                Math(":="),
                Text(" means assignment:"),
            )
        ),
        Display(general),
        Paragraph((Text("With the derivatives found above, the update rules are:"),)),
        Display(tuple(tex(u) for u in derivation.updates)),
        *_mean_updates(derivation, tex),
    ]


def _mean_updates(derivation: Derivation, tex: Tex) -> list[Block]:
    """The updates `train` applies: each gradient's mean over a batch of m samples."""
    updates = derivation.updates
    means = [u.mean_rule(derivation.per_sample) for u in updates]
    if all(mean == u.rule for mean, u in zip(means, updates, strict=True)):
        return []
    rows = tuple(f"{tex(u.parameter)} &:= {tex(mean)}" for u, mean in zip(updates, means, strict=True))
    before, after = BATCH_MEAN.split("{}")
    return [Paragraph((Text(before), Math("^{(k)}"), Text(after))), Display(rows)]


def _rows(items: Sequence[str], width: int) -> list[Sequence[str]]:
    return [items[i : i + width] for i in range(0, len(items), width)]


def _join_math(texs: Sequence[str], last: str = " and ") -> list[Inline]:
    """``$a$, $b$ and $c$`` as inline parts."""
    parts: list[Inline] = []
    for i, tex in enumerate(texs):
        if i:
            parts.append(Text(last if i == len(texs) - 1 else ", "))
        parts.append(Math(tex))
    return parts


def inlines(phrase: Phrase, tex: Tex) -> tuple[Inline, ...]:
    """A phrase as inline parts: its words as text, its names as maths ("of $w_{1}$")."""
    return tuple(Text(part) if isinstance(part, str) else Math(tex(part)) for part in phrase)


def _names_in(derivation: Derivation, equations: Iterable[Equation]) -> list[sp.Symbol]:
    """The model's names an equation shows: its own two first, then the rest in declaration order."""
    order = derivation.model.order
    first: list[sp.Symbol] = []
    rest: set[sp.Symbol] = set()
    for eq in equations:
        first += [s for s in (eq.of, eq.wrt) if s not in first]
        for form in (eq.chain, eq.unsimplified, eq.result):
            if form is not None:
                rest |= {s for s in form.free_symbols if s in order}
    return first + sorted(rest - set(first), key=order.__getitem__)


def _notes(derivation: Derivation, symbols: Iterable[sp.Symbol], tex: Tex) -> tuple[tuple[Inline, ...], ...]:
    notes = []
    for sym in symbols:
        note = derivation.model.note(sym)
        if note:
            notes.append((Math(tex(sym)), Text(f": {note}")))
    return tuple(notes)
