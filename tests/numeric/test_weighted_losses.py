"""A class weight in a cross-entropy must not cost the stable form of its gradient.

Unweighted, dL/dz = a − y is shorter than the chain rule's dL/da · a(1 − a), and the back ends use
it. Weighted, the simplified a(1 − y) − cw·y(1 − a) is longer than the chain, and the chain was
chosen: dL/da = (1 − y)/(1 − a) − cw·y/a divides by 1 − a, which is 0 once σ(z) rounds to 1, and
every back end returned NaN for the gradient at |z| ≈ 800 while the loss was finite. The same held
for a weighted softmax (dL/dP = −cw ⊙ Y/P). The oracle is mpmath on SymPy's own `diff` of the
composed loss, at rows chosen to saturate σ and the softmax.
"""

from __future__ import annotations

from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.numeric.c.build import compiler
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.model import NumericModel
from tests.numeric_oracle import exact_outputs, exact_row
from tests.spec.test_vector_constants import WEIGHTED

WEIGHTED_BINARY = """
title = "Class-weighted logistic regression"
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
[constants]
cw = 3.0
[definitions]
z = "w1*x1 + w2*x2 + b"
a = "sigmoid(z)"
L = "-(cw*y*log(a) + (1 - y)*log(1 - a))"
"""

#: The weighted softmax of the vector-constant tests: cw = [1, 2, 5] over k = 3 classes.
WEIGHTED_SOFTMAX = WEIGHTED


#: Inputs from moderate to saturating (scores up to ±800 with the parameters below), both labels.
X1 = np.array([0.5, -0.5, 20.0, -20.0, 200.0, -200.0, 200.0, -200.0])
X2 = np.array([1.0, 0.25, -1.0, 2.0, 0.0, 0.0, 1.0, -1.0])


def _program(tmp_path: Path, text: str) -> symcalc.Program:
    path = tmp_path / "model.toml"
    path.write_text(text, encoding="utf-8")
    return numeric_program(symcalc.derive(symcalc.load(str(path))))


def _exact(program: symcalc.Program, params: dict[str, float], data: dict[str, np.ndarray]) -> np.ndarray:
    """The mean loss and gradients by mpmath on SymPy's diff of the composed loss, each row with
    digits doubled until two evaluations agree (1 − σ(800) needs about 350)."""
    model = program.model
    names = [*model.parameters, *model.inputs, *model.targets, *(s for s, _ in model.constants)]
    function = sp.lambdify(names, exact_outputs(model), modules="mpmath")
    rows = []
    for i in range(len(X1)):
        arguments = [
            *(params[p] for p in program.parameters),
            *(float(data[c][i]) for c in (*program.inputs, *program.targets)),
            *program.constants.values(),
        ]
        values = exact_row(function, arguments)
        assert values is not None, arguments
        rows.append(values)
    with mpmath.workdps(100):
        return np.array([float(mpmath.fsum(column) / len(rows)) for column in zip(*rows, strict=True)])


def _check(
    program: symcalc.Program, backend: str, params: dict[str, float], data: dict[str, np.ndarray]
) -> None:
    if backend == "c" and compiler() is None:
        pytest.skip("no C compiler on this machine (set CC or install cc)")
    numeric = NumericModel(program, backend=backend)  # type: ignore[arg-type]
    assert numeric.backend == backend, numeric.describe()
    loss, grads = numeric.evaluate(params, data)
    got = np.array([loss, *(grads[p] for p in program.parameters)])
    want = _exact(program, params, data)
    assert np.all(np.isfinite(got)), dict(zip(("loss", *program.parameters), got, strict=True))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.max(np.abs(want)))


@pytest.mark.parametrize("backend", ["c", "numpy", "generic"])
def test_a_class_weighted_sigmoid_keeps_a_finite_gradient_where_sigma_saturates(
    tmp_path: Path, backend: str
) -> None:
    program = _program(tmp_path, WEIGHTED_BINARY)
    data = {"x1": X1, "x2": X2, "y": np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])}
    _check(program, backend, {"w1": 4.0, "w2": -1.0, "b": 0.5}, data)


@pytest.mark.parametrize("backend", ["c", "numpy", "generic"])
def test_a_class_weighted_softmax_keeps_a_finite_gradient_where_it_saturates(
    tmp_path: Path, backend: str
) -> None:
    program = _program(tmp_path, WEIGHTED_SOFTMAX)
    labels = np.array([0, 1, 2, 0, 2, 1, 0, 2])
    data = {"x1": X1, "x2": X2} | {f"y{k + 1}": (labels == k).astype(float) for k in range(3)}
    rows = np.array([[4.0, 1.0], [0.0, -1.0], [-4.0, 0.5]])
    params = {f"W{i + 1}_{j + 1}": float(rows[i, j]) for i in range(3) for j in range(2)}
    params |= {"b1": 0.5, "b2": 0.0, "b3": -0.5}
    _check(program, backend, params, data)


def test_the_weighted_gradient_module_reads_no_division_by_the_output(tmp_path: Path) -> None:
    """What codegen writes is what trained: its dL/dz line is the cancelled form, not dL/da's quotient."""
    from symcalc.numeric.codegen import generate

    path = tmp_path / "model.toml"
    path.write_text(WEIGHTED_BINARY, encoding="utf-8")
    source = generate(symcalc.derive(symcalc.load(str(path))))
    assert "dL_da" not in source and "(1 - a)" not in source.split('"""', 2)[2], source
