"""`symcalc codegen` for a model with vectors and matrices: its batch form, as NumPy that reads like it.

Row k of X is sample k's input vector x; a per-sample scalar (z, a, y) is an array of m
values. Each line of the module is one line of the batch form (`symcalc.symbolic.batch`)
under the model's own names, `grad_w = X.T @ dL_dz / m`, rewritten on its own into forms
that stay finite in float64 (log σ(z) as −logaddexp(0, −z), log softmax(z) as
z − logsumexp(z), as the scalar program does). `gradient` computes only the lines its
gradients need, not the loss. Code text is built only from validated names and printer
output; nothing the user typed (a title, a note, a path) is copied into it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.printing.precedence import PRECEDENCE

from symcalc.numeric.names import SAMPLES, TOTALS, CodeNames
from symcalc.numeric.program import _LOOK_INTO, StablePrinter, _softmax_parts, _stable_line
from symcalc.numeric.saved_code import loading_source
from symcalc.symbolic.arrays import diag, logsumexp, matmul, softmax, total, transpose
from symcalc.symbolic.batch import (
    BatchForm,
    BatchLine,
    M,
    SampleCount,
    column,
    column_sums,
    derive_batch_form,
    row_sums,
)
from symcalc.symbolic.expand import Shaped
from symcalc.symbolic.forms import tree_size
from symcalc.symbolic.functions import sigmoid, softplus
from symcalc.symbolic.functions import text as table_text
from symcalc.symbolic.notation import Adjoint
from symcalc.symbolic.steps import Derivation
from symcalc.symbolic.vector import VectorForm, VectorResult
from symcalc.symbolic.vector_hessian import identity, vector_hessian_or_reason


class _Grouped(sp.Function):
    """An expression printed in brackets (a matrix product inside a product or a power)."""

    nargs = 1


class BatchPrinter(StablePrinter):
    """NumPy code for the batch form: @ and .T, a sample's scalar against its row as z[:, None].

    Within a line, what is computed twice is computed once (`_lines`). Every name is printed as
    `names` spells it, the number of samples as `SAMPLES`.
    """

    names: CodeNames

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return self.names[expr]

    # dL/dS is a Symbol whose class is called Adjoint, as SymPy's conjugate transpose is.
    _print_Adjoint = _print_Symbol

    def _print_SampleCount(self, expr: SampleCount) -> str:
        return SAMPLES

    def _as_ordered_terms(self, expr: sp.Expr, order: str | None = None) -> list[sp.Expr]:
        # log1p(e^−|u|) is at most log 2: added last, after the terms that cancel (max(0, z) − y·z is
        # exactly 0 for a right answer), it survives; added to ±z first, it would be rounded away.
        terms: list[sp.Expr] = super()._as_ordered_terms(expr, order=order)
        return sorted(terms, key=lambda term: term.has(log1p))

    def _operand(self, expr: sp.Expr) -> str:
        return self.parenthesize(expr, PRECEDENCE["Pow"])

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        if isinstance(expr.base, matmul):
            return str(super()._print_Pow(sp.Pow(_Grouped(expr.base), expr.exp, evaluate=False), rational))
        if expr.exp == -1:  # 1/u: a division, which NumPy does faster than u**-1.0
            return f"1/{self.parenthesize(expr.base, PRECEDENCE['Pow'])}"
        return str(super()._print_Pow(expr, rational=rational))

    def _print_Mul(self, expr: sp.Mul) -> str:
        # `*` and `@` bind alike in Python, left to right: v*(W @ x) must keep its brackets
        if any(isinstance(arg, matmul) for arg in expr.args):
            grouped = [_Grouped(arg) if isinstance(arg, matmul) else arg for arg in expr.args]
            return str(super()._print_Mul(sp.Mul(*grouped, evaluate=False)))
        return str(super()._print_Mul(expr))

    def _print__Grouped(self, expr: _Grouped) -> str:
        return f"({self._print(expr.args[0])})"

    def _print_matmul(self, expr: matmul) -> str:
        left, right = expr.args
        if isinstance(left, diag):  # diag(s) @ X scales row k of X by s_k: no m × m matrix is made
            return f"({self._operand(left.args[0])}[:, None] * {self._operand(right)})"
        return f"{self._operand(left)} @ {self._operand(right)}"

    def _print_identity(self, expr: identity) -> str:
        return f"{self._module_format('numpy.eye')}({self._operand(expr.args[0])}.shape[0])"

    def _print_transpose(self, expr: transpose) -> str:
        return f"{self._operand(expr.args[0])}.T"

    def _print_column(self, expr: column) -> str:
        return f"{self._operand(expr.args[0])}[:, None]"

    def _print_column_sums(self, expr: column_sums) -> str:
        return f"{self._operand(expr.args[0])}.sum(axis=0)"

    def _print_row_sums(self, expr: row_sums) -> str:
        return f"{self._operand(expr.args[0])}.sum(axis=-1)"

    def _print_total(self, expr: total) -> str:
        return f"{self._module_format('numpy.sum')}({self._print(expr.args[0])})"

    def _print_softmax(self, expr: softmax) -> str:
        return f"_softmax({self._print(expr.args[0])})"

    def _print_logsumexp(self, expr: logsumexp) -> str:
        return f"_logsumexp({self._print(expr.args[0])})"


def batch_printer(names: CodeNames) -> BatchPrinter:
    """The NumPy printer of a batch module whose identifiers are `names`."""
    printer = BatchPrinter({"fully_qualified_modules": True, "inline": True})
    printer.names = names
    return printer


def _log_softmax(lines: Sequence[BatchLine]) -> dict[sp.Expr, sp.Expr]:
    """log(P) for P = softmax(Z): Z − logsumexp(Z) per row, which never takes the log of an underflow."""
    found: dict[sp.Expr, sp.Expr] = {}
    for line in lines:
        if isinstance(line.value, softmax):
            scores = line.value.args[0]
            found[sp.log(line.target)] = scores - column(logsumexp(scores))
    return found


def _elementary(value: sp.Expr) -> sp.Expr:
    """σ and softplus in exp and log1p, which NumPy computes four times faster than its logaddexp
    and as accurately: σ(u) = 1/(1 + e^−u) (0 where e^−u overflows, its limit), softplus(u) =
    max(u, 0) + log1p(e^−|u|). Of the forms below, the one with the fewest operations is kept
    (of those whose log1p terms are terms of the sum, which the printer adds last): as it is;
    with its products of sums multiplied out, so that y·softplus(−z) + (1 − y)·softplus(z) shares
    one log1p(e^−|z|); and with softplus(−u) read as softplus(u) − u where softplus(u) is also
    taken, which makes the same sum softplus(z) − y·z: 8 passes over the batch instead of 13."""
    calls = value.atoms(softplus)
    mirrored = {
        call: softplus(-u) + u
        for call in calls
        if (u := call.args[0]).could_extract_minus_sign() and softplus(-u) in calls
    }
    candidates = [_written(value)]
    if candidates[0].has(log1p):
        candidates.append(_multiplied_out(candidates[0]))
    if mirrored:
        candidates.append(_multiplied_out(_written(_multiplied_out(value.xreplace(mirrored)))))
    # the first of the shortest
    return min(candidates, key=lambda form: (not _log1p_on_top(form), tree_size(form, 10**6)))


def _multiplied_out(value: sp.Expr) -> sp.Expr:
    """Products of sums multiplied out, and nothing else: exp(c − d) stays one exp (as exp(c)·exp(−d)
    it is inf·0 where c is large), powers and logs stay as they are."""
    return sp.expand(value, power_exp=False, power_base=False, multinomial=False, log=False)


def _log1p_on_top(value: sp.Expr) -> bool:
    """Whether each log1p in `value` is a factor of a term of its sum, not inside a sum in brackets, where
    it would be added to the large terms before they cancel (and be lost: 40 + 4e-18 is 40)."""
    return all(
        isinstance(factor, log1p) or not factor.has(log1p)
        for term in sp.Add.make_args(value)
        for factor in sp.Mul.make_args(term)
    )


def _written(value: sp.Expr) -> sp.Expr:
    return value.replace(lambda e: isinstance(e, sigmoid), lambda e: 1 / (1 + sp.exp(-e.args[0]))).replace(
        lambda e: isinstance(e, softplus),
        lambda e: sp.Max(e.args[0], 0) + log1p(sp.exp(-sp.Abs(e.args[0]))),
    )


def stable_lines(lines: Sequence[BatchLine]) -> list[BatchLine]:
    """Each line rewritten for float64, seeing through the σ, tanh and exp lines it reads."""
    inside = {
        line.target: line.value
        for line in lines
        if isinstance(line.value, _LOOK_INTO) or _softmax_parts(line.value) is not None
    }
    logs = _log_softmax(lines)
    defined: set[sp.Symbol] = set()
    result = []
    for line in lines:
        value = _elementary(_stable_line(line.value.xreplace(logs), inside, defined))
        result.append(BatchLine(line.target, value, line.label, line.expanded))
        defined.add(line.target)
    return result


def needed_lines(lines: Sequence[BatchLine], outputs: Iterable[sp.Expr]) -> list[BatchLine]:
    """The lines the outputs read, directly or through other lines, in order."""
    wanted: set[sp.Symbol] = set().union(*(sp.sympify(o).free_symbols for o in outputs))
    for line in reversed(lines):
        if line.target in wanted:
            wanted |= line.value.free_symbols
    return [line for line in lines if line.target in wanted]


def function_lines(
    name: str,
    doc: str,
    arguments: Sequence[str],
    lines: Sequence[BatchLine],
    outputs: Sequence[sp.Expr],
    printer: BatchPrinter,
    preamble: Sequence[str] = (),
) -> list[str]:
    """A function of `arguments` computing the `lines` its `outputs` need, one batch line each (what a
    line computes twice it computes once), then returning the outputs; `preamble` opens its body."""
    body = [f"def {name}({', '.join(arguments)}):", f'    """{doc}"""', *(f"    {p}" for p in preamble)]
    for line in needed_lines(lines, outputs):
        name = printer.names[line.target]
        comment = line.label if line.target.name == line.label else f"{line.label}, a row per sample"
        shared, (value,) = sp.cse(line.value, symbols=sp.numbered_symbols(f"_{name}_"), optimizations=None)
        body.append(f"    # {comment}")
        body += [f"    {printer.names[t]} = {printer.doprint(e)}" for t, e in shared]
        body.append(f"    {name} = {printer.doprint(value)}")
    body.append("    return [")
    body += [f"        {printer.doprint(output)}," for output in outputs]
    body.append("    ]")
    return body


def _split(value: sp.Expr, batched: set[sp.Symbol]) -> tuple[sp.Expr, sp.Expr]:
    """A mean over the samples as (the sum over them, the part that is the same for every sample):
    lamda*w + Xᵀ dL_dz/m is (Xᵀ dL_dz, lamda*w), so the sum can be taken block by block."""
    summed: list[sp.Expr] = []
    fixed: list[sp.Expr] = []
    for term in sp.Add.make_args(value):
        (summed if term.free_symbols & batched else fixed).append(term)
    return sp.Add(*(M * term for term in summed)), sp.Add(*fixed)


def _means(
    name: str,
    doc: str,
    sums: str,
    layout: Layout,
    fixed: Sequence[sp.Expr],
    options: str = "",
) -> list[str]:
    """A function of the whole batch: `sums` over blocks of rows (which keep their temporaries in
    cache, and read X from memory once), each divided by m, plus its part common to every sample.
    `options` are _blocks' keywords, floats per block and threads (a Hessian's matrix products run
    faster on 16 MB, and on BLAS's own threads alone: ours beside them made 1e6 × 30 take 150 ms,
    not 123)."""
    printer, given, rows = layout.printer, layout.given, layout.data_names
    outputs = [
        f"{TOTALS}[{k}] / {SAMPLES}" + (f" + {printer.doprint(f)}" if f != 0 else "")
        for k, f in enumerate(fixed)
    ]
    return [
        f"def {name}({', '.join(layout.arguments)}):",
        f'    """{doc}"""',
        f"    {SAMPLES} = {rows[-1]}.shape[0]",
        f"    {TOTALS} = _blocks({sums}, ({', '.join(given)}{',' if len(given) == 1 else ''}), "
        f"({', '.join(rows)}{',' if len(rows) == 1 else ''}){', ' + options if options else ''})",
        f"    return [{', '.join(outputs)}]",
    ]


@dataclass(frozen=True)
class Layout:
    """What every module of a batch form declares and passes: its arguments, its stable lines, its
    predictions, and the module-level tables (PARAMETERS, DATA, …) that describe them."""

    derivation: Derivation
    shaped: Shaped
    batch: BatchForm

    @cached_property
    def names(self) -> CodeNames:
        """Every identifier of the module: the model's names, then the batch's (X, dL_dz) apart from them."""
        shaped, batch = self.shaped, self.batch
        declared = [
            *shaped.parameters,
            *(c for c, _ in self.derivation.model.constants),
            *shaped.data,
            *(node for node, _ in shaped.definitions),
        ]
        names = CodeNames(declared)
        for _, batched in batch.names:
            names[batched]
        for line in (*batch.forward, *batch.backward, *batch.hessian):
            names[line.target]
        return names

    @property
    def printer(self) -> BatchPrinter:
        return batch_printer(self.names)

    @cached_property
    def inputs(self) -> list[sp.Symbol]:
        model = self.derivation.model
        declared = set(model.spec.inputs if model.spec else ())
        return [s for s in self.shaped.data if s.name in declared or s in model.inputs]

    @cached_property
    def data_names(self) -> list[str]:
        renamed = dict(self.batch.names)
        targets = [s for s in self.shaped.data if s not in self.inputs]
        return [self.names[renamed.get(s, s)] for s in (*self.inputs, *targets)]

    @cached_property
    def given(self) -> list[str]:
        """The parameters, then the constants: the arguments before the data."""
        constants = [self.names[c] for c, _ in self.derivation.model.constants]
        return [*(self.names[p] for p in self.shaped.parameters), *constants]

    @property
    def arguments(self) -> list[str]:
        return [*self.given, *self.data_names]

    @property
    def predict_arguments(self) -> list[str]:
        return [*self.given, *self.data_names[: len(self.inputs)]]

    @cached_property
    def lines(self) -> list[BatchLine]:
        """The forward and backward lines, stable (a backward line sees through forward ones)."""
        return stable_lines([*self.batch.forward, *self.batch.backward])

    @property
    def forward(self) -> list[BatchLine]:
        return self.lines[: len(self.batch.forward)]

    @cached_property
    def predictions(self) -> list[sp.Symbol]:
        return predictions_of(self.batch, self.derivation, self.shaped)

    @property
    def predicted(self) -> list[sp.Symbol]:
        """What `predict` returns, by the model's names (a, not the batch's A)."""
        per_sample = {batched: name for name, batched in self.batch.names}
        return [per_sample.get(s, s) for s in self.predictions if isinstance(s, sp.Symbol)]

    def declarations(self) -> list[str]:
        """PARAMETERS, DATA, INPUTS, TARGETS, CONSTANTS and PREDICTIONS, with their comments."""
        shapes, renamed, model = dict(self.shaped.shapes), dict(self.batch.names), self.derivation.model
        declared = ", ".join(f'"{p.name}": {axes_text(shapes.get(p, ()))}' for p in self.shaped.parameters)
        data = ", ".join(
            f'"{s.name}": ({self.names[renamed.get(s, s)]!r}, {axes_text(shapes.get(s, ()))})'
            for s in self.shaped.data
        )
        sizes = (
            f" (in the model's dimensions, at the sizes: {self.shaped.describe()})"
            if self.shaped.sizes
            else ""
        )
        targets = [s for s in self.shaped.data if s not in self.inputs]
        constants = ", ".join(f"{c.name!r}: {v!r}" for c, v in model.constants)
        return [
            f"#: Each parameter's shape{sizes}.",
            f"PARAMETERS = {{{declared}}}",
            "#: Each input and target: the name of its batch array in this module, and its shape per sample.",
            f"DATA = {{{data}}}",
            f"INPUTS = {names_text(self.inputs)}",
            f"TARGETS = {names_text(targets)}",
            f"CONSTANTS: dict[str, float] = {{{constants}}}",
            f"PREDICTIONS = {names_text(self.predicted)}",
        ]


def batch_form_of(derivation: Derivation) -> tuple[Shaped, BatchForm]:
    """The batch form of a derivation: its own for a model with vectors; for a model of scalars (or
    the written-out scalars of one whose vectors have none), every per-sample name a column of m
    values (z = w1*x1 + b over the batch, dL/dw1 = sum(dL/dz*x1)/m), with its second derivatives
    summed alike where the derivation has them."""
    model = derivation.model
    if model.shaped is not None and derivation.batch is not None:
        return model.shaped, derivation.batch
    data = (*model.inputs, *model.targets)
    shaped = Shaped((), model.definitions, (), (), model.assumptions, model.parameters, data)
    vector = _as_vector_form(derivation)
    second = vector_hessian_or_reason(shaped, vector, model.loss)[0] if derivation.hessian else ()
    return shaped, derive_batch_form(shaped, vector, data, model.loss, second)


def _as_vector_form(derivation: Derivation) -> VectorForm:
    """The derivation's own adjoints and gradients (simplified as the engine did, with the file's
    assumptions: dL/dz1 = a1 − y1 for a softmax), each beside its chain rule's sum over its users'
    adjoints, as a vector form of scalars."""
    model = derivation.model
    loss = model.loss
    users: dict[sp.Symbol, list[sp.Expr]] = {}
    for (user, used), local in derivation.local_derivatives.items():
        upstream = sp.S.One if user == loss else Adjoint.of(loss, user)
        users.setdefault(used, []).append(upstream * local)

    def result(node: sp.Symbol, value: sp.Expr) -> VectorResult:
        return VectorResult(loss, node, (), sp.Add(*users.get(node, ())), value)

    adjoints = tuple(result(node, value) for node, value in derivation.adjoints.items() if node != loss)
    gradients = tuple(result(p, derivation.gradients[p]) for p in model.parameters)
    return VectorForm(adjoints, gradients)


def generate_batch(derivation: Derivation) -> str:
    """The text of the standalone batch module of a derivation (`batch_form_of`)."""
    shaped, batch = batch_form_of(derivation)
    layout = Layout(derivation, shaped, batch)
    arguments, lines, forward, printer = layout.arguments, layout.lines, layout.forward, layout.printer
    gradients = [line.value for line in batch.gradients]
    predictions, predict_arguments = layout.predictions, layout.predict_arguments
    batched = set(batch.batched)
    objective_sum, _ = _split(batch.objective, batched)
    parts = [_split(value, batched) for value in gradients]
    sums = [summed for summed, _ in parts]
    body = [
        *function_lines(
            "_loss_sums", "The loss summed over these samples.", arguments, forward, [objective_sum], printer
        ),
        "",
        "",
        *function_lines(
            "_gradient_sums", "Each gradient summed over these samples.", arguments, lines, sums, printer
        ),
        "",
        "",
        *function_lines(
            "_both_sums",
            "The loss and each gradient, summed over these samples.",
            arguments,
            lines,
            [objective_sum, *sums],
            printer,
        ),
        "",
        "",
        *_means("_loss", "The mean loss: the forward pass.", "_loss_sums", layout, [0]),
        "",
        "",
        *_means(
            "_gradient",
            "Each gradient of the mean loss: the forward pass as far as needed, then the backward pass.",
            "_gradient_sums",
            layout,
            [fixed for _, fixed in parts],
        ),
        "",
        "",
        *_means(
            "_loss_and_gradient",
            "The mean loss, then each gradient.",
            "_both_sums",
            layout,
            [0, *(fixed for _, fixed in parts)],
        ),
        "",
        "",
        *function_lines(
            "_predict", "The predictions for each sample.", predict_arguments, forward, predictions, printer
        ),
        *_second_order(layout, objective_sum, parts),
    ]
    docstring = _docstring(derivation, forward, batch)
    header = [
        *docstring,
        "",
        "import concurrent.futures",
        "import json",
        # the table's erf and erfc come from Python's math module, applied elementwise (NumPy has none)
        *(["import math"] if any(re.search(r"\bmath\.", line) for line in body) else []),
        "import os",
        "",
        "import numpy",
        "",
        *layout.declarations(),
        "#: How many threads add up blocks of rows at once (NumPy's loops and matrix products let go of",
        "#: Python's lock while they run, so blocks run side by side); 1 keeps the work in the caller's",
        "#: thread (set it so before forking worker processes). The results are the same whatever it is.",
        'THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1',
        "#: Into how many runs of neighbouring blocks a batch is dealt, whatever THREADS is (see _blocks):",
        "#: at most this many threads are busy. More runs cost more hand-overs between threads: at",
        "#: 1e6 x 30 on 2 cores the gradient took 0.35x plain NumPy's time with 4, 0.40x with 16.",
        "CHUNKS = 4",
        "",
        "",
        _HELPERS.strip("\n"),
        "",
        "",
        *body,
    ]
    second = _SECOND_ORDER_RUNTIME if batch.hessian else ""
    return "\n".join(header) + "\n" + _RUNTIME + second + loading_source(arrays=True)


def _second_order(
    layout: Layout, objective_sum: sp.Expr, parts: Sequence[tuple[sp.Expr, sp.Expr]]
) -> list[str]:
    """With second derivatives: the loss, each gradient and each block of the Hessian in one pass."""
    batch = layout.batch
    if not batch.hessian:
        return []
    batched = set(batch.batched)
    blocks = [_split(line.value, batched) for line in batch.hessian]
    outputs = [objective_sum, *(summed for summed, _ in parts), *(summed for summed, _ in blocks)]
    fixed = [0, *(f for _, f in parts), *(f for _, f in blocks)]
    return [
        "",
        "",
        *function_lines(
            "_second_sums",
            "The loss, each gradient and each second derivative, summed over these samples.",
            layout.arguments,
            [*layout.lines, *stable_lines(batch.hessian)],
            outputs,
            layout.printer,
        ),
        "",
        "",
        *_means(
            "_loss_gradient_hessian",
            "The mean loss, each gradient, then each block d2J/dp dq (p at or before q) of the Hessian.",
            "_second_sums",
            layout,
            fixed,
            "floats=2**21, threads=1",
        ),
    ]


def axes_text(shape: Sequence[object]) -> str:
    inner = ", ".join(repr(a) for a in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def names_text(symbols: Sequence[sp.Symbol]) -> str:
    inner = ", ".join(f'"{s.name}"' for s in symbols)
    return f"({inner},)" if len(symbols) == 1 else f"({inner})"


def predictions_of(batch: BatchForm, derivation: Derivation, shaped: Shaped) -> list[sp.Symbol]:
    """What the model predicts: the lines the loss reads, through lines that depend on a target,
    that do not depend on one themselves (a, or z for a linear model)."""
    model = derivation.model
    names = dict(batch.names)
    declared = set(model.spec.targets if model.spec else ())
    depends = {names.get(s, s) for s in shaped.data if s.name in declared or s in model.targets}
    lines = {line.target: line for line in batch.forward}
    for line in batch.forward:
        if line.value.free_symbols & depends:
            depends.add(line.target)
    found: list[sp.Symbol] = []
    stack = [names.get(model.loss, model.loss)]
    while stack:
        target = stack.pop()
        for used in sorted(lines[target].value.free_symbols & lines.keys(), key=sp.default_sort_key):
            if used in depends:
                stack.append(used)
            elif used not in found:
                found.append(used)
    return found


def _docstring(derivation: Derivation, forward: Sequence[BatchLine], batch: BatchForm) -> list[str]:
    model = derivation.model
    source = model.source.removesuffix(" (built in)").rsplit("/", 1)[-1].removesuffix(".toml")
    origin = f"the derivation {source!r}" if source.replace("_", "").isalnum() else "a derivation file"
    objective = batch.objective_name.name
    return [
        f'"""Gradient descent over batches for one model, generated by symcalc from {origin}; imports numpy',
        "and, from Python's standard library, json, os and concurrent.futures.",
        "",
        "Over a batch of m samples (row k of a capital is sample k):",
        "",
        *(f"    {line.target.name} = {table_text(line.value)}" for line in batch.forward),
        "",
        f"and the objective is {objective} = {table_text(batch.objective)}, the mean of {model.loss.name}.",
        "Its gradients, summed over the samples as symcalc derived them, with the adjoints they read:",
        "",
        *(f"    {line.target.name} = {table_text(line.value)}" for line in batch.backward),
        *(
            f"    d{objective}/d{line.label.split('/d')[-1]} = {table_text(line.value)}"
            for line in batch.gradients
        ),
        "",
        "`params` maps each name in PARAMETERS to an array of its shape (a float for a scalar);",
        "`data` maps each input and target to an array with one row per sample. load_parameters(path),",
        "load_constants(path) and standardize(data, path) read what `symcalc train --save` wrote.",
        '"""',
    ]


