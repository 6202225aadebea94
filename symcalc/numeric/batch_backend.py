"""The NumPy back end of `NumericModel`: the batch module `codegen --target numpy` writes, run as it is.

A program built by `symcalc.numeric.codegen.numeric_program` carries that module's text
(`Program.batch_source`). For a model of scalars the module takes the parameters and the
columns by their own names, as `NumericModel` has them; for a model with vectors and
matrices it takes arrays (w, X), and the written-out names `NumericModel` is given (w1 … wn,
x1 … xn) are gathered into them here, in the module's PARAMETERS order. The same module gives
Newton's Hessian (`loss_gradient_hessian`) where the derivation has second derivatives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np

from symcalc.numeric.codegen import load_module
from symcalc.numeric.program import Array, Program


class BatchModule:
    """`Backend` over the batch module of one program (see the module docstring)."""

    name = "numpy"

    def __init__(self, program: Program) -> None:
        self.program = program
        self.module = load_module(program.batch_source, "symcalc_batch")
        shaped = program.model.shaped
        arrays = shaped.arrays() if shaped is not None else {}
        #: Each module parameter and datum by name → its written-out entries' names, in its shape
        #: (absent for a scalar, which is its own name).
        self.entries = {symbol.name: value for symbol, value in arrays.items() if hasattr(symbol, "name")}
        order = [name for p in self.module.PARAMETERS for name in self._names(p)]
        if order != list(program.parameters):  # pragma: no cover - both follow the file's order
            raise ValueError("the batch module's parameters are not in the program's order")

    def _names(self, name: str) -> list[str]:
        names = self.entries.get(name)
        return [name] if names is None else [s.name for s in names.flat]

    def parameters(self, values: Sequence[float]) -> dict[str, Any]:
        """The module's parameters from the program's, in order."""
        given = iter(values)
        result: dict[str, Any] = {}
        for name in self.module.PARAMETERS:
            names = self.entries.get(name)
            if names is None:
                result[name] = np.float64(next(given))
            else:
                result[name] = np.array([next(given) for _ in range(names.size)]).reshape(names.shape)
        return result

    def gradient(self, grads: Mapping[str, Any]) -> list[float]:
        """The module's gradients as the program's, in order."""
        return [float(g) for name in self.module.PARAMETERS for g in np.ravel(grads[name])]

    def data(self, columns: Sequence[Any]) -> dict[str, Array] | None:
        """The module's data from the program's columns (inputs, then targets); None unless they are
        1-D arrays of one length or numbers (a number is every sample's), at least one sample."""
        program = self.program
        arrays = [np.asarray(c, dtype=np.float64) for c in columns]
        lengths = {len(a) for a in arrays if a.ndim == 1 and len(a) != 1}
        if any(a.ndim > 1 for a in arrays) or len(lengths) > 1 or any(a.size == 0 for a in arrays):
            return None
        rows = lengths.pop() if lengths else 1
        by_name = {
            name: a if a.ndim == 1 and len(a) == rows else np.broadcast_to(a.reshape(()), (rows,))
            for name, a in zip((*program.inputs, *program.targets), arrays, strict=True)
        }
        result: dict[str, Array] = {}
        for name in self.module.DATA:
            names = self.entries.get(name)
            if names is None:
                result[name] = by_name[name]
            else:
                stacked = np.column_stack([by_name[s.name] for s in names.flat])
                result[name] = stacked.reshape(rows, *names.shape)
        return result

    def constants(self, values: Sequence[float]) -> dict[str, float]:
        return dict(zip(self.program.constants, (float(v) for v in values), strict=True))

    def evaluate(
        self, params: Sequence[float], columns: Sequence[Any], constants: Sequence[float]
    ) -> tuple[float, list[float]] | None:
        data = self.data(columns)
        if data is None:
            return None
        loss, grads = self.module.loss_and_gradient(self.parameters(params), data, self.constants(constants))
        return float(loss), self.gradient(grads)

    @cached_property
    def has_hessian(self) -> bool:
        return hasattr(self.module, "loss_gradient_hessian")

    def second_order(
        self, params: Sequence[float], data: Mapping[str, Array], constants: Sequence[float]
    ) -> tuple[float, Array, Array]:
        """Mean loss, gradient and Hessian in the program's parameter order, on `data` (`self.data`)."""
        loss, grads, hessian = self.module.loss_gradient_hessian(
            self.parameters(params), data, self.constants(constants)
        )
        return float(loss), np.array(self.gradient(grads)), np.asarray(hessian, dtype=np.float64)

    def describe(self) -> str:
        return "NumPy, the batch module (codegen --target numpy)"
