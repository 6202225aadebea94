"""The [domains] table and default sampling: each name sampled over its real domain, wrong claims refuted.

A claim wrong only for negative targets, labels ±1 or large magnitudes must fail; the
counterexample is re-checked here by SymPy's evalf (see tests/check/test_verify.py).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
import sympy as sp

import symcalc
from symcalc.check.checks import check_claim
from symcalc.check.ladder import ProofLimits
from symcalc.check.sample import Sampler
from symcalc.errors import DomainError, SymcalcError
from symcalc.spec.domains import parse_domain
from symcalc.spec.toml import loads
from tests.check.test_verify import assert_refuted_at_a_real_point, parse
from tests.conftest import Runner

SQUARED_HINGE = """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
[domains]
y = "{-1, 1}"
[definitions]
z = "w1*x1 + w2*x2 + b"
m = "max(0, 1 - y*z)"
L = "m^2"
"""

SQUARED_ERROR = """
inputs = ["x1"]
targets = ["y"]
parameters = ["w1", "b"]
[definitions]
z = "w1*x1 + b"
L = "(z - y)^2"
"""


def with_domains(text: str, tables: str) -> str:
    """The model text with `tables` (TOML) inserted before its [definitions]."""
    return text.replace("[definitions]", f"{tables}\n[definitions]")


def model_of(write_toml: Callable[[str], Path], text: str) -> symcalc.Model:
    return symcalc.load(str(write_toml(text)))


def sampled(model: symcalc.Model, count: int = 200) -> list[dict[sp.Symbol, float]]:
    sampler = Sampler(model, seed=0, limit=count)
    return [point.raw for point in sampler.points()]


# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("{0, 1}", [0, 1], [0.5, -1]),
        ("{-1, 1}", [-1, 1], [0]),
        ("(0, 1)", [0.5, 1e-9], [0, 1, 2]),
        ("[0, 1]", [0, 1, 0.25], [-0.01, 1.01]),
        ("(0, inf)", [1e-300, 1e300], [0, -1]),
        ("(-inf, 0]", [0, -5], [1e-9]),
    ],
)
def test_domains_parse_into_the_sets_they_name(text: str, inside: list[float], outside: list[float]) -> None:
    domain = parse_domain(text)
    assert all(value in domain for value in inside)
    assert not any(value in domain for value in outside)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('y = "{0, 1"', "neither a set"),
        ('y = "(1, 0)"', "empty interval"),
        ('y = "[1, 1)"', "empty interval"),
        ('y = "{}"', "empty set"),
        ('y = "{1, inf}"', "not a finite number"),
        ('y = "{1, 1e999}"', "not a finite number"),
        ('y = "[0, inf]"', "infinite end must be open"),
        ('y = "{__import__(0)}"', "not a finite number"),
        ('y = "(0, x1)"', "not a finite number"),
        ("y = 1", "must be a string"),
        ('q = "{0, 1}"', "undeclared name 'q'"),
        ('z = "{0, 1}"', "is a definition"),
        ('lam = "(0, 1)"', "default 2 of constant 'lam' lies outside (0, 1)"),
    ],
)
def test_bad_domains_are_one_line_errors_naming_the_key(entry: str, problem: str) -> None:
    text = SQUARED_ERROR.replace(
        "[definitions]", f"[constants]\nlam = 2.0\n[domains]\n{entry}\n[definitions]"
    )
    key = "domains." + entry.split("=")[0].strip()
    with pytest.raises(SymcalcError) as caught:
        symcalc.Model.from_spec(loads(text, "m.toml"))
    message = str(caught.value)
    assert "\n" not in message and "m.toml" in message and key in message and problem in message


def test_a_long_domain_is_refused_before_it_is_read() -> None:
    with pytest.raises(DomainError, match="limit"):
        parse_domain("{" + "1, " * 500 + "1}")


def test_a_bad_domain_exits_2_without_a_traceback(write_toml: Callable[[str], Path], run: Runner) -> None:
    path = write_toml(SQUARED_ERROR.replace("[definitions]", '[domains]\ny = "(0, 1"\n[definitions]'))
    code, out, err = run(["verify", str(path)])
    assert code == 2 and "domains.y" in err and "Traceback" not in err + out


# -- sampling ---------------------------------------------------------------------------------


def test_names_without_a_domain_are_sampled_over_the_real_line(write_toml: Callable[[str], Path]) -> None:
    model = model_of(write_toml, SQUARED_ERROR)
    x1, y, w1 = (model.symbols[n] for n in ("x1", "y", "w1"))
    points = sampled(model)
    for name in (x1, y):
        values = [p[name] for p in points]
        assert min(values) < -2 and max(values) > 2  # both signs, large magnitudes
        assert any(0 < abs(v) < 1 / 8 for v in values)  # small magnitudes
        assert {-1.0, 0.0, 1.0} <= set(values)
    weights = [p[w1] for p in points]
    assert min(weights) < 0 < max(weights) and max(map(abs, weights)) <= 2
    assert all((Fraction(v) * 128).denominator == 1 for p in points for v in p.values())  # exact points


@pytest.mark.parametrize("text", ["{-1, 1}", "(0, 1)", "[0, inf)", "(-inf, -3]", "(0, 0.001)"])
def test_names_with_a_domain_are_sampled_inside_it(write_toml: Callable[[str], Path], text: str) -> None:
    model = model_of(
        write_toml, SQUARED_ERROR.replace("[definitions]", f'[domains]\ny = "{text}"\n[definitions]')
    )
    y = model.symbols["y"]
    domain = parse_domain(text)
    values = {p[y] for p in sampled(model, 100)}
    assert all(v in domain for v in values)
    assert len(values) > 1


def test_every_member_of_a_finite_domain_is_sampled(write_toml: Callable[[str], Path]) -> None:
    model = model_of(write_toml, SQUARED_HINGE)
    assert {p[model.symbols["y"]] for p in sampled(model, 40)} == {-1.0, 1.0}


# -- wrong claims that sampling inside (0, 1) accepted -----------------------------------------


def test_a_claim_wrong_only_for_labels_minus_one_fails(write_toml: Callable[[str], Path]) -> None:
    model = model_of(write_toml, SQUARED_HINGE)
    check = check_claim(model, "dL/dw1", "-2*abs(y)*m*x1")
    assert_refuted_at_a_real_point(model, check, parse(model, "-2*abs(y)*m*x1"), parse(model, "-2*y*m*x1"))
    assert check.counterexample is not None
    assert dict(check.counterexample.point)["y"] == -1
    assert check_claim(model, "dL/dw1", "-2*y*m*x1").holds


def test_a_claim_wrong_only_for_negative_targets_fails(write_toml: Callable[[str], Path]) -> None:
    model = model_of(write_toml, SQUARED_ERROR)
    check = check_claim(model, "dL/db", "2*(z - abs(y))")
    assert_refuted_at_a_real_point(model, check, parse(model, "2*(z - abs(y))"), parse(model, "2*(z - y)"))
    assert check.counterexample is not None
    assert dict(check.counterexample.point)["y"] < 0


SOFTPLUS_AT = """
inputs = ["z"]
parameters = ["w"]
[domains]
z = "VALUES"
[definitions]
L = "log(1 + exp(z)) + w"
"""


def test_an_ill_conditioned_point_is_replaced_not_reported(write_toml: Callable[[str], Path]) -> None:
    """(1 − σ(z))·e^z = σ(z) exactly, but at z = 200 the left side is noise at 50 digits."""
    with mpmath.workdps(50):  # the trap is real: at 50 digits 1 − σ(200) is 0, the left side 0, not 1
        sigma = 1 / (1 + mpmath.exp(-200))
        assert abs((1 - sigma) * mpmath.exp(200) - sigma) > 0.5
    claimed, numeric_only = "(1 - sigmoid(z))*exp(z)", ProofLimits(prove=False)
    only_there = model_of(write_toml, SOFTPLUS_AT.replace("VALUES", "{200}"))
    check = check_claim(only_there, "dL/dz", claimed, points=5, limits=numeric_only)
    assert (check.status, check.method) == ("undecided", "numerically")  # no usable point: not a mismatch
    also_elsewhere = model_of(write_toml, SOFTPLUS_AT.replace("VALUES", "{2, 200}"))
    check = check_claim(also_elsewhere, "dL/dz", claimed, points=5, limits=numeric_only)
    assert (check.status, check.method) == ("holds", "numerically")
    assert "at 5 random points" in check.detail


# -- assumptions: used or refused ------------------------------------------------------------

ASSUMING = """
inputs = ["x1"]
targets = ["y"]
parameters = ["w1", "b"]
assume = ["ASSUMPTION"]
[definitions]
z = "w1*x1 + b"
a = "sigmoid(z)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
"""


def test_a_polynomial_assumption_in_one_name_restricts_its_values(write_toml: Callable[[str], Path]) -> None:
    model = model_of(write_toml, ASSUMING.replace("ASSUMPTION", "y^2 = y"))
    assert {p[model.symbols["y"]] for p in sampled(model, 40)} == {0.0, 1.0}
    assert check_claim(model, "dL/dz", "a - y^2").holds  # true where y^2 = y
    wrong = check_claim(model, "dL/dz", "a - y^2 + y - 1")  # wrong at y = 0 only
    assert wrong.status == "fails"
    assert wrong.counterexample is not None
    assert dict(wrong.counterexample.point)["y"] == 0


def test_an_assumption_narrows_a_stated_domain(write_toml: Callable[[str], Path]) -> None:
    text = ASSUMING.replace("ASSUMPTION", "y^2 = 1").replace(
        "[definitions]", '[domains]\ny = "{0, 1}"\n[definitions]'
    )
    model = model_of(write_toml, text)
    assert {p[model.symbols["y"]] for p in sampled(model, 20)} == {1.0}


@pytest.mark.parametrize(
    ("assumption", "problem"),
    [
        ("x1*y = 1", "neither linear"),
        ("y^2 = 2", "not a rational number"),
        ("y^2 = -1", "no real solution"),
        ("sin(y) = 0", "neither linear"),
    ],
)
def test_an_assumption_symcalc_cannot_use_is_refused(assumption: str, problem: str) -> None:
    with pytest.raises(SymcalcError) as caught:
        symcalc.Model.from_spec(loads(ASSUMING.replace("ASSUMPTION", assumption), "m.toml"))
    message = str(caught.value)
    assert "\n" not in message and "assume[0]" in message and problem in message


def test_an_assumption_contradicting_the_domain_is_refused(write_toml: Callable[[str], Path]) -> None:
    text = ASSUMING.replace("ASSUMPTION", "y^2 = 4").replace(
        "[definitions]", '[domains]\ny = "{0, 1}"\n[definitions]'
    )
    with pytest.raises(SymcalcError, match="assume"):
        model_of(write_toml, text)
