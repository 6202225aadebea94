"""`symcalc train`'s conveniences of issue 16: --columns, the scale warning and --standardize,
--test-fraction and --save (with `load_parameters` in the module `codegen` writes).

Errors are checked in a real `symcalc` process (exit code, the one line on stderr); results
against independent computations: the same data under the model's own names, scikit-learn,
or NumPy by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from symcalc.numeric.data import two_blobs
from tests.conftest import REPO, Runner

EXAMPLE = ' (e.g. --columns x1="mean radius",y=diagnosis)'
RENAMED = {"x1": "mean radius", "x2": "mean texture, first", "y": "diagnosis"}


def _symcalc(*argv: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """`symcalc ARGV` as a user runs it: its own process, this worktree's code."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "symcalc", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def renamed_csv(tmp_path: Path) -> Path:
    """The built-in data under headers that are not names: 'mean radius', a comma inside one, …"""
    lines = two_blobs().splitlines()
    header = ",".join(f'"{RENAMED[name]}"' for name in lines[0].split(","))
    path = tmp_path / "renamed.csv"
    path.write_text("\n".join([header, *lines[1:]]) + "\n", encoding="utf-8")
    return path


# -- --columns ---------------------------------------------------------------------------------


def test_columns_map_headers_that_are_not_names(run: Runner, renamed_csv: Path) -> None:
    columns = f"x1={RENAMED['x1']},x2={RENAMED['x2']}"
    code, out, err = run(
        ["train", "--data", str(renamed_csv), "--columns", columns, "--columns", "y=diagnosis", "--json"]
    )
    assert code == 0, err
    code, reference, _ = run(["train", "--json"])  # the same rows under x1, x2, y: the built-in data
    assert json.loads(out)["parameters"] == json.loads(reference)["parameters"]
    assert json.loads(out)["samples"] == 200


def test_columns_name_the_entries_of_a_vector_input(run: Runner, renamed_csv: Path, tmp_path: Path) -> None:
    mapping = f'x1="{RENAMED["x1"]}",x2="{RENAMED["x2"]}",y=diagnosis'.replace('"', "")
    code, out, err = run(
        ["train", "logistic_regression_vector", "--data", str(renamed_csv), "--columns", mapping, "--json"]
    )
    assert code == 0, err
    plain = tmp_path / "plain.csv"
    plain.write_text(two_blobs(), encoding="utf-8")
    code, reference, _ = run(["train", "logistic_regression_vector", "--data", str(plain), "--json"])
    ours, theirs = json.loads(out)["parameters"], json.loads(reference)["parameters"]
    assert len(ours["w"]) == 2 and ours == theirs


def test_a_column_of_the_file_may_swap_with_a_name(run: Runner, tmp_path: Path) -> None:
    """x1 and x2 exchanged by --columns: the weights come out exchanged too."""
    data = tmp_path / "blobs.csv"
    data.write_text(two_blobs(), encoding="utf-8")
    code, out, _ = run(["train", "--data", str(data), "--columns", "x1=x2,x2=x1", "--json"])
    assert code == 0
    swapped = json.loads(out)["parameters"]
    reference = json.loads(run(["train", "--data", str(data), "--json"])[1])["parameters"]
    assert swapped["w1"] == pytest.approx(reference["w2"], abs=1e-6)
    assert swapped["w2"] == pytest.approx(reference["w1"], abs=1e-6)


@pytest.mark.parametrize(
    ("columns", "line"),
    [
        ("x1", "symcalc: error: --columns x1: is not NAME=COLUMN" + EXAMPLE),
        ("=mean radius", "symcalc: error: --columns =mean radius: is not NAME=COLUMN" + EXAMPLE),
        ("x1=", "symcalc: error: --columns x1=: is not NAME=COLUMN" + EXAMPLE),
        (
            "x1=mean radius,x1=diagnosis",
            "symcalc: error: --columns x1=diagnosis: 'x1' is mapped twice, to 'mean radius' and 'diagnosis' "
            "(map each name once)",
        ),
        (
            "x1=mean radius,x2=mean radius",
            "symcalc: error: --columns x2=mean radius: column 'mean radius' is mapped to both 'x1' and 'x2' "
            "(map each column to one name)",
        ),
        (
            "X1=mean radius",
            "symcalc: error: logistic_regression (built in), --columns X1=mean radius: "
            "'X1' is not an input or target of the model (did you mean 'x1'?)",
        ),
        (
            "x1=mean radiuss,x2=mean texture,y=diagnosis",
            "symcalc: error: {csv}, line 1, --columns x1=mean radiuss: the file has no column 'mean radiuss' "
            "(did you mean 'mean radius'?)",
        ),
        (
            "x1=mean radius",
            "symcalc: error: {csv}, line 1: no columns 'x2', 'y': the model needs x1, x2, y; the file has "
            "'mean radius', 'mean texture, first', 'diagnosis' "
            "(map a column to each with --columns NAME=COLUMN)",
        ),
    ],
)
def test_a_bad_columns_option_is_one_line_and_exit_2(renamed_csv: Path, columns: str, line: str) -> None:
    code, out, err = _symcalc("train", "--data", str(renamed_csv), "--columns", columns, "--epochs", "1")
    assert (code, out) == (2, "")
    assert err == line.format(csv=renamed_csv) + "\n"


def test_a_column_read_for_two_names_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "blobs.csv"
    data.write_text(two_blobs(), encoding="utf-8")
    code, out, err = _symcalc("train", "--data", str(data), "--columns", "x1=x2", "--epochs", "1")
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: {data}, line 1: column 'x2' would be read for both 'x1' and 'x2' "
        "(map 'x2' to another column with --columns too)\n"
    )


def test_a_cell_error_names_the_files_column(run: Runner, renamed_csv: Path) -> None:
    text = renamed_csv.read_text(encoding="utf-8").splitlines()
    text[3] = "abc," + text[3].split(",", 1)[1]
    renamed_csv.write_text("\n".join(text) + "\n", encoding="utf-8")
    code, _, err = run(
        [
            "train",
            "--data",
            str(renamed_csv),
            "--columns",
            "x1=mean radius,x2=mean texture, first,y=diagnosis",
        ]
    )
    assert code == 2
    assert err == f"symcalc: error: {renamed_csv}, line 4, column 'mean radius': 'abc' is not a number\n"
