"""A derivation as one self-contained web page: the document's outline as cards, its maths typeset by KaTeX.

The content is `symcalc.render.document.outline`, as for LaTeX and Markdown, so the three never
drift apart; each step is a card that folds (`<details>`), and the page ends with the
verification table and pictures of the activations and the loss (`symcalc.render.figures`).
The maths is the LaTeX the PDF compiles, typeset in the browser by KaTeX 0.16 (MIT), whose
script, style sheet and fonts (woff2, as data URIs) are inline: nothing is fetched when the
page is viewed, and its Content-Security-Policy forbids fetching anything at all. Every piece
of free text (titles, notes, statements) is escaped, so a `<script>` in a title is shown, not run.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources

from symcalc.check.records import Check
from symcalc.numeric.curves import figures
from symcalc.render.checks import STATUS_MARK, failure_lines, how, statement, summary
from symcalc.render.document import Block, Display, Heading, Inline, Items, Math, Paragraph, Text, outline
from symcalc.render.figures import svg
from symcalc.render.latex import SymcalcLatexPrinter
from symcalc.render.text import printable
from symcalc.render.views import Views
from symcalc.symbolic.steps import Derivation

#: No request leaves the page: scripts, styles, fonts and images are inline or data URIs.
POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "font-src data:; img-src data:; base-uri 'none'; form-action 'none'"
)

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 0 auto; padding: 1rem;
       line-height: 1.5; color: #1a1a1a; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin: 0; }
.card { border: 1px solid #ccd; border-radius: 0.5rem; padding: 0.6rem 1rem; margin: 0.8rem 0; }
details > summary { cursor: pointer; }
.display { overflow-x: auto; padding: 0.3rem 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #dde; padding: 0.25rem 0.4rem; text-align: left; vertical-align: top; }
td.statement { font-family: ui-monospace, monospace; word-break: break-word; }
.fails { color: #a00; } .holds { color: #070; }
figure { display: inline-block; margin: 0.5rem; } figcaption { font-size: 0.85rem; text-align: center; }
@media (max-width: 40rem) { body { padding: 0.4rem; } .card { padding: 0.4rem; } figure svg { width: 100%; } }
@media print { details { display: block; } details > summary { list-style: none; }
               .card { break-inside: avoid; border: none; } }
"""

#: Typesets each piece of maths not yet typeset, on the page or anywhere in a notebook (a display
#: shown before the one that holds KaTeX too); without KaTeX, the LaTeX stays as it is written.
_RENDER = """
(function () {
  if (typeof katex === "undefined") { return; }
  document.querySelectorAll(".math:not([data-typeset])").forEach(function (node) {
    var display = node.classList.contains("display");
    katex.render(node.textContent, node, {displayMode: display, throwOnError: false});
    node.setAttribute("data-typeset", "");
  });
})();
"""


@cache
def _katex(name: str) -> str:
    return resources.files("symcalc.render").joinpath("katex", name).read_text(encoding="utf-8")


def escape(text: str) -> str:
    """Free text as HTML that shows it literally: <, >, &, quotes; no control character (`printable`)."""
    return html.escape(printable(text), quote=True)


def _inline(parts: Iterable[Inline]) -> str:
    return "".join(
        f'<span class="math">{html.escape(part.tex)}</span>' if isinstance(part, Math) else escape(part.text)
        for part in parts
    )


def _display(rows: Sequence[str]) -> str:
    tex = "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
    return f'<div class="math display">{html.escape(tex)}</div>'


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        text = _inline(block.parts)
        return f"<p><em>{text}</em></p>" if block.emphasis else f"<p>{text}</p>"
    if isinstance(block, Display):
        return _display(block.rows)
    if isinstance(block, Items):
        tag = "ol" if block.numbered else "ul"
        return f"<{tag}>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + f"</{tag}>"
    raise TypeError(f"no HTML for {type(block).__name__}")  # headings open cards, in `_cards`


