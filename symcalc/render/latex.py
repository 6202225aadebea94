"""LaTeX for a derivation: a SymPy `LatexPrinter` that prints our equations too, and the document around them.

The document follows the seed page: objective, model, an overview of the steps,
one section per step (each equation's forms in ``align*``, aligned on ``=``),
and the gradient-descent updates. Its structure is built once, as a list of
blocks (`outline`), so the Markdown renderer lays out exactly the same content.
Free text (the title, notes, step titles) is escaped by each writer; maths is
printed by `SymcalcLatexPrinter` from the steps themselves, never recomputed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.printing.conventions import split_super_sub
from sympy.printing.latex import LatexPrinter, translate

from symcalc.spec.names import NAME_PATTERN
from symcalc.symbolic.notation import Sum, Total
from symcalc.symbolic.steps import Derivation, Equation, LocalDerivatives, Recognition, Step, Update

# -- the printer ----------------------------------------------------------------------------


class SymcalcLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer, plus rows of ``align*`` for our equations and updates.

    `Partial`, `Product`, `Sum` and `sigmoid` print themselves through their
    ``_latex`` hooks, which call back into this printer for their arguments.
    """

    printmethod = "_latex"

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        # Declared names are validated, so SymPy's own rendering is safe TeX. A symbol
        # built some other way is shown as escaped text instead of trusted.
        if not NAME_PATTERN.fullmatch(expr.name):
            return rf"\text{{{escape_latex(expr.name)}}}"
        tex = str(super()._print_Symbol(expr, style=style))
        if r"\mathscr{" in tex or r"\mathfrak{" in tex:
            # These need mathrsfs / amssymb, which the document does not load: set the name as a word.
            return rf"\mathit{{{escape_latex(expr.name)}}}"
        base = split_super_sub(expr.name)[0]
        if len(base) > 1 and translate(base) == base and tex.startswith(base):
            # Several letters that are one name (lam, pred) are set as a word: l·a·m is a product.
            tex = rf"\mathit{{{base}}}" + tex[len(base) :]
        return tex

    def _print_log(self, expr: sp.log, exp: Any = None) -> str:
        # \log\left(a\right) as printed by hand, rather than SymPy's \log{\left(a \right)}.
        power = f"^{{{exp}}}" if exp else ""
        return rf"\log{power}\left({self._print(expr.args[0])}\right)"

    def _print_Equation(self, equation: Equation) -> str:
        """``lhs &= chain \\ &= unsimplified \\ &= result``: each form on its own line."""
        forms = [f for f in (equation.chain, equation.unsimplified) if f is not None]
        forms.append(equation.result)
        lhs = self._print(equation.lhs)
        rows = [f"{lhs} &= {self._print(forms[0])}"] + [f"&= {self._print(form)}" for form in forms[1:]]
        return " \\\\\n".join(rows)

    def _print_Update(self, update: Update) -> str:
        return f"{self._print(update.parameter)} &:= {self._print(update.rule)}"


def latex(expr: Any) -> str:
    """One expression (or Equation, or Update) in LaTeX, as this project prints it."""
    return str(SymcalcLatexPrinter().doprint(expr))


# -- free text ------------------------------------------------------------------------------

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "_": r"\_",
    # Upright \$ comes from the TS1 font, which a basic TeX Live has only as METAFONT source.
    "$": r"\ensuremath{\$}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # In the default OT1 encoding these print as other glyphs (¡ ¿ —), so set them as maths.
    "<": r"\ensuremath{<}",
    ">": r"\ensuremath{>}",
    "|": r"\ensuremath{|}",
    # Braced so that text after \\ or \item is never read as an optional argument.
    "[": "{[}",
    "]": "{]}",
}

