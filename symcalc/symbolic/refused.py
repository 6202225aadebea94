"""The grammar's names for Python's operators and the constructs it refuses, for its messages
(its syntax errors and their fixes are `spellings`' job).

Python's `ast` reads an expression; `parse._Converter` builds SymPy objects from the nodes it
accepts and refuses every other with the message here (`x % 2`: operator '%' is not allowed).
"""

from __future__ import annotations

import ast

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
