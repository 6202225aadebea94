"""Textbook functions written out with exp and log are recognised, and then derive to the textbook answer.

Oracles: SymPy's diff of the composed loss of the model *as written* (with exp),
evaluated with mpmath; recognition itself is checked by `verify` independently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.check.checks import verify
from symcalc.render.json import derivation_dict
from symcalc.symbolic.functions import sigmoid, softplus
from symcalc.symbolic.steps import Recognition
from tests.conftest import Runner
from tests.oracle import agree_numerically, composed_gradient

HEADER = (
    'title = "t"\ninputs = ["x1"]\ntargets = ["y"]\nparameters = ["w1", "b"]\n'
    '[definitions]\nz = "w1*x1 + b"\n'
)
CROSS_ENTROPY = 'L = "-(y*log(a) + (1 - y)*log(1 - a))"\n'

SIGMOIDS = ["1/(1 + exp(-z))", "exp(z)/(1 + exp(z))", "exp(z)/(exp(z) + 1)", "1 - 1/(1 + exp(z))"]
OTHERS = {
    "(exp(z) - exp(-z))/(exp(z) + exp(-z))": "tanh",
    "2*sigmoid(2*z) - 1": "tanh",
    "log(1 + exp(z))": "softplus",
}


def _load(write_toml: Callable[[str, str], Path], text: str) -> symcalc.Model:
    return symcalc.load(str(write_toml(text, "model.toml")))


def _assert_gradients_match_written_model(written: symcalc.Model, derivation: symcalc.Derivation) -> None:
    for parameter, gradient in derivation.gradients.items():
        assert agree_numerically(written, gradient, composed_gradient(written, parameter))


@pytest.mark.parametrize("form", SIGMOIDS)
def test_written_sigmoid_gives_the_textbook_derivation(
    form: str, write_toml: Callable[[str, str], Path]
) -> None:
    written = _load(write_toml, HEADER + f'a = "{form}"\n' + CROSS_ENTROPY)
    derivation = symcalc.derive(written)
    a, y, z = (written.symbols[n] for n in ("a", "y", "z"))
    first = derivation.steps[0]
    assert isinstance(first, Recognition) and first.node == a and first.named == sigmoid(z)
    assert derivation.local_derivatives[(a, z)] == a * (1 - a)
    assert derivation.adjoints[z] == a - y
    assert derivation.gradient("b") == a - y
    assert "canonical-link" in {i.kind for i in derivation.insights}
    _assert_gradients_match_written_model(written, derivation)


@pytest.mark.parametrize("form", sorted(OTHERS))
def test_written_tanh_and_softplus_are_recognised(form: str, write_toml: Callable[[str, str], Path]) -> None:
    written = _load(write_toml, HEADER + f'a = "{form}"\nL = "(a - y)^2"\n')
    derivation = symcalc.derive(written)
    a, z = written.symbols["a"], written.symbols["z"]
    first = derivation.steps[0]
    assert isinstance(first, Recognition)
    assert first.named == {"tanh": sp.tanh(z), "softplus": softplus(z)}[OTHERS[form]]
    assert derivation.local_derivatives[(a, z)] == (1 - a**2 if OTHERS[form] == "tanh" else sigmoid(z))
    _assert_gradients_match_written_model(written, derivation)


@pytest.mark.parametrize("form", ["1/(1 + exp(-z)) + z/10", "1/(2 + exp(-z))", "exp(z)/(1 + exp(2*z))"])
def test_a_form_that_is_not_an_identity_is_left_alone(
    form: str, write_toml: Callable[[str, str], Path]
) -> None:
    written = _load(write_toml, HEADER + f'a = "{form}"\n' + 'L = "(a - y)^2"\n')
    derivation = symcalc.derive(written)
    assert not any(isinstance(step, Recognition) for step in derivation.steps)
    _assert_gradients_match_written_model(written, derivation)


def test_verify_checks_the_recognition_as_an_identity(write_toml: Callable[[str, str], Path]) -> None:
    written = _load(write_toml, HEADER + 'a = "exp(z)/(exp(z) + 1)"\n' + CROSS_ENTROPY)
    checks = verify(symcalc.derive(written))
    recognition = [c for c in checks if c.name.startswith("step 1: a is")]
    assert len(recognition) == 1 and recognition[0].proved
    assert all(c.holds for c in checks)


def test_every_renderer_shows_the_recognition(run: Runner, write_toml: Callable[[str, str], Path]) -> None:
    path = write_toml(HEADER + 'a = "1/(1 + exp(-z))"\n' + CROSS_ENTROPY, "model.toml")
    step = derivation_dict(symcalc.derive(symcalc.load(str(path))))["steps"][0]
    assert (step["kind"], step["written"], step["named"]) == ("form", "1/(1 + exp(-z))", "sigmoid(z)")
    code, out, _ = run(["derive", "--json", str(path)])
    assert code == 0 and json.loads(out)["steps"][0]["kind"] == "form"
    code, out, _ = run(["derive", str(path)])
    assert code == 0 and "a is the sigmoid σ" in out and "σ(z)" in out
    for command in ("latex", "markdown"):
        code, out, _ = run([command, str(path)])
        assert code == 0 and r"a = \frac{1}{1 + e^{- z}} = \sigma\left(z\right)" in out


TWO_SCORES = (
    'title = "t"\ninputs = ["x"]\ntargets = ["y1", "y2"]\nparameters = ["w1", "w2"]\n'
    'assume = ["y1 + y2 = 1"]\n[definitions]\nz1 = "w1*x"\nz2 = "w2*x"\n'
)


def test_a_softmax_of_two_scores_is_the_sigmoid_of_their_difference(
    write_toml: Callable[[str, str], Path],
) -> None:
    written = _load(
        write_toml, TWO_SCORES + 'a1 = "exp(z1)/(exp(z1) + exp(z2))"\nL = "-(y1*log(a1) + y2*log(1 - a1))"\n'
    )
    derivation = symcalc.derive(written)
    a1, y1, z1, z2 = (written.symbols[n] for n in ("a1", "y1", "z1", "z2"))
    first = derivation.steps[0]
    assert isinstance(first, Recognition) and first.named == sigmoid(z1 - z2)
    assert derivation.adjoints[z1] == a1 - y1
    assert derivation.adjoints[z2] == y1 - a1
    _assert_gradients_match_written_model(written, derivation)
    assert all(c.holds for c in verify(derivation, strict=True))


def test_a_softmax_of_three_scores_is_not_a_sigmoid(write_toml: Callable[[str, str], Path]) -> None:
    written = _load(
        write_toml,
        TWO_SCORES.replace('z2 = "w2*x"\n', 'z2 = "w2*x"\nz3 = "x"\n')
        + 'a1 = "exp(z1)/(exp(z1) + exp(z2) + exp(z3))"\nL = "(a1 - y1)^2"\n',
    )
    derivation = symcalc.derive(written)
    assert not any(isinstance(step, Recognition) for step in derivation.steps)
    _assert_gradients_match_written_model(written, derivation)
