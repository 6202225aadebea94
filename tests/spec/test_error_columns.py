"""An error inside an expression names the file's line and column of the culprit (issue 16): the
operator for an operator's problem, the name for a name's, counted in the file as an editor counts,
also inside a multi-line string. The oracle is the file's own text: the character found there."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Runner, WriteToml

HEAD = """title = "columns"
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
loss = "L"
"""

VECTOR = """title = "columns"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[h,n]", "v[h]", "b"]
loss = "L"

[dimensions]
n = 3
h = 2

[definitions]
z = "v @ tanh(W @ x + v + x) + b"
L = "(z - y)^2"
"""


def _where(err: str) -> tuple[int, int]:
    found = re.search(r"line (\d+), column (\d+)", err)
    assert found is not None, err
    return int(found.group(1)), int(found.group(2))


def _pointed_at(text: str, err: str, length: int) -> str:
    """The `length` characters of the file at the line and column the error names."""
    line, column = _where(err)
    return text.splitlines()[line - 1][column - 1 : column - 1 + length]


@pytest.mark.parametrize(
    ("definitions", "culprit", "problem"),
    [
        ('z = "w1*x1 + * w2*x2 + b"', "*", "syntax error"),
        ('z = "w1*x1 + w2*x2 + b"\na = "sigmiod(z)"', "sigmiod", "unknown function 'sigmiod'"),
        ('z = "w1*x1 + w2*x2 + b"\na = "1/(1 + e^-z)"', "e", "unknown name 'e'"),
        ('z = "w1*x1 + w2*x2 // b"', "//", "operator '//' is not allowed"),
        ('z = "(w1*x1 + w2*x2) % b"', "%", "operator '%' is not allowed"),
        ('z   =   "   w1*x1 + w2*x2 + bb"', "bb", "unknown name 'bb'"),
        ("z = 'w1*x1 + w2*x2 + q'", "q", "unknown name 'q'"),
    ],
)
def test_the_column_is_the_files_and_points_at_the_culprit(
    definitions: str, culprit: str, problem: str, write_toml: WriteToml, run: Runner
) -> None:
    text = f'{HEAD}\n[definitions]\n{definitions}\nL = "(z - y)^2"\n'
    code, out, err = run(["derive", str(write_toml(text))])
    assert code == 2 and out == "" and problem in err and len(err.splitlines()) == 1
    assert _pointed_at(text, err, len(culprit)) == culprit


def test_a_column_inside_a_multi_line_string_is_on_its_own_line(write_toml: WriteToml, run: Runner) -> None:
    text = f'{HEAD}\n[definitions]\nz = """\n    w1*x1\n  + w2*x2\n  + bee"""\nL = "(z - y)^2"\n'
    code, _, err = run(["derive", str(write_toml(text))])
    assert code == 2 and "unknown name 'bee'" in err
    assert _where(err)[0] == text.splitlines().index('  + bee"""') + 1
    assert _pointed_at(text, err, 3) == "bee"


def test_a_shape_mismatch_points_at_its_operator(write_toml: WriteToml, run: Runner) -> None:
    code, _, err = run(["derive", str(write_toml(VECTOR))])
    assert code == 2 and "'+' between" in err, err
    line, column = _where(err)
    # The second '+', [h] plus [n]; the first (W @ x plus v, both [h]) is fine.
    assert VECTOR.splitlines()[line - 1][column - 1 :] == '+ x) + b"'


def test_an_escaped_string_gives_the_line_and_no_column(write_toml: WriteToml, run: Runner) -> None:
    """Where the text is not in the file verbatim, a column would point at the wrong character."""
    text = f'{HEAD}\n[definitions]\nz = "w1*x1 + w2*x2 + \\u0071"\nL = "(z - y)^2"\n'
    code, _, err = run(["derive", str(write_toml(text))])
    assert code == 2 and "unknown name 'q'" in err
    assert "line 8," in err and "column" not in err


@pytest.mark.parametrize(
    ("definition", "culprit", "problem"),
    [
        ('z = "w1^2 + w2^2 + b // x1"', "//", "operator '//' is not allowed"),  # after two ^ (as **)
        ('z = "w1^2*x1 + qq"', "qq", "unknown name 'qq'"),
    ],
)
def test_a_caret_does_not_shift_the_column(
    definition: str, culprit: str, problem: str, write_toml: WriteToml, run: Runner
) -> None:
    """Python parses ^ as **, one character more: columns still count the file's characters."""
    text = f'{HEAD}\n[definitions]\n{definition}\nL = "(z - y)^2"\n'
    code, _, err = run(["derive", str(write_toml(text))])
    assert code == 2 and problem in err
    assert _pointed_at(text, err, len(culprit)) == culprit


def test_an_expression_that_ends_too_soon_points_past_its_end(write_toml: WriteToml, run: Runner) -> None:
    text = f'{HEAD}\n[definitions]\nz = "w1*x1 + w2*x2 + b +"\nL = "(z - y)^2"\n'
    code, _, err = run(["derive", str(write_toml(text))])
    assert code == 2 and "syntax error" in err
    assert _pointed_at(text, err, 1) == '"'  # the closing quote, just past the last '+'
