"""CSV loading: one test file per bad case of bad-inputs.md §6, each with its own one-line message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc
from symcalc.errors import DataError
from symcalc.numeric.data import (
    BUILTIN_DATASET,
    binary_targets,
    check_finite_loss,
    load_builtin,
    load_csv,
    two_blobs,
)
from symcalc.numeric.model import compile_model

CSV = Path(__file__).parent.parent / "data" / "csv"
GOOD_X1 = [0.5, -1.2, 2.0, -0.4, 1.1, -0.9]  # what good.csv holds, read independently below


def _message(name: str, model: symcalc.Model) -> str:
    with pytest.raises(DataError) as info:
        load_csv(CSV / name, model)
    message = info.value.message
    assert "\n" not in message
    return message.removeprefix(str(CSV) + "/")


BAD = {
    "empty.csv": "empty.csv: the file is empty "
    "(a CSV needs a header line naming the columns, then one row per sample)",
    "header_only.csv": "header_only.csv: has a header but no data rows",
    "missing_column.csv": "missing_column.csv, line 1: no column 'x2': the model needs x1, x2, y; "
    "the file has 'x1', 'x3', 'y' "
    "(name the file's column for each with --columns NAME=COLUMN[,...], e.g. --columns x2=x3)",
    "duplicate_column.csv": "duplicate_column.csv, line 1: column 'x1' appears twice (fields 1 and 3) "
    "(rename or remove one of them)",
    "non_numeric.csv": "non_numeric.csv, line 7, column 'x2': 'abc' is not a number",
    "empty_cell.csv": "empty_cell.csv, line 4, column 'x2': empty cell "
    "(every row needs a value in every column the model uses)",
    "nan.csv": "nan.csv, line 4, column 'x1': 'nan' is not a finite number (remove or fill in the row)",
    "inf.csv": "inf.csv, line 5, column 'x2': '-inf' is not a finite number (remove or fill in the row)",
    "ragged.csv": "ragged.csv, line 5: 2 fields, but the header has 3",
    "semicolon.csv": "semicolon.csv, line 1: the columns are separated by ';', not ',' "
    "(save the file with ',' between columns)",
    "latin1.csv": "latin1.csv, line 5: not UTF-8 text (byte 0xe7) (save the file as UTF-8)",
    "binary.csv": "binary.csv: is a binary file, not CSV text (it contains NUL bytes)",
    "utf16.csv": "utf16.csv: is UTF-16 text (save the file as UTF-8)",
    "label_two.csv": "label_two.csv, line 3, column 'y': 2 is not a label: the loss takes log(a) and "
    "log(1 - a) of a sigmoid output, so 'y' must be 0 or 1",
    "label_minus_one.csv": "label_minus_one.csv, line 3, column 'y': -1 is not a label: "
    "the loss takes log(a) and log(1 - a) of a sigmoid output, so 'y' must be 0 or 1",
    "label_half.csv": "label_half.csv, line 3, column 'y': 0.5 is not a label: the loss takes log(a) and "
    "log(1 - a) of a sigmoid output, so 'y' must be 0 or 1",
    "single_class.csv": "single_class.csv, column 'y': every label is 1: one class only, "
    "so the loss has no minimum and the weights would grow for ever "
    "(the data need samples of both classes 0 and 1)",
    "overflow.csv": "overflow.csv, line 2, column 'x1': 1e200 is too large: "
    "beyond 1e+150, z and the gradient overflow float64 (standardise the column)",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_file_has_its_own_message(name: str, seed_model: symcalc.Model) -> None:
    assert _message(name, seed_model) == BAD[name]


def test_every_bad_file_is_tested() -> None:
    accepted = {
        "good.csv",
        "extra_columns.csv",
        "bom_header.csv",
        "blank_lines.csv",
        "crlf.csv",
        "constant_column.csv",
    }
    domain = {"negative_for_log.csv"}
    # Cases added with the threat tests; test_threat_data.py checks each one's message.
    threats = {
        "tab.csv",
        "reordered.csv",
        "unicode_digit.csv",
        "underscore_number.csv",
        "hex_number.csv",
        "decimal_comma.csv",
        "whitespace_only.csv",
        "unclosed_quote.csv",
    }
    assert {p.name for p in CSV.glob("*.csv")} == set(BAD) | accepted | domain | threats


def test_missing_file_and_folder(seed_model: symcalc.Model, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file$"):
        load_csv(tmp_path / "nope.csv", seed_model)
    with pytest.raises(DataError, match="is a folder, not a CSV file"):
        load_csv(tmp_path, seed_model)


def _good_values() -> dict[str, list[float]]:
    # Read by hand, not by the code under test.
    lines = (CSV / "good.csv").read_text().split()
    rows = [[float(v) for v in line.split(",")] for line in lines[1:]]
    return {"x1": [r[0] for r in rows], "x2": [r[1] for r in rows], "y": [r[2] for r in rows]}


@pytest.mark.parametrize(
    "name", ["good.csv", "extra_columns.csv", "bom_header.csv", "blank_lines.csv", "crlf.csv"]
)
def test_accepted_files_read_by_name(name: str, seed_model: symcalc.Model) -> None:
    dataset = load_csv(CSV / name, seed_model)
    expected = _good_values()
    assert expected["x1"] == GOOD_X1
    assert set(dataset.columns) == {"x1", "x2", "y"}  # extra columns ignored
    for column, values in expected.items():
        assert dataset.columns[column].tolist() == values
    assert dataset.warnings == ()


def test_rows_remember_their_file_lines(seed_model: symcalc.Model) -> None:
    dataset = load_csv(CSV / "blank_lines.csv", seed_model)
    assert dataset.lines.tolist() == [3, 4, 5, 6, 7, 8]  # line 2 is blank


def test_constant_column_is_a_warning(seed_model: symcalc.Model) -> None:
    dataset = load_csv(CSV / "constant_column.csv", seed_model)
    assert len(dataset) == 6
    [warning] = dataset.warnings
    assert warning.endswith(
        "constant_column.csv, column 'x2': every value is 3; a constant column carries no information "
        "and its weight cannot be told apart from a bias"
    )


def test_value_outside_the_domain_of_a_general_loss(write_toml: Callable[[str], Path]) -> None:
    """A target inside log() that is not a label: reported by the row whose loss is not finite."""
    model = symcalc.load(
        str(
            write_toml(
                'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n'
                '[definitions]\nz = "w*x"\nL = "(log(y) - z)^2"\n'
            )
        )
    )
    assert binary_targets(model) == ()  # log(y) is not binary cross-entropy: any positive y is fine
    dataset = load_csv(CSV / "negative_for_log.csv", model)
    numeric = compile_model(symcalc.derive(model))
    losses = numeric.per_sample_loss({"w": 0.0}, dataset.columns)
    with pytest.raises(DataError) as info:
        check_finite_loss(dataset, losses)
    assert info.value.message.endswith(
        "negative_for_log.csv, line 3: the loss is nan for this row at the starting parameters: "
        "a value outside the loss's domain"
    )


def test_binary_targets_are_decided_from_the_loss(
    seed_model: symcalc.Model, write_toml: Callable[..., Path]
) -> None:
    assert [t.name for t in binary_targets(seed_model)] == ["y"]
    squared = (
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n[definitions]\n'
        'a = "sigmoid(w*x)"\nL = "(a - y)^2"\n'
    )
    assert binary_targets(symcalc.load(str(write_toml(squared)))) == ()
    by_hand = (
        'inputs = ["x"]\ntargets = ["t"]\nparameters = ["w"]\n[definitions]\n'
        'p = "1/(1 + exp(-w*x))"\nL = "-t*log(p) - (1 - t)*log(1 - p)"\n'
    )
    assert [t.name for t in binary_targets(symcalc.load(str(write_toml(by_hand, "hand.toml"))))] == ["t"]


def test_builtin_dataset_is_the_documented_generator_output(seed_model: symcalc.Model) -> None:
    shipped = (Path(symcalc.__file__).parent / "datasets" / BUILTIN_DATASET).read_text(encoding="utf-8")
    assert shipped == two_blobs()
    dataset = load_builtin(seed_model)
    assert len(dataset) == 200
    labels = dataset.columns["y"]
    assert labels.sum() == 100
    # The classes overlap (not separable): the class means differ by about 2 along x1 with unit spread.
    x1 = dataset.columns["x1"]
    assert 1.5 < x1[labels == 1].mean() - x1[labels == 0].mean() < 2.5
    assert np.std(x1) > 1


def test_builtin_dataset_refuses_other_models(write_toml: Callable[[str], Path]) -> None:
    model = symcalc.load(
        str(write_toml('inputs = ["u"]\nparameters = ["w"]\n[definitions]\nL = "(w*u)^2"\n'))
    )
    with pytest.raises(
        DataError, match=r"has columns x1, x2, y; this model needs u .give the data with --data"
    ):
        load_builtin(model)


CSV_ALPHABET = st.sampled_from([*'xy12,;.\t\r\n e+-"0na\x00\xe9', "inf", "nan", "x1", "x2", "y", "\ufeff"])


@pytest.mark.slow
@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(CSV_ALPHABET, max_size=60).map("".join), encoding=st.sampled_from(["utf-8", "latin-1"]))
def test_any_file_gives_a_dataset_or_a_data_error(
    text: str, encoding: str, seed_model: symcalc.Model, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "data.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    try:
        dataset = load_csv(path, seed_model)
    except DataError as err:
        assert "\n" not in err.message
        return
    assert set(dataset.columns) == {"x1", "x2", "y"}
    assert all(np.all(np.isfinite(c)) and len(c) == len(dataset) for c in dataset.columns.values())
    assert set(np.unique(dataset.columns["y"])) == {0.0, 1.0}


def test_partitions_moments_combine_to_numpys_mean_and_std_of_all_the_rows() -> None:
    """Chan's parallel formula keeps the digits of a column far from 0 with a small spread, where
    Σx² − (Σx)²/n over values near 1e6 would lose them all; partitions of unequal rows, one empty."""
    from symcalc.numeric.partitions import combined_moments

    rng = np.random.default_rng(3)
    values = np.column_stack([1e6 + 1e-2 * rng.standard_normal(700), rng.standard_normal(700)])
    parts = []
    for rows in np.split(values, [0, 100, 350]):
        mean = rows.mean(axis=0) if len(rows) else np.zeros(2)
        parts.append((len(rows), mean, np.sum(np.square(rows - mean), axis=0)))
    count, means, squares = combined_moments(parts)
    assert count == 700
    np.testing.assert_allclose(means, values.mean(axis=0), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(np.sqrt(squares / count), values.std(axis=0), rtol=1e-9)
