"""Every printed batch-form line reads back as what it says, in every rendering, for every model.

The oracle never reads the derivation: m = 2 samples share the parameters, each sample's data is
drawn, and J = (1/m) Σ_k L_k of the model written out at its sizes is differentiated by SymPy
(each gradient), as is each sample's own loss (each adjoint, row k); the forward lines are the
definitions evaluated at each sample. Values are mpmath numbers at 40 digits.

The readings: `--json`'s batch form (the file's syntax over the batch's names), the terminal's
one-line drawing (what it prints where a line is too wide for 2-D, and the same as 2-D where it
fits on one line), and each row of the batch section of the LaTeX, Markdown and HTML documents,
read by symcalc's LaTeX reader. Each is evaluated by `tests.batch_reader`, which applies the
batch form's stated rules (a parameter's vector meets each row, a column of m values each
column, softmax each row) and refuses anything that only fits when sizes happen to agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc
from symcalc.render.json import derivation_dict
from symcalc.render.pretty import inline, pretty
from symcalc.spec.latex import ONES, read_latex
from symcalc.symbolic.batch import M
from symcalc.symbolic.expand import flat
from symcalc.symbolic.functions import to_elementary
from symcalc.symbolic.notation import Adjoint
from tests.batch_reader import Batch, adjoints_named, evaluate, terminal_text
from tests.conftest import DERIVATIONS
from tests.printed import DIGITS, TOLERANCE, Point, oracle_entries, written_out
from tests.render.test_printed_documents import RENDERERS, rows
from tests.render.test_printed_forms import ACTIVATIONS, LOSSES, MATRICES, OUTPUTS, SHIPPED, transposed_model

SAMPLES = 2


class Oracle:
    """m samples of a model with a batch form, and what each batch name and gradient is there."""

    def __init__(self, derivation: symcalc.Derivation, m: int = SAMPLES, seed: int = 0):
        model, batch = derivation.model, derivation.batch
        assert model.shaped is not None and batch is not None
        self.model, self.batch, self.m, self.derivation = model, batch, m, derivation
        self.arrays = written_out(model.shaped)
        data = set(model.inputs) | set(model.targets)
        base = Point(model, seed)
        self.points = []
        for k in range(m):
            drawn = Point(model, seed + 1 + k)
            point = Point.__new__(Point)
            point.model = model
            point.values = {s: (drawn if s in data else base).values[s] for s in model.independents}
            for symbol, definition in model.definitions:
                point.values[symbol] = point.at(definition)
            self.points.append(point)
        self.base = self.points[0]
        self.data = [s for s in model.independents if s in data]

    def named(self, name: str) -> sp.Symbol:
        """The model's own symbol of a per-sample name: its vector's, or its scalar's."""
        return next((s for s in self.arrays if s.name == name), None) or self.model.symbols[name]

    def entries(self, symbol: sp.Symbol) -> list[sp.Symbol]:
        return list(flat(self.arrays.get(symbol, symbol), 1))

    def per_sample(self, symbol: sp.Symbol, adjoint: bool) -> Batch:
        """A per-sample name (or, with `adjoint`, dL/d of it) over the batch: row k is sample k."""
        entries = self.entries(symbol)
        exprs = oracle_entries(self.model, self.model.loss, entries) if adjoint else entries
        rows = [[point.at(e) for e in exprs] for point in self.points]
        return Batch(np.array(rows, dtype=object), True, False)

    def parameter(self, symbol: sp.Symbol, values: Callable[[sp.Symbol], Any]) -> Any:
        array = self.arrays.get(symbol)
        if array is None:
            return values(symbol)
        entries = np.array([values(e) for e in array.flat], dtype=object)
        return Batch(entries.reshape(array.shape if array.ndim == 2 else (-1, 1)))

    def mean(self) -> tuple[sp.Expr, Point]:
        """J = (1/m) Σ_k L_k, the loss written out at each sample's data, and the point to evaluate it at."""
        composed = to_elementary(self.model.composed[self.model.loss])
        copies, values = [], dict(self.base.values)
        for k, point in enumerate(self.points):
            renamed = {d: sp.Symbol(f"{d.name}__sample{k}", real=True) for d in self.data}
            copies.append(composed.xreplace(renamed))
            values |= {renamed[d]: point.values[d] for d in self.data}
        at = Point.__new__(Point)
        at.values = values
        return sp.Add(*copies) / self.m, at

    def gradient(self, symbol: sp.Symbol) -> Any:
        """dJ/d(parameter) of the mean loss, by SymPy's diff."""
        mean, at = self.mean()
        return self.parameter(symbol, lambda entry: at.at(sp.diff(mean, entry)))

    def mean_loss(self) -> Any:
        with mpmath.workdps(DIGITS):
            return mpmath.fsum(point.values[self.model.loss] for point in self.points) / self.m

    def values(self) -> dict[sp.Symbol, Any]:
        """Each name the batch form's lines use → its value: the batch's names (adjoints included)
        from the oracle, the parameters and constants as they are, m."""
        shaped = self.model.shaped
        assert shaped is not None
        found: dict[sp.Symbol, Any] = {M: mpmath.mpf(self.m)}
        for dim, size in shaped.numbers().items():  # var = sum(d²)/h: a size used as a number
            assert isinstance(dim, sp.Symbol)
            found[dim] = mpmath.mpf(size)
        gradients = {Adjoint.of(self.model.loss, p) for p in shaped.parameters}
        for old, new in self.batch.names:
            if old in gradients:
                continue
            adjoint = isinstance(old, Adjoint)
            found[new] = self.per_sample(self.named(old.node.name) if adjoint else old, adjoint)
        for symbol in shaped.parameters:
            found[symbol] = self.parameter(symbol, lambda e: self.base.values[e])
        for symbol in self.model.symbols.values():
            if symbol in self.base.values and symbol not in set(self.model.inputs) | set(self.model.targets):
                found.setdefault(symbol, self.base.values[symbol])
        return found

    def expected(self) -> Iterator[tuple[str, sp.Symbol | None, Any]]:
        """Each line's label (as the renderings name it), its target and the oracle's value."""
        values = self.values()
        for line in (*self.batch.forward, *self.batch.backward):
            yield line.label, line.target, values[line.target]
        yield "objective", self.batch.objective_name, self.mean_loss()
        shaped = self.model.shaped
        assert shaped is not None
        by_name = {p.name: p for p in shaped.parameters}
        for line in self.batch.gradients:
            yield line.label, line.target, self.gradient(by_name[line.label.split("/d")[-1]])
        for line, second in zip(
            self.batch.hessian, self.derivation.vector_hessian if self.batch.hessian else (), strict=True
        ):
            yield (
                line.label,
                line.target,
                self.second(by_name[second.first.name], by_name[second.second.name]),
            )

    def second(self, first: sp.Symbol, second: sp.Symbol) -> Any:
        """d²J/d(first)d(second) of the mean loss, by SymPy's diff twice: a matrix for two vectors, a
        column for a vector and a scalar, a number for two scalars."""
        mean, at = self.mean()
        rows, columns = self.entries(first), self.entries(second)
        values = [[at.at(sp.diff(mean, r, c)) for c in columns] for r in rows]
        if len(rows) == len(columns) == 1 and first not in self.arrays and second not in self.arrays:
            return values[0][0]
        return Batch(np.array(values, dtype=object))


