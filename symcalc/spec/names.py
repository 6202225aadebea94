"""What a declared name may be (the SymPy symbol it becomes is `symcalc.symbolic.graph.make_symbol`)."""

from __future__ import annotations

import keyword
import re
from collections.abc import Collection

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
