"""Small things a user meets: Parquet given to train without --dask, and train's own description."""

from __future__ import annotations

from pathlib import Path

import pytest

from symcalc.cli.main import main


def test_parquet_without_dask_says_what_reads_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pa = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "rows.parquet"
    parquet.write_table(pa.table({"x1": [1.0, 2.0], "x2": [0.5, 0.0], "y": [0.0, 1.0]}), path)
    assert main(["train", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is Parquet" in err and "--dask" in err
    assert "binary file" not in err


def test_train_help_names_every_method(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    line = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("train"))
    assert "full-batch" not in line and "gradient descent" in line


def test_ascii_keeps_partial_apart_from_d(tmp_path: Path) -> None:
    """∂L/∂a (L's own definition) and dL/dz (through the graph) were both dL/d… in ASCII."""
    import os
    import subprocess
    import sys

    environment = {**os.environ, "PYTHONIOENCODING": "ascii", "COLUMNS": "80"}
    result = subprocess.run(
        [sys.executable, "-m", "symcalc", "derive", "logistic_regression"],
        capture_output=True,
        env=environment,
        timeout=120,
        check=True,
    )
    out = result.stdout.decode("ascii")
    step1 = out[out.index("Step 1 of") : out.index("Step 2 of")]
    step3 = out[out.index("Step 3 of") : out.index("Step 4 of")]
    assert "partial L" in step1 and "partial a" in step1  # the local derivative of L's definition
    assert "dL" in step3 and "dz" in step3 and "partial L" not in step3  # the total one
    assert max(len(line) for line in out.splitlines()) <= 80


def test_ascii_says_which_derivative_was_meant() -> None:
    import os
    import subprocess
    import sys

    environment = {**os.environ, "PYTHONIOENCODING": "ascii", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "symcalc", "check", "logistic_regression", "∂L/∂w1", "(a-y)*x1"],
        capture_output=True,
        env=environment,
        timeout=120,
    )
    out = " ".join(result.stdout.decode("ascii").split())
    assert result.returncode == 1
    assert "partial L/partial w1 is the local derivative of L's own definition" in out
    assert "did you mean dL/dw1?" in out


def test_save_with_force_replaces_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    saved = tmp_path / "params.json"
    saved.write_text("an older run\n", encoding="utf-8")
    assert main(["train", "--epochs", "5", "--save", str(saved)]) == 2
    assert saved.read_text(encoding="utf-8") == "an older run\n"
    assert main(["train", "--epochs", "5", "--save", str(saved), "--force", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)["parameters"]
    assert json.loads(saved.read_text(encoding="utf-8"))["parameters"] == trained