def same(got: Any, expected: Any, where: object) -> None:
    """`got` is `expected`: the same shape with the same sample axes, every entry to 1e-25."""
    if (
        isinstance(expected, Batch) and not isinstance(got, Batch) and not expected.rows | expected.columns
    ):  # 0: an unused weight
        pairs = [(got, e) for e in expected.array.flat]
    elif isinstance(expected, Batch):
        assert got.array.shape == expected.array.shape, (where, got.array.shape, expected.array.shape)
        assert (got.rows, got.columns) == (expected.rows, expected.columns), (where, got, expected)
        pairs = list(zip(got.array.flat, expected.array.flat, strict=True))
    else:
        assert not isinstance(got, Batch), (where, got)
        pairs = [(got, expected)]
    for g, e in pairs:
        assert abs(g - e) <= TOLERANCE * max(1, abs(e)), (where, g, e)


# -- --json -----------------------------------------------------------------------------------------


def check_json(derivation: symcalc.Derivation, oracle: Oracle) -> int:
    """Each `--json` batch line, gradient (and its expanded form) and the objective read back."""
    form = derivation_dict(derivation)["batch_form"]
    values = {symbol.name: value for symbol, value in oracle.values().items()}
    expected = {label: value for label, _, value in oracle.expected()}
    by_target = {line.target.name: line.label for line in (*oracle.batch.forward, *oracle.batch.backward)}
    texts = [(by_target[line["name"]], line["value"]) for line in form["lines"]]
    for line in form["gradients"]:
        texts += [(line["name"], line["value"])] + (
            [(line["name"], line["expanded"])] if line["expanded"] else []
        )
    texts.append(("objective", form["objective"].split(" = ", 1)[1]))
    texts += [(line["name"], line["value"]) for line in form.get("hessian", [])]
    for label, text in texts:
        same(read_file_syntax(text, values), expected[label], (label, text))
    return len(texts)


