"""`symcalc check-work --html`: a person's derivation as a page, each `=` typeset and marked ✓ or ✗.

Only maths the LaTeX reader accepted reaches the page (a line it refuses stops the run), and it is
HTML-escaped and typeset by KaTeX in the browser, which runs no macros it is given; the page is
self-contained and its content security policy lets nothing load.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from symcalc.check.records import Check
from symcalc.render.checks import counterexample_lines, summary
from symcalc.render.html import _STYLE, POLICY, _katex, escape

_MARKS = {"holds": ("✓", "holds"), "fails": ("✗", "fails"), "undecided": ("?", "fails")}
_RENDER = """
document.querySelectorAll(".math").forEach(function (node) {
  katex.render(node.textContent, node, {displayMode: true, throwOnError: false, trust: false});
});
"""


def render_work_page(source: str, title: str, checks: Sequence[Check]) -> str:
    """The page: the model's title, the derivation's file, then each `=` with its verdict."""
    rows = []
    for check in checks:
        mark, style = _MARKS[check.status]
        detail = check.detail
        if check.counterexample is not None:
            detail += "".join(f"\n  {line}" for line in counterexample_lines(check.counterexample))
        rows.append(
            f'<section class="card"><h2 class="{style}">{mark} {escape(check.name)}</h2>'
            f'<div class="math">{html.escape(check.statement)}</div>'
            f'<p class="detail">{"<br>".join(escape(part) for part in detail.splitlines())}</p></section>'
        )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(source)}</title>",
            f"<style>{_katex('katex.min.css')}</style>",
            f"<style>{_STYLE} .detail {{ font-family: ui-monospace, monospace; font-size: 85%; }}</style>",
            "</head>",
            "<body>",
            f"<h1>{escape(source)}</h1>",
            f"<p>Checked against: {escape(title)}. {escape(summary(checks))}</p>",
            *rows,
            f"<script>{_katex('katex.min.js')}</script>",
            f"<script>{_RENDER}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )
