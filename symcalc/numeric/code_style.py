"""Generated code as `ruff format` writes it, so that a generated module passes `ruff format --check`.

The printers write an expression compactly (`(1/2)*lamda*W**2`); `spaced` spaces it as ruff
does (`(1 / 2) * lamda * W**2`: a space around each binary operator, `**` hugging operands
that are names, numbers or attributes). `assignment` and `call_list` lay out a statement
that is too long for the line as ruff does for the forms generated code has: the value in
brackets on lines of their own, split at its outermost operators or commas.
"""

from __future__ import annotations

import io
import keyword
import tokenize
from collections.abc import Sequence

#: The longest line, as the project's ruff settings have it (pyproject.toml).
LINE = 110
INDENT = "    "

_BINARY = {"+", "-", "*", "/", "//", "%", "@", "<", ">", "<=", ">=", "==", "!=", "|", "&", "^", "<<", ">>"}
_OPEN, _CLOSE = {"(", "[", "{"}, {")", "]", "}"}


def _tokens(text: str) -> list[tokenize.TokenInfo]:
    skip = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}
    return [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in skip]


def _simple_before(tokens: Sequence[tokenize.TokenInfo], index: int) -> bool:
    """Whether the operand that ends just before tokens[index] is a name, a number or an attribute."""
    k = index - 1
    if k < 0 or tokens[k].type not in (tokenize.NAME, tokenize.NUMBER) or keyword.iskeyword(tokens[k].string):
        return False
    while k >= 2 and tokens[k - 1].string == "." and tokens[k - 2].type == tokenize.NAME:
        k -= 2
    return True


def _simple_after(tokens: Sequence[tokenize.TokenInfo], index: int) -> bool:
    """Whether the operand that starts at tokens[index] is a name, a number or an attribute (or one
    of those negated)."""
    k = index
    if k < len(tokens) and tokens[k].string in ("-", "+"):
        k += 1
    if k >= len(tokens) or tokens[k].type not in (tokenize.NAME, tokenize.NUMBER):
        return False
    if keyword.iskeyword(tokens[k].string):
        return False
    while k + 2 < len(tokens) and tokens[k + 1].string == "." and tokens[k + 2].type == tokenize.NAME:
        k += 2
    return k + 1 >= len(tokens) or tokens[k + 1].string not in ("(", "[", ".")


def spaced(text: str) -> str:
    """One expression's text spaced as ruff format spaces it."""
    tokens = _tokens(text)
    out: list[str] = []
    brackets: list[str] = []  # "call", "index" or the bracket itself, for each open bracket
    space = False  # whether a name, number or bracket coming next is set apart by a space
    previous: tokenize.TokenInfo | None = None
    closes: dict[int, int] = {}  # a sign's operand that is a power is bracketed: -(x**2), as ruff writes it
    for index, token in enumerate(tokens):
        string = token.string
        if string in ("-", "+", "~") and _operand_expected(previous):
            power_end = _power_after(tokens, index + 1)
            out.append((" " if space else "") + string + ("(" if power_end else ""))
            if power_end:
                closes[power_end] = closes.get(power_end, 0) + 1
            space = False
        elif string == "**":
            hug = _simple_before(tokens, index) and _simple_after(tokens, index + 1)
            out.append("**" if hug else " ** ")
            space = False
        elif string in _BINARY:
            out.append(f" {string} ")
            space = False
        elif string in _OPEN:
            applied = previous is not None and (previous.string in _CLOSE or _is_operand(previous))
            out.append(("" if applied or not space else " ") + string)
            brackets.append(("call" if string == "(" else "index") if applied else string)
            space = False
        elif string in _CLOSE:
            brackets.pop()
            out.append(string)
            space = True
        elif string == ",":
            out.append(",")
            space = True
        elif string == ":":
            out.append(":")
            space = not brackets or brackets[-1] != "index"
        elif string == "=" and brackets and brackets[-1] == "call":
            out.append("=")
            space = False
        elif string == ".":
            out.append(".")
            space = False
        else:  # a name, a number, a string or a keyword
            out.append((" " if space else "") + string)
            space = True
        out.append(")" * closes.pop(index, 0))
        previous = token
    return "".join(out)


