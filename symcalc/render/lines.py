"""One-line maths as text, broken into lines that fit: what the terminal's layout (`render.console`)
and the narrow verify listing (`render.checks`) share. Plain strings only, so it loads no SymPy."""

from __future__ import annotations

from rich.cells import cell_len

#: The operators a line of one-line maths may break before.
_BREAK_BEFORE = ("+ ", "- ", "= ", ":= ", "⊙ ")


def wrap_maths(text: str, width: int, indent: int) -> list[str]:
    """One line of maths in lines at most `width` wide, later ones indented by `indent`.

    A line breaks at a space before an operator (+, -, =, :=, ⊙) or before the ⋅ between two
    factors outside brackets: of the breaks that fit, the one least deep in brackets, then one that
    fills at least half the line, then the last. A symbol or a power (h₁²) is never split; only a
    run with no break that fits is cut (at a space if it has one).
    """
    lines: list[str] = []
    prefix = ""
    while cell_len(prefix + text) > width:
        room = width - cell_len(prefix)
        best = _best_break(text, room)
        if best is None:
            spaces = [i for i, char in enumerate(text) if char == " " and 0 < cell_len(text[:i]) <= room]
            best = spaces[-1] if spaces else max(room, 1)
        lines.append((prefix + text[:best]).rstrip())
        text = text[best:].lstrip()
        prefix = " " * indent if indent <= width // 2 else "  "
    lines.append(prefix + text)
    return lines


def _best_break(text: str, room: int) -> int | None:
    """Where `wrap_maths` breaks `text` to fit `room` columns: the index the next line starts at."""
    candidates: list[tuple[int, bool, int]] = []
    depth = 0
    for i, char in enumerate(text):
        if cell_len(text[:i]) > room:
            break
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif i and ((char == " " and text.startswith(_BREAK_BEFORE, i + 1)) or (char == "⋅" and not depth)):
            candidates.append((depth, i < room // 2, -i))
    return -min(candidates)[2] if candidates else None
