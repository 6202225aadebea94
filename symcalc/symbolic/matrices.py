"""SymPy's matrix expressions written in the file format's vector syntax, so `Model.build` takes them.

A `MatrixSymbol` of shape (n, 1) or (1, n) is the vector `x[n]`, of shape (h, n) the
matrix `W[h,n]`. `W*x` is `W @ x`, `v.T*g` the dot product `v @ g`, `x.T*W` the row
product `x @ W`, a `hadamard_product` is `*`, `s.applyfunc(tanh)` is `tanh(s)`, and a
`Sum` over the entries of vectors, such as SymPy writes `(v.T*g)[0, 0]`, is `sum(...)`.
The text then goes through the same safe parser and checks as a file's. Anything else is
refused with `MatrixUnsupported`, saying what.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from symcalc.errors import MatrixUnsupported
from symcalc.symbolic.functions import text


def is_matrix_model(*things: object) -> bool:
    """Whether any of the names or expressions is a SymPy matrix symbol or expression."""
    return any(
        isinstance(thing, sp.MatrixExpr) or (isinstance(thing, sp.Basic) and thing.has(sp.MatrixSymbol))
        for thing in things
    )


def axes(symbol: sp.Basic) -> tuple[sp.Expr, ...]:
    """A name's axes: () for a scalar, (n,) for an n × 1 or 1 × n matrix symbol, (h, n) otherwise."""
    if not isinstance(symbol, sp.MatrixSymbol):
        return ()
    rows, columns = symbol.shape
    if columns == 1:
        return (rows,)
    if rows == 1:
        return (columns,)
    return (rows, columns)


def declaration(symbol: sp.Basic) -> str:
    """ "W[h,n]", "x[n]" or "b": how a file declares the name."""
    shown = ",".join(str(axis) for axis in axes(symbol))
    return f"{symbol.name}[{shown}]" if shown else str(symbol.name)


def as_text(expr: sp.Basic) -> str:
    """`expr` in the file format's syntax (MatrixUnsupported where it has none)."""
    if isinstance(expr, sp.MatrixSymbol):
        return str(expr.name)
    if isinstance(expr, sp.Transpose):
        inner = expr.arg
        return f"({as_text(inner)})" if axes_of(inner) == 1 else f"transpose({as_text(inner)})"
    if isinstance(expr, sp.MatAdd):
        return " + ".join(f"({as_text(arg)})" for arg in expr.args)
    if isinstance(expr, sp.MatMul):
        scalars = [arg for arg in expr.args if not isinstance(arg, sp.MatrixExpr)]
        chain = " @ ".join(f"({as_text(arg)})" for arg in expr.args if isinstance(arg, sp.MatrixExpr))
        return " * ".join([*(f"({as_text(s)})" for s in scalars), f"({chain})"])
    if isinstance(expr, sp.HadamardProduct):
        return " * ".join(f"({as_text(arg)})" for arg in expr.args)
    if isinstance(expr, sp.HadamardPower):
        return f"({as_text(expr.base)})^({as_text(expr.exp)})"
    if isinstance(expr, ElementwiseApplyFunction):
        variable = sp.Symbol("ARG__")  # no declared name has '__': it cannot be mistaken for one
        return _filled(text(expr.function(variable)), {variable.name: as_text(expr.expr)})
    if isinstance(expr, MatrixElement):
        if expr.parent.shape == (1, 1):
            return as_text(expr.parent)
        raise MatrixUnsupported(f"{expr} is one entry of a vector or matrix: write the whole vector or a sum")
    if isinstance(expr, sp.Sum):
        return _sum(expr)
    if isinstance(expr, sp.MatrixExpr):
        raise MatrixUnsupported(f"{type(expr).__name__} ({expr}) has no word in the vector syntax")
    return _scalar(expr)


def axes_of(expr: sp.MatrixExpr) -> int:
    rows, columns = expr.shape
    return 1 if 1 in (rows, columns) else 2


def _sum(total: sp.Sum) -> str:
    """Σ_i over the entries of vectors, e.g. Σ_i v[i, 0]·g[i, 0], as sum(v*g)."""
    if len(total.limits) != 1:
        raise MatrixUnsupported(f"{total} sums over more than one index")
    index, _, _ = total.limits[0]
    entries = total.function.atoms(MatrixElement)
    if not entries or any(index not in (e.i, e.j) or {e.i, e.j} - {index, 0} for e in entries):
        raise MatrixUnsupported(f"{total} is not a sum over the entries of vectors")
    placeholders = {e: sp.Symbol(e.parent.name) for e in entries if isinstance(e.parent, sp.MatrixSymbol)}
    if len(placeholders) != len(entries):
        raise MatrixUnsupported(f"{total} sums entries of a matrix expression, not of named vectors")
    return f"sum({text(total.function.xreplace(placeholders))})"


def _scalar(expr: sp.Basic) -> str:
    """A scalar expression, its matrix parts (sums, 1 × 1 entries) written in the vector syntax."""
    parts = []
    walk = sp.preorder_traversal(expr)
    for node in walk:
        if isinstance(node, sp.Sum | MatrixElement):  # a part of its own: what is inside is its business
            parts.append(node)
            walk.skip()
    if not parts:
        return text(expr)
    stand_ins = {part: sp.Symbol(f"PART__{k}") for k, part in enumerate(parts)}
    return _filled(text(expr.xreplace(stand_ins)), {s.name: as_text(p) for p, s in stand_ins.items()})


def _filled(written: str, parts: dict[str, str]) -> str:
    """`written` with each stand-in name replaced by its part, in parentheses."""
    return re.sub(r"\b(ARG__|PART__\d+)\b", lambda found: f"({parts[found.group(1)]})", written)
