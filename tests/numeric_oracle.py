"""What the numeric back ends are held to.

`exact()` is the correctness oracle: mpmath at 40 digits on SymPy's own `diff` of the composed
loss, printed by SymPy's mpmath printer. It never goes through symcalc's stable rewrites, its
cse or its printer, so a bug there cannot be shared by the oracle and the back ends.

`reference()` is a plain lambdify of the program's own stable expressions with symcalc's
printer: the back ends must agree with it bit for bit or nearly (consistency), but a bug in
the rewrites or the printer would be in both, so it is not evidence of correctness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp

import symcalc
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.model import NumericModel
from symcalc.symbolic.functions import step, to_elementary
from tests.conftest import DERIVATIONS

MODELS = sorted(p.stem for p in DERIVATIONS.glob("*.toml"))


#: x1 enters through step(x1), not a linear form, and step(NaN) is NaN.
STEP_OF_AN_INPUT = """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1"]
[definitions]
L = "step(x1)*(w1*x2 - y)**2"
"""


@cache
def program_of(name: str) -> symcalc.Program:
    return numeric_program(symcalc.derive(symcalc.load(str(DERIVATIONS / f"{name}.toml"))))


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
    """Mean loss and gradients from the lambdified program (one NumPy expression per line, no batch
    module, no kernel), and the mean absolute per-sample value of each: the size a relative
    tolerance is measured against."""
    generic = NumericModel(program, backend="generic")
    with np.errstate(all="ignore"):
        per_sample = generic.per_sample(params, data)
        outputs = [np.broadcast_to(v, data[program.inputs[0]].shape) for v in per_sample]
    return np.array([np.mean(v) for v in outputs]), np.array([np.mean(np.abs(v)) for v in outputs])


def evaluated(numeric: NumericModel, params: dict[str, float], data: Mapping[str, Any]) -> np.ndarray:
    """[mean loss, mean gradient of each parameter] as one array."""
    loss, grads = numeric.evaluate(params, data)
    return np.array([loss, *(grads[p] for p in numeric.parameters)])


def numpy_paths(program: symcalc.Program) -> NumericModel:
    """What runs where there is no C compiler: the batch module `codegen` writes."""
    return NumericModel(program, backend="numpy")


#: Digits mpmath starts with. The composed loss is the textbook form, so 1 − σ(z) loses about
#: |z|/2.3 digits to cancellation (47 at z = 108): each row is evaluated again with twice the digits
#: until two evaluations agree to AGREE relative, so what is left is far beyond float64's 16.
DIGITS = 50
AGREE = mpmath.mpf("1e-30")
#: Rows in the oracle's batch: mpmath is slow, and 64 rows already mix every sign and size below.
ROWS = 64


@dataclass(frozen=True)
class Exact:
    """A batch and its exact mean loss and gradients, rounded once to float64.

    `size` is the mean absolute per-sample value of each output, what a relative tolerance is
    measured against (a mean that cancels to near 0 is not asked for more digits than its terms had).
    """

    params: dict[str, float]
    data: dict[str, np.ndarray]
    means: np.ndarray
    size: np.ndarray


def exact_outputs(model: symcalc.Model) -> list[sp.Expr]:
    """The composed loss with every definition substituted, and SymPy's `diff` of it by each parameter."""
    composed = to_elementary(model.composed[model.loss])
    return [as_piecewise(o) for o in [composed, *(sp.diff(composed, p) for p in model.parameters)]]


def as_piecewise(expr: sp.Expr) -> sp.Expr:
    """step(u) is 1 for u > 0, else 0 (as the function table defines it), and so is Heaviside(u, 0)
    from SymPy's diff of Max/Abs: written as Piecewise so that SymPy's mpmath printer evaluates them."""
    return (
        expr.replace(lambda e: isinstance(e, step), lambda e: sp.Piecewise((1, e.args[0] > 0), (0, True)))
        .replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Piecewise((1, e.args[0] > 0), (0, True)))
        .replace(
            lambda e: isinstance(e, sp.sign),
            lambda e: sp.Piecewise((1, e.args[0] > 0), (-1, e.args[0] < 0), (0, True)),
        )
    )


#: The oracle's batches: parameters of unit size with half the rows' inputs 10 to 120 times larger,
#: and parameters 50 times larger on unit inputs (what reaches large scores through a hidden layer).
#: Both give scores |z| from below 1 to past 40 (up to ~110), where σ(z) rounds to 1 in float64 and
#: only the stable forms keep log(1 − σ(z)), softplus and softmax finite and exact.
CASES = ("large inputs", "large parameters")


def oracle_batch(
    program: symcalc.Program, case: str, rng: np.random.Generator, n: int = ROWS
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Parameters and `n` rows of data for one of `CASES`."""
    params = {p: float(rng.normal()) for p in program.parameters}
    data = random_data(program, n, rng)
    if case == "large inputs":
        scale = np.where(np.arange(n) < n // 2, 1.0, rng.uniform(10.0, 120.0, n))
        data |= {x: data[x] * scale for x in program.inputs}
    elif case == "large parameters":
        params = {p: 50.0 * v for p, v in params.items()}
    else:
        raise ValueError(case)
    return params, data


def exact_row(function: Any, arguments: list[float]) -> list[Any] | None:
    """The outputs at one row (mpf(float) is exact), to AGREE relative, or None where one is not finite."""
    digits, before = DIGITS, None
    while digits <= 16 * DIGITS:
        with mpmath.workdps(digits):
            try:
                values = [mpmath.mpf(v) for v in function(*(mpmath.mpf(a) for a in arguments))]
            except (ZeroDivisionError, ValueError):
                values = None
            if (
                values is not None
                and before is not None
                and all(abs(a - b) <= AGREE * abs(b) for a, b in zip(before, values, strict=True))
            ):
                return values if all(mpmath.isfinite(v) for v in values) else None
            before = values
        digits *= 2
    raise AssertionError(f"no {AGREE} agreement up to {digits // 2} digits at {arguments}")


@cache
def exact(name: str, case: str, seed: int = 29) -> Exact:
    """The exact means over one of the `CASES` batches of the shipped model `name`.

    Each row is evaluated from the float64 numbers the back ends get (mpf(float) is exact); a row
    whose true loss or a true gradient is not finite in float64 is left out of the batch.
    """
    program = program_of(name)
    model = program.model
    rng = np.random.default_rng(seed)
    params, data = oracle_batch(program, case, rng)
    names = [*model.parameters, *model.inputs, *model.targets, *(s for s, _ in model.constants)]
    function = sp.lambdify(names, exact_outputs(model), modules="mpmath", cse=True)
    largest = mpmath.mpf(np.finfo(np.float64).max)
    kept: list[int] = []
    rows: list[list[Any]] = []
    for i in range(len(data[program.inputs[0]])):
        columns = [float(data[c][i]) for c in (*program.inputs, *program.targets)]
        arguments = [*(params[p] for p in program.parameters), *columns, *program.constants.values()]
        values = exact_row(function, arguments)
        if values is None or not all(abs(v) < largest for v in values):
            continue
        kept.append(i)
        rows.append(values)
    count = len(rows)
    with mpmath.workdps(2 * DIGITS):
        means = np.array([float(mpmath.fsum(column) / count) for column in zip(*rows, strict=True)])
        size = np.array(
            [float(mpmath.fsum(abs(v) for v in column) / count) for column in zip(*rows, strict=True)]
        )
    assert count >= len(data[program.inputs[0]]) // 2, f"{name}: only {count} rows where the loss is finite"
    return Exact(params, {k: v[kept] for k, v in data.items()}, means, size)
