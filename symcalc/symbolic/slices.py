"""Indexing and slices, 1-based and inclusive as entries and CSV columns are named: s[1], s[2:h].

`s[i]` is an entry of a vector (a scalar) and `s[a:b]` the entries a … b, both ends
included; a bound is a whole number or an expression in dimensions' names (`s[h + 1:2*h]`),
and a slice's length must be a dimension or a number, so that its shape is one the file can
write. A row or column of a matrix is not read (`W[i, :]`): write the row as its own parameter.
At concrete sizes each is NumPy's indexing, shifted to 0-based; its derivative is carried by the
written-out steps (the vector form would need a vector of zeros with the adjoint placed in it).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter

from symcalc.errors import NoVectorForm, ShapeError
from symcalc.symbolic.arrays import (
    BY_CLASS,
    ArrayFunction,
    Shape,
    Value,
    shown,
)


class entry_of(sp.Function):
    """s[i]: entry i (1-based) of a vector."""

    nargs = 2

    @property
    def free_symbols(self) -> set[sp.Basic]:
        return set(self.args[0].free_symbols)  # the index is a size, not a variable

    def _sympystr(self, printer: Any) -> str:
        return f"{printer.parenthesize(self.args[0], 1000)}[{printer._print(self.args[1])}]"

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        base = f"{printer.parenthesize(self.args[0], 1000)}_{{{printer._print(self.args[1])}}}"
        return f"{base}^{{{exp}}}" if exp else base


class span(sp.Function):
    """s[a:b]: entries a … b (1-based, both included) of a vector; its length is `axes`."""

    nargs = 3

    @property
    def free_symbols(self) -> set[sp.Basic]:
        return set(self.args[0].free_symbols)

    @property
    def axes(self) -> Shape:
        return (axis_of(self.args[2] - self.args[1] + 1),)

    def _sympystr(self, printer: Any) -> str:
        start, end = (printer._print(a) for a in self.args[1:])
        return f"{printer.parenthesize(self.args[0], 1000)}[{start}:{end}]"

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        start, end = (printer._print(a) for a in self.args[1:])
        base = rf"{printer.parenthesize(self.args[0], 1000)}_{{{start}:{end}}}"
        return f"{base}^{{{exp}}}" if exp else base


def axis_of(length: sp.Expr) -> str | int:
    """A slice's length as an axis: a whole number, or a dimension's name; ShapeError otherwise."""
    length = sp.expand(length)
    if length.is_Integer and length > 0:
        return int(length)
    if isinstance(length, sp.Symbol) and length.is_integer and length.is_positive:
        return length.name
    raise ShapeError(f"a slice's length must be a dimension or a number; here it is {length}")


def _index(value: Value, at: Value) -> int:
    position = int(at)
    if not 1 <= position <= len(value):
        raise ShapeError(f"index {position} is outside 1 … {len(value)}")
    return position - 1


def _no_vector_form(args: Any, shapes: Any, call: sp.Expr, g: sp.Expr) -> Any:
    raise NoVectorForm(
        f"{call} passes its adjoint into a vector of zeros, which the file's syntax has no word for"
    )


def _entry_shape(vector: Shape, *bounds: Shape) -> Shape:
    if len(vector) != 1 or any(bounds):
        raise ShapeError(f"an index takes a vector and whole numbers, not {shown(vector)}")
    return ()


def _entry_value(value: Value, at: Value) -> Value:
    return value[_index(value, at)]


def _part_value(value: Value, start: Value, end: Value) -> Value:
    first, last = _index(value, start), _index(value, end)
    if last < first:
        raise ShapeError(f"the slice [{start}:{end}] is empty")
    return value[first : last + 1]


ENTRY = ArrayFunction(entry_of, 2, _entry_shape, _no_vector_form, _entry_value)
PART = ArrayFunction(span, 3, _entry_shape, _no_vector_form, _part_value)
BY_CLASS.update({entry_of: ENTRY, span: PART})
