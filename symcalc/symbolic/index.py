"""The index form of a vector-form expression: entry [i, j] written with subscripts and sums.

dL/dW = outer(dL/ds, x) reads, entry by entry, ∂L/∂W_ij = (∂L/∂s)_i x_j; W @ x is
Σ_k W_ik x_k, a dot product Σ_k v_k g_k, sum(v) Σ_k v_k, transpose swaps the indices,
diag(v) is v_i δ_ij, and an elementwise expression puts the entry's indices on each of
its vectors. For display only: the vector form is what is derived and checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

import sympy as sp

from symcalc.symbolic.arrays import (
    Shape,
    diag,
    logsumexp,
    matmul,
    ones,
    outer,
    shape_of,
    softmax,
    total,
    transpose,
)

#: Letters for indices, in the order a lecture takes them (each has a unicode subscript).
INDEX_LETTERS = "ijklprstu"


def index_names() -> Iterator[str]:
    """i, j, k, l, p, r, s, t, u, then i1, i2, i3, …: never runs out (layer norm nests 10 sums)."""
    yield from INDEX_LETTERS
    for number in itertools.count(1):
        yield f"{INDEX_LETTERS[0]}{number}"


class _Indices:
    """Fresh index symbols, none of them a name of the model."""

    def __init__(self, taken: set[str]):
        self.free: Iterator[str] = (name for name in index_names() if name not in taken)

    def next(self) -> sp.Symbol:
        return sp.Symbol(next(self.free), integer=True, positive=True)


def index_form(
    expr: sp.Expr, shape: Shape, shapes: Mapping[sp.Basic, Shape]
) -> tuple[tuple[sp.Symbol, ...], sp.Expr]:
    """The indices of an entry of `expr` (of `shape`) and that entry, with sums over the others."""
    taken = {s.name for s in shapes if isinstance(s, sp.Symbol)}
    taken |= {str(axis) for axes in shapes.values() for axis in axes}
    indices = _Indices(taken)
    outer_indices = tuple(indices.next() for _ in shape)
    return outer_indices, _Entry(shapes, indices).at(expr, outer_indices)


class _Entry:
    def __init__(self, shapes: Mapping[sp.Basic, Shape], indices: _Indices):
        self.shapes = shapes
        self.indices = indices

    def size(self, axis: str | int) -> sp.Expr:
        return sp.Integer(axis) if isinstance(axis, int) else sp.Symbol(axis, integer=True, positive=True)

    def summed(self, body: sp.Expr, index: sp.Symbol, axis: str | int) -> sp.Expr:
        return sp.Sum(body, (index, 1, self.size(axis)))

    def at(self, expr: sp.Expr, where: tuple[sp.Symbol, ...]) -> sp.Expr:
        shape = shape_of(expr, self.shapes)
        if not shape:
            where = ()
        if isinstance(expr, sp.Symbol):
            return sp.IndexedBase(expr)[where] if where else expr
        if isinstance(expr, ones):  # every entry of 𝟙 is 1
            return sp.S.One
        if not expr.args:
            return expr
        args = expr.args
        if isinstance(expr, matmul):
            return self.product(args[0], args[1], where)
        if isinstance(expr, outer):
            return self.at(args[0], where[:1]) * self.at(args[1], where[1:])
        if isinstance(expr, transpose):
            return self.at(args[0], (where[1], where[0]))
        if isinstance(expr, total):
            inner = shape_of(args[0], self.shapes)
            fresh = tuple(self.indices.next() for _ in inner)
            body = self.at(args[0], fresh)
            for index, axis in zip(fresh, inner, strict=True):
                body = self.summed(body, index, axis)
            return body
        if isinstance(expr, diag):
            if len(shape) == 2:  # a vector on the diagonal
                return self.at(args[0], where[:1]) * sp.KroneckerDelta(where[0], where[1])
            return self.at(args[0], (where[0], where[0]))
        if isinstance(expr, softmax | logsumexp):
            (axis,) = shape_of(args[0], self.shapes)
            k = self.indices.next()
            denominator = self.summed(sp.exp(self.at(args[0], (k,))), k, axis)
            if isinstance(expr, logsumexp):
                return sp.log(denominator)
            return sp.exp(self.at(args[0], where)) / denominator
        return expr.func(*(self.at(arg, where) for arg in args))

    def product(self, left: sp.Expr, right: sp.Expr, where: tuple[sp.Symbol, ...]) -> sp.Expr:
        """Entry `where` of left @ right: a sum over the shared axis."""
        left_shape, right_shape = shape_of(left, self.shapes), shape_of(right, self.shapes)
        k = self.indices.next()
        rows = where[: len(left_shape) - 1]
        columns = where[len(left_shape) - 1 :]
        body = self.at(left, (*rows, k)) * self.at(right, (k, *columns))
        return self.summed(body, k, right_shape[0])
