"""What the numeric back ends are held to: a plain lambdify of the stable expressions, on random data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

import symcalc
from symcalc.numeric.model import NumericModel
from symcalc.numeric.plan import build_plan
from symcalc.numeric.program import build_program, make_printer
from tests.conftest import DERIVATIONS

MODELS = sorted(p.stem for p in DERIVATIONS.glob("*.toml"))


def program_of(name: str) -> symcalc.Program:
    return build_program(symcalc.derive(symcalc.load(str(DERIVATIONS / f"{name}.toml"))))


def random_data(
    program: symcalc.Program, n: int, rng: np.random.Generator, scale: float = 1.0
) -> dict[str, np.ndarray]:
    data = {name: scale * rng.standard_normal(n) for name in program.inputs}
    if program.model.assumptions:  # one-hot targets (softmax)
        labels = rng.integers(0, len(program.targets), size=n)
        data |= {name: (labels == k).astype(float) for k, name in enumerate(program.targets)}
    else:
        data |= {name: rng.integers(0, 2, size=n).astype(float) for name in program.targets}
    return data


def reference(
    program: symcalc.Program, params: dict[str, float], data: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean loss and gradients from a plain lambdify of the stable expressions (no cse, no plan),
    and the mean absolute per-sample value of each: the size a relative tolerance is measured against."""
    rename = {s: sp.Symbol(f"{s.name}_", real=True) for s in program.model.independents}
    exprs = [program.loss.xreplace(rename), *(g.xreplace(rename) for g in program.gradients)]
    function = sp.lambdify(program.arguments, exprs, modules="numpy", printer=make_printer())
    values = [params[p] for p in program.parameters] + [data[n] for n in (*program.inputs, *program.targets)]
    values += list(program.constants.values())
    with np.errstate(all="ignore"):
        outputs = [np.broadcast_to(v, data[program.inputs[0]].shape) for v in function(*values)]
    return np.array([np.mean(v) for v in outputs]), np.array([np.mean(np.abs(v)) for v in outputs])


def evaluated(numeric: NumericModel, params: dict[str, float], data: Mapping[str, Any]) -> np.ndarray:
    """[mean loss, mean gradient of each parameter] as one array."""
    loss, grads = numeric.evaluate(params, data)
    return np.array([loss, *(grads[p] for p in numeric.parameters)])


def numpy_paths(program: symcalc.Program) -> NumericModel:
    """What runs where there is no C compiler: the NumPy plan where it applies, else the generic program."""
    return NumericModel(program, backend="plan" if build_plan(program) is not None else "generic")
