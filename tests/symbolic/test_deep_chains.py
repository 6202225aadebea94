"""Deep chains: what `derive` handles by walking the graph, `verify`'s oracle handles composed.

The oracle differentiates the composed loss with SymPy, which recurses through its depth, several
Python frames a level: a chain of 39 sigmoid layers needs about 2000 frames, past Python's default
1000, and `verify` said "too deeply nested" where `derive` worked. The time-limited child gives the
work room for 20 000.
"""

from __future__ import annotations

from pathlib import Path

import mpmath
import pytest
import sympy as sp

import symcalc
from symcalc.check.oracle import independent_derivative
from symcalc.errors import LimitError
from symcalc.isolate import run_limited

LAYERS = 39


def _chain(tmp_path: Path) -> str:
    """h1 = σ(w·x), h_k = σ(h_(k-1)), L = (h_39 - y)²."""
    lines = ['inputs = ["x"]', 'targets = ["y"]', 'parameters = ["w"]', 'loss = "L"', "[definitions]"]
    lines.append('h1 = "sigmoid(w*x)"')
    lines += [f'h{k} = "sigmoid(h{k - 1})"' for k in range(2, LAYERS + 1)]
    lines.append(f'L = "(h{LAYERS} - y)^2"')
    path = tmp_path / "chain.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _oracle_at(path: str, point: dict[str, float]) -> float:
    """verify's oracle for dL/dw, SymPy's diff of the composed loss, at `point`."""
    model = symcalc.load(path)
    derivative = independent_derivative(model, model.loss, model.symbols["w"])
    return float(derivative.xreplace({model.symbols[n]: sp.Float(v, 40) for n, v in point.items()}))


def _loss(w: mpmath.mpf, x: float, y: float) -> mpmath.mpf:
    h = 1 / (1 + mpmath.exp(-w * x))
    for _ in range(LAYERS - 1):
        h = 1 / (1 + mpmath.exp(-h))
    return (h - y) ** 2


@pytest.mark.slow
def test_the_oracle_of_a_39_layer_chain_runs_in_the_child(tmp_path: Path) -> None:
    point = {"w": 0.7, "x": 1.3, "y": 0.2}
    got = run_limited(_oracle_at, _chain(tmp_path), point, timeout=300)
    with mpmath.workdps(80):  # the gradient is about 5e-26 (σ′ ≤ 1/4 a layer): the loss's digits are deep
        step = mpmath.mpf("1e-20")
        w, x, y = mpmath.mpf(point["w"]), point["x"], point["y"]
        central = (_loss(w + step, x, y) - _loss(w - step, x, y)) / (2 * step)
    assert got == pytest.approx(float(central), rel=1e-9)


def _nested(depth: int) -> int:
    x = sp.Symbol("x")
    expr: sp.Expr = x
    for _ in range(depth):
        expr = sp.exp(sp.Add(1, expr, evaluate=False), evaluate=False)
    return len(expr.free_symbols)


@pytest.mark.slow
def test_the_child_recurses_deeply_and_still_stops_cleanly() -> None:
    """1500 levels (about 3000 frames) work; 20 000 levels are a one-line LimitError, never a crash."""
    assert run_limited(_nested, 1500, timeout=60) == 1
    with pytest.raises(LimitError, match="too deeply nested"):
        run_limited(_nested, 20_000, timeout=60)
