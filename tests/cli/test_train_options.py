"""`symcalc train`'s conveniences of issue 16: --columns, the scale warning and --standardize,
--test-fraction and --save (with `load_parameters` in the module `codegen` writes).

Errors are checked in a real `symcalc` process (exit code, the one line on stderr); results
against independent computations: the same data under the model's own names, scikit-learn,
or NumPy by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import symcalc
from symcalc.numeric.codegen import codegen, generate
from symcalc.numeric.data import two_blobs
from tests.conftest import REPO, Runner

EXAMPLE = ' (e.g. --columns x1="mean radius",y=diagnosis)'
RENAMED = {"x1": "mean radius", "x2": "mean texture, first", "y": "diagnosis"}


def _symcalc(*argv: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """`symcalc ARGV` as a user runs it: its own process, this worktree's code."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "symcalc", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def renamed_csv(tmp_path: Path) -> Path:
    """The built-in data under headers that are not names: 'mean radius', a comma inside one, …"""
    lines = two_blobs().splitlines()
    header = ",".join(f'"{RENAMED[name]}"' for name in lines[0].split(","))
    path = tmp_path / "renamed.csv"
    path.write_text("\n".join([header, *lines[1:]]) + "\n", encoding="utf-8")
    return path


# -- --columns ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_columns_map_headers_that_are_not_names(run: Runner, renamed_csv: Path) -> None:
    columns = f"x1={RENAMED['x1']},x2={RENAMED['x2']}"
    code, out, err = run(
        ["train", "--data", str(renamed_csv), "--columns", columns, "--columns", "y=diagnosis", "--json"]
    )
    assert code == 0, err
    code, reference, _ = run(["train", "--json"])  # the same rows under x1, x2, y: the built-in data
    assert json.loads(out)["parameters"] == json.loads(reference)["parameters"]
    assert json.loads(out)["samples"] == 200


@pytest.mark.slow
def test_columns_name_the_entries_of_a_vector_input(run: Runner, renamed_csv: Path, tmp_path: Path) -> None:
    mapping = f"x1={RENAMED['x1']},x2={RENAMED['x2']},y=diagnosis"  # as the shell passes x1="mean radius"
    code, out, err = run(
        ["train", "logistic_regression_vector", "--data", str(renamed_csv), "--columns", mapping, "--json"]
    )
    assert code == 0, err
    plain = tmp_path / "plain.csv"
    plain.write_text(two_blobs(), encoding="utf-8")
    code, reference, _ = run(["train", "logistic_regression_vector", "--data", str(plain), "--json"])
    ours, theirs = json.loads(out)["parameters"], json.loads(reference)["parameters"]
    assert len(ours["w"]) == 2 and ours == theirs


def test_a_column_of_the_file_may_swap_with_a_name(run: Runner, tmp_path: Path) -> None:
    """x1 and x2 exchanged by --columns: the weights come out exchanged too."""
    data = tmp_path / "blobs.csv"
    data.write_text(two_blobs(), encoding="utf-8")
    code, out, _ = run(["train", "--data", str(data), "--columns", "x1=x2,x2=x1", "--json"])
    assert code == 0
    swapped = json.loads(out)["parameters"]
    reference = json.loads(run(["train", "--data", str(data), "--json"])[1])["parameters"]
    assert swapped["w1"] == pytest.approx(reference["w2"], abs=1e-6)
    assert swapped["w2"] == pytest.approx(reference["w1"], abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("columns", "line"),
    [
        ("x1", "symcalc: error: --columns x1: is not NAME=COLUMN" + EXAMPLE),
        ("=mean radius", "symcalc: error: --columns =mean radius: is not NAME=COLUMN" + EXAMPLE),
        ("x1=", "symcalc: error: --columns x1=: is not NAME=COLUMN" + EXAMPLE),
        (
            "x1=mean radius,x1=diagnosis",
            "symcalc: error: --columns x1=diagnosis: 'x1' is mapped twice, to 'mean radius' and 'diagnosis' "
            "(map each name once)",
        ),
        (
            "x1=mean radius,x2=mean radius",
            "symcalc: error: --columns x2=mean radius: column 'mean radius' is mapped to both 'x1' and 'x2' "
            "(map each column to one name)",
        ),
        (
            "X1=mean radius",
            "symcalc: error: logistic_regression (built in), --columns X1=mean radius: "
            "'X1' is not an input or target of the model (did you mean 'x1'?)",
        ),
        (
            "x1=mean radiuss,x2=mean texture,y=diagnosis",
            "symcalc: error: {csv}, line 1, --columns x1=mean radiuss: the file has no column 'mean radiuss' "
            "(did you mean 'mean radius'?)",
        ),
        (
            "x1=mean radius",
            "symcalc: error: {csv}, line 1: no columns 'x2', 'y': the model needs x1, x2, y; the file has "
            "'mean radius', 'mean texture, first', 'diagnosis' "
            "(name the file's column for each with --columns NAME=COLUMN[,...], "
            "e.g. --columns 'x2=mean texture, first')",
        ),
    ],
)
def test_a_bad_columns_option_is_one_line_and_exit_2(renamed_csv: Path, columns: str, line: str) -> None:
    code, out, err = _symcalc("train", "--data", str(renamed_csv), "--columns", columns, "--epochs", "1")
    assert (code, out) == (2, "")
    assert err == line.format(csv=renamed_csv) + "\n"