def _atom_end(tokens: Sequence[tokenize.TokenInfo], start: int) -> int | None:
    """The index of the last token of the operand (a name, number or bracket, with its attributes,
    calls and subscripts) that starts at `start`, or None."""
    if start >= len(tokens):
        return None
    k = start
    if tokens[k].string in _OPEN:
        k = _matching(tokens, k)
    elif tokens[k].type not in (tokenize.NAME, tokenize.NUMBER) or keyword.iskeyword(tokens[k].string):
        return None
    while k + 1 < len(tokens):
        following = tokens[k + 1].string
        if following == "." and k + 2 < len(tokens):
            k += 2
        elif following in ("(", "["):
            k = _matching(tokens, k + 1)
        else:
            break
    return k


def _matching(tokens: Sequence[tokenize.TokenInfo], opening: int) -> int:
    depth = 0
    for k in range(opening, len(tokens)):
        depth += tokens[k].string in _OPEN
        depth -= tokens[k].string in _CLOSE
        if depth == 0:
            return k
    return len(tokens) - 1


def _power_after(tokens: Sequence[tokenize.TokenInfo], start: int) -> int | None:
    """The last token of `a ** b` when the operand at `start` is raised to a power, else None."""
    base = _atom_end(tokens, start)
    if base is None or base + 1 >= len(tokens) or tokens[base + 1].string != "**":
        return None
    exponent = base + 2
    if exponent < len(tokens) and tokens[exponent].string in ("-", "+"):
        exponent += 1
    return _atom_end(tokens, exponent)


def _is_operand(token: tokenize.TokenInfo) -> bool:
    """A name (not a keyword but None, True, False), a number or a string."""
    if token.type == tokenize.NAME:
        return not keyword.iskeyword(token.string) or token.string in ("None", "True", "False")
    return token.type in (tokenize.NUMBER, tokenize.STRING)


def _operand_expected(previous: tokenize.TokenInfo | None) -> bool:
    """Whether an operand comes next (so that a - there is a sign, not a subtraction)."""
    if previous is None:
        return True
    if previous.type == tokenize.NAME:
        return not _is_operand(previous)
    return previous.string not in _CLOSE and previous.type == tokenize.OP


#: Black's and ruff's priorities of the operators a line is split at (the highest present first).
_PRIORITY = {",": 18, "if": 16, "else": 16, "and": 14, "or": 14, "|": 9, "^": 8, "&": 7, "<<": 6, ">>": 6}
_PRIORITY |= {op: 10 for op in ("<", ">", "<=", ">=", "==", "!=")}
_PRIORITY |= {"+": 5, "-": 5, "*": 4, "/": 4, "//": 4, "%": 4, "@": 4}


def _outer_splits(text: str) -> list[str]:
    """`text` cut before each of its outermost operators of the highest priority present (after each
    comma): the lines ruff gives an expression too long for one line inside brackets."""
    tokens = _tokens(text)
    depth, found = 0, []
    for index, token in enumerate(tokens):
        if token.string in _OPEN:
            depth += 1
        elif token.string in _CLOSE:
            depth -= 1
        elif depth == 0 and token.string in _PRIORITY and index > 0:
            previous = tokens[index - 1]
            binary = token.string not in ("-", "+") or not _operand_expected(previous)
            if binary:
                found.append((_PRIORITY[token.string], token.start[1], token.end[1]))
    if not found:
        return [text]
    top = max(priority for priority, _, _ in found)
    parts, begin = [], 0
    for priority, start, end in found:
        if priority == top:
            cut = end if text[start:end] == "," else start
            parts.append(text[begin:cut].strip())
            begin = cut
    parts.append(text[begin:].strip())
    return [p for p in parts if p]


def _layout(indent: str, text: str, suffix: str = "", collection: bool = False) -> list[str]:
    """`text` (and `suffix`) inside brackets at `indent`, on as many lines as ruff gives it: one where
    it fits (but the items of a `collection`, a list or tuple display, one a line with a comma after
    each, where it does not fit where it stands); else a line per operand of its outermost
    operators of the highest priority, each laid out so in turn; an operand that ends in brackets
    and is too long for its line is opened like a value of its own."""
    parts = _outer_splits(text)
    commas = len(parts) > 1 and parts[0].endswith(",")
    if len(indent + text + suffix) <= LINE and not (collection and commas):
        return [indent + text + suffix]
    if len(parts) > 1:
        if commas and not parts[-1].endswith(","):
            parts[-1] += ","  # the comma ruff adds after the last of items one a line
        lines = []
        for index, part in enumerate(parts):
            end = suffix if index == len(parts) - 1 else ""
            if part.endswith(","):
                part, end = part[:-1], "," + end
            lines += _layout(indent, part, end)
        return lines
    opening = _opening_of_last(text)
    if opening is None:
        return [indent + text + suffix]
    called = opening > 0 and (text[opening - 1].isalnum() or text[opening - 1] in "_)]")
    inner = _layout(indent + INDENT, text[opening + 1 : -1], collection=not called)
    return [indent + text[: opening + 1], *inner, f"{indent}{text[-1]}{suffix}"]


