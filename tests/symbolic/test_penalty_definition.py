"""A penalty written as a definition of its own (R = sum(W*W), L = … + lam/2*R) is the same in every
sample: its adjoint dL/dR = lam/2 is too, and summed over m samples it is m·lam/2, not lam/2.

The batch form summed it as a column of one value, so the generated module's dJ/dW had λW/m where
λW belongs, and verify's batch check failed. Oracles: NumPy written here with central finite
differences, and verify's own comparison with SymPy's diff of the written-out loss.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import symcalc
from tests.conftest import WriteToml
from tests.generated import generated_module

VECTOR = """
title = "a penalty as a definition of its own"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[h,n]", "v[h]", "b"]
[dimensions]
n = 2
h = 3
[constants]
lam = 0.1
[definitions]
s = "W @ x"
z = "v @ tanh(s) + b"
R = "sum(W*W)"
L = "(z - y)^2/2 + lam/2*R"
"""

SCALAR = """
title = "a scalar model's penalty as a definition of its own"
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
[constants]
lam = 0.3
[definitions]
z = "w1*x1 + w2*x2 + b"
R = "w1^2 + w2^2"
L = "(z - y)^2/2 + lam/2*R"
"""


def _vector_loss(values: dict[str, Any], data: dict[str, Any]) -> float:
    z = np.tanh(data["x"] @ values["W"].T) @ values["v"] + values["b"]
    return float(np.mean((z - data["y"]) ** 2 / 2) + 0.1 / 2 * np.sum(values["W"] ** 2))


def _scalar_loss(values: dict[str, Any], data: dict[str, Any]) -> float:
    z = values["w1"] * data["x1"] + values["w2"] * data["x2"] + values["b"]
    return float(np.mean((z - data["y"]) ** 2 / 2) + 0.3 / 2 * (values["w1"] ** 2 + values["w2"] ** 2))


@pytest.mark.parametrize(
    ("text", "loss", "params", "data"),
    [
        (
            VECTOR,
            _vector_loss,
            {"W": (3, 2), "v": (3,), "b": ()},
            {"x": (7, 2), "y": (7,)},
        ),
        (
            SCALAR,
            _scalar_loss,
            {"w1": (), "w2": (), "b": ()},
            {"x1": (7,), "x2": (7,), "y": (7,)},
        ),
    ],
)
def test_the_module_and_verify_count_the_penalty_once_not_once_per_sample(
    text: str,
    loss: Callable[[dict[str, Any], dict[str, Any]], float],
    params: dict[str, tuple[int, ...]],
    data: dict[str, tuple[int, ...]],
    write_toml: WriteToml,
    tmp_path: Path,
) -> None:
    derivation = symcalc.derive(symcalc.load(str(write_toml(text))))
    module = generated_module(derivation, tmp_path)
    rng = np.random.default_rng(2)
    values = {name: rng.normal(size=shape) for name, shape in params.items()}
    rows = {name: rng.normal(size=shape) for name, shape in data.items()}
    assert np.isclose(module.loss(values, rows), loss(values, rows), rtol=1e-13, atol=0)
    gradient = module.gradient(values, rows)
    for name, value in values.items():
        for index in np.ndindex(np.shape(value)):
            up, down = (
                {k: np.array(v, dtype=float) for k, v in values.items()},
                {k: np.array(v, dtype=float) for k, v in values.items()},
            )
            up[name][index] += 1e-6
            down[name][index] -= 1e-6
            central = (loss(up, rows) - loss(down, rows)) / 2e-6
            assert np.isclose(np.asarray(gradient[name])[index], central, rtol=1e-6, atol=1e-9), (name, index)
    checks = symcalc.verify(derivation, points=3)
    assert checks and all(c.holds for c in checks), [c.name for c in checks if not c.holds]
