"""The streamed CSV reader (`symcalc.numeric.reader`): the same columns, lines and messages as reading
the whole text with Python's csv module, whatever the blocks; memory within its documented bound."""

from __future__ import annotations

import csv
import io
import re
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc
import symcalc.numeric.reader as reader
from symcalc.errors import DataError
from symcalc.numeric.data import load_csv

NAMES = ["x1", "x2", "y"]


def _oracle(text: str) -> tuple[dict[str, list[float]], list[int]] | str:
    """The whole text read by the csv module, row by row: the columns and lines, or 'line N, column C'
    of the first bad cell (or 'line N' of a ragged row)."""
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = [h.strip() for h in next(rows)]
    where = {name: header.index(name) for name in NAMES}
    values: dict[str, list[float]] = {name: [] for name in NAMES}
    lines: list[int] = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            return f"line {rows.line_num}"
        for name in NAMES:
            cell = row[where[name]].strip()
            if not re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", cell):
                return f"line {rows.line_num}, column {name!r}"
            values[name].append(float(cell))
        lines.append(rows.line_num)
    return (values, lines) if lines else ": has a header but no data rows"


CELLS = st.one_of(
    st.sampled_from(["0", "1", "-2.5", " 3e2 ", ".5", "7.", "1e-3", '"4.25"', "abc", "", "1,5"]),
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
)
NOTES = st.sampled_from(["n", "", '"a, b"', '"two\nlines"', '"say ""hi"""', "é"])
ENDINGS = st.sampled_from(["\n", "\r\n"])


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    ending = draw(ENDINGS)
    lines = ["x1,note,x2,y"]
    for _ in range(draw(st.integers(1, 30))):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", " ", ",,,"])))  # blank: skipped
            continue
        x1, x2 = draw(CELLS), draw(CELLS)
        lines.append(f"{x1},{draw(NOTES)},{x2},{draw(st.sampled_from(['0', '1']))}")
    return ending.join(lines) + draw(st.sampled_from(["", ending, ending + ending]))


@pytest.mark.slow
@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=csv_texts(), block=st.sampled_from([16, 64, 4096]))
def test_blocks_read_as_the_whole_text_is(
    text: str, block: int, seed_model: symcalc.Model, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(text.encode("utf-8"))
    expected = _oracle(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "BLOCK_BYTES", block)
        try:
            dataset = load_csv(path, seed_model)
        except DataError as err:
            message = err.message
            if isinstance(expected, str):
                assert message.startswith(f"{path}{'' if expected.startswith(':') else ', '}{expected}")
            else:  # the values are right; only the labels can be refused (one class)
                assert "every label is" in message and len(set(expected[0]["y"])) == 1
            return
    assert not isinstance(expected, str), f"read, but the oracle found {expected}"
    values, lines = expected
    assert dataset.lines.tolist() == lines
    for name in NAMES:
        assert dataset.columns[name].tolist() == values[name]


def test_a_row_past_the_cap_is_one_line(
    seed_model: symcalc.Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "MAX_ROW_BYTES", 2048)
    monkeypatch.setattr(reader, "BLOCK_BYTES", 512)
    path = tmp_path / "long.csv"
    path.write_text("x1,x2,y,note\n1,2,0,a\n3,4,1," + "b" * 5000 + "\n5,6,1,c\n")
    with pytest.raises(DataError) as info:
        load_csv(path, seed_model)
    assert re.fullmatch(
        rf"{re.escape(str(path))}, line 3: the row is longer than \d+ MiB \(.*\)", info.value.message
    )
    quoted = tmp_path / "quoted.csv"  # a quoted cell running on over many short lines
    quoted.write_text('x1,x2,y,note\n1,2,0,"' + "b\n" * 3000 + '"\n5,6,1,c\n')
    with pytest.raises(DataError, match=r"line \d+: the row is longer than"):
        load_csv(quoted, seed_model)


@pytest.mark.slow
def test_reading_stays_within_its_bound_of_memory(
    seed_model: symcalc.Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The columns of 3 values a row (8 bytes each) and the row's line (4), and a block of lines with
    its cells as Python objects: measured by tracemalloc (which sees NumPy's arrays too) against the
    file's size; the whole-text reader took about 10 bytes per byte of file here."""
    monkeypatch.setattr(reader, "BLOCK_BYTES", 64 * 1024)
    rng = np.random.default_rng(3)
    rows = 200_000
    x = rng.standard_normal((rows, 2))
    y = rng.integers(0, 2, rows)
    path = tmp_path / "data.csv"
    body = "".join(f"{a:.6f},{b:.6f},{c}\n" for (a, b), c in zip(x, y, strict=True))
    path.write_text("x1,x2,y\n" + body)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        dataset = load_csv(path, seed_model)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = sum(c.nbytes for c in dataset.columns.values()) + dataset.lines.nbytes
    assert held == rows * (3 * 8 + 4)
    assert peak < held + 32 * reader.BLOCK_BYTES  # the columns, and a block's cells as Python objects
    assert peak < 2 * size
    assert np.array_equal(dataset.columns["x1"], np.array([float(f"{a:.6f}") for a in x[:, 0]]))