@pytest.mark.slow
def test_a_column_read_for_two_names_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "blobs.csv"
    data.write_text(two_blobs(), encoding="utf-8")
    code, out, err = _symcalc("train", "--data", str(data), "--columns", "x1=x2", "--epochs", "1")
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: {data}, line 1: column 'x2' would be read for both 'x1' and 'x2' "
        "(map 'x2' to another column with --columns too)\n"
    )


def test_a_cell_error_names_the_files_column(run: Runner, renamed_csv: Path) -> None:
    text = renamed_csv.read_text(encoding="utf-8").splitlines()
    text[3] = "abc," + text[3].split(",", 1)[1]
    renamed_csv.write_text("\n".join(text) + "\n", encoding="utf-8")
    code, _, err = run(
        [
            "train",
            "--data",
            str(renamed_csv),
            "--columns",
            "x1=mean radius,x2=mean texture, first,y=diagnosis",
        ]
    )
    assert code == 2
    assert err == f"symcalc: error: {renamed_csv}, line 4, column 'mean radius': 'abc' is not a number\n"


# -- the scale warning and --standardize ---------------------------------------------------------


def _blobs(
    tmp_path: Path, factor: float = 1.0, name: str = "blobs.csv"
) -> tuple[Path, np.ndarray, np.ndarray]:
    """The built-in data with x2 multiplied by `factor`: the file, X (m × 2) and y."""
    table = np.array([[float(v) for v in line.split(",")] for line in two_blobs().splitlines()[1:]])
    x, y = table[:, :2] * [1.0, factor], table[:, 2]
    path = tmp_path / name
    rows = [f"{float(a)!r},{float(b)!r},{int(c)}" for (a, b), c in zip(x, y, strict=True)]
    path.write_text("x1,x2,y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path, x, y


@pytest.mark.slow
def test_columns_of_very_different_scales_are_one_warning(tmp_path: Path) -> None:
    data, x, _ = _blobs(tmp_path, 1000.0)
    code, out, err = _symcalc("train", "--data", str(data), "--epochs", "5", "--json")
    assert code == 0 and json.loads(out)["epochs"] == 5  # a warning: the run goes on
    spreads = x.std(axis=0)  # NumPy's standard deviations, the oracle
    ratio = spreads[1] / spreads[0]
    assert err == (
        f"symcalc: warning: {data}: the input columns differ in scale by a factor of {ratio:.3g}: "
        f"'x2' has standard deviation {spreads[1]:.3g}, 'x1' has standard deviation {spreads[0]:.3g}; "
        "one learning rate cannot suit both (train with --standardize)\n"
    )
    code, _, err = _symcalc("train", "--data", str(data), "--epochs", "5", "--json", "--standardize")
    assert code == 0 and err == ""


@pytest.mark.parametrize(("factor", "warned"), [(50.0, False), (200.0, True), (1 / 200, True)])
def test_the_warning_starts_at_a_factor_of_100(
    run: Runner, tmp_path: Path, factor: float, warned: bool
) -> None:
    data, x, _ = _blobs(tmp_path, factor)
    assert (max(x.std(axis=0)) / min(x.std(axis=0)) >= 100) == warned
    code, _, err = run(["train", "--data", str(data), "--epochs", "1"])
    assert code == 0 and ("--standardize" in err) == warned


def test_a_constant_column_is_measured_by_its_largest_value(run: Runner, tmp_path: Path) -> None:
    data = tmp_path / "constant.csv"
    data.write_text("x1,x2,y\n" + "".join(f"{k - 5},500,{k % 2}\n" for k in range(10)), encoding="utf-8")
    _, _, err = run(["train", "--data", str(data), "--epochs", "1"])
    assert "'x2' has largest |value| 500, 'x1' has standard deviation 2.87" in err


def test_standardize_matches_scikit_learns_scaler_and_logistic_regression(
    run: Runner, tmp_path: Path
) -> None:
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    linear_model = pytest.importorskip("sklearn.linear_model")
    data, x, y = _blobs(tmp_path, 1000.0)
    args = ["train", "--data", str(data), "--standardize", "--method", "newton", "--tol", "1e-12", "--json"]
    code, out, err = run(args)
    assert code == 0, err
    result = json.loads(out)
    scaler = preprocessing.StandardScaler().fit(x)
    assert result["standardized"]["means"] == pytest.approx(
        dict(zip(("x1", "x2"), scaler.mean_, strict=True)), rel=1e-12
    )
    assert result["standardized"]["scales"] == pytest.approx(
        dict(zip(("x1", "x2"), scaler.scale_, strict=True)), rel=1e-12
    )
    reference = linear_model.LogisticRegression(C=np.inf, tol=1e-14, solver="newton-cholesky")
    reference.fit(scaler.transform(x), y)
    ours = [result["parameters"][p] for p in ("w1", "w2", "b")]
    assert np.max(np.abs(np.array(ours) - [*reference.coef_[0], *reference.intercept_])) < 1e-8
    assert result["accuracy"] == pytest.approx(reference.score(scaler.transform(x), y))
    code, out, _ = run(args[:-1])
    assert "standardized" in out and f"mean {scaler.mean_[1]:.6g}, scale {scaler.scale_[1]:.6g}" in out


def test_standardize_lets_gradient_descent_converge(run: Runner, tmp_path: Path) -> None:
    """x2 a thousand times wider: at --lr 1 descent does not converge in 5000 epochs on the raw inputs,
    and does in a few hundred on the standardized ones (to the same classifier as scikit-learn's)."""
    data, _, _ = _blobs(tmp_path, 1000.0)
    plain = json.loads(run(["train", "--data", str(data), "--lr", "1", "--json"])[1])
    scaled = json.loads(run(["train", "--data", str(data), "--lr", "1", "--json", "--standardize"])[1])
    assert plain["converged"] is False and plain["epochs"] == 5000 and plain["standardized"] is None
    assert scaled["converged"] is True and scaled["epochs"] < 1000


@pytest.mark.slow
def test_a_standardized_runs_plot_draws_the_data_in_their_own_units(run: Runner, tmp_path: Path) -> None:
    from symcalc.numeric.curves import boundary_points
    from symcalc.numeric.descent import Epoch

    csv, _, _ = _blobs(tmp_path, 1000.0)
    raw = np.genfromtxt(csv, delimiter=",", names=True)
    means = {name: float(np.mean(raw[name])) for name in ("x1", "x2")}
    scales = {name: float(np.std(raw[name])) for name in ("x1", "x2")}
    columns = {name: (raw[name] - means[name]) / scales[name] for name in ("x1", "x2")} | {"y": raw["y"]}
    fitted = {"w1": 1.5, "w2": -2.0, "b": 0.25}  # in the standardized units the model trained in

    def scores(params: Mapping[str, float], data: Mapping[str, Any]) -> np.ndarray[Any, Any] | None:
        return np.asarray(params["w1"] * data["x1"] + params["w2"] * data["x2"] + params["b"])

    standardized = [(name, means[name], scales[name]) for name in ("x1", "x2")]
    final = Epoch(10, fitted, 0.5, {}, 0.0)
    points = boundary_points(final, columns, ("x1", "x2"), "y", scores, standardized)
    assert np.allclose(points.first, raw["x1"], rtol=1e-12)
    assert np.allclose(points.second, raw["x2"], rtol=1e-12)
    gx, gy = points.grid
    assert gy.min() < raw["x2"].min() and gy.max() > raw["x2"].max()  # the grid spans x2 in its own units
    by_hand = 1.5 * (gx - means["x1"]) / scales["x1"] - 2.0 * (gy - means["x2"]) / scales["x2"] + 0.25
    assert points.scores is not None and np.allclose(points.scores, by_hand, rtol=1e-12, atol=1e-12)
    # and the command draws it
    pytest.importorskip("matplotlib", reason="--plot needs the extra symcalc-gradients[plot]")
    picture = tmp_path / "standardized.svg"
    code, _, err = run(
        ["train", "--data", str(csv), "--standardize", "--plot", str(picture), "--epochs", "50"]
    )
    assert code == 0, err
    assert picture.read_text(encoding="utf-8").startswith("<?xml")


def test_targets_are_never_standardized(run: Runner, tmp_path: Path) -> None:
    data = tmp_path / "line.csv"
    data.write_text(
        "x1,x2,y\n" + "".join(f"{k},{k * k},{100 + 3 * k}\n" for k in range(20)), encoding="utf-8"
    )
    code, out, _ = run(
        ["train", "linear_regression", "--data", str(data), "--standardize", "--method", "newton", "--json"]
    )
    result = json.loads(out)
    assert code == 0 and set(result["standardized"]["means"]) == {"x1", "x2"}
    # y = 100 + 3 x1 exactly: on standardized inputs, b is y's mean and the loss 0
    assert result["parameters"]["b"] == pytest.approx(100 + 3 * 9.5, abs=1e-6)
    assert result["loss"] < 1e-12


# -- --test-fraction -----------------------------------------------------------------------------


def _held_out(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The documented split: round(fraction × count) rows first in NumPy's permutation from the seed."""
    order = np.random.default_rng(seed).permutation(count)
    held = round(fraction * count)
    return np.sort(order[held:]), np.sort(order[:held])


def test_test_fraction_reports_the_held_out_loss_and_accuracy(run: Runner, tmp_path: Path) -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    metrics = pytest.importorskip("sklearn.metrics")
    data, x, y = _blobs(tmp_path)
    args = ["train", "--data", str(data), "--test-fraction", "0.3", "--seed", "7", "--method", "newton"]
    code, out, err = run([*args, "--tol", "1e-12", "--json"])
    assert code == 0, err
    result = json.loads(out)
    train, test = _held_out(len(y), 0.3, 7)
    assert (result["samples"], result["test"]["rows"]) == (140, 60)
    reference = linear_model.LogisticRegression(C=np.inf, tol=1e-14, solver="newton-cholesky")
    reference.fit(x[train], y[train])
    ours = np.array([result["parameters"][p] for p in ("w1", "w2", "b")])
    assert np.max(np.abs(ours - [*reference.coef_[0], *reference.intercept_])) < 1e-8
    probabilities = reference.predict_proba(x[test])[:, 1]
    assert result["test"]["loss"] == pytest.approx(metrics.log_loss(y[test], probabilities), rel=1e-9)
    assert result["test"]["accuracy"] == metrics.accuracy_score(y[test], reference.predict(x[test]))
    assert result["accuracy"] == metrics.accuracy_score(y[train], reference.predict(x[train]))
    code, out, _ = run(args)
    assert "test loss" in out and "test accuracy" in out and "140 samples from" in out
    assert "60 more held out for the test" in out


def test_test_fraction_with_standardize_uses_the_training_rows_statistics(
    run: Runner, tmp_path: Path
) -> None:
    data, x, y = _blobs(tmp_path, 1000.0)
    args = ["train", "--data", str(data), "--test-fraction", "0.25", "--standardize", "--method", "newton"]
    result = json.loads(run([*args, "--json"])[1])
    train, test = _held_out(len(y), 0.25, 0)
    assert result["standardized"]["means"]["x2"] == pytest.approx(x[train, 1].mean(), rel=1e-12)
    assert result["standardized"]["scales"]["x2"] == pytest.approx(x[train, 1].std(), rel=1e-12)
    # the test loss by hand, with NumPy: the held-out rows scaled by the training rows' statistics
    scaled = (x[test] - x[train].mean(axis=0)) / x[train].std(axis=0)
    p = result["parameters"]
    z = scaled @ [p["w1"], p["w2"]] + p["b"]
    losses = np.logaddexp(0, -z) * y[test] + np.logaddexp(0, z) * (1 - y[test])
    assert result["test"]["loss"] == pytest.approx(losses.mean(), rel=1e-9)
    assert result["test"]["accuracy"] == np.mean((z >= 0) == (y[test] == 1))


def test_a_model_without_a_0_1_prediction_has_a_test_loss_only(run: Runner, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 2))
    y = x @ [2.0, -1.0] + 0.5 + 0.1 * rng.normal(size=50)
    data = tmp_path / "linear.csv"
    data.write_text(
        "x1,x2,y\n"
        + "".join(f"{float(a)!r},{float(b)!r},{float(c)!r}\n" for (a, b), c in zip(x, y, strict=True))
    )
    args = ["train", "linear_regression", "--data", str(data), "--test-fraction", "0.2", "--method", "newton"]
    result = json.loads(run([*args, "--json"])[1])
    train, test = _held_out(50, 0.2, 0)
    design = np.column_stack([x[train], np.ones(len(train))])
    w1, w2, b = np.linalg.lstsq(design, y[train], rcond=None)[0]  # the oracle: least squares
    p = result["parameters"]
    assert [p["w1"], p["w2"], p["b"]] == pytest.approx([w1, w2, b], abs=1e-8)
    residual = x[test] @ [w1, w2] + b - y[test]
    assert result["test"] == {
        "rows": 10,
        "loss": pytest.approx(np.mean(residual**2 / 2), rel=1e-8),
        "accuracy": None,
    }
    assert "test accuracy" not in run(args)[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fraction", "line"),
    [
        ("1", "symcalc train: error: argument --test-fraction: must be between 0 and 1 (exclusive), not '1'"),
        ("0", "symcalc train: error: argument --test-fraction: must be between 0 and 1 (exclusive), not '0'"),
        ("half", "symcalc train: error: argument --test-fraction: 'half' is not a number"),
        (
            "0.001",
            "symcalc: error: two_blobs.csv (built in): --test-fraction 0.001 of 200 rows holds out no row "
            "(choose another fraction)",
        ),
        (
            "0.999",
            "symcalc: error: two_blobs.csv (built in): --test-fraction 0.999 of 200 rows leaves no row "
            "to train on (choose another fraction)",
        ),
    ],
)
def test_a_bad_test_fraction_is_refused(fraction: str, line: str) -> None:
    code, out, err = _symcalc("train", "--test-fraction", fraction, "--epochs", "1")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == line
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_training_part_of_one_class_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "few.csv"
    data.write_text("x1,x2,y\n0,0,0\n1,1,1\n2,2,1\n3,3,1\n", encoding="utf-8")
    seed = next(s for s in range(100) if 0 in _held_out(4, 0.25, s)[1])  # the only 0 held out
    code, out, err = _symcalc("train", "--data", str(data), "--test-fraction", "0.25", "--seed", str(seed))
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: {data}, column 'y': after --test-fraction 0.25 every label left to train on is 1: "
        "one class only (hold out a smaller fraction, or draw other rows with --seed)\n"
    )


