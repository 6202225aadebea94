"""What a declared name may be (the SymPy symbol it becomes is `symcalc.symbolic.graph.make_symbol`)."""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Collection, Iterable

from symcalc.errors import ParseError

NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


def check_name(name: object, reserved: Collection[str] = ()) -> str:
    """Return `name` if it may be declared, else raise ParseError saying why and how to fix it.

    `reserved` are the names of the function table, which no declared name may take.
    """
    if not isinstance(name, str):
        raise ParseError(f"a name must be a string, not {type(name).__name__} {name!r}")
    if not name.isascii():
        raise ParseError(
            f"name {name!r} is not ASCII",
            fix="names use the letters A-Z, a-z, digits and '_'",
        )
    if not NAME_PATTERN.fullmatch(name):
        raise ParseError(
            f"name {name!r} is not a valid name",
            fix="a letter, then up to 31 letters, digits or '_'",
        )
    if name == "lambda":
        raise ParseError("name 'lambda' is a Python keyword", fix="write 'lamda' instead")
    if keyword.iskeyword(name):
        # Not '{name}_': a trailing '_' is refused below, so the fix must be a valid name itself.
        raise ParseError(f"name {name!r} is a Python keyword", fix=f"rename it, e.g. 'my_{name}'")
    if name in reserved:
        raise ParseError(f"name {name!r} is a function in the table", fix="choose another name")
    if "__" in name or name.endswith("_"):
        raise ParseError(
            f"name {name!r} has '__' or a trailing '_', which print ambiguously",
            fix="use single '_' between parts",
        )
    return name


def nearest(word: str, known: Iterable[str]) -> str | None:
    """The known word `word` was most likely meant to be (`titel` → `title`, `Relu` → `relu`), or None."""
    choices = list(known)
    folded = {choice.lower(): choice for choice in choices}
    if word.lower() in folded:
        return folded[word.lower()]
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def suggestion(word: str, known: Iterable[str], otherwise: str | None = None) -> str | None:
    """A fix saying "did you mean 'X'?" when a known word is near `word`, else `otherwise`."""
    near = nearest(word, known)
    return f"did you mean {near!r}?" if near is not None else otherwise