_HELPERS = '''
def _blocks(sums, given, data, floats=2**18, threads=None):
    """Each output of sums(*given, *rows) added up over blocks of rows of the data arrays.

    The blocks are dealt into at most CHUNKS runs of neighbouring blocks, whatever `threads` is
    (by default THREADS): each run is added up in order on one thread, and the runs' sums in order,
    so the result is the same for any number of threads, and at most CHUNKS sums wait at once.
    """
    rows = len(data[0])
    if rows == 0:
        raise ValueError("no samples: a mean over 0 rows has no value")
    width = sum(array[:1].size for array in data)  # floats per sample
    step = max(512, floats // max(width, 1))  # by default a block of X of about 2 MB: it stays in cache
    starts = range(0, rows, step)
    per_chunk = -(-len(starts) // CHUNKS)
    chunks = [starts[i:i + per_chunk] for i in range(0, len(starts), per_chunk)]
    threads = max(1, min(THREADS if threads is None else threads, len(chunks)))
    errors, call = numpy.geterr(), numpy.geterrcall()  # the caller's: a pool thread starts with NumPy's

    def chunk_sum(chunk):
        with numpy.errstate(call=call, **errors):
            return _added(sums(*given, *(array[s:s + step] for array in data)) for s in chunk)

    return _added(map(chunk_sum, chunks) if threads == 1 else _pool(threads).map(chunk_sum, chunks))


def _added(outputs):
    """The outputs (lists of arrays) added up entry by entry, in their order."""
    totals = None
    for block in outputs:
        totals = block if totals is None else [t + b for t, b in zip(totals, block, strict=True)]
    return totals


_POOLS = {}


def _pool(threads):
    """The threads that take blocks, made once per process (a forked child has none of its parent's)."""
    key = (os.getpid(), threads)
    if key not in _POOLS:
        _POOLS[key] = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="blocks")
    return _POOLS[key]


def _logsumexp(z):
    """log(sum(exp(z))) along the last axis, shifted by the largest entry so that nothing overflows."""
    top = numpy.max(z, axis=-1, keepdims=True)
    return numpy.log(numpy.sum(numpy.exp(z - top), axis=-1)) + top[..., 0]


def _softmax(z):
    """exp(z) / sum(exp(z)) along the last axis, shifted by the largest entry."""
    e = numpy.exp(z - numpy.max(z, axis=-1, keepdims=True))
    return e / numpy.sum(e, axis=-1, keepdims=True)
'''

