"""Results written as a teacher writes them, and still equal to SymPy's diff of the composed loss."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from tests.oracle import agree_numerically, composed_gradient

HEADER = (
    'title = "t"\ninputs = ["x1"]\ntargets = ["y"]\nparameters = ["w1", "b"]\n'
    '[constants]\npos_weight = 2.0\n[definitions]\nz = "w1*x1 + b"\n'
)


def _derive(write_toml: Callable[[str, str], Path], definitions: str) -> symcalc.Derivation:
    derivation = symcalc.derive(symcalc.load(str(write_toml(HEADER + definitions, "model.toml"))))
    model = derivation.model
    for parameter, gradient in derivation.gradients.items():
        assert agree_numerically(model, gradient, composed_gradient(model, parameter))
    return derivation


def test_log_cosh_gives_tanh_of_the_error(write_toml: Callable[[str, str], Path]) -> None:
    derivation = _derive(write_toml, 'L = "log(cosh(z - y))"\n')
    x1, y, z = (derivation.model.symbols[n] for n in ("x1", "y", "z"))
    gradient = derivation.gradient("w1")
    assert gradient == x1 * sp.tanh(z - y, evaluate=False)
    assert not gradient.has(sp.sinh, sp.cosh) and not gradient.could_extract_minus_sign()


def test_numbers_are_factored_out_of_sums(write_toml: Callable[[str, str], Path]) -> None:
    derivation = _derive(write_toml, 'L = "(z - y)^2"\n')
    x1, y, z = (derivation.model.symbols[n] for n in ("x1", "y", "z"))
    gradient = derivation.gradient("w1")
    assert gradient == 2 * x1 * (z - y)
    assert sp.Mul.make_args(gradient)[0] == 2


def test_weighted_cross_entropy_is_kept_factored(write_toml: Callable[[str, str], Path]) -> None:
    derivation = _derive(write_toml, 'a = "sigmoid(z)"\nL = "-(pos_weight*y*log(a) + (1 - y)*log(1 - a))"\n')
    a, y, pw = (derivation.model.symbols[n] for n in ("a", "y", "pos_weight"))
    gradient = derivation.gradient("b")
    # a(1 − y) − w·y(1 − a): one term per class, each a product, not the expanded four terms.
    assert sp.expand(gradient - (a * (1 - y) - pw * y * (1 - a))) == 0
    assert len(sp.Add.make_args(gradient)) == 2
    assert all(isinstance(term, sp.Mul) for term in sp.Add.make_args(gradient))


def test_squared_hinge_has_no_redundant_step(write_toml: Callable[[str, str], Path]) -> None:
    derivation = _derive(write_toml, 'm = "max(0, 1 - y*z)"\nL = "m^2"\n')
    m, x1, y = (derivation.model.symbols[n] for n in ("m", "x1", "y"))
    assert derivation.gradient("w1") == -2 * m * y * x1


@pytest.mark.slow
def test_a_minus_sign_goes_into_the_error(write_toml: Callable[[str, str], Path]) -> None:
    """−h·(y − a) reads h·(a − y): the sign taken into the sum, as the seed writes (a − y)·x."""
    derivation = _derive(
        write_toml, 'h = "sigmoid(w1*x1)"\na = "sigmoid(b*h)"\nL = "-(y*log(a) + (1 - y)*log(1 - a))"\n'
    )
    a, y = (derivation.model.symbols[n] for n in ("a", "y"))
    for gradient in derivation.gradients.values():
        coefficient, factors = gradient.as_coeff_mul()
        assert not coefficient.is_negative, gradient
        assert a - y in factors, gradient
