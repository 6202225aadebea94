"""Models with vectors and matrices (`x[n]`, `W[h,n]`, `@`), written out as scalars at given sizes.

The oracle never goes through symcalc: each shipped vector model's forward pass is
written here by hand in NumPy, and its gradient is central finite differences of that.
symcalc's written-out loss (evaluated by SymPy at 30 digits) must equal the hand-written
one, and its derived gradients the differences, at the file's sizes and at others.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.render.latex import render_latex
from symcalc.render.markdown import render_markdown
from symcalc.render.pdf import compile_pdf
from symcalc.render.views import EVERYTHING
from symcalc.spec.shapes import components
from symcalc.symbolic.arrays import matmul, transpose
from symcalc.symbolic.batch import M
from symcalc.symbolic.expand import concrete
from symcalc.symbolic.notation import Adjoint
from symcalc.symbolic.parse import parse_shaped
from tests.conftest import Runner, WriteToml
from tests.generated import generated_module
from tests.pdf import needs_pdflatex, pdf_text

Arrays = dict[str, np.ndarray]
DERIVATIONS = Path(__file__).parent.parent.parent / "derivations"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _cross_entropy(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -(y * np.log(a) + (1 - y) * np.log(1 - a))


def _logistic(p: Arrays) -> np.ndarray:
    return _cross_entropy(_sigmoid(p["w"] @ p["x"] + p["b"]), p["y"])


def _ridge(p: Arrays) -> np.ndarray:
    z = p["w"] @ p["x"] + p["b"]
    return (z - p["y"]) ** 2 / 2 + 0.1 / 2 * (p["w"] @ p["w"])


def _softmax(p: Arrays) -> np.ndarray:
    z = p["W"] @ p["x"] + p["c"]
    probabilities = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    return -(p["y"] * np.log(probabilities)).sum()


def _network(p: Arrays) -> np.ndarray:
    g = np.tanh(p["W"] @ p["x"] + p["c"])
    return _cross_entropy(_sigmoid(p["v"] @ g + p["b"]), p["y"])


#: model file → (the hand-written loss, each name's shape in terms of the sizes, sizes to try).
MODELS: dict[str, tuple[Callable[[Arrays], np.ndarray], dict[str, tuple[str, ...]], list[dict[str, int]]]] = {
    "logistic_regression_vector": (
        _logistic,
        {"x": ("n",), "y": (), "w": ("n",), "b": ()},
        [{"n": 2}, {"n": 5}],
    ),
    "ridge_regression_vector": (_ridge, {"x": ("n",), "y": (), "w": ("n",), "b": ()}, [{"n": 2}, {"n": 4}]),
    "softmax_regression_vector": (
        _softmax,
        {"x": ("n",), "y": ("k",), "W": ("k", "n"), "c": ("k",)},
        [{"n": 2, "k": 3}, {"n": 3, "k": 2}],
    ),
    "two_layer_network_vector": (
        _network,
        {"x": ("n",), "y": (), "W": ("h", "n"), "c": ("h",), "v": ("h",), "b": ()},
        [{"n": 2, "h": 3}, {"n": 3, "h": 2}],
    ),
}


def _point(shapes: Mapping[str, tuple[str, ...]], sizes: Mapping[str, int], seed: int) -> Arrays:
    rng = np.random.default_rng(seed)
    point = {name: rng.normal(size=tuple(sizes[a] for a in shape)) for name, shape in shapes.items()}
    if "k" in sizes:  # soft targets that sum to 1, as the file assumes
        point["y"] = rng.dirichlet(np.ones(sizes["k"]))
    else:
        point["y"] = np.array(rng.uniform(0.05, 0.95))
    return point


def _scalars(point: Arrays) -> dict[str, float]:
    """The point as the written-out model names it: x1 … xn, W1_1 … Wh_n."""
    values: dict[str, float] = {}
    for name, array in point.items():
        names = components(name, array.shape) if array.ndim else [name]
        values.update(zip(names, map(float, array.flat), strict=True))
    return values


def _evaluate(expr: sp.Expr, model: symcalc.Model, values: Mapping[str, float]) -> float:
    symbols = model.symbols
    point = {symbols[name]: sp.Float(v, 30) for name, v in values.items()}
    point.update({name: sp.Float(v, 30) for name, v in model.constants})
    return float(expr.evalf(30, subs=point))


CASES = [(name, sizes) for name, (_, _, tried) in MODELS.items() for sizes in tried]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "sizes"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_the_written_out_loss_is_the_hand_written_one(name: str, sizes: dict[str, int]) -> None:
    forward, shapes, _ = MODELS[name]
    model = symcalc.Model.load(DERIVATIONS / f"{name}.toml", sizes)
    for seed in range(3):
        point = _point(shapes, sizes, seed)
        written_out = _evaluate(model.composed[model.loss], model, _scalars(point))
        assert written_out == pytest.approx(float(forward(point)), rel=1e-12, abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "sizes"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_every_gradient_entry_is_the_finite_difference_of_the_hand_written_loss(
    name: str, sizes: dict[str, int]
) -> None:
    forward, shapes, _ = MODELS[name]
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / f"{name}.toml", sizes))
    model = derivation.model
    point = _point(shapes, sizes, seed=7)
    values = _scalars(point)
    gradients = derivation.expanded_gradients()
    checked = 0
    for parameter in ("w", "b", "W", "c", "v"):
        if parameter not in point:
            continue
        for index in np.ndindex(point[parameter].shape):
            shape = point[parameter].shape
            entry = (
                components(parameter, shape)[int(np.ravel_multi_index(index, shape))] if index else parameter
            )
            step = 1e-6
            up, down = {k: v.copy() for k, v in point.items()}, {k: v.copy() for k, v in point.items()}
            up[parameter][index] += step
            down[parameter][index] -= step
            difference = (float(forward(up)) - float(forward(down))) / (2 * step)
            derived = _evaluate(gradients[model.symbols[entry]], model, values)
            assert derived == pytest.approx(difference, rel=1e-6, abs=1e-8), entry
            checked += 1
    assert checked == len(model.parameters)


def test_a_vector_file_names_its_sizes_and_its_entries_as_the_csv_does() -> None:
    model = symcalc.Model.load(DERIVATIONS / "two_layer_network_vector.toml")
    assert model.title == "A two-layer network with h tanh units (at n = 2, h = 3)"
    assert [s.name for s in model.inputs] == ["x1", "x2"]
    assert [s.name for s in model.parameters][:7] == ["W1_1", "W1_2", "W2_1", "W2_2", "W3_1", "W3_2", "c1"]
    assert model.shaped is not None and model.shaped.sizes == (("n", 2), ("h", 3))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_claim_of_the_shipped_vector_models_holds_entry_by_entry(name: str) -> None:
    model = symcalc.Model.load(DERIVATIONS / f"{name}.toml")
    results = symcalc.verify(symcalc.derive(model))
    claims = [c for c in results if c.name.startswith("claim ")]
    assert claims and all(c.holds for c in results)
    assert len(claims) > len(model.spec.claims if model.spec else ())  # one per entry


def test_a_wrong_vector_claim_fails_with_a_counterexample_naming_its_entry(
    run: Runner, write_toml: WriteToml
) -> None:
    text = (DERIVATIONS / "logistic_regression_vector.toml").read_text()
    path = write_toml(text.replace('"dL/dw" = "(a - y)*x"', '"dL/dw" = "(a - y)*x^2"'))
    code, out, _ = run(["verify", str(path)])
    assert code == 1
    assert "✗ claim dL/dw1: dL/dw1 = x1**2*(a - y)" in out
    assert "✗ claim dL/dw2: dL/dw2 = x2**2*(a - y)" in out


VECTOR_FILE = """
title = "t"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["w[n]", "W[h,n]", "b"]
[dimensions]
n = 2
h = 3
[definitions]
{definitions}
"""

SHAPE_ERRORS = [
    ('z = "w + W"\nL = "b"', "definitions.z: '+' between [n] and [h,n]"),
    (
        'z = "W * x"\nL = "b"',
        "'*' between [h,n] and [n]: elementwise operations need equal shapes",
    ),
    ('z = "x @ W"\nL = "b"', "definitions.z: '@' needs the inner sizes to agree; here [n] @ [h,n]"),
    (
        'z = "b @ x"\nL = "b"',
        "'@' is the matrix product of vectors and matrices; here a scalar @ [n]",
    ),
    ('z = "transpose(w)"\nL = "b"', "definitions.z: transpose() takes a matrix"),
    ('z = "softmax(W)"\nL = "b"', "definitions.z: softmax() takes a vector, not [h,n]"),
    ('z = "sum(b)"\nL = "b"', "definitions.z: sum() takes a vector or a matrix, not a scalar"),
    ('z = "outer(w)"\nL = "b"', "definitions.z: outer() takes 2 argument(s), got 1"),
    ('L = "w*x"', "definitions.L: the loss 'L' is [n]; a loss is a scalar"),
    ('z = "sigmoid(w) + tanh(W @ x)"\nL = "b"', "definitions.z: '+' between [n] and [h]"),
]


@pytest.mark.parametrize(("definitions", "message"), SHAPE_ERRORS)
def test_a_shape_mismatch_is_one_line_naming_the_definition_and_both_shapes(
    definitions: str, message: str, run: Runner, write_toml: WriteToml
) -> None:
    path = write_toml(VECTOR_FILE.format(definitions=definitions))
    code, out, err = run(["derive", str(path)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_a_claim_of_the_wrong_shape_is_refused_naming_both_shapes(run: Runner, write_toml: WriteToml) -> None:
    text = (DERIVATIONS / "two_layer_network_vector.toml").read_text()
    path = write_toml(text.replace('"dL/dv" = "(a - y)*g"', '"dL/dv" = "(a - y)*x"'))
    code, _, err = run(["verify", str(path)])
    assert code == 2 and err.count("\n") == 1
    assert "claims.dL/dv: dL/dv has the shape [h]; the right-hand side is [n]" in err


def test_entries_that_clash_with_a_declared_name_are_refused(run: Runner, write_toml: WriteToml) -> None:
    path = write_toml(VECTOR_FILE.format(definitions='L = "b"').replace('"b"]', '"b", "w1"]', 1))
    code, _, err = run(["derive", str(path)])
    assert code == 2 and err.count("\n") == 1
    assert "the entries of w[n] are named w1 … w2, and 'w1' is declared too" in err


def test_sizes_too_large_to_write_out_even_cut_down_are_refused_in_one_line(
    run: Runner, write_toml: WriteToml
) -> None:
    """A dimension is cut to 3 to write a model out; a literal size (W[1000,n]) is not a dimension."""
    path = write_toml(VECTOR_FILE.format(definitions='L = "b"').replace('"W[h,n]"', '"W[1000,n]"'))
    code, _, err = run(["derive", str(path)])
    assert code == 2 and err.count("\n") == 1
    assert "written out at n = 2, h = 3, the declared vectors and matrices have 2004 entries" in err


def test_sizes_written_as_numbers_only_are_refused_without_an_empty_list_of_sizes(
    run: Runner, write_toml: WriteToml
) -> None:
    """No dimension at all (W[100000,100000]): nothing is written out "at" anything, and the fix
    says how a named dimension would be cut."""
    text = 'inputs = ["x[100000]"]\ntargets = ["y"]\nparameters = ["W[100000,100000]"]\n[definitions]\n'
    path = write_toml(text + 'L = "sum(W @ x) - y"\n')
    code, out, err = run(["derive", str(path)])
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: {path}, dimensions: the declared vectors and matrices have 10000100000 entries; "
        "the limit is 2000 (a size written as a number is never cut: name it in [dimensions], as x[n] "
        "with n = 5000, and derive, verify and codegen write the model out small)\n"
    )


def _csv(path: Path, columns: list[str], rows: np.ndarray) -> Path:
    path.write_text(
        ",".join(columns) + "\n" + "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows) + "\n"
    )
    return path


def test_the_data_decide_a_vectors_size_for_the_run(run: Runner, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 5))
    labels = (features @ np.array([1.0, -2.0, 0.5, 0.0, 1.0]) > 0).astype(float)
    data = _csv(tmp_path / "five.csv", [f"x{i}" for i in range(1, 6)] + ["y"], np.c_[features, labels])
    model = str(DERIVATIONS / "logistic_regression_vector.toml")
    code, out, err = run(["train", model, "--data", str(data), "--epochs", "5", "--json"])
    assert code == 0, err
    weights = json.loads(out)["parameters"]["w"]
    assert len(weights) == 5 and all(isinstance(w, float) for w in weights)


def test_json_gives_vector_and_matrix_parameters_as_nested_lists_of_their_shapes(run: Runner) -> None:
    code, out, err = run(["train", "two_layer_network_vector", "--epochs", "20", "--json"])
    assert code == 0, err
    parameters = json.loads(out)["parameters"]
    assert list(parameters) == ["W", "c", "v", "b"]
    assert np.array(parameters["W"]).shape == (3, 2)
    assert np.array(parameters["c"]).shape == (3,) and np.array(parameters["v"]).shape == (3,)
    assert isinstance(parameters["b"], float)


def test_two_names_that_the_data_give_different_sizes_are_an_error_naming_both(
    run: Runner, write_toml: WriteToml, tmp_path: Path
) -> None:
    path = write_toml(
        'title = "t"\ninputs = ["x[n]", "u[n]"]\ntargets = ["y"]\nparameters = ["w[n]"]\n'
        '[dimensions]\nn = 2\n[definitions]\nL = "(w @ x + w @ u - y)^2"\n'
    )
    columns = ["x1", "x2", "x3", "u1", "u2", "y"]
    data = _csv(tmp_path / "d.csv", columns, np.ones((4, len(columns))))
    code, _, err = run(["train", str(path), "--data", str(data)])
    assert code == 2 and err.count("\n") == 1
    assert "the columns make n = 3 for x but n = 2 for u" in err


# -- the vector form: derived once for any sizes, checked entry by entry ----------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("name", "sizes"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_every_vector_form_result_equals_sympys_diff_of_the_written_out_model_entry_by_entry(
    name: str, sizes: dict[str, int]
) -> None:
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / f"{name}.toml", sizes))
    assert derivation.vector is not None
    results = (*derivation.vector.adjoints, *derivation.vector.gradients)
    checks = [c for c in symcalc.verify(derivation) if c.kind == "vector"]
    assert len(checks) == len(results) and len(results) >= 3
    assert all(c.holds for c in checks), [c.name for c in checks if not c.holds]


def test_the_vector_form_is_the_same_whatever_the_sizes() -> None:
    path = DERIVATIONS / "logistic_regression_vector.toml"
    forms = [symcalc.derive(symcalc.Model.load(path, {"n": n})).vector for n in (2, 30)]
    assert forms[0] is not None and forms[0] == forms[1]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_vector_form_is_what_the_files_claims_say_a_lecture_writes(name: str) -> None:
    """Each claim about a whole vector or matrix is, as algebra entry by entry, the derived result."""
    model = symcalc.Model.load(DERIVATIONS / f"{name}.toml")
    derivation = symcalc.derive(model)
    assert derivation.vector is not None and model.spec is not None and model.shaped is not None
    results = {r.name: r.result for r in (*derivation.vector.adjoints, *derivation.vector.gradients)}
    names = {s.name: s for s, _ in model.shaped.shapes} | model.symbols
    shapes = {s.name: shape for s, shape in model.shaped.shapes}
    compared = 0
    for lhs, rhs in model.spec.claims:
        if lhs in results:
            claimed, _ = parse_shaped(rhs, names, shapes)
            assert sp.expand(results[lhs] - claimed) == 0, (lhs, results[lhs], claimed)
            compared += 1
    assert compared >= 2


@pytest.mark.slow
def test_a_wrong_vector_form_result_fails_verification_naming_an_entry() -> None:
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / "softmax_regression_vector.toml"))
    assert derivation.vector is not None
    wrong = [
        dataclasses.replace(r, result=r.result.xreplace({sp.Symbol("y", real=True): 0}))
        if r.name == "dL/dW"
        else r
        for r in derivation.vector.gradients
    ]
    broken = dataclasses.replace(
        derivation, vector=dataclasses.replace(derivation.vector, gradients=tuple(wrong))
    )
    failed = [c for c in symcalc.verify(broken) if not c.holds]
    assert len(failed) == 1 and failed[0].name.startswith("vector form dL/dW (entry W")
    assert failed[0].counterexample is not None


def test_derive_json_gives_the_sizes_and_the_vector_form(run: Runner) -> None:
    code, out, err = run(["derive", "two_layer_network_vector", "--json"])
    assert code == 0, err
    document = json.loads(out)
    assert document["sizes"] == {"n": 2, "h": 3}
    by_name = {entry["name"]: entry for entry in document["vector_form"]}
    assert by_name["dL/dW"]["shape"] == ["h", "n"] and by_name["dL/dW"]["chain"] == "outer(dL/ds, x)"


@needs_pdflatex
def test_the_pdf_shows_the_model_as_written_and_its_vector_form_before_the_steps() -> None:
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / "two_layer_network_vector.toml"))
    source = render_latex(derivation, views=EVERYTHING)
    assert r"z &= b + v^{\top} g" in source and r"s &= c + W x" in source
    assert r"\frac{\mathrm{d} L}{\mathrm{d} W} &= \frac{\mathrm{d} L}{\mathrm{d} s} x^{\top}" in source
    assert r"\odot" in source
    text = pdf_text(compile_pdf(source))
    assert text.index("Vector form") < text.index("Step 1 of")


def test_markdown_shows_the_vector_form_and_the_assumption_it_used() -> None:
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / "softmax_regression_vector.toml"))
    document = render_markdown(derivation, views=EVERYTHING)
    section = document[document.index("## Vector form") : document.index("## Step 1 of")]
    for name in ("p", "z", "W", "c"):
        assert rf"\frac{{\mathrm{{d}} L}}{{\mathrm{{d}} {name}}} &=" in section
    assert r"\text{using } \operatorname{sum}\left(y\right) - 1 = 0" in section


# -- the batch form: J = (1/m) Σ L over m samples ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_batch_gradient_is_proved_to_be_the_mean_of_the_written_out_gradients(name: str) -> None:
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / f"{name}.toml"))
    assert derivation.batch is not None and derivation.model.shaped is not None
    checks = [c for c in symcalc.verify(derivation) if c.kind == "batch"]
    assert len(checks) == len(derivation.model.shaped.parameters)
    assert all(c.holds and c.proved for c in checks), [(c.name, c.detail) for c in checks]


def test_the_batch_form_is_the_lectures_matrix_form() -> None:
    """∇_W J = Δᵀ X / m and ∇_v J = Gᵀ(a − y)/m for the network, derived by linearity."""
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / "two_layer_network_vector.toml"))
    batch = derivation.batch
    assert batch is not None
    names = {line.label: line for line in batch.gradients}
    m, x, g = M, sp.Symbol("X", real=True), sp.Symbol("G", real=True)
    delta = Adjoint("dL/dS")
    assert names["dL/dW"].value == matmul(transpose(delta), x) / m
    a, y = sp.Symbol("a", real=True), sp.Symbol("y", real=True)
    assert names["dL/dv"].expanded == matmul(transpose(g), a - y) / m


def test_a_wrong_batch_gradient_fails_verification_naming_an_entry() -> None:
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / "logistic_regression_vector.toml"))
    batch = derivation.batch
    assert batch is not None
    doubled = [
        dataclasses.replace(line, value=2 * line.value) if line.label == "dL/dw" else line
        for line in batch.gradients
    ]
    broken = dataclasses.replace(derivation, batch=dataclasses.replace(batch, gradients=tuple(doubled)))
    failed = [c for c in symcalc.verify(broken) if not c.holds]
    assert len(failed) == 1 and failed[0].name == "batch form dL/dw (entry w1)"
    assert failed[0].counterexample is not None


def test_a_model_whose_sample_carries_a_matrix_has_no_batch_form_but_is_derived(
    write_toml: WriteToml,
) -> None:
    path = write_toml(
        'title = "t"\ninputs = ["x[n]"]\ntargets = ["y"]\nparameters = ["w[n]"]\n[dimensions]\nn = 2\n'
        '[definitions]\nP = "outer(x, x)"\nz = "w @ (P @ w)"\nL = "(z - y)^2"\n'
    )
    derivation = symcalc.derive(symcalc.load(str(path)))
    assert derivation.batch is None and derivation.batch_problem is not None
    assert "outer() of a vector computed per sample" in derivation.batch_problem.reason
    assert derivation.vector is not None and all(c.holds for c in symcalc.verify(derivation))


BREAST_CANCER_MODEL = """
title = "L2-penalised logistic regression on n features"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["w[n]", "b"]
loss = "J"
[dimensions]
n = 2
[constants]
lamda = 0.1
[definitions]
z = "w @ x + b"
a = "sigmoid(z)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
J = "L + lamda/2*(w @ w)"
"""


@pytest.mark.slow
def test_train_on_breast_cancer_with_the_vector_model_equals_scikit_learn(
    run: Runner, write_toml: WriteToml, tmp_path: Path
) -> None:
    """All 30 features, standardised (the data decide n = 30); scikit-learn at C = 1/(λm) has the same J."""
    datasets = pytest.importorskip("sklearn.datasets")
    linear_model = pytest.importorskip("sklearn.linear_model")
    features, labels = datasets.load_breast_cancer(return_X_y=True)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    columns = [f"x{i}" for i in range(1, 31)] + ["y"]
    data = tmp_path / "breast_cancer.csv"
    data.write_text(
        ",".join(columns)
        + "\n"
        + "\n".join(",".join(repr(float(v)) for v in row) for row in np.c_[features, labels])
    )
    path = write_toml(BREAST_CANCER_MODEL)
    arguments = [
        "train",
        str(path),
        "--data",
        str(data),
        "--lr",
        "0.5",
        "--epochs",
        "20000",
        "--tol",
        "1e-12",
    ]
    code, out, err = run([*arguments, "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["converged"], result["message"]
    reference = linear_model.LogisticRegression(C=1 / (0.1 * len(labels)), tol=1e-14, max_iter=100_000)
    reference.fit(features, labels)
    assert np.abs(np.array(result["parameters"]["w"]) - reference.coef_[0]).max() < 1e-6
    assert abs(result["parameters"]["b"] - reference.intercept_[0]) < 1e-6


MNIST_SIZED = (
    (DERIVATIONS / "two_layer_network_vector.toml").read_text().replace("n = 2\nh = 3", "n = 784\nh = 128")
)


@pytest.mark.slow
def test_a_large_model_is_derived_in_vector_and_batch_form_and_written_out_small_for_reading(
    write_toml: WriteToml,
) -> None:
    """At n = 784, h = 128 (100 480 weights) the steps are written out at n = h = 3, as at any sizes
    above 3; the vector and batch forms, which do not depend on the sizes, are checked there."""
    derivation = symcalc.derive(symcalc.load(str(write_toml(MNIST_SIZED))))
    shaped = derivation.model.shaped
    assert shaped is not None and shaped.declared == (("n", 784), ("h", 128))
    assert shaped.sizes == (("n", 3), ("h", 3)) and "written out at n = 3, h = 3" in derivation.title
    assert derivation.vector is not None and derivation.batch is not None
    checks = symcalc.verify(derivation)
    assert all(c.holds for c in checks) and {"vector", "batch"} <= {c.kind for c in checks}


def test_the_batch_module_of_the_mnist_sized_network_is_its_hand_written_gradient(
    write_toml: WriteToml, tmp_path: Path
) -> None:
    derivation = symcalc.derive(symcalc.load(str(write_toml(MNIST_SIZED))))
    module = generated_module(derivation, tmp_path, "mnist_sized")
    rng = np.random.default_rng(5)
    weights = rng.normal(size=(128, 784)) * 0.05
    params = {"W": weights, "c": rng.normal(size=128), "v": rng.normal(size=128), "b": 0.1}
    data = {"x": rng.normal(size=(32, 784)), "y": rng.uniform(0.05, 0.95, 32)}

    def mean_loss(weights: np.ndarray) -> float:
        a = _sigmoid(np.tanh(data["x"] @ weights.T + params["c"]) @ params["v"] + params["b"])
        return float(np.mean(_cross_entropy(a, data["y"])))

    grads = module.gradient(params, data)
    assert module.loss(params, data) == pytest.approx(mean_loss(weights), rel=1e-12)
    for index in [(0, 0), (17, 300), (127, 783)]:
        up, down = weights.copy(), weights.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        assert grads["W"][index] == pytest.approx(
            (mean_loss(up) - mean_loss(down)) / 2e-6, rel=1e-5, abs=1e-9
        )


def test_newton_refuses_at_the_sizes_of_the_data_in_one_line(
    run: Runner, write_toml: WriteToml, tmp_path: Path
) -> None:
    """The file says n = 2; the data's 700 input columns make n = 700, and Newton's method counts its
    Hessian at those sizes: 128·700 + 128 + 128 + 1 = 89 857 entries, refused before deriving."""
    path = write_toml(MNIST_SIZED.replace("n = 784", "n = 2"))
    columns = [f"x{i}" for i in range(1, 701)] + ["y"]
    data = _csv(tmp_path / "wide.csv", columns, np.ones((3, len(columns))))
    code, _, err = run(["train", str(path), "--data", str(data), "--method", "newton"])
    assert code == 2 and err.count("\n") == 1
    assert "89857 entries at n = 700, h = 128; the limit is 4096" in err
    assert "--method lbfgs or gd" in err


@pytest.mark.slow
def test_symcalc_check_takes_a_claim_about_a_whole_matrix(run: Runner) -> None:
    right = ["check", "two_layer_network_vector", "dL/dW", "outer((a - y)*v*(1 - g^2), x)"]
    code, out, _ = run(right)
    assert code == 0 and "claim dL/dW" in out and "proved" in out
    code, out, _ = run(["check", "two_layer_network_vector", "dL/dW", "outer((a - y)*v, x)"])
    assert code == 1 and "✗ claim dL/dW1_1" in out and "counterexample" in out
    code, _, err = run(["check", "two_layer_network_vector", "dL/dW", "(a - y)*x"])
    assert code == 2 and err.count("\n") == 1
    assert "dL/dW: dL/dW has the shape [h,n]; the right-hand side is [n]" in err


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_index_form_is_each_entry_of_the_vector_form(name: str) -> None:
    """Every entry of every result: the index form at those indices, sums done, is the entry that
    `expand.concrete` computes from the vector form (two independent readings of the same form)."""
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / f"{name}.toml"))
    vector, shaped = derivation.vector, derivation.model.shaped
    assert vector is not None and shaped is not None
    arrays = shaped.arrays()
    sizes = {sp.Symbol(k, integer=True, positive=True): v for k, v in shaped.sizes}
    for result in vector.results:
        lhs, _, value = vector.index(result)
        indices = lhs.args[1].indices if result.shape else ()
        entries = concrete(result.result, arrays)
        for where in np.ndindex(*np.shape(entries)):
            at = {index: position + 1 for index, position in zip(indices, where, strict=True)}
            entry = value.xreplace(at).xreplace(sizes).doit()
            entry = entry.replace(lambda e: isinstance(e, sp.Indexed), lambda e: _entry(arrays, e))
            expected = entries[where] if isinstance(entries, np.ndarray) else entries
            assert sp.expand(entry - sp.sympify(expected)) == 0, (result.name, where)


def _entry(arrays: dict[sp.Basic, np.ndarray], indexed: sp.Indexed) -> sp.Expr:
    return arrays[indexed.base.label][tuple(int(i) - 1 for i in indexed.indices)]


def test_the_steps_for_reading_are_the_same_at_n_30_and_n_3000(write_toml: WriteToml) -> None:
    """A long sum is never printed term by term: past 3, the sizes change only the title and the
    vector form's note of the model's own sizes."""
    text = (DERIVATIONS / "logistic_regression_vector.toml").read_text()
    documents = []
    for n in (30, 3000):
        path = write_toml(text.replace("n = 2", f"n = {n}"), f"n{n}.toml")
        document = render_markdown(symcalc.derive(symcalc.load(str(path))), views=EVERYTHING)
        assert f"(at n = {n}; written out at n = 3)" in document
        assert f"write the model out at n = 3 (the model's are n = {n})." in document
        documents.append(
            document.replace(f"n = {n};", "n = N;")
            .replace(f"are n = {n})", "are n = N)")
            .replace(f"n{n}", "nN")
        )
    assert documents[0] == documents[1]


@pytest.mark.slow
def test_model_build_takes_matrix_symbols_and_derives_the_files_vector_form() -> None:
    n, h = sp.symbols("n h", integer=True, positive=True)
    W, x = sp.MatrixSymbol("W", h, n), sp.MatrixSymbol("x", n, 1)
    c, v = sp.MatrixSymbol("c", h, 1), sp.MatrixSymbol("v", h, 1)
    s, g = sp.MatrixSymbol("s", h, 1), sp.MatrixSymbol("g", h, 1)
    b, y, z, a, L = sp.symbols("b y z a L", real=True)
    built = symcalc.Model.build(
        {
            s: W * x + c,
            g: s.applyfunc(sp.tanh),
            z: (v.T * g)[0, 0] + b,
            a: symcalc.sigmoid(z),
            L: -(y * sp.log(a) + (1 - y) * sp.log(1 - a)),
        },
        parameters=[W, c, v, b],
        targets=[y],
        sizes={n: 2, h: 3},
    )
    from_file = symcalc.derive(symcalc.Model.load(DERIVATIONS / "two_layer_network_vector.toml"))
    derived = symcalc.derive(built)
    assert derived.vector is not None and from_file.vector is not None
    ours = {r.name: sp.expand(r.result) for r in derived.vector.results}
    assert ours == {r.name: sp.expand(r.result) for r in from_file.vector.results}
    assert all(check.holds for check in symcalc.verify(derived))


def test_check_takes_a_claim_about_an_entry_past_the_sizes_written_out_for_reading(
    run: Runner, write_toml: WriteToml
) -> None:
    path = write_toml((DERIVATIONS / "logistic_regression_vector.toml").read_text().replace("n = 2", "n = 5"))
    code, out, _ = run(["check", str(path), "dL/dw5", "(a - y)*x5"])
    assert code == 0 and "claim dL/dw5" in out and "(at n = 5)" in out
    code, _, err = run(["check", str(path), "dL/dw7", "(a - y)*x7"])
    assert code == 2 and "claim is about undeclared name 'w7'" in err and err.count("\n") == 1


def test_numeric_model_takes_arrays_and_gives_gradients_of_their_shapes(tmp_path: Path) -> None:
    """The written-out program (the lambdified per-sample program) and the batch module, two
    independent back ends, agree on the mean loss and every gradient; the batch module takes arrays
    of any sizes, and a shape that does not fit is one clear error."""
    from symcalc.errors import NumericError
    from symcalc.numeric.codegen import numeric_program
    from symcalc.numeric.model import NumericModel

    path = DERIVATIONS / "two_layer_network_vector.toml"
    derivation = symcalc.derive(symcalc.Model.load(path, {"n": 4, "h": 5}))
    written_out = NumericModel(numeric_program(derivation), backend="generic")
    numeric = NumericModel(written_out.program)
    module = generated_module(derivation, tmp_path, "network_arrays")
    rng = np.random.default_rng(8)
    params: dict[str, Any] = {
        "W": rng.normal(size=(5, 4)),
        "c": rng.normal(size=5),
        "v": rng.normal(size=5),
        "b": np.float64(0.2),
    }
    data = {"x": rng.normal(size=(300, 4)), "y": rng.uniform(0.05, 0.95, 300)}
    loss, gradients = written_out.evaluate_arrays(params, data)
    expected_loss, expected = module.loss_and_gradient(params, data)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert numeric.evaluate_arrays(params, data)[0] == expected_loss
    for name, gradient in gradients.items():
        assert gradient.shape == np.shape(params[name])
        assert np.allclose(gradient, expected[name], rtol=1e-10, atol=1e-14), name
    with pytest.raises(NumericError, match=r"'W' has the shape \(5, 3\).*written out at n = 4, h = 5"):
        written_out.evaluate_arrays({**params, "W": np.zeros((5, 3))}, data)
    with pytest.raises(NumericError, match=r"shape|align|mismatch"):
        numeric.evaluate_arrays({**params, "W": np.zeros((5, 3))}, data)
    wider = {"W": rng.normal(size=(5, 9)), "c": params["c"], "v": params["v"], "b": params["b"]}
    at_nine = {"x": rng.normal(size=(40, 9)), "y": data["y"][:40]}  # not the sizes written out
    assert numeric.evaluate_arrays(wider, at_nine)[0] == module.loss_and_gradient(wider, at_nine)[0]


def test_the_vector_form_prose_gives_one_set_of_sizes_and_says_which(
    run: Runner, write_toml: WriteToml
) -> None:
    """At n = 4, h = 8 the steps are written out smaller: the prose says so once, not 'at n = 4, h = 8;
    written out at n = 3, h = 3' after 'the steps below write it out'."""
    text = (DERIVATIONS / "two_layer_network_vector.toml").read_text(encoding="utf-8")
    path = write_toml(text.replace("\nn = 2\n", "\nn = 4\n").replace("\nh = 3\n", "\nh = 8\n"))
    code, out, err = run(["derive", str(path), "--view", "all"])  # the entries' steps shown
    assert code == 0, err
    flowing = " ".join(" ".join(line.strip("│ ").split()) for line in out.splitlines())
    wanted = "the steps below write it out at n = 3, h = 3 (the model's are n = 4, h = 8)."
    assert wanted in flowing
    assert "written out at n = 3, h = 3." not in flowing.split("Vector form")[1].split("Step 1")[0]
    document = render_markdown(symcalc.derive(symcalc.load(str(path))), views=EVERYTHING)
    assert "the steps below write the model out at n = 3, h = 3 (the model's are n = 4, h = 8)." in document