# -- --save and load_parameters ------------------------------------------------------------------


def _builtin_xy() -> tuple[np.ndarray, np.ndarray]:
    table = np.array([[float(v) for v in line.split(",")] for line in two_blobs().splitlines()[1:]])
    return table[:, :2], table[:, 2]


def test_save_is_read_back_by_the_codegen_module(run: Runner, tmp_path: Path) -> None:
    """L2 logistic regression at --set lamda=0.5: the module's loss and gradient at the saved parameters
    and constants are the trained ones, and NumPy by hand gives the same loss."""
    saved = tmp_path / "params.json"
    args = ["train", "logistic_regression_l2", "--set", "lamda=0.5", "--method", "newton", "--tol", "1e-12"]
    code, out, err = run([*args, "--save", str(saved), "--json"])
    assert code == 0 and err.endswith(f"symcalc: wrote {saved}\n")
    result = json.loads(out)
    written = json.loads(saved.read_text(encoding="utf-8"))
    assert written["parameters"] == result["parameters"] and written["constants"] == {"lamda": 0.5}
    assert written["title"] == symcalc.load("logistic_regression_l2").title
    assert written["model"] == "logistic_regression_l2" and written["standardized"] is None
    module = symcalc.load_module(generate(symcalc.derive(symcalc.load("logistic_regression_l2"))))
    params, constants = module.load_parameters(saved), module.load_constants(saved)
    assert params == result["parameters"] and constants == {"lamda": 0.5}
    x, y = _builtin_xy()
    loss, gradient = module.loss_and_gradient(params, {"x1": x[:, 0], "x2": x[:, 1], "y": y}, constants)
    assert loss == pytest.approx(result["loss"], rel=1e-12)
    assert np.linalg.norm(list(gradient.values())) < 1e-9  # converged: the gradient vanishes there
    z = x @ [params["w1"], params["w2"]] + params["b"]
    by_hand = np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)) + 0.25 * (
        params["w1"] ** 2 + params["w2"] ** 2
    )
    assert loss == pytest.approx(by_hand, rel=1e-12)
    first = x[:, 0]
    assert module.standardize({"x1": first}, saved)["x1"] is first  # not standardized: as given


