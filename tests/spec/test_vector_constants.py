"""Vector and matrix constants in [constants] (`cw = [1, 2, 5]`, a list of lists a matrix).

The oracle is the model written out by hand with the constant's numbers in it, differentiated by
SymPy and evaluated with mpmath: it never reads symcalc's parse of the list, its vector form, its
batch form or its printer.
"""

from __future__ import annotations

import random
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.cli.main import main
from symcalc.errors import SymcalcError
from tests.generated import generated_module

WEIGHTED = """
title = "Weighted softmax cross-entropy"
inputs = ["x[n]"]
targets = ["y[k]"]
parameters = ["W[k,n]", "b[k]"]

[dimensions]
n = 2
k = 3

[constants]
cw = [1, 2, 5]

[definitions]
z = "W @ x + b"
p = "softmax(z)"
L = "-sum(cw*y*log(p))"
"""

MATRIX = """
title = "A fixed mixing matrix"
inputs = ["x[2]"]
targets = ["t"]
parameters = ["w[2]"]

[constants]
A = [[1.5, -2], [0.25, 3]]

[definitions]
u = "A @ x"
L = "(sum(w*tanh(u)) - t)**2"
"""

CW = (1, 2, 5)
A = ((1.5, -2), (0.25, 3))


def _file(tmp_path: Path, text: str, name: str = "model.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _weighted_oracle() -> tuple[sp.Expr, list[sp.Symbol], list[sp.Symbol]]:
    """The loss of WEIGHTED written out with the numbers 1, 2, 5; its parameters and its data."""
    w = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"W{i + 1}_{j + 1}"))
    b = sp.Matrix(3, 1, lambda i, _: sp.Symbol(f"b{i + 1}"))
    x = sp.Matrix(2, 1, lambda i, _: sp.Symbol(f"x{i + 1}"))
    y = [sp.Symbol(f"y{i + 1}") for i in range(3)]
    z = w * x + b
    total = sum(sp.exp(z[i]) for i in range(3))
    loss = -sum(CW[i] * y[i] * sp.log(sp.exp(z[i]) / total) for i in range(3))
    return loss, [*w, *b], [*x, *y]


def _point(names: list[sp.Symbol], rng: random.Random) -> dict[sp.Symbol, float]:
    return {s: round(rng.uniform(-1.5, 1.5) * 1024) / 1024 for s in names}


def test_weighted_cross_entropy_gradients_match_sympy_diff_of_the_written_out_loss(tmp_path: Path) -> None:
    loss, parameters, data = _weighted_oracle()
    derivation = symcalc.derive(symcalc.load(str(_file(tmp_path, WEIGHTED))))
    by_name = {s.name: e for s, e in derivation.expanded_gradients().items()}
    rng = random.Random(31)
    for _ in range(3):
        point = _point([*parameters, *data], rng)
        for parameter in parameters:
            expected = sp.lambdify([*point], sp.diff(loss, parameter), "mpmath")(*point.values())
            got = by_name[parameter.name]
            named = {s.name: v for s, v in point.items()}
            value = got.subs({s: named[s.name] for s in got.free_symbols})
            assert not value.free_symbols, got
            assert mpmath.almosteq(mpmath.mpf(str(sp.N(value, 30))), expected, 1e-15), (parameter, got)


def test_vector_form_keeps_the_constant_by_its_name(tmp_path: Path) -> None:
    derivation = symcalc.derive(symcalc.load(str(_file(tmp_path, WEIGHTED))))
    assert derivation.vector is not None
    texts = [str(result.result) for result in derivation.vector.gradients]
    assert any("cw" in text for text in texts), texts


def test_generated_numpy_module_matches_the_oracle_over_a_batch(tmp_path: Path) -> None:
    loss, parameters, data = _weighted_oracle()
    derivation = symcalc.derive(symcalc.load(str(_file(tmp_path, WEIGHTED))))
    module = generated_module(derivation, tmp_path)
    rng = np.random.default_rng(31)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3)}
    x = rng.normal(size=(5, 2))
    y = rng.uniform(0.1, 0.9, size=(5, 3))
    value, grads = module.loss_and_gradient(params, {"x": x, "y": y})
    values = {s.name: float(v) for s, v in zip(parameters, [*params["W"].flat, *params["b"]], strict=True)}
    mean_loss = mpmath.mpf(0)
    mean_grad = [mpmath.mpf(0)] * len(parameters)
    for row in range(5):
        point = {**values, **{f"x{j + 1}": x[row, j] for j in range(2)}}
        point |= {f"y{j + 1}": y[row, j] for j in range(3)}
        args = [point[s.name] for s in [*parameters, *data]]
        mean_loss += sp.lambdify([*parameters, *data], loss, "mpmath")(*args) / 5
        for i, parameter in enumerate(parameters):
            mean_grad[i] += sp.lambdify([*parameters, *data], sp.diff(loss, parameter), "mpmath")(*args) / 5
    assert value == pytest.approx(float(mean_loss), rel=1e-12)
    got = [*np.asarray(grads["W"]).flat, *np.asarray(grads["b"])]
    assert got == pytest.approx([float(g) for g in mean_grad], rel=1e-10, abs=1e-14)