def read_file_syntax(text: str, values: dict[str, Any]) -> Any:
    written, adjoints = adjoints_named(text.replace("^", "**"))  # the file's power, Python's **
    names = dict(values)
    for placeholder, node in adjoints.items():
        names[placeholder] = next(v for k, v in values.items() if "/d" in k and k.split("/d", 1)[1] == node)
    return evaluate(written, names, star="entries")


# -- the terminal -----------------------------------------------------------------------------------


def check_terminal(derivation: symcalc.Derivation, oracle: Oracle) -> int:
    """Each line as the terminal writes it on one line (`inline`, which is the 2-D drawing itself
    where that is one line) reads back as the oracle."""
    batch = oracle.batch
    values: dict[str, Any] = {}
    adjoints: dict[str, Any] = {}
    for symbol, value in oracle.values().items():
        if isinstance(symbol, Adjoint):
            # read as the lines are (dL/dH₃ as dL/dH3): a step's name has its subscript
            adjoints[adjoints_named(terminal_text(inline(symbol)))[1].popitem()[1]] = value
        else:
            values[terminal_text(pretty(symbol))] = value
    expected = {label: value for label, _, value in oracle.expected()}
    texts = [(line.label, line.value) for line in (*batch.forward, *batch.backward)]
    for line in batch.gradients:
        texts += [(line.label, line.value)] + (
            [(line.label, line.expanded)] if line.expanded is not None else []
        )
    texts.append(("objective", batch.objective))
    texts += [(line.label, line.value) for line in batch.hessian]
    for label, expr in texts:
        drawn = inline(batch.marked(expr))
        written, placeholders = adjoints_named(terminal_text(drawn).replace("^", "**"))  # (eps + var)^(3/2)
        names = values | {p: adjoints[node] for p, node in placeholders.items()}
        same(evaluate(written, names, star="product"), expected[label], (label, drawn))
    return len(texts)


# -- LaTeX, Markdown and HTML -----------------------------------------------------------------------


def batch_rows(document: str) -> list[str]:
    """The rows of the batch section's display blocks (up to the next section)."""
    start = document.index("Batch form")
    following = [document.find(mark, start + 20) for mark in ("section*{", "\n## ", "<h2")]
    end = min([f for f in following if f > 0], default=len(document))
    return rows(document[start:end])


def check_documents(derivation: symcalc.Derivation, oracle: Oracle) -> int:
    """Each row of each document's batch section, read by symcalc's LaTeX reader, is the oracle."""
    batch = oracle.batch
    loss = derivation.model.loss.name
    shapes = dict(batch.shapes)
    names = {symbol.name: len(shape) for symbol, shape in shapes.items() if not isinstance(symbol, Adjoint)}
    names |= {name: 0 for name, symbol in derivation.model.symbols.items() if name not in names}
    names |= {loss: 0, batch.objective_name.name: 0, "m": 0, ONES: 1}
    assert oracle.model.shaped is not None
    names |= {name: 0 for name, _ in oracle.model.shaped.sizes if name not in names}  # sum(d²)/h
    values = {symbol.name: value for symbol, value in oracle.values().items()}
    expected = {label: value for label, _, value in oracle.expected()}
    targets = {line.target.name: line.label for line in (*batch.forward, *batch.backward)}
    targets |= {f"d{loss}/d{line.target.name}": line.label for line in batch.backward}
    read = 0
    for kind, render in RENDERERS.items():
        labels = set()
        for row in batch_rows(render(derivation)):
            sides = read_latex(row, names)
            head = sides[0]
            if head.derivatives and head.derivatives[0].second is not None:
                d = head.derivatives[0]
                assert d.of == batch.objective_name.name, (kind, row)
                label = f"d2{loss}/d{d.wrt}^2" if d.wrt == d.second else f"d2{loss}/d{d.wrt} d{d.second}"
            elif head.derivatives:
                d = head.derivatives[0]
                label = f"d{loss}/d{d.wrt}" if d.of == batch.objective_name.name else f"d{d.of}/d{d.wrt}"
                label = targets.get(label, label)
            else:
                label = "objective" if head.text == batch.objective_name.name else targets[head.text]
            for side in sides[1:]:
                stand_ins = {d.name: values[f"d{d.of}/d{d.wrt}"] for d in side.derivatives}
                got = evaluate(side.text, values | stand_ins, star="entries")
                same(got, expected[label], (kind, row, side.text))
                read += 1
            labels.add(label)
        assert labels == set(expected), (kind, set(expected) - labels)
    return read


