"""The fixes of parse errors: how a page or another language writes what an expression writes
otherwise, (a − y)·x₁ is (a-y)*x1, (a-y)x1 is (a-y)*x1, log10(x) is log(x)/log(10)."""

from __future__ import annotations

import ast
import keyword
import re

from symcalc.errors import Location, ParseError

#: Characters of typeset maths and their spelling in an expression: (a − y)·x₁ is (a - y)*x1.
_TYPESET = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    "\u00b7": "*",  # middle dot
    "\u22c5": "*",  # dot operator
    "\u00d7": "*",  # multiplication sign
    "\u2217": "*",  # asterisk operator
    "\u00f7": "/",  # division sign
    "\u2215": "/",  # division slash
    **{chr(0x2070 + d) if d not in (1, 2, 3) else "¹²³"[d - 1]: f"^{d}" for d in range(10)},
    **{chr(0x2080 + d): str(d) for d in range(10)},
}


def ascii_fix(text: str, char: str) -> str:
    """How to write `char` in ASCII, with the whole expression rewritten when that makes it ASCII:
    "write '-' for '−': (a-y)*x1"; for a character with no spelling, that expressions are ASCII."""
    if char not in _TYPESET:
        return "expressions are ASCII"
    spelt = "".join(_TYPESET.get(c, c) for c in text)
    fix = f"write {_TYPESET[char]!r} for {char!r}"
    return fix + (f": {spelt.strip()}" if spelt.isascii() and len(spelt) <= 60 else "")


#: Where a product is written without its '*': (a-y)x1, (a-y)(b-y), 2x.
_IMPLICIT_PRODUCT = re.compile(r"(\))\s*(?=[A-Za-z_(])|(\b\d+\.?\d*)(?![eE][+-]?\d)(?=[A-Za-z_(])")


def _with_products(source: str) -> str | None:
    """`source` with a '*' where a product was written without one, if that makes it parse."""
    spelt = _IMPLICIT_PRODUCT.sub(lambda match: (match.group(1) or match.group(2)) + "*", source.strip())
    if spelt == source.strip():
        return None
    try:
        ast.parse(spelt, mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError, OverflowError):
        return None
    return spelt


def _grouped(text: str) -> str:
    """`text` in parentheses unless it is a name or a number."""
    return text if re.fullmatch(r"[\w.]+", text.strip()) else f"({text})"


def spelling(fname: str, args: list[str]) -> str | None:
    """The table's spelling of a call of `fname` on the texts `args`, for a function other languages
    name (log10, pow, square, expit, fabs); None for a name no function is known by."""
    if fname in {"log10", "log2"} and len(args) == 1:
        return f"log({args[0]})/log({fname[3:]})"
    if fname in {"pow", "power"} and len(args) == 2:
        return f"{_grouped(args[0])}**{_grouped(args[1])}"
    if fname == "square" and len(args) == 1:
        return f"{_grouped(args[0])}**2"
    if fname in {"expit", "logistic"} and len(args) == 1:
        return f"sigmoid({args[0]})"
    if fname in {"fabs", "absolute"} and len(args) == 1:
        return f"abs({args[0]})"
    return None


def syntax_error(err: SyntaxError, source: str, column: int) -> ParseError:
    """The error for Python's `err` on `source` (as parsed, ^ written **), at `column`, with a fix
    where one is known: a product without its '*', a keyword used as a name, a lone '('."""
    msg = (err.msg or "invalid syntax").replace("invalid decimal literal", "invalid number")
    fix = None
    if "decimal literal" in (err.msg or "") or "invalid number" in msg:
        fix = "write 2*x for a product, not 2x"
    elif "!" in source:
        fix = "'!' is not supported"
    elif "parenthes" in msg:
        fix = "check that every '(' has its ')'"
    if (spelt := _with_products(source)) is not None:
        fix = f"write a product with '*': {spelt}" if len(spelt) <= 60 else "write a product with '*'"
    if keywords := [word for word in re.findall(r"[A-Za-z_]+", source) if keyword.iskeyword(word)]:
        word = keywords[0]
        fix = f"{word!r} is a Python keyword and cannot be a name" + (
            ": write 'lamda'" if word == "lambda" else f": rename it, e.g. 'my_{word}'"
        )
    return ParseError(f"syntax error: {msg}", Location(column=column), fix=fix)