_SECOND_ORDER_RUNTIME = '''

def loss_gradient_hessian(params, data, constants=None):
    """The mean loss, each mean gradient and the mean Hessian, from one pass over the data.

    The Hessian is one square array over every entry of every parameter, in PARAMETERS order
    and each parameter's entries in order (a vector's entries in turn): what Newton's method solves with.
    """
    with numpy.errstate(all="ignore"):
        value, *outputs = _loss_gradient_hessian(*_arguments(params, data, constants, INPUTS + TARGETS))
    count = len(PARAMETERS)
    grads = {name: numpy.asarray(g, dtype=numpy.float64) for name, g in zip(PARAMETERS, outputs)}
    sizes = [grads[name].size for name in PARAMETERS]
    starts = [sum(sizes[:k]) for k in range(count)]
    hessian = numpy.zeros((sum(sizes), sum(sizes)))
    blocks = iter(outputs[count:])
    for i in range(count):
        for j in range(i, count):
            block = numpy.asarray(next(blocks), dtype=numpy.float64)
            shape = (sizes[i], sizes[j])  # a number (0, or lamda) stands for every entry
            block = numpy.broadcast_to(block, shape) if block.size == 1 else block.reshape(shape)
            hessian[starts[i] : starts[i] + sizes[i], starts[j] : starts[j] + sizes[j]] = block
            hessian[starts[j] : starts[j] + sizes[j], starts[i] : starts[i] + sizes[i]] = block.T
    return float(value), grads, hessian
'''

