"""sigmoid, softplus, relu and step behave as SymPy functions, checked against their elementary forms."""

import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.symbolic.functions import relu, sigmoid, softplus, step, to_elementary
from tests.conftest import WriteToml

z = sp.Symbol("z", real=True)


def test_sigmoid_derivative_matches_elementary_form() -> None:
    ours = sp.diff(sigmoid(z), z)
    oracle = sp.diff(1 / (1 + sp.exp(-z)), z)
    assert sp.simplify(to_elementary(ours) - oracle) == 0


def test_softplus_derivative_is_sigmoid() -> None:
    assert sp.diff(softplus(z), z) == sigmoid(z)
    oracle = sp.diff(sp.log(1 + sp.exp(z)), z)
    assert sp.simplify(to_elementary(sigmoid(z)) - oracle) == 0


def test_relu_derivative_is_step_and_zero_at_zero() -> None:
    assert sp.diff(relu(z), z) == step(z)
    assert relu(sp.Integer(-3)) == 0 and relu(sp.Integer(2)) == 2
    # away from 0, step is SymPy's derivative of max(0, z); at 0 it is 0 (PyTorch's, JAX's), not ½
    oracle = sp.diff(sp.Max(0, z), z)
    for value in (-2.5, -1e-9, 1e-9, 3.0):
        assert step(sp.Float(value)) == oracle.subs(z, value)
    assert step(sp.Integer(0)) == 0 and oracle.subs(z, 0) == sp.S.Half


def test_step_evaluates_numerically() -> None:
    assert step(sp.sqrt(2) - 1) == 1 and step(1 - sp.sqrt(2)) == 0
    assert float(step(z).evalf(subs={z: 0.5})) == 1.0 and float(step(z).evalf(subs={z: -0.5})) == 0.0
    assert sp.diff(step(z), z) == 0  # 0 wherever it is defined, as automatic differentiation takes it


def test_numeric_evaluation_agrees_with_definition() -> None:
    for value in (-3.5, 0.0, 0.25, 7.0):
        x = sp.Float(value)
        assert abs(sigmoid(x).evalf(30) - (1 / (1 + sp.exp(-x))).evalf(30)) < 1e-25
        assert abs(softplus(x).evalf(30) - sp.log(1 + sp.exp(x)).evalf(30)) < 1e-25


def test_printing() -> None:
    assert sp.pretty(sigmoid(z), use_unicode=True) == "σ(z)"
    assert sp.latex(sigmoid(z)) == r"\sigma\left(z\right)"
    assert str(sigmoid(z)) == "sigmoid(z)"
    assert sp.latex(softplus(z)) == r"\operatorname{softplus}\left(z\right)"
    assert sp.pretty(step(z), use_unicode=True) == "𝟙[z > 0]"
    assert sp.latex(step(z)) == r"\mathbb{1}\left[z > 0\right]"
    assert str(step(z)) == "step(z)"


def test_to_elementary_rewrites_only_our_functions() -> None:
    inner = sp.tanh(z)
    result = to_elementary(sigmoid(inner) + softplus(sigmoid(z)))
    assert result.has(sp.tanh)  # the tanh inside σ's argument stays a tanh
    assert not result.has(sigmoid, softplus)
    assert result == 1 / (1 + sp.exp(-inner)) + sp.log(1 + sp.exp(1 / (1 + sp.exp(-z))))


def test_sign_and_step_differentiate_to_zero_away_from_their_kink(write_toml: WriteToml) -> None:
    """d sign(z)/dz is SymPy's DiracDelta(z): 0 wherever z ≠ 0, so results carry none, and the numeric
    program (which has no DiracDelta) computes them; the gradient agrees with central differences."""
    text = 'inputs = ["x1"]\ntargets = ["y"]\nparameters = ["w1"]\n[definitions]\nz = "w1*x1"\n'
    path = write_toml(text + 'L = "(sign(z)*z + step(z)*z - y)^2"\n')
    derivation = symcalc.derive(symcalc.load(str(path)))
    assert not any(r.has(sp.DiracDelta) for r in derivation.gradients.values())
    numeric = symcalc.compile_model(derivation)
    data = {"x1": np.array([1.0, -2.0, 0.5]), "y": np.array([2.0, 0.5, 1.0])}
    h, w = 1e-6, 0.7
    estimate = (numeric.loss({"w1": w + h}, data) - numeric.loss({"w1": w - h}, data)) / (2 * h)
    assert numeric.gradient({"w1": w}, data)["w1"] == pytest.approx(estimate, rel=1e-7)
    assert all(check.holds for check in symcalc.verify(derivation))
