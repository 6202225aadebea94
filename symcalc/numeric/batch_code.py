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

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.printing.precedence import PRECEDENCE

from symcalc.errors import Location, SpecError
from symcalc.numeric.batch_entries import Entries, stacked
from symcalc.numeric.batch_stable import stable_lines
from symcalc.numeric.code_style import LINE, assignment, comment, display, returned, signature, spaced
from symcalc.numeric.names import SAMPLES, CodeNames
from symcalc.numeric.runtime_text import copied, imports, used
from symcalc.numeric.stable import StablePrinter
from symcalc.symbolic.arrays import (
    diag,
    dimension,
    logsumexp,
    matmul,
    ones,
    outer,
    softmax,
    total,
    transpose,
)
from symcalc.symbolic.batch import (
    BatchForm,
    BatchLine,
    M,
    SampleCount,
    column,
    column_sums,
    row_sums,
)
from symcalc.symbolic.batch_of import batch_form_of
from symcalc.symbolic.expand import Shaped
from symcalc.symbolic.functions import text as table_text
from symcalc.symbolic.steps import Derivation
from symcalc.symbolic.vector_hessian import identity


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

    def _print_outer(self, expr: outer) -> str:
        left, right = (self._print(arg) for arg in expr.args)
        return f"{self._module_format('numpy.outer')}({left}, {right})"

    def _print__ZerosLike(self, expr: _ZerosLike) -> str:
        return f"{self._module_format('numpy.zeros_like')}({self._print(expr.args[0])})"

    def _print_ones(self, expr: ones) -> str:
        return f"{self._module_format('numpy.ones')}({self._print(expr.args[0])})"

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

    def _print_stacked(self, expr: stacked) -> str:
        shape, *items = expr.args
        sizes = ", ".join(str(size) for size in shape) + ("," if len(shape) == 1 else "")
        return f"_stack(({sizes}), {', '.join(self._print(item) for item in items)})"

    def _print_logsumexp(self, expr: logsumexp) -> str:
        return f"_logsumexp({self._print(expr.args[0])})"


class _ZerosLike(sp.Function):
    """zeros_like(W): the gradient of a parameter the loss does not read, an array of W's shape (not
    the number 0, which would give a gradient entry of the wrong shape)."""

    nargs = 1


def batch_printer(names: CodeNames) -> BatchPrinter:
    """The NumPy printer of a batch module whose identifiers are `names`."""
    printer = BatchPrinter({"fully_qualified_modules": True, "inline": True})
    printer.names = names
    return printer


def needed_lines(lines: Sequence[BatchLine], outputs: Iterable[sp.Expr]) -> list[BatchLine]:
    """The lines the outputs read, directly or through other lines, in order."""
    wanted: set[sp.Symbol] = set().union(*(sp.sympify(o).free_symbols for o in outputs if o is not None))
    for line in reversed(lines):
        if line.target in wanted:
            wanted |= line.value.free_symbols
    return [line for line in lines if line.target in wanted]


def function_lines(
    name: str,
    doc: str,
    arguments: Sequence[str],
    lines: Sequence[BatchLine],
    outputs: Sequence[sp.Expr | None],
    printer: BatchPrinter,
    preamble: Sequence[str] = (),
    reads: Mapping[sp.Symbol, str] | None = None,
) -> list[str]:
    """A function of `arguments` computing the `lines` its `outputs` need, one batch line each (what a
    line computes twice it computes once), then returning the outputs (None as None), laid out as
    ruff formats it; `preamble` opens its body, then each of the `reads` (an entry → the code that
    reads it from its array) that the function uses."""
    body = [*signature(name, arguments), f'    """{doc}"""', *(f"    {p}" for p in preamble)]
    given = [o for o in outputs if o is not None]
    needed = needed_lines(lines, given)
    used = {s for e in (*(line.value for line in needed), *given) for s in sp.sympify(e).free_symbols}
    body += [f"    {printer.names[entry]} = {code}" for entry, code in (reads or {}).items() if entry in used]
    for line in needed:
        target = printer.names[line.target]
        comment = line.label if line.target.name == line.label else f"{line.label}, a row per sample"
        shared, (value,) = sp.cse(line.value, symbols=sp.numbered_symbols(f"_{target}_"), optimizations=None)
        body.append(f"    # {comment}")
        for t, e in shared:
            body += assignment("    ", printer.names[t], spaced(printer.doprint(e)))
        body += assignment("    ", target, spaced(printer.doprint(value)))
    return body + returned("    ", ["None" if o is None else spaced(printer.doprint(o)) for o in outputs])


