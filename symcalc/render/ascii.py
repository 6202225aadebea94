"""Output for a stream that cannot encode the maths (a Windows console, cp1252): ASCII, never a crash.

`encodes(stream)` tells whether a stream takes symcalc's characters. Where it does not,
`register()` installs the codec error handler "symcalc-ascii", which writes each character
the stream cannot take as its ASCII spelling (σ as sigmoid, ∂ as "partial ", ⋅ as *, ✓ as +), and
"?" for any other; renderers also draw their maths in SymPy's ASCII forms then
(`render.pretty.set_ascii`), so that multi-line formulas stay aligned.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import Any, TextIO

#: The characters symcalc prints beyond ASCII, spelled in ASCII.
SPELLINGS = {
    "σ": "sigmoid",
    "∂": "partial ",  # ∂a/∂z as "partial a/partial z", the claims' own ASCII form; d stays d
    "⋅": "*",
    "⊙": "o",  # the entrywise product, u ⊙ v as u o v (a ring, as ∘ is written for it)
    "α": "alpha",
    "η": "eta",
    "λ": "lambda",
    "ᵀ": "^T",
    "𝟙": "1",
    "✓": "+",
    "✗": "x",
    "•": "*",
    "·": "*",
    "…": "...",
    "—": "-",
    "–": "-",
    "−": "-",
    "→": "->",
    "≥": ">=",
    "≤": "<=",
    "≈": "~",
    "×": "x",
    "²": "^2",
    "³": "^3",
    "¹": "^1",
    "ᵢ": "_i",
    "ⱼ": "_j",
    "ₖ": "_k",
    "₀": "0",
    "₁": "1",
    "₂": "2",
    "₃": "3",
    "₄": "4",
    "₅": "5",
    "₆": "6",
    "₇": "7",
    "₈": "8",
    "₉": "9",
    "Σ": "sum",
    "⁽": "[",  # a value at sample k, a⁽ᵏ⁾, as a[k]
    "ᵏ": "k",
    "⁾": "]",
}
#: Characters whose absence from a stream's encoding means it cannot show symcalc's maths.
PROBE = "σ∂⋅✓"
HANDLER = "symcalc-ascii"
#: The narrowest `fitted` lays anything out at.
MIN_WIDTH = 30


def encodes(stream: TextIO | Any) -> bool:
    """Whether `stream` can write symcalc's characters (UTF-8 can; cp1252 and ASCII cannot)."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        PROBE.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _spell(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(SPELLINGS.get(char, "?") for char in bad), error.end


def register() -> None:
    """Install the "symcalc-ascii" codec error handler (once; later calls change nothing)."""
    codecs.register_error(HANDLER, _spell)


def spelled(text: str) -> str:
    """`text` as a stream that cannot encode it writes it: each character beyond ASCII spelled."""
    register()
    return text.encode("ascii", errors=HANDLER).decode("ascii")


#: A terminal's colour and style codes, which take no columns.
_STYLE_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def fitted(render: Callable[[int], str], width: int) -> str:
    """What `render(width)` draws, spelled in ASCII and, where spelling lengthened a line (σ as sigmoid,
    … as ...), drawn again narrower by as much, until no line is wider than `width` (a few rounds);
    then each box is widened to its longest line, so that its right border is one straight line."""
    narrower = width
    for _ in range(4):
        text = spelled(render(narrower))
        widest = max((len(_STYLE_CODES.sub("", line)) for line in text.splitlines()), default=0)
        if widest <= width or narrower <= MIN_WIDTH:
            break
        narrower = max(narrower - (widest - width), MIN_WIDTH)
    return _squared(text)


def _squared(text: str) -> str:
    """`text` with each box (a run of lines that start and end with a border, + or |) as wide as
    its longest line: a border line gets more '-' and any other line more ' ' before its last
    character, where spelling left it shorter than a line the box holds."""
    lines = text.split("\n")
    edges = [_edge(line) for line in lines]
    start = 0
    while start < len(lines):
        if edges[start] is None:
            start += 1
            continue
        end = start
        while end < len(lines) and edges[end] is not None:
            end += 1
        box = max(len(_STYLE_CODES.sub("", line.rstrip())) for line in lines[start:end])
        for index in range(start, end):
            lines[index] = _widened(lines[index].rstrip(), box)
        start = end
    return "\n".join(lines)


def _edge(line: str) -> str | None:
    """The border character a line of a box ends with (+ for a border line, | for the others), or None."""
    bare = _STYLE_CODES.sub("", line).rstrip()
    if len(bare) > 1 and bare[0] in "+|" and bare[-1] in "+|":
        return bare[-1]
    return None


def _widened(line: str, box: int) -> str:
    """`line` (of a box) made `box` columns wide before its last character: '-' within a border
    (+----+, |----+----|), else ' '."""
    bare = _STYLE_CODES.sub("", line)
    short = box - len(bare)
    if short <= 0:
        return line
    last = line.rfind(bare[-1])
    fill = "-" if bare[-2] == "-" else " "
    return line[:last] + fill * short + line[last:]


def plain(stream: TextIO | Any) -> None:
    """Make `stream` write what it cannot encode in ASCII spellings instead of raising."""
    if encodes(stream) or not hasattr(stream, "reconfigure"):
        return
    register()
    stream.reconfigure(errors=HANDLER)
