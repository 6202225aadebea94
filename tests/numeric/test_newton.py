"""`train --method newton` and `--method lbfgs`: scikit-learn's optimum in a few iterations, and the
Hessian they read checked against SymPy's diff twice (mpmath) and central differences."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.numeric.descent import Stop, run
from symcalc.numeric.model import NumericModel, compile_model
from symcalc.numeric.newton import newton
from tests.conftest import REPO, Runner, WriteToml
from tests.oracle import composed_gradient
from tests.symbolic.test_vectors import BREAST_CANCER_MODEL  # λ = 0.1


def _csv(path: Path, features: np.ndarray, labels: np.ndarray) -> Path:
    names = [f"x{i}" for i in range(1, features.shape[1] + 1)] + ["y"]
    rows = "\n".join(",".join(repr(float(v)) for v in row) for row in np.c_[features, labels])
    path.write_text(",".join(names) + "\n" + rows + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    datasets = pytest.importorskip("sklearn.datasets")
    features, labels = datasets.load_breast_cancer(return_X_y=True)
    return (features - features.mean(axis=0)) / features.std(axis=0), labels.astype(float)


def _optimum(features: np.ndarray, labels: np.ndarray, c: float) -> np.ndarray:
    """scikit-learn's optimum by its Newton-Cholesky solver at tol 1e-15: [w..., b]."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    reference = linear_model.LogisticRegression(C=c, tol=1e-15, max_iter=1000, solver="newton-cholesky")
    reference.fit(features, labels)
    return np.r_[reference.coef_[0], reference.intercept_]


def _train(run: Runner, model: Path | str, data: Path, method: str, *extra: str) -> dict[str, object]:
    code, out, err = run(["train", str(model), "--data", str(data), "--method", method, "--json", *extra])
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def _vector(result: dict[str, object]) -> np.ndarray:
    parameters = result["parameters"]
    assert isinstance(parameters, dict)
    return np.r_[parameters["w"], parameters["b"]]


