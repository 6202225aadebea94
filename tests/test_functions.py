"""sigmoid, softplus and relu behave as SymPy functions, checked against their elementary forms."""

import sympy as sp

from symcalc.functions import relu, sigmoid, softplus, to_elementary

z = sp.Symbol("z", real=True)


def test_sigmoid_derivative_matches_elementary_form() -> None:
    ours = sp.diff(sigmoid(z), z)
    oracle = sp.diff(1 / (1 + sp.exp(-z)), z)
    assert sp.simplify(to_elementary(ours) - oracle) == 0


def test_softplus_derivative_is_sigmoid() -> None:
    assert sp.diff(softplus(z), z) == sigmoid(z)
    oracle = sp.diff(sp.log(1 + sp.exp(z)), z)
    assert sp.simplify(to_elementary(sigmoid(z)) - oracle) == 0


def test_relu_derivative_is_heaviside() -> None:
    assert sp.diff(relu(z), z) == sp.Heaviside(z)
    assert relu(sp.Integer(-3)) == 0 and relu(sp.Integer(2)) == 2


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


def test_to_elementary_rewrites_only_our_functions() -> None:
    inner = sp.tanh(z)
    result = to_elementary(sigmoid(inner) + softplus(sigmoid(z)))
    assert result.has(sp.tanh)  # the tanh inside σ's argument stays a tanh
    assert not result.has(sigmoid, softplus)
    assert result == 1 / (1 + sp.exp(-inner)) + sp.log(1 + sp.exp(1 / (1 + sp.exp(-z))))
