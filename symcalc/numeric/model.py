"""`NumericModel`: mean loss, gradients and update step of a derivation, on the back end asked for.

Every model's NumPy form is its batch module, the text `codegen --target numpy` writes, byte for
byte (`symcalc.numeric.batch_backend`; the program carries it, `Program.batch_source`). Beside
it, behind the same `Backend` protocol (`symcalc.numeric.backend`): the C kernel
(`symcalc.numeric.c`), compiled from the per-sample program where a compiler is available and
the model has at most 65 outputs, which is faster than the batch module on the columns of a
model written in scalars; and the lambdified per-sample program (`symcalc.numeric.generic`),
the fallback for what the batch module does not take (a program built without it, data that are
not 1-D columns), named when it runs. "auto" takes the first that applies in that order; the
kernel is compiled on first use, not on construction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from symcalc.errors import NumericError
from symcalc.numeric.backend import Backend
from symcalc.numeric.distributed import Partitioned, from_dask, is_dask, partitioned
from symcalc.numeric.generic import Generic, lambdified
from symcalc.numeric.program import Array, Program
from symcalc.symbolic.steps import Derivation

if TYPE_CHECKING:
    from symcalc.numeric.batch_backend import BatchModule

#: What `NumericModel` may be asked to run on: the fastest that applies, or one back end by name.
BackendChoice = Literal["auto", "c", "numpy", "generic"]


class NumericModel:
    """Vectorised mean loss, mean gradients and update step of one model.

    `data` maps every input and target name to a 1-D array (or a number);
    `params` maps every parameter name to a number; `constants` overrides the
    file's `[constants]` defaults by name. `backend` is "auto" (the C kernel, else
    the batch module, else the lambdified program), or "c", "numpy" or "generic" for
    that one: a NumericError when it cannot run this model here (for "c" without a C
    compiler, at once; otherwise on first use, when it is built). Data the first two
    do not take (2-D arrays, say) go to the lambdified program, which broadcasts.
    """

    def __init__(self, program: Program, backend: BackendChoice = "auto") -> None:
        if backend not in get_args(BackendChoice):
            choices = ", ".join(repr(c) for c in get_args(BackendChoice))
            raise NumericError(f"no back end {backend!r}: the choices are {choices}")
        if backend == "c":
            from symcalc.numeric.c.build import compiler

            if compiler() is None:
                raise NumericError("the C back end needs a C compiler: set CC or install one (cc)")
        self.program = program
        self._choice = backend

    @cached_property
    def _generic(self) -> Generic:
        return Generic(self.program)

    @cached_property
    def _fast(self) -> tuple[tuple[Backend, ...], str | None]:
        """The back ends tried before the generic program, in order, built on first use; and why
        there is no C kernel when "auto" could not build one."""
        choice = self._choice
        fast: list[Backend] = []
        problem = None
        if choice in ("auto", "c"):
            from symcalc.errors import NativeUnavailable
            from symcalc.numeric.c.kernel import compile_kernel

            try:
                fast.append(compile_kernel(self.program))
            except NativeUnavailable as unavailable:
                if choice == "c":
                    raise NumericError(f"no C kernel for this model: {unavailable}") from None
                problem = str(unavailable)
        if choice in ("auto", "numpy"):
            if self._batch is not None:
                fast.append(self._batch)
            elif choice == "numpy":
                raise NumericError(f"no batch module: {self.program.batch_problem}")
        return tuple(fast), problem

    @cached_property
    def _batch(self) -> BatchModule | None:
        """The batch module `codegen` writes, where the program carries it."""
        from symcalc.numeric.batch_backend import BatchModule

        return BatchModule(self.program) if self.program.batch_source else None

    def build(self) -> None:
        """Build the back end now (compile the C kernel) rather than on first use, so that timed
        evaluations do not include it; a NumericError when the back end asked for cannot run."""
        _ = self._fast

    @property
    def _first(self) -> Backend:
        """What evaluates 1-D columns."""
        fast, _ = self._fast
        return fast[0] if fast else self._generic

    @property
    def parameters(self) -> tuple[str, ...]:
        return self.program.parameters

    @property
    def backend(self) -> str:
        """What evaluates 1-D columns: "c" (the C kernel), "numpy" (the batch module) or "generic",
        the names `backend=` takes."""
        return self._first.name

    @property
    def native_problem(self) -> str | None:
        """Why there is no C kernel, when "auto" tried to build one and could not."""
        return self._fast[1]

    def describe(self) -> str:
        """The back end in words, with the reason when "auto" could not build the C kernel, and why
        the lambdified program runs when it does."""
        words = self._first.describe()
        if self._first is self._generic and self.program.batch_problem:
            words += f" (no batch module: {self.program.batch_problem})"
        return f"{words}; no C kernel: {self.native_problem}" if self.native_problem else words

    @cached_property
    def constants(self) -> dict[str, float]:
        return self.program.constants

    def arguments(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> list[Any]:
        """The positional arguments of the compiled function, checked by name."""
        program = self.program
        values: list[Any] = []
        for name in program.parameters:
            if name not in params:
                raise NumericError(f"no value for parameter {name!r}")
            # np.float64, not float: Python's float ** and math functions raise OverflowError where
            # NumPy gives inf (as the C kernel does)
            values.append(np.float64(params[name]))
        for name in (*program.inputs, *program.targets):
            if name not in data:
                raise NumericError(f"no data for {name!r}")
            values.append(np.asarray(data[name], dtype=np.float64))
        merged = dict(self.constants)
        for name, value in (constants or {}).items():
            if name not in merged:
                known = ", ".join(merged) or "none"
                raise NumericError(f"{name!r} is not a constant of the model (constants: {known})")
            merged[name] = float(value)
        values.extend(np.float64(value) for value in merged.values())
        return values

    def evaluate(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any] | Partitioned,
        constants: Mapping[str, float] | None = None,
    ) -> tuple[float, dict[str, float]]:
        """Mean loss and mean gradient of every parameter over the batch, from one call.

        `data` may also be partitioned where Dask runs: a Dask dataframe, a mapping of names to Dask
        arrays, or `symcalc.numeric.distributed.Partitioned` (the files of a glob); each partition is
        then evaluated by this back end on a Dask worker and the sums added (on the current
        `distributed.Client` if there is one, else on Dask's default scheduler)."""
        if isinstance(data, Partitioned) or is_dask(data):
            return partitioned(data).sums(self, params, constants)
        values = self.arguments(params, data, constants)
        p, n = len(self.parameters), len(self.program.inputs) + len(self.program.targets)
        scalars, columns, fixed = values[:p], values[p : p + n], values[p + n :]
        for backend in self._fast[0]:
            means = backend.evaluate(scalars, columns, fixed)
            if means is not None:  # float: a back end may compute in np.float64
                return float(means[0]), {p: float(g) for p, g in zip(self.parameters, means[1], strict=True)}
        loss, gradients = self._generic.evaluate(scalars, columns, fixed)
        return loss, dict(zip(self.parameters, gradients, strict=True))

    def evaluate_arrays(
        self,
        params: Mapping[str, Any],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> tuple[float, dict[str, Array]]:
        """`evaluate` for a model with vectors and matrices, by its declared names: `params` maps W to
        an h × n array, `data` x to an m × n array (a row per sample), or to a Dask array (each block
        evaluated where it is, the sums added in block order); each gradient comes back as an array of
        its parameter's shape. The batch module takes arrays of any sizes, in memory and on Dask; the
        C kernel and the lambdified program need the sizes the model was written out at."""
        shaped = self.program.model.shaped
        if shaped is None:
            raise NumericError("evaluate_arrays is for a model with vectors or matrices; use evaluate")
        lazy = is_dask(data)
        if self._choice in ("auto", "numpy") and self._batch is not None:
            by_module = self._by_module_on_dask if lazy else self._by_module
            return by_module(params, data, constants)
        entries = shaped.arrays()
        flat_params: dict[str, float] = {}
        for symbol in shaped.parameters:
            value = _named(params, symbol.name)
            names = entries.get(symbol)
            _check_shape(symbol.name, value.shape, () if names is None else names.shape, shaped.describe())
            flat_params |= (
                {symbol.name: float(value)}
                if names is None
                else dict(zip((e.name for e in names.flat), value.ravel().tolist(), strict=True))
            )
        columns: dict[str, Any] = {}
        for symbol in shaped.data:
            value = _named(data, symbol.name)  # a Dask array stays one, read where it is
            names = entries.get(symbol)
            _check_shape(
                symbol.name, value.shape[1:], () if names is None else names.shape, shaped.describe()
            )
            if names is None or lazy:
                columns[symbol.name] = value
            else:
                rows = value.reshape(len(value), -1)
                columns |= {e.name: rows[:, k] for k, e in enumerate(names.flat)}
        if lazy:  # each worker takes its block of x apart into x1 … xn
            split = {s.name: [e.name for e in entries[s].flat] for s in shaped.data if s in entries}
            loss, gradients = self.evaluate(flat_params, from_dask(columns, split), constants)
        else:
            loss, gradients = self.evaluate(flat_params, columns, constants)
        shaped_gradients: dict[str, Array] = {}
        for symbol in shaped.parameters:
            names = entries.get(symbol)
            shaped_gradients[symbol.name] = (
                np.array(gradients[symbol.name])
                if names is None
                else np.array([gradients[e.name] for e in names.flat]).reshape(names.shape)
            )
        return loss, shaped_gradients

    def _by_module(
        self, params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None
    ) -> tuple[float, dict[str, Array]]:
        """`evaluate_arrays` by the batch module itself, on the arrays as given."""
        assert self._batch is not None
        module = self._batch.module
        self._check_constants(constants)
        arrays = {name: _named(params, name) for name in module.PARAMETERS}
        columns = {name: _named(data, name) for name in module.DATA}
        try:
            loss, gradients = module.loss_and_gradient(arrays, columns, constants)
        except ValueError as err:
            raise NumericError(str(err)) from None
        return float(loss), {name: np.asarray(g, dtype=np.float64) for name, g in gradients.items()}

    def _by_module_on_dask(
        self, params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None
    ) -> tuple[float, dict[str, Array]]:
        """`evaluate_arrays` by the batch module on each block of Dask arrays, where it is
        (`symcalc.numeric.batch_partitions`, as `train --dask` runs it): a block's arrays are taken
        apart into columns and stacked back on the worker, as a partition's columns are."""
        from symcalc.numeric.batch_partitions import BatchPartitions, BatchProgram

        assert self._batch is not None
        module = self._batch.module
        self._check_constants(constants)
        arrays = {name: _named(params, name) for name in module.PARAMETERS}
        lazy = {name: _named(data, name) for name in module.DATA}
        program, split = BatchProgram.of_arrays(
            self.program.batch_source, arrays, lazy, module.INPUTS, module.TARGETS
        )
        partitions = from_dask(lazy, split)
        try:
            return BatchPartitions(program).evaluate(arrays, partitions, constants)
        except ValueError as err:
            raise NumericError(str(err)) from None

    def _check_constants(self, constants: Mapping[str, float] | None) -> None:
        unknown = [name for name in constants or {} if name not in self.constants]
        if unknown:
            known = ", ".join(self.constants) or "none"
            raise NumericError(f"{unknown[0]!r} is not a constant of the model (constants: {known})")

    @cached_property
    def _second_order(self) -> Callable[..., Any]:
        program = self.program
        if not program.hessian:
            raise NumericError("no second derivatives in this program: derive with hessian=True")
        return lambdified(program, [program.loss, *program.gradients, *program.hessian])

    def second_order(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> tuple[float, Array, Array]:
        """Mean loss, mean gradient and mean Hessian over the batch, from one pass over the data.

        The gradient is a vector and the Hessian a symmetric matrix, both in parameter order
        (`parameters`). A model with a batch form of its second derivatives computes them as
        the batch module does (Xᵀ S X / m); any other, from the derivation's second derivatives
        entry by entry, by the NumPy program.
        """
        return self.second_order_on(data, constants)(params)

    def second_order_on(
        self, data: Mapping[str, Any], constants: Mapping[str, float] | None = None
    ) -> Callable[[Mapping[str, float]], tuple[float, Array, Array]]:
        """`second_order` on these data, as a function of the parameters (the data arranged once; on
        Dask, one pass over the partitions each call)."""
        if isinstance(data, Partitioned) or is_dask(data):
            parts = partitioned(data)
            return lambda params: parts.second_order(self, params, constants)
        batch = self._batch
        if batch is not None and batch.has_hessian:
            p = len(self.parameters)
            fixed = self.arguments(dict.fromkeys(self.parameters, 0.0), data, constants)
            arranged = batch.data(fixed[p : p + len(self.program.inputs) + len(self.program.targets)])
            if arranged is not None:
                given = fixed[p + len(self.program.inputs) + len(self.program.targets) :]

                def by_module(params: Mapping[str, float]) -> tuple[float, Array, Array]:
                    values = [params[name] for name in self.parameters]
                    return batch.second_order(values, arranged, given)

                return by_module

        def evaluate(params: Mapping[str, float]) -> tuple[float, Array, Array]:
            with np.errstate(all="ignore"):
                outputs = self._second_order(*self.arguments(params, data, constants))
                means = np.array([np.mean(v) for v in outputs], dtype=np.float64)
            count = len(self.parameters)
            hessian = np.zeros((count, count))
            hessian[np.triu_indices(count)] = means[1 + count :]
            hessian = hessian + np.triu(hessian, 1).T
            return float(means[0]), means[1 : 1 + count], hessian

        return evaluate

    @property
    def second_order_by(self) -> str:
        """What computes the Hessian, in words (for the `computed by` row of `train`)."""
        if self._batch is not None and self._batch.has_hessian:
            return "the batch module for the Hessian (Xᵀ S X / m)"
        return "lambdify for the Hessian, entry by entry"

    @cached_property
    def _logit(self) -> Callable[..., Any] | None:
        return None if self.program.logit is None else lambdified(self.program, [self.program.logit])

    @cached_property
    def _loss_alone(self) -> Callable[..., Any]:
        return lambdified(self.program, [self.program.loss])

    def logit(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> Array | None:
        """The score u of a = σ(u) per sample when the loss is binary cross-entropy; class 1 where u ≥ 0."""
        if self._logit is None:
            return None
        with np.errstate(all="ignore"):
            return np.asarray(self._logit(*self.arguments(params, data, constants))[0], dtype=np.float64)

    def accuracy(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any] | Partitioned,
        constants: Mapping[str, float] | None = None,
    ) -> float | None:
        """The share of samples whose class (u ≥ 0 → 1) matches the first target, for binary models."""
        if isinstance(data, Partitioned) or is_dask(data):
            return partitioned(data).correct(self, params, constants)
        scores = self.logit(params, data, constants)
        if scores is None or not self.program.targets:
            return None
        labels = np.asarray(data[self.program.targets[0]], dtype=np.float64)
        predicted = np.broadcast_to(scores >= 0, labels.shape)
        return float(np.mean(predicted == (labels == 1)))

    def start(self, seed: int = 0, scale: float = 0.01) -> dict[str, float]:
        """Starting parameters: small normal values drawn from `seed`, so hidden units are not all alike."""
        rng = np.random.default_rng(seed)
        return {name: float(scale * rng.standard_normal()) for name in self.parameters}

    def per_sample(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> list[Any]:
        """The loss and every gradient per sample (arrays, or numbers for what does not vary)."""
        return self._generic.per_sample(self.arguments(params, data, constants))

    def per_sample_loss(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> Array:
        """The loss per sample, from the forward pass alone (what `train` checks before it starts)."""
        with np.errstate(all="ignore"):
            values = self._loss_alone(*self.arguments(params, data, constants))[0]
        return np.asarray(values, dtype=np.float64)

    def loss(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any] | Partitioned,
        constants: Mapping[str, float] | None = None,
    ) -> float:
        return self.evaluate(params, data, constants)[0]

    def gradient(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any] | Partitioned,
        constants: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        return self.evaluate(params, data, constants)[1]

    def step(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any] | Partitioned,
        learning_rate: float,
        constants: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """One gradient-descent update: p := p − learning_rate · mean ∂L/∂p."""
        grads = self.gradient(params, data, constants)
        return {p: float(params[p]) - learning_rate * g for p, g in grads.items()}


def compile_model(derivation: Derivation, backend: BackendChoice = "auto") -> NumericModel:
    """The numeric functions of a derivation: its program with the batch module `codegen` writes."""
    from symcalc.numeric.codegen import numeric_program

    return NumericModel(numeric_program(derivation), backend)


def _named(values: Mapping[str, Any], name: str) -> Any:
    if name not in values:
        raise NumericError(f"no value for {name!r}")
    value = values[name]
    if hasattr(value, "__dask_graph__"):  # a Dask array: read where it is, partition by partition
        return value
    return np.asarray(value, dtype=np.float64)


def _check_shape(name: str, given: tuple[int, ...], wanted: tuple[int, ...], sizes: str) -> None:
    if tuple(given) != tuple(wanted):
        raise NumericError(
            f"{name!r} has the shape {tuple(given)} per sample or in all, but the model was written out "
            f"at {sizes}, which gives {tuple(wanted)}: load it with Model.load(file, sizes) at your sizes"
        )
