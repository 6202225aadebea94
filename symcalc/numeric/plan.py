"""The fast path of `NumericModel`: weights in linear forms, evaluated as matrix products in blocks.

Most models put their weights in linear forms z = Σ wₖxₖ + b, and every weight
gradient is then (a per-sample factor F) × (an input xₖ). Instead of one array
expression per parameter (which repeats the shared work d times and makes an
N-long temporary for each), the plan computes Z = X·W + c for all forms with one
matrix product, evaluates the remaining per-sample "head" (the program's lines
the loss and the distinct factors F need, in the forms' symbols) once, and gets
every weight gradient from one product Xᵀ·F. Rows go through in cache-sized
blocks, so no temporary is longer than a block. σ(u) and softplus(u) share one
exp(−|u|); without a softplus of u, σ(u) takes one exp and a reciprocal.

The plan is found symbolically, line by line, in the same program as the other
back ends read; where the pattern does not hold (an input outside a linear
form, a gradient term that is not F·xₖ) `build_plan` returns None and the
generic program is used.
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy
import sympy as sp
from sympy.codegen.cfunctions import log1p

from symcalc.numeric.names import code_symbol
from symcalc.numeric.program import Program, make_printer
from symcalc.symbolic.functions import SPECS, sigmoid, softplus

Array = numpy.ndarray[Any, numpy.dtype[numpy.float64]]

#: Bytes of stacked inputs per block: small enough that a block read for Z is still
#: in cache when Xᵀ·F reads it again, large enough that Python's per-call cost is noise.
BLOCK_BYTES = 1 << 21
MIN_ROWS, MAX_ROWS = 4096, 65536


class _NotApplicable(Exception):
    """The model does not have the shape the fast path needs."""


def _linear_split(
    expr: sp.Expr, inputs: Sequence[sp.Symbol], data: set[sp.Symbol]
) -> tuple[dict[int, sp.Expr], sp.Expr, sp.Expr] | None:
    """For a sum or product: ({input index: coefficient}, bias, other terms) when terms are w·xₖ, else None.

    A term is w·xₖ when it is one input to the first power times a factor free of
    data; a term free of data goes into the bias. Everything else stays outside.
    """
    if not (expr.is_Add or expr.is_Mul):
        return None
    weights: dict[int, sp.Expr] = {}
    bias: list[sp.Expr] = []
    rest: list[sp.Expr] = []
    index = {s: k for k, s in enumerate(inputs)}
    for term in sp.Add.make_args(expr):  # a product w·x alone is a sum of one term
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

    def _inside(self, expr: sp.Expr) -> sp.Expr:
        """`expr` with the forms inside its arguments replaced, but not `expr` itself."""
        return expr.func(*(self.replace(a) for a in expr.args)) if expr.args else expr

    def replace(self, expr: sp.Expr) -> sp.Expr:
        """`expr` with every linear form replaced by its symbol, innermost first."""
        if expr.is_Atom:
            return expr
        # A term w·x of a sum is part of the sum's form, not a form of its own: only its inside.
        rebuilt = sp.Add(*(self._inside(t) for t in expr.args)) if expr.is_Add else self._inside(expr)
        split = _linear_split(rebuilt, self.inputs, self.data)
        if split is None:
            return rebuilt
        weights, bias, rest = split
        return self.symbol_for(weights, bias) + rest


def _magnitude(arg: sp.Expr) -> sp.Expr:
    """u for ±u: σ(u) and σ(−u), softplus(u) and softplus(−u) share one exp(−|u|)."""
    return -arg if arg.could_extract_minus_sign() else arg


def _one_exp(outputs: Sequence[sp.Expr]) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """σ(±u) and softplus(±u) of one u rewritten through l = log1p(exp(−|u|)), computed once.

    softplus(u) = max(u, 0) + l, softplus(−u) = l − min(u, 0), σ(u) = exp(min(u, 0) − l)
    and σ(−u) = exp(−max(u, 0) − l): numpy's logaddexp and the generic program's
    σ(u) = exp(−logaddexp(0, −u)) in the same arithmetic, with one exp and log1p shared
    by every σ and softplus of u, and no select between two branches. (Not expanded to
    softplus(u) − y·u: for y = 1 and large u that cancels to a loss with no correct digits.)
    """
    atoms: set[sp.Expr] = set()
    for out in outputs:
        atoms |= out.atoms(sigmoid, softplus)
    # Where no softplus of u needs log1p, σ(±u) is left to `_InPlace`: one exp and a reciprocal.
    with_log = {_magnitude(atom.args[0]) for atom in atoms if isinstance(atom, softplus)}
    atoms = {atom for atom in atoms if _magnitude(atom.args[0]) in with_log}
    prologue: list[tuple[sp.Symbol, sp.Expr]] = []
    names: dict[sp.Expr, tuple[sp.Symbol, sp.Symbol, sp.Symbol]] = {}
    replace: dict[sp.Expr, sp.Expr] = {}
    for atom in sorted(atoms, key=sp.default_sort_key):
        arg = atom.args[0]
        u = _magnitude(arg)
        if u not in names:
            # Named, so that cse sees max, min and l as leaves and does not split off −min(u, 0).
            g = len(names)
            high, low, log = (sp.Symbol(f"_{k}{g}", real=True) for k in "hml")
            prologue += [(high, sp.Max(u, 0)), (low, sp.Min(u, 0)), (log, log1p(sp.exp(low - high)))]
            names[u] = (high, low, log)
        high, low, log = names[u]
        if isinstance(atom, softplus):
            replace[atom] = high + log if arg == u else log - low
        else:
            replace[atom] = sp.exp(low - log) if arg == u else sp.exp(-high - log)
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


# -- the runtime: numpy-only functions, pasted into generated modules (so ASCII docstrings) ------


def stack_view(columns: Sequence[Array]) -> Array | None:
    """The columns as one N x d array without copying, when they are evenly spaced views of one buffer.

    That is so for the columns of a 2-D array (X[:, k], in either memory order);
    otherwise None, and the rows are copied block by block instead.
    """
    first = columns[0]
    if len(columns) == 1:
        return first[:, None]
    # Plain loops, not any(generator): ast.unparse would print any((…)), which linters flag.
    base = first.base
    start = first.__array_interface__["data"][0]
    step = columns[1].__array_interface__["data"][0] - start
    for k, column in enumerate(columns):
        if base is None or column.base is not base or column.strides != first.strides:
            return None
        if column.__array_interface__["data"][0] - start != k * step:
            return None
    return numpy.lib.stride_tricks.as_strided(
        first, shape=(first.shape[0], len(columns)), strides=(first.strides[0], step), writeable=False
    )


def block_total(value: Any, rows: int) -> float:
    """The sum over a block of a per-sample output, which is a number when it does not vary by sample."""
    if isinstance(value, numpy.ndarray) and value.ndim == 1:
        return float(value.sum())  # the method: a few microseconds less than numpy.sum per call
    return float(value) * rows


def evaluate_plan(
    layout: Layout,
    weights: Callable[..., Any],
    head: Callable[..., Any],
    params: Sequence[float],
    inputs: Sequence[Array],
    targets: Sequence[Array],
    constants: Sequence[float],
) -> tuple[float, list[float]] | None:
    """Mean loss and mean gradients by a plan, or None unless the data are 1-D columns of one length."""
    d, f, n_factors, rows, terms, with_inputs, alone, n_buffers = layout
    n = -1
    for column in (*inputs, *targets):
        if column.ndim != 1 or (n >= 0 and column.shape[0] != n):
            return None
        n = column.shape[0]
    if n <= 0:
        return None
    values = weights(*params, *constants)
    coefficients = numpy.array(values[: f * d], dtype=numpy.float64).reshape(f, d)
    biases = numpy.array(values[f * d : f * d + f], dtype=numpy.float64).reshape(f, 1)
    # A view of X saves copying a block, but below about 12 columns the product with a strided
    # view costs more than the copy (1e6 x 2: 9.2 ms viewed, 5.5 ms copied; 1e6 x 30: 25 against 30).
    stacked = stack_view(inputs) if n > rows and d >= 12 else None
    # Separate columns are copied a block at a time into one buffer: never an N × d copy.
    block = numpy.empty((d, min(rows, n)), dtype=numpy.float64) if stacked is None else None
    buffers = numpy.empty((n_buffers, min(rows, n)), dtype=numpy.float64)
    cross = numpy.zeros((len(with_inputs), d), dtype=numpy.float64)  # Σ over samples of F_j·xₖ
    sums = [0.0] * n_factors  # Σ over samples of F_j
    loss = 0.0
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        size = stop - start
        if block is None:
            xt = stacked[start:stop].T  # type: ignore[index]
        else:
            xt = block[:, :size]
            for k, column in enumerate(inputs):
                xt[k] = column[start:stop]
        z = coefficients @ xt  # every linear form of the block in one product
        z += biases
        outputs = head(*z, *(t[start:stop] for t in targets), *params, *constants, buffers[:, :size])
        loss += outputs[0]  # the head sums the loss over the block itself
        for i, j in enumerate(with_inputs):  # Xᵀ·F: every weight gradient of factor j in one product
            factor = outputs[1 + j]
            if not (isinstance(factor, numpy.ndarray) and factor.ndim == 1):
                factor = numpy.full(size, float(factor))  # a factor that does not vary by sample
            cross[i] += xt @ factor
        for j in alone:
            sums[j] += block_total(outputs[1 + j], size)
    scalars = values[f * d + f :]
    gradients = []
    for mine in terms:
        total = 0.0
        for kind, coefficient, index, k in mine:
            if kind == "x":
                total += coefficient * float(cross[with_inputs.index(index), k])
            elif kind == "1":
                total += coefficient * sums[index]
            else:
                total += float(scalars[index]) * n
        gradients.append(total / n)
    return loss / n, gradients


#: (inputs, forms, factors, block rows, per-parameter terms, factors times inputs, factors summed alone);
#: a term is ("x", coefficient, factor, input), ("1", coefficient, factor, 0) or ("s", 0.0, scalar, 0);
#: last, the number of block-long buffers the head writes into.
Layout = tuple[
    int,
    int,
    int,
    int,
    tuple[tuple[tuple[str, float, int, int], ...], ...],
    tuple[int, ...],
    tuple[int, ...],
    int,
]


@dataclass(frozen=True)
class Plan:
    """The fast path of one program: its code (numpy only) and the layout `evaluate_plan` follows."""

    source: str
    layout: Layout
    weights: Callable[..., Any] = field(repr=False)
    head: Callable[..., Any] = field(repr=False)
    name: str = field(default="numpy", init=False)

    def evaluate(
        self, params: Sequence[float], columns: Sequence[Any], constants: Sequence[float]
    ) -> tuple[float, list[float]] | None:
        inputs, targets = columns[: self.layout[0]], columns[self.layout[0] :]  # layout[0]: the inputs
        with numpy.errstate(all="ignore"):  # non-finite values are the caller's to check, not warnings
            return evaluate_plan(self.layout, self.weights, self.head, params, inputs, targets, constants)

    def describe(self) -> str:
        return "NumPy plan"


def runtime_source() -> str:
    """The source of the runtime functions without annotations, for a module that imports only numpy."""
    parts = []
    for function in (stack_view, block_total, evaluate_plan):
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                node.returns = None
                for arg in node.args.args:
                    arg.annotation = None
        parts.append(ast.unparse(tree))
    return "\n\n\n".join(parts) + "\n"


def build_plan(program: Program, *, with_loss: bool = True, name: str = "_fast") -> Plan | None:
    """The fast path for `program`, or None when its loss and gradients do not have the shape it needs.

    Without the loss, the head computes only what the gradients need and sums 0 for the loss.
    `name` prefixes the functions and layout in `Plan.source` (`_fast_weights`, `_fast_head`,
    `_FAST_LAYOUT`), so a module can hold two plans.
    """
    try:
        return _build(program, with_loss, name)
    except _NotApplicable:
        return None


def _function(
    name: str,
    arguments: Sequence[sp.Symbol],
    shared: Sequence[tuple[sp.Symbol, sp.Expr]],
    outputs: Sequence[sp.Expr],
) -> list[str]:
    printer = make_printer()
    lines = [f"def {name}({', '.join(s.name for s in arguments)}):"]
    lines += [f"    {sym.name} = {printer.doprint(expr)}" for sym, expr in shared]
    lines.append("    return [")
    lines += [f"        {printer.doprint(expr)}," for expr in outputs]
    lines.append("    ]")
    return lines


#: The ufunc computing each function in place: log1p (from the stable rewrites), then the table's.
_UNARY = {log1p: "log1p", **{spec.function: spec.ufunc for spec in SPECS.values() if spec.ufunc}}


class _InPlace:
    """Per-sample code as ufunc calls writing into reused block buffers: no allocation per block.

    Every array value lives in one of `_b[i]`; a buffer is reused as soon as the
    value in it has no later use, so the head needs a handful of block-long
    buffers however long its formulas are. Scalar sub-expressions (parameters,
    constants) are printed as they are and computed once per block.
    """

    def __init__(self, arrays: set[sp.Symbol], uses: dict[sp.Symbol, int]) -> None:
        self.printer = make_printer()
        self.arrays = set(arrays)
        self.uses = uses  # remaining uses of each named array temporary
        self.lines: list[str] = []
        self.free: list[int] = []
        self.count = 0
        self.owner: dict[sp.Symbol, int] = {}  # named temporary → its buffer
        self.kept: set[int] = set()  # buffers returned as outputs
        # Buffers of named values at their last use are freed only after the whole statement:
        # freed at once, another operand of the same operation could overwrite them first.
        self.pending: list[int] = []

    def _new(self) -> int:
        if self.free:
            return self.free.pop()
        self.count += 1
        return self.count - 1

    def _release(self, buffer: int | None) -> None:
        if buffer is not None and buffer not in self.kept and buffer not in self.free:
            self.free.append(buffer)

    def _emit(self, call: str) -> None:
        self.lines.append(f"    {call}")

    def is_array(self, expr: sp.Expr) -> bool:
        return bool(expr.free_symbols & self.arrays)

    def lower(self, expr: sp.Expr) -> tuple[str, int | None]:
        """(code naming the value, the temporary buffer that holds it or None)."""
        if not self.is_array(expr):
            return f"({self.printer.doprint(expr)})", None
        if expr.is_Symbol:
            self._used(expr)
            return expr.name, None
        if expr.is_Add or expr.is_Mul:
            return self._fold(expr)
        if expr.is_Pow:
            return self._pow(expr)
        if type(expr) in _UNARY:
            return self._unary(_UNARY[type(expr)], expr.args[0])
        if isinstance(expr, sigmoid):
            return self._sigmoid(expr.args[0])
        if isinstance(expr, (sp.Max, sp.Min)):
            name = "maximum" if isinstance(expr, sp.Max) else "minimum"
            return self._binary_chain(name, list(expr.args))
        # Anything else is printed whole: correct, only not in place.
        out = self._new()
        for sym in expr.free_symbols & self.arrays:
            self._used(sym)
        self._emit(f"numpy.copyto(_b[{out}], {self.printer.doprint(expr)})")
        return f"_b[{out}]", out

    def _used(self, sym: sp.Symbol) -> None:
        if sym in self.uses:
            self.uses[sym] -= 1
            if self.uses[sym] == 0 and sym in self.owner:
                self.pending.append(self.owner[sym])

    def _settle(self) -> None:
        for buffer in self.pending:
            self._release(buffer)
        self.pending.clear()

    def _target(self, *buffers: int | None) -> int:
        """The buffer for a result: the first operand's own temporary (in place) or a new one."""
        mine = [b for b in buffers if b is not None]
        out = mine[0] if mine else self._new()
        for b in mine[1:]:
            self._release(b)
        return out

    def _unary(self, name: str, arg: sp.Expr) -> tuple[str, int | None]:
        code, buffer = self.lower(arg)
        out = self._target(buffer)
        self._emit(f"numpy.{name}({code}, out=_b[{out}])")
        return f"_b[{out}]", out

    def _sigmoid(self, arg: sp.Expr) -> tuple[str, int | None]:
        """σ(u) with one exp, finite for every u: max(e, [u ≥ 0]) / (1 + e) with e = exp(−|u|).

        That is 1/(1 + e) where u ≥ 0 and e/(1 + e) below, selected by arithmetic (a masked
        copy costs more than the exp); about half the time of exp(min(u, 0) − log1p(e)), which
        the loss's softplus needs anyway. NaN stays NaN: e is NaN, and max propagates it.
        """
        code, buffer = self.lower(arg)
        e, r, s = self._new(), self._new(), self._new()
        for call in (
            f"numpy.abs({code}, out=_b[{e}])",
            f"numpy.negative(_b[{e}], out=_b[{e}])",
            f"numpy.exp(_b[{e}], out=_b[{e}])",
            f"numpy.add(_b[{e}], 1.0, out=_b[{r}])",
            f"numpy.reciprocal(_b[{r}], out=_b[{r}])",
            f"numpy.greater_equal({code}, 0.0, out=_b[{s}])",
            f"numpy.maximum(_b[{e}], _b[{s}], out=_b[{e}])",
            f"numpy.multiply(_b[{e}], _b[{r}], out=_b[{r}])",
        ):
            self._emit(call)
        self._release(e)
        self._release(s)
        self._release(buffer)
        return f"_b[{r}]", r

    def _binary_chain(self, name: str, args: list[sp.Expr]) -> tuple[str, int | None]:
        array_args = [a for a in args if self.is_array(a)]
        scalar_args = [a for a in args if not self.is_array(a)]
        code, buffer = self.lower(array_args[0])
        for arg in array_args[1:]:
            other, other_buffer = self.lower(arg)
            out = self._target(buffer, other_buffer)
            self._emit(f"numpy.{name}({code}, {other}, out=_b[{out}])")
            code, buffer = f"_b[{out}]", out
        for arg in scalar_args:
            out = self._target(buffer)
            self._emit(f"numpy.{name}({code}, ({self.printer.doprint(arg)}), out=_b[{out}])")
            code, buffer = f"_b[{out}]", out
        return code, buffer

    def _fold(self, expr: sp.Expr) -> tuple[str, int | None]:
        adding = expr.is_Add
        arrays = [a for a in expr.args if self.is_array(a)]
        scalar = (sp.Add if adding else sp.Mul)(*(a for a in expr.args if not self.is_array(a)))
        code, buffer = None, None
        if adding:  # positive terms first: u − v is one subtract, −v + u a negative and an add
            arrays.sort(key=lambda a: bool(a.is_Mul and a.args[0] == -1))
        for arg in arrays:
            negated = adding and arg.is_Mul and arg.args[0] == -1
            term = -arg if negated else arg
            other, other_buffer = self.lower(term)
            if code is None:
                if negated and scalar != 0:  # c − u in one call, not −u then + c
                    out = self._target(other_buffer)
                    self._emit(f"numpy.subtract(({self.printer.doprint(scalar)}), {other}, out=_b[{out}])")
                    code, buffer, scalar = f"_b[{out}]", out, sp.S.Zero
                elif negated:
                    out = self._target(other_buffer)
                    self._emit(f"numpy.negative({other}, out=_b[{out}])")
                    code, buffer = f"_b[{out}]", out
                else:
                    code, buffer = other, other_buffer
                continue
            out = self._target(buffer, other_buffer)
            name = ("subtract" if negated else "add") if adding else "multiply"
            self._emit(f"numpy.{name}({code}, {other}, out=_b[{out}])")
            code, buffer = f"_b[{out}]", out
        assert code is not None
        if adding and scalar != 0:
            out = self._target(buffer)
            self._emit(f"numpy.add({code}, ({self.printer.doprint(scalar)}), out=_b[{out}])")
            code, buffer = f"_b[{out}]", out
        elif not adding and scalar == -1:
            out = self._target(buffer)
            self._emit(f"numpy.negative({code}, out=_b[{out}])")
            code, buffer = f"_b[{out}]", out
        elif not adding and scalar != 1:
            out = self._target(buffer)
            self._emit(f"numpy.multiply({code}, ({self.printer.doprint(scalar)}), out=_b[{out}])")
            code, buffer = f"_b[{out}]", out
        if buffer is None:  # a bare input returned unchanged: copy, so an output never aliases an input
            out = self._new()
            self._emit(f"numpy.copyto(_b[{out}], {code})")
            code, buffer = f"_b[{out}]", out
        return code, buffer

    def _pow(self, expr: sp.Expr) -> tuple[str, int | None]:
        base, exponent = expr.args
        if self.is_array(exponent):
            out = self._new()
            for sym in expr.free_symbols & self.arrays:
                self._used(sym)
            self._emit(f"numpy.copyto(_b[{out}], {self.printer.doprint(expr)})")
            return f"_b[{out}]", out
        code, buffer = self.lower(base)
        out = self._target(buffer)
        if exponent == 2:
            self._emit(f"numpy.square({code}, out=_b[{out}])")
        elif exponent == -1:
            self._emit(f"numpy.reciprocal({code}, out=_b[{out}])")
        elif exponent == sp.S.Half:
            self._emit(f"numpy.sqrt({code}, out=_b[{out}])")
        else:
            self._emit(f"numpy.power({code}, ({self.printer.doprint(exponent)}), out=_b[{out}])")
        return f"_b[{out}]", out

    def assign(self, sym: sp.Symbol, expr: sp.Expr) -> None:
        if not self.is_array(expr):
            self._emit(f"{sym.name} = {self.printer.doprint(expr)}")
            return
        self.arrays.add(sym)
        code, buffer = self.lower(expr)
        if buffer is None:
            self._emit(f"{sym.name} = {code}")
        else:
            self._emit(f"{sym.name} = _b[{buffer}]")
            self.owner[sym] = buffer
            if self.uses.get(sym, 0) == 0:
                self._release(buffer)
        self._settle()

    def total(self, expr: sp.Expr) -> str:
        """The block's sum of `expr`, a number: a product of two arrays is one dot."""
        parts = []
        for k, term in enumerate(sp.Add.make_args(expr)):
            if not self.is_array(term):
                parts.append(f"({self.printer.doprint(term)}) * _b.shape[1]")
                continue
            coefficient, rest = term.as_independent(*self.arrays, as_Add=False)
            factors = sp.Mul.make_args(rest)
            if len(factors) == 2:
                (a, a_buffer), (b, b_buffer) = self.lower(factors[0]), self.lower(factors[1])
                self._emit(f"_s{k} = float(numpy.dot({a}, {b}))")
                buffers = [a_buffer, b_buffer]
            else:
                code, buffer = self.lower(rest)
                self._emit(f"_s{k} = float({code}.sum())")
                buffers = [buffer]
            for buffer in buffers:
                self._release(buffer)
            self._settle()
            parts.append(f"_s{k}" if coefficient == 1 else f"({self.printer.doprint(coefficient)}) * _s{k}")
        self._emit(f"_total = {' + '.join(parts)}")
        return "_total"

    def output(self, expr: sp.Expr) -> str:
        code, buffer = self.lower(expr)
        if buffer is None and expr.is_Symbol and expr in self.owner:
            buffer = self.owner[expr]
        if buffer is not None:
            self.kept.add(buffer)
            if buffer in self.free:
                self.free.remove(buffer)
        self._settle()
        return code


