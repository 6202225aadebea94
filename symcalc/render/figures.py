"""Pictures of a derivation, drawn: the curves `symcalc.numeric.curves` computes (each activation beside
its local derivative, the loss against the prediction for each label) as inline SVG for the web page
(`svg`) and in LaTeX's picture environment for the PDF (`picture`). Nothing here draws with
matplotlib, so the page needs no optional package. Labels are escaped.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable

from symcalc.numeric.curves import Figure

WIDTH, HEIGHT, MARGIN = 320, 200, 28
COLOURS = ("#1f5fa8", "#c0392b")


def svg(figure: Figure) -> str:
    """The figure as inline SVG: axes through 0, a legend, the marks as dots with their values."""
    at = figure.scaled(WIDTH, HEIGHT, MARGIN)
    left, right, _, _ = figure.box

    def point(x: float, y: float) -> tuple[float, float]:
        px, py = at(x, y)
        return px, HEIGHT - py  # SVG's y runs down

    x0, y0 = point(0.0, 0.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" font-family="sans-serif" font-size="11">',
        f'<line x1="{MARGIN}" y1="{y0:.1f}" x2="{WIDTH - MARGIN}" y2="{y0:.1f}" stroke="#888"/>',
    ]
    if left <= 0 <= right:
        parts.append(
            f'<line x1="{x0:.1f}" y1="{MARGIN}" x2="{x0:.1f}" y2="{HEIGHT - MARGIN}" stroke="#888"/>'
        )
    for row, ((label, values), colour) in enumerate(zip(figure.curves, COLOURS, strict=False)):
        points = " ".join("{:.1f},{:.1f}".format(*point(x, y)) for x, y in figure.finite(values))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts.append(
            f'<text x="{MARGIN + 4}" y="{14 + 13 * row}" fill="{colour}">{html.escape(label)}</text>'
        )
    for x, y in figure.marks:
        px, py = point(x, y)
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="#222"/>')
        parts.append(f'<text x="{px + 6:.1f}" y="{py - 6:.1f}">({x:g}, {y:g})</text>')
    label = html.escape(figure.x_label)
    parts.append(f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - 8}" text-anchor="end">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def picture(figure: Figure, escape: Callable[[str], str]) -> str:
    """The figure in LaTeX's own picture environment (no package: straight \\qbezier segments), for the PDF;
    the first curve thick, the second thin (`legend` says which is which); `escape` makes labels LaTeX."""
    width, height, margin = 240.0, 150.0, 12.0
    at = figure.scaled(width, height, margin)
    left, right, _, _ = figure.box
    x0, y0 = at(0.0, 0.0)
    lines = [f"\\setlength{{\\unitlength}}{{0.6pt}}\\begin{{picture}}({width:.0f},{height:.0f})"]
    lines.append(f"\\qbezier({margin:.1f},{y0:.1f})({width / 2:.1f},{y0:.1f})({width - margin:.1f},{y0:.1f})")
    if left <= 0 <= right:
        lines.append(
            f"\\qbezier({x0:.1f},{margin:.1f})({x0:.1f},{height / 2:.1f})({x0:.1f},{height - margin:.1f})"
        )
    for row, (_, values) in enumerate(figure.curves):
        points = [at(x, y) for x, y in figure.finite(values)[::4]]
        style = "\\thicklines" if row == 0 else "\\thinlines"
        lines.append(style)
        for (ax, ay), (bx, by) in itertools.pairwise(points):
            lines.append(
                f"\\qbezier({ax:.1f},{ay:.1f})({(ax + bx) / 2:.1f},{(ay + by) / 2:.1f})({bx:.1f},{by:.1f})"
            )
    for x, y in figure.marks:
        px, py = at(x, y)
        lines.append(f"\\put({px:.1f},{py:.1f}){{\\circle*{{4}}}}")
        lines.append(f"\\put({px + 4:.1f},{py + 4:.1f}){{\\small $({x:g}, {y:g})$}}")
    label = f"\\makebox(0,0)[r]{{\\small {escape(figure.x_label)}}}"
    lines.append(f"\\put({width - margin:.1f},{max(y0 - 10, 0):.1f}){{{label}}}")
    lines.append("\\end{picture}")
    return "\n".join(lines)


def legend(figure: Figure) -> str:
    """Which curve of a LaTeX picture is which: "thick: a = sigmoid(z); thin: ∂a/∂z = a*(1 - a)"."""
    pairs = zip(("thick", "thin"), figure.curves, strict=False)
    return "; ".join(f"{weight}: {label}" for weight, (label, _) in pairs)