def _split(value: sp.Expr, batched: set[sp.Symbol]) -> tuple[sp.Expr, sp.Expr]:
    """A mean over the samples as (the sum over them, the part that is the same for every sample):
    lamda*w + Xᵀ dL_dz/m is (Xᵀ dL_dz, lamda*w), so the sum can be taken block by block."""
    summed: list[sp.Expr] = []
    fixed: list[sp.Expr] = []
    for term in sp.Add.make_args(value):
        (summed if term.free_symbols & batched else fixed).append(term)
    return sp.Add(*(M * term for term in summed)), sp.Add(*fixed)


def _objective_parts(layout: Layout) -> tuple[sp.Expr, sp.Expr]:
    """The objective sum(J)/m as (what is summed over the samples, what is the same for each): where
    J = L + lamda/2*sum(W**2), (sum(L), lamda/2*sum(W**2)), so that a term of the parameters and
    constants alone (a penalty) is computed once per call, not once per block of rows."""
    batch = layout.batch
    (summed,) = (arg for arg in sp.Mul.make_args(batch.objective * M) if isinstance(arg, total))
    loss = summed.args[0]
    lines = {line.target: line.value for line in layout.lines}
    if loss not in lines:
        return batch.objective * M, sp.S.Zero
    given = {*layout.shaped.parameters, *(c for c, _ in layout.derivation.model.constants)}
    rows = [t for t in sp.Add.make_args(lines[loss]) if not t.free_symbols <= given]
    fixed = [t for t in sp.Add.make_args(lines[loss]) if t.free_symbols <= given]
    if not fixed or not rows:
        return batch.objective * M, sp.S.Zero
    return total(sp.Add(*rows)), sp.Add(*fixed)


