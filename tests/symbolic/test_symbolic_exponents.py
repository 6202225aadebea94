"""Powers whose exponent is a name or an expression: every command runs, every gradient is right.

The oracles are SymPy's `diff` of the composed loss evaluated with mpmath, and central
differences of the numeric back end's own loss; neither reads symcalc's derived forms.
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
from tests.conftest import Runner
from tests.generated import generated_module
from tests.oracle import composed_gradient

HEADER = 'title = "t"\ninputs = ["x1"]\ntargets = ["y"]\n'

MODELS = {
    "focal": HEADER
    + 'parameters = ["w1", "b"]\n[constants]\ngamma = 2.0\n[definitions]\n'
    + 'z = "w1*x1 + b"\na = "sigmoid(z)"\nL = "-y*(1 - a)^gamma*log(a)"\n',
    "parameter exponent": HEADER
    + 'parameters = ["w1", "k"]\n[definitions]\nu = "w1*x1"\nL = "y*(1 + u)^k"\n',
    "intermediate exponent": HEADER
    + 'parameters = ["w1", "b"]\n[definitions]\nz = "w1*x1 + b"\ne = "z^2 + 1"\n'
    + 'L = "(1 + x1^2)^e/(1 + y)"\n',
    "x^(w*x)": HEADER + 'parameters = ["w1"]\n[definitions]\nL = "x1^(w1*x1)"\n',
}

# x1 > 0 so that x1^(w1*x1) is real; y in (0, 1).
POINTS = [
    {"x1": 0.75, "y": 0.25, "w1": 0.5, "b": -0.25, "k": 1.5},
    {"x1": 1.5, "y": 0.625, "w1": -0.25, "b": 0.5, "k": -0.5},
]

CSV = "x1,y\n0.5,1\n0.25,0\n1.25,1\n0.125,0\n"


@pytest.fixture(params=sorted(MODELS))
def model_file(request: pytest.FixtureRequest, write_toml: Callable[[str, str], Path]) -> Path:
    return write_toml(MODELS[request.param], "model.toml")


def _values(model: symcalc.Model, point: dict[str, float]) -> dict[sp.Symbol, float]:
    values = {s: point[s.name] for s in model.independents if s.name in point}
    values |= {s: v for s, v in model.constants}
    return values


def _oracle(model: symcalc.Model, parameter: sp.Symbol, point: dict[str, float]) -> float:
    """SymPy diff of the composed loss, evaluated with mpmath at 50 digits."""
    values = _values(model, point)
    derivative = composed_gradient(model, parameter)
    function = sp.lambdify(list(values), derivative, modules="mpmath")
    with mpmath.workdps(50):
        return float(function(*(mpmath.mpf(v) for v in values.values())))


@pytest.mark.slow
def test_every_command_exits_zero(model_file: Path, run: Runner, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text(CSV, encoding="utf-8")
    commands = [
        ["derive", str(model_file)],
        ["derive", "--json", str(model_file)],
        ["verify", str(model_file)],
        ["latex", str(model_file)],
        ["markdown", str(model_file)],
        ["codegen", str(model_file)],
        ["train", "--data", str(data), "--epochs", "3", "--lr", "0.01", str(model_file)],
    ]
    for argv in commands:
        code, _, err = run(argv)
        assert code == 0, (argv, err)


def test_gradients_equal_the_composed_diff(model_file: Path) -> None:
    model = symcalc.load(str(model_file))
    derivation = symcalc.derive(model)
    for point in POINTS:
        values = _values(model, point)
        for parameter, gradient in derivation.gradients.items():
            ours = float(model.expand(gradient).subs(values).evalf(30))
            assert ours == pytest.approx(_oracle(model, parameter, point), rel=1e-12, abs=1e-12)


def test_numeric_back_ends_equal_the_oracle_and_central_differences(model_file: Path, tmp_path: Path) -> None:
    model = symcalc.load(str(model_file))
    derivation = symcalc.derive(model)
    numeric = NumericModel(numeric_program(derivation))
    module = generated_module(derivation, tmp_path, "generated_exponent")
    for point in POINTS:
        params = {p.name: point[p.name] for p in model.parameters}
        data = {"x1": np.array([point["x1"]]), "y": np.array([point["y"]])}
        _, grads = numeric.evaluate(params, data)
        generated = module.gradient(params, data)
        h = 1e-6
        for parameter in model.parameters:
            name = parameter.name
            up, down = dict(params), dict(params)
            up[name] += h
            down[name] -= h
            central = (numeric.evaluate(up, data)[0] - numeric.evaluate(down, data)[0]) / (2 * h)
            expected = _oracle(model, parameter, point)
            assert grads[name] == pytest.approx(expected, rel=1e-9, abs=1e-9)
            assert generated[name] == pytest.approx(expected, rel=1e-9, abs=1e-9)
            assert central == pytest.approx(expected, rel=1e-5, abs=1e-6)
