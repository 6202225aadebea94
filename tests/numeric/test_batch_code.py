"""`symcalc codegen` for models with vectors and matrices: the batch form's NumPy module.

Oracles that never go through symcalc's printer: each model's loss written by hand in
NumPy (tests/symbolic/test_vectors.py), central differences of it, and mpmath evaluation of SymPy's
diff of the written-out scalar loss, averaged over the samples.
"""

from __future__ import annotations

import ast
import sys
import tracemalloc
from pathlib import Path
from types import ModuleType

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.check.oracle import elementary
from symcalc.numeric.batch_code import generate_batch
from symcalc.spec.shapes import components
from tests.generated import generated_module
from tests.symbolic.test_vectors import DERIVATIONS, MODELS, Arrays

#: (model, sizes) at the file's sizes and at others: the module takes any sizes from its arrays.
CASES = [
    ("logistic_regression_vector", {"n": 2}),
    ("logistic_regression_vector", {"n": 30}),
    ("ridge_regression_vector", {"n": 4}),
    ("softmax_regression_vector", {"n": 3, "k": 4}),
    ("two_layer_network_vector", {"n": 3, "h": 5}),
]
SAMPLES = 40


def _module(name: str, folder: Path) -> ModuleType:
    return generated_module(symcalc.derive(symcalc.Model.load(DERIVATIONS / f"{name}.toml")), folder, name)


def _batch(name: str, sizes: dict[str, int], seed: int, samples: int = SAMPLES) -> tuple[Arrays, Arrays]:
    """Parameters, and data with one row per sample (soft targets summing to 1 for softmax)."""
    _, shapes, _ = MODELS[name]
    rng = np.random.default_rng(seed)
    data_names = {"x", "y"}
    params = {
        k: rng.normal(size=tuple(sizes[a] for a in s)) for k, s in shapes.items() if k not in data_names
    }
    x = rng.normal(size=(samples, sizes["n"]))
    y = rng.dirichlet(np.ones(sizes["k"]), size=samples) if "k" in sizes else rng.uniform(0.05, 0.95, samples)
    return params, {"x": x, "y": y}


def _mean_loss(name: str, params: Arrays, data: Arrays) -> float:
    forward, _, _ = MODELS[name]
    rows = zip(data["x"], data["y"], strict=True)
    return float(np.mean([forward({**params, "x": x, "y": np.asarray(y)}) for x, y in rows]))


@pytest.mark.parametrize(("name", "sizes"), CASES)
def test_the_modules_loss_is_the_hand_written_mean_loss(
    name: str, sizes: dict[str, int], tmp_path: Path
) -> None:
    module = _module(name, tmp_path)
    params, data = _batch(name, sizes, seed=1)
    assert module.loss(params, data) == pytest.approx(_mean_loss(name, params, data), rel=1e-12)
    value, grads = module.loss_and_gradient(params, data)
    assert value == module.loss(params, data)
    for key, gradient in module.gradient(params, data).items():
        assert np.array_equal(gradient, grads[key]) and gradient.shape == np.shape(params[key])


@pytest.mark.parametrize(("name", "sizes"), CASES)
def test_every_gradient_entry_is_the_central_difference_of_the_hand_written_mean_loss(
    name: str, sizes: dict[str, int], tmp_path: Path
) -> None:
    module = _module(name, tmp_path)
    params, data = _batch(name, sizes, seed=2)
    grads = module.gradient(params, data)
    step = 1e-6
    for key, value in params.items():
        for index in np.ndindex(np.shape(value)):
            up, down = np.array(value, dtype=float), np.array(value, dtype=float)
            up[index] += step
            down[index] -= step
            estimate = (
                _mean_loss(name, {**params, key: up}, data) - _mean_loss(name, {**params, key: down}, data)
            ) / (2 * step)
            assert grads[key][index] == pytest.approx(estimate, rel=1e-6, abs=1e-8), (key, index)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "sizes"), CASES[:1] + CASES[2:])
