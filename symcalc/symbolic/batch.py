"""The batch form: the vector form over m samples at once, ∇_w J = Xᵀ(a − y)/m.

The training objective is J = (1/m) Σ_k L_k. Over a batch, a per-sample vector x[n]
becomes the m × n matrix X (row k is sample k), a per-sample scalar z the m-vector z,
and parameters stay as they are. Each definition and adjoint of the vector form is
lifted by rules (w @ x → X w, W @ x → X Wᵀ, a scalar meeting a vector per sample →
that scalar as a column), and each gradient is the sum over samples of its vector form,
derived by linearity: Σ_k u_k x_kᵀ = Uᵀ X, Σ_k c_k x_k = Xᵀ c, Σ_k c_k = sum(c), and the
rest as column sums. Nothing is templated per model.

Where a sample would carry a whole matrix (an outer product in the forward pass), there
is no batch form (`BatchUnsupported`); the written-out scalars still compute such a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pretty.stringpict import prettyForm

from symcalc.errors import BatchUnsupported
from symcalc.symbolic.arrays import (
    BY_CLASS,
    Shape,
    _latex_marked,
    _operand_form,
    diag,
    logsumexp,
    matmul,
    outer,
    shape_of,
    softmax,
    total,
    transpose,
)
from symcalc.symbolic.expand import Shaped
from symcalc.symbolic.forms import cancels_a_quotient, tree_size
from symcalc.symbolic.notation import Adjoint, Hadamard, Product, product
from symcalc.symbolic.vector import VectorForm, VectorResult, derive_vector_form
from symcalc.symbolic.vector_hessian import VectorSecond


class SampleCount(sp.Symbol):
    """m, the number of samples in a batch, shown as m: a class of its own, so that it is never equal
    to a model's own m (a parameter, or a dimension x[m]), and code prints it apart from them."""


#: The number of samples in a batch.
M = SampleCount("m", integer=True, positive=True)


class column(sp.Function):
    """An m-vector used against rows: z ⊙ G scales row k of G by z_k (NumPy: z[:, None])."""

    nargs = 1

    # Shown as the vector itself: a lecture leaves the broadcast to the reader.
    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        base = printer.parenthesize(self.args[0], PRECEDENCE["Mul"])
        return f"{base}^{{{exp}}}" if exp else base

    def _pretty(self, printer: Any) -> prettyForm:
        form = printer._print(self.args[0])
        return prettyForm(*form.parens()) if isinstance(self.args[0], sp.Add) else form

    def _sympystr(self, printer: Any) -> str:
        return str(printer.parenthesize(self.args[0], PRECEDENCE["Mul"]))


class column_sums(sp.Function):
    """Mᵀ𝟙: the sum over samples (the rows) of M, a column as the parameter it is the gradient of."""

    nargs = 1

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        base = rf"{_latex_marked(printer, self.args[0])}^{{\top}} \mathbf{{1}}"
        return rf"\left({base}\right)^{{{exp}}}" if exp else base

    def _pretty(self, printer: Any) -> prettyForm:
        ones = "ᵀ⋅𝟙" if printer._use_unicode else "^T*1"
        return prettyForm(*_operand_form(printer, self.args[0], marked=True).right(ones))


class row_sums(sp.Function):
    """M𝟙: each sample's sum of its entries (a row's sum)."""

    nargs = 1

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        base = rf"{printer.parenthesize(self.args[0], 50)} \mathbf{{1}}"
        return rf"\left({base}\right)^{{{exp}}}" if exp else base

    def _pretty(self, printer: Any) -> prettyForm:
        return prettyForm(*_operand(printer, self.args[0]).right("⋅𝟙" if printer._use_unicode else "*1"))


def _operand(printer: Any, arg: sp.Expr) -> prettyForm:
    form = printer._print(arg)
    return prettyForm(*form.parens()) if isinstance(arg, sp.Add | sp.Mul | Hadamard | Product) else form


