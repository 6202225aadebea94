"""Every printed vector and index result reads back as what it says, for every shipped model.

`--json`'s vector form (each result, and its chain form with the adjoints it names) is parsed
by symcalc's own parser, as a claim would be, and its index form by SymPy's, and each entry
must equal SymPy's diff of the model written out at its sizes (`tests.printed`). The
terminal's drawing is read back by a reader written here (`tests.terminal`), which never calls
symcalc's printers, and must equal the same oracle.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc
from symcalc.render.json import derivation_dict
from symcalc.render.pretty import pretty
from symcalc.symbolic.arrays import ones
from symcalc.symbolic.expand import flat
from symcalc.symbolic.functions import FUNCTIONS
from tests.conftest import DERIVATIONS
from tests.printed import Point, close, oracle_entries, read_back, written_out
from tests.terminal import ONES, agrees, evaluate, python_text

SHIPPED = sorted(
    path.stem for path in DERIVATIONS.glob("*.toml") if "[dimensions]" in path.read_text(encoding="utf-8")
)


def at_a_point(derivation: symcalc.Derivation, seed: int = 0) -> tuple[Point, dict[str, list[Any]]]:
    point = Point(derivation.model, seed)
    return point, oracle_of(derivation, point)


def oracle_of(derivation: symcalc.Derivation, point: Point) -> dict[str, list[Any]]:
    """Each vector result's node → the oracle's value of d(loss)/d(each entry) at `point`."""
    model, vector = derivation.model, derivation.vector
    assert model.shaped is not None and vector is not None
    arrays = written_out(model.shaped)
    found = {}
    for result in vector.results:
        targets = flat(arrays.get(result.node, result.node), 1)
        found[result.node.name] = [point.at(e) for e in oracle_entries(model, result.loss, targets)]
    return found


def index_entries(model: symcalc.Model, text: str, point: Point, shape: tuple[int, ...]) -> list[Any]:
    """An index form "dL/dW[i, j] = ..." read by SymPy (our own output, never a user's text), entry by
    entry: each name x is x[i] with the written-out entries' values, 1-based as the CSV names them."""
    assert model.shaped is not None
    _, value = text.split(" = ", 1)
    sizes = dict(model.shaped.sizes)
    arrays = written_out(model.shaped)
    locals_: dict[str, Any] = {name: sp.Integer(size) for name, size in sizes.items()}
    for symbol in arrays:
        locals_[symbol.name] = sp.IndexedBase(symbol.name)
    for name, symbol in model.symbols.items():
        locals_.setdefault(name, symbol)
    i, j = sp.symbols("i j", integer=True)
    locals_ |= {"i": i, "j": j, "Sum": sp.Sum}
    locals_ |= {name: spec.build for name, spec in FUNCTIONS.items() if name not in locals_}  # σ as sigmoid
    parsed = sp.parse_expr(value, local_dict=locals_, evaluate=False)
    entries = []
    for position in _positions(shape):
        at = parsed.subs(dict(zip((i, j), (p + 1 for p in position), strict=False))).doit()

        def entry(indexed: sp.Indexed) -> sp.Expr:
            array = arrays[next(s for s in arrays if s.name == str(indexed.base))]
            return array[tuple(int(k) - 1 for k in indexed.indices)]

        at = at.replace(lambda e: isinstance(e, sp.Indexed), entry)
        entries.append(point.at(at))
    return entries


def _positions(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    if len(shape) == 1:
        return [(k,) for k in range(shape[0])]
    return [(r, c) for r in range(shape[0]) for c in range(shape[1])]


def check_json(
    derivation: symcalc.Derivation, point: Point, oracle: dict[str, list[Any]], index: bool = True
) -> None:
    """Each `--json` vector result, chain form and (with `index`) index form equals the oracle, entry by
    entry."""
    model = derivation.model
    assert model.shaped is not None
    arrays = written_out(model.shaped)
    for entry in derivation_dict(derivation)["vector_form"]:
        node = entry["name"].split("/d", 1)[1]
        expected = oracle[node]
        for field in ("result", "chain"):
            got = read_back(model, entry[field], point, oracle)
            if len(got) == 1 and len(expected) > 1:
                got = got * len(expected)  # a scalar stands for every entry
            assert len(got) == len(expected), (entry["name"], field, entry[field])
            wrong = [k for k, (g, e) in enumerate(zip(got, expected, strict=True)) if not close(g, e)]
            assert not wrong, (entry["name"], field, entry[field], wrong)
        if index and entry["index_form"] is not None:
            shape = next(a.shape for s, a in arrays.items() if s.name == node)
            got = index_entries(model, entry["index_form"], point, shape)
            assert all(close(g, e) for g, e in zip(got, expected, strict=True)), entry["index_form"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_every_json_vector_and_index_result_of_a_shipped_model_reads_back_as_sympys_diff(name: str) -> None:
    derivation = symcalc.derive(symcalc.load(str(DERIVATIONS / f"{name}.toml")))
    check_json(derivation, *at_a_point(derivation))


TRANSPOSES = """
title = "transposes nested"
inputs = ["p[m]", "C[m,h]"]
targets = []
parameters = ["W[k,h]"]
[dimensions]
k = 2
h = 3
m = 2
[definitions]
V = "C @ transpose(W)"
o = "transpose(V) @ p"
L = "sum(o^2)/2"
"""

RESIDUAL = """
title = "a residual block"
inputs = ["x[n]"]
targets = ["y[n]"]
parameters = ["W1[h,n]", "W2[n,h]"]
[dimensions]
n = 2
h = 3
[definitions]
t = "tanh(W1 @ x)"
o = "x + W2 @ t"
L = "sum((o - y)^2)/2"
"""


@pytest.mark.slow
@pytest.mark.parametrize("text", [TRANSPOSES, RESIDUAL], ids=["transposes", "residual"])
def test_json_of_nested_transposes_and_a_residual_block_reads_back(text: str, tmp_path: Any) -> None:
    path = tmp_path / "model.toml"
    path.write_text(text, encoding="utf-8")
    derivation = symcalc.derive(symcalc.load(str(path)))
    check_json(derivation, *at_a_point(derivation))


def terminal_values(model: symcalc.Model, point: Point) -> dict[str, Any]:
    """Each name's value as the terminal reader takes it, under the name the terminal draws (λ, W₂):
    a vector as a column, a matrix as it is."""
    assert model.shaped is not None
    arrays = written_out(model.shaped)
    values: dict[str, Any] = {}
    for name, symbol in model.symbols.items():
        if symbol in point.values:
            values[name] = float(point.values[symbol])
    for symbol, array in arrays.items():
        entries = np.array([float(point.values[e]) for e in array.flat])
        values[symbol.name] = entries.reshape(array.shape if array.ndim == 2 else (-1, 1))
    drawn = {}
    for name, value in values.items():
        text = python_text(pretty(sp.Symbol(name)))
        if text is not None:
            drawn[text] = value
    return drawn


def check_terminal(derivation: symcalc.Derivation, point: Point, oracle: dict[str, list[Any]]) -> int:
    """Each vector result as the terminal draws it (unicode, and the ASCII console's spelling of the same
    drawing), read back by `tests.terminal`, equals the oracle; the number of one-line drawings read."""
    model, vector = derivation.model, derivation.vector
    assert model.shaped is not None and vector is not None
    values = terminal_values(model, point)
    arrays = written_out(model.shaped)
    read = 0
    sizes = dict(model.shaped.sizes)
    for result in vector.results:
        drawn = pretty(vector.marked(result.result))
        text = python_text(drawn)
        ones_sizes = {sizes[str(o.args[0])] for o in result.result.atoms(ones)}
        if text is None or len(ones_sizes) > 1:
            continue  # a fraction, or ones of two sizes (𝟙 alone does not say which)
        values[ONES] = np.ones((ones_sizes.pop(), 1)) if ones_sizes else None
        expected = [float(v) for v in oracle[result.node.name]]
        shape = arrays[result.node].shape if result.node in arrays else ()
        got = evaluate(text, values)
        assert agrees(got, expected, shape), (result.name, drawn, got, expected)
        read += 1
    return read


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_the_terminals_vector_results_of_a_shipped_model_read_back_as_sympys_diff(name: str) -> None:
    derivation = symcalc.derive(symcalc.load(str(DERIVATIONS / f"{name}.toml")))
    check_terminal(derivation, *at_a_point(derivation))


@pytest.mark.slow
def test_the_terminal_draws_a_transpose_of_a_product_as_what_it_is(tmp_path: Any) -> None:
    path = tmp_path / "model.toml"
    path.write_text(TRANSPOSES, encoding="utf-8")
    derivation = symcalc.derive(symcalc.load(str(path)))
    assert (
        check_terminal(derivation, *at_a_point(derivation)) == 3
    )  # dL/do = o, dL/dV = p⋅oᵀ, dL/dW = (o⋅pᵀ)⋅C


# -- random models with transposes nested two deep ---------------------------------------------

#: [h,n] matrices from W[h,n], M[n,h] and A[h,h], with transposes of products nested up to two deep.
MATRICES = (
    "W",
    "transpose(M)",
    "A @ W",
    "transpose(M @ transpose(A))",
    "transpose(transpose(W) @ transpose(A))",
    "transpose(M @ A) + W",
    "transpose(transpose(A @ W) @ A)",
)
ACTIVATIONS = ("tanh({})", "sigmoid({})", "({})^2")
OUTPUTS = ("v @ g + b", "sum(v * g) + b", "v @ (A @ g) + b", "g @ transpose(A) @ v + b")
LOSSES = ("(z - y)^2 / 2", "log(cosh(z - y))")


def transposed_model(matrix: str, activation: str, output: str, loss: str) -> str:
    return (
        'title = "random, with transposes"\ninputs = ["x[n]", "A[h,h]"]\ntargets = ["y"]\n'
        'parameters = ["W[h,n]", "M[n,h]", "c[h]", "v[h]", "b"]\n'
        "[dimensions]\nn = 2\nh = 2\n"
        f'[definitions]\nP = "{matrix}"\ns = "P @ x + c"\ng = "{activation.format("s")}"\n'
        f'z = "{output}"\nL = "{loss}"\n'
    )


@pytest.mark.slow
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    matrix=st.sampled_from(MATRICES),
    activation=st.sampled_from(ACTIVATIONS),
    output=st.sampled_from(OUTPUTS),
    loss=st.sampled_from(LOSSES),
)
def test_every_printed_vector_result_of_a_model_with_nested_transposes_reads_back(
    matrix: str, activation: str, output: str, loss: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("models") / "random.toml"
    path.write_text(transposed_model(matrix, activation, output, loss), encoding="utf-8")
    derivation = symcalc.derive(symcalc.load(str(path)))
    point, oracle = at_a_point(derivation)
    check_json(derivation, point, oracle, index=False)  # index forms: the shipped models' test
    check_terminal(derivation, point, oracle)