def test_matrix_constant_gradient_matches_sympy_diff(tmp_path: Path) -> None:
    x = [sp.Symbol("x1"), sp.Symbol("x2")]
    w = [sp.Symbol("w1"), sp.Symbol("w2")]
    t = sp.Symbol("t")
    u = [sum(sp.nsimplify(A[i][j]) * x[j] for j in range(2)) for i in range(2)]
    loss = (sum(w[i] * sp.tanh(u[i]) for i in range(2)) - t) ** 2
    derivation = symcalc.derive(symcalc.load(str(_file(tmp_path, MATRIX))))
    by_name = {s.name: e for s, e in derivation.expanded_gradients().items()}
    rng = random.Random(7)
    names = [*x, *w, t]
    for _ in range(3):
        point = _point(names, rng)
        for parameter in w:
            expected = sp.lambdify(names, sp.diff(loss, parameter), "mpmath")(*point.values())
            named = {s.name: v for s, v in point.items()}
            got = by_name[parameter.name]
            got = got.subs({s: named[s.name] for s in got.free_symbols})
            assert mpmath.almosteq(mpmath.mpf(str(sp.N(got, 30))), expected, 1e-15), parameter


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("[[1, 2], [3]]", "rows of different lengths"),
        ('[1, "a", 3]', "numbers only"),
        ("[1, [2], 3]", "numbers only"),
        ("[[[1]]]", "numbers only"),
        ("[]", "empty list"),
        ("[1, nan]", "finite numbers"),
        ("[" + ", ".join(["1"] * 2001) + "]", "the limit is 2000"),
    ],
)
def test_a_bad_list_is_one_line_naming_the_file_and_key(
    tmp_path: Path, value: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, WEIGHTED.replace("cw = [1, 2, 5]", f"cw = {value}"), "bad.toml")
    assert main(["derive", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.toml" in err and "constants.cw" in err and problem in err, err
    assert "Traceback" not in err
    with pytest.raises(SymcalcError):
        symcalc.load(str(path))


def test_a_list_whose_length_is_not_k_does_not_go_with_y_of_k(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, WEIGHTED.replace("cw = [1, 2, 5]", "cw = [1, 2]"), "short.toml")
    assert main(["derive", str(path)]) == 2
    err = capsys.readouterr().err
    assert "short.toml" in err and "shape" in err, err


@pytest.mark.parametrize("setting", ["cw=[1,2,5]", "cw=2"])
def test_set_of_a_vector_constant_is_refused_in_one_line(
    tmp_path: Path, setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, WEIGHTED)
    assert main(["verify", str(path), "--set", setting]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "vector or matrix constant" in err, err


def test_data_that_make_k_other_than_the_constants_length_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, WEIGHTED)
    data = tmp_path / "four.csv"
    data.write_text("x1,x2,y1,y2,y3,y4\n0.5,1,1,0,0,0\n-1,2,0,0,1,0\n", encoding="utf-8")
    assert main(["train", str(path), "--data", str(data), "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "four.csv" in err and "k = 4" in err and "cw" in err and len(err.splitlines()) == 1, err


@pytest.mark.frameworks
@pytest.mark.parametrize("target", ["jax", "torch"])
def test_framework_modules_match_the_oracle(tmp_path: Path, target: str) -> None:
    library = pytest.importorskip(target)
    if target == "jax":
        library.config.update("jax_enable_x64", True)
    from symcalc.numeric.frameworks import generate_framework
    from tests.generated import import_file

    loss, parameters, data = _weighted_oracle()
    derivation = symcalc.derive(symcalc.load(str(_file(tmp_path, WEIGHTED))))
    path = tmp_path / f"weighted_{target}.py"
    path.write_text(generate_framework(derivation, target), encoding="utf-8")
    module = import_file(path)
    rng = np.random.default_rng(5)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=3)}
    x, y = rng.normal(size=(4, 2)), rng.uniform(0.1, 0.9, size=(4, 3))
    value, grads = module.loss_and_gradient(params, {"x": x, "y": y})
    names = [*parameters, *data]
    function = sp.lambdify(names, [loss, *(sp.diff(loss, p) for p in parameters)], "mpmath")
    flat = [*params["W"].flat, *params["b"]]
    rows = [function(*flat, *x[r], *y[r]) for r in range(4)]
    means = [float(sum(row[i] for row in rows) / 4) for i in range(len(parameters) + 1)]
    assert float(value) == pytest.approx(means[0], rel=1e-12)
    got = [*np.asarray(grads["W"]).flat, *np.asarray(grads["b"])]
    assert got == pytest.approx(means[1:], rel=1e-10, abs=1e-14)


def test_the_names_table_and_the_documents_give_the_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, MATRIX)
    assert main(["derive", str(path)]) == 0
    out = capsys.readouterr().out
    assert "= [[1.5, -2], [0.25, 3]]" in out, out
    markdown = tmp_path / "m.md"
    assert main(["markdown", str(path), "-o", str(markdown)]) == 0
    assert r"A &= \left[\begin{matrix}1.5 & -2\\0.25 & 3\end{matrix}\right]" in markdown.read_text("utf-8")


def test_a_declared_dimension_settles_a_length_two_dimensions_share(tmp_path: Path) -> None:
    """With n = k = 3 the list's length names no one dimension; "cw[k]" says which, and the
    derivation is the oracle's at n = 3."""
    text = WEIGHTED.replace("n = 2", "n = 3").replace("cw = [1, 2, 5]", '"cw[k]" = [1, 2, 5]')
    model = symcalc.load(str(_file(tmp_path, text)))
    derivation = symcalc.derive(model)
    by_name = {s.name: e for s, e in derivation.expanded_gradients().items()}
    y = [sp.Symbol(f"y{i}") for i in range(1, 4)]
    z = [
        sp.Symbol(f"b{i}") + sum(sp.Symbol(f"W{i}_{j}") * sp.Symbol(f"x{j}") for j in range(1, 4))
        for i in (1, 2, 3)
    ]
    soft = [sp.exp(zi) / sum(sp.exp(zj) for zj in z) for zi in z]
    loss = -sum(c * yi * sp.log(si) for c, yi, si in zip(CW, y, soft, strict=True))
    expected = sp.diff(loss, sp.Symbol("b3"))
    got = by_name["b3"]
    rng = random.Random(3)
    # exact rationals in a fixed order: float substitution rounds each side its own way (1.7e-15 apart
    # on one machine), and a set's order changes with the hash seed
    point = {name: sp.Rational(rng.uniform(-1, 1)) for name in sorted({s.name for s in got.free_symbols})}
    value = got.subs({s: point[s.name] for s in got.free_symbols})
    oracle = expected.subs({s: point[s.name] for s in expected.free_symbols})
    assert abs(sp.N(value, 40) - sp.N(oracle, 40)) < 1e-30 * abs(sp.N(oracle, 40))


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ('"cw[k]" = [1, 2]', "has 2 entries along k, which is 3"),
        ('"cw[h]" = [1, 2, 5]', "dimension 'h' of 'cw' is not in [dimensions]"),
        ('"cw[k,n]" = [1, 2, 5]', "declares 2 axes, and its list is a vector"),
    ],
)
def test_a_declared_dimension_that_does_not_fit_is_one_line(
    tmp_path: Path, key: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, WEIGHTED.replace("cw = [1, 2, 5]", key), "declared.toml")
    assert main(["derive", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1 and "declared.toml" in err and "constants.cw[" in err and problem in err
    ), err


def test_a_domain_for_a_vector_constant_is_one_line_saying_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, WEIGHTED + '\n[domains]\ncw = "(0, inf)"\n', "domain.toml")
    assert main(["derive", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "domains.cw" in err and "vector or matrix constant" in err, err


@pytest.mark.parametrize("text", [WEIGHTED, MATRIX], ids=["vector", "matrix"])
def test_every_vector_result_of_json_reads_back_as_a_claim_and_holds(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from tests.printed import Point, close, oracle_entries, read_back

    path = _file(tmp_path, text)
    assert main(["derive", "--json", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)["vector_form"]
    model = symcalc.load(str(path))
    assert model.shaped is not None
    entries = dict(model.shaped.entries)
    by_name = {symbol.name: symbol for symbol, _ in model.shaped.shapes}
    point = Point(model, seed=31)
    checked = 0
    for result in printed:
        node = result["name"].split("/d", 1)[1]
        if by_name.get(node) not in entries:
            continue  # an intermediate's adjoint: the claims of dL/dp are checked by verify
        targets = list(entries[by_name[node]])
        expected = [point.at(e) for e in oracle_entries(model, model.loss, targets)]
        got = read_back(model, result["result"], point)
        assert len(got) == len(expected) and all(close(g, e) for g, e in zip(got, expected, strict=True)), (
            result
        )
        checked += 1
    assert checked >= 1
