"""`codegen --target jax|torch`: each module's derived gradient against the NumPy module's, against the
framework's own autodiff of the generated loss, and its custom backward against both."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import symcalc
from symcalc.numeric.model import compile_model
from tests.conftest import DERIVATIONS, Runner, WriteToml

pytestmark = pytest.mark.frameworks  # run by `.ci/run`; the quick set leaves JAX and PyTorch out

MODELS = [
    "logistic_regression",
    "logistic_regression_l2",
    "linear_regression",
    "poisson_regression",
    "tanh_unit",
    "two_layer_network",
    "softmax_regression",
    "logistic_regression_vector",
    "softmax_regression_vector",
    "two_layer_network_vector",
    "multinomial_logistic_regression",
    "layer_norm_linear",
    "rnn",
    # no batch form of their own: the formulas are the entries, the interface the whole arrays
    "attention_one_query",
    "skipgram_negative_sampling",
    "batch_norm",
]


@pytest.fixture(scope="module")
def jax() -> ModuleType:
    jax = pytest.importorskip("jax", reason="JAX is not installed (.ci/run installs its CPU build)")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    return pytest.importorskip("torch", reason="PyTorch is not installed (.ci/run installs its CPU build)")


def _modules(name: str, target: str) -> tuple[ModuleType, ModuleType]:
    """The NumPy module and the `target` module of a shipped model."""
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / f"{name}.toml"))
    numpy_module = symcalc.load_module(symcalc.codegen(derivation), f"{name}_numpy")
    return numpy_module, symcalc.load_module(symcalc.codegen(derivation, target=target), f"{name}_{target}")


def _example(module: ModuleType, seed: int = 0, samples: int = 40) -> tuple[dict[str, Any], dict[str, Any]]:
    """Random parameters of the module's shapes and data of its arrays' shapes: targets one-hot where
    there are several (as the softmax models assume), in (0, 1) otherwise."""
    rng = np.random.default_rng(seed)
    sizes: dict[str, int] = {}

    def size(axis: object) -> int:
        return axis if isinstance(axis, int) else sizes.setdefault(str(axis), 3)

    params = {
        name: rng.normal(size=tuple(size(a) for a in shape)) for name, shape in module.PARAMETERS.items()
    }
    data = {}
    scalar_targets = [name for name in module.TARGETS if not module.DATA[name][1]]
    one_hot = np.eye(max(len(scalar_targets), 1))[rng.integers(0, max(len(scalar_targets), 1), samples)]
    for name, (_, shape) in module.DATA.items():
        axes = (samples, *(size(a) for a in shape))
        if name in module.TARGETS and len(axes) == 2:  # y[k]: one-hot rows, as sum(y) = 1 assumes
            data[name] = np.eye(axes[1])[rng.integers(0, axes[1], samples)]
        elif name in scalar_targets:  # y1 … yk one-hot across them (y1 + y2 + y3 = 1), else in (0, 1)
            column = scalar_targets.index(name)
            data[name] = one_hot[:, column] if len(scalar_targets) > 1 else rng.random(samples)
        else:
            data[name] = rng.normal(size=axes)
    return params, data


def _close(left: dict[str, Any], right: dict[str, Any], tolerance: float = 1e-12) -> None:
    assert left.keys() == right.keys()
    for name in left:
        a, b = np.asarray(left[name], dtype=float), np.asarray(right[name], dtype=float)
        assert np.allclose(a, b, rtol=tolerance, atol=tolerance), (name, a, b)


@pytest.mark.parametrize("name", MODELS)
def test_jax_gradient_equals_numpy_autodiff_and_its_custom_vjp(jax: ModuleType, name: str) -> None:
    numpy_module, module = _modules(name, "jax")
    params, data = _example(module)
    jparams = {k: jax.numpy.asarray(v) for k, v in params.items()}
    derived = module.gradient(jparams, data)
    _close(derived, numpy_module.gradient(params, data))
    _close(jax.grad(module.loss)(jparams, data), derived)  # JAX's own autodiff of the generated loss
    custom = module.loss_with_derived_gradient(data)
    _close(jax.grad(custom)(jparams), derived)
    assert float(jax.jit(module.loss)(jparams, data)) == pytest.approx(
        numpy_module.loss(params, data), rel=1e-12
    )
    _close(jax.jit(module.gradient)(jparams, data), derived)


@pytest.mark.parametrize("name", MODELS)
def test_torch_gradient_equals_numpy_autograd_and_its_autograd_function(torch: ModuleType, name: str) -> None:
    numpy_module, module = _modules(name, "torch")
    params, data = _example(module)
    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    tdata = {k: torch.tensor(v, dtype=torch.float64) for k, v in data.items()}
    derived = {k: v.detach().numpy() for k, v in module.gradient(tparams, tdata).items()}
    _close(derived, numpy_module.gradient(params, data))
    own = torch.autograd.grad(module.loss(tparams, tdata), list(tparams.values()))
    _close(dict(zip(tparams, (g.numpy() for g in own), strict=True)), derived)  # autograd of the loss
    value = module.loss_with_derived_gradient(tparams, tdata)
    value.backward()
    _close({k: v.grad.numpy() for k, v in tparams.items()}, derived)
    assert float(value.detach()) == pytest.approx(numpy_module.loss(params, data), rel=1e-12)


def test_the_stable_loss_and_gradient_stay_finite_at_z_1e4(jax: ModuleType, torch: ModuleType) -> None:
    """w1 = 1e4 at x1 = ±1 makes z = ±1e4: the naive log(σ(z)) of each framework is infinite there."""
    params = {"w1": 1e4, "w2": 0.0, "b": 0.0}
    data = {"x1": np.array([1.0, -1.0]), "x2": np.array([0.0, 0.0]), "y": np.array([0.0, 1.0])}
    for target in ("jax", "torch"):
        _, module = _modules("logistic_regression", target)
        convert = jax.numpy.asarray if target == "jax" else (lambda v: torch.tensor(v, dtype=torch.float64))
        p, d = {k: convert(v) for k, v in params.items()}, {k: convert(v) for k, v in data.items()}
        value, grads = module.loss_and_gradient(p, d)
        assert float(value) == pytest.approx(1e4)  # each sample is wrong by z = 1e4
        assert all(np.isfinite(float(g)) for g in grads.values())
        assert float(grads["w1"]) == pytest.approx(1.0)  # (a − y)·x1 = 1 for both samples
    z = jax.numpy.asarray([1e4, -1e4])
    y = jax.numpy.asarray([0.0, 1.0])
    naive = -(y * jax.numpy.log(jax.nn.sigmoid(z)) + (1 - y) * jax.numpy.log(1 - jax.nn.sigmoid(z)))
    assert not np.isfinite(np.asarray(naive)).all()
    zt, yt = torch.tensor([1e4, -1e4], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)
    naive_torch = -(yt * torch.log(torch.sigmoid(zt)) + (1 - yt) * torch.log(1 - torch.sigmoid(zt)))
    assert not torch.isfinite(naive_torch).all()


def test_a_torch_sgd_loop_with_the_derived_loss_reaches_symcalc_trains_parameters(
    torch: ModuleType, run: Runner
) -> None:
    """200 epochs at lr 0.5 from train's own starting point (seed 0), on the built-in data."""
    _, module = _modules("logistic_regression", "torch")
    code, out, err = run(["train", "--lr", "0.5", "--epochs", "200", "--tol", "0", "--json"])
    assert code == 0, err
    trained = json.loads(out)["parameters"]
    derivation = symcalc.derive(symcalc.load())
    numeric = compile_model(derivation)
    start = numeric.start(0)
    data = {
        k: torch.tensor(v, dtype=torch.float64)
        for k, v in symcalc.load_builtin(derivation.model).columns.items()
    }
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in start.items()}
    optimiser = torch.optim.SGD(list(params.values()), lr=0.5)
    for _ in range(200):
        optimiser.zero_grad()
        module.loss_with_derived_gradient(params, data).backward()
        optimiser.step()
    for name, value in params.items():
        assert float(value.detach()) == pytest.approx(trained[name], abs=1e-12)


