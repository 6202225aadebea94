"""dL/dX of a batch-level model in its compact form: column by column over the batch.

A batch-level model (`spec.shapes.batch_inputs`) couples the samples of its batch X[m,n] through
statistics over the batch: column sums 𝟙ᵀM, spread back over the rows as 𝟙uᵀ. The vector form's
dL/dX follows the chain through them and comes out long; written column by column it is short.
Here an m × n expression is read as NumPy reads it, each row of n values broadcast over the m
rows: 𝟙uᵀ is u, Mᵀ𝟙 a column sum Σ(M), and the rules of a sum over rows apply (a factor that is
the same in every row comes out of it: Σ(𝟙uᵀ ⊙ M) = u ⊙ Σ(M), Σ(𝟙uᵀ) = m·u). Each definition
written back in where that shortens the result (D = X̂ ⊙ 𝟙σᵀ where X̂ = D/𝟙σᵀ), batch
normalisation's dL/dX becomes the textbook's (1/m)·γ/σ·(m·dY − 𝟙ᵀdY − X̂ ⊙ 𝟙ᵀ(dY ⊙ X̂)), each
𝟙ᵀ spread back over the rows. Every rewriting is an identity; `verify` checks the result
entry by entry against SymPy's diff all the same. Anything else (a product of matrices, a vector
over the batch's rows) leaves the result as the vector form wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

from symcalc.symbolic.arrays import BY_CLASS, Shape, dimension, matmul, ones, outer, shape_of, transpose
from symcalc.symbolic.forms import adds_denominator, tidy, tree_size

#: Results larger than this (nodes) are left as they are: the search below costs their size squared.
MAX_NODES = 2_000


class ColumnSums(sp.Function):
    """Σ(M): the sums over the batch's rows of an m × n expression M, a row of n values (Mᵀ𝟙)."""

    nargs = 1


class _Unsupported(Exception):
    """Something this reading of rows does not cover: the result stays as it was."""


def compact(
    result: sp.Expr,
    shape: Shape,
    shapes: Mapping[sp.Basic, Shape],
    definitions: Mapping[sp.Symbol, sp.Expr],
    adjoints: Sequence[sp.Expr] = (),
) -> sp.Expr:
    """`result` (dL/dX of shape [m, n]) column by column and as short as it gets, gathered around the
    first of the upstream `adjoints`' values (Y − T) it can be written with; itself otherwise."""
    if len(shape) != 2 or not isinstance(shape[0], str) or tree_size(result, MAX_NODES) > MAX_NODES:
        return result
    rows = _Rows(shape, shapes)
    try:
        flat = rows.read(result)
    except _Unsupported:
        return result
    written = {}
    for node, expr in definitions.items():
        try:
            written[node] = rows.read(expr)
        except _Unsupported:
            continue  # a definition that is not read row by row is not written back in
    best = _shortest(rows, flat, written)
    if best == flat:
        return result
    return rows.write(_through_adjoints(rows, best, adjoints))


def _through_adjoints(rows: _Rows, expr: sp.Expr, adjoints: Sequence[sp.Expr]) -> sp.Expr:
    """`expr` gathered around an upstream adjoint's value, as a lecture writes it with dY for dL/dY:
    Y − T held as one name while the terms are put over one denominator, then put back."""
    for value in adjoints:
        try:
            flat = rows.read(value)
        except _Unsupported:
            continue
        name = next((s for s in sorted(flat.free_symbols, key=sp.default_sort_key) if rows.in_rows(s)), None)
        solved = None if name is None else _solved(flat - _HELD, name)
        if solved is None or not expr.has(name) or adds_denominator(solved, flat):
            continue
        held = sp.factor_terms(sp.together(rows.apart(expr.subs(name, solved))))
        if not held.has(name):
            return held.xreplace({_HELD: flat})
    return sp.factor_terms(sp.together(expr))


_HELD = sp.Dummy("held")


