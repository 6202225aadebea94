"""`NumericModel`: mean loss, gradients and update step of a derivation, on the fastest back end.

The back ends all read the same `Program` (`symcalc.numeric.program`): the C kernel
(`symcalc.numeric.native`) where a compiler is available, else the NumPy plan
(`symcalc.numeric.plan`) where the weights enter through linear forms, else the
generic lambdified program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

from symcalc.errors import SymcalcError
from symcalc.numeric.program import Array, Program, build_program, make_printer
from symcalc.symbolic.steps import Derivation

if TYPE_CHECKING:
    from symcalc.numeric.native import Kernel
    from symcalc.numeric.plan import Plan


class NumericError(SymcalcError):
    """Parameters or data passed to the numeric functions do not fit the model."""


@dataclass
class NumericModel:
    """Vectorised mean loss, mean gradients and update step of one model, compiled once.

    `data` maps every input and target name to a 1-D array (or a number);
    `params` maps every parameter name to a number; `constants` overrides the
    file's `[constants]` defaults by name.
    """

    program: Program
    #: Use the fast paths (the C kernel, the NumPy plan) where they apply; False forces the generic program.
    fast: bool = True
    #: Use the compiled C kernel (`symcalc.numeric.native`) when there is a C compiler; False keeps to NumPy.
    native: bool = True
    #: Why the C kernel is not used, when it was asked for and could not be built.
    native_problem: str | None = field(init=False, default=None)
    _function: Callable[..., Any] = field(init=False, repr=False)
    _plan: Plan | None = field(init=False, repr=False, default=None)
    _kernel: Kernel | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        program = self.program
        if self.fast:
            from symcalc.numeric.plan import build_plan  # fastpath builds on this module's printer

            self._plan = build_plan(program)
        if self.fast and self.native:
            from symcalc.numeric.native import NativeUnavailable, compile_kernel

            try:
                self._kernel = compile_kernel(program)
            except NativeUnavailable as problem:
                self.native_problem = str(problem)
        self._function = sp.lambdify(
            program.arguments,
            list(program.outputs),
            modules="numpy",
            printer=make_printer(),
            cse=lambda _exprs: (list(program.shared), list(program.outputs)),
            docstring_limit=0,
        )

    @property
    def parameters(self) -> tuple[str, ...]:
        return self.program.parameters

    @property
    def backend(self) -> str:
        """What evaluates 1-D columns: "native" (C kernel), "numpy" (the fast path's plan) or "generic"."""
        if self._kernel is not None:
            return "native"
        return "numpy" if self._plan is not None else "generic"

    def describe(self) -> str:
        """The back end in words, with the reason when the C kernel was asked for and not built."""
        if self._kernel is not None:
            return "C kernel (native)"
        words = "NumPy plan" if self._plan is not None else "NumPy, generic program"
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
            values.append(float(params[name]))
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
        values.extend(merged.values())
        return values

    def evaluate(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> tuple[float, dict[str, float]]:
        """Mean loss and mean gradient of every parameter over the batch, from one call."""
        values = self.arguments(params, data, constants)
        p, i, t = len(self.parameters), len(self.program.inputs), len(self.program.targets)
        if self._kernel is not None:
            native = self._kernel.evaluate(values[:p], values[p : p + i + t], values[p + i + t :])
            if native is not None:
                return native[0], dict(zip(self.parameters, native[1], strict=True))
        with np.errstate(all="ignore"):  # non-finite values are the caller's to check, not warnings
            if self._plan is not None:
                fast = self._plan.evaluate(
                    values[:p], values[p : p + i], values[p + i : p + i + t], values[p + i + t :]
                )
                if fast is not None:
                    return fast[0], dict(zip(self.parameters, fast[1], strict=True))
            outputs = self._function(*values)
            means = [float(np.mean(v)) for v in outputs]
        return means[0], dict(zip(self.parameters, means[1:], strict=True))

    @cached_property
    def _logit(self) -> Callable[..., Any] | None:
        if self.program.logit is None:
            return None
        return sp.lambdify(
            self.program.arguments, self.program.logit, modules="numpy", printer=make_printer()
        )

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
            return np.asarray(self._logit(*self.arguments(params, data, constants)), dtype=np.float64)

    def accuracy(self, params: Mapping[str, float], data: Mapping[str, Any]) -> float | None:
        """The share of samples whose class (u ≥ 0 → 1) matches the first target, for binary models."""
        scores = self.logit(params, data)
        if scores is None or not self.program.targets:
            return None
        labels = np.asarray(data[self.program.targets[0]], dtype=np.float64)
        predicted = np.broadcast_to(scores >= 0, labels.shape)
        return float(np.mean(predicted == (labels == 1)))

    def start(self, seed: int = 0, scale: float = 0.01) -> dict[str, float]:
        """Starting parameters: small normal values drawn from `seed`, so hidden units are not all alike."""
        rng = np.random.default_rng(seed)
        return {name: float(scale * rng.standard_normal()) for name in self.parameters}

    def per_sample_loss(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> Array:
        with np.errstate(all="ignore"):
            outputs = self._function(*self.arguments(params, data, constants))
        return np.asarray(outputs[0], dtype=np.float64)

    def loss(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> float:
        return self.evaluate(params, data, constants)[0]

    def gradient(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        return self.evaluate(params, data, constants)[1]

    def step(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        learning_rate: float,
        constants: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """One gradient-descent update: p := p − learning_rate · mean ∂L/∂p."""
        grads = self.gradient(params, data, constants)
        return {p: float(params[p]) - learning_rate * g for p, g in grads.items()}


def compile_model(derivation: Derivation) -> NumericModel:
    """The numeric functions of a derivation (a `Program` built and compiled)."""
    return NumericModel(build_program(derivation))