@dataclass(frozen=True)
class BatchLine:
    """`target = value` over the batch; `label` says what it is as the derivation writes it."""

    target: sp.Symbol
    value: sp.Expr
    label: str
    #: A gradient with the adjoints it reads put in, where that stays short: Xᵀ(a − y)/m.
    expanded: sp.Expr | None = None


@dataclass(frozen=True)
class BatchForm:
    """The forward pass, the adjoints the gradients need, and each gradient of J = (1/m) Σ L."""

    forward: tuple[BatchLine, ...]
    backward: tuple[BatchLine, ...]
    gradients: tuple[BatchLine, ...]
    objective: sp.Expr  # J in the batch's names: sum(L)/m
    objective_name: sp.Symbol  # J, or Jbar (J̄) where the file names something J
    names: tuple[tuple[sp.Symbol, sp.Symbol], ...]  # each per-sample name → its batch name
    batched: tuple[sp.Symbol, ...]  # the batch names that carry a sample axis
    #: With the vector form's second derivatives: each d²J/dθᵢdθⱼ over the batch, Xᵀ S X/m.
    hessian: tuple[BatchLine, ...] = ()
    #: The shape of every name the lines use, a batch name's first axis `SAMPLES`: X[m, n], z[m].
    shapes: tuple[tuple[sp.Basic, Shape], ...] = ()

    def explicit(self, expr: sp.Expr) -> sp.Expr:
        """`expr` with each per-sample scalar that scales a parameter's vector written as the outer
        product it is over the batch: v ⊙ dL/dz per sample is dL/dz vᵀ (an m × h matrix)."""
        return explicit(expr, dict(self.shapes))

    def marked(self, expr: sp.Expr) -> sp.Expr:
        """`expr` for reading, vectors being columns: `explicit`, ⊙ between arrays multiplied entry by
        entry, and a dot product of parameters as uᵀv (display only)."""
        return marked(explicit(expr, dict(self.shapes)), dict(self.shapes))


def derive_batch_form(
    shaped: Shaped,
    vector: VectorForm,
    data: Sequence[sp.Symbol],
    loss: sp.Symbol,
    second: Sequence[VectorSecond] = (),
) -> BatchForm:
    """The batch form of a shaped model's vector form, `data` its inputs and targets as declared,
    with its `second` derivatives summed over the samples too (BatchUnsupported where there is none)."""
    lifter = _Lifter(shaped, vector, data, loss)
    batch = lifter.run()
    if not second:
        return batch
    hessian = tuple(
        BatchLine(
            sp.Symbol(f"hess_{s.first.name}_{s.second.name}"),
            sp.Add(*(term / M for term in sp.Add.make_args(lifter.sum_over_samples(s.result)))),
            s.name,
        )
        for s in second
    )
    return replace(batch, hessian=hessian)


def scalar_batch_form(shaped: Shaped, loss: sp.Symbol) -> BatchForm:
    """The batch form of a model of scalars (`shaped` with no shapes): every per-sample name a column of
    m values (z = b + w1*x1 over the batch, dL/dw1 = sum(dL/dz*x1)/m), derived as for vectors."""
    vector = derive_vector_form(shaped, loss, shaped.parameters)
    return derive_batch_form(shaped, vector, shaped.data, loss)


