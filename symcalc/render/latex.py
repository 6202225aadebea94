"""LaTeX for a derivation: a SymPy `LatexPrinter` that prints our equations too, TeX escaping, and the writer.

The writer lays out `symcalc.render.document.outline` (the same blocks the
Markdown writer lays out) as a LaTeX document, each display in ``align*``
aligned on ``=``. Free text (the title, notes, step titles) is escaped here;
maths is printed by `SymcalcLatexPrinter` from the steps themselves, never
recomputed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import sympy as sp
from sympy.printing.conventions import split_super_sub
from sympy.printing.latex import LatexPrinter, translate

from symcalc.numeric.curves import figures
from symcalc.render.document import Block, Display, Heading, Inline, Math, Paragraph, outline
from symcalc.render.figures import legend, picture
from symcalc.render.text import printable
from symcalc.render.views import Views
from symcalc.spec.names import NAME_PATTERN
from symcalc.spec.shapes import bracketed
from symcalc.symbolic.entries import entries_named, entry, latex_entry
from symcalc.symbolic.order import PositiveFirst
from symcalc.symbolic.steps import Derivation, Equation, Step, Update

# -- the printer ----------------------------------------------------------------------------


class SymcalcLatexPrinter(PositiveFirst, LatexPrinter):
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
        found = entry(expr)
        if found is not None:  # an entry of a bracketed name, \left(W_{1}\right)_{1 2}, or with a long index
            return latex_entry(found[0], self._print(sp.Symbol(found[0])), found[1])
        tex = str(super()._print_Symbol(expr, style=style))
        if r"\mathscr{" in tex or r"\mathfrak{" in tex:
            # These need mathrsfs / amssymb, which the document does not load: set the name as a word.
            return rf"\mathit{{{escape_latex(expr.name)}}}"
        base = split_super_sub(expr.name)[0]
        if len(base) > 1 and translate(base) == base and tex.startswith(base):
            # Several letters that are one name (lam, pred) are set as a word: l·a·m is a product.
            tex = rf"\mathit{{{base}}}" + tex[len(base) :]
        return tex

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        """W_{ij} and (dL/ds)_{i}: an entry as a lecture writes it."""
        label = expr.base.label
        base = self._print(label)
        if isinstance(label, sp.Symbol) and bracketed(
            label.name
        ):  # W1 or an adjoint dL/ds: \left(W_{1}\right)_{ij}
            base = rf"\left({base}\right)"
        return f"{base}_{{{''.join(self._print(i) for i in expr.indices)}}}"

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
    space, control and format characters are dropped (`printable`, then every
    other format character too), and non-ASCII characters are replaced by an
    ASCII spelling or "?". Long text is broken into lines that TeX can read.
    """
    pieces: list[str] = []
    for char in printable(text):
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


def render_latex(
    derivation: Derivation, *, body_only: bool = False, compact: bool = False, views: Views | None = None
) -> str:
    """The derivation as a standalone LaTeX document, or only its body for an existing document.

    The body starts with a ``\\section*`` holding the title, its parts are
    ``\\subsection*``; the standalone document sets the title in a centred line and its
    parts as ``\\section*``.
    """
    blocks = outline(derivation, SymcalcLatexPrinter()._print, compact, views)
    if body_only:
        return "".join(_block(b, offset=1) for b in blocks) + _pictures(derivation, offset=1)
    title, rest = blocks[0], blocks[1:]
    assert isinstance(title, Heading)
    # Not \\maketitle: with no author or date it leaves half a page empty above the maths.
    heading = f"{{\\centering\\LARGE\\bfseries {_inline(title.parts)}\\par}}\n\n"
    body = "".join(_block(b, offset=0) for b in rest) + _pictures(derivation, offset=0)
    return PREAMBLE + "\n\\begin{document}\n\n" + heading + body + "\\end{document}\n"


def _pictures(derivation: Derivation, offset: int) -> str:
    """The web page's pictures (`symcalc.render.figures`), drawn in LaTeX's picture environment."""
    drawn = figures(derivation)
    if not drawn:
        return ""
    section = "\\subsection*" if offset else "\\section*"
    parts = [f"{section}{{Pictures}}\n\n"]
    for figure in drawn:
        parts.append(
            "\\begin{center}\n" + picture(figure, escape_latex) + "\\\\[2pt]\n"
            f"{{\\small {escape_latex(figure.caption)} ({escape_latex(legend(figure))})}}\n"
            "\\end{center}\n\n"
        )
    return "".join(parts)


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


@entries_named
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