def test_newton_reaches_scikit_learns_optimum_on_breast_cancer_in_ten_iterations(
    run: Runner, write_toml: WriteToml, tmp_path: Path, breast_cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    """All 30 features, standardised; scikit-learn at C = 1/(λm) minimises the same J."""
    features, labels = breast_cancer
    data = _csv(tmp_path / "breast_cancer.csv", features, labels)
    result = _train(run, write_toml(BREAST_CANCER_MODEL), data, "newton", "--tol", "1e-10")
    assert result["converged"] and result["method"] == "newton"
    assert isinstance(result["epochs"], int) and result["epochs"] <= 10
    optimum = _optimum(features, labels, 1 / (0.1 * len(labels)))
    assert np.abs(_vector(result) - optimum).max() < 1e-8
    iterations = result["iterations"]
    assert isinstance(iterations, list) and len(iterations) == result["epochs"] + 1
    losses = [row["loss"] for row in iterations]
    assert all(later <= earlier for earlier, later in itertools.pairwise(losses))


def test_lbfgs_reaches_scikit_learns_optimum_on_breast_cancer(
    run: Runner, write_toml: WriteToml, tmp_path: Path, breast_cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    pytest.importorskip("scipy.optimize")
    features, labels = breast_cancer
    data = _csv(tmp_path / "breast_cancer.csv", features, labels)
    result = _train(run, write_toml(BREAST_CANCER_MODEL), data, "lbfgs", "--tol", "1e-8")
    optimum = _optimum(features, labels, 1 / (0.1 * len(labels)))
    assert np.abs(_vector(result) - optimum).max() < 1e-6
    assert result["method"] == "lbfgs" and result["gradient_norm"] < 1e-7  # type: ignore[operator]


def test_newton_matches_unpenalised_scikit_learn_on_iris(run: Runner, tmp_path: Path) -> None:
    """Versicolor against virginica by petal length and width, no penalty: C = inf."""
    datasets = pytest.importorskip("sklearn.datasets")
    iris = datasets.load_iris()
    keep = iris.target > 0
    features, labels = iris.data[keep][:, 2:4], (iris.target[keep] == 2).astype(float)
    data = _csv(tmp_path / "iris.csv", features, labels)
    result = _train(run, "logistic_regression", data, "newton", "--tol", "1e-10")
    assert result["converged"]
    parameters = result["parameters"]
    assert isinstance(parameters, dict)
    ours = np.array([parameters["w1"], parameters["w2"], parameters["b"]])
    assert np.abs(ours - _optimum(features, labels, np.inf)).max() < 1e-8


def test_the_hessian_newton_reads_is_the_mean_of_sympys_diff_twice(seed_model: symcalc.Model) -> None:
    """The mean over 12 samples of SymPy's diff twice of the composed loss, in mpmath at 30 digits."""
    numeric = compile_model(symcalc.derive(seed_model, hessian=True))
    rng = np.random.default_rng(4)
    data = {"x1": rng.normal(size=12), "x2": rng.normal(size=12), "y": (rng.random(12) < 0.5) * 1.0}
    params = {"w1": 0.7, "w2": -1.3, "b": 0.4}
    loss, gradient, hessian = numeric.second_order(params, data)
    names = seed_model.symbols
    order = [names[p] for p in ("w1", "w2", "b")]
    arguments = [*order, names["x1"], names["x2"], names["y"]]
    with mpmath.workdps(30):
        for i, first in enumerate(order):
            oracle_gradient = composed_gradient(seed_model, first)
            for j, second in enumerate(order):
                function = sp.lambdify(arguments, sp.diff(oracle_gradient, second), "mpmath")
                values = [
                    function(*params.values(), *(mpmath.mpf(float(data[k][s])) for k in ("x1", "x2", "y")))
                    for s in range(12)
                ]
                assert abs(hessian[i, j] - float(mpmath.fsum(values) / 12)) < 1e-14
    assert loss == pytest.approx(numeric.evaluate(params, data)[0], rel=1e-14)
    assert np.allclose(gradient, list(numeric.evaluate(params, data)[1].values()), rtol=1e-14, atol=0)


@pytest.mark.slow
def test_the_hessian_equals_central_differences_of_the_gradient() -> None:
    """For a network (where the Hessian is not positive definite everywhere)."""
    model = symcalc.load("two_layer_network")
    numeric = compile_model(symcalc.derive(model, hessian=True))
    rng = np.random.default_rng(1)
    data = {"x1": rng.normal(size=40), "x2": rng.normal(size=40), "y": (rng.random(40) < 0.5) * 1.0}
    params = {
        p: float(v) for p, v in zip(numeric.parameters, rng.normal(size=len(numeric.parameters)), strict=True)
    }
    _, _, hessian = numeric.second_order(params, data)
    h = 1e-6
    for j, name in enumerate(numeric.parameters):
        plus = numeric.evaluate({**params, name: params[name] + h}, data)[1]
        minus = numeric.evaluate({**params, name: params[name] - h}, data)[1]
        column = [(plus[p] - minus[p]) / (2 * h) for p in numeric.parameters]
        assert np.allclose(hessian[:, j], column, atol=1e-7, rtol=1e-6)


def test_newton_on_a_network_goes_downhill_where_the_hessian_is_indefinite() -> None:
    numeric = compile_model(symcalc.derive(symcalc.load("two_layer_network"), hessian=True))
    rng = np.random.default_rng(2)
    data = {"x1": rng.normal(size=60), "x2": rng.normal(size=60), "y": (rng.random(60) < 0.5) * 1.0}
    start = numeric.start(seed=3, scale=1.0)
    _, _, hessian = numeric.second_order(start, data)
    assert np.linalg.eigvalsh(hessian).min() < 0  # the damping is needed here
    seen: list[float] = []
    last = run(
        newton(
            lambda p: numeric.second_order(p, data),
            lambda p: numeric.evaluate(p, data)[0],
            start,
            iterations=50,
            tol=1e-9,
        ),
        lambda record: seen.append(record.loss),
    )
    assert all(later <= earlier for earlier, later in itertools.pairwise(seen))
    assert last.loss < seen[0] and last.stop in (Stop.CONVERGED, Stop.EPOCHS, Stop.STALLED)


@pytest.mark.slow
def test_newton_shows_its_iterations_and_the_plot_names_the_method(run: Runner, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "newton.svg"
    code, out, err = run(["train", "--method", "newton", "--plot", str(plot)])
    assert code == 0, err
    assert "Newton's method: the iterations" in out and "gradient norm" in out and "iterations" in out
    assert "Newton" in plot.read_text(encoding="utf-8")


def test_newton_on_a_model_too_large_is_one_line(run: Runner, write_toml: WriteToml, tmp_path: Path) -> None:
    """64 features (65 parameters, past the 64 whose second derivatives are derived one by one):
    the batch module's Hessian takes them; past its limit of entries, one line."""
    text = BREAST_CANCER_MODEL.replace("n = 2", "n = 64")
    features = np.random.default_rng(0).normal(size=(20, 64))
    data = _csv(tmp_path / "wide.csv", features, (features[:, 0] > 0) * 1.0)
    args = ["train", str(write_toml(text)), "--data", str(data), "--method", "newton", "--epochs", "3"]
    code, out, err = run([*args, "--json"])
    assert code == 0, err
    assert "the batch module" in json.loads(out)["backend"]
    wide = np.random.default_rng(0).normal(size=(5, 4100))
    data = _csv(tmp_path / "wider.csv", wide, (wide[:, 0] > 0) * 1.0)
    code, out, err = run(["train", str(write_toml(text)), "--data", str(data), "--method", "newton"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "4101 entries at n = 4100" in err and "--method lbfgs" in err


def test_lbfgs_without_scipy_is_one_line(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # import scipy.optimize now fails
    code, out, err = run(["train", "--method", "lbfgs"])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "needs SciPy" in err and "symcalc-gradients[fit]" in err


def test_an_unknown_method_is_refused(run: Runner, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["train", "--method", "rmsprop"])
    assert exited.value.code == 2 and "invalid choice: 'rmsprop'" in capsys.readouterr().err


def test_newton_and_gradient_descent_agree_on_the_seed(run: Runner) -> None:
    newton_result = json.loads(run(["train", "--method", "newton", "--tol", "1e-12", "--json"])[1])
    descent = json.loads(run(["train", "--lr", "1", "--tol", "1e-12", "--epochs", "100000", "--json"])[1])
    assert newton_result["epochs"] < 12 < descent["epochs"]
    for name in ("w1", "w2", "b"):
        assert newton_result["parameters"][name] == pytest.approx(descent["parameters"][name], abs=1e-9)


def test_models_from_the_shipped_files_train_with_newton(run: Runner) -> None:
    for name in ("linear_regression", "poisson_regression", "logistic_regression_l2"):
        code, out, err = run(["train", name, "--method", "newton", "--json"])
        assert code == 0, (name, err)
        assert json.loads(out)["converged"], name


# -- the batch module's Hessian, for a model with vectors ----------------------------------------


def _vector_model(text: str, write_toml: WriteToml, n: int) -> symcalc.Derivation:
    path = write_toml(text.replace("n = 2", f"n = {n}"))
    return symcalc.derive(symcalc.Model.load(path, {"n": n}), hessian=True)


def test_the_batch_modules_hessian_is_the_mean_of_sympys_diff_twice(write_toml: WriteToml) -> None:
    """n = 3, 8 samples: each entry against mpmath's value of SymPy's diff, twice, of the written-out
    loss, averaged; and against the generic program's entry-by-entry Hessian."""
    from symcalc.numeric.codegen import generate, load_module

    derivation = _vector_model(BREAST_CANCER_MODEL, write_toml, 3)
    module = load_module(generate(derivation))
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(8, 3)), (rng.random(8) < 0.5) * 1.0
    w, b = rng.normal(size=3), 0.3
    loss, grads, hessian = module.loss_gradient_hessian({"w": w, "b": b}, {"x": x, "y": y})
    model = derivation.model
    names = model.symbols
    entries = [names[f"w{i}"] for i in (1, 2, 3)] + [names["b"]]
    composed = model.composed[model.loss]
    arguments = [*entries, *(names[f"x{i}"] for i in (1, 2, 3)), names["y"], names["lamda"]]
    with mpmath.workdps(30):
        for i, first in enumerate(entries):
            for j, second in enumerate(entries):
                function = sp.lambdify(arguments, sp.diff(composed, first, second), "mpmath")
                total = mpmath.fsum(function(*w, b, *x[k], y[k], 0.1) for k in range(8))
                assert abs(hessian[i, j] - float(total / 8)) < 1e-13
    plain = module.gradient({"w": w, "b": b}, {"x": x, "y": y})
    assert np.allclose(np.r_[grads["w"], grads["b"]], np.r_[plain["w"], plain["b"]], rtol=1e-14, atol=0)
    assert loss == pytest.approx(module.loss({"w": w, "b": b}, {"x": x, "y": y}), rel=1e-14)
    numeric = compile_model(derivation)
    columns = {f"x{i + 1}": x[:, i] for i in range(3)} | {"y": y}
    params = {f"w{i + 1}": float(w[i]) for i in range(3)} | {"b": b}
    generic = NumericModel(dataclasses.replace(numeric.program, batch_source=""))
    assert np.allclose(generic.second_order(params, columns)[2], hessian, rtol=1e-12, atol=1e-15)


@pytest.mark.slow
def test_newton_on_a_vector_model_computes_the_hessian_by_the_batch_module(
    run: Runner, write_toml: WriteToml, tmp_path: Path, breast_cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    features, labels = breast_cancer
    data = _csv(tmp_path / "breast_cancer.csv", features, labels)
    result = _train(run, write_toml(BREAST_CANCER_MODEL), data, "newton")
    assert "the batch module for the Hessian" in str(result["backend"])
    scalar = _train(run, "logistic_regression", _csv(tmp_path / "two.csv", features[:, :2], labels), "newton")
    assert "the batch module for the Hessian" in str(scalar["backend"])  # its scalar batch form's
    # a matrix parameter: no batch form of the second derivatives, so the written-out model's, by lambdify
    args = ["train", "two_layer_network_vector", "--method", "newton", "--epochs", "3", "--json"]
    code, out, err = run(args)
    assert code == 0, err
    assert "lambdify for the Hessian, entry by entry" in json.loads(out)["backend"]


def test_newton_refuses_too_many_parameter_entries_before_deriving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Runner
) -> None:
    """64-32-10 at n = 100, h = 64: 7 114 parameter entries, past the 4 096 of one Hessian. The refusal
    comes before anything is derived (a Hessian derived first ran into the time limit under load)."""
    from symcalc.cli import train

    def derived(*args: object, **kwargs: object) -> None:
        raise AssertionError("derived before refusing")

    monkeypatch.setattr(train, "limited", derived)
    model = (REPO / "symcalc" / "derivations" / "softmax_network_vector.toml").read_text(encoding="utf-8")
    path = tmp_path / "wide.toml"
    path.write_text(model.replace("\nh = 32\n", "\nh = 64\n"), encoding="utf-8")
    rows = [",".join([*(f"x{i}" for i in range(1, 101)), "y"])]
    rows += [",".join(["0.5"] * 100 + [str(i % 10)]) for i in range(12)]
    data = tmp_path / "wide.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, _, err = run(["train", str(path), "--data", str(data), "--method", "newton"])
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "7114 entries at n = 100, h = 64, k = 10; the limit is 4096" in lines[0], err


@pytest.mark.slow
def test_training_on_arrays_derives_no_written_out_hessian(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch module reads the batch form's second derivatives only: the written-out ones of the
    64-32-10 network (300 pairs at reading sizes) took most of the time before Newton's refusal."""
    from symcalc.cli import work
    from symcalc.symbolic import engine

    def written_out(*args: object, **kwargs: object) -> None:
        raise AssertionError("the written-out Hessian was derived")

    monkeypatch.setattr(engine, "_second_order", written_out)
    assert work.batch_file("softmax_network_vector", hessian=True, required=False) is None
    batch = work.batch_file("logistic_regression_vector", hessian=True)
    assert batch is not None and "def _second_sums(" in batch.source