class _Lifter:
    def __init__(self, shaped: Shaped, vector: VectorForm, data: Sequence[sp.Symbol], loss: sp.Symbol):
        self.shaped, self.vector, self.loss = shaped, vector, loss
        self.shapes: dict[sp.Basic, Shape] = dict(vector.shapes) | dict(shaped.shapes)
        per_sample = set(data)
        for node, expr in shaped.definitions:
            if expr.free_symbols & per_sample:
                per_sample.add(node)
        # from the loss backwards, each adjoint's form (what a line reads is chosen first); an adjoint is
        # per sample where its form reads the data (dL/dR = lam/2 for a penalty R is not: it is the
        # same in every sample, and summed over them it is m times itself, not itself)
        self.chosen: dict[sp.Expr, sp.Expr] = {}
        for result in vector.adjoints:
            symbol = Adjoint.of(loss, result.node)
            self.chosen[symbol] = _shorter(result, self.chosen)
            if self.chosen[symbol].free_symbols & per_sample:
                per_sample.add(symbol)
        for result in vector.gradients:
            per_sample.add(Adjoint.of(loss, result.node))
        self.per_sample = per_sample
        taken = {s.name for s in self.shapes if isinstance(s, sp.Symbol)} | {s.name for s in per_sample}
        self.names: dict[sp.Basic, sp.Symbol] = {}
        for symbol in sorted(per_sample, key=sp.default_sort_key):
            self.names[symbol] = _batch_name(symbol, self.shapes.get(symbol, ()), loss, taken)

    def run(self) -> BatchForm:
        forward = tuple(
            BatchLine(self.names.get(node, node), self.lift(expr), node.name)
            for node, expr in self.shaped.definitions
        )
        by_node = {r.node: r for r in self.vector.results}
        gradient_of = {Adjoint.of(self.loss, r.node) for r in self.vector.gradients}
        chosen = self.chosen
        gradients = []
        needed: set[sp.Symbol] = set()
        for result in self.vector.gradients:
            per_sample = _shorter(result, chosen)
            needed |= {a.node for a in per_sample.atoms(Adjoint)}
            gradient = sp.Symbol(f"grad_{result.node.name}")
            summed = sp.Add(*(term / M for term in sp.Add.make_args(self.sum_over_samples(per_sample))))
            gradients.append(BatchLine(gradient, summed, result.name))
        backward: list[BatchLine] = []
        wanted = self.closure(needed, by_node, chosen)
        for result in self.vector.adjoints:  # from the loss backwards: what a line reads is above it
            if result.node.name in wanted:
                symbol = Adjoint.of(self.loss, result.node)
                target = self.names.get(symbol, symbol)  # an adjoint the same in every sample keeps its name
                backward.append(BatchLine(target, self.lift(chosen[symbol]), result.name))
        values = {line.target: line.value for line in backward}
        gradients = [replace(line, expanded=_put_in(line.value, values)) for line in gradients]
        objective = total(self.names.get(self.loss, self.loss)) / M
        names = tuple((k, v) for k, v in self.names.items() if isinstance(k, sp.Symbol))
        batched = tuple(v for k, v in self.names.items())
        taken = {s.name for s, _ in self.shaped.shapes} | {n.name for n, _ in self.shaped.definitions}
        name = sp.Symbol("J" if "J" not in taken else f"{self.loss.name}bar", real=True)
        fixed = (  # the same for every sample: parameters, constants, definitions made of those alone
            *self.shaped.parameters,
            *(s for s, _ in self.shaped.fixed),
            *(node for node, _ in self.shaped.definitions if node not in self.per_sample),
            *(a for a in self.chosen if a not in self.per_sample),
        )
        shapes = {s: self.shapes.get(s, ()) for s in fixed} | {
            new: (SAMPLES, *self.shapes.get(old, ()))
            for old, new in self.names.items()
            if old not in gradient_of
        }
        return BatchForm(
            forward,
            tuple(backward),
            tuple(gradients),
            objective,
            name,
            names,
            batched,
            (),
            tuple(shapes.items()),
        )

    def closure(
        self,
        needed: set[sp.Symbol],
        by_node: Mapping[sp.Symbol, VectorResult],
        chosen: Mapping[sp.Expr, sp.Expr],
    ) -> set[str]:
        """The names of the adjoints that the gradients read, directly or through other adjoints."""
        wanted: set[str] = set()
        stack = [n.name for n in needed]
        by_name = {node.name: result for node, result in by_node.items()}
        while stack:
            name = stack.pop()
            if name in wanted or name not in by_name:
                continue
            wanted.add(name)
            stack += [a.node.name for a in chosen[Adjoint.of(self.loss, by_name[name].node)].atoms(Adjoint)]
        return wanted

    # -- lifting one per-sample expression to the batch ---------------------------------------

    def batched(self, expr: sp.Basic) -> bool:
        return bool(expr.free_symbols & self.per_sample)

    def shape(self, expr: sp.Basic) -> Shape:
        return shape_of(expr, self.shapes)

    def lift(self, expr: sp.Expr) -> sp.Expr:
        if expr in self.names:
            return self.names[expr]
        if not expr.args or not self.batched(expr):
            return expr
        args = expr.args
        if isinstance(expr, matmul):
            return self.lift_matmul(args[0], args[1])
        if isinstance(expr, total):
            if len(self.shape(args[0])) != 1:
                raise BatchUnsupported("sum() of a matrix computed per sample")
            return row_sums(self.lift(args[0]))
        if isinstance(expr, softmax | logsumexp):
            return expr.func(self.lift(args[0]))
        if isinstance(expr, outer | transpose) or expr.func.__name__ == "diag":
            raise BatchUnsupported(f"{expr.func.__name__}() of a vector computed per sample")
        lifted = [self.lift(arg) for arg in args]
        if self.shape(expr):  # a vector per sample: its per-sample scalars act on rows
            lifted = [
                column(new) if self.batched(old) and not self.shape(old) else new
                for old, new in zip(args, lifted, strict=True)
            ]
        return expr.func(*lifted)

    def lift_matmul(self, left: sp.Expr, right: sp.Expr) -> sp.Expr:
        a, b = self.lift(left), self.lift(right)
        left_axes, right_axes = len(self.shape(left)), len(self.shape(right))
        left_rows, right_rows = self.batched(left), self.batched(right)
        if left_axes == 1 and right_axes == 1:
            if left_rows and right_rows:
                return row_sums(a * b)
            return matmul(a, b) if left_rows else matmul(b, a)
        if left_axes == 2 and right_axes == 1 and not left_rows:
            return matmul(b, transpose(a))  # W x per sample: X Wᵀ
        if left_axes == 1 and right_axes == 2 and not right_rows:
            return matmul(a, b)  # x M per sample, x as a row: X M
        raise BatchUnsupported("a matrix computed per sample")

    # -- summing a per-sample gradient over the samples ------------------------------------------

    def sum_over_samples(self, expr: sp.Expr) -> sp.Expr:
        """Σ_k expr_k in the batch's names, by linearity."""
        if not self.batched(expr):
            return M * expr
        if isinstance(expr, sp.Add):
            return sp.Add(*(self.sum_over_samples(term) for term in expr.args))
        if isinstance(expr, matmul) and not all(self.batched(arg) for arg in expr.args):
            left, right = expr.args  # Σ Aᵀ u xᵀ = Aᵀ (Σ u xᵀ): a factor the same in every sample comes out
            if self.batched(right):
                return matmul(left, self.sum_over_samples(right))
            return matmul(self.sum_over_samples(left), right)
        if isinstance(expr, transpose):
            return transpose(self.sum_over_samples(expr.args[0]))
        if isinstance(expr, outer):
            u, v = expr.args
            if self.batched(u) and self.batched(v):
                return matmul(transpose(self.lift(u)), self.lift(v))  # Σ u xᵀ = Uᵀ X
            if self.batched(u):  # Σ u_k vᵀ = (Σ u_k) vᵀ, a v the same in every sample (ones(h))
                return outer(self.sum_over_samples(u), v)
            return outer(u, self.sum_over_samples(v))
        if isinstance(expr, sp.Mul):
            fixed = [f for f in expr.args if not self.batched(f)]
            rows = [f for f in expr.args if self.batched(f)]
            vectors = [f for f in rows if self.shape(f)]
            scalars = [f for f in rows if not self.shape(f)]
            if len(vectors) == 1 and isinstance(vectors[0], outer) and scalars:  # Σ c u vᵀ = Uᵀ diag(c) V
                u, v = (self.lift(arg) for arg in vectors[0].args)
                weights = sp.Mul(*fixed) * self.lift(sp.Mul(*scalars))
                return matmul(transpose(u), matmul(diag(weights), v))
            if len(vectors) == 1 and scalars:  # Σ c x = Xᵀ c
                return sp.Mul(*fixed) * matmul(transpose(self.lift(vectors[0])), self.lift(sp.Mul(*scalars)))
            if fixed:  # Σ v ⊙ g = v ⊙ Σ g for a v that is the same in every sample
                return sp.Mul(*fixed) * self.sum_over_samples(sp.Mul(*rows))
        if self.shape(expr):
            return column_sums(self.lift(expr))
        return total(self.lift(expr))


