"""`NumericModel`: mean loss, gradients and update step of a derivation, on the back end asked for.

The back ends all read the same `Program` (`symcalc.numeric.program`) and follow the
`Backend` protocol (`symcalc.numeric.backend`): the C kernel (`symcalc.numeric.c`)
where a compiler is available, the NumPy plan (`symcalc.numeric.plan`) where the
weights enter through linear forms, and the generic lambdified program
(`symcalc.numeric.generic`) for every model. "auto" takes the first of them that
applies, as the order says; the kernel is compiled on first use, not on construction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, Literal, get_args

import numpy as np
import sympy as sp

from symcalc.errors import SymcalcError
from symcalc.numeric.backend import Backend
from symcalc.numeric.distributed import Partitioned, from_dask, is_dask, partitioned
from symcalc.numeric.generic import Generic, lambdified
from symcalc.numeric.program import Array, Program, build_program
from symcalc.symbolic.steps import Derivation

#: What `NumericModel` may be asked to run on: the fastest that applies, or one back end by name.
BackendChoice = Literal["auto", "c", "plan", "generic"]


class NumericError(SymcalcError):
    """Parameters or data passed to the numeric functions do not fit the model, or a back end asked
    for cannot run it."""


class NumericModel:
    """Vectorised mean loss, mean gradients and update step of one model.

    `data` maps every input and target name to a 1-D array (or a number);
    `params` maps every parameter name to a number; `constants` overrides the
    file's `[constants]` defaults by name. `backend` is "auto" (the C kernel, else
    the NumPy plan, else the generic program), or "c", "plan" or "generic" for that
    one: a NumericError when it cannot run this model here (for "c" without a C
    compiler, at once; otherwise on first use, when it is built). Data a fast back
    end does not take (2-D arrays, say) go to the generic program, which broadcasts.
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
        from symcalc.numeric.plan import build_plan

        choice = self._choice
        fast: list[Backend] = []
        problem = None
        if choice in ("auto", "c"):
            from symcalc.numeric.c.kernel import compile_kernel
            from symcalc.numeric.c.source import NativeUnavailable

            try:
                fast.append(compile_kernel(self.program))
            except NativeUnavailable as unavailable:
                if choice == "c":
                    raise NumericError(f"no C kernel for this model: {unavailable}") from None
                problem = str(unavailable)
        if choice in ("auto", "plan"):
            plan = build_plan(self.program)
            if plan is not None:
                fast.append(plan)
            elif choice == "plan":
                raise NumericError(
                    "the NumPy plan does not apply to this model: "
                    "its weights do not all enter through linear forms of the inputs"
                )
        return tuple(fast), problem

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
        """What evaluates 1-D columns: "native" (C kernel), "numpy" (the NumPy plan) or "generic"."""
        return self._first.name

    @property
    def native_problem(self) -> str | None:
        """Why there is no C kernel, when "auto" tried to build one and could not."""
        return self._fast[1]

    def describe(self) -> str:
        """The back end in words, with the reason when "auto" could not build the C kernel."""
        words = self._first.describe()
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
            # NumPy gives inf (as the C kernel does), in the plan's head and the generic program alike
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
        an h × n array, `data` x to an m × n array (a row per sample); each gradient comes back as an
        array of its parameter's shape. The arrays must have the sizes the model was written out at."""
        shaped = self.program.model.shaped
        if shaped is None:
            raise NumericError("evaluate_arrays is for a model with vectors or matrices; use evaluate")
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
        lazy = is_dask(data)
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
        """`second_order` on these data, as a function of the parameters (the data arranged once)."""
        if self.program.batch_source:
            return _BatchSecondOrder(self.program, data, constants)

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
        if self.program.batch_source:
            return "the batch module for the Hessian (Xᵀ S X / m)"
        return "the NumPy program for the Hessian, entry by entry"

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


def compile_model(derivation: Derivation) -> NumericModel:
    """The numeric functions of a derivation (a `Program` built and compiled)."""
    return NumericModel(build_program(derivation))


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


class _BatchSecondOrder:
    """The batch module's `loss_gradient_hessian` as a function of the written-out parameters
    (w1, w2, …), on data given as columns (x1, x2, …) and stacked once into its arrays (X)."""

    def __init__(self, program: Program, data: Mapping[str, Any], constants: Mapping[str, float] | None):
        from symcalc.numeric.codegen import load_module

        shaped = program.model.shaped
        assert shaped is not None
        self.module = load_module(program.batch_source, "symcalc_batch")
        self.entries = shaped.arrays()
        self.parameters = shaped.parameters
        self.constants = dict(constants or {})
        order = [e.name for p in self.parameters for e in self._flat(p)]
        if order != list(program.parameters):
            raise NumericError("the batch module's parameters are not in the program's order")
        self.data: dict[str, Array] = {}
        for symbol in shaped.data:
            names = self.entries.get(symbol)
            if names is None:
                self.data[symbol.name] = _named(data, symbol.name)
            else:
                columns = [_named(data, e.name) for e in names.flat]
                self.data[symbol.name] = np.column_stack(columns).reshape(len(columns[0]), *names.shape)

    def _flat(self, symbol: sp.Symbol) -> list[sp.Symbol]:
        names = self.entries.get(symbol)
        return [symbol] if names is None else list(names.flat)

    def __call__(self, params: Mapping[str, float]) -> tuple[float, Array, Array]:
        arrays = {}
        for symbol in self.parameters:
            names = self.entries.get(symbol)
            arrays[symbol.name] = (
                np.float64(params[symbol.name])
                if names is None
                else np.array([params[e.name] for e in names.flat]).reshape(names.shape)
            )
        loss, gradients, hessian = self.module.loss_gradient_hessian(arrays, self.data, self.constants)
        gradient = np.concatenate([np.ravel(gradients[p.name]) for p in self.parameters])
        return float(loss), gradient, np.asarray(hessian, dtype=np.float64)