def test_save_records_the_columns_mapping_that_load_columns_reads(
    run: Runner, renamed_csv: Path, tmp_path: Path
) -> None:
    """The saved run says which column of the data each name was read from: reading the same file by
    load_columns' mapping gives the trained loss again."""
    saved, plain = tmp_path / "mapped.json", tmp_path / "plain.json"
    mapping = f"x1={RENAMED['x1']},x2={RENAMED['x2']},y=diagnosis"
    args = ["train", "--data", str(renamed_csv), "--columns", mapping, "--method", "newton"]
    code, out, err = run([*args, "--save", str(saved), "--json"])
    assert code == 0, err
    assert json.loads(saved.read_text(encoding="utf-8"))["columns"] == RENAMED
    module = symcalc.load_module(generate(symcalc.derive(symcalc.load("logistic_regression"))))
    columns = module.load_columns(saved)
    assert columns == RENAMED
    x, y = _builtin_xy()
    by_header = {RENAMED["x1"]: x[:, 0], RENAMED["x2"]: x[:, 1], RENAMED["y"]: y}
    data = {name: by_header[column] for name, column in columns.items()}
    loss = module.loss(module.load_parameters(saved), data)
    assert loss == pytest.approx(json.loads(out)["loss"], rel=1e-12)
    assert run(["train", "--epochs", "3", "--save", str(plain)])[0] == 0
    assert module.load_columns(plain) == {}  # each name read from its own column


