"""--set NAME=VALUE on every command that evaluates the model (issue 16): train (tests/cli/test_train_cli.py),
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


# The CSV reader's rule for a number (symcalc.numeric.data.NUMBER) is the oracle --set agrees with.
SPELLINGS = [
    "0.5",
    "-2",
    "+1",
    ".5",
    "5.",
    "1e-3",
    "2E+2",
    " 1 ",
    "1_0",
    "１",
    "٣",
    "1e",
    "0x10",
    "½",
    "1.5.2",
]


@pytest.mark.parametrize("text", SPELLINGS)
def test_set_reads_a_number_as_the_csv_reader_does(text: str, run: Runner) -> None:
    from symcalc.numeric.reader import NUMBER

    code, out, err = run(["codegen", "logistic_regression_l2", "--set", f"lamda={text}"])
    if NUMBER.fullmatch(text.strip()):
        assert code == 0 and f"{float(text)!r}" in out, err
    else:
        assert (code, out) == (2, "")
        assert err == (
            f"symcalc: error: logistic_regression_l2, --set lamda={text}: {text.strip()!r} is not a "
            "number (ASCII decimal notation, e.g. 0.5, -2 or 1e-3)\n"
        )


def test_a_name_with_a_cyrillic_look_alike_is_said_to_be_not_ascii(run: Runner, tmp_path: Path) -> None:
    """'lаmda' with a Cyrillic 'а' looks like 'lamda': "did you mean 'lamda'?" showed it back."""
    look_alike = "l\u0430mda"
    code, out, err = run(["codegen", "logistic_regression_l2", "--set", f"{look_alike}=0.5"])
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: logistic_regression_l2, --set {look_alike}=0.5: '{look_alike}' is not a constant "
        f"of the model ('{look_alike}' is not ASCII: its '\u0430' is U+0430 CYRILLIC SMALL LETTER A; "
        "type 'lamda')\n"
    )
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n0.5,1,0\n1.5,2,1\n-1,0.5,0\n", encoding="utf-8")
    x1 = "x1"  # and a Cyrillic х (U+0445) in its place, too far from it for difflib to suggest
    code, out, err = run(["train", "--data", str(data), "--columns", "\u0445\u0031=a,x2=b", "--epochs", "2"])
    assert (code, out) == (2, "")
    assert "is not an input or target of the model" in err and err.count("\n") == 1
    assert (
        f"its '\u0445' is U+0445 CYRILLIC SMALL LETTER HA; the model's inputs and targets: {x1}, x2, y" in err
    )
