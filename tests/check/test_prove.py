"""The symbolic rungs: canonical forms, constant differences refuted, piecewise identities proved by cases.

Whether an identity is true is decided here by the test's own algebra (or the
documented formula); a refutation's point is re-checked by SymPy's evalf.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.check.checks import check_claim, verify
from symcalc.check.prove import is_zero, nonzero_constant
from symcalc.isolate import run_limited
from symcalc.symbolic.functions import sigmoid, softplus, text
from tests.check.test_verify import exact_point, parse, value_at
from tests.oracle import composed_gradient
from tests.spec.test_domains import SQUARED_HINGE

BOUND = 60.0  # seconds: the CLI's default limit on symbolic work; a verdict must come well within it

u, v, k = sp.symbols("u v k", real=True)


@pytest.mark.parametrize(
    "difference",
    [
        sp.tanh(u) - sp.sinh(u) / sp.cosh(u),
        sp.tanh(u - v) + sp.sinh(v - u) / sp.cosh(v - u),
        sigmoid(u) - sp.exp(u) / (1 + sp.exp(u)),
        softplus(u) - sp.log(1 + sp.exp(u)),
        sp.exp(u + v) - sp.exp(u) * sp.exp(v),
        sp.exp(3 * u) - sp.exp(u) ** 3,
        sp.cos(-u) - sp.cos(u),
        sp.sin(-u) + sp.sin(u),
        sp.tanh(u) - (2 * sigmoid(2 * u) - 1),
        (1 - u) ** k / (1 - u) - (1 - u) ** (k - 1),  # the focal loss's symbolic exponents
    ],
)
def test_functions_of_one_argument_are_written_one_way_before_cancelling(difference: sp.Expr) -> None:
    from symcalc.check.oracle import elementary

    assert is_zero(elementary(difference))


@pytest.mark.parametrize("difference", [sp.tanh(u) - sp.sinh(u) / sp.cosh(2 * u), sp.exp(u + v) - sp.exp(u)])
def test_a_difference_that_is_not_zero_is_not_proved(difference: sp.Expr) -> None:
    assert not is_zero(difference)
    assert sp.N(difference.subs({u: sp.Rational(1, 3), v: sp.Rational(1, 5)})) != 0  # really not zero


def test_a_difference_that_is_a_number_is_that_number() -> None:
    tiny = sp.Rational(1, 10**45)
    assert nonzero_constant(sp.tanh(u) - sp.sinh(u) / sp.cosh(u) + tiny) == tiny
    assert nonzero_constant(sp.tanh(u) - sp.sinh(u) / sp.cosh(u)) is None


def log_cosh(features: int) -> str:
    xs = [f"x{i}" for i in range(1, features + 1)]
    ws = [f"w{i}" for i in range(1, features + 1)]
    z = " + ".join(f"{w}*{x}" for w, x in zip(ws, xs, strict=True)) + " + b"
    return (
        f"inputs = {xs}\ntargets = ['y']\nparameters = {[*ws, 'b']}\n[definitions]\n"
        f'z = "{z}"\nL = "log(cosh(z - y))"\n[claims]\n'
        '"dL/db" = "tanh(z - y)"\n"dL/dw1" = "tanh(z - y)*x1"\n'
    )


@pytest.mark.slow
def test_log_cosh_regression_is_proved_in_bounded_time(write_toml: Callable[[str], Path]) -> None:
    """It used to take 153 s for dL/db alone with 3 features (speed: benchmarks/verify_hard.py)."""
    model = symcalc.load(str(write_toml(log_cosh(4))))
    checks = run_limited(lambda: verify(symcalc.derive(model), strict=True), timeout=BOUND)
    assert all(c.holds for c in checks), [c for c in checks if not c.holds]
    assert all(c.proved for c in checks if c.kind == "claim")


DEEP = """inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
[definitions]
z = "w1*x1 + w2*x2 + b"
h1 = "z^3"
h2 = "(w1*h1 + b)^2"
h3 = "sigmoid(h2 + h1)"
L = "softplus(-y*h3)"
"""


@pytest.mark.parametrize("slip", [-1, 2])
def test_a_wrong_claim_on_a_deep_model_is_refuted_not_left_running(
    write_toml: Callable[[str], Path], slip: int
) -> None:
    """SymPy's cancel ran for minutes on these differences; the prover must not start such work."""
    model = symcalc.load(str(write_toml(DEEP)))
    w1 = model.symbols["w1"]
    wrong = slip * composed_gradient(model, w1)  # a sign error, a factor of 2
    check = run_limited(lambda: check_claim(model, "dL/dw1", text(wrong)), timeout=BOUND)
    assert check.status == "fails"
    assert check.counterexample is not None


