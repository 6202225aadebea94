"""The LaTeX, Markdown and HTML documents' vector and index results read back as SymPy's diff.

Each display block of `symcalc latex`, `symcalc markdown` and `symcalc html` is split into its rows;
a row whose left side is dL/dN for a result N of the vector form (or an entry of it, dL/dW_{ij}) has
every side after it read by symcalc's LaTeX reader (`symcalc.spec.latex`) and parsed by symcalc's own
parser, as a person's derivation would be, and each entry must equal SymPy's diff of the model
written out at its sizes (`tests.printed`): never a printer on the oracle's side.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc
from symcalc.render.html import render_html
from symcalc.render.json import derivation_dict
from symcalc.render.latex import render_latex
from symcalc.render.markdown import render_markdown
from symcalc.spec.latex import Reading, read_latex
from symcalc.spec.latex_cursor import Derivative
from symcalc.spec.shapes import component
from symcalc.symbolic.parse import parse_shaped
from tests.printed import Point, close, oracle_entries, read_back, written_out
from tests.render.test_printed_forms import (
    ACTIVATIONS,
    LOSSES,
    MATRICES,
    OUTPUTS,
    RESIDUAL,
    SHIPPED,
    TRANSPOSES,
    at_a_point,
    transposed_model,
)


def _html(derivation: symcalc.Derivation) -> str:
    return html.unescape(render_html(derivation))


RENDERERS: dict[str, Callable[[symcalc.Derivation], str]] = {
    "latex": render_latex,
    "markdown": render_markdown,
    "html": _html,
}
_BLOCK = re.compile(r"\\begin\{(align\*|aligned)\}(.*?)\\end\{\1\}", re.S)


def rows(document: str) -> list[str]:
    """Every row of every display block."""
    return [
        row.strip() for block in _BLOCK.finditer(document) for row in re.split(r"\\\\\s*\n", block.group(2))
    ]


def reader_names(model: symcalc.Model) -> dict[str, int]:
    assert model.shaped is not None
    names = dict.fromkeys(model.symbols, 0) | dict.fromkeys(dict(model.shaped.sizes), 0)
    return names | {symbol.name: len(shape) for symbol, shape in model.shaped.shapes}


class Document:
    """One document of one derivation, read back at a point against the oracle."""

    def __init__(self, derivation: symcalc.Derivation, point: Point, oracle: dict[str, list[Any]]):
        model = derivation.model
        assert model.shaped is not None and derivation.vector is not None
        self.model, self.point, self.oracle = model, point, oracle
        self.loss = derivation.vector.results[0].loss.name
        self.names = reader_names(model)
        self.sizes = dict(model.shaped.sizes)
        self.arrays = {s.name: a for s, a in written_out(model.shaped).items()}
        #: An entry's written-out name → (its vector's name, its place in the oracle's list).
        self.entries = {
            component(name, tuple(k + 1 for k in position)): (name, flat)
            for name, array in self.arrays.items()
            for flat, position in enumerate(sorted(_positions(array.shape)))
        }

    def check(self, row: str) -> str | None:
        """The row's kind ("vector" or "index") when it is a result's row, checked; None otherwise."""
        try:
            sides = read_latex(row, self.names, {"i": 1, "j": 1}, sizes=self.sizes)
        except symcalc.SymcalcError:
            return None
        head = sides[0].derivatives
        if len(sides) < 2 or sides[0].text != (head[0].name if head else None) or head[0].of != self.loss:
            return None
        if head[0].second is not None:
            return self.second(head[0], sides[1:])
        if head[0].partial:
            return None  # a local step, ∂J/∂w = λw
        node = head[0].wrt
        if any(self.local(side) is None for side in sides[1:]):
            return None  # a step of the written-out model with local derivatives
        if node in self.oracle:
            for side in sides[1:]:
                self.vector(node, side)
            return "vector"
        if node in self.entries and self.entries[node][0] in self.oracle:
            return self.index(self.entries[node][0], row)
        return None

    def second(self, head: Derivative, sides: list[Reading]) -> str:
        """d²L/d(wrt)d(second) (--hessian): each side, entry by entry, is SymPy's diff of the written-out
        loss twice: a matrix for two vectors (row-major), a column for a vector and a scalar."""
        rows, columns = self.parameter(head.wrt), self.parameter(head.second or "")
        first = oracle_entries(self.model, self.model.symbols[self.loss], rows)
        expected = [self.point.at(sp.diff(d, c)) for d in first for c in columns]
        for side in sides:
            assert not side.derivatives, side.text
            got = read_back(self.model, side.text, self.point)
            if len(got) == 1 and len(expected) > 1:
                got = got * len(expected)  # λ + 0: a number where every entry is it
            assert len(got) == len(expected), (head.name, side.text, got, expected)
            assert all(close(g, e) for g, e in zip(got, expected, strict=True)), (head.name, side.text)
        return "second"

    def parameter(self, name: str) -> list[sp.Symbol]:
        """A name's written-out entries (row-major), or its scalar."""
        array = next((a for s, a in written_out(self.model.shaped).items() if s.name == name), None)
        return [self.model.symbols[name]] if array is None else list(array.flat)

    def local(self, side: Reading) -> str | None:
        """The side's text with each derivative as dL/dN (for `read_back`); None if one is not the loss's
        by a result."""
        text = side.text
        for d in side.derivatives:
            if d.of != self.loss or (d.wrt not in self.oracle and d.wrt not in self.entries):
                return None
            text = re.sub(rf"\b{d.name}\b", f"(d{d.of}/d{d.wrt})", text)
        return text

    def vector(self, node: str, side: Reading) -> None:
        text = self.local(side)
        assert text is not None
        got = read_back(self.model, text, self.point, self.oracle)
        expected = self.oracle[node]
        if len(got) == 1 and len(expected) > 1:
            got = got * len(expected)
        assert len(got) == len(expected) and all(close(g, e) for g, e in zip(got, expected, strict=True)), (
            node,
            side.text,
            got,
            expected,
        )

    def index(self, node: str, row: str) -> str:
        for position in sorted(_positions(self.arrays[node].shape)):
            at = dict(zip("ij", (k + 1 for k in position), strict=False))
            sides = read_latex(row, self.names, at, sizes=self.sizes)
            expected = self.oracle[node][self.entries[sides[0].derivatives[0].wrt][1]]
            for side in sides[1:]:
                assert close(self.scalar(side), expected), (row, at, side.text)
        return "index"

    def scalar(self, side: Reading) -> Any:
        assert self.model.shaped is not None
        symbols = dict(self.model.symbols)
        values = dict(self.point.values)
        for dim, size in self.model.shaped.numbers().items():  # sqrt(d), sum(s)/h: a size as a number
            assert isinstance(dim, sp.Symbol)
            symbols.setdefault(dim.name, dim)
            values[dim] = size
        for d in side.derivatives:
            vector, flat = self.entries.get(d.wrt, (d.wrt, 0))
            symbols[d.name] = sp.Symbol(d.name)
            values[symbols[d.name]] = self.oracle[vector][flat]
        expr, _ = parse_shaped(side.text, symbols, {})
        evaluated = Point.__new__(Point)
        evaluated.values = values
        return evaluated.at(expr)


