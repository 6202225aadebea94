"""Threat: CSV data that NumPy would silently accept or misread (bad-inputs.md §6), through `symcalc train`.

One test file in tests/data/csv/ per case, each with its own one-line message
naming the file, the line and the column where there is one; exit status 2,
nothing printed on stdout and nothing written. Files that must be accepted
(columns in another order, a BOM, CRLF) are read by name, not by position.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Runner, WriteToml

CSV = Path(__file__).parent.parent / "data" / "csv"


# bad-inputs.md §6, case by case: the file that shows it and the message train must give.
REFUSED = {
    "wrong header": ("missing_column.csv", "line 1: no column 'x2': the model needs x1, x2, y; the file has"),
    "label 2": ("label_two.csv", "line 3, column 'y': 2 is not a label"),
    "label -1": ("label_minus_one.csv", "line 3, column 'y': -1 is not a label"),
    "label 0.5": ("label_half.csv", "line 3, column 'y': 0.5 is not a label"),
    "NaN from a text cell": ("non_numeric.csv", "line 7, column 'x2': 'abc' is not a number"),
    "one NaN cell": ("nan.csv", "line 4, column 'x1': 'nan' is not a finite number"),
    "inf": ("inf.csv", "line 5, column 'x2': '-inf' is not a finite number"),
    "duplicate columns": ("duplicate_column.csv", "line 1: column 'x1' appears twice (fields 1 and 3)"),
    "empty file": ("empty.csv", ": the file is empty"),
    "whitespace only": ("whitespace_only.csv", ": the file is empty"),
    "header only": ("header_only.csv", ": has a header but no data rows"),
    "ragged rows": ("ragged.csv", "line 5: 2 fields, but the header has 3"),
    "single class": ("single_class.csv", "column 'y': every label is 1: one class only"),
    "z overflows": ("overflow.csv", "line 2, column 'x1': 1e200 is too large: beyond 1e+150"),
    "semicolons": ("semicolon.csv", "line 1: the columns are separated by ';', not ','"),
    "tabs": ("tab.csv", "line 1: the columns are separated by tabs, not ','"),
    "non-UTF-8": ("latin1.csv", "line 5: not UTF-8 text (byte 0xe7) (save the file as UTF-8)"),
    "UTF-16": ("utf16.csv", ": is UTF-16 text (save the file as UTF-8)"),
    "binary": ("binary.csv", ": is a binary file, not CSV text (it contains NUL bytes)"),
    "empty cell": ("empty_cell.csv", "line 4, column 'x2': empty cell"),
    "unclosed quote": ("unclosed_quote.csv", "line 7: not valid CSV (unexpected end of data)"),
    "decimal comma": (
        "decimal_comma.csv",
        "line 2, column 'x1': '0,5' is not a number (write decimals with '.'",
    ),
    "Python's 1_000": ("underscore_number.csv", "line 3, column 'x1': '1_000' is not a number"),
    "hex": ("hex_number.csv", "line 3, column 'x2': '0x10' is not a number"),
    "non-ASCII digit": ("unicode_digit.csv", "line 3, column 'x2': '３' is not a number"),
}

# Cases NumPy gets wrong by accepting them; symcalc accepts them too, but reads every column by name.
ACCEPTED = ["good.csv", "reordered.csv", "bom_header.csv", "crlf.csv", "blank_lines.csv", "extra_columns.csv"]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_each_bad_csv_case_has_its_own_message(run: Runner, tmp_path: Path, case: str) -> None:
    name, message = REFUSED[case]
    plot = tmp_path / "never.png"
    code, out, err = run(["train", "--data", str(CSV / name), "--epochs", "1", "--plot", str(plot)])
    assert code == 2
    assert out == ""
    assert err.startswith(f"symcalc: error: {CSV / name}{'' if message.startswith(':') else ', '}{message}")
    assert len(err.splitlines()) == 1 and "internal error" not in err
    assert not plot.exists()


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_files_train_on_the_columns_named(run: Runner, name: str) -> None:
    code, out, err = run(["train", "--data", str(CSV / name), "--epochs", "3", "--json"])
    assert code == 0, err
    result = json.loads(out)
    # The same six samples as good.csv whatever the column order: the same parameters after 3 epochs.
    code, reference, _ = run(["train", "--data", str(CSV / "good.csv"), "--epochs", "3", "--json"])
    assert result["parameters"] == json.loads(reference)["parameters"]
    assert result["samples"] == 6


def test_reordered_columns_are_not_read_by_position(run: Runner) -> None:
    header = (CSV / "reordered.csv").read_text().splitlines()[0]
    assert header == "y,x2,x1"  # by position, y would be read as x1
    code, out, _ = run(["train", "--data", str(CSV / "reordered.csv"), "--epochs", "0", "--json"])
    assert code == 0
    code, reference, _ = run(["train", "--data", str(CSV / "good.csv"), "--epochs", "0", "--json"])
    assert json.loads(out)["loss"] == json.loads(reference)["loss"]


def test_a_constant_column_is_a_warning_and_training_runs(run: Runner) -> None:
    code, _, err = run(["train", "--data", str(CSV / "constant_column.csv"), "--epochs", "2", "--json"])
    assert code == 0
    assert "warning" in err and "column 'x2': every value is 3" in err


def test_a_value_outside_the_losss_domain_names_the_row(run: Runner, write_toml: WriteToml) -> None:
    model = write_toml(
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n'
        '[definitions]\nz = "w*x"\nL = "(log(y) - z)^2"\n'
    )
    code, _, err = run(["train", str(model), "--data", str(CSV / "negative_for_log.csv"), "--epochs", "1"])
    assert code == 2
    assert "negative_for_log.csv, line 3: the loss is nan for this row" in err


def test_every_csv_file_is_a_case_here() -> None:
    covered = {name for name, _ in REFUSED.values()} | set(ACCEPTED)
    covered |= {"constant_column.csv", "negative_for_log.csv"}
    assert covered == {p.name for p in CSV.glob("*.csv")}


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_or_blocking_data_file_is_refused(run: Runner, tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # reading it would wait for a writer for ever
    for path in ("/dev/zero", str(fifo)):  # /dev/zero would fill memory
        code, _, err = run(["train", "--data", path, "--epochs", "1"])
        assert code == 2
        assert err == f"symcalc: error: {path}: is not a regular file\n"


def test_a_data_file_over_the_cap_is_refused_without_reading_it_all(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import symcalc.numeric.reader

    monkeypatch.setattr(symcalc.numeric.reader, "MAX_CSV_BYTES", 1024**2)
    big = tmp_path / "big.csv"
    big.write_text("x1,x2,y\n" + "0.5,1.0,1\n-1.2,0.3,0\n" * 60_000)
    code, _, err = run(["train", "--data", str(big), "--epochs", "1"])
    assert code == 2
    assert "is larger than 1 MiB" in err