# Non-ASCII characters that pdflatex's default inputenc would reject; anything not here
# and not reducible to ASCII by dropping accents becomes "?".
_UNICODE = {
    "\u2013": "--",
    "\u2014": "---",
    "\u2018": "`",
    "\u2019": "'",
    "\u201c": "``",
    "\u201d": "''",
    "\u2026": r"\ldots{}",
    "\u00d7": r"\ensuremath{\times}",
    "\u00b7": r"\ensuremath{\cdot}",
    "\u2212": "-",
    "\u2264": r"\ensuremath{\leq}",
    "\u2265": r"\ensuremath{\geq}",
    "\u2192": r"\ensuremath{\to}",
    "\u2202": r"\ensuremath{\partial}",
    "\u2207": r"\ensuremath{\nabla}",
    "\u221e": r"\ensuremath{\infty}",
    "\u00b0": r"\ensuremath{^\circ}",
}
# Greek letters by their Unicode names (which spell lambda "LAMDA"); capitals that look
# Latin have no LaTeX macro (\Alpha does not exist), so they become the Latin letter.
_GREEK_LETTERS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lamda mu nu xi pi rho sigma"
_GREEK = {
    name: name.replace("lamda", "lambda")
    for name in f"{_GREEK_LETTERS} tau upsilon phi chi psi omega".split()
}
_GREEK_CAPITALS = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}
_LATIN_LOOKALIKES = {"Alpha": "A", "Beta": "B", "Epsilon": "E", "Zeta": "Z", "Eta": "H", "Iota": "I"}
_LATIN_LOOKALIKES |= {"Kappa": "K", "Mu": "M", "Nu": "N", "Rho": "P", "Tau": "T", "Chi": "X"}
MAX_LINE = 200  # characters per line of escaped text; TeX refuses lines longer than its buffer


def _unicode_latex(char: str) -> str:
    if char in _UNICODE:
        return _UNICODE[char]
    greek = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER ([A-Z]+)", unicodedata.name(char, ""))
    if greek and greek[2].lower() in _GREEK:
        letter = _GREEK[greek[2].lower()]
        if greek[1] == "SMALL":
            return rf"\ensuremath{{\{letter}}}"
        letter = letter.capitalize()
        return rf"\ensuremath{{\{letter}}}" if letter in _GREEK_CAPITALS else _LATIN_LOOKALIKES[letter]
    # Accented Latin letters lose their accents (é -> e, ﬁ -> fi); anything else is unknown to
    # pdflatex. Only accents are dropped, so ½ (1⁄2) is "?", not "12".
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base.isascii() and base.isalnum() else "?"


