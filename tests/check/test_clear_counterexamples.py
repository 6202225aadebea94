"""A counterexample is shown where the two sides differ most in relative terms, with every σ, tanh and
softmax output away from its limits, and its relative difference is shown beside the absolute one."""

from __future__ import annotations

import json
from typing import Any

import mpmath
import pytest
import sympy as sp

import symcalc
from symcalc.cli.main import main
from symcalc.symbolic.functions import to_elementary
from tests.oracle import composed_gradient

MARGIN = 1e-3


def _at_point(model: symcalc.Model, expr: sp.Expr, point: dict[str, float]) -> mpmath.mpf:
    """`expr` (in independent names) at the shown point by SymPy's own evalf at 50 digits."""
    values = {sym: sp.Rational(point[sym.name]) for sym in model.independents}
    return sp.N(expr.xreplace(values), 50)


def _example(model: symcalc.Model, lhs: str, rhs: str) -> tuple[dict[str, float], dict[str, float], Any]:
    check = symcalc.check_claim(model, lhs, rhs)
    assert check.status == "fails" and check.counterexample is not None
    example = check.counterexample
    return dict(example.point), dict(example.intermediates), example


def test_a_forgotten_factor_v1_is_shown_where_tanh_and_sigmoid_do_not_saturate() -> None:
    model = symcalc.load("two_layer_network")
    point, where, example = _example(model, "dL/du11", "(a - y)*(1 - h1^2)*x1")
    for name in ("h1", "h2"):
        assert abs(abs(where[name]) - 1) > MARGIN, (name, where[name])
    assert MARGIN < where["a"] < 1 - MARGIN
    # The oracle: SymPy's diff of the composed loss, and the claim with its names composed, at that point.
    u11 = next(sym for sym in model.parameters if sym.name == "u11")
    relative = example.relative
    right = _at_point(model, composed_gradient(model, u11), point)
    claim = model.claims_of("dL/du11", "(a - y)*(1 - h1^2)*x1")[0].expected
    left = _at_point(model, to_elementary(claim.xreplace(model.composed)), point)
    assert float(abs(left - right) / max(abs(left), abs(right))) == pytest.approx(relative, rel=1e-9)
    assert relative > 0.1  # a slip shown as a slip, not as round-off


@pytest.mark.parametrize(
    ("lhs", "rhs"),
    [("dL/dw1", "(y - a)*x1"), ("dL/dw1", "(a - y)*x2"), ("dL/db", "a*(1 - a)"), ("dL/dw2", "(a - y)")],
)
def test_broken_logistic_claims_are_shown_away_from_saturation(lhs: str, rhs: str) -> None:
    model = symcalc.load("logistic_regression")
    _, where, example = _example(model, lhs, rhs)
    assert MARGIN < where["a"] < 1 - MARGIN, where["a"]
    assert example.relative > 1e-3


def test_the_relative_difference_is_shown_beside_the_absolute(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "logistic_regression", "dL/dw1", "(y - a)*x1"]) == 1
    out = capsys.readouterr().out
    assert "(relative 2)" in out  # a sign slip: opposite signs, equal sizes
    assert main(["check", "logistic_regression", "dL/dw1", "(y - a)*x1", "--json"]) == 1
    [check] = json.loads(capsys.readouterr().out)["files"][0]["checks"]
    example = check["counterexample"]
    assert example["relative"] == pytest.approx(
        abs(example["difference"]) / max(abs(example["left"]), abs(example["right"]))
    )