#: The sample axis of a batch name's shape: X is [SAMPLES, n] (never a name of a file's dimension).
SAMPLES = "#m"


def batch_shape(expr: sp.Basic, shapes: Mapping[sp.Basic, Shape]) -> Shape:
    """The shape of a batch line's expression; a per-sample scalar meeting a parameter's vector v[h]
    makes a matrix [SAMPLES, h], as does a function of rows (softmax) of one."""
    if expr in shapes:
        return shapes[expr]
    if isinstance(expr, column):
        return (SAMPLES,)
    if isinstance(getattr(type(expr), "axes", None), property):  # eye(n), ones(n), s[a:b]: their own
        return expr.axes
    if not expr.args or isinstance(expr, total):
        return ()
    inner = [batch_shape(arg, shapes) for arg in expr.args]
    if isinstance(expr, row_sums | logsumexp):
        return inner[0][:1] if len(inner[0]) == 2 else ()
    if isinstance(expr, column_sums):
        return inner[0][1:]
    entry = BY_CLASS.get(type(expr))
    if entry is not None and not isinstance(expr, softmax):
        return entry.shape(*inner)
    rows = any(shape[:1] == (SAMPLES,) for shape in inner)
    rest = max((shape[1:] if shape[:1] == (SAMPLES,) else shape for shape in inner), key=len)
    return (SAMPLES, *rest) if rows else rest