def test_a_vector_models_save_with_standardize_and_held_out_rows(run: Runner, tmp_path: Path) -> None:
    data, x, y = _blobs(tmp_path, 1000.0)
    saved = tmp_path / "vector.json"
    args = ["train", "logistic_regression_vector", "--data", str(data), "--standardize", "--test-fraction"]
    code, out, err = run([*args, "0.25", "--method", "newton", "--save", str(saved), "--json"])
    assert code == 0, err
    result = json.loads(out)
    written = json.loads(saved.read_text(encoding="utf-8"))
    assert len(written["parameters"]["w"]) == 2 and len(written["standardized"]["means"]["x"]) == 2
    module = symcalc.load_module(generate(symcalc.derive(symcalc.load("logistic_regression_vector"))))
    params = module.load_parameters(saved)
    assert isinstance(params["w"], np.ndarray) and params["w"].tolist() == result["parameters"]["w"]
    train, test = _held_out(len(y), 0.25, 0)
    for rows, loss in ((train, result["loss"]), (test, result["test"]["loss"])):
        scaled = module.standardize({"x": x[rows], "y": y[rows]}, saved)
        by_hand = (x[rows] - x[train].mean(axis=0)) / x[train].std(axis=0)  # the training rows' statistics
        assert np.allclose(scaled["x"], by_hand, rtol=1e-12, atol=0)
        assert module.loss(params, scaled) == pytest.approx(loss, rel=1e-10)
    accuracy = np.mean(
        (module.predict(params, module.standardize({"x": x[test]}, saved))["a"] >= 0.5) == y[test]
    )
    assert accuracy == result["test"]["accuracy"]