def _cards(blocks: Sequence[Block]) -> list[str]:
    """The title, then one card per section; a step's card folds."""
    out: list[str] = []
    open_card = ""
    for block in blocks:
        if isinstance(block, Heading) and block.level == 0:
            out.append(f"<h1>{_inline(block.parts)}</h1>")
            continue
        if isinstance(block, Heading):
            out.append(open_card)
            title = _inline(block.parts)
            first = block.parts[0] if block.parts else None
            if isinstance(first, Text) and first.text.startswith("Step "):
                out.append(f'<details class="card" open><summary><h2>{title}</h2></summary>')
                open_card = "</details>"
            else:
                out.append(f'<section class="card"><h2>{title}</h2>')
                open_card = "</section>"
            continue
        out.append(_block(block))
    out.append(open_card)
    return out


def verification_table(checks: Sequence[Check]) -> str:
    """The verification table: each check, its result, what decided it and the statement checked; then
    what the terminal says under its table of each check that does not hold."""
    rows = "".join(
        f'<tr><td>{escape(c.name)}</td><td class="{"holds" if c.holds else "fails"}">'
        f"{STATUS_MARK[c.status]} {c.status}</td><td>{escape(how(c))}</td>"
        f'<td class="statement">{escape(statement(c))}</td></tr>'
        for c in checks
    )
    header = "<tr><th>check</th><th>result</th><th>decided by</th><th>statement</th></tr>"
    failures = "".join(
        f'<div class="failure"><p><strong>{STATUS_MARK[c.status]} {escape(c.name)}:</strong> '
        f"{escape(statement(c))}</p><ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in failure_lines(c))
        + "</ul></div>"
        for c in checks
        if c.status != "holds"
    )
    return (
        f'<details class="card" open><summary><h2>Verification: {escape(summary(checks))}</h2></summary>'
        f"<table>{header}{rows}</table>{failures}</details>"
    )


def cards_html(
    derivation: Derivation, checks: Sequence[Check] = (), compact: bool = False, views: Views | None = None
) -> str:
    """The page's body: the document as cards, the pictures, and the verification table (if given)."""
    parts = _cards(outline(derivation, SymcalcLatexPrinter()._print, compact, views))
    pictures = figures(derivation)
    if pictures:
        inner = "".join(
            f"<figure>{svg(f)}<figcaption>{escape(f.caption)}</figcaption></figure>" for f in pictures
        )
        parts.append(f'<section class="card"><h2>Pictures</h2>{inner}</section>')
    if checks:
        parts.append(verification_table(checks))
    return "\n".join(p for p in parts if p)


#: Whether this session's notebook holds KaTeX already: an earlier display embedded it (0.64 MB).
_EMBEDDED = [False]


def notebook_html(derivation: Derivation) -> str:
    """The page's cards for Jupyter (`Derivation._repr_html_`). The session's first display embeds
    KaTeX (its style sheet, fonts and script) and typesets every display's maths; later ones only
    call it. Where a notebook is shown without running scripts (or the display holding KaTeX was
    cleared), the maths stays readable as the LaTeX it is written in."""
    cards = cards_html(derivation)
    if _EMBEDDED[0]:
        return f'<div class="symcalc">{cards}<script>{_RENDER}</script></div>'
    _EMBEDDED[0] = True
    return (
        f'<div class="symcalc"><style>{_katex("katex.min.css")}</style>{cards}'
        f"<script>{_katex('katex.min.js')}</script><script>{_RENDER}</script></div>"
    )


def render_html(
    derivation: Derivation, checks: Sequence[Check] = (), compact: bool = False, views: Views | None = None
) -> str:
    """The whole page: self-contained, offline, readable on a phone and printable."""
    title = escape(derivation.title or "Derivation")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{title}</title>",
            f"<style>{_katex('katex.min.css')}</style>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            cards_html(derivation, checks, compact, views),
            f"<script>{_katex('katex.min.js')}</script>",
            f"<script>{_RENDER}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
