"""relu′(0) = 0 (PyTorch's and JAX's convention) in every numeric back end, and step prints in every output.

The oracle is the convention written out by hand in NumPy: for
L = (relu(w·x + b) − y)², dL/dw = 2(relu(z) − y)·𝟙[z > 0]·x and dL/db the
same without x. At w = b = 0 every z is exactly 0, where the ½ of SymPy's
Heaviside(0) would give dL/db = −mean(y) instead of 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.numeric.c.source import KernelPrinter
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.model import BackendChoice, NumericModel
from symcalc.numeric.stable import make_printer
from symcalc.symbolic.functions import step
from tests.generated import generated_module

RELU = """
title = "One relu unit"
inputs = ["x"]
targets = ["y"]
parameters = ["w", "b"]
[definitions]
z = "w*x + b"
h = "relu(z)"
L = "(h - y)^2"
"""


def by_hand(params: dict[str, float], data: dict[str, np.ndarray]) -> tuple[float, dict[str, float]]:
    """Mean loss and gradients with relu′(z) = 1 for z > 0, else 0."""
    x, y = data["x"], data["y"]
    z = params["w"] * x + params["b"]
    h = np.maximum(z, 0.0)
    upstream = 2 * (h - y) * (z > 0)
    return float(np.mean((h - y) ** 2)), {"w": float(np.mean(upstream * x)), "b": float(np.mean(upstream))}


@pytest.fixture(scope="module")
def derivation(tmp_path_factory: pytest.TempPathFactory) -> symcalc.Derivation:
    path = tmp_path_factory.mktemp("relu") / "relu.toml"
    path.write_text(RELU, encoding="utf-8")
    return symcalc.derive(symcalc.load(str(path)))


def _data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {"x": rng.standard_normal(64), "y": rng.uniform(0.5, 2.0, 64)}


@pytest.mark.parametrize(("choice", "backend"), [("auto", "c"), ("numpy", "numpy"), ("generic", "generic")])
def test_every_back_end_takes_relu_derivative_0_at_0(
    derivation: symcalc.Derivation, choice: BackendChoice, backend: str
) -> None:
    numeric = NumericModel(numeric_program(derivation), backend=choice)
    if numeric.backend != backend:
        pytest.skip(f"{backend} back end not available here: {numeric.describe()}")
    data = _data()
    for params in ({"w": 0.0, "b": 0.0}, {"w": 0.7, "b": -0.2}):
        loss, grads = numeric.evaluate(params, data)
        want_loss, want_grads = by_hand(params, data)
        assert loss == pytest.approx(want_loss, rel=1e-12)
        assert grads == pytest.approx(want_grads, rel=1e-12, abs=1e-15)
    assert numeric.evaluate({"w": 0.0, "b": 0.0}, data)[1]["b"] == 0.0  # not −mean(y), as ½ would give


def test_generated_module_takes_relu_derivative_0_at_0(
    derivation: symcalc.Derivation, tmp_path: Path
) -> None:
    module = generated_module(derivation, tmp_path, "generated_relu")
    data = _data()
    for params in ({"w": 0.0, "b": 0.0}, {"w": -0.4, "b": 0.3}):
        assert module.gradient(params, data) == pytest.approx(by_hand(params, data)[1], rel=1e-12, abs=1e-15)
    assert module.gradient({"w": 0.0, "b": 0.0}, data)["b"] == 0.0


def test_printers_give_step_its_convention() -> None:
    u = sp.Symbol("u", real=True)
    assert make_printer().doprint(step(u)) == "numpy.heaviside(u, 0.0)"  # NaN stays NaN
    assert KernelPrinter({u: "v0"}).doprint(step(u)) == "sc_heaviside(v0, 0.0)"


def test_gradient_holds_step_not_heaviside(derivation: symcalc.Derivation) -> None:
    gradients = derivation.gradients.values()
    assert all(not g.has(sp.Heaviside) for g in gradients)
    assert any(g.has(step) for g in gradients)
