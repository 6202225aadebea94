"""Gradient descent that runs out of epochs far from a minimum says so in one line, with advice that
works: on unscaled real data (scikit-learn's breast cancer table) --standardize or Newton's method
reach a minimum where 5 000 epochs of plain descent do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symcalc.cli.main import main

COLUMNS = "x1=mean radius,x2=mean area,y=target"


@pytest.fixture(scope="module")
def cancer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    datasets = pytest.importorskip("sklearn.datasets")
    path = tmp_path_factory.mktemp("cancer") / "cancer.csv"
    datasets.load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return path


def _train(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, dict[str, object]]:
    code = main(["train", *argv])
    out = capsys.readouterr().out
    code_json = main(["train", *argv, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == code_json
    return code, out, data


@pytest.mark.slow
def test_unscaled_data_gets_advice_that_works(cancer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, data = _train(capsys, "--data", str(cancer), "--columns", COLUMNS)
    assert code == 0 and data["stopped"] == "epochs"
    [line] = [line for line in out.splitlines() if "far from a minimum" in line]
    assert "try --standardize, --method newton, lbfgs or adam, or more --epochs" in line
    assert data["advice"] == line
    plain = data["accuracy"]
    for better in (["--standardize"], ["--method", "newton"]):
        code, out, data = _train(capsys, "--data", str(cancer), "--columns", COLUMNS, *better)
        assert code == 0, better
        assert "far from a minimum" not in out and data["advice"] is None
        assert isinstance(plain, float) and isinstance(data["accuracy"], float)
        assert data["accuracy"] > plain + 0.1, (better, data["accuracy"], plain)


@pytest.mark.slow
def test_a_run_stopped_early_says_the_loss_was_still_falling(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, data = _train(capsys, "--epochs", "30")
    assert code == 0 and data["stopped"] == "epochs"
    assert "the loss was still falling" in str(data["advice"])
    code, _, data = _train(capsys)
    assert code == 0 and data["converged"] is True and data["advice"] is None
