"""Gradient descent: agreement with scikit-learn on real data, and every way it stops."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest

import symcalc
from symcalc.errors import DescentError
from symcalc.numeric.descent import Epoch, Stop, descend, train
from symcalc.numeric.model import compile_model
from tests.conftest import DERIVATIONS

sklearn_linear = pytest.importorskip("sklearn.linear_model")

# Columns of the breast-cancer data chosen so that plain gradient descent can reach the
# unpenalised optimum: every pair is at most moderately correlated (|r| < 0.6 after
# standardising: the Hessian is well conditioned, so lr = 1 converges in a few thousand
# steps), and the classes overlap (training accuracy well below 1: not linearly
# separable, so the optimum is finite). Radius, perimeter and area are correlated above
# 0.99, and many column sets separate the classes, where the weights grow for ever.
TWO = ["mean radius", "mean texture"]
FOUR = ["mean texture", "mean smoothness", "mean symmetry", "mean fractal dimension"]


def _breast_cancer(columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    sklearn_datasets = pytest.importorskip("sklearn.datasets")  # here: importing it takes seconds
    bunch = sklearn_datasets.load_breast_cancer()
    names = list(bunch.feature_names)
    x = bunch.data[:, [names.index(c) for c in columns]]
    return (x - x.mean(axis=0)) / x.std(axis=0), bunch.target.astype(float)


@pytest.mark.parametrize(
    ("columns", "model_file"),
    [(TWO, "logistic_regression.toml"), (FOUR, "logistic_regression_4.toml")],
    ids=["seed-2-features", "4-features"],
)
def test_matches_scikit_learn_on_breast_cancer(columns: list[str], model_file: str) -> None:
    x, y = _breast_cancer(columns)
    correlations = np.corrcoef(x.T)[np.triu_indices(len(columns), 1)]
    assert np.max(np.abs(correlations)) < 0.6
    reference = sklearn_linear.LogisticRegression(C=np.inf, tol=1e-12, max_iter=100_000).fit(x, y)
    assert reference.score(x, y) < 0.95  # classes overlap: the unpenalised optimum is finite

    model = symcalc.load(str(DERIVATIONS / model_file))
    numeric = compile_model(symcalc.derive(model))
    data = {f"x{i + 1}": x[:, i] for i in range(len(columns))} | {"y": y}
    start = dict.fromkeys(numeric.parameters, 0.0)
    final = train(lambda p: numeric.evaluate(p, data), start, learning_rate=1.0, epochs=5000, tol=1e-8)

    assert final.stop is Stop.CONVERGED
    assert final.epoch < 3000
    ours = np.array([final.parameters[f"w{i + 1}"] for i in range(len(columns))] + [final.parameters["b"]])
    theirs = np.concatenate([reference.coef_[0], reference.intercept_])
    assert np.max(np.abs(ours - theirs)) < 1e-4
    probability = reference.predict_proba(x)[:, 1]
    their_loss = -np.mean(y * np.log(probability) + (1 - y) * np.log(1 - probability))
    assert final.loss == pytest.approx(their_loss, rel=1e-9)


def _quadratic(
    write_toml: Callable[[str], Path],
) -> Callable[[Mapping[str, float]], tuple[float, dict[str, float]]]:
    """L = (w*x - y)^2 on one sample x = 1, y = 0: L = w², dL/dw = 2w, so w := w·(1 − 2·lr)."""
    model = symcalc.load(
        str(
            write_toml(
                'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n[definitions]\nL = "(w*x - y)^2"\n'
            )
        )
    )
    numeric = compile_model(symcalc.derive(model))
    data = {"x": np.array([1.0]), "y": np.array([0.0])}
    return lambda p: numeric.evaluate(p, data)


def test_stops_on_the_first_non_finite_loss_keeping_the_last_finite_parameters(
    write_toml: Callable[[str], Path],
) -> None:
    records = list(descend(_quadratic(write_toml), {"w": 1.0}, learning_rate=1e100, epochs=100))
    last = records[-1]
    # By hand: w1 = 1 − 2e100 (loss 4e200, finite); w2 = w1·(1 − 2e200) ≈ 8e300, whose square overflows.
    w1 = 1.0 - 1e100 * 2.0
    assert abs(w1 * (1 - 2e100)) > math.sqrt(sys.float_info.max)
    assert last.stop is Stop.NON_FINITE
    assert last.epoch == 1
    assert last.parameters == {"w": w1}
    assert math.isfinite(last.loss)
    assert "the loss became inf at step 2; kept the parameters of step 1" in last.message
    assert "smaller learning rate" in last.message


def test_non_finite_at_the_start(write_toml: Callable[[str], Path]) -> None:
    [only] = list(descend(_quadratic(write_toml), {"w": 1e200}, learning_rate=0.1, epochs=10))
    assert only.stop is Stop.NON_FINITE
    assert only.message == "the loss became inf at the starting parameters"


def test_a_rising_loss_stops_with_advice(write_toml: Callable[[str], Path]) -> None:
    # lr = 1.5: w := −2w, the loss quadruples every epoch.
    last = train(_quadratic(write_toml), {"w": 1.0}, learning_rate=1.5, epochs=1000)
    assert last.stop is Stop.DIVERGING
    assert last.epoch == 10
    assert last.parameters["w"] == (-2.0) ** 10
    assert "try a smaller learning rate than 1.5" in last.message
    assert last.history == tuple(4.0**k for k in range(11))


def test_converges_below_tol_and_counts_epochs(write_toml: Callable[[str], Path]) -> None:
    # lr = 0.25: w halves each epoch; |dL/dw| = 2|w| = 2·2^−k < 1e-3 first at k = 11.
    last = train(_quadratic(write_toml), {"w": 1.0}, learning_rate=0.25, epochs=1000, tol=1e-3)
    first = next(k for k in range(100) if 2 * 0.5**k < 1e-3)
    assert (last.stop, last.epoch) == (Stop.CONVERGED, first)
    assert last.converged
    budget = train(_quadratic(write_toml), {"w": 1.0}, learning_rate=0.25, epochs=5, tol=1e-3)
    assert (budget.stop, budget.epoch, budget.parameters["w"]) == (Stop.EPOCHS, 5, 0.5**5)


def test_train_hands_on_every_record_descend_yields(write_toml: Callable[[str], Path]) -> None:
    """The progress display sees each epoch in order, the last one being what train returns."""
    evaluate = _quadratic(write_toml)
    seen: list[Epoch] = []
    last = train(evaluate, {"w": 1.0}, learning_rate=0.25, epochs=5, on_epoch=seen.append)
    expected = [(r.epoch, r.parameters, r.loss, r.stop) for r in descend(evaluate, {"w": 1.0}, 0.25, 5)]
    assert [(r.epoch, r.parameters, r.loss, r.stop) for r in seen] == expected
    assert seen[-1] is last and len(expected) == 6


def test_ctrl_c_reports_where_it_got_to(write_toml: Callable[[str], Path]) -> None:
    evaluate = _quadratic(write_toml)
    calls = 0

    def interrupted_at_the_fourth_call(params: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyboardInterrupt
        return evaluate(params)

    last = train(interrupted_at_the_fourth_call, {"w": 1.0}, learning_rate=0.25, epochs=100)
    assert (last.stop, last.epoch, last.parameters["w"]) == (Stop.INTERRUPTED, 2, 0.25)
    assert last.message == "interrupted at epoch 2"
    assert last.history == (1.0, 0.25, 0.0625)  # w = 1, 1/2, 1/4: the losses seen before Ctrl-C


@pytest.mark.parametrize(
    ("lr", "epochs", "tol", "text"),
    [
        (0.0, 10, 0.0, "learning rate"),
        (float("nan"), 10, 0.0, "learning rate"),
        (0.1, -1, 0.0, "epochs"),
        (0.1, 10, -1.0, "tolerance"),
    ],
)
def test_bad_settings(
    lr: float, epochs: int, tol: float, text: str, write_toml: Callable[[str], Path]
) -> None:
    with pytest.raises(DescentError, match=text):
        train(_quadratic(write_toml), {"w": 1.0}, learning_rate=lr, epochs=epochs, tol=tol)
