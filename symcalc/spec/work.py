"""A person's derivation file (.tex, .md or .txt) → its lines of maths, each with its place in the file.

In LaTeX and Markdown, the lines are those of the display blocks (align, align*, aligned, equation,
gather, $$ … $$, \\[ … \\]), split where LaTeX breaks a line (\\\\); prose around them is not read.
In a .txt file every line that is not empty is maths. Nothing here reads the maths itself
(`symcalc.spec.latex` does), and nothing is evaluated.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from symcalc.errors import Location, SpecError

MAX_WORK = 1_000_000  # characters in one derivation file
MAX_LINES = 2_000  # lines of maths in one file

_BLOCK = re.compile(
    r"\\begin\{(?P<env>align\*?|aligned|equation\*?|gather\*?|gathered|multline\*?)\}(?P<a>.*?)\\end\{(?P=env)\}"
    r"|\$\$(?P<b>.*?)\$\$|\\\[(?P<c>.*?)\\\]",
    re.S,
)
_BREAK = re.compile(r"\\\\(\[[^\]]*\])?")
#: Environments inside a block that only arrange its lines.
_INNER = re.compile(r"\\(begin|end)\{(aligned|gathered|split)\}")


@dataclass(frozen=True)
class WorkLine:
    """One line of maths: its text, the file's line number and the column (1-based) where it starts."""

    text: str
    line: int
    column: int
    #: Where it starts in the file (0-based), for `place`.
    at: int


_KINDS = {".tex": "tex", ".ltx": "tex", ".md": "md", ".markdown": "md", ".txt": "txt"}


def read_work(path: str) -> tuple[str, str, str]:
    """The derivation file at `path` ("-": standard input): its text, its name for messages and its
    kind; SpecError (one line) for a file that cannot be one."""
    if path == "-":
        text = sys.stdin.read(MAX_WORK + 1)
        source = "standard input"
        kind = "tex" if re.search(r"\$\$|\\\[|\\begin\{", text) else "txt"
    else:
        kind = work_kind(path)
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_WORK + 1)
        except OSError as err:
            raise SpecError(f"cannot read it: {err.strerror or err}", Location(path)) from None
        text, source = decoded(raw, path), path
    if len(text) > MAX_WORK:
        raise SpecError(f"more than {MAX_WORK} characters", Location(source))
    return text, source, kind


def work_kind(path: str) -> str:
    """The kind of derivation a file's name says it holds ("tex", "md", "txt"); SpecError for others."""
    kind = _KINDS.get(Path(path).suffix.lower(), "")
    if not kind:
        raise SpecError("a derivation to check is a .tex, .md or .txt file", Location(path))
    return kind


def decoded(raw: bytes, source: str) -> str:
    """The first MAX_WORK + 1 bytes of a derivation file as text; SpecError for bytes that are not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start > MAX_WORK - 4:  # cut inside a character: the file is too long anyway
            raise SpecError(f"more than {MAX_WORK} characters", Location(source)) from None
        raise SpecError(f"not UTF-8 text (byte {err.start + 1})", Location(source)) from None


def work_lines(text: str, source: str, kind: str) -> list[WorkLine]:
    """The lines of maths of a derivation of `kind` ("tex", "md" or "txt") read from `source`."""
    if len(text) > MAX_WORK:
        raise SpecError(f"the file has {len(text)} characters, more than {MAX_WORK}", Location(source))
    if kind == "txt":
        found = [(match.start(), match.group()) for match in re.finditer(r"[^\n]+", text)]
    else:
        found = []
        for block in _BLOCK.finditer(_without_comments(text) if kind == "tex" else text):
            name = next(n for n in ("a", "b", "c") if block.group(n) is not None)
            start, inner = block.start(name), _INNER.sub(lambda m: " " * len(m.group()), block.group(name))
            last = 0
            for cut in [*_BREAK.finditer(inner), None]:
                end = cut.start() if cut is not None else len(inner)
                found.append((start + last, inner[last:end]))
                last = cut.end() if cut is not None else end
    lines = []
    for offset, piece in found:
        stripped = piece.strip()
        if not stripped or stripped in ("&", "\\nonumber", "\\notag"):
            continue
        at = offset + (len(piece) - len(piece.lstrip()))
        lines.append(WorkLine(stripped, *place(text, at), at))
    if len(lines) > MAX_LINES:
        raise SpecError(f"the file has {len(lines)} lines of maths, more than {MAX_LINES}", Location(source))
    return lines


def place(text: str, at: int) -> tuple[int, int]:
    """The line and column (both 1-based) of position `at` of `text`."""
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def _without_comments(text: str) -> str:
    """`text` with each % comment blanked out (its length kept, so places stay right); \\% stays."""
    return re.sub(r"(?<!\\)%[^\n]*", lambda m: " " * len(m.group()), text)
