"""Issue 15's table: time to reach scikit-learn's optimum on 1e5 × 30, by method, side by side.

Run:  python benchmarks/second_order.py           (m = 1e5 samples, n = 30 features)
      python benchmarks/second_order.py --quick   (m = 1e4)

The model is L2-penalised logistic regression in vector notation (J = L + λ/2·w·w, λ = 1e-3),
on synthetic data (standard normal features, labels drawn from a logistic model), in one process:

- scikit-learn `LogisticRegression(C = 1/(λm))` with `newton-cholesky` and with `lbfgs`;
- symcalc `newton` (the Hessian from the batch module, Xᵀ S X / m), `lbfgs` (SciPy) and
  gradient descent (lr 1, at most 2000 epochs), each on the compiled model, from zero.

Every row is the best of 3 runs; its distance is the largest |θ − θ*| to the optimum θ* that
`newton-cholesky` reaches at tol 1e-12. Deriving the model with its second derivatives (done
once, before any row) is timed on its own. Prints, never fails.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import symcalc  # noqa: E402
from symcalc.numeric.codegen import numeric_program  # noqa: E402
from symcalc.numeric.descent import descend, run  # noqa: E402
from symcalc.numeric.lbfgs import lbfgs  # noqa: E402
from symcalc.numeric.model import NumericModel  # noqa: E402
from symcalc.numeric.newton import newton  # noqa: E402

LAMBDA = 1e-3
FEATURES = 30
MODEL = f"""
title = "L2-penalised logistic regression"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["w[n]", "b"]
loss = "J"
[dimensions]
n = {FEATURES}
[constants]
lamda = {LAMBDA}
[definitions]
z = "w @ x + b"
a = "sigmoid(z)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
J = "L + lamda/2*(w @ w)"
"""


def best(function: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def data(samples: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(samples, FEATURES))
    truth = rng.normal(size=FEATURES) / np.sqrt(FEATURES) * 3
    labels = (rng.random(samples) < 1 / (1 + np.exp(-(features @ truth + 0.5)))).astype(float)
    return features, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="m = 1e4 instead of 1e5")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    samples = 10_000 if args.quick else 100_000
    features, labels = data(samples)
    c = 1 / (LAMBDA * samples)

    def sklearn(solver: str, tol: float) -> np.ndarray:
        fitted = LogisticRegression(C=c, solver=solver, tol=tol, max_iter=10_000).fit(features, labels)
        return np.r_[fitted.coef_[0], fitted.intercept_]

    optimum = sklearn("newton-cholesky", 1e-12)
    with_path = pathlib.Path("/tmp/symcalc_bench_l2.toml")
    with_path.write_text(MODEL, encoding="utf-8")
    started = time.perf_counter()
    derivation = symcalc.derive(symcalc.Model.load(with_path, {"n": FEATURES}), hessian=True)
    numeric = NumericModel(numeric_program(derivation))
    numeric.build()
    derive_time = time.perf_counter() - started
    columns = {f"x{i + 1}": features[:, i].copy() for i in range(FEATURES)} | {"y": labels}
    start = dict.fromkeys(numeric.parameters, 0.0)

    def evaluate(params: Any) -> tuple[float, dict[str, float]]:
        return numeric.evaluate(params, columns)

    def ours(records: Any) -> np.ndarray:
        last = run(records)
        ours.iterations = last.epoch  # type: ignore[attr-defined]
        return np.array([last.parameters[p] for p in numeric.parameters])

    second = numeric.second_order_on(columns)
    rows: list[tuple[str, Callable[[], np.ndarray]]] = [
        ("scikit-learn newton-cholesky", lambda: sklearn("newton-cholesky", 1e-8)),
        ("scikit-learn lbfgs", lambda: sklearn("lbfgs", 1e-8)),
        ("symcalc newton", lambda: ours(newton(second, lambda p: evaluate(p)[0], start, 50, 1e-8))),
        ("symcalc lbfgs", lambda: ours(lbfgs(evaluate, start, 10_000, 1e-8))),
        ("symcalc gradient descent", lambda: ours(descend(evaluate, start, 1.0, 2000, 1e-8))),
    ]
    print(f"\nL2 logistic regression, m = {samples:.0e}, n = {FEATURES}, λ = {LAMBDA:g}: time to the optimum")
    print(f"derive with second derivatives + compile: {derive_time:.2f} s (once)\n")
    print(f"{'method':<30} {'seconds':>9} {'iterations':>11} {'max |θ − θ*|':>13}")
    for name, function in rows:
        ours.iterations = None  # type: ignore[attr-defined]
        seconds, theta = best(function)
        iterations = getattr(ours, "iterations", None)
        shown = "" if iterations is None else str(iterations)
        print(f"{name:<30} {seconds:>9.3f} {shown:>11} {np.abs(theta - optimum).max():>13.1e}")


if __name__ == "__main__":
    main()
