"""The runtime of generated modules (`symcalc.numeric.runtime*`): tested as the package's own code,
copied verbatim into every module, and the formulas beside it laid out as `ruff format` lays them out.

Oracles: mpmath for softmax and log-sum-exp, NumPy's one-pass sums for the blocks, ruff itself for
the layout of generated code.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.numeric import runtime
from symcalc.numeric.batch_code import batch_printer, generate_batch
from symcalc.numeric.code_style import assignment, returned, spaced
from symcalc.numeric.frameworks import generate_framework
from symcalc.numeric.names import CodeNames
from symcalc.numeric.runtime_text import definitions
from tests.conftest import REPO


@pytest.mark.slow
@pytest.mark.parametrize("target", ["numpy", "jax", "torch"])
def test_each_module_holds_the_runtime_as_its_source_spells_it(target: str) -> None:
    derivation = symcalc.derive(symcalc.load("softmax_network_vector"))
    text = generate_batch(derivation, True) if target == "numpy" else generate_framework(derivation, target)
    files = {"numpy": ["runtime.py"], "jax": ["runtime_jax.py"], "torch": ["runtime_torch.py"]}[target]
    expected = [d for file in files for d in definitions(file)]
    if target != "numpy":
        shared = ("_arguments", "_saved", "_shape", "load_parameters", "standardize")
        expected += [d for d in definitions("runtime.py") if d.name in shared]
        expected += list(definitions("runtime_frameworks.py"))
    optional = {
        "loss_gradient_hessian",
        "_maximum",
        "_minimum",
        "_heaviside",
        "_logaddexp",
        "_elementwise",
        "_ones",
        "_stack",  # only in a module whose formulas are its arrays' entries
    }
    for definition in expected:
        if definition.name not in optional:
            assert definition.text in text, definition.name
    # and nothing is defined twice (the framework's _array, not NumPy's)
    assert text.count("\ndef _array(") == 1
    assert ("\nimport numpy\n" in text) == (target == "numpy")


def test_blocks_add_up_to_the_one_pass_sum_on_any_number_of_threads() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(10_000, 3)), rng.normal(size=10_000)

    def sums(w: Any, xs: Any, ys: Any) -> list[Any]:
        return [xs.T @ (xs @ w - ys), np.sum((xs @ w - ys) ** 2)]

    w = np.array([0.5, -1.0, 2.0])
    results = [runtime._blocks(sums, (w,), (x, y), floats=2048, threads=t) for t in (1, 2, 3)]
    for result in results[1:]:  # to the last bit: the blocks and their runs are added in one order
        assert all(np.array_equal(a, b) for a, b in zip(results[0], result, strict=True))
    exact = sums(w, x, y)
    assert results[0][0] == pytest.approx(exact[0], rel=1e-12)
    assert results[0][1] == pytest.approx(exact[1], rel=1e-12)
    with pytest.raises(ValueError, match="no samples"):
        runtime._blocks(sums, (w,), (x[:0], y[:0]))


def test_means_add_the_part_the_same_for_every_row_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "PARAMETERS", {"w": ()})
    monkeypatch.setattr(runtime, "CONSTANTS", {"lamda": 0.5})
    calls: list[float] = []

    def penalty(w: Any, lamda: Any) -> list[Any]:
        calls.append(w)
        return [lamda * w**2, None]

    x = np.arange(5000.0)
    means = runtime._means(lambda w, lamda, xs: [np.sum(w * xs), np.sum(xs)], [penalty], [3.0, 0.5, x])
    assert means == [pytest.approx(3.0 * x.mean() + 4.5, rel=1e-15), pytest.approx(x.mean(), rel=1e-15)]
    assert calls == [3.0]


@pytest.mark.parametrize("scores", [[0.0, 1.0, 2.0], [900.0, -900.0, 899.0], [-1000.0, -1001.0, -999.5]])
def test_softmax_and_logsumexp_are_mpmaths_where_exp_overflows(scores: list[float]) -> None:
    z = np.array([scores])
    with mpmath.workdps(50):
        exps = [mpmath.exp(mpmath.mpf(s)) for s in scores]
        total = mpmath.fsum(exps)
        assert runtime._logsumexp(z)[0] == pytest.approx(float(mpmath.log(total)), rel=1e-15)
        want = [float(e / total) for e in exps]
    assert runtime._softmax(z)[0] == pytest.approx(want, rel=1e-14, abs=1e-300)


def test_a_saved_file_is_read_or_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "PARAMETERS", {"W": ("h", "n"), "b": ()})
    saved = {"saved_by": runtime.SAVED_BY, "format": runtime.FORMAT, "parameters": {"W": [[1, 2]], "b": 0.5}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(saved), encoding="utf-8")
    loaded = runtime.load_parameters(path)
    assert loaded["W"].tolist() == [[1.0, 2.0]] and loaded["W"].dtype == np.float64 and loaded["b"] == 0.5
    for value, message in [
        ([[1, 2], [3]], "'W' is not an array: its rows differ or are empty"),
        ([[1, True]], "'W' holds True, not a finite number"),
        ([[1, float("inf")]], "'W' holds inf, not a finite number"),
        ([1, 2], r"'W' has 1 axes, but this module's has 2 \('h', 'n'\)"),
    ]:
        path.write_text(json.dumps({**saved, "parameters": {"W": value, "b": 0.5}}), encoding="utf-8")
        with pytest.raises(ValueError, match=f"^{path}: parameter {message}$"):
            runtime.load_parameters(path)
    path.write_text(json.dumps({**saved, "format": 9}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"format 9; this module reads format 1$"):
        runtime.load_parameters(path)


# -- the formulas' layout, against ruff itself ----------------------------------------------------

_SYMBOLS = sp.symbols("w1 b lamda z_rows X dL_dz G numpy_", real=True)


def _expression(rng: random.Random, depth: int) -> sp.Expr:
    """A random expression of the kinds the printers write: sums, products, powers, quotients, calls."""
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([*_SYMBOLS, sp.Integer(rng.randint(1, 9)), sp.Rational(1, rng.randint(2, 5))])
    kind = rng.randrange(7)
    parts = [_expression(rng, depth - 1) for _ in range(rng.randint(3, 6))]
    if kind == 0:
        return sp.Add(*parts)
    if kind == 1:
        return sp.Mul(*parts)
    if kind == 2:
        return parts[0] ** rng.choice([2, -1, -2, sp.Rational(1, 2), parts[1]])
    if kind == 3:
        return parts[0] / parts[1]
    if kind == 4:
        return sp.exp(parts[0]) - sp.log(1 + parts[1] ** 2)
    if kind == 5:
        return sp.tanh(parts[0]) * sp.Max(parts[1], 0) - parts[2]
    return -sp.Add(*parts)


@pytest.mark.slow
def test_generated_lines_are_what_ruff_format_writes(tmp_path: Path) -> None:
    """Random expressions of every kind the printers write, each on its line, and long sums and
    products (a linear form of 40 features; sums of products in brackets, opened in turn) wrapped
    over several lines, as assignments and returned lists: ruff format changes none of them."""
    rng = random.Random(7)
    printer = batch_printer(CodeNames(_SYMBOLS))
    lines = ["import numpy", "", "", "def f(w1, b, lamda, z_rows, X, dL_dz, G, numpy_):"]
    short = 0
    for k in range(400):
        text = spaced(printer.doprint(_expression(rng, rng.choice([2, 3]))))
        if len(f"    v{k} = {text}") <= 110:
            lines += assignment("    ", f"v{k}", text)
            short += 1
    assert short > 200
    weights, features = sp.symbols("w1:41", real=True), sp.symbols("x1:41", real=True)
    linear = _SYMBOLS[1] + sum(w * x for w, x in zip(weights, features, strict=True))
    names = CodeNames([*_SYMBOLS, *weights, *features])
    printer = batch_printer(names)
    long = [
        linear,
        sp.tanh(linear),
        _SYMBOLS[0] * (linear - _SYMBOLS[2]) / (1 + _SYMBOLS[3] ** 2),
        sum(sp.exp(w) * x for w, x in zip(weights[:12], features[:12], strict=True)) ** 2,
    ]
    for k, value in enumerate(long):
        lines += assignment("    ", f"long{k}", spaced(printer.doprint(value)))
    lines += returned("    ", [spaced(printer.doprint(v)) for v in [*long[:2], _SYMBOLS[4]]])
    lines += returned("    ", [spaced(printer.doprint(v)) for v in _SYMBOLS])
    path = tmp_path / "layout.py"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run(
        [ruff, "format", "--check", "--diff", "--config", str(REPO / "pyproject.toml"), str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[:4000] + result.stderr
