"""The fallback back end: one lambdified NumPy expression per output, the shared temporaries computed once.

It takes what the batch module does not: any data NumPy broadcasts (2-D columns, say), and a program
built without its batch module."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy as sp

from symcalc.numeric.program import Program
from symcalc.numeric.stable import make_printer


def lambdified(program: Program, outputs: Sequence[sp.Expr]) -> Callable[..., list[Any]]:
    """A NumPy function of the program's arguments returning `outputs`, from only the lines they need."""
    lines = [(line.target, line.value) for line in program.needed(outputs)]
    return sp.lambdify(
        program.arguments,
        list(outputs),
        modules=["numpy", {"math": math}],  # math: the table's erf and erfc, elementwise
        printer=make_printer(),
        cse=lambda _exprs: (lines, list(outputs)),
        docstring_limit=0,
    )


class Generic:
    """Every program, every data layout NumPy broadcasts: the back end the others fall back to."""

    name = "generic"

    def __init__(self, program: Program) -> None:
        self._function = lambdified(program, program.outputs)

    def per_sample(self, values: Sequence[Any]) -> list[Any]:
        """The loss and every gradient per sample, from the compiled function's positional arguments."""
        # A Python float argument becomes np.float64, so 1e200**2 is inf as in NumPy, not an OverflowError
        values = [np.float64(v) if type(v) is float or isinstance(v, int) else v for v in values]
        with np.errstate(all="ignore"):  # non-finite values are the caller's to check, not warnings
            return list(self._function(*values))

    def evaluate(
        self, params: Sequence[float], columns: Sequence[Any], constants: Sequence[float]
    ) -> tuple[float, list[float]]:
        outputs = self.per_sample([*params, *columns, *constants])
        with np.errstate(all="ignore"):
            means = [float(np.mean(v)) for v in outputs]
        return means[0], means[1:]

    def describe(self) -> str:
        return "NumPy, the per-sample program by lambdify"