def test_every_gradient_equals_mpmaths_value_of_sympys_diff_of_the_written_out_loss(
    name: str, sizes: dict[str, int], tmp_path: Path
) -> None:
    """Averaged over three samples, at 40 digits: agreement to 1e-12 relative."""
    module = _module(name, tmp_path)
    model = symcalc.Model.load(DERIVATIONS / f"{name}.toml", sizes)
    params, data = _batch(name, sizes, seed=3, samples=3)
    grads = module.gradient(params, data)
    loss = elementary(model.composed[model.loss])
    symbols = model.symbols
    fixed = {symbols[k]: v for key, array in params.items() for k, v in _entries(key, array).items()}
    fixed |= {s: value for s, value in model.constants}
    for key, array in params.items():
        for index in np.ndindex(np.shape(array)):
            entry = symbols[_entry_name(key, np.shape(array), index)]
            derivative = sp.lambdify(list(model.independents), sp.diff(loss, entry), modules="mpmath")
            with mpmath.workdps(40):
                total = mpmath.mpf(0)
                for x, y in zip(data["x"], data["y"], strict=True):
                    sample = fixed | {
                        symbols[k]: v for k, v in {**_entries("x", x), **_entries("y", y)}.items()
                    }
                    total += derivative(*[mpmath.mpf(float(sample[s])) for s in model.independents])
                expected = float(total / 3)
            assert grads[key][index] == pytest.approx(expected, rel=1e-12, abs=1e-14), (key, index)


def _entries(name: str, array: np.ndarray) -> dict[str, float]:
    array = np.asarray(array)
    if array.ndim == 0:
        return {name: float(array)}
    return dict(zip(components(name, array.shape), map(float, array.flat), strict=True))


def _entry_name(name: str, shape: tuple[int, ...], index: tuple[int, ...]) -> str:
    return components(name, shape)[int(np.ravel_multi_index(index, shape))] if shape else name


def test_the_module_reads_like_the_batch_form_and_gradient_computes_no_loss(tmp_path: Path) -> None:
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / "two_layer_network_vector.toml"))
    source = generate_batch(derivation, standalone=True)  # with the runtime's text
    tree = ast.parse(source)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    sums = ast.get_source_segment(source, functions["_gradient_sums"]) or ""
    assert "S = c + X @ W.T" in sums and "dL_dS.T @ X," in sums
    assert "G.T @ dL_dz," in sums and "L = " not in sums
    means = ast.get_source_segment(source, functions["gradient"]) or ""
    assert "_means(_gradient_sums, [_gradient_fixed], values)" in means
    imported = {node.names[0].name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)}
    assert imported - set(sys.stdlib_module_names) == {"numpy"}