def check_all(derivation: symcalc.Derivation) -> None:
    assert derivation.batch is not None, derivation.batch_problem
    oracle = Oracle(derivation)
    lines = len(derivation.batch.forward) + len(derivation.batch.backward) + len(derivation.batch.gradients)
    assert check_json(derivation, oracle) > lines
    assert check_terminal(derivation, oracle) > lines
    assert check_documents(derivation, oracle) > 3 * lines


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_every_batch_line_of_a_shipped_model_reads_back_in_every_rendering(name: str) -> None:
    derivation = symcalc.derive(symcalc.load(str(DERIVATIONS / f"{name}.toml")))
    if derivation.batch is None:  # attention, skip-gram: a matrix computed per sample, no batch form
        assert derivation.batch_problem, name  # ... and it says why
        return
    check_all(derivation)


@pytest.mark.slow
@settings(
    max_examples=12,
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
def test_every_batch_line_of_a_model_with_nested_transposes_reads_back(
    matrix: str, activation: str, output: str, loss: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("models") / "random.toml"
    path.write_text(batch_model(matrix, activation, output, loss), encoding="utf-8")
    check_all(symcalc.derive(symcalc.load(str(path))))


def batch_model(matrix: str, activation: str, output: str, loss: str) -> str:
    """`transposed_model` with A a parameter (a sample carrying a matrix has no batch form) and the
    matrix written into s = (matrix) @ x + c, so that its transposes are on each sample's path."""
    text = transposed_model(matrix, activation, output, loss)
    text = text.replace('inputs = ["x[n]", "A[h,h]"]', 'inputs = ["x[n]"]')
    text = text.replace('parameters = ["W[h,n]",', 'parameters = ["A[h,h]", "W[h,n]",')
    return text.replace(f'P = "{matrix}"\ns = "P @ x + c"', f's = "({matrix}) @ x + c"')


@pytest.mark.slow
@pytest.mark.parametrize("matrix", ["transpose(transpose(A @ W) @ A)", "transpose(M @ A) + W"])
def test_a_weight_reached_through_a_product_of_parameters_has_a_batch_form_that_reads_back(
    matrix: str, tmp_path: Any
) -> None:
    """dL/dW = Aᵀ A (dL/dS)ᵀ X summed over samples: the factor the same in every sample comes out of
    the sum. Such a model had no batch form ("outer() of a vector computed per sample")."""
    path = tmp_path / "model.toml"
    path.write_text(
        batch_model(matrix, "tanh({})", "g @ transpose(A) @ v + b", "log(cosh(z - y))"), encoding="utf-8"
    )
    check_all(symcalc.derive(symcalc.load(str(path))))


@pytest.mark.slow
def test_a_scaled_entrywise_product_inside_a_matrix_product_is_bracketed_on_one_line(tmp_path: Any) -> None:
    """dJ/dM = Xᵀ(2 (z − y)vᵀ ⊙ S)/m was written on one line as transpose(X) @ 2⋅outer(z - y, v) ⊙ S,
    which reads as ((Xᵀ @ 2)⋅(z − y)vᵀ) ⊙ S: a matrix of m rows where an n × h one was meant."""
    path = tmp_path / "model.toml"
    path.write_text(batch_model("transpose(M)", "({})^2", "v @ g + b", "(z - y)^2 / 2"), encoding="utf-8")
    derivation = symcalc.derive(symcalc.load(str(path)))
    assert check_terminal(derivation, Oracle(derivation)) > 10


SECOND_ORDER = ["logistic_regression_vector", "ridge_regression_vector"]  # the others have matrices


@pytest.mark.slow
@pytest.mark.parametrize("name", SECOND_ORDER)
def test_every_batch_second_derivative_reads_back_from_json_and_the_terminal(name: str) -> None:
    """With --hessian, each d²J/dθᵢdθⱼ of the batch form (Xᵀ diag(a ⊙ (1 − a)) X/m) is SymPy's diff of
    the mean loss twice, in --json, the terminal and each document's rows (d²J/dw², a matrix, read by
    symcalc's LaTeX reader)."""
    derivation = symcalc.derive(symcalc.load(str(DERIVATIONS / f"{name}.toml")), hessian=True)
    assert derivation.batch is not None and derivation.batch.hessian
    oracle = Oracle(derivation)
    lines = len(derivation.batch.gradients) + len(derivation.batch.hessian)
    assert check_json(derivation, oracle) > lines and check_terminal(derivation, oracle) > lines
    assert check_documents(derivation, oracle) > 3 * lines