#: Generated code: the file's constants, overridden by name by a call's `constants` (both modules).
CONSTANTS_SOURCE = """    merged = dict(CONSTANTS)
    for name, value in (constants or {}).items():
        if name not in merged:
            raise KeyError(f"{name!r} is not a constant of the model")
        merged[name] = float(value)
    values.extend(numpy.float64(value) for value in merged.values())
"""

_RUNTIME = (
    '''

def _arguments(params, data, constants, names):
    """The positional arguments: each parameter, each constant, then each array of `names` as floats."""
    values = []
    for name, shape in PARAMETERS.items():
        if name not in params:
            raise KeyError(f"no value for parameter {name!r}")
        value = numpy.asarray(params[name], dtype=numpy.float64)
        if value.ndim != len(shape):
            raise ValueError(f"parameter {name!r} must have {len(shape)} axes, not {value.ndim}")
        values.append(value)
'''
    + CONSTANTS_SOURCE
    + '''    rows = None
    for name in names:
        if name not in data:
            raise KeyError(f"no data for {name!r}")
        array = numpy.asarray(data[name], dtype=numpy.float64)
        axes = len(DATA[name][1]) + 1
        if array.ndim != axes or (rows is not None and len(array) != rows):
            raise ValueError(f"data[{name!r}] must have {axes} axes and one row per sample")
        rows = len(array)
        values.append(array)
    return values


def loss(params, data, constants=None):
    """The mean loss over the samples: the forward pass only."""
    with numpy.errstate(all="ignore"):
        return float(_loss(*_arguments(params, data, constants, INPUTS + TARGETS))[0])


def gradient(params, data, constants=None):
    """The mean gradient of the loss by each parameter, an array of its shape; no loss is computed."""
    with numpy.errstate(all="ignore"):
        grads = _gradient(*_arguments(params, data, constants, INPUTS + TARGETS))
    return {name: numpy.asarray(g, dtype=numpy.float64) for name, g in zip(PARAMETERS, grads, strict=True)}


def loss_and_gradient(params, data, constants=None):
    """The mean loss and each mean gradient, from one pass forward and one backward."""
    with numpy.errstate(all="ignore"):
        value, *grads = _loss_and_gradient(*_arguments(params, data, constants, INPUTS + TARGETS))
    named = {name: numpy.asarray(g, dtype=numpy.float64) for name, g in zip(PARAMETERS, grads, strict=True)}
    return float(value), named


def predict(params, data, constants=None):
    """The model's predictions for each sample, by name (PREDICTIONS); needs the inputs only."""
    with numpy.errstate(all="ignore"):
        outputs = _predict(*_arguments(params, data, constants, INPUTS))
    return dict(zip(PREDICTIONS, outputs, strict=True))


def step(params, data, learning_rate, constants=None):
    """One gradient-descent update: p := p - learning_rate * gradient(params, data)[p]."""
    grads = gradient(params, data, constants)
    return {
        name: numpy.asarray(params[name], dtype=numpy.float64) - learning_rate * grads[name]
        for name in PARAMETERS
    }


def check_gradient(params, data, constants=None, h=1e-5):
    """The largest absolute difference between gradient() and central differences of loss() with step h."""
    grads = gradient(params, data, constants)
    worst = 0.0
    for name in PARAMETERS:
        base = numpy.asarray(params[name], dtype=numpy.float64)
        for index in numpy.ndindex(base.shape):
            up, down = base.copy(), base.copy()
            up[index] += h
            down[index] -= h
            higher = loss({**params, name: up}, data, constants)
            lower = loss({**params, name: down}, data, constants)
            estimate = (higher - lower) / (2 * h)
            worst = max(worst, abs(float(grads[name][index]) - estimate))
    return worst
'''
)
