"""LaTeX maths text → tokens with their columns; what can define, run or read anything is refused here.

TeX is a programming language: a macro can redefine anything, read files and loop forever. The
reader takes none of it. It knows a fixed set of control words (the ones symcalc's printer
writes and lectures use) and refuses every other one, every way to make new ones (`\\def`,
`\\newcommand`, `\\catcode`, `\\csname`, `#` parameters, `^^` character escapes) and any input
past a size cap, each in one line with the column where it starts. Nothing here evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass

from symcalc.errors import LatexError, Location

MAX_LATEX = 20_000  # characters in one piece of maths

GREEK = frozenset(
    [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "varepsilon",
        "zeta",
        "eta",
        "theta",
        "vartheta",
        "iota",
        "kappa",
        "lambda",
        "mu",
        "nu",
        "xi",
        "pi",
        "rho",
        "varrho",
        "sigma",
        "tau",
        "upsilon",
        "phi",
        "varphi",
        "chi",
        "psi",
        "omega",
        "Gamma",
        "Delta",
        "Theta",
        "Lambda",
        "Xi",
        "Pi",
        "Sigma",
        "Upsilon",
        "Phi",
        "Psi",
        "Omega",
    ]
)
#: Control words that are functions of one (or, for max and min, several) arguments.
FUNCTION_WORDS = frozenset(["log", "ln", "exp", "tanh", "sinh", "cosh", "sin", "cos", "tan", "max", "min"])
#: Control words that only space or size what follows: read as nothing.
SPACING = frozenset(
    [
        "quad",
        "qquad",
        "displaystyle",
        "textstyle",
        "big",
        "Big",
        "bigg",
        "Bigg",
        "bigl",
        "bigr",
        "Bigl",
        "Bigr",
        "biggl",
        "biggr",
        "Biggl",
        "Biggr",
        "nonumber",
        "notag",
        "limits",
    ]
)
#: Control words that wrap a name or a word in a style.
STYLES = frozenset(
    [
        "mathbf",
        "boldsymbol",
        "bm",
        "vec",
        "mathit",
        "mathrm",
        "text",
        "textrm",
        "mathsf",
        "operatorname",
        "hat",
        "bar",
        "tilde",
    ]
)
OTHER = frozenset(
    [
        "frac",
        "dfrac",
        "tfrac",
        "partial",
        "left",
        "right",
        "cdot",
        "cdotp",
        "times",
        "odot",
        "otimes",
        "circ",
        "top",
        "intercal",
        "prime",
        "sqrt",
        "sum",
        "prod",
        "lvert",
        "rvert",
        "vert",
        "mathbb",
    ]
)
KNOWN = GREEK | FUNCTION_WORDS | SPACING | STYLES | OTHER
#: Control words that define or run macros, read or write files, or change what characters mean.
MACROS = frozenset(
    [
        "def",
        "edef",
        "gdef",
        "xdef",
        "let",
        "futurelet",
        "newcommand",
        "renewcommand",
        "providecommand",
        "DeclareMathOperator",
        "newenvironment",
        "renewenvironment",
        "input",
        "include",
        "InputIfFileExists",
        "openin",
        "openout",
        "read",
        "write",
        "immediate",
        "catcode",
        "csname",
        "endcsname",
        "expandafter",
        "noexpand",
        "uppercase",
        "lowercase",
        "string",
        "usepackage",
        "RequirePackage",
        "directlua",
        "luaexec",
        "special",
        "shipout",
        "loop",
        "repeat",
        "begingroup",
        "endgroup",
        "begin",
        "end",
        "makeatletter",
        "makeatother",
        "afterassignment",
        "aftergroup",
        "mathcode",
        "lccode",
        "uccode",
    ]
)


@dataclass(frozen=True)
class Token:
    """One token: its kind (`word` a run of letters, `number`, `control` a control word without its
    backslash, `char` one character) and the 1-based column where it starts."""

    kind: str
    text: str
    column: int


def refuse(
    problem: str, column: int, source: str | None = None, fix: str | None = None, line: int = 1
) -> LatexError:
    return LatexError(problem, Location(source=source, line=line, column=column), fix)


def tokens(text: object, source: str | None = None, line: int = 1, offset: int = 0) -> list[Token]:
    """`text`'s tokens; LatexError (at `line`, the column counted from `offset` + 1) for anything refused."""
    if not isinstance(text, str):
        raise refuse(f"maths must be text, not {type(text).__name__}", offset + 1, source, line=line)
    if len(text) > MAX_LATEX:
        raise refuse(
            f"maths of {len(text)} characters is longer than the cap of {MAX_LATEX}",
            offset + 1,
            source,
            "split it into several lines",
            line,
        )
    found: list[Token] = []
    k = 0
    while k < len(text):
        char, column = text[k], offset + k + 1
        if char in " \t\r\n~":
            k += 1
        elif char == "%":  # a comment runs to the end of the line
            end = text.find("\n", k)
            k = len(text) if end < 0 else end
        elif char == "^" and text.startswith("^^", k):
            raise refuse("'^^' character escapes are not read", column, source, line=line)
        elif char == "#":
            raise refuse("'#' (a macro's parameter) is not read", column, source, line=line)
        elif char == "\\":
            k = _control(text, k, found, offset, source, line)
        elif char.isascii() and char.isalpha():
            end = k
            while end < len(text) and text[end].isascii() and text[end].isalpha():
                end += 1
            found.append(Token("word", text[k:end], column))
            k = end
        elif char.isdigit() or (char == "." and k + 1 < len(text) and text[k + 1].isdigit()):
            end = k
            while end < len(text) and (text[end].isdigit() or text[end] == "."):
                end += 1
            number = text[k:end]
            if number.count(".") > 1:
                raise refuse(f"{number!r} is not a number", column, source, line=line)
            found.append(Token("number", number, column))
            k = end
        elif char in "+-*/=()[]{}^_',|&<>.":
            found.append(Token("char", char, column))
            k += 1
        elif not char.isascii():
            raise refuse(
                f"the character {char!r} (U+{ord(char):04X}) is not read",
                column,
                source,
                "write it in LaTeX",
                line,
            )
        else:
            raise refuse(f"the character {char!r} is not read in maths", column, source, line=line)
    return found


def _control(text: str, k: int, found: list[Token], offset: int, source: str | None, line: int) -> int:
    """Reads the control sequence at `k` into `found`; the index after it."""
    column = offset + k + 1
    end = k + 1
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    if end == k + 1:  # a control symbol: \, \; \{ \\ ...
        symbol = text[k + 1 : k + 2]
        if symbol in (",", ";", ":", "!", " ", ">", "\n", "\t"):
            return k + 2
        if symbol == "_":  # \operatorname{leaky\_relu}
            found.append(Token("char", "_", column))
            return k + 2
        if symbol in ("{", "}"):
            found.append(Token("char", "(" if symbol == "{" else ")", column))
            return k + 2
        if symbol == "\\":
            raise refuse("a line break '\\\\' inside one line of maths", column, source, line=line)
        raise refuse(f"'\\{symbol}' is not read", column, source, line=line)
    word = text[k + 1 : end]
    if word in MACROS:
        raise refuse(
            f"'\\{word}' defines or runs macros, reads files or changes what characters mean;"
            " the reader takes maths only",
            column,
            source,
            line=line,
        )
    if word not in KNOWN:
        raise refuse(f"unknown control word '\\{word}'", column, source, line=line)
    if word not in SPACING:
        found.append(Token("control", word, column))
    while end < len(text) and text[end] in " \t\r\n":  # TeX skips the spaces after a control word
        end += 1
    return end