def _opening_of_last(text: str) -> int | None:
    """Where the bracket that closes `text` opens, when `text` ends with one."""
    if not text.endswith((")", "]")):
        return None
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        if text[index] in ")]":
            depth += 1
        elif text[index] in "([":
            depth -= 1
            if depth == 0:
                return index
    return None


def assignment(indent: str, target: str, value: str) -> list[str]:
    """`target = value` at `indent`, as ruff lays out a value too long for the line: in brackets on
    lines of their own, split before each outermost operator of the highest priority."""
    line = f"{indent}{target} = {value}"
    if len(line) <= LINE:
        return [line]
    opening = _opening_of_last(value)
    if len(_outer_splits(value)) == 1 and opening is not None and not value.startswith(("-", "(")):
        # one call or subscript: opened at its last bracket, without brackets of its own
        called = opening > 0 and (value[opening - 1].isalnum() or value[opening - 1] in "_)]")
        inner = _layout(indent + INDENT, value[opening + 1 : -1], collection=not called)
        return [f"{indent}{target} = {value[: opening + 1]}", *inner, f"{indent}{value[-1]}"]
    power = _bracketed_base(value)
    if power is not None:  # (a + b + …) ** 2: the base opened, the power after its bracket
        return [f"{indent}{target} = (", *_layout(indent + INDENT, power[0]), f"{indent}) ** {power[1]}"]
    return [f"{indent}{target} = (", *_layout(indent + INDENT, value), f"{indent})"]


def _bracketed_base(value: str) -> tuple[str, str] | None:
    """(inside, exponent) when `value` is `(inside) ** exponent`, else None."""
    if not value.startswith("("):
        return None
    tokens = _tokens(value)
    closing = _matching(tokens, 0)
    if closing + 2 >= len(tokens) or tokens[closing + 1].string != "**":
        return None
    if _atom_end(tokens, closing + 2 + (tokens[closing + 2].string in "-+")) != len(tokens) - 1:
        return None
    return value[1 : tokens[closing].start[1]], value[tokens[closing + 1].end[1] :].strip()


def returned(indent: str, values: Sequence[str]) -> list[str]:
    """`return [v1, v2, …]` on one line where it fits, else in brackets on lines of their own."""
    items = ", ".join(values)
    if len(f"{indent}return [{items}]") <= LINE:
        return [f"{indent}return [{items}]"]
    return [f"{indent}return [", *_layout(indent + INDENT, items, collection=True), f"{indent}]"]


def signature(name: str, arguments: Sequence[str]) -> list[str]:
    """`def name(a, b, …):`, its arguments on a line of their own, or one a line, where too long."""
    line = f"def {name}({', '.join(arguments)}):"
    if len(line) <= LINE:
        return [line]
    if len(INDENT + ", ".join(arguments)) <= LINE:
        return [f"def {name}(", INDENT + ", ".join(arguments), "):"]
    return [f"def {name}(", *(f"{INDENT}{a}," for a in arguments), "):"]


def display(head: str, opening: str, items: Sequence[str], closing: str) -> list[str]:
    """`head` followed by a bracketed display (a dict, a tuple), exploded one item a line where too long
    (a tuple of one item keeps its comma)."""
    one = ", ".join(items) + ("," if opening == "(" and len(items) == 1 else "")
    line = f"{head}{opening}{one}{closing}"
    if len(line) <= LINE:
        return [line]
    return [f"{head}{opening}", *(f"{INDENT}{item}," for item in items), closing]


def comment(prefix: str, text: str) -> list[str]:
    """`text` as comment lines that start with `prefix` ("#: ", "# "), wrapped at the line's length."""
    import textwrap

    return textwrap.wrap(text, LINE, initial_indent=prefix, subsequent_indent=prefix, break_on_hyphens=False)