def test_codegen_target_on_the_command_line(run: Runner, tmp_path: object) -> None:
    code, out, _ = run(["codegen", "--target", "jax"])
    assert code == 0 and "import jax.numpy as jnp" in out and "def loss_with_derived_gradient(data" in out
    assert "numpy." not in out.replace("jax.numpy", "")
    code, out, _ = run(["codegen", "--target", "torch", "two_layer_network_vector"])
    assert code == 0 and "class DerivedLoss(torch.autograd.Function)" in out and "X @ W.T" in out
    code, out, _ = run(["codegen"])
    assert code == 0 and "import install, numpy" in out and "torch" not in out
    code, out, _ = run(["codegen", "--standalone"])
    assert code == 0 and "\nimport numpy\n" in out and "symcalc.numeric" not in out and "torch" not in out


def test_an_unknown_target_is_refused(capsys: pytest.CaptureFixture[str], run: Runner) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["codegen", "--target", "tensorflow"])
    assert exited.value.code == 2 and "invalid choice: 'tensorflow'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no codegen target 'tf'"):
        symcalc.codegen(symcalc.derive(symcalc.load()), target="tf")


def test_generating_needs_no_framework(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in ("jax", "torch"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it would now fail
    derivation = symcalc.derive(symcalc.load("two_layer_network_vector"))
    assert "def _gradient(" in symcalc.codegen(derivation, target="jax")
    assert "def _gradient(" in symcalc.codegen(derivation, target="torch")


EVERY_FUNCTION = """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
[definitions]
z = "w1*x1 + w2*x2 + b"
u = "gelu(z) + erf(z) + relu(z) + softplus(z) + leaky_relu(z, 0.1) + abs(z) + sign(z)*z + step(z)*z"
v = "sin(z) + cos(z) + tan(z/10) + sinh(z/3) + cosh(z/3) + tanh(z) + sigmoid(z) + exp(z/4)"
t = "max(z, 0.5) + min(z, -0.5) + sqrt(1 + z^2) + log(2 + z^2) + ln(3 + z^2) + clip(z, -0.5, 0.5)"
L = "(u + v + t - y)^2"
"""


@pytest.mark.parametrize("target", ["jax", "torch"])
def test_every_function_of_the_table_in_each_framework(
    jax: ModuleType, torch: ModuleType, write_toml: WriteToml, target: str
) -> None:
    """The module's gradient of a model using each function of the table equals the NumPy module's and
    the framework's own autodiff of its loss, to 1e-12."""
    derivation = symcalc.derive(symcalc.load(str(write_toml(EVERY_FUNCTION))))
    numpy_module = symcalc.load_module(symcalc.codegen(derivation), "every_numpy")
    module = symcalc.load_module(symcalc.codegen(derivation, target=target), f"every_{target}")
    params, data = _example(module, seed=3)
    expected = numpy_module.gradient(params, data)
    if target == "jax":
        jparams = {k: jax.numpy.asarray(v) for k, v in params.items()}
        _close(module.gradient(jparams, data), expected)
        _close(jax.grad(module.loss)(jparams, data), expected)
        return
    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    tdata = {k: torch.tensor(v, dtype=torch.float64) for k, v in data.items()}
    _close({k: g.detach().numpy() for k, g in module.gradient(tparams, tdata).items()}, expected)
    own = torch.autograd.grad(module.loss(tparams, tdata), list(tparams.values()))
    _close(dict(zip(tparams, (g.numpy() for g in own), strict=True)), expected)


SUMMED_LAYER = """
title = "a summed layer: its gradient passes a vector of ones"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[h,n]", "V[h,n]"]
[dimensions]
n = 2
h = 3
[definitions]
z = "sum(W @ x) + sum(V @ (W.T @ ones(h))) + ones(n) @ x"
L = "(z - y)^2/2"
"""


@pytest.mark.parametrize("target", ["jax", "torch"])
def test_ones_in_each_framework(
    jax: ModuleType, torch: ModuleType, write_toml: WriteToml, target: str
) -> None:
    """ones(h) is the framework's vector of ones in float64 (torch.ones alone is float32); the module's
    gradient equals the NumPy module's and the framework's own autodiff of its loss, to 1e-12."""
    derivation = symcalc.derive(symcalc.load(str(write_toml(SUMMED_LAYER))))
    numpy_module = symcalc.load_module(symcalc.codegen(derivation), "ones_numpy")
    module = symcalc.load_module(symcalc.codegen(derivation, target=target), f"ones_{target}")
    params, data = _example(module, seed=5)
    expected = numpy_module.gradient(params, data)
    if target == "jax":
        jparams = {k: jax.numpy.asarray(v) for k, v in params.items()}
        _close(module.gradient(jparams, data), expected)
        _close(jax.grad(module.loss)(jparams, data), expected)
        return
    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    tdata = {k: torch.tensor(v, dtype=torch.float64) for k, v in data.items()}
    _close({k: g.detach().numpy() for k, g in module.gradient(tparams, tdata).items()}, expected)
    own = torch.autograd.grad(module.loss(tparams, tdata), list(tparams.values()))
    _close(dict(zip(tparams, (g.numpy() for g in own), strict=True)), expected)