@dataclass(frozen=True)
class Layout:
    """What every module of a batch form declares and passes: its arguments, its stable lines, its
    predictions, and the module-level tables (PARAMETERS, DATA, …) that describe them."""

    derivation: Derivation
    shaped: Shaped
    batch: BatchForm

    @cached_property
    def entries(self) -> Entries:
        """The model's vectors and matrices, where the formulas are their entries (`batch_entries`)."""
        own = self.derivation.model.shaped
        if own is None or own is self.shaped:
            return Entries({})
        return Entries.of(own.arrays(), [*own.parameters, *own.data])

    @cached_property
    def parameters(self) -> list[sp.Symbol]:
        """The parameters as the module takes them (PARAMETERS), in order."""
        own = self.derivation.model.shaped
        return self.entries.interface(own.parameters if own else (), self.shaped.parameters)

    @cached_property
    def data(self) -> list[sp.Symbol]:
        """The inputs and targets as the module takes them (DATA), in order."""
        own = self.derivation.model.shaped
        return self.entries.interface(own.data if own else (), self.shaped.data)

    @cached_property
    def reads(self) -> dict[sp.Symbol, str]:
        """Each entry the formulas use → the code that reads it from its array (none without entries)."""
        return self.entries.reads(self.names, self.data)

    @cached_property
    def names(self) -> CodeNames:
        """Every identifier of the module: the model's names, then the batch's (X, dL_dz) apart from them."""
        shaped, batch = self.shaped, self.batch
        declared = [
            *self.entries.arrays,
            *shaped.parameters,
            *(c for c, _ in self.derivation.model.constants),
            *shaped.data,
            *(node for node, _ in shaped.definitions),
        ]
        names = CodeNames(declared)
        spec = self.derivation.model.spec
        by_name = {symbol.name: symbol for symbol, _ in shaped.fixed}
        for name, sizes, entries in spec.arrays if spec is not None else ():
            # a vector or matrix constant is its numbers, all of them (the data decide a run's sizes)
            names.derive(by_name[name], f"_array({_nested(sizes, entries)})")
        for _, batched in batch.names:
            names[batched]
        for line in (*batch.forward, *batch.backward, *batch.hessian):
            names[line.target]
        for size, (parameter, axis) in self.sizes_read().items():
            names.derive(size, f"{names[parameter]}.shape[{axis}]")
        return names

    def sizes_read(self) -> dict[sp.Symbol, tuple[sp.Symbol, int]]:
        """Each dimension the formulas use as a number (sum(s)/n), read from a parameter that has it as
        an axis (n as w.shape[0]): the data, not the file, decide the sizes of a run. A SpecError for
        one that no parameter has (the parts of a loss that are the same for every row see no data)."""
        batch, shaped = self.batch, self.shaped
        lines = (*batch.forward, *batch.backward, *batch.hessian)
        found = {s for line in lines for s in line.value.free_symbols}
        found |= {call.args[0] for line in lines for call in line.value.atoms(ones)}  # ones(n): no free n
        used = found & {dimension(name) for name, _ in shaped.sizes}
        shapes = dict(shaped.shapes)
        read: dict[sp.Symbol, tuple[sp.Symbol, int]] = {}
        for size in sorted(used, key=sp.default_sort_key):
            carriers = [
                (p, list(shapes[p]).index(size.name))
                for p in shaped.parameters
                if size.name in shapes.get(p, ())
            ]
            if not carriers:
                raise SpecError(
                    f"the generated code reads the size {size.name} from a parameter's shape, and no "
                    f"parameter has {size.name} as an axis",
                    Location(source=self.derivation.model.source),
                    fix=f"write the size as a number (the file's {size.name}) in the definitions",
                )
            read[size] = carriers[0]
        return read

    def shaped_gradients(self, values: Sequence[sp.Expr]) -> list[sp.Expr]:
        """Each parameter's gradient as given, in PARAMETERS order, but zeros of the parameter's shape
        where it is 0 and the parameter is a vector or matrix (its entries' stacked where the formulas
        are entries)."""
        if self.entries.arrays:
            by_entry = dict(zip(self.shaped.parameters, values, strict=True))
            return self.entries.gradients(self.parameters, by_entry)
        shapes = dict(self.shaped.shapes)
        return [
            _ZerosLike(p) if value == 0 and shapes.get(p) else value
            for p, value in zip(self.shaped.parameters, values, strict=True)
        ]

    def hessian_blocks(self, parts: Sequence[tuple[sp.Expr, sp.Expr]]) -> list[tuple[sp.Expr, sp.Expr]]:
        """Each Hessian block's (summed, fixed) parts over PARAMETERS (their entries' stacked where
        the formulas are entries), from the batch form's over its own parameters."""
        if not self.entries.arrays or not parts:
            return list(parts)
        summed, fixed = ([part[k] for part in parts] for k in (0, 1))
        blocks = [self.entries.hessian(self.parameters, self.shaped.parameters, b) for b in (summed, fixed)]
        return list(zip(*blocks, strict=True))

    @property
    def printer(self) -> BatchPrinter:
        return batch_printer(self.names)

    @cached_property
    def inputs(self) -> list[sp.Symbol]:
        model = self.derivation.model
        declared = set(model.spec.inputs if model.spec else ())
        return [s for s in self.data if s.name in declared or s in model.inputs]

    @cached_property
    def data_names(self) -> list[str]:
        renamed = dict(self.batch.names)
        targets = [s for s in self.data if s not in self.inputs]
        return [self.names[renamed.get(s, s)] for s in (*self.inputs, *targets)]

    @cached_property
    def given(self) -> list[str]:
        """The parameters, then the constants: the arguments before the data."""
        constants = [self.names[c] for c, _ in self.derivation.model.constants]
        return [*(self.names[p] for p in self.parameters), *constants]

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
        renamed, model = dict(self.batch.names), self.derivation.model
        shapes: dict[sp.Symbol, Sequence[object]] = dict(self.shaped.shapes)
        shapes |= {s: self.entries.shape(s) or () for s in self.entries.arrays}
        declared = [f'"{p.name}": {axes_text(shapes.get(p, ()))}' for p in self.parameters]
        data = [
            f'"{s.name}": ("{self.names[renamed.get(s, s)]}", {axes_text(shapes.get(s, ()))})'
            for s in self.data
        ]
        own = model.shaped
        sizes = (
            f" (in the model's dimensions, at the sizes: {self.shaped.describe()})"
            if self.shaped.sizes
            else " (the sizes its formulas are written out at: "
            + ", ".join(f"{name} = {size}" for name, size in own.sizes)
            + ")"
            if own is not None and self.entries.arrays
            else ""
        )
        targets = [s for s in self.data if s not in self.inputs]
        constants = [f'"{c.name}": {_number(v)}' for c, v in model.constants]
        return [
            *comment("#: ", f"Each parameter's shape{sizes}."),
            *display("PARAMETERS = ", "{", declared, "}"),
            "#: Each input and target: the name of its batch array in this module, and its shape per sample.",
            *display("DATA = ", "{", data, "}"),
            *display("INPUTS = ", "(", _quoted(self.inputs), ")"),
            *display("TARGETS = ", "(", _quoted(targets), ")"),
            *display("CONSTANTS: dict[str, float] = ", "{", constants, "}"),
            *display("PREDICTIONS = ", "(", _quoted(self.predicted), ")"),
        ]