def _shortest(rows: _Rows, flat: sp.Expr, written: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    """`flat` with definitions written back in, one at a time, wherever that makes it shorter; and
    the Σ of a defined matrix as the Σ of its definition where that is shorter (Σ(D) = 0 for
    D = X − 𝟙μᵀ, μ = Σ(X)/m)."""
    rows_of = {node: value for node, value in written.items() if not rows.in_rows(node)}
    candidates = [c for node, value in written.items() for c in _substitutions(node, value)]
    sums: dict[sp.Expr, sp.Expr] = {}  # in file order: Σ(X̂) = Σ(D)/σ reads Σ(D) = 0 from above
    for node, value in written.items():
        if rows.in_rows(node):
            sums[ColumnSums(node)] = rows.apart(
                rows.apart(ColumnSums(value.xreplace(rows_of))).xreplace(sums)
            )
    candidates += [{whole: value} for whole, value in sums.items()]
    best = _tidied(rows, flat)
    improved = True
    while improved:
        improved = False
        for candidate in candidates:
            tried = _tidied(rows, best.subs(candidate))
            if _size(tried) < _size(best):
                best, improved = tried, True
    return best


def _substitutions(node: sp.Symbol, value: sp.Expr) -> list[dict[sp.Expr, sp.Expr]]:
    """The ways `node = value` can be written in: the value as the name, or a name it uses solved for."""
    found: list[dict[sp.Expr, sp.Expr]] = []
    if not value.is_Atom:
        found.append({value: node})
    for name in sorted(value.free_symbols, key=sp.default_sort_key):
        if isinstance(name, sp.Symbol) and name != node and name.is_integer is not True:
            solved = _solved(value - node, name)
            # never a new division: X̂ = (Y − β)/γ written in for X̂ would divide by γ, 0 somewhere
            if solved is not None and not adds_denominator(solved, value):
                found.append({name: solved})
    return found


def _solved(equation: sp.Expr, name: sp.Symbol) -> sp.Expr | None:
    """`name` from `equation` = 0 when it is linear in it with a slope that is a product of powers
    (D/σ = X̂ gives D = X̂σ, where σ ≠ 0 as the definition needs), else None."""
    if not equation.is_polynomial(name):
        return None
    poly = sp.Poly(equation, name)
    if poly.degree() != 1:
        return None
    slope, offset = poly.all_coeffs()
    if any(isinstance(factor.as_base_exp()[0], sp.Add) for factor in sp.Mul.make_args(slope)):
        return None
    return sp.together(-offset / slope)


def _tidied(rows: _Rows, expr: sp.Expr) -> sp.Expr:
    """The sums over rows taken apart (`_Rows.apart`), then the shortest of a few exact rewritings."""
    expr = rows.apart(expr)
    candidates = [expr, tidy(expr), sp.together(expr), sp.factor_terms(sp.together(expr))]
    return min(candidates, key=_size)


def _size(expr: sp.Expr) -> int:
    return int(sp.count_ops(expr, visual=False)) + tree_size(expr, MAX_NODES) // 4


class _Rows:
    """Reading an m × n expression entry by entry as a row broadcast over the m rows, and back."""

    def __init__(self, shape: Shape, shapes: Mapping[sp.Basic, Shape]):
        self.batch = dimension(str(shape[0]))
        self.shape, self.row = shape, shape[1:]
        self.shapes = shapes

    def read(self, expr: sp.Expr) -> sp.Expr:
        """`expr` with 𝟙uᵀ as u and Mᵀ𝟙 (or 𝟙ᵀM) as Σ(M): every name is a matrix, a row or a number."""
        if isinstance(expr, outer) and self._is_ones(expr.args[0]):
            return self._in_row(self.read(expr.args[1]))
        if isinstance(expr, matmul):
            left, right = expr.args
            if isinstance(left, transpose) and self._is_ones(right):
                return ColumnSums(self.read(left.args[0]))
            if self._is_ones(left):
                return ColumnSums(self.read(right))
            raise _Unsupported
        if isinstance(expr, sp.Symbol):
            if shape_of(expr, self.shapes) not in (self.shape, self.row, ()):
                raise _Unsupported
            return expr
        if expr.is_Atom:
            return expr
        if not isinstance(expr, sp.Add | sp.Mul | sp.Pow | sp.Function) or type(expr) in BY_CLASS:
            raise _Unsupported  # transpose, a product of matrices, softmax …: not a row-wise reading
        return expr.func(*(self.read(arg) for arg in expr.args))

    def _in_row(self, expr: sp.Expr) -> sp.Expr:
        if self.in_rows(expr):
            raise _Unsupported  # 𝟙uᵀ of something that is not a row
        return expr

    def _is_ones(self, expr: sp.Expr) -> bool:
        return isinstance(expr, ones) and expr.args[0] == self.batch

    def in_rows(self, expr: sp.Expr) -> bool:
        """Whether `expr` changes from row to row (it holds a matrix outside every Σ)."""
        if isinstance(expr, ColumnSums):
            return False
        if isinstance(expr, sp.Symbol):
            return expr == _HELD or shape_of(expr, self.shapes) == self.shape
        return any(self.in_rows(arg) for arg in expr.args)

    def apart(self, expr: sp.Expr) -> sp.Expr:
        """Every Σ of `expr` with what is the same in every row taken out of it, innermost first."""
        if isinstance(expr, ColumnSums):
            return self._column_sums(self.apart(expr.args[0]))
        if expr.is_Atom:
            return expr
        return expr.func(*(self.apart(arg) for arg in expr.args))

    def _column_sums(self, inner: sp.Expr) -> sp.Expr:
        """Σ(inner) term by term: Σ(u ⊙ M) = u ⊙ Σ(M) and Σ(u) = m·u; terms with the same u share a Σ."""
        by_factor: dict[sp.Expr, list[sp.Expr]] = {}
        same = []
        spread = sp.expand(inner, deep=False, power_base=False, power_exp=False, log=False, multinomial=False)
        for term in sp.Add.make_args(spread):
            number, term = term.as_coeff_Mul()
            fixed = sp.Mul(*(f for f in sp.Mul.make_args(term) if not self.in_rows(f)))
            varying = number * sp.Mul(*(f for f in sp.Mul.make_args(term) if self.in_rows(f)))
            if not self.in_rows(varying):
                same.append(fixed * varying)
            else:
                by_factor.setdefault(fixed, []).append(varying)
        summed = []
        for fixed, terms in by_factor.items():
            number, rest = sp.factor_terms(sp.Add(*terms)).as_coeff_Mul()
            summed.append(number * fixed * ColumnSums(rest))
        return sp.Add(*summed) + self.batch * sp.Add(*same)

    def write(self, expr: sp.Expr) -> sp.Expr:
        """The file's syntax again: a row beside a matrix as 𝟙uᵀ, Σ(M) as Mᵀ𝟙."""
        if not self.in_rows(expr):
            value = self._row(expr)
            if not value.free_symbols - {self.batch}:
                return value
            if value.could_extract_minus_sign():  # −𝟙uᵀ rather than 𝟙(−u)ᵀ
                return -outer(ones(self.batch), -value)
            return outer(ones(self.batch), value)
        if expr.is_Atom:
            return expr
        if isinstance(expr, sp.Mul):
            numbers = [f for f in expr.args if f.free_symbols <= {self.batch}]
            varying = [self.write(f) for f in expr.args if self.in_rows(f)]
            same = [f for f in expr.args if not self.in_rows(f) and f not in numbers]
            shared = [self.write(sp.Mul(*same))] if same else []
            return sp.Mul(*numbers, *shared, *varying)
        if isinstance(expr, sp.Pow):
            return sp.Pow(self.write(expr.base), expr.exp)
        return expr.func(*(self.write(arg) for arg in expr.args))

    def _row(self, expr: sp.Expr) -> sp.Expr:
        """A row (or number) in the file's syntax: Σ(M) as Mᵀ𝟙."""
        if isinstance(expr, ColumnSums):
            return matmul(transpose(self.write(expr.args[0])), ones(self.batch))
        if expr.is_Atom:
            return expr
        return expr.func(*(self._row(arg) for arg in expr.args))
