"""A parameter the loss does not read (M below): its gradient is zeros of its shape in every target's
module, so that train, which flattens each gradient entry by entry, runs.

Oracles: the gradient by central finite differences of the loss written out in plain NumPy here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import symcalc
from symcalc.numeric.batch_code import generate_batch
from symcalc.numeric.codegen import codegen
from tests.conftest import Runner, WriteToml

MODEL = """
title = "a network with an unused matrix"
inputs     = ["x[n]"]
targets    = ["y"]
parameters = ["W[h,n]", "M[n,h]", "c[h]", "v[h]", "b"]

[dimensions]
n = 2
h = 3

[definitions]
s = "W @ x + c"
g = "tanh(s)"
z = "v @ g + b"
a = "sigmoid(z)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
"""

RNG = np.random.default_rng(29)
PARAMS: dict[str, Any] = {"W": RNG.normal(size=(3, 2)), "M": RNG.normal(size=(2, 3)), "c": RNG.normal(size=3)}
PARAMS |= {"v": RNG.normal(size=3), "b": 0.3}
X, Y = RNG.normal(size=(5, 2)), np.array([0.0, 1.0, 1.0, 0.0, 1.0])


def _loss(p: dict[str, Any]) -> float:
    z = np.tanh(X @ p["W"].T + p["c"]) @ p["v"] + p["b"]
    a = 1 / (1 + np.exp(-z))
    return float(np.mean(-(Y * np.log(a) + (1 - Y) * np.log(1 - a))))


def _differences(name: str) -> Any:
    value = np.asarray(PARAMS[name], dtype=np.float64)
    grad = np.zeros_like(value)
    for index in np.ndindex(value.shape):
        up, down = value.copy(), value.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        grad[index] = (_loss(PARAMS | {name: up}) - _loss(PARAMS | {name: down})) / 2e-6
    return grad


@pytest.mark.slow
@pytest.mark.parametrize(
    "target", ["numpy", *(pytest.param(t, marks=pytest.mark.frameworks) for t in ("jax", "torch"))]
)
def test_an_unused_matrix_has_a_gradient_of_its_shape(target: str, write_toml: WriteToml) -> None:
    if target != "numpy":
        framework = pytest.importorskip(target)
        if target == "jax":
            framework.config.update("jax_enable_x64", True)
    derivation = symcalc.derive(symcalc.Model.load(write_toml(MODEL)))
    text = generate_batch(derivation) if target == "numpy" else codegen(derivation, target)
    module = symcalc.load_module(text)
    data = {"x": X, "y": Y}
    for grads in (module.gradient(PARAMS, data), module.loss_and_gradient(PARAMS, data)[1]):
        for name in PARAMS:
            got = np.asarray(grads[name], dtype=np.float64)
            assert got.shape == np.shape(PARAMS[name]), name
            np.testing.assert_allclose(got, _differences(name), atol=1e-8, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["gd", "newton", "lbfgs", "adam"])
def test_train_runs_a_model_with_an_unused_matrix(
    method: str, write_toml: WriteToml, tmp_path: Path, run: Runner
) -> None:
    data = tmp_path / "data.csv"
    rows = "\n".join(f"{a!r},{b!r},{y!r}" for (a, b), y in zip(X.tolist(), Y.tolist(), strict=True))
    data.write_text("x1,x2,y\n" + rows + "\n", encoding="utf-8")
    code, out, err = run(
        ["train", str(write_toml(MODEL)), "--data", str(data), "--method", method, "--epochs", "3"]
    )
    assert code == 0, err
    assert "M2_3" in out and "internal error" not in err