@pytest.mark.slow
def test_a_penalty_is_added_once_per_call(tmp_path: Path) -> None:
    """The L2 penalty depends on no row: summed in every block of rows it was computed once per
    minibatch of a network (sum(W**2) over 784 x 128 entries)."""
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / "softmax_network_vector.toml"))
    module = generated_module(derivation, tmp_path, "penalised")
    source = Path(module.__file__ or "").read_text()
    functions = {node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    for name in ("_loss_sums", "_gradient_sums", "_both_sums"):
        text = ast.get_source_segment(source, functions[name]) or ""
        assert "W**2" not in text and "V**2" not in text, name
    # the penalty once in the means, and the loss still right: cross-entropy + lamda/2 (|W|^2 + |V|^2)
    rng = np.random.default_rng(3)
    params = {"W": rng.normal(size=(4, 3)), "c": rng.normal(size=4), "V": rng.normal(size=(5, 4))}
    params["b"] = rng.normal(size=5)
    x, y = rng.normal(size=(30, 3)), np.eye(5)[rng.integers(0, 5, 30)]
    scores = np.tanh(x @ params["W"].T + params["c"]) @ params["V"].T + params["b"]
    logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    lamda = module.CONSTANTS["lamda"]
    penalty = lamda / 2 * (np.sum(params["W"] ** 2) + np.sum(params["V"] ** 2))
    expected = float(-np.mean(np.sum(y * logp, axis=1)) + penalty)
    assert module.loss(params, {"x": x, "y": y}) == pytest.approx(expected, rel=1e-13)
    assert module.loss_and_gradient(params, {"x": x, "y": y})[0] == pytest.approx(expected, rel=1e-13)


def _many_blocks(rows: int, seed: int = 5) -> tuple[Arrays, Arrays]:
    """Logistic regression's parameters and `rows` samples of 2 features: rows / 87 381 blocks of X."""
    rng = np.random.default_rng(seed)
    data = {"x": rng.normal(size=(rows, 2)), "y": (rng.random(rows) < 0.5).astype(float)}
    return {"w": np.array([0.7, -1.3]), "b": np.array(0.2)}, data


def test_threads_share_the_blocks_and_the_sums_do_not_depend_on_how_many(tmp_path: Path) -> None:
    module = _module("logistic_regression_vector", tmp_path)
    params, data = _many_blocks(400_000)  # 5 blocks: threads take 3 and 2, or 2, 2 and 1
    results = {}
    for threads in (1, 2, 3):
        module.__dict__["THREADS"] = threads
        value, grads = module.loss_and_gradient(params, data)
        results[threads] = (value, grads["w"].tolist(), float(grads["b"]))
    assert results[1] == results[2] == results[3]  # to the last bit: blocks are added in their order
    # the same numbers as NumPy written by hand over the whole batch at once
    a = 1 / (1 + np.exp(-(data["x"] @ params["w"] + params["b"])))
    assert results[2][1] == pytest.approx(data["x"].T @ (a - data["y"]) / len(a), rel=1e-12)
    assert results[2][2] == pytest.approx(float(np.mean(a - data["y"])), rel=1e-12)
    loss = -np.mean(data["y"] * np.log(a) + (1 - data["y"]) * np.log(1 - a))
    assert results[2][0] == pytest.approx(float(loss), rel=1e-12)


def test_the_blocks_sums_wait_a_few_at_a_time_not_all_at_once(tmp_path: Path) -> None:
    # 200 blocks whose sums are 0.8 MB each: held all until the end, they took 160 MB
    blocks = _module("logistic_regression_vector", tmp_path).__dict__["_blocks"]
    rows = (np.zeros((200 * 1024, 1)),)  # one float per sample: floats=1024 makes blocks of 1024 rows

    def sums(block: np.ndarray) -> list[np.ndarray]:
        return [np.full(100_000, float(len(block)))]

    for threads in (1, 2):
        tracemalloc.start()
        total = blocks(sums, (), rows, floats=1024, threads=threads)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert total[0][0] == 200 * 1024.0
        assert peak < 24 * 800_000, (threads, peak)  # CHUNKS runs' sums and a block per thread


def test_a_thread_of_the_pool_keeps_the_callers_floating_point_settings(tmp_path: Path) -> None:
    # pytest turns warnings into errors: a block whose exp overflows in a thread of the pool that
    # did not take the caller's numpy.errstate(all="ignore") would end the call in an exception.
    module = _module("logistic_regression_vector", tmp_path)
    module.__dict__["THREADS"] = 2
    params, data = _many_blocks(200_000)
    data["x"][150_000:] = [-1e4, 0.0]  # z = -7000 in the second block only: exp(-z) overflows there
    value, grads = module.loss_and_gradient(params, data)
    assert np.isfinite(value) and np.all(np.isfinite(grads["w"])) and np.isfinite(grads["b"])


def test_a_confident_right_answer_keeps_its_small_loss(tmp_path: Path) -> None:
    # z = ±40 on the right side: the loss is log(1 + e^−40) = 4.2e-18, which float64 holds; a sum
    # that added it to ±40 before cancelling the 40s would return 0.
    module = _module("logistic_regression_vector", tmp_path)
    params = {"w": np.array([40.0, 0.0]), "b": np.array(0.0)}
    for x, y in (([1.0, 0.0], 1.0), ([-1.0, 0.0], 0.0)):
        value = module.loss(params, {"x": np.array([x]), "y": np.array([y])})
        assert value == pytest.approx(float(mpmath.log1p(mpmath.exp(-40))), rel=1e-14, abs=0), (x, y)


WEIGHTED = """
title = "Logistic regression, each sample's loss weighted by s"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["w[n]", "b"]
[dimensions]
n = 2
[constants]
s = 3
[definitions]
z = "w @ x + b"
a = "sigmoid(z)"
L = "s*(-(y*log(a) + (1 - y)*log(1 - a)))"
"""


def test_a_weighted_confident_right_answer_keeps_its_small_loss(tmp_path: Path) -> None:
    # the weight s multiplies the sum out of brackets: s*max(0, z) - s*y*z + s*log1p(...), the
    # log1p term still added last (in brackets with max(0, z) it was lost: 40 + 4e-18 is 40)
    path = tmp_path / "weighted.toml"
    path.write_text(WEIGHTED, encoding="utf-8")
    module = generated_module(symcalc.derive(symcalc.Model.load(path)), tmp_path, "weighted")
    params = {"w": np.array([40.0, 0.0]), "b": np.array(0.0)}
    value = module.loss(params, {"x": np.array([[1.0, 0.0]]), "y": np.array([1.0])})
    assert value == pytest.approx(3 * float(mpmath.log1p(mpmath.exp(-40))), rel=1e-14, abs=0)


def test_no_samples_is_a_clear_error(tmp_path: Path) -> None:
    module = _module("logistic_regression_vector", tmp_path)
    params, data = _many_blocks(0)
    with pytest.raises(ValueError, match="no samples"):
        module.gradient(params, data)


def test_far_out_the_module_stays_finite_where_naive_numpy_does_not(tmp_path: Path) -> None:
    module = _module("logistic_regression_vector", tmp_path)
    data = {"x": np.array([[1.0, 0.0], [-1.0, 0.0]]), "y": np.array([0.0, 1.0])}
    params = {"w": np.array([1e4, 0.0]), "b": np.array(0.0)}  # z = ±1e4, both samples wrong
    with np.errstate(all="ignore"):
        naive_a = 1 / (1 + np.exp(-(data["x"] @ params["w"])))
        naive = np.mean(-(data["y"] * np.log(naive_a) + (1 - data["y"]) * np.log(1 - naive_a)))
    assert not np.isfinite(naive)
    assert module.loss(params, data) == pytest.approx(1e4, rel=1e-12)
    grads = module.gradient(params, data)
    assert np.allclose(grads["w"], [1.0, 0.0]) and float(grads["b"]) == pytest.approx(0.0, abs=1e-12)


def test_softmax_scores_of_plus_minus_900_give_the_exact_loss(tmp_path: Path) -> None:
    module = _module("softmax_regression_vector", tmp_path)
    params = {"W": np.zeros((3, 2)), "c": np.array([900.0, -900.0, 0.0])}
    data = {"x": np.zeros((1, 2)), "y": np.array([[0.0, 1.0, 0.0]])}
    assert module.loss(params, data) == pytest.approx(1800.0, rel=1e-15)
    grads = module.gradient(params, data)
    assert np.allclose(grads["c"], [1.0, -1.0, 0.0])


def test_predict_needs_the_inputs_only(tmp_path: Path) -> None:
    module = _module("two_layer_network_vector", tmp_path)
    params, data = _batch("two_layer_network_vector", {"n": 2, "h": 3}, seed=4)
    predicted = module.predict(params, {"x": data["x"]})
    hand = 1 / (1 + np.exp(-(np.tanh(data["x"] @ params["W"].T + params["c"]) @ params["v"] + params["b"])))
    assert list(predicted) == ["a"] and np.allclose(predicted["a"], hand, rtol=1e-14)


@pytest.mark.parametrize(("samples", "features"), [(200_003, 2), (20_001, 30)])
def test_blocks_of_rows_add_up_to_the_one_pass_result(samples: int, features: int, tmp_path: Path) -> None:
    """The module sums over blocks of rows (2 MB of X each); with a partial last block, the means
    are those of plain NumPy over the whole batch at once."""
    module = _module("logistic_regression_vector", tmp_path)
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(samples, features)), (rng.random(samples) < 0.5).astype(float)
    w, b = rng.normal(size=features), 0.3
    z = x @ w + b
    a = 1 / (1 + np.exp(-z))
    loss, grads = module.loss_and_gradient({"w": w, "b": b}, {"x": x, "y": y})
    # the cross-entropy as log(1 + e^z) - y z: the textbook form loses digits where a rounds to 1
    assert loss == pytest.approx(float(np.mean(np.logaddexp(0, z) - y * z)), rel=1e-12)
    assert np.allclose(grads["w"], x.T @ (a - y) / samples, rtol=1e-12, atol=1e-15)
    assert float(grads["b"]) == pytest.approx(float(np.mean(a - y)), rel=1e-10, abs=1e-15)
