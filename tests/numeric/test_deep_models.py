"""Deep models derive, generate code and train: the numeric program is the derivation's own pass.

The numbers are held to two oracles that do not go through symcalc's program or printer:
SymPy's `diff` of the composed loss evaluated by mpmath (at depths where composing is
feasible: a residual chain's composed loss doubles per layer), and central differences
of the generated module's own loss at the full depths of issue 19.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.descent import train
from symcalc.numeric.model import NumericModel
from tests import deep_models
from tests.generated import generated_module
from tests.numeric_oracle import exact_outputs

Build = Callable[[int], str]
FAMILIES: dict[str, Build] = {
    "tanh chain": deep_models.tanh_chain,
    "residual chain": deep_models.residual_chain,
    "network": deep_models.network,
}
#: Issue 19's depths, and depths small enough to compose the loss for SymPy's diff.
FULL = {"tanh chain": 200, "residual chain": 50, "network": 14}
COMPOSABLE = {"tanh chain": 12, "residual chain": 6, "network": 2}


def _derive(text: str, tmp_path: Path) -> symcalc.Derivation:
    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    return symcalc.derive(symcalc.load(str(path)))


def _data(program: symcalc.Program, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    data = {name: rng.standard_normal(n) for name in program.inputs}
    return data | {name: rng.integers(0, 2, n).astype(float) for name in program.targets}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_generated_gradient_equals_sympys_diff_of_the_composed_loss(family: str, tmp_path: Path) -> None:
    derivation = _derive(FAMILIES[family](COMPOSABLE[family]), tmp_path)
    model = derivation.model
    module = generated_module(derivation, tmp_path, "generated_deep")
    rng = np.random.default_rng(5)
    program = numeric_program(derivation)
    params = {p: float(0.7 * rng.standard_normal()) for p in program.parameters}
    data = _data(program, 4, rng)
    names = [*model.parameters, *model.inputs, *model.targets]
    oracle = sp.lambdify(names, exact_outputs(model)[1:], modules="mpmath", cse=True)
    with mpmath.workdps(40):
        columns = [*program.inputs, *program.targets]
        rows = [
            oracle(*(params[p] for p in program.parameters), *(float(data[c][i]) for c in columns))
            for i in range(4)
        ]
        want = [float(mpmath.fsum(column) / 4) for column in zip(*rows, strict=True)]
    got = module.gradient(params, data)
    for parameter, expected in zip(program.parameters, want, strict=True):
        assert got[parameter] == pytest.approx(expected, rel=1e-10, abs=1e-13), parameter


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_full_depth_derives_generates_and_trains(family: str, tmp_path: Path) -> None:
    derivation = _derive(FAMILIES[family](FULL[family]), tmp_path)
    program = numeric_program(derivation)
    # Linear size: a line per definition, adjoint and gradient at most.
    assert len(program.assignments) <= 2 * len(derivation.model.definitions) + len(program.parameters) + 1
    module = generated_module(derivation, tmp_path, "generated_deep")
    rng = np.random.default_rng(11)
    # Weights near 1.2 keep a 200-layer chain's signal alive (tanh's fixed point is ±0.66 then);
    # small random weights would make every gradient vanish and any comparison pass.
    centre = 1.2 if family == "tanh chain" else 0.0
    params = {p: float(centre + 0.3 * rng.standard_normal()) for p in program.parameters}
    data = _data(program, 64, rng)
    gradient = module.gradient(params, data)
    assert max(abs(g) for g in gradient.values()) > 1e-3
    # Central differences of the module's own loss (the forward pass alone), for every parameter.
    h = 1e-6
    for parameter in program.parameters:
        up, down = dict(params), dict(params)
        up[parameter] += h
        down[parameter] -= h
        estimate = (module.loss(up, data) - module.loss(down, data)) / (2 * h)
        assert gradient[parameter] == pytest.approx(estimate, rel=1e-5, abs=1e-8), parameter
    # symcalc's own back end gives the module's numbers, and training lowers the loss.
    numeric = NumericModel(program)
    loss, grads = numeric.evaluate(params, data)
    assert loss == pytest.approx(module.loss(params, data), rel=1e-12)
    assert all(grads[p] == pytest.approx(gradient[p], rel=1e-9, abs=1e-15) for p in program.parameters)
    final = train(lambda values: numeric.evaluate(values, data), params, learning_rate=0.05, epochs=30)
    assert final.loss < loss


@pytest.mark.slow
def test_the_200_layer_chain_equals_sympys_diff_of_its_composed_loss(tmp_path: Path) -> None:
    """At full depth for three weights (the first, middle and last): composing a 200-layer chain is
    linear in size, and SymPy's diff of it by one weight takes seconds (by all 200, minutes)."""
    import sys

    derivation = _derive(deep_models.tanh_chain(200), tmp_path)
    model = derivation.model
    module = generated_module(derivation, tmp_path, "generated_deep")
    rng = np.random.default_rng(17)
    program = numeric_program(derivation)
    params = {p: float(1.2 + 0.2 * rng.standard_normal()) for p in program.parameters}
    data = _data(program, 2, rng)
    got = module.gradient(params, data)
    names = [*model.parameters, *model.inputs, *model.targets]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))  # SymPy's printer recurses once per nesting level
    try:
        composed = model.composed[model.loss]
        for name in ("w1", "w100", "w200"):
            oracle = sp.lambdify(names, sp.diff(composed, model.symbols[name]), modules="mpmath", cse=True)
            with mpmath.workdps(40):
                rows = [oracle(*params.values(), float(data["x"][i]), float(data["y"][i])) for i in range(2)]
                want = float(mpmath.fsum(rows) / 2)
            assert want != 0 and got[name] == pytest.approx(want, rel=1e-10), name
    finally:
        sys.setrecursionlimit(limit)