def escape_latex(text: str) -> str:
    """`text` as LaTeX that prints it literally, whatever it contains.

    Every character TeX treats specially is escaped, whitespace (newlines
    included, which could end a paragraph inside a macro argument) becomes one
    space, control characters are dropped, and non-ASCII characters are
    replaced by an ASCII spelling or "?". Long text is broken into lines that
    TeX can read.
    """
    pieces: list[str] = []
    for char in text:
        if char in _SPECIALS:
            pieces.append(_SPECIALS[char])
        elif char.isspace():
            if not pieces or pieces[-1] != " ":
                pieces.append(" ")
        elif " " < char < "\x7f":
            pieces.append(char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue  # control, format and unassigned characters carry nothing printable
        else:
            pieces.append(_unicode_latex(char))
    return _break_lines(pieces)


def _break_lines(pieces: list[str]) -> str:
    """Pieces joined into lines of about MAX_LINE characters, never splitting a piece."""
    lines, current = [], ""
    for piece in pieces:
        if len(current) >= MAX_LINE:
            lines.append(current if piece == " " else current + "%")  # "%" joins without a space
            current = ""
            if piece == " ":
                continue  # the line break is the space
        current += piece
    lines.append(current)
    return "\n".join(lines)


# -- the document's structure, shared with the Markdown renderer ------------------------------


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


def outline(derivation: Derivation, printer: SymcalcLatexPrinter | None = None) -> list[Block]:
    """The whole document as blocks: what both the LaTeX and the Markdown writers lay out."""
    p = printer or SymcalcLatexPrinter()
    model = derivation.model
    names = {sym.name: p._print(sym) for sym in model.symbols.values()}
    blocks: list[Block] = [Heading(0, (Text(derivation.title or "Derivation"),))]
    blocks += _alike(names)
    blocks += _objective(derivation, p)
    blocks += _model_section(derivation, p)
    blocks += _overview(derivation, p, names)
    for step in derivation.steps:
        blocks += _step_section(derivation, step, p, names)
    blocks += _updates_section(derivation, p)
    blocks += _insights_section(derivation, p)
    return blocks


_SLOT = re.compile(r"\{(\d+)\}")


def _insights_section(derivation: Derivation, p: SymcalcLatexPrinter) -> list[Block]:
    """The checked "Key insights": each template's slots set as maths."""
    if not derivation.insights:
        return []
    items = []
    for insight in derivation.insights:
        parts: list[Inline] = []
        start = 0
        for match in _SLOT.finditer(insight.template):
            if match.start() > start:
                parts.append(Text(insight.template[start : match.start()]))
            parts.append(Math(p._print(insight.expressions[int(match.group(1))])))
            start = match.end()
        if start < len(insight.template):
            parts.append(Text(insight.template[start:]))
        items.append(tuple(parts))
    return [Heading(1, (Text("Key insights"),)), Items(tuple(items))]


def _equation_tex(text: str, derivation: Derivation, p: SymcalcLatexPrinter) -> str:
    """An assumption "y1 + y2 + y3 = 1" typeset from the model's parsed form (lhs − rhs = 0)."""
    expr = dict(derivation.model.assumptions)[text]
    return f"{p._print(expr)} = 0"


def _alike(names: dict[str, str]) -> list[Block]:
    """A warning for each group of names that print the same (x1 and x_1 are both x_{1})."""
    groups: dict[str, list[str]] = {}
    for name, tex in names.items():
        groups.setdefault(tex, []).append(name)
    blocks: list[Block] = []
    for tex, group in groups.items():
        if len(group) > 1:
            which = f"{group[0]} and {group[1]} both" if len(group) == 2 else f"{', '.join(group)} all"
            warning = (Text(f"Warning: the names {which} print as "), Math(tex), Text("; rename one."))
            blocks.append(Paragraph(warning, emphasis=True))
    return blocks


def _objective(derivation: Derivation, p: SymcalcLatexPrinter) -> list[Block]:
    loss, params = derivation.loss, derivation.model.parameters
    plural = "parameters" if len(params) != 1 else "parameter"
    unknowns = [rf"{p._print(Total(loss, x))} = \,?" for x in params]
    return [
        Heading(1, (Text("Objective"),)),
        Paragraph(
            (
                Text("Calculate the derivatives of the loss "),
                Math(p._print(loss)),
                Text(f" with respect to the {plural} "),
                *_join_math([p._print(x) for x in params]),
                Text(", then update each parameter by gradient descent to make the loss smaller."),
            )
        ),
        Display(tuple(r",\qquad ".join(row) for row in _rows(unknowns, 3))),
    ]


def _model_section(derivation: Derivation, p: SymcalcLatexPrinter) -> list[Block]:
    model = derivation.model
    blocks: list[Block] = [
        Heading(1, (Text("The model"),)),
        Paragraph((Text("Each name is defined from the names before it:"),)),
        Display(tuple(f"{p._print(sym)} &= {p._print(expr)}" for sym, expr in model.definitions)),
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
            items.append((Math(p._print(sym)), Text(f" ({role_text})" + (f": {note}" if note else ""))))
    if items:
        blocks += [Paragraph((Text("Names:"),)), Items(tuple(items))]
    return blocks


def _overview(derivation: Derivation, p: SymcalcLatexPrinter, names: dict[str, str]) -> list[Block]:
    items = []
    for step in derivation.steps:
        results = [f"{p._print(eq.lhs)} = {p._print(eq.result)}" for eq in step.equations]
        if isinstance(step, Recognition) and step.node is not None:
            results = [f"{p._print(step.node)} = {p._print(step.named)}"]
        parts: list[Inline] = [*mixed(step.title, _step_names(step, names))]
        if results:
            parts += [Text(": "), *_join_math(results, last=", ")]
        items.append(tuple(parts))
    return [Heading(1, (Text("Calculation steps overview"),)), Items(tuple(items), numbered=True)]


def _step_section(
    derivation: Derivation, step: Step, p: SymcalcLatexPrinter, names: dict[str, str]
) -> list[Block]:
    local = _step_names(step, names)
    total = len(derivation.steps)
    rule = step.rule[:1].upper() + step.rule[1:] + "."
    blocks: list[Block] = [
        Heading(1, (Text(f"Step {step.number} of {total}: "), *mixed(step.title, local))),
        Paragraph(mixed(rule, local), emphasis=True),
    ]
    if isinstance(step, LocalDerivatives) and step.node is not None:
        definition = derivation.model.definition_map[step.node]
        blocks.append(
            Paragraph((Text("Definition: "), Math(f"{p._print(step.node)} = {p._print(definition)}")))
        )
    if isinstance(step, Recognition) and step.node is not None:
        forms = (step.node, step.written, step.named)
        blocks.append(Display((" = ".join(p._print(form) for form in forms),)))
    else:
        blocks.append(Display(tuple(p._print(eq) for eq in step.equations)))
    using = sorted({text for eq in step.equations for text in eq.using})
    if using:
        blocks.append(
            Paragraph(
                (
                    Text("The simplification uses the file's assumption "),
                    *_join_math([_equation_tex(text, derivation, p) for text in using]),
                    Text("."),
                )
            )
        )
    notes = _notes(derivation, _names_in(derivation, step.equations), p)
    if notes:
        blocks += [Paragraph((Text("where"),)), Items(notes)]
    return blocks


def _updates_section(derivation: Derivation, p: SymcalcLatexPrinter) -> list[Block]:
    loss, rate = derivation.loss, derivation.learning_rate
    general = tuple(
        f"{p._print(u.parameter)} &:= {p._print(Sum(u.parameter, -rate * Total(loss, u.parameter)))}"
        for u in derivation.updates
    )
    return [
        Heading(1, (Text("Usage in gradient descent"),)),
        Paragraph(
            (
                Text("Move each parameter against its gradient. The learning rate "),
                Math(p._print(rate)),
                Text(" sets the step size, and "),
                Math(":="),
                Text(" means assignment:"),
            )
        ),
        Display(general),
        Paragraph((Text("With the derivatives found above, the update rules are:"),)),
        Display(tuple(p._print(u) for u in derivation.updates)),
    ]


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


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def mixed(text: str, names: dict[str, str]) -> tuple[Inline, ...]:
    """`text` with each whole word that is one of `names` set as maths: "of $w_{1}$"."""
    parts: list[Inline] = []
    start = 0
    for match in _WORD.finditer(text):
        tex = names.get(match.group())
        if tex is None:
            continue
        if match.start() > start:
            parts.append(Text(text[start : match.start()]))
        parts.append(Math(tex))
        start = match.end()
    if start < len(text):
        parts.append(Text(text[start:]))
    return tuple(parts)


def _step_names(step: Step, names: dict[str, str]) -> dict[str, str]:
    # Only the names this step is about are set as maths, so that an English word in a
    # title is never mistaken for a model's name elsewhere in the document.
    about = {eq.of.name for eq in step.equations} | {eq.wrt.name for eq in step.equations}
    if step.node is not None:
        about.add(step.node.name)
    return {name: tex for name, tex in names.items() if name in about}


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


def _notes(
    derivation: Derivation, symbols: Iterable[sp.Symbol], p: SymcalcLatexPrinter
) -> tuple[tuple[Inline, ...], ...]:
    notes = []
    for sym in symbols:
        note = derivation.model.note(sym)
        if note:
            notes.append((Math(p._print(sym)), Text(f": {note}")))
    return tuple(notes)


# -- the LaTeX writer -----------------------------------------------------------------------

PREAMBLE = r"""% Written by symcalc. Compiles with pdflatex (packages: amsmath, amssymb, geometry).
\documentclass[11pt]{article}
\usepackage[a4paper,margin=2.5cm]{geometry}
\usepackage{amsmath}
\usepackage{amssymb}
% The step function relu' is written with, 1[s > 0], is \mathbb{1}[s > 0]. amsfonts has no
% double-struck digits (its \mathbb{1} is another glyph), so a 1 is drawn as two overlapping 1s.
\let\symcalcmathbb\mathbb
\renewcommand{\mathbb}[1]{\ifx1#1\mathrm{1\mkern-4.5mu1}\else\symcalcmathbb{#1}\fi}
\allowdisplaybreaks
\setlength{\jot}{6pt}  % room between rows of stacked fractions
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6\baselineskip}
% A maths bullet: the default text bullet needs a TS1 font that basic TeX Live lacks.
\renewcommand{\labelitemi}{$\bullet$}
"""


def render_latex(derivation: Derivation, *, body_only: bool = False) -> str:
    """The derivation as a standalone LaTeX document, or only its body for an existing document.

    The body starts with a ``\\section*`` holding the title, its parts are
    ``\\subsection*``; the standalone document sets the title in a centred line and its
    parts as ``\\section*``.
    """
    blocks = outline(derivation)
    if body_only:
        return "".join(_block(b, offset=1) for b in blocks)
    title, rest = blocks[0], blocks[1:]
    assert isinstance(title, Heading)
    # Not \\maketitle: with no author or date it leaves half a page empty above the maths.
    heading = f"{{\\centering\\LARGE\\bfseries {_inline(title.parts)}\\par}}\n\n"
    body = "".join(_block(b, offset=0) for b in rest)
    return PREAMBLE + "\n\\begin{document}\n\n" + heading + body + "\\end{document}\n"


def _inline(parts: Iterable[Inline]) -> str:
    return "".join(f"${part.tex}$" if isinstance(part, Math) else escape_latex(part.text) for part in parts)


def _block(block: Block, offset: int) -> str:
    if isinstance(block, Heading):
        command = ("section", "subsection", "subsubsection")[min(block.level - 1 + offset, 2)]
        return f"\\{command}*{{{_inline(block.parts)}}}\n\n"
    if isinstance(block, Paragraph):
        text = _inline(block.parts)
        return (f"\\emph{{{text}}}" if block.emphasis else text) + "\n\n"
    if isinstance(block, Display):
        return "\\begin{align*}\n" + " \\\\\n".join(block.rows) + "\n\\end{align*}\n\n"
    environment = "enumerate" if block.numbered else "itemize"
    items = "".join(f"  \\item {_inline(item)}\n" for item in block.items)
    tight = "\\setlength{\\itemsep}{0pt}\\setlength{\\parskip}{0pt}\n"  # local to the list
    return f"\\begin{{{environment}}}{tight}{items}\\end{{{environment}}}\n\n"


# -- notebooks ------------------------------------------------------------------------------


def aligned(rows: Iterable[str]) -> str:
    r"""Rows in one ``aligned`` environment, wrapped as inline display maths (``$\displaystyle …$``)."""
    return "$\\displaystyle \\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$"


def step_latex(step: Step) -> str:
    """A step's equations for Jupyter's text/latex: maths only, so no free text needs escaping."""
    p = SymcalcLatexPrinter()
    return aligned(p._print(eq) for eq in step.equations)


def derivation_latex(derivation: Derivation) -> str:
    """Every step's equations and the updates for Jupyter's text/latex, with a label per step."""
    p = SymcalcLatexPrinter()
    total = len(derivation.steps)
    rows: list[str] = []
    for step in derivation.steps:
        # The label is built from numbers only: free text inside \text{} is read differently
        # by LaTeX and by MathJax, so no escaping would suit both.
        rows.append(rf"&\text{{Step {step.number} of {total}}}")
        rows += [p._print(eq) for eq in step.equations]
    rows.append(r"&\text{Gradient descent}")
    rows += [p._print(u) for u in derivation.updates]
    return aligned(rows)