def _positions(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    if len(shape) == 1:
        return [(k,) for k in range(shape[0])]
    return [(r, c) for r in range(shape[0]) for c in range(shape[1])]


def check_documents(derivation: symcalc.Derivation, index: bool = True) -> None:
    """Every vector (and, with `index`, index) result's row of each document reads back as the oracle; each
    result of the vector form is read in each document."""
    point, oracle = at_a_point(derivation)
    assert derivation.vector is not None
    results = {r.node.name for r in derivation.vector.results}
    for kind, render in RENDERERS.items():
        document = Document(derivation, point, oracle)
        read: dict[str, set[str]] = {"vector": set(), "index": set(), "second": set()}
        for row in rows(render(derivation)):
            found = document.check(row)
            if found is not None:
                read[found].add(row.split("&", 1)[0])
        assert len(read["vector"]) >= len(results), (kind, read["vector"], results)
        assert len(read["second"]) == len(derivation.vector_hessian), (kind, read["second"])
        if index:
            forms = [e["index_form"] for e in derivation_dict(derivation)["vector_form"] if e["index_form"]]
            assert len(read["index"]) >= len(forms), (kind, read["index"], forms)


#: Known gaps, each a strict xfail (none today: batch normalisation's documents read back since they print
#: a vector of ones with its size, \mathbf{1}_{m}, bracket a product after \odot, mark a matrix's power
#: \odot 2 and join an entry-by-entry quotient's numerator by \odot).
KNOWN_GAPS: dict[str, str] = {}


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[n])) if n in KNOWN_GAPS else n
        for n in SHIPPED
    ],
)
def test_every_document_of_a_shipped_model_reads_back_as_sympys_diff(name: str) -> None:
    check_documents(symcalc.derive(symcalc.load(f"derivations/{name}.toml")))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["logistic_regression_vector", "ridge_regression_vector"])
def test_every_documents_second_derivative_of_a_shipped_model_reads_back_as_sympys_diff_twice(
    name: str,
) -> None:
    """With --hessian, each d²L/dθdθ' row of the vector form (a(1 − a) x xᵀ, λI + x xᵀ) is read by the
    LaTeX reader and equals SymPy's diff of the written-out loss twice; a vector's was refused."""
    derivation = symcalc.derive(symcalc.load(f"derivations/{name}.toml"), hessian=True)
    assert derivation.vector_hessian
    check_documents(derivation)


#: dL/dW = AᵀA((1 − g²) ⊙ Aᵀ(v(z − y)))xᵀ: a ⊙ inside a matrix product.
NESTED = transposed_model("transpose(transpose(A @ W) @ A)", "tanh({})", "v @ (A @ g) + b", "(z - y)^2 / 2")
#: dL/dv = dL/dz (A g): the file's g @ transpose(A), a row, was printed g A^T, a column times a matrix.
ROW = transposed_model("W", "sigmoid({})", "g @ transpose(A) @ v + b", "log(cosh(z - y))")


@pytest.mark.slow
@pytest.mark.parametrize(
    "text", [TRANSPOSES, RESIDUAL, NESTED, ROW], ids=["transposes", "residual", "nested", "row"]
)
def test_documents_of_nested_transposes_and_a_residual_block_read_back(text: str, tmp_path: Any) -> None:
    path = tmp_path / "model.toml"
    path.write_text(text, encoding="utf-8")
    check_documents(symcalc.derive(symcalc.load(str(path))))


@pytest.mark.slow
@settings(
    max_examples=4,
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
def test_documents_of_models_with_transposes_nested_two_deep_read_back(
    matrix: str, activation: str, output: str, loss: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("models") / "random.toml"
    path.write_text(transposed_model(matrix, activation, output, loss), encoding="utf-8")
    check_documents(symcalc.derive(symcalc.load(str(path))))
