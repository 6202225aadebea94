"""No simplification divides by a factor that can vanish where the loss and its gradient are finite.

(a − y)^k has the gradient k(a − y)^(k−1)·x; written through the output L it is
L·k·x/(a − y), NaN at a = y, exactly where training converges. The oracle is
SymPy's diff of the composed loss evaluated with mpmath.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.model import NumericModel
from symcalc.symbolic.forms import adds_denominator, in_terms_of_outputs, tidy
from tests.generated import generated_module
from tests.numeric_oracle import numpy_paths
from tests.oracle import composed_gradient

HEADER = 'title = "t"\ninputs = ["x1"]\ntargets = ["y"]\nparameters = ["w1", "b"]\n'
MODELS = {
    "cube": HEADER + '[definitions]\na = "w1*x1 + b"\nL = "(a - y)^3"\n',
    "constant k": HEADER + '[constants]\nk = 3.0\n[definitions]\na = "w1*x1 + b"\nL = "(a - y)^k"\n',
    "constant k = 2.5": HEADER + '[constants]\nk = 2.5\n[definitions]\na = "w1*x1 + b"\nL = "(a - y)^k"\n',
}
PARAMS = {"w1": 1.0, "b": 0.25}
# The first two samples have a = y exactly (dyadic numbers); the third does not.
DATA = {"x1": np.array([0.5, 1.5, 2.0]), "y": np.array([0.75, 1.75, 1.0])}


def _oracle(model: symcalc.Model, parameter: sp.Symbol) -> float:
    """The mean over DATA of SymPy's diff of the composed loss, at 50 digits."""
    values = {s: v for s, v in model.constants}
    derivative = composed_gradient(model, parameter).subs(values)
    w1, b, x1, y = (model.symbols[n] for n in ("w1", "b", "x1", "y"))
    function = sp.lambdify([w1, b, x1, y], derivative, modules="mpmath")
    with mpmath.workdps(50):
        total = sum(
            function(mpmath.mpf(PARAMS["w1"]), mpmath.mpf(PARAMS["b"]), mpmath.mpf(x), mpmath.mpf(t))
            for x, t in zip(DATA["x1"], DATA["y"], strict=True)
        )
        return float(total / len(DATA["x1"]))


@pytest.fixture(params=sorted(MODELS))
def derivation(request: pytest.FixtureRequest, write_toml: Callable[[str, str], Path]) -> symcalc.Derivation:
    return symcalc.derive(symcalc.load(str(write_toml(MODELS[request.param], "model.toml"))))


def test_gradient_is_finite_where_the_prediction_equals_the_target(
    derivation: symcalc.Derivation, tmp_path: Path
) -> None:
    model = derivation.model
    program = numeric_program(derivation)
    back_ends = {
        "fast": NumericModel(program),
        "generic": NumericModel(program, backend="generic"),
        "batch module": numpy_paths(program),
    }
    module = generated_module(derivation, tmp_path, "generated_singular")
    results = {name: numeric.evaluate(PARAMS, DATA)[1] for name, numeric in back_ends.items()}
    results["codegen"] = module.gradient(PARAMS, DATA)
    for parameter in model.parameters:
        expected = _oracle(model, parameter)
        for name, grads in results.items():
            assert grads[parameter.name] == pytest.approx(expected, rel=1e-12, abs=1e-12), name


def test_a_rewrite_through_outputs_keeps_the_raw_denominators() -> None:
    a, y, k, big_l = sp.symbols("a y k L")
    raw = k * (a - y) ** (k - 1)
    assert in_terms_of_outputs(raw, [(big_l, (a - y) ** k)]) == raw
    assert adds_denominator(big_l * k / (a - y), raw, {big_l: (a - y) ** k})


def test_tidy_cancels_a_split_power_but_never_divides_by_it() -> None:
    a, y, g = sp.symbols("a y gamma")
    expr = a * (1 - a) * (g * y * (1 - a) ** (g - 1) * sp.log(a) - y * (1 - a) ** g / a)
    tidied = tidy(expr)
    assert not adds_denominator(tidied, expr)
    for point in ({a: 0.25, y: 0.75, g: 2.5}, {a: 0.625, y: 0.125, g: -1.5}):
        assert float(tidied.subs(point)) == pytest.approx(float(expr.subs(point)), rel=1e-12)
    assert tidied == y * (1 - a) ** g * (a * g * sp.log(a) + a - 1)
