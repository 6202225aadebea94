"""What a declared name may be, and the plain SymPy symbol each name becomes."""

from __future__ import annotations

import keyword
import re

import sympy as sp

from symcalc.errors import ParseError
from symcalc.functions import FUNCTIONS

NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


def check_name(name: object) -> str:
    """Return `name` if it may be declared, else raise ParseError saying why and how to fix it."""
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
    if name in FUNCTIONS:
        raise ParseError(f"name {name!r} is a function in the table", fix="choose another name")
    if "__" in name or name.endswith("_"):
        raise ParseError(
            f"name {name!r} has '__' or a trailing '_', which print ambiguously",
            fix="use single '_' between parts",
        )
    return name


def make_symbol(name: str) -> sp.Symbol:
    """The plain real symbol for a declared name: `E`, `I`, `N`, `beta` stay themselves."""
    return sp.Symbol(check_name(name), real=True)