def test_a_claim_off_by_a_tiny_constant_fails_at_a_point(seed_model: symcalc.Model) -> None:
    check = check_claim(seed_model, "dL/dz", "a - y + 1e-45")
    assert check.status == "fails" and check.counterexample is not None
    assert "1.0e-45" in check.detail
    point = exact_point(seed_model, check)
    claimed = value_at(seed_model, parse(seed_model, "a - y + 1e-45"), point)
    truth = value_at(seed_model, parse(seed_model, "a - y"), point)
    assert abs((claimed - truth) - sp.Float("1e-45")) < sp.Float("1e-55")


# -- piecewise models under --strict -----------------------------------------------------------

HINGE = (
    SQUARED_HINGE
    + """[claims]
"dL/dm" = "2*m"
"dL/dz" = "-2*y*m"
"dL/dw1" = "-2*y*m*x1"
"""
)

HUBER = """
inputs = ["x1"]
targets = ["y"]
parameters = ["w1", "b"]
[constants]
delta = 1.0
[definitions]
z = "w1*x1 + b"
d = "z - y"
m = "min(abs(d), delta)"
L = "m*(abs(d) - m/2)"
[claims]
"dL/dd" = "m*d/abs(d)"
"dL/db" = "min(abs(d), delta)*d/abs(d)"
"dL/dw1" = "m*d/abs(d)*x1"
"""

RELU = """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["u1", "u2", "c", "v", "b"]
[definitions]
s = "u1*x1 + u2*x2 + c"
h = "relu(s)"
z = "v*h + b"
L = "(z - y)^2/2"
[claims]
"dL/dz" = "z - y"
"dL/dv" = "(z - y)*h"
"dL/du1" = "(z - y)*v*max(0, s)/s*x1"
"dL/dc" = "(z - y)*v*max(0, s)/s"
"""

L1 = """
inputs = ["x1"]
targets = ["y"]
parameters = ["w1", "b"]
[constants]
lam = 0.1
[definitions]
z = "w1*x1 + b"
L = "(z - y)^2/2 + lam*abs(w1)"
[claims]
"dL/dw1" = "(z - y)*x1 + lam*abs(w1)/w1"
"dL/db" = "z - y"
"""


@pytest.mark.parametrize("text", [HINGE, HUBER, RELU, L1], ids=["hinge", "huber", "relu", "l1"])
def test_strict_proves_correct_piecewise_claims(write_toml: Callable[[str], Path], text: str) -> None:
    model = symcalc.load(str(write_toml(text)))
    checks = verify(symcalc.derive(model), strict=True)
    assert all(c.holds for c in checks), [c for c in checks if not c.holds]


@pytest.mark.parametrize(
    ("text", "lhs", "wrong", "truth"),
    [
        (HINGE, "dL/dz", "-2*m", "-2*y*m"),  # wrong for y = -1 only
        (HUBER, "dL/dd", "min(d, delta)", "m*d/abs(d)"),  # wrong for d < -delta only
        (RELU, "dL/dc", "(z - y)*v", "(z - y)*v*max(0, s)/s"),  # wrong for s < 0 only
        (L1, "dL/dw1", "(z - y)*x1 + lam", "(z - y)*x1 + lam*abs(w1)/w1"),  # wrong for w1 < 0 only
    ],
)
def test_strict_still_fails_a_claim_wrong_on_one_branch(
    write_toml: Callable[[str], Path], text: str, lhs: str, wrong: str, truth: str
) -> None:
    model = symcalc.load(str(write_toml(text)))
    check = check_claim(model, lhs, wrong, strict=True)
    assert check.status == "fails" and check.counterexample is not None
    point = exact_point(model, check)
    assert (
        abs(value_at(model, parse(model, wrong), point) - value_at(model, parse(model, truth), point)) > 1e-20
    )


def test_a_polynomial_assumption_is_proved_by_cases(write_toml: Callable[[str], Path]) -> None:
    text = """
inputs = ["x1"]
targets = ["y"]
parameters = ["w1", "b"]
assume = ["y^2 = y"]
[definitions]
z = "w1*x1 + b"
a = "sigmoid(z)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
"""
    model = symcalc.load(str(write_toml(text)))
    assert check_claim(model, "dL/dz", "a - y^2", strict=True).proved
