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
