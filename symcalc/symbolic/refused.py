"""The grammar's names for Python's operators, the constructs it refuses and its syntax errors, for
its messages.

Python's `ast` reads an expression; `parse._Converter` builds SymPy objects from the nodes it
accepts and refuses every other with the message here (`x % 2`: operator '%' is not allowed).
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Callable

from symcalc.errors import Location, ParseError

OPERATOR_NAMES: dict[type, str] = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.Not: "not",
    ast.Invert: "~",
}

FORBIDDEN: dict[type, str] = {
    ast.Attribute: "attribute access ('.') is not allowed; only .T, on a name or in parentheses",
    ast.Lambda: "lambda is not allowed",
    ast.Compare: "comparisons ('==', '<', ...) are not allowed",
    ast.BoolOp: "'and' / 'or' are not allowed",
    ast.IfExp: "'if ... else' is not allowed",
    ast.Tuple: "tuples (',') are not allowed",
    ast.List: "lists are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Set: "sets are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
}

SYMBOLS: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def syntax_error(err: SyntaxError, source: str, columns: Callable[[int], int]) -> ParseError:
    """Python's syntax error as the project's, at the column of the text as written, with a fix."""
    # Python's offset is 1-based; 0 means the text ended too soon: point past its last character.
    column = columns(err.offset - 1 if err.offset else len(source.strip()))
    msg = (err.msg or "invalid syntax").replace("invalid decimal literal", "invalid number")
    fix = None
    if "decimal literal" in (err.msg or "") or "invalid number" in msg:
        fix = "write 2*x for a product, not 2x"
    elif "!" in source:
        fix = "'!' is not supported"
    elif "parenthes" in msg:
        fix = "check that every '(' has its ')'"
    if keywords := [word for word in re.findall(r"[A-Za-z_]+", source) if keyword.iskeyword(word)]:
        word = keywords[0]
        fix = f"{word!r} is a Python keyword and cannot be a name" + (
            ": write 'lamda'" if word == "lambda" else f": rename it, e.g. 'my_{word}'"
        )
    return ParseError(f"syntax error: {msg}", Location(column=column), fix=fix)
