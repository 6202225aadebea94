"""Plain decimal cells parsed in bulk (`symcalc.numeric.decimals`): bit for bit Python's `float` on every
cell the reader's rule accepts, None for a block holding any cell it refuses."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symcalc
import symcalc.numeric.reader as reader
from symcalc.errors import DataError
from symcalc.numeric import decimals
from symcalc.numeric.data import load_csv

LIMIT = 1e150
LONGEST = 131072
#: The reader's rule, written out here: ASCII digits, an optional point and exponent, space around.
RULE = re.compile(r"[ \t\x0b\x0c]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\x0b\x0c]*")


def _expected(cell: str) -> float | None:
    """What the reader takes from a cell: float() where the rule holds and the value is in range."""
    if not RULE.fullmatch(cell):
        return None
    value = float(cell)
    return value if math.isfinite(value) and abs(value) <= LIMIT else None


def _bits(values: list[float]) -> list[int]:
    return np.array(values, dtype=np.float64).view(np.int64).tolist()


DIGITS = st.text("0123456789", max_size=22)
PLAIN = st.builds(
    lambda sign, whole, point, fraction: sign + whole + point + fraction,
    st.sampled_from(["", "+", "-"]),
    DIGITS,
    st.sampled_from(["", "."]),
    DIGITS,
)
NEAR = st.builds(  # plain decimals and what is one step from being one
    lambda plain, exponent, space: space + plain + exponent + space,
    PLAIN,
    st.sampled_from(["", "e5", "E-3", "e", "e400", "e-400", "e150", "e151"]),
    st.sampled_from(["", " ", "\t"]),
)
ODD = st.text("0123456789.+-eE _nainfNAINF\x0b\x0c\u0663\uff13", max_size=8)
CELLS = st.one_of(PLAIN, NEAR, ODD, st.floats(allow_nan=False, allow_infinity=False).map(repr))


@pytest.mark.slow
@settings(max_examples=600, deadline=None, derandomize=True)
@given(rows=st.lists(st.lists(CELLS, min_size=3, max_size=3), min_size=1, max_size=12))
def test_cells_read_as_float_reads_them(rows: list[list[str]]) -> None:
    """Any cells, three to a line, the first and last wanted: the columns `float` gives, bit for bit, or
    None exactly when one wanted cell is refused (the middle field is never looked at)."""
    block = "".join(",".join(row) + "\n" for row in rows).encode()
    if block.count(b",") != 2 * len(rows):  # a cell with a comma in it: not what this test draws
        return
    found = decimals.columns(block, 3, [0, 2], LIMIT, LONGEST)
    expected = [[_expected(row[field]) for row in rows] for field in (0, 2)]
    if any(value is None for column in expected for value in column):
        assert found is None
        return
    assert found is not None
    for column, values in zip(found, expected, strict=True):
        assert _bits(column.tolist()) == _bits([v for v in values if v is not None])


@pytest.mark.slow
@settings(max_examples=400, deadline=None, derandomize=True)
@given(cells=st.lists(PLAIN.filter(lambda c: 1 <= sum(ch.isdigit() for ch in c) <= 15), min_size=1))
def test_plain_decimals_are_read_in_bulk(cells: list[str]) -> None:
    """Up to 15 digits, a sign and a point: every such cell is the vectorised path's (none goes to
    `float` one by one), and its value is float()'s bit for bit."""
    block = ("\n".join(cells) + "\n").encode()
    padded = np.frombuffer(b"0" * decimals._WIDTH + block, dtype=np.uint8)
    ends = np.flatnonzero(padded[decimals._WIDTH :] == ord("\n"))
    starts = np.concatenate(([0], ends[:-1] + 1))
    values, regular = decimals._plain(padded, starts, ends, other=True, point=True, sign=True)
    assert regular.all()
    assert _bits(values.tolist()) == _bits([float(c) for c in cells])


@pytest.mark.parametrize(
    "cell",
    ["1_0", "\uff13", "\u0663", "nan", "-inf", "Infinity", "1e151", "1e400", "", " ", ".", "+", "-.", "1.2.3",
     "1-", "+-1", "--1", "1e", "e5", "0x10"],
)  # fmt: skip
def test_a_cell_the_reader_refuses_leaves_the_block(cell: str) -> None:
    block = f"1,{cell}\n2,3\n".encode()
    assert decimals.columns(block, 2, [0, 1], LIMIT, LONGEST) is None
    assert decimals.columns(block, 2, [0], LIMIT, LONGEST) is not None  # a field not wanted is not read


def test_the_densest_block_reads_and_a_row_of_the_wrong_length_does_not() -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(0, 10, (100_000, 2))
    block = "".join(f"{a},{b}\n" for a, b in values).encode()
    found = decimals.columns(block, 2, [1, 0], LIMIT, LONGEST)
    assert found is not None
    assert np.array_equal(found[0], values[:, 1]) and np.array_equal(found[1], values[:, 0])
    for ragged in (b"1,2\n3\n", b"1,2\n3,4,5\n", b"1,2\n\n", b"1,2,\n3\n"):
        assert decimals.columns(ragged, 2, [0, 1], LIMIT, LONGEST) is None


def _plain_file(path: Path, rows: int) -> list[list[str]]:
    """x1, x2, y of `rows` rows, written as people and programs write decimals: 0 to 9 places, signs,
    leading points, repr()'s 17 digits; two 1 MiB blocks and more."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((rows, 2)) * 10.0 ** rng.integers(-3, 6, (rows, 2))
    places = rng.integers(0, 10, (rows, 2))
    cells = [
        [
            repr(float(v)) if p == 9 else (f"{v:.{p}f}".replace("0.", ".", 1) if p == 8 else f"{v:+.{p}f}")
            for v, p in zip(row, prow, strict=True)
        ]
        + [str(int(rng.integers(0, 2)))]
        for row, prow in zip(x, places, strict=True)
    ]
    path.write_text("x1,x2,y\n" + "".join(",".join(row) + "\n" for row in cells))
    return cells


@pytest.mark.slow
def test_a_file_reads_as_float_reads_its_cells(seed_model: symcalc.Model, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    cells = _plain_file(path, 100_000)
    assert path.stat().st_size > 2 * reader.BLOCK_BYTES
    dataset = load_csv(path, seed_model)
    for j, name in enumerate(["x1", "x2", "y"]):
        assert _bits(dataset.columns[name].tolist()) == _bits([float(row[j]) for row in cells])
    assert dataset.lines.tolist() == list(range(2, 100_002))


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["1_0", "\uff13", "nan", "1e151", "", "1.2.3", "--1", "0x10"])
def test_a_refused_cell_deep_in_a_file_is_named_as_before(
    cell: str, seed_model: symcalc.Model, tmp_path: Path
) -> None:
    """Past the first block, among plain decimals: the row-by-row reading's one line, file, line and
    column, as for a cell on the first data line."""
    path = tmp_path / "data.csv"
    cells = _plain_file(path, 60_000)
    cells[45_678][1] = cell
    path.write_text("x1,x2,y\n" + "".join(",".join(row) + "\n" for row in cells))
    with pytest.raises(DataError) as deep:
        load_csv(path, seed_model)
    short = tmp_path / "short.csv"
    short.write_text(f"x1,x2,y\n1,{cell},0\n")
    with pytest.raises(DataError) as first:
        load_csv(short, seed_model)
    assert deep.value.message.startswith(f"{path}, line 45680, column 'x2': ")
    assert deep.value.message.split(": ", 1)[1] == first.value.message.split(": ", 1)[1]
