"""`train` without --data never lets the built-in two-feature data change a model's sizes: a model
written for n = 4 is refused in one line, as the scalar 4-input model is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import symcalc
from symcalc.cli.main import main

SHIPPED = Path(symcalc.__file__).parent / "derivations"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _at_n(tmp_path: Path, n: int) -> Path:
    text = (SHIPPED / "ridge_regression_vector.toml").read_text()
    assert "\nn = 2\n" in text
    path = tmp_path / "ridge.toml"
    path.write_text(text.replace("\nn = 2\n", f"\nn = {n}\n"))
    return path


def test_a_vector_model_of_four_inputs_is_refused_as_the_scalar_one_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "train", str(_at_n(tmp_path, 4)))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "the built-in dataset has columns x1, x2, y; this model needs x1, x2, x3, x4, y" in err
    assert "--data FILE.csv" in err
    scalar_code, _, scalar_err = _run(capsys, "train", "logistic_regression_4")
    assert scalar_code == 2 and scalar_err.split(": ", 2)[2] == err.split(": ", 2)[2]


@pytest.mark.slow
def test_a_large_model_names_its_columns_in_short(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "train", "softmax_network_vector")
    assert code == 2 and err.count("\n") == 1
    assert "this model needs x1, x2, x3, …, x64, y" in err


def test_a_model_of_two_inputs_still_trains_on_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "train", str(_at_n(tmp_path, 2)), "--epochs", "20", "--json")
    assert code == 0 and len(json.loads(out)["parameters"]["w"]) == 2
