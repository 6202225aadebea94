"""Issue 14's rows: the batch module `codegen` writes for a vector model, against plain NumPy.

Run:  python benchmarks/vectors.py               (N = 1e6, d = 2 and 30; the derivation timings)
      python benchmarks/vectors.py --quick       (N = 1e5)
      python benchmarks/vectors.py --threads 1   (the module on one thread)

For logistic regression on d features (`derivations/logistic_regression_vector.toml`), the
generated module's `gradient` and `loss` are timed against the NumPy a person would write
from the formulas, in the same process on the same arrays:

    a = 1 / (1 + np.exp(-(X @ w + b)));  X.T @ (a - y) / m,  (a - y).mean()
    -mean(y * log(a) + (1 - y) * log(1 - a))

Each figure is the best of 7 runs after a warm-up, taken after 0.1 s idle: OpenBLAS's
threads spin for a moment after a large matrix product (plain NumPy's X @ w) and would take a
core from whatever is timed next. Ratios below 1 mean the module is faster. The module adds up
blocks of rows on THREADS threads (all the cores); "read X" is the least any pass over the
data can take: summing X once on as many threads. Also timed: deriving and verifying each
shipped vector model, and deriving the vector and batch forms alone, which do not depend on the
sizes. Prints, never fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from timing import best

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import symcalc  # noqa: E402
from symcalc.numeric.codegen import generate  # noqa: E402
from symcalc.symbolic.batch import derive_batch_form  # noqa: E402
from symcalc.symbolic.vector import derive_vector_form  # noqa: E402

DERIVATIONS = ROOT / "derivations"


def module_for(name: str, folder: pathlib.Path) -> Any:
    path = folder / f"{name}.py"
    path.write_text(generate(symcalc.derive(symcalc.Model.load(DERIVATIONS / f"{name}.toml"))))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plain_gradient(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    a = 1 / (1 + np.exp(-(x @ w + b)))
    return x.T @ (a - y) / len(y), float((a - y).mean())


def plain_loss(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> float:
    a = 1 / (1 + np.exp(-(x @ w + b)))
    return float(-np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)))


def settled(function: Callable[[], Any]) -> float:
    """best(function), after 0.1 s in which OpenBLAS's threads stop spinning."""
    time.sleep(0.1)
    return best(function)


def read_once(x: np.ndarray, threads: int) -> Callable[[], Any]:
    """Summing X once, its rows split between `threads` threads: the memory's floor for one pass."""
    pool = ThreadPoolExecutor(threads)
    cuts = np.linspace(0, len(x), threads + 1).astype(int)
    return lambda: sum(pool.map(lambda k: x[cuts[k] : cuts[k + 1]].sum(), range(threads)))