@pytest.mark.frameworks
def test_a_framework_module_loads_its_arrays(run: Runner, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    saved = tmp_path / "net.json"
    code, _, err = run(
        ["train", "two_layer_network_vector", "--epochs", "50", "--save", str(saved), "--json"]
    )
    assert code == 0, err
    written = json.loads(saved.read_text(encoding="utf-8"))
    assert np.array(written["parameters"]["W"]).shape == (3, 2)
    derivation = symcalc.derive(symcalc.load("two_layer_network_vector"))
    module = symcalc.load_module(codegen(derivation, "torch"))
    params = module.load_parameters(saved)
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float64 for v in params.values())
    numpy_module = symcalc.load_module(generate(derivation))
    x, y = _builtin_xy()
    expected = numpy_module.loss(numpy_module.load_parameters(saved), {"x": x, "y": y})
    assert float(module.loss(params, {"x": x, "y": y})) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(
        json.loads(run(["train", "two_layer_network_vector", "--epochs", "50", "--json"])[1])["loss"],
        rel=1e-10,
    )


def _edited(saved: Path, tmp_path: Path, **changes: object) -> Path:
    content = json.loads(saved.read_text(encoding="utf-8"))
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            content[section][name] = value
        else:
            content[section] = value
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def test_load_parameters_refuses_a_file_of_another_model_or_shape(run: Runner, tmp_path: Path) -> None:
    saved = tmp_path / "net.json"
    assert run(["train", "two_layer_network_vector", "--epochs", "5", "--save", str(saved)])[0] == 0
    module = symcalc.load_module(generate(symcalc.derive(symcalc.load("two_layer_network_vector"))))
    seed = symcalc.load_module(generate(symcalc.derive(symcalc.load())))
    with pytest.raises(
        ValueError, match=r"net\.json: no value for parameter 'w1' \(this module's: w1, w2, b\)$"
    ):
        seed.load_parameters(saved)
    cases = {
        "parameters__c": ([0.1, 0.2, 0.3, 0.4], r"parameter 'c' has shape \(4,\), but h = 3 as 'W' has$"),
        "parameters__b": ([0.1], r"parameter 'b' has 1 axes, but this module's has 0 \(\)$"),
        "parameters__v": ([0.1, None, 0.3], r"parameter 'v' holds None, not a finite number$"),
        "parameters__W": (
            [[1.0, 2.0], [3.0]],
            r"parameter 'W' is not an array: its rows differ or are empty$",
        ),
        "parameters__u": (
            1.0,
            r"'u' is not a parameter of this module's model \(its parameters: W, c, v, b\)$",
        ),
        "saved_by": ("me", r"not a file that symcalc train --save wrote$"),
        "format": (2, r"format 2; this module reads format 1$"),
    }
    for key, (value, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            module.load_parameters(_edited(saved, tmp_path, **{key: value}))
    (tmp_path / "text.json").write_text("w = 1", encoding="utf-8")
    with pytest.raises(ValueError, match=r"text\.json: not JSON"):
        module.load_parameters(tmp_path / "text.json")


@pytest.mark.slow
def test_save_writes_over_a_file_only_with_force_and_checks_before_training(tmp_path: Path) -> None:
    mine = tmp_path / "params.json"
    mine.write_text("mine\n", encoding="utf-8")
    code, out, err = _symcalc("train", "--save", str(mine))
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: {mine}: already exists: --save writes over a file only with --force "
        "(add --force, or choose another name)\n"
    )
    assert mine.read_text(encoding="utf-8") == "mine\n"
    code, out, err = _symcalc("train", "--epochs", "3", "--save", str(mine), "--force", "--json")
    assert (code, err) == (0, f"symcalc: wrote {mine}\n")
    assert json.loads(mine.read_text(encoding="utf-8"))["parameters"] == json.loads(out)["parameters"]
    for path, message in (
        (tmp_path / "no" / "p.json", "folder does not exist"),
        (tmp_path / "p.png", "--save writes JSON, not PNG (name it OUT.json)"),
    ):
        code, out, err = _symcalc("train", "--save", str(path))
        assert (code, out, err) == (2, "", f"symcalc: error: {path}: {message}\n")  # no result: not trained
        assert not path.exists()


