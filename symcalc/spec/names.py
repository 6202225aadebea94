"""What a declared name may be (the SymPy symbol it becomes is `symcalc.symbolic.building.make_symbol`)."""

from __future__ import annotations

import difflib
import keyword
import re
import unicodedata
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
        raise ParseError(f"name {not_ascii(name)}", fix="names use the letters A-Z, a-z, digits and '_'")
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


def not_ascii(word: str) -> str:
    """`word` is not ASCII, said with the first character that is not and its Unicode name: a
    Cyrillic 'а' looks like 'a' but is another letter, so a name can look right and be unknown."""
    char = next((c for c in word if not c.isascii()), "")
    named = unicodedata.name(char, "") if char else ""
    return f"{word!r} is not ASCII: its {char!r} is U+{ord(char):04X}" + (f" {named}" if named else "")


def suggestion(word: str, known: Iterable[str], otherwise: str | None = None) -> str | None:
    """A fix saying "did you mean 'X'?" when a known word is near `word`, else `otherwise`; for a
    word that is not ASCII, which of its characters is not (`lаmda` with a Cyrillic 'а' is as near
    'lamda' as can be, and "did you mean 'lamda'?" would show the same word back)."""
    near = nearest(word, known)
    if not word.isascii():
        hint = f"type {near!r}" if near is not None else otherwise
        return not_ascii(word) + (f"; {hint}" if hint else "")
    return f"did you mean {near!r}?" if near is not None else otherwise