def _inplace_head(
    name: str,
    arguments: Sequence[sp.Symbol],
    arrays: set[sp.Symbol],
    shared: Sequence[tuple[sp.Symbol, sp.Expr]],
    outputs: Sequence[sp.Expr],
) -> tuple[list[str], int]:
    """The text of `_fast_head(arguments..., _b)` and the number of buffers `_b` it needs.

    The first output (the loss) is returned as the block's sum; the others per sample.
    """
    uses: dict[sp.Symbol, int] = {}
    for expr in [*(e for _, e in shared), *outputs]:
        for node in sp.preorder_traversal(expr):
            if node.is_Symbol:
                uses[node] = uses.get(node, 0) + 1
    lower = _InPlace(arrays, uses)
    for sym, expr in shared:
        lower.assign(sym, expr)
    results = [lower.total(outputs[0]), *(lower.output(expr) for expr in outputs[1:])]
    lines = [f"def {name}({', '.join(s.name for s in arguments)}, _b):", *lower.lines, "    return ["]
    lines += [f"        {code}," for code in results]
    lines.append("    ]")
    return lines, lower.count


def _in_order(
    lines: Sequence[tuple[sp.Symbol, sp.Expr]], roots: Sequence[sp.Expr]
) -> list[tuple[sp.Symbol, sp.Expr]]:
    """The lines `roots` need, each after the lines it reads (a stable depth-first order).

    Lines placed out of order (the shared exp of `_one_exp`, cse's temporaries) move
    to just before their first use; the others keep the program's order.
    """
    value = dict(lines)
    order = {sym: k for k, (sym, _) in enumerate(lines)}
    emitted: set[sp.Symbol] = set()
    result: list[tuple[sp.Symbol, sp.Expr]] = []
    wanted: set[sp.Symbol] = set()
    for root in roots:
        wanted |= root.free_symbols & value.keys()
    stack = sorted(wanted, key=order.__getitem__, reverse=True)
    # An explicit stack: a 200-layer chain is deeper than Python's recursion limit allows.
    pending: list[tuple[sp.Symbol, bool]] = [(sym, False) for sym in stack]
    while pending:
        sym, ready = pending.pop()
        if sym in emitted:
            continue
        if ready:
            emitted.add(sym)
            result.append((sym, value[sym]))
            continue
        pending.append((sym, True))
        needs = [s for s in value[sym].free_symbols if s in value and s not in emitted]
        pending += [(s, False) for s in sorted(needs, key=order.__getitem__, reverse=True)]
    return result