def test_load_parameters_and_standardize_refuse_what_float64_cannot_hold(run: Runner, tmp_path: Path) -> None:
    """Each is the documented ValueError naming the file: an integer beyond float64 (OverflowError
    before), lists nested past a matrix or past JSON's depth (RecursionError before), a scale of 0
    (a division by 0 before)."""
    saved = tmp_path / "vector.json"
    data, x, _ = _blobs(tmp_path, 1.0)
    args = ["train", "logistic_regression_vector", "--data", str(data), "--standardize", "--epochs", "5"]
    assert run([*args, "--save", str(saved)])[0] == 0
    vector = symcalc.load_module(generate(symcalc.derive(symcalc.load("logistic_regression_vector"))))
    plain = tmp_path / "plain.json"
    assert run(["train", "logistic_regression", "--epochs", "5", "--save", str(plain)])[0] == 0
    scalars = symcalc.load_module(generate(symcalc.derive(symcalc.load("logistic_regression"))))
    huge = 10**400
    cases: list[tuple[Any, Path, dict[str, object], str]] = [
        (
            vector,
            saved,
            {"parameters__b": huge},
            r"parameter 'b' holds an integer of 20\+ digits, not a finite",
        ),
        (scalars, plain, {"parameters__w1": huge}, r"parameter 'w1' holds an integer of 20\+ digits, not a"),
        (
            vector,
            saved,
            {"parameters__w": [[[0.1]], [[0.2]]]},
            r"parameter 'w' is nested deeper than a matrix$",
        ),
        (scalars, plain, {"parameters__w1": [[[0.1]]]}, r"parameter 'w1' is nested deeper than a matrix$"),
    ]
    for module, path, change, message in cases:
        with pytest.raises(ValueError, match=message):
            module.load_parameters(_edited(path, tmp_path, **change))
    deep = tmp_path / "deep.json"
    deep.write_text(saved.read_text(encoding="utf-8").replace('"b": ', '"b": ' + "[" * 100_000, 1))
    with pytest.raises(ValueError, match=r"deep\.json: nested too deeply to be a saved run$"):
        vector.load_parameters(deep)
    standardized = json.loads(saved.read_text(encoding="utf-8"))["standardized"]
    zero = _edited(saved, tmp_path, standardized={**standardized, "scales": {"x": [0.0, 1.0]}})
    with pytest.raises(ValueError, match=r"input 'x' has a scale of 0: \(x - mean\)/scale is undefined$"):
        vector.standardize({"x": x}, zero)
    scales = {"means": {"x1": 0.0, "x2": 0.0}, "scales": {"x1": 0.0, "x2": 1.0}}
    with pytest.raises(ValueError, match=r"input 'x1' has a scale of 0: \(x - mean\)/scale is undefined$"):
        scalars.standardize({"x1": x[:, 0], "x2": x[:, 1]}, _edited(plain, tmp_path, standardized=scales))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["gd", "lbfgs"])
