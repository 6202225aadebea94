"""Every shipped model, and graphs built for the test, against SymPy's diff of the composed loss."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.symbolic.functions import sigmoid
from symcalc.symbolic.steps import ChainRule
from tests.conftest import DERIVATIONS
from tests.oracle import agree_numerically, composed_gradient

MODELS = sorted(DERIVATIONS.glob("*.toml"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem == "softmax_regression" else [])
        for p in MODELS
    ],
)
def test_every_shipped_model_matches_the_oracle(path: Path) -> None:
    model = symcalc.load(str(path))
    derivation = symcalc.derive(model)
    assert set(derivation.gradients) == set(model.parameters)
    for parameter, gradient in derivation.gradients.items():
        oracle = composed_gradient(model, parameter)
        # a result may read an upstream dL/dc (layer norm's dL/dmu, attention's dL/dq): in_names writes it out
        named = derivation.in_names(gradient)
        assert agree_numerically(model, named, oracle, points=4), (path.stem, parameter)


def test_two_layer_network_reads_as_backpropagation() -> None:
    derivation = symcalc.derive(symcalc.load("two_layer_network"))
    m = derivation.model
    a, y, v1, h1, x1 = (m.symbols[n] for n in ("a", "y", "v1", "h1", "x1"))
    assert derivation.gradient("u11") == (a - y) * v1 * (1 - h1**2) * x1
    chain_nodes = [str(s.node) for s in derivation.steps if type(s) is ChainRule]
    assert chain_nodes == ["z", "h1", "h2", "s1", "s2"]  # layer by layer, output first


def test_softmax_uses_the_one_hot_assumption() -> None:
    derivation = symcalc.derive(symcalc.load("softmax_regression"))
    m = derivation.model
    a1, y1 = m.symbols["a1"], m.symbols["y1"]
    step = next(s for s in derivation.steps if isinstance(s, ChainRule) and s.node == m.symbols["z1"])
    assert step.equations[0].result == a1 - y1
    assert step.equations[0].using == ("y1 + y2 + y3 = 1",)
    assert derivation.local_derivatives[(m.symbols["a1"], m.symbols["z2"])] == -a1 * m.symbols["a2"]


def _printed_size(expr: sp.Expr) -> int:
    return len(str(expr))


@pytest.mark.slow
def test_chain_of_fifty_definitions() -> None:
    x, w, y = sp.symbols("x w y", real=True)
    hs = sp.symbols("h1:51", real=True)
    L = sp.Symbol("L", real=True)
    definitions: dict[sp.Symbol, sp.Expr] = {hs[0]: sp.tanh(w * x)}
    for previous, current in itertools.pairwise(hs):
        definitions[current] = sp.tanh(w * previous)
    definitions[L] = (hs[-1] - y) ** 2 / 2
    model = symcalc.Model.build(definitions, parameters=[w], inputs=[x], targets=[y])
    derivation = symcalc.derive(model)
    oracle = composed_gradient(model, w)
    assert agree_numerically(model, derivation.in_names(derivation.gradients[w]), oracle, points=2)
    # Each adjoint is one factor longer than the one before: linear growth, no blow-up.
    sizes = [_printed_size(derivation.adjoints[h]) for h in reversed(hs)]
    assert all(b - a <= 30 for a, b in itertools.pairwise(sizes)), sizes


def test_twenty_parameters_feeding_one_node() -> None:
    ws = sp.symbols("w1:21", real=True)
    xs = sp.symbols("x1:21", real=True)
    y, z, a, L = sp.symbols("y z a L", real=True)
    model = symcalc.Model.build(
        {
            z: sum(w * x for w, x in zip(ws, xs, strict=True)),
            a: sigmoid(z),
            L: -(y * sp.log(a) + (1 - y) * sp.log(1 - a)),
        },
        parameters=list(ws),
        targets=[y],
    )
    derivation = symcalc.derive(model)
    for w, x in zip(ws, xs, strict=True):
        assert derivation.gradients[w] == x * (a - y)
    assert agree_numerically(model, derivation.gradients[ws[7]], composed_gradient(model, ws[7]))


@pytest.mark.slow
def test_stacked_diamonds_stay_small() -> None:
    """Ten diamonds in a row (u → p, q → v): 2**10 paths, yet results stay compact."""
    x, w, y = sp.symbols("x w y", real=True)
    definitions: dict[sp.Symbol, sp.Expr] = {}
    previous: sp.Expr = w * x
    for i in range(10):
        p, q, v = sp.symbols(f"p{i} q{i} v{i}", real=True)
        definitions[p] = sp.sin(previous)
        definitions[q] = sp.cos(previous)
        definitions[v] = p * q
        previous = v
    L = sp.Symbol("L", real=True)
    definitions[L] = (previous - y) ** 2
    model = symcalc.Model.build(definitions, parameters=[w], inputs=[x], targets=[y])
    derivation = symcalc.derive(model)
    gradient = derivation.in_names(derivation.gradients[w])
    assert agree_numerically(model, gradient, composed_gradient(model, w), points=2)
    assert max(_printed_size(e) for e in derivation.adjoints.values()) < 400