def _without_aliases(
    lines: Sequence[tuple[sp.Symbol, sp.Expr]], outputs: Sequence[sp.Expr]
) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[sp.Expr]]:
    """`lines` and `outputs` with every line that only renames a value (dL_db = dL_dz) read through:
    the in-place head reuses a value's buffer after its last use, which a second name would hide."""
    aliases: dict[sp.Symbol, sp.Expr] = {}
    kept = []
    for sym, value in lines:
        value = value.xreplace(aliases)
        if value.is_Symbol or value.is_Number:
            aliases[sym] = value
        else:
            kept.append((sym, value))
    return kept, [output.xreplace(aliases) for output in outputs]


def _build(program: Program, with_loss: bool, name: str) -> Plan:
    model = program.model
    params = [code_symbol(s) for s in model.parameters]
    inputs = [code_symbol(s) for s in model.inputs]
    targets = [code_symbol(s) for s in model.targets]
    constants = [code_symbol(s) for s, _ in model.constants]
    if not inputs:
        raise _NotApplicable("no inputs")
    data = set(inputs) | set(targets)  # per-sample values: grows with every line that reads one
    forms = _Forms(inputs, data)
    gradient_lines = {g for g in program.gradients if g.is_Symbol}
    lines: list[tuple[sp.Symbol, sp.Expr]] = []
    gradients = {}
    for target, value in program.shared:
        value = forms.replace(value)
        if value.free_symbols & data:
            data.add(target)
        if target in gradient_lines:
            gradients[target] = value
        elif value.free_symbols & set(inputs):
            raise _NotApplicable(f"{target} uses an input outside a linear form")
        else:
            lines.append((target, value))
    if not forms.symbols:
        raise _NotApplicable("no linear form of the inputs")
    factors: list[sp.Expr] = []
    scalars: list[sp.Expr] = []
    terms: list[tuple[tuple[str, float, int, int], ...]] = []
    for gradient in program.gradients:
        mine: list[tuple[str, float, int, int]] = []
        for term in _terms(gradients.get(gradient, gradient), inputs, data):
            if len(term) == 1:
                scalars.append(term[0])
                mine.append(("s", 0.0, len(scalars) - 1, 0))
                continue
            coefficient, factor, column = term
            if factor not in factors:
                factors.append(factor)
            kind = "1" if column is None else "x"
            mine.append((kind, coefficient, factors.index(factor), 0 if column is None else column))
        terms.append(tuple(mine))
    with_inputs = tuple(sorted({j for ts in terms for kind, _, j, _ in ts if kind == "x"}))
    alone = tuple(sorted({j for ts in terms for kind, _, j, _ in ts if kind == "1"}))
    d, f = len(inputs), len(forms.symbols)
    rows = int(min(MAX_ROWS, max(MIN_ROWS, BLOCK_BYTES // (8 * d))))
    weight_exprs = [forms.forms[j][0].get(k, sp.S.Zero) for j in range(f) for k in range(d)]
    weight_exprs += [forms.forms[j][1] for j in range(f)] + scalars
    # The weights and the scalar terms, from the lines that do not vary by sample (k = 2·w, say).
    fixed = [(sym, value) for sym, value in lines if sym not in data]
    loss = program.loss if with_loss else sp.S.Zero
    head_outputs = [loss, *factors]
    # Per sample: the lines the loss and the factors need, σ and softplus of one u through one exp,
    # and cse's temporaries, each placed before its first use.
    needed, head_outputs = _without_aliases(_in_order(lines, head_outputs), head_outputs)
    prologue, values = _one_exp([value for _, value in needed])
    shared, reduced = sp.cse(values, symbols=sp.numbered_symbols("_t", real=True))
    named = [(sym, value) for (sym, _), value in zip(needed, reduced, strict=True)]
    head_lines, head_outputs = _without_aliases(
        _in_order([*prologue, *shared, *named], head_outputs), head_outputs
    )
    head_arguments = [*forms.symbols, *targets, *params, *constants]
    head, buffers = _inplace_head(
        f"{name}_head", head_arguments, {*forms.symbols, *targets}, head_lines, head_outputs
    )
    layout: Layout = (d, f, len(factors), rows, tuple(terms), with_inputs, alone, buffers)
    source = "\n".join(
        [
            *_function(
                f"{name}_weights", [*params, *constants], _in_order(fixed, weight_exprs), weight_exprs
            ),
            "",
            "",
            *head,
            "",
            "",
            f"{name.upper()}_LAYOUT = {layout!r}",
        ]
    )
    source += "\n"
    namespace: dict[str, Any] = {"numpy": numpy, "math": math}  # math: the table's erf and erfc
    exec(compile(source, "<symcalc fast path>", "exec"), namespace)  # our printer's output, names validated
    return Plan(source, layout, namespace[f"{name}_weights"], namespace[f"{name}_head"])