def test_gd_and_lbfgs_train_a_network_past_the_written_out_limit_on_its_batch_module(
    run: Runner, tmp_path: Path, method: str
) -> None:
    """700 inputs make W 3 × 700: 2 100 entries, past the 2 000 the written-out model takes. gd and
    lbfgs train on the batch module's arrays, from the start the written-out model would have, and
    give the parameters of that module driven by the same loop."""
    from symcalc.numeric.batch_fit import batch_model, small_start
    from symcalc.numeric.descent import descend
    from symcalc.numeric.descent import run as run_records
    from symcalc.numeric.lbfgs import lbfgs

    rng = np.random.default_rng(4)
    rows, n = 60, 700
    x = rng.normal(size=(rows, n))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(float)
    path = tmp_path / "wide.csv"
    header = ",".join([*(f"x{k}" for k in range(1, n + 1)), "y"])
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header=header, comments="")
    code, out, err = run(
        [
            "train",
            "two_layer_network_vector",
            "--data",
            str(path),
            "--method",
            method,
            "--epochs",
            "8",
            "--json",
        ]
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["backend"] == "the batch module (codegen --target numpy)"
    batch = batch_model(symcalc.derive(symcalc.load("two_layer_network_vector")))
    module = symcalc.load_module(batch.source)
    data = {"x": x, "y": y}
    sizes = {"n": n, "h": 3}
    start = small_start(batch, sizes, 0)

    def evaluate(params: Mapping[str, Any]) -> tuple[float, dict[str, Any]]:
        loss, grads = module.loss_and_gradient(params, data)
        return float(loss), grads

    records = descend(evaluate, start, 0.1, 8) if method == "gd" else lbfgs(evaluate, start, 8)
    last = run_records(records)
    for name in batch.parameters:
        assert np.allclose(
            np.asarray(result["parameters"][name]), last.parameters[name], rtol=1e-12, atol=1e-15
        )
    assert result["loss"] == pytest.approx(last.loss, rel=1e-12)


def test_train_help_names_every_method_not_only_gradient_descent() -> None:
    for argv in (("train", "--help"), ("--help",)):
        code, out, err = _symcalc(*argv)
        assert (code, err) == (0, "")
        flat = " ".join(out.split())
        assert "full-batch" not in flat
        assert (
            "train a model's parameters on data: gradient descent (default), Newton's method, L-BFGS, "
            "or SGD and Adam in minibatches" in flat
        )


@pytest.mark.parametrize("model", ["logistic_regression", "logistic_regression_vector"])
@pytest.mark.parametrize("name", ["data.parquet", "data.csv"])
def test_parquet_without_dask_says_it_needs_dask(model: str, name: str, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / name  # the file's bytes say it is Parquet, whatever its name
    x, y = _builtin_xy()
    parquet.write_table(pa.table({"x1": x[:, 0], "x2": x[:, 1], "y": y}), path)
    code, out, err = _symcalc("train", model, "--data", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: {path}: is Parquet, not CSV: Parquet needs --dask "
        "(pip install symcalc-gradients[dask])\n"
    )


def test_the_plots_axes_and_legend_are_named_after_the_datas_columns(
    run: Runner, renamed_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib", reason="--plot needs the extra symcalc-gradients[plot]")
    from symcalc.numeric.curves import BoundaryPoints
    from symcalc.render import training

    drawn: list[tuple[str, str, str]] = []
    real = training._boundary

    def seen(ax: Any, points: BoundaryPoints) -> None:
        drawn.append((*points.names, points.target))
        real(ax, points)

    monkeypatch.setattr(training, "_boundary", seen)
    mapping = f"x1={RENAMED['x1']},x2={RENAMED['x2']},y=diagnosis"
    picture = tmp_path / "renamed.png"
    code, _, err = run(["train", "--data", str(renamed_csv), "--columns", mapping, "--plot", str(picture)])
    assert code == 0, err
    assert drawn == [(RENAMED["x1"], RENAMED["x2"], "diagnosis")]
    assert picture.read_bytes().startswith(b"\x89PNG")
    code, _, err = run(["train", "--epochs", "3", "--plot", str(tmp_path / "plain.png")])
    assert code == 0, err
    assert drawn[-1] == ("x1", "x2", "y")  # read under the model's own names: named so
