"""A failed ∂-claim whose d-claim holds says so: most courses write ∂L/∂w for the gradient."""

from __future__ import annotations

import json
from pathlib import Path

import mpmath
import pytest
import sympy as sp

from symcalc.cli.main import main

CLAIMED = "(a-y)*x1"
FILE = """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
[definitions]
z = "w1*x1 + w2*x2 + b"
a = "sigmoid(z)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
[claims]
"∂L/∂w1" = "(a - y)*x1"
"""


def test_the_total_derivative_does_hold_by_sympys_own_diff() -> None:
    """The oracle the message rests on: SymPy's diff of the written-out loss is (a − y)⋅x1, and the
    local derivative of L's own definition in w1 is 0 (L's definition does not name w1)."""
    x1, x2, y, w1, w2, b, a = sp.symbols("x1 x2 y w1 w2 b a")
    z = w1 * x1 + w2 * x2 + b
    sig = 1 / (1 + sp.exp(-z))
    loss = -(y * sp.log(sig) + (1 - y) * sp.log(1 - sig))
    point = {x1: 0.75, x2: -1.25, y: 0.25, w1: 0.5, w2: 0.125, b: -0.375}
    with mpmath.workdps(50):
        got = sp.diff(loss, w1).evalf(50, subs=point)
        want = ((sig - y) * x1).evalf(50, subs=point)
    assert abs(got - want) < 1e-40
    assert sp.diff(-(y * sp.log(a) + (1 - y) * sp.log(1 - a)), w1) == 0


def test_check_says_which_derivative_was_meant(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "logistic_regression", "∂L/∂w1", CLAIMED])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 1
    assert "∂L/∂w₁ is the local derivative of L's own definition, 0 here" in out
    assert "the total derivative dL/dw₁ = x₁⋅(a - y) holds: did you mean dL/dw₁?" in out


def test_check_json_carries_it(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "logistic_regression", "∂L/∂w1", CLAIMED, "--json"])
    [check] = json.loads(capsys.readouterr().out)["files"][0]["checks"]
    assert code == 1 and check["status"] == "fails"
    assert check["meant"]["total"] == "dL/dw1" and check["meant"]["local"] == "0"
    assert "did you mean dL/dw1?" in check["meant"]["explanation"]


def test_verify_says_it_of_a_files_claim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "partial.toml"
    path.write_text(FILE)
    code = main(["verify", str(path), "--json"])
    claim = next(c for c in json.loads(capsys.readouterr().out)["files"][0]["checks"] if c["kind"] == "claim")
    assert code == 1 and claim["meant"]["total"] == "dL/dw1"
    assert main(["verify", str(path)]) == 1
    assert "did you mean dL/dw₁?" in " ".join(capsys.readouterr().out.split())


def test_no_suggestion_when_the_total_derivative_fails_too(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "logistic_regression", "∂L/∂w1", "(y-a)*x1", "--json"])
    [check] = json.loads(capsys.readouterr().out)["files"][0]["checks"]
    assert code == 1 and check["meant"] is None


def test_a_true_local_claim_is_not_flagged(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "logistic_regression", "∂z/∂w1", "x1", "--json"])
    [check] = json.loads(capsys.readouterr().out)["files"][0]["checks"]
    assert code == 0 and check["status"] == "holds" and check["meant"] is None
