"""A model's names never collide with the names generated code uses for itself (`symcalc.numeric.names`).

A parameter called `m` (y = m*x + c, the first model many students write) once shared its
name with the batch functions' sample count, and `totals`, `torch` or `jnp` with the code's
own sums and libraries: the numbers were silently wrong, or the module crashed. Each case is
checked against plain NumPy written here by hand, never through symcalc's printer; and every
target keys its parameters by the model's names, so one `--save` file loads in all of them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import symcalc
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.model import NumericModel
from tests.conftest import Runner

#: z = w·x + p·u over n = 3 inputs, squared error and p²/4: p takes a name the code uses for itself (whose
#: p/2 in its gradient is the same for every sample, added to the sum over the samples: `totals`).
VECTOR_MODEL = """\
inputs = ["x[n]", "u"]
targets = ["y"]
parameters = ["w[n]", "{p}"]
[dimensions]
n = 3
[definitions]
z = "w @ x + {p}*u"
L = "(z - y)^2 + {p}^2/4"
"""

#: Names of generated code, its array libraries and Python's builtins: each a parameter here.
NAMES = ("m", "totals", "numpy", "math", "jnp", "jax", "torch", "json", "os", "float", "exec", "id")
TARGETS = ("numpy", "jax", "torch")


@cache
def _derivation(name: str, tmp: Path) -> symcalc.Derivation:
    path = tmp / f"model_{name}.toml"
    path.write_text(VECTOR_MODEL.format(p=name), encoding="utf-8")
    return symcalc.derive(symcalc.Model.load(path), hessian=True)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("names")


def _module(derivation: symcalc.Derivation, target: str, name: str) -> ModuleType:
    if target != "numpy":
        framework = pytest.importorskip(target, reason=f"{target} is not installed (.ci/run installs it)")
        if target == "jax":
            framework.config.update("jax_enable_x64", True)
    return symcalc.load_module(symcalc.codegen(derivation, target=target), f"names_{target}_{name}")


def _example(p: str, seed: int = 0, rows: int = 40) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    params = {"w": rng.normal(size=3), p: 0.7}
    data = {"x": rng.normal(size=(rows, 3)), "u": rng.normal(size=rows), "y": rng.normal(size=rows)}
    return params, data


def _by_hand(params: dict[str, Any], data: dict[str, Any], p: str) -> tuple[float, dict[str, Any]]:
    """The mean loss and its gradients, in plain NumPy."""
    residual = data["x"] @ params["w"] + params[p] * data["u"] - data["y"]
    grads = {"w": 2 * data["x"].T @ residual / len(residual), p: 2 * np.mean(residual * data["u"])}
    grads[p] += params[p] / 2
    return float(np.mean(residual**2) + params[p] ** 2 / 4), grads


@pytest.mark.slow
@pytest.mark.parametrize(
    "target", ["numpy", *(pytest.param(t, marks=pytest.mark.frameworks) for t in ("jax", "torch"))]
)
@pytest.mark.parametrize("name", NAMES)
def test_a_parameter_named_as_the_codes_own_names_gets_its_own_numbers(
    name: str, target: str, tmp: Path
) -> None:
    module = _module(_derivation(name, tmp), target, name)
    assert tuple(module.PARAMETERS) == ("w", name)  # keyed by the model's names in every target
    params, data = _example(name)
    loss, grads = _by_hand(params, data, name)
    value, derived = module.loss_and_gradient(params, data)
    assert float(module.loss(params, data)) == pytest.approx(loss, rel=1e-12)
    assert float(value) == pytest.approx(loss, rel=1e-12)
    for gradient in (module.gradient(params, data), derived):
        assert set(gradient) == {"w", name}
        for key in gradient:
            assert np.allclose(np.asarray(gradient[key], dtype=float), grads[key], rtol=1e-12, atol=1e-14)


SLOPE_MODEL = """\
inputs = ["x"]
targets = ["y"]
parameters = ["m", "c"]
[definitions]
p = "m*x + c"
L = "(p - y)^2"
"""


@pytest.mark.slow
@pytest.mark.frameworks
@pytest.mark.parametrize("target", ["jax", "torch"])
def test_y_equals_m_x_plus_c_has_no_loss_at_an_exact_fit(target: str, tmp: Path) -> None:
    path = tmp / "slope.toml"
    path.write_text(SLOPE_MODEL, encoding="utf-8")
    module = _module(symcalc.derive(symcalc.Model.load(path)), target, "slope")
    x = np.linspace(-2.0, 3.0, 11)
    params, data = {"m": 0.5, "c": -1.25}, {"x": x, "y": 0.5 * x - 1.25}
    assert float(module.loss(params, data)) == 0.0  # was 506 in JAX: m was the number of samples
    assert {k: float(v) for k, v in module.gradient(params, data).items()} == {"m": 0.0, "c": 0.0}
    slope = {"m": 1.5, "c": -1.25}  # residual x: mean x² and dJ/dm = 2 mean x²
    assert float(module.loss(slope, data)) == pytest.approx(np.mean(x**2), rel=1e-14)
    assert float(module.gradient(slope, data)["m"]) == pytest.approx(2 * np.mean(x**2), rel=1e-14)


@pytest.mark.slow
def test_newtons_hessian_of_a_parameter_named_m_is_the_mean_of_its_second_derivatives(tmp: Path) -> None:
    """The Hessian Newton's method reads comes from the batch module: 2 AᵀA/m with A = [x, u], and 1/2
    more for m²/4, by hand."""
    derivation = _derivation("m", tmp)
    model = NumericModel(numeric_program(derivation))
    assert "batch module" in model.second_order_by
    params, data = _example("m", seed=3)
    columns = {f"x{i + 1}": data["x"][:, i] for i in range(3)} | {"u": data["u"], "y": data["y"]}
    flat = {f"w{i + 1}": float(params["w"][i]) for i in range(3)} | {"m": params["m"]}
    loss, gradient, hessian = model.second_order(flat, columns)
    by_hand, grads = _by_hand(params, data, "m")
    design = np.c_[data["x"], data["u"]]
    assert loss == pytest.approx(by_hand, rel=1e-12)
    assert np.allclose(gradient, np.r_[grads["w"], grads["m"]], rtol=1e-12, atol=1e-14)
    ridge = np.diag([0.0, 0.0, 0.0, 0.5])
    assert np.allclose(hessian, 2 * design.T @ design / len(design) + ridge, rtol=1e-12, atol=1e-14)


def _csv(path: Path, data: dict[str, Any]) -> Path:
    columns = np.c_[data["x"], data["u"], data["y"]]
    rows = "\n".join(",".join(repr(float(v)) for v in row) for row in columns)
    path.write_text("x1,x2,x3,u,y\n" + rows + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", ["m", "id"])
def test_newton_trains_a_parameter_named_as_the_codes_own_names_to_least_squares(
    name: str, run: Runner, tmp: Path
) -> None:
    """`train --method newton` reaches the optimum that NumPy solves for (it stalled far from it for `m`),
    and its `--save` file loads into the NumPy, JAX and PyTorch modules, which give its loss back."""
    params, data = _example(name, seed=4, rows=60)
    data["y"] = data["x"] @ params["w"] + 0.7 * data["u"] + 0.1 * np.random.default_rng(5).normal(size=60)
    csv = _csv(tmp / f"fit_{name}.csv", data)
    (tmp / f"fit_{name}.toml").write_text(VECTOR_MODEL.format(p=name), encoding="utf-8")
    saved = tmp / f"fit_{name}.json"
    options = ["--method", "newton", "--json", "--tol", "1e-12", "--save", str(saved)]
    code, out, err = run(["train", str(tmp / f"fit_{name}.toml"), "--data", str(csv), *options])
    assert code == 0, err
    fitted = json.loads(out)["parameters"]
    design, rows = np.c_[data["x"], data["u"]], len(data["y"])
    # the gradient is 0: (2 AᵀA/m + diag(0, 0, 0, 1/2)) β = 2 Aᵀy/m
    best = np.linalg.solve(
        2 * design.T @ design / rows + np.diag([0, 0, 0, 0.5]), 2 * design.T @ data["y"] / rows
    )
    assert np.allclose(np.r_[fitted["w"], fitted[name]], best, rtol=1e-8, atol=1e-10)
    optimum = float(np.mean((design @ best - data["y"]) ** 2) + best[3] ** 2 / 4)
    derivation = _derivation(name, tmp)
    for target in TARGETS:
        module = _module(derivation, target, name)
        loaded = module.load_parameters(saved)
        assert set(loaded) == {"w", name}
        assert float(module.loss(loaded, data)) == pytest.approx(optimum, rel=1e-9)


ADJOINT_NAMED_MODEL = """\
inputs = ["x[n]"]
targets = ["y"]
parameters = ["w[n]", "b"]
[dimensions]
n = 2
[definitions]
dL_dz = "w @ x + b"
z = "tanh(dL_dz)"
L = "(z - y)^2"
"""


def test_a_definition_named_as_an_adjoint_keeps_its_value(tmp: Path) -> None:
    """The batch module spells dL/dz apart from a definition the file itself calls dL_dz."""
    path = tmp / "adjoint.toml"
    path.write_text(ADJOINT_NAMED_MODEL, encoding="utf-8")
    module = symcalc.load_module(symcalc.codegen(symcalc.derive(symcalc.Model.load(path))), "adjoint")
    rng = np.random.default_rng(7)
    params: dict[str, Any] = {"w": rng.normal(size=2), "b": 0.2}
    data = {"x": rng.normal(size=(30, 2)), "y": rng.normal(size=30)}
    s = data["x"] @ params["w"] + params["b"]
    residual = np.tanh(s) - data["y"]
    dl_ds = 2 * residual * (1 - np.tanh(s) ** 2)
    loss, grads = module.loss_and_gradient(params, data)
    assert loss == pytest.approx(np.mean(residual**2), rel=1e-12)
    assert np.allclose(grads["w"], data["x"].T @ dl_ds / 30, rtol=1e-12)
    assert float(grads["b"]) == pytest.approx(np.mean(dl_ds), rel=1e-12)


DIMENSION_M_MODEL = """\
inputs = ["x[m]"]
targets = ["y"]
parameters = ["w[m]"]
[dimensions]
m = 2
[definitions]
z = "w @ x"
L = "(z - y)^2 + sum(w*w)"
"""


def test_a_dimension_named_m_is_not_the_number_of_samples(tmp: Path) -> None:
    """x[m]: the batch form's m (samples) is a symbol apart from the dimension m (2 here, 30 samples); a
    guard (a dimension never met the sample count in an expression), not a bug seen."""
    path = tmp / "dimension.toml"
    path.write_text(DIMENSION_M_MODEL, encoding="utf-8")
    derivation = symcalc.derive(symcalc.Model.load(path))
    assert derivation.batch is not None
    module = symcalc.load_module(symcalc.codegen(derivation), "dimension")
    rng = np.random.default_rng(8)
    params = {"w": rng.normal(size=2)}
    data = {"x": rng.normal(size=(30, 2)), "y": rng.normal(size=30)}
    residual = data["x"] @ params["w"] - data["y"]
    loss, grads = module.loss_and_gradient(params, data)
    assert loss == pytest.approx(np.mean(residual**2) + params["w"] @ params["w"], rel=1e-12)
    assert np.allclose(grads["w"], 2 * data["x"].T @ residual / 30 + 2 * params["w"], rtol=1e-12)


NODE_NAMED_NUMPY = """\
inputs = ["x"]
targets = ["y"]
parameters = ["w", "b"]
[definitions]
numpy = "w*x + b"
float = "sigmoid(numpy)"
L = "-(y*log(float) + (1 - y)*log(1 - float))"
"""


def test_the_figures_draw_a_node_called_numpy(tmp: Path) -> None:
    """The pages' figures evaluate the definitions with NumPy too (an internal error before)."""
    from symcalc.numeric.curves import figures

    path = tmp / "figures.toml"
    path.write_text(NODE_NAMED_NUMPY, encoding="utf-8")
    drawn = figures(symcalc.derive(symcalc.Model.load(path)))
    activation, loss = drawn
    (_, values), (_, slopes) = activation.curves
    sigma = 1 / (1 + np.exp(-activation.xs))
    assert np.allclose(values, sigma, rtol=1e-14) and np.allclose(slopes, sigma * (1 - sigma), rtol=1e-12)
    (_, at_zero), (_, at_one) = loss.curves
    assert np.allclose(at_zero, -np.log(1 - loss.xs)) and np.allclose(at_one, -np.log(loss.xs))