def _quoted(symbols: Sequence[sp.Symbol]) -> list[str]:
    return [f'"{s.name}"' for s in symbols]


def _nested(sizes: tuple[int, ...], entries: tuple[float, ...]) -> str:
    """A vector's or matrix's numbers as a Python list, [1.0, 2.0] or [[1.0, 0.0], [0.0, 1.0]]."""
    if len(sizes) == 1:
        return "[" + ", ".join(map(_number, entries)) + "]"
    rows = [entries[i * sizes[1] : (i + 1) * sizes[1]] for i in range(sizes[0])]
    return "[" + ", ".join(_nested(sizes[1:], row) for row in rows) + "]"


def _number(value: float) -> str:
    """A float as Python source: repr, or float("inf") / float("nan"), which repr cannot round-trip."""
    return repr(value) if math.isfinite(value) else f'float("{value}")'


def generate_batch(derivation: Derivation, standalone: bool = False) -> str:
    """The text of the batch module of a model: its formulas, then the runtime
    (`symcalc.numeric.runtime`) installed from the package, or, `standalone`, copied from its source."""
    shaped, batch = batch_form_of(derivation)
    layout = Layout(derivation, shaped, batch)
    arguments, lines, forward, printer = layout.arguments, layout.lines, layout.forward, layout.printer
    batched = set(batch.batched)
    objective_sum, objective_fixed = _objective_parts(layout)
    parts = [_split(line.value, batched) for line in batch.gradients]
    sums = layout.shaped_gradients([summed for summed, _ in parts])
    fixed_parts = layout.shaped_gradients([f for _, f in parts])
    hessian = layout.hessian_blocks([_split(line.value, batched) for line in batch.hessian])

    def function(
        name: str, doc: str, lines: Sequence[BatchLine], outputs: Sequence[sp.Expr | None]
    ) -> list[str]:
        return ["", "", *function_lines(name, doc, arguments, lines, outputs, printer, reads=layout.reads)]

    def fixed(name: str, doc: str, values: Sequence[sp.Expr]) -> list[str]:
        outputs = [None if value == 0 else value for value in layout.entries.zeroed(values)]
        # the lines it reads are the same for every row too (dL/dR = lam/2 for a penalty R)
        return ["", "", *function_lines(name, doc, layout.given, lines, outputs, printer, reads=layout.reads)]

    body = [
        *function("_loss_sums", "The loss summed over these rows.", forward, [objective_sum]),
        *function("_gradient_sums", "Each gradient summed over these rows.", lines, sums),
        *function(
            "_both_sums", "The loss and each gradient, summed over these rows.", lines, [objective_sum, *sums]
        ),
        *fixed("_loss_fixed", "The loss's part that is the same for every row.", [objective_fixed]),
        *fixed("_gradient_fixed", "Each gradient's part that is the same for every row.", fixed_parts),
    ]
    if batch.hessian:
        body += [
            *function(
                "_second_sums",
                "The loss, each gradient and each second derivative, summed over these rows.",
                [*lines, *stable_lines(batch.hessian)],
                [objective_sum, *sums, *(summed for summed, _ in hessian)],
            ),
            *fixed(
                "_hessian_fixed",
                "Each block d2J/dp dq (p at or before q) of the Hessian: its part the same for every row.",
                [f for _, f in hessian],
            ),
        ]
    body += [
        "",
        "",
        *function_lines(
            "_predict",
            "The predictions for each sample.",
            layout.predict_arguments,
            forward,
            layout.predictions,
            printer,
            reads=layout.reads,
        ),
    ]
    code = "\n".join(body)
    optional = used(code, list(_HELPERS))
    leave_out = set(_HELPERS) - set(optional)
    if not batch.hessian:
        leave_out.add("loss_gradient_hessian")
    # A module that is not standalone takes its runtime from the package, run against its globals,
    # and numpy as the runtime imports it: one import, which isort leaves as it is whether it counts
    # symcalc as the project's own or another's.
    if standalone:
        text = "\n".join([code, "", "", "\n\n\n".join(copied("runtime.py", leave_out))])
        imported = imports(["runtime.py"], text, formulas=["math"])
    else:
        # the helpers the formulas call are imported by name, so that a reader (and ruff) sees them
        leave_out |= set(_HELPERS)
        left = f", leave_out={sorted(leave_out)!r}".replace("'", '"')
        text = "\n".join([code, "", "", f"install(globals(){left})"])
        standard = [line for line in imports([], text, formulas=["math"]) if line]
        names = ", ".join([*sorted(optional), "install", "numpy"])
        imported = [*standard, *([""] if standard else []), f"from symcalc.numeric.runtime import {names}"]
    header = [*_docstring(derivation, forward, batch, standalone), "", *imported, "", *layout.declarations()]
    return "\n".join(header) + "\n" + text + "\n"


