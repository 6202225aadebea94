"""Vector and matrix declarations (`x[n]`, `W[h,n]`) and [dimensions]: the format's syntax, read and checked.

The contract's example parses into shapes and sizes, and every command takes it
(written out at its sizes: tests/symbolic/test_vectors.py checks that against NumPy). Every
malformed declaration or size is one line naming the file and the key, exit 2, and never a traceback.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symcalc.errors import SymcalcError
from symcalc.spec.shapes import components, split_declaration
from symcalc.spec.toml import check
from tests.conftest import Runner, WriteToml

#: The example of `derivation-format.md`, exactly.
CONTRACT = """
title = "A two-layer network with h tanh units"

inputs     = ["x[n]"]
targets    = ["y"]
parameters = ["W[h,n]", "c[h]", "v[h]", "b"]

[dimensions]
n = 2
h = 3

[definitions]
s = "W @ x + c"
g = "tanh(s)"
z = "v @ g + b"
a = "sigmoid(z)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"

[claims]
"dL/ds" = "(a - y)*v*(1 - g^2)"
"dL/dW" = "outer((a - y)*v*(1 - g^2), x)"
"""


def test_the_contracts_example_is_read_with_its_shapes_and_sizes() -> None:
    spec, problems = check(CONTRACT, "network.toml")
    assert problems == []
    assert spec.inputs == ("x",) and spec.parameters == ("W", "c", "v", "b")
    assert spec.shapes == (("x", ("n",)), ("W", ("h", "n")), ("c", ("h",)), ("v", ("h",)))
    assert spec.dimensions == (("n", 2), ("h", 3))


@pytest.mark.slow
@pytest.mark.parametrize("command", [["derive"], ["verify"], ["latex"], ["codegen"]])
def test_the_contracts_example_is_derived_written_out_at_its_sizes(
    command: list[str], run: Runner, write_toml: WriteToml
) -> None:
    path = write_toml(CONTRACT)
    # the written-out entries in the steps (a view of their own in derive and latex, whose default
    # is the vector, index and batch forms); codegen writes the batch form, which has none
    view = ["--view", "entries"] if command[0] in ("derive", "latex") else []
    code, out, err = run([*command, str(path), *view])
    assert code == 0 and err == ""
    expected = {"derive": "W₁ ₁", "verify": "W1_1", "latex": "W_{1 1}", "codegen": "S = c + X @ W.T"}
    assert expected[command[0]] in out


def test_a_matrix_lists_its_entries_row_by_row() -> None:
    assert components("W", (2, 3)) == ["W1_1", "W1_2", "W1_3", "W2_1", "W2_2", "W2_3"]
    assert components("x", (3,)) == ["x1", "x2", "x3"]


def _with(inputs: str, dimensions: str = "n = 3") -> str:
    return (
        f'inputs = [{inputs}]\ntargets = ["y"]\nparameters = ["w", "b"]\n[dimensions]\n{dimensions}\n'
        '[definitions]\nL = "(w*b - y)^2"\n'
    )


BAD = [
    ('"x[]"', "n = 3", "inputs: 'x[]' has an empty axis"),
    ('"x[n,]"', "n = 3", "inputs: 'x[n,]' has an empty axis"),
    ('"x[n,n,n]"', "n = 3", "inputs: 'x[n,n,n]' has 3 axes"),
    ('"x[0]"', "n = 3", "inputs: 'x[0]' has the size 0"),
    ('"x[100001]"', "n = 3", "inputs: 'x[100001]' has the size 100001"),
    ('"x[n"', "n = 3", "inputs: 'x[n' is not a declaration of a vector or matrix"),
    ('"x[n]]"', "n = 3", "inputs: 'x[n]]' is not a declaration"),
    ('"[n]"', "n = 3", "inputs: '[n]' is not a declaration"),
    ('"x[n][n]"', "n = 3", "inputs: 'x[n][n]' is not a declaration"),
    ('"x[-1]"', "n = 3", "inputs: 'x[-1]': axis '-1' is not a dimension's name or a size"),
    ('"x[n m]"', "n = 3", "inputs: 'x[n m]': axis 'n m' is not a dimension's name or a size"),
    ('"x[m]"', "n = 3", "inputs: dimension 'm' of 'x' is not in [dimensions]"),
    ('"x_[n]"', "n = 3", "inputs: name 'x_' has '__' or a trailing '_'"),
    ('"x[n]"', "n = 0", "dimensions.n: dimension 'n' is 0"),
    ('"x[n]"', "n = 1.5", "dimensions.n: dimension 'n' must be a whole number, not float"),
    ('"x[n]"', 'n = "3"', "dimensions.n: dimension 'n' must be a whole number, not str"),
    ('"x[n]"', "n = 10_000_000_000", "dimensions.n: dimension 'n' is 10000000000"),
    ('"x[n]"', "n = 3\nw = 2", "dimensions.w: 'w' is declared as a name too"),
]


@pytest.mark.parametrize(("inputs", "dimensions", "problem"), BAD)
def test_a_bad_declaration_or_size_is_one_line_and_exit_2(
    inputs: str, dimensions: str, problem: str, run: Runner, write_toml: WriteToml
) -> None:
    path = write_toml(_with(inputs, dimensions))
    code, out, err = run(["derive", str(path)])
    assert code == 2 and out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert problem in lines[0] and len(lines) == 1, lines
    for line in lines:
        assert re.match(rf"symcalc: error: {re.escape(str(path))}, line \d+, ", line), line


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="xWn0123456789[],_ -é\t", max_size=14))
def test_any_declaration_text_is_split_or_refused_with_the_projects_error(text: str) -> None:
    try:
        name, axes = split_declaration(text)
    except SymcalcError as err:
        assert "\n" not in err.problem
        return
    assert len(axes) <= 2 and ("[" in text) == bool(axes)
    assert all((isinstance(a, int) and 1 <= a <= 100_000) or isinstance(a, str) for a in axes)
    assert "[" not in name and (name or not axes)  # a bare name (even "") is check_name's to judge
