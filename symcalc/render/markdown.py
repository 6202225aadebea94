"""Markdown for a derivation: the document's outline, with ``$…$`` and ``$$…$$`` maths for GitHub and Jupyter.

The content is `symcalc.render.document.outline`, as for LaTeX, so the two
documents never drift apart; only the layout and the escaping of free text
differ. Display maths is an ``aligned`` environment inside ``$$`` lines of
their own, which both GitHub and Jupyter (MathJax) render.
"""

from __future__ import annotations

from collections.abc import Iterable

from symcalc.render.document import Block, Display, Heading, Inline, Math, Paragraph, Text, inlines, outline
from symcalc.render.latex import SymcalcLatexPrinter
from symcalc.render.text import printable
from symcalc.render.views import Views
from symcalc.render.wording import step_title_parts
from symcalc.symbolic.steps import Derivation, Step

# Characters that would start emphasis, code, a table cell or close a heading: a backslash
# makes them literal.
_BACKSLASHED = set("`*_~|#")
# Characters that would start HTML, a link or maths. Backslash escapes are not enough for
# these: Jupyter reads \\( and \\[ as maths delimiters, so they become character references.
_ENTITIES = {
    "\\": "&#92;",
    "$": "&#36;",
    "[": "&#91;",
    "]": "&#93;",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
}


def escape_markdown(text: str) -> str:
    """`text` as Markdown that shows it literally, never as markup, maths or a control character
    (`printable`); whitespace is one space.

    Free text never starts a line in our documents, so the line-start markers
    (``#``, ``-``, ``1.``) need no escape.
    """
    return "".join(
        _ENTITIES.get(char) or ("\\" + char if char in _BACKSLASHED else char) for char in printable(text)
    )


def _inline(parts: Iterable[Inline]) -> str:
    return "".join(
        f"${part.tex}$" if isinstance(part, Math) else escape_markdown(part.text) for part in parts
    )


def display(rows: Iterable[str]) -> str:
    """Display maths: ``$$`` on lines of their own around one ``aligned`` environment."""
    return "$$\n\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}\n$$"


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return "#" * (block.level + 1) + " " + _inline(block.parts)
    if isinstance(block, Paragraph):
        text = _inline(block.parts)
        return f"*{text}*" if block.emphasis else text
    if isinstance(block, Display):
        return display(block.rows)
    return "\n".join(
        (f"{i}. " if block.numbered else "- ") + _inline(item) for i, item in enumerate(block.items, start=1)
    )


def render_markdown(derivation: Derivation, compact: bool = False, views: Views | None = None) -> str:
    """The derivation as a Markdown document, blocks separated by blank lines."""
    return (
        "\n\n".join(_block(b) for b in outline(derivation, SymcalcLatexPrinter()._print, compact, views))
        + "\n"
    )


def step_markdown(step: Step) -> str:
    """One step for a notebook: its title in bold, then its equations."""
    p = SymcalcLatexPrinter()
    title = _inline((Text(f"Step {step.number}: "), *inlines(step_title_parts(step), p._print)))
    return f"**{title}**\n\n" + display(p._print(eq) for eq in step.equations) + "\n"
