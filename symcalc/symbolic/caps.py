"""The caps on one expression's size and on its constants, checked before SymPy sees anything.

A tree with too many nodes or nested too deep is refused by `check_size`; every constant
sub-expression is evaluated in Python floats first (`combine`), so that the parser can refuse
anything non-finite or larger than `MAX_MAGNITUDE` before SymPy computes it exactly.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

from symcalc.errors import Location, ParseError

MAX_LENGTH = 50_000  # characters in one expression
MAX_NODES = 20_000  # parse-tree nodes in one expression
MAX_DEPTH = 100  # nesting depth, with chains of + or * counted once
MAX_MAGNITUDE = 1e300  # largest absolute value of a constant sub-expression
MAX_EXPONENT = 1_000  # largest |n| in x**n when n is a constant


def check_size(root: ast.expr, columns: Callable[[int], int]) -> None:
    """Refuse trees with too many nodes or too deep, iteratively (no recursion to exhaust)."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ParseError(f"expression has more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise ParseError(
                f"expression is nested more than {MAX_DEPTH} levels deep",
                Location(column=columns(getattr(node, "col_offset", 0))),
            )
        for child in ast.iter_child_nodes(node):
            same_chain = (
                isinstance(node, ast.BinOp)
                and isinstance(child, ast.BinOp)
                and child is node.left
                and chain_kind(child.op) == chain_kind(node.op)
                and chain_kind(node.op) is not None
            )
            stack.append((child, depth if same_chain else depth + 1))


def chain_kind(op: ast.operator) -> str | None:
    """Which chain a binary operator continues: "sum" for + and -, "product" for * and /."""
    if isinstance(op, ast.Add | ast.Sub):
        return "sum"
    if isinstance(op, ast.Mult | ast.Div):
        return "product"
    return None


def int_to_float(value: int) -> float | None:
    try:
        return float(value)
    except OverflowError:
        return None


def combine(left: float | None, right: float | None, op: Callable[[float, float], float]) -> float | None:
    """Apply `op` to two constants in floats; None when either side is not constant or on failure."""
    if left is None or right is None:
        return None
    try:
        result = op(left, right)
    except (OverflowError, ZeroDivisionError, ValueError):
        return math.inf
    return result if isinstance(result, float | int) else None


def real_pow(base: float, exponent: float) -> float:
    result = base**exponent
    if isinstance(result, complex):
        raise ValueError("not real")
    return float(result)
