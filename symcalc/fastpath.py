"""The fast path of `NumericModel`: weights in linear forms, evaluated as matrix products in blocks.

Most models put their weights in linear forms z = Σ wₖxₖ + b, and every weight
gradient is then (a per-sample factor F) × (an input xₖ). Instead of one array
expression per parameter (which repeats the shared work d times and makes an
N-long temporary for each), the plan computes Z = X·W + c for all forms with one
matrix product, evaluates the remaining per-sample "head" (the loss and the
distinct factors F, in the forms' symbols only) once, and gets every weight
gradient from one product Xᵀ·F. Rows go through in cache-sized blocks, so no
temporary is longer than a block. σ(u) and softplus(u) share one exp(−|u|).

The plan is found symbolically from the same stable expressions as the generic
program; where the pattern does not hold (an input outside a linear form, a
gradient term that is not F·xₖ) `build_plan` returns None and the generic
program is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p

from symcalc.functions import sigmoid, softplus
from symcalc.numeric import Program, StablePrinter, code_symbol

Array = np.ndarray[Any, np.dtype[np.float64]]

#: Bytes of stacked inputs per block: small enough that a block read for Z is still
#: in cache when Xᵀ·F reads it again, large enough that Python's per-call cost is noise.
BLOCK_BYTES = 1 << 19
MIN_ROWS, MAX_ROWS = 4096, 65536


class _Pick(sp.Function):
    """_Pick(u, a, b) is a where u ≥ 0, else b: σ from one exp(−|u|) without overflow on either side."""

    nargs = 3


class FastPrinter(StablePrinter):
    """The stable printer, plus `_Pick` as numpy.where."""

    def _print__Pick(self, expr: sp.Expr) -> str:
        u, a, b = (self._print(arg) for arg in expr.args)
        return f"{self._module_format('numpy.where')}(({u}) >= 0, {a}, {b})"


@dataclass(frozen=True)
class _Term:
    """One additive term of a gradient: coefficient × (factor j) × (input k, or 1 when k is None)."""

    coefficient: float
    factor: int
    column: int | None


class _NotApplicable(Exception):
    """The model does not have the shape the fast path needs."""


def _linear_split(
    expr: sp.Expr, inputs: Sequence[sp.Symbol], data: set[sp.Symbol]
) -> tuple[dict[int, sp.Expr], sp.Expr, sp.Expr] | None:
    """For an Add: ({input index: coefficient}, bias, the other terms) when some terms are w·xₖ, else None.

    A term is w·xₖ when it is one input to the first power times a factor free of
    data; a term free of data goes into the bias. Everything else stays outside.
    """
    if not expr.is_Add:
        return None
    weights: dict[int, sp.Expr] = {}
    bias: list[sp.Expr] = []
    rest: list[sp.Expr] = []
    index = {s: k for k, s in enumerate(inputs)}
    for term in expr.args:
        if not (term.free_symbols & data):
            bias.append(term)
            continue
        factors = sp.Mul.make_args(term)
        found = [f for f in factors if f in index]
        others = [f for f in factors if f not in index]
        coefficient = sp.Mul(*others)
        if len(found) == 1 and not (coefficient.free_symbols & data):
            k = index[found[0]]
            weights[k] = weights.get(k, sp.S.Zero) + coefficient
        else:
            rest.append(term)
    if not weights:
        return None
    return weights, sp.Add(*bias), sp.Add(*rest)


class _Forms:
    """The linear forms found so far, each a symbol _zj; a form and its negation share one symbol."""

    def __init__(self, inputs: Sequence[sp.Symbol], data: set[sp.Symbol]) -> None:
        self.inputs = tuple(inputs)
        self.data = data
        self.forms: list[tuple[dict[int, sp.Expr], sp.Expr]] = []
        self.symbols: list[sp.Symbol] = []
        self._keys: dict[tuple[Any, ...], sp.Expr] = {}

    @staticmethod
    def _key(weights: dict[int, sp.Expr], bias: sp.Expr) -> tuple[Any, ...]:
        return (tuple(sorted(weights.items(), key=lambda kv: kv[0])), bias)

    def symbol_for(self, weights: dict[int, sp.Expr], bias: sp.Expr) -> sp.Expr:
        first = weights[min(weights)]
        if first.could_extract_minus_sign():  # keep z = w·x + b, not −z, whichever the loss meets first
            return -self.symbol_for({k: -c for k, c in weights.items()}, -bias)
        key = self._key(weights, bias)
        if key in self._keys:
            return self._keys[key]
        negated = self._key({k: -c for k, c in weights.items()}, -bias)
        if negated in self._keys:
            return -self._keys[negated]
        symbol = sp.Symbol(f"_z{len(self.symbols)}", real=True)
        self.forms.append((weights, bias))
        self.symbols.append(symbol)
        self.data.add(symbol)  # a form inside another is per-sample data, never part of a bias
        self._keys[key] = symbol
        return symbol

    def replace(self, expr: sp.Expr) -> sp.Expr:
        """`expr` with every linear form replaced by its symbol, innermost first."""
        if expr.is_Atom:
            return expr
        rebuilt = expr.func(*(self.replace(a) for a in expr.args)) if expr.args else expr
        split = _linear_split(rebuilt, self.inputs, self.data)
        if split is None:
            return rebuilt
        weights, bias, rest = split
        return self.symbol_for(weights, bias) + rest


def _one_exp(outputs: Sequence[sp.Expr]) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """σ(±u) and softplus(±u) of one u rewritten through e = exp(−|u|), computed once.

    softplus(u) = max(u, 0) + log1p(e) and σ(u) = 1/(1 + e) for u ≥ 0, e/(1 + e)
    otherwise: the forms numpy's logaddexp uses, without its second exp and log.
    """
    atoms: set[sp.Expr] = set()
    for out in outputs:
        atoms |= out.atoms(sigmoid, softplus)
    groups: dict[sp.Expr, list[sp.Expr]] = {}
    for atom in sorted(atoms, key=sp.default_sort_key):
        u = atom.args[0]
        canonical = -u if u.could_extract_minus_sign() else u
        groups.setdefault(canonical, []).append(atom)
    prologue: list[tuple[sp.Symbol, sp.Expr]] = []
    replace: dict[sp.Expr, sp.Expr] = {}
    for g, (u, members) in enumerate(groups.items()):
        e = sp.Symbol(f"_e{g}", real=True)
        prologue.append((e, sp.exp(-sp.Abs(u))))
        if any(isinstance(m, sigmoid) for m in members):
            r = sp.Symbol(f"_r{g}", real=True)
            er = sp.Symbol(f"_q{g}", real=True)
            prologue += [(r, 1 / (1 + e)), (er, e * r)]
        if any(isinstance(m, softplus) for m in members):
            log = sp.Symbol(f"_l{g}", real=True)
            prologue.append((log, log1p(e)))
        for m in members:
            positive = m.args[0] == u
            if isinstance(m, sigmoid):
                replace[m] = _Pick(u, r, er) if positive else _Pick(u, er, r)
            else:
                replace[m] = sp.Max(m.args[0], 0) + log
    return prologue, [out.xreplace(replace) for out in outputs]


def _terms(gradient: sp.Expr, inputs: Sequence[sp.Symbol], data: set[sp.Symbol]) -> list[tuple[Any, ...]]:
    """A gradient as Σₖ xₖ·Fₖ + F + s: (coefficient, factor, input index or None) terms and (s,).

    Terms are grouped by the input they multiply before the factors are formed, so
    x₁·(a − y) and (a − y) share one factor a − y, however the gradient was summed.
    """
    index = {s: k for k, s in enumerate(inputs)}
    by_column: dict[int | None, list[sp.Expr]] = {}
    scalar: list[sp.Expr] = []
    for term in sp.Add.make_args(gradient):
        if not (term.free_symbols & data):
            scalar.append(term)
            continue
        factors = sp.Mul.make_args(term)
        found = [f for f in factors if f in index]
        rest = sp.Mul(*(f for f in factors if f not in index))
        if len(found) > 1 or (rest.free_symbols & set(inputs)):
            raise _NotApplicable(f"gradient term {term} is not a factor times one input")
        by_column.setdefault(index[found[0]] if found else None, []).append(rest)
    terms: list[tuple[Any, ...]] = []
    for column, parts in by_column.items():
        coefficient, factor = sp.Add(*parts).as_coeff_Mul()
        terms.append((float(coefficient), factor, column))
    if scalar:
        terms.append((sp.Add(*scalar),))
    return terms


@dataclass
class Plan:
    """The compiled fast path of one program: forms, head and gradient assembly."""

    parameters: tuple[str, ...]
    n_inputs: int
    n_forms: int
    n_factors: int
    #: (params..., constants...) -> [coefficients (forms × inputs, row-major)..., biases..., scalars...]
    weights: Callable[..., Any]
    #: (z..., targets..., params..., constants...) -> [loss, factor 0, factor 1, ...] per sample
    head: Callable[..., Any]
    #: per parameter: its terms; a term is (coefficient, factor, column) or (scalar index,)
    terms: tuple[tuple[_Term | int, ...], ...]
    #: factors that multiply an input column / that are summed alone
    with_inputs: tuple[int, ...]
    alone: tuple[int, ...]

    def rows(self) -> int:
        return int(min(MAX_ROWS, max(MIN_ROWS, BLOCK_BYTES // (8 * max(1, self.n_inputs)))))

    def evaluate(
        self,
        params: Sequence[float],
        inputs: Sequence[Array],
        targets: Sequence[Array],
        constants: Sequence[float],
    ) -> tuple[float, list[float]] | None:
        """Mean loss and mean gradients, or None when the data is not equal-length 1-D columns."""
        columns = [*inputs, *targets]
        if not columns or any(c.ndim != 1 for c in columns) or len({len(c) for c in columns}) != 1:
            return None
        n = len(columns[0])
        if n == 0:
            return None
        d, f = self.n_inputs, self.n_forms
        values = self.weights(*params, *constants)
        coefficients = np.array(values[: f * d], dtype=np.float64).reshape(f, d)
        biases = np.array(values[f * d : f * d + f], dtype=np.float64)
        scalars = [float(v) for v in values[f * d + f :]]
        stacked = stack_view(inputs)
        rows = self.rows()
        block = None if stacked is not None else np.empty((d, rows), dtype=np.float64)
        cross = np.zeros((len(self.with_inputs), d), dtype=np.float64)  # Σ F_j xₖ over samples
        sums = np.zeros(self.n_factors, dtype=np.float64)  # Σ F_j over samples
        loss = 0.0
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            if stacked is not None:
                xt = stacked[start:stop].T  # d × rows
            else:
                assert block is not None
                xt = block[:, : stop - start]
                for k, column in enumerate(inputs):
                    xt[k] = column[start:stop]
            z = coefficients @ xt  # forms × rows, one product for every form
            z += biases[:, None]
            outputs = self.head(*z, *(t[start:stop] for t in targets), *params, *constants)
            loss += _total(outputs[0], stop - start)
            for i, j in enumerate(self.with_inputs):
                cross[i] += xt @ np.broadcast_to(outputs[1 + j], (stop - start,))
            for j in self.alone:
                sums[j] += _total(outputs[1 + j], stop - start)
        position = {j: i for i, j in enumerate(self.with_inputs)}
        gradients = []
        for terms in self.terms:
            total = 0.0
            for term in terms:
                if isinstance(term, int):
                    total += scalars[term] * n
                elif term.column is None:
                    total += term.coefficient * sums[term.factor]
                else:
                    total += term.coefficient * cross[position[term.factor], term.column]
            gradients.append(total / n)
        return loss / n, gradients


def _total(value: Any, rows: int) -> float:
    """The sum over a block of a per-sample output, which may be a number when it does not vary."""
    if np.ndim(value) == 0:
        return float(value) * rows
    return float(np.sum(value))


def stack_view(columns: Sequence[Array]) -> Array | None:
    """The columns as one N × d array without copying, when they are evenly spaced views of one buffer.

    That is the case for the columns of a 2-D array (X[:, k], either memory order);
    None otherwise, and the plan then copies block by block.
    """
    if not columns:
        return None
    first = columns[0]
    if len(columns) == 1:
        return first[:, None]
    base = first.base
    if base is None or any(c.base is not base or c.strides != first.strides for c in columns):
        return None
    if any(c.shape != first.shape for c in columns):
        return None
    addresses = [c.__array_interface__["data"][0] for c in columns]
    step = addresses[1] - addresses[0]
    if any(a - addresses[0] != k * step for k, a in enumerate(addresses)):
        return None
    view: Array = np.lib.stride_tricks.as_strided(
        first, shape=(len(first), len(columns)), strides=(first.strides[0], step), writeable=False
    )
    return view


def build_plan(program: Program) -> Plan | None:
    """The fast path for `program`, or None when its loss and gradients do not have the shape it needs."""
    try:
        return _build(program)
    except _NotApplicable:
        return None


def _build(program: Program) -> Plan:
    model = program.model
    rename = {s: code_symbol(s) for s in model.independents}
    params = [code_symbol(s) for s in model.parameters]
    inputs = [code_symbol(s) for s in model.inputs]
    targets = [code_symbol(s) for s in model.targets]
    constants = [code_symbol(s) for s, _ in model.constants]
    if not inputs:
        raise _NotApplicable("no inputs")
    data = set(inputs) | set(targets)
    forms = _Forms(inputs, data)
    loss = forms.replace(program.loss.xreplace(rename))
    gradients = [forms.replace(g.xreplace(rename)) for g in program.gradients]
    if not forms.symbols:
        raise _NotApplicable("no linear form of the inputs")
    if loss.free_symbols & set(inputs):
        raise _NotApplicable("the loss uses an input outside a linear form")
    data |= set(forms.symbols)
    factors: list[sp.Expr] = []
    scalars: list[sp.Expr] = []
    terms: list[tuple[_Term | int, ...]] = []
    for gradient in gradients:
        mine: list[_Term | int] = []
        for term in _terms(gradient, inputs, data):
            if len(term) == 1:
                scalars.append(term[0])
                mine.append(len(scalars) - 1)
                continue
            coefficient, factor, column = term
            if factor not in factors:
                factors.append(factor)
            mine.append(_Term(coefficient, factors.index(factor), column))
        terms.append(tuple(mine))
    with_inputs = sorted(
        {t.factor for ts in terms for t in ts if isinstance(t, _Term) and t.column is not None}
    )
    alone = sorted({t.factor for ts in terms for t in ts if isinstance(t, _Term) and t.column is None})
    d, f = len(inputs), len(forms.symbols)
    weight_exprs = [forms.forms[j][0].get(k, sp.S.Zero) for j in range(f) for k in range(d)]
    weight_exprs += [forms.forms[j][1] for j in range(f)] + scalars
    printer = FastPrinter({"fully_qualified_modules": True, "inline": True})
    weights = sp.lambdify(
        [*params, *constants], weight_exprs, modules="numpy", printer=printer, docstring_limit=0
    )
    prologue, head_outputs = _one_exp([loss, *factors])
    shared, reduced = sp.cse(head_outputs, symbols=sp.numbered_symbols("_t", real=True))
    head = sp.lambdify(
        [*forms.symbols, *targets, *params, *constants],
        head_outputs,
        modules="numpy",
        printer=FastPrinter({"fully_qualified_modules": True, "inline": True}),
        cse=lambda _exprs: ([*prologue, *shared], list(reduced)),
        docstring_limit=0,
    )
    return Plan(
        parameters=tuple(s.name for s in model.parameters),
        n_inputs=d,
        n_forms=f,
        n_factors=len(factors),
        weights=weights,
        head=head,
        terms=tuple(terms),
        with_inputs=tuple(with_inputs),
        alone=tuple(alone),
    )