def row(module: Any, samples: int, features: int) -> str:
    """One row of the table: the module's gradient and loss against plain NumPy at N × d."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, features))
    y = (rng.random(samples) < 0.5).astype(float)
    w, b = rng.normal(size=features) * 0.1, 0.1
    params, data = {"w": w, "b": b}, {"x": x, "y": y}
    ours = settled(lambda: module.gradient(params, data))
    theirs = settled(lambda: plain_gradient(w, b, x, y))
    ours_loss = settled(lambda: module.loss(params, data))
    theirs_loss = settled(lambda: plain_loss(w, b, x, y))
    floor = settled(read_once(x, module.THREADS))
    grads = module.gradient(params, data)
    reference = plain_gradient(w, b, x, y)
    difference = max(np.abs(grads["w"] - reference[0]).max(), abs(float(grads["b"]) - reference[1]))
    times = f"{ours * 1e3:>10.2f} {theirs * 1e3:>10.2f} {ours / theirs:>7.2f}"
    losses = f"{ours_loss * 1e3:>10.2f} {theirs_loss * 1e3:>10.2f} {ours_loss / theirs_loss:>7.2f}"
    reading = f"{floor * 1e3:>8.2f} {floor / theirs_loss:>6.2f}"
    return f"{features:>4} {times} {losses} {reading} {difference:>11.1e}"


def scalar_model(features: int, folder: pathlib.Path) -> pathlib.Path:
    """Logistic regression on `features` inputs written in scalars, as logistic_regression_4 is."""
    xs = ", ".join(f'"x{k}"' for k in range(1, features + 1))
    ws = ", ".join(f'"w{k}"' for k in range(1, features + 1))
    z = " + ".join(f"w{k}*x{k}" for k in range(1, features + 1))
    path = folder / f"logistic_regression_{features}.toml"
    path.write_text(
        f'inputs = [{xs}]\ntargets = ["y"]\nparameters = [{ws}, "b"]\nloss = "L"\n[definitions]\n'
        f'z = "{z} + b"\na = "sigmoid(z)"\nL = "-(y*log(a) + (1 - y)*log(1 - a))"\n'
    )
    return path


def scalar_row(samples: int, features: int, folder: pathlib.Path, threads: int | None) -> str:
    """Loss and gradient of the scalar model by its batch module and by the C kernel (NumericModel's
    two fast back ends), against plain NumPy's loss and gradient in matrix form, on the same numbers."""
    derivation = symcalc.derive(symcalc.Model.load(scalar_model(features, folder)))
    module = symcalc.load_module(generate(derivation))
    module.THREADS = threads or module.THREADS
    kernel = symcalc.compile_model(derivation, "c")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, features))
    y = (rng.random(samples) < 0.5).astype(float)
    w, b = rng.normal(size=features) * 0.1, 0.1
    columns = {f"x{k + 1}": np.ascontiguousarray(x[:, k]) for k in range(features)} | {"y": y}
    params = {f"w{k + 1}": float(w[k]) for k in range(features)} | {"b": b}
    ours = settled(lambda: module.loss_and_gradient(params, columns))
    native = settled(lambda: kernel.evaluate(params, columns))
    theirs = settled(lambda: (plain_gradient(w, b, x, y), plain_loss(w, b, x, y)))
    return (
        f"{features:>4} {ours * 1e3:>10.2f} {native * 1e3:>10.2f} {theirs * 1e3:>10.2f} "
        f"{ours / theirs:>7.2f} {native / theirs:>7.2f}"
    )


def numbers(samples: int, folder: pathlib.Path, threads: int | None) -> None:
    module = module_for("logistic_regression_vector", folder)
    module.THREADS = threads or module.THREADS
    print(
        f"\nlogistic regression, N = {samples:.0e}: the generated batch module on {module.THREADS} threads "
        "against plain NumPy (ms; each ratio ÷ plain; read X ÷ plain loss, the least a loss's can be)"
    )
    header = ("d", "gradient", "plain", "ratio", "loss", "plain", "ratio", "read X", "ratio", "max |diff|")
    print("{:>4} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7} {:>8} {:>6} {:>11}".format(*header))
    for features in (2, 30):
        print(row(module, samples, features))
    print(
        f"\nthe same written in scalars (x1 … xd), N = {samples:.0e}: loss and gradient by the batch module "
        "and by the C kernel, against plain NumPy's loss and gradient in matrix form (ms; ratios ÷ plain)"
    )
    columns = ("d", "module", "C kernel", "plain", "module", "kernel")
    print("{:>4} {:>10} {:>10} {:>10} {:>7} {:>7}".format(*columns))
    for features in (4, 30):
        print(scalar_row(samples, features, folder, threads))


def timings(path: pathlib.Path) -> str:
    """Deriving and verifying one model, and deriving its vector and batch forms alone."""
    model = symcalc.Model.load(path)
    start = time.perf_counter()
    derivation = symcalc.derive(model)
    derive_time = time.perf_counter() - start
    start = time.perf_counter()
    symcalc.verify(derivation)
    verify_time = time.perf_counter() - start
    shaped = model.shaped
    assert shaped is not None

    def forms() -> None:
        vector = derive_vector_form(shaped, model.loss, shaped.parameters)
        derive_batch_form(shaped, vector, shaped.data, model.loss)

    return f"{path.stem:<28} {derive_time:>8.2f} {verify_time:>8.2f} {best(forms, 3):>22.3f}"


def symbolic() -> None:
    print("\nseconds: the derivation written out at the file's sizes; the vector and batch forms alone")
    print(f"{'model':<28} {'derive':>8} {'verify':>8} {'vector + batch forms':>22}")
    for path in sorted(DERIVATIONS.glob("*_vector.toml")):
        print(timings(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e5 instead of 1e6")
    parser.add_argument("--threads", type=int, help="the module's THREADS (by default, one per core)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        numbers(100_000 if args.quick else 1_000_000, pathlib.Path(folder), args.threads)
    symbolic()


if __name__ == "__main__":
    main()