#: The runtime's helpers that formulas call, imported (or copied) only where a module uses them.
_HELPERS = ("_softmax", "_logsumexp", "_stack")


def axes_text(shape: Sequence[object]) -> str:
    inner = ", ".join(f'"{a}"' if isinstance(a, str) else repr(a) for a in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


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
        for read in sorted(lines[target].value.free_symbols & lines.keys(), key=sp.default_sort_key):
            if read in depends:
                stack.append(read)
            elif read not in found:
                found.append(read)
    return found


def _docstring(
    derivation: Derivation, forward: Sequence[BatchLine], batch: BatchForm, standalone: bool
) -> list[str]:
    model = derivation.model
    source = model.source.removesuffix(" (built in)").rsplit("/", 1)[-1].removesuffix(".toml")
    origin = f"the derivation {source!r}" if source.replace("_", "").isalnum() else "a derivation file"
    objective = batch.objective_name.name
    lines = [
        '"""Gradient descent over batches for one model, generated by symcalc',
        f"from {origin}; imports numpy and modules of Python's standard library."
        if standalone
        else f"from {origin}; its runtime is symcalc's (codegen --standalone copies it in).",
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
        "load_constants(path), load_columns(path) (the data's column of each name, as --columns",
        "mapped them) and standardize(data, path) read what `symcalc train --save` wrote.",
        '"""',
    ]
    return [wrapped for line in lines for wrapped in _wrapped(line)]


def _wrapped(line: str) -> list[str]:
    """A docstring's line, wrapped at the line's length, a formula's continuation indented further."""
    if len(line) <= LINE:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()))
    return textwrap.wrap(
        line, LINE, subsequent_indent=indent + "    ", break_on_hyphens=False, break_long_words=False
    )