def explicit(expr: sp.Expr, shapes: Mapping[sp.Basic, Shape]) -> sp.Expr:
    """`expr` with each product of per-sample scalars (columns of m values) and parameters' vectors
    written as the outer product it is: v ⊙ column(c) → outer(c, v), c vᵀ."""
    if not expr.args or expr.is_Atom:
        return expr
    args = [explicit(arg, shapes) for arg in expr.args]
    if not isinstance(expr, sp.Mul):
        return expr.func(*args)
    found = [batch_shape(arg, shapes) for arg in expr.args]
    columns = [a for a, shape in zip(args, found, strict=True) if shape == (SAMPLES,)]
    vectors = [a for a, shape in zip(args, found, strict=True) if len(shape) == 1 and shape[0] != SAMPLES]
    if not columns or not vectors:
        return expr.func(*args)
    rest = [a for a in args if not any(a is f for f in (*columns, *vectors))]
    plain = [c.args[0] if isinstance(c, column) else c for c in columns]
    return sp.Mul(*rest) * outer(sp.Mul(*plain), sp.Mul(*vectors))


def marked(expr: sp.Expr, shapes: Mapping[sp.Basic, Shape]) -> sp.Expr:
    """`expr` for reading: scalar factors first, then the arrays it multiplies entry by entry joined by
    ⊙; a dot product of two parameters' vectors as uᵀv, g @ M as Mᵀg (display only)."""
    if not expr.args or expr.is_Atom:
        return expr
    args = [marked(arg, shapes) for arg in expr.args]
    square = expr.is_Pow and expr.exp.is_Integer and 1 < expr.exp <= MAX_POWER
    if square and len(batch_shape(expr.base, shapes)) == 2:  # G² of a matrix would be G⋅G
        return Hadamard(*[args[0]] * int(expr.exp))
    if isinstance(expr, matmul):
        axes = [len(batch_shape(a, shapes)) for a in expr.args]
        if axes == [1, 1]:
            return matmul(transpose(args[0]), args[1])
        if axes == [1, 2]:
            return matmul(transpose(args[1]), args[0])
    if not isinstance(expr, sp.Mul):
        return expr.func(*args)
    found = [batch_shape(a, shapes) for a in expr.args]
    scalars = [m for m, shape in zip(args, found, strict=True) if not shape]
    arrays = [m for m, shape in zip(args, found, strict=True) if shape]
    if len(arrays) < 2 or any(f.is_Pow and f.exp.is_negative for f in arrays):
        return expr.func(*args)
    # An outer product first, so that c vᵀ ⊙ M reads left to right as it means
    arrays = [g for f in arrays for g in (f.args if isinstance(f, Hadamard) else (f,))]
    arrays.sort(key=lambda f: not isinstance(f, outer))
    scale = sp.Mul(*scalars)
    if scale.could_extract_minus_sign():
        return -product(-scale, Hadamard(*arrays))
    return product(scale, Hadamard(*arrays))


