"""A CSV whose columns do not match the model's names: one line that mentions --columns, with the
file's near matches filled in (headers 'x 1', 'X_2'), and a long header listed in short."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from symcalc.cli.main import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _csv(tmp_path: Path, header: list[str]) -> Path:
    path = tmp_path / "data.csv"
    rows = [[str((i * 7 + j) % 5) for j in range(len(header) - 1)] + [str(i % 2)] for i in range(6)]
    path.write_text("\n".join(",".join(row) for row in [header, *rows]) + "\n")
    return path


@pytest.mark.parametrize("model", ["logistic_regression", "logistic_regression_vector"])
def test_near_matches_are_suggested_and_the_suggestion_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str
) -> None:
    data = str(_csv(tmp_path, ["x 1", "X_2", "y"]))
    code, out, err = _run(capsys, "train", model, "--data", data)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert "did you mean --columns 'x1=x 1,x2=X_2'?" in err
    suggested = shlex.split(err.split("did you mean ")[1].removesuffix("?)\n"))
    code, out, err = _run(capsys, "train", model, "--data", data, *suggested, "--epochs", "3")
    assert code == 0, err


def test_columns_is_mentioned_when_nothing_is_near(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = [f"feature {name}" for name in "abcdefghijklmnopqrstuvwxyz"] + ["f1", "f2", "f3", "f4", "label"]
    code, _, err = _run(capsys, "train", "--data", str(_csv(tmp_path, header)))
    assert code == 2 and err.count("\n") == 1
    assert "--columns NAME=COLUMN[,...], e.g. --columns 'x1=feature a'" in err
    assert "'feature l', … (31 in all)" in err and "'label'" not in err
