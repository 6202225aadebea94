"""--set NAME=VALUE on every command that evaluates the model (issue 16): train (tests/test_train_cli.py),
verify, check and codegen. The oracles: NumPy by hand for the module, and the points verify draws."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import symcalc
from tests.conftest import Runner, WriteToml

WRONG_PENALTY = ("dJ/dw1", "(a - y)*x1 + 0.5*w1")  # right only where lamda = 0.5


def test_codegen_writes_the_value_set_into_the_module(run: Runner, tmp_path: Path) -> None:
    path = tmp_path / "l2.py"
    code, _, err = run(["codegen", "logistic_regression_l2", "--set", "lamda=0.5", "-o", str(path)])
    assert code == 0 and err == f"symcalc: wrote {path}\n"
    module = symcalc.load_module(path.read_text())
    assert module.CONSTANTS == {"lamda": 0.5}
    rng = np.random.default_rng(3)
    data = {"x1": rng.normal(size=50), "x2": rng.normal(size=50), "y": rng.integers(0, 2, 50).astype(float)}
    params = {"w1": 0.3, "w2": -0.7, "b": 0.1}
    z = params["w1"] * data["x1"] + params["w2"] * data["x2"] + params["b"]
    a = 1 / (1 + np.exp(-z))
    by_hand = -(data["y"] * np.log(a) + (1 - data["y"]) * np.log(1 - a)) + 0.5 / 2 * (0.3**2 + 0.7**2)
    assert module.loss(params, data) == pytest.approx(by_hand.mean(), rel=1e-12)


@pytest.mark.parametrize(("value", "low", "high"), [("0.5", 0.25, 1.0), ("8", 4.0, 16.0)])
def test_verify_draws_each_constant_near_the_value_set(
    value: str, low: float, high: float, run: Runner, write_toml: WriteToml
) -> None:
    """A claim right only at lamda = 0.5 fails; its counterexample's lamda lies near the value set."""
    model = Path(symcalc.__file__).parent / "derivations" / "logistic_regression_l2.toml"
    lhs, rhs = WRONG_PENALTY
    source = model.read_text().replace('"dJ/dw1" = "(a - y)*x1 + lamda*w1"', f'"{lhs}" = "{rhs}"')
    code, out, _ = run(["verify", str(write_toml(source)), "--set", f"lamda={value}", "--json"])
    assert code == 1
    [failed] = [c for c in json.loads(out)["files"][0]["checks"] if c["status"] == "fails"]
    assert failed["name"] == f"claim {lhs}"
    assert low <= failed["counterexample"]["point"]["lamda"] <= high


def test_check_takes_set_too(run: Runner) -> None:
    code, out, _ = run(["check", "logistic_regression_l2", *WRONG_PENALTY, "--set", "lamda=3", "--json"])
    assert code == 1
    point = json.loads(out)["files"][0]["checks"][0]["counterexample"]["point"]
    assert 1.5 <= point["lamda"] <= 6.0


@pytest.mark.parametrize("command", ["verify", "check", "codegen", "train"])
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("lam=0.5", "--set lam=0.5: 'lam' is not a constant of the model (did you mean 'lamda'?)"),
        ("lamda=x", "--set lamda=x: 'x' is not a number"),
        ("lamda", "--set lamda: is not NAME=VALUE"),
    ],
)
def test_a_bad_set_is_one_line_on_every_command(
    command: str, setting: str, message: str, run: Runner
) -> None:
    claim = list(WRONG_PENALTY) if command == "check" else []
    code, out, err = run([command, "logistic_regression_l2", *claim, "--set", setting])
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err, err


def test_a_value_outside_the_constants_domain_is_refused(run: Runner, write_toml: WriteToml) -> None:
    model = Path(symcalc.__file__).parent / "derivations" / "logistic_regression_l2.toml"
    path = write_toml(model.read_text() + '\n[domains]\nlamda = "[0, inf)"\n')
    for command in ("verify", "train"):  # train's --set goes through the same check, where the file is loaded
        code, _, err = run([command, str(path), "--set", "lamda=-1"])
        assert code == 2 and "--set lamda=-1: -1 lies outside the domain [0, inf) of 'lamda'" in err