#: The highest power of a matrix shown entry by entry as G ⊙ G ⊙ G (a higher one stays G⁴).
MAX_POWER = 3


#: The most tree nodes a gradient may have with its adjoints put in to be shown that way too.
SHOWN_NODES = 30


def _put_in(value: sp.Expr, adjoints: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr | None:
    """`value` with the adjoint lines it reads put in, recursively; None when that is no shorter to read."""
    expanded = value
    while expanded.free_symbols & adjoints.keys():
        expanded = expanded.xreplace(dict(adjoints))
        if tree_size(expanded, SHOWN_NODES) > SHOWN_NODES:  # a deep chain's would grow with its depth
            return None
    return None if expanded == value else expanded


def _shorter(result: VectorResult, chosen: Mapping[sp.Expr, sp.Expr]) -> sp.Expr:
    """The result in names where it cancels a division the chain rule's form would compute, or is
    no larger than that form; else the chain form.

    As in the scalar program: a − y rather than dL/da·a(1 − a) (0·∞ where a rounds to 1), and
    P·Σ(cw ⊙ Y) − cw ⊙ Y rather than P ⊙ (dL/dP − Σ dL/dP ⊙ P) with dL/dP = −cw ⊙ Y/P, but dL/ds xᵀ
    rather than the whole product again for a weight matrix. `chosen` holds the forms already
    chosen for the adjoints the chain form reads.
    """
    if cancels_a_quotient(result.chain.xreplace(dict(chosen)), result.result):
        return result.result
    size = tree_size(result.chain, 10**6)
    return result.result if tree_size(result.result, size) <= size else result.chain


#: Capital Greek letters that print as Latin ones: the batch name of μ is not Mu, which prints as M.
_LATIN_LOOKING = frozenset("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")
#: Capitals that read as something else: O as 0 (and Python's linters refuse it as a name), I as the
#: identity matrix.
_AMBIGUOUS = frozenset(("O", "I"))


def _batch_name(symbol: sp.Symbol, shape: Shape, loss: sp.Symbol, taken: set[str]) -> sp.Symbol:
    """A per-sample vector x becomes X (its rows the samples); a per-sample scalar keeps its name."""
    if isinstance(symbol, Adjoint):
        node = symbol.name[symbol.name.index("/") + 2 :]
        return Adjoint(f"d{loss.name}/d{_rows_name(node) if shape else node}")
    if not shape:
        return symbol
    name = _rows_name(symbol.name)
    while name in taken and name != symbol.name:
        name += "_rows"
    taken.add(name)
    return sp.Symbol(name, real=True)


def _rows_name(name: str) -> str:
    """The name of a per-sample vector's matrix of m rows: x → X; W → W_rows, mu → mu_rows (Mu would
    print as M), o → o_rows and i → i_rows (O reads as 0 and I is the identity)."""
    capital = name[0].upper() + name[1:] if name[0].islower() else f"{name}_rows"
    if capital in _AMBIGUOUS or set(sp.pretty(sp.Symbol(capital), use_unicode=True)) & _LATIN_LOOKING:
        return f"{name}_rows"
    return capital
