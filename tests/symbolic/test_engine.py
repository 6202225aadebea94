"""The chain-rule engine: the seed's five steps, and gradients equal to SymPy's diff of the composed loss."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

import symcalc
from symcalc.symbolic.functions import sigmoid, step, to_elementary
from symcalc.symbolic.steps import ChainRule, LocalDerivatives, ParameterGradients, Recognition
from tests.conftest import WriteToml
from tests.oracle import agree_numerically, composed_gradient


def sym(model: symcalc.Model, name: str) -> sp.Symbol:
    return model.symbols[name]


def test_seed_has_the_pages_five_steps(seed: symcalc.Derivation) -> None:
    kinds = [type(s) for s in seed.steps]
    assert kinds == [
        LocalDerivatives,
        LocalDerivatives,
        ChainRule,
        LocalDerivatives,
        ParameterGradients,
    ]
    assert [s.number for s in seed.steps] == [1, 2, 3, 4, 5]
    names = [[eq.name for eq in s.equations] for s in seed.steps]
    assert names == [
        ["∂L/∂a"],
        ["∂a/∂z"],
        ["dL/dz"],
        ["∂z/∂w1", "∂z/∂w2", "∂z/∂b"],
        ["dL/dw1", "dL/dw2", "dL/db"],
    ]


def test_each_kind_of_step_is_final_data(seed: symcalc.Derivation) -> None:
    kinds = (LocalDerivatives, ChainRule, ParameterGradients, Recognition)
    # Abstract or final: no kind of step is a special case of another.
    assert not [(a, b) for a in kinds for b in kinds if a is not b and issubclass(a, b)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        seed.steps[0].number = 9


def test_seed_results_in_intermediate_names(seed: symcalc.Derivation) -> None:
    m = seed.model
    a, y, z = sym(m, "a"), sym(m, "y"), sym(m, "z")
    x1, x2 = sym(m, "x1"), sym(m, "x2")
    step1, step2, step3, step4, _ = seed.steps
    # Step 1: -y/a + (1-y)/(1-a), as differentiation gives it, not cancelled to one fraction.
    assert step1.equations[0].result == -y / a + (1 - y) / (1 - a)
    # Step 2: sigma'(z) re-expressed in terms of the node's own output a.
    assert step2.equations[0].unsimplified == sigmoid(z) * (1 - sigmoid(z))
    assert step2.equations[0].result == a * (1 - a)
    # Step 3: the product before simplification, and a - y after.
    eq3 = step3.equations[0]
    assert eq3.unsimplified is not None
    assert sp.simplify(eq3.unsimplified.args[0] - (-y / a + (1 - y) / (1 - a))) == 0
    assert eq3.result == a - y
    assert [eq.result for eq in step4.equations] == [x1, x2, 1]
    assert seed.gradient("w1") == (a - y) * x1
    assert seed.gradient("w2") == (a - y) * x2
    assert seed.gradient("b") == a - y


def test_seed_gradients_match_sympy_diff_of_composed_loss(seed: symcalc.Derivation) -> None:
    model = seed.model
    for parameter, gradient in seed.gradients.items():
        oracle = composed_gradient(model, parameter)
        ours = to_elementary(model.expand(gradient))
        assert sp.simplify(ours - oracle) == 0, parameter
        assert agree_numerically(model, gradient, oracle)


def test_updates_use_alpha(seed: symcalc.Derivation) -> None:
    m = seed.model
    alpha = seed.learning_rate
    assert alpha.name == "alpha"
    update = seed.updates[0]
    assert update.parameter == sym(m, "w1")
    assert sp.expand(update.value - (sym(m, "w1") - alpha * seed.gradient("w1"))) == 0
    assert str(update.rule) == "w1 - alpha*x1*(a - y)"


def test_fan_out_sums_every_path(write_toml: WriteToml) -> None:
    path = write_toml(
        """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w", "b"]
[definitions]
z = "w*x1 + w*x2 + b"
u = "tanh(z)"
v = "z**2"
L = "(u + v - y)**2"
"""
    )
    model = symcalc.load(str(path))
    derivation = symcalc.derive(model)
    for parameter, gradient in derivation.gradients.items():
        oracle = composed_gradient(model, parameter)
        assert agree_numerically(model, gradient, oracle), parameter
    # z feeds u and v: its chain-rule step counts two paths and shows a term for each.
    z = sym(model, "z")
    step = next(s for s in derivation.steps if isinstance(s, ChainRule) and s.node == z)
    chain = step.equations[0].chain
    assert step.paths == 2
    assert chain is not None and len(chain.args) == 2
    # tanh' re-expressed through the output u.
    u = sym(model, "u")
    assert derivation.local_derivatives[(u, z)] == 1 - u**2


def test_weight_used_twice_collects_both_paths(write_toml: WriteToml) -> None:
    path = write_toml(
        """
inputs = ["x"]
targets = ["y"]
parameters = ["w"]
[definitions]
h = "tanh(w*x)"
a = "w*h"
L = "(a - y)**2/2"
"""
    )
    model = symcalc.load(str(path))
    derivation = symcalc.derive(model)
    w = sym(model, "w")
    oracle = composed_gradient(model, w)
    assert sp.simplify(to_elementary(model.expand(derivation.gradients[w])) - oracle) == 0
    final = derivation.steps[-1].equations[0]
    assert final.chain is not None and len(final.chain.args) == 2  # dL/da*da/dw + dL/dh*dh/dw


def test_parameter_that_does_not_reach_the_loss_has_zero_gradient(write_toml: WriteToml) -> None:
    path = write_toml('inputs = ["x"]\nparameters = ["w", "unused"]\n[definitions]\nL = "(w*x)**2"\n')
    derivation = symcalc.derive(symcalc.load(str(path)))
    assert derivation.gradient("unused") == 0
    assert derivation.gradient("w") == 2 * derivation.model.symbols["w"] * derivation.model.symbols["x"] ** 2


def test_steps_are_deterministic(seed_model: symcalc.Model) -> None:
    first = symcalc.derive(seed_model)
    for _ in range(3):
        again = symcalc.derive(seed_model)
        assert [str(s) for s in again.steps] == [str(s) for s in first.steps]


def test_model_built_from_sympy_goes_through_the_same_engine(seed: symcalc.Derivation) -> None:
    x1, x2, y, w1, w2, b = sp.symbols("x1 x2 y w1 w2 b", real=True)
    z, a, L = sp.symbols("z a L", real=True)
    model = symcalc.Model.build(
        definitions={
            z: w1 * x1 + w2 * x2 + b,
            a: symcalc.sigmoid(z),
            L: -(y * sp.log(a) + (1 - y) * sp.log(1 - a)),
        },
        parameters=[w1, w2, b],
        targets=[y],
    )
    assert model.inputs == (x1, x2)
    derivation = symcalc.derive(model)
    assert derivation.gradients[w1] == (a - y) * x1
    assert {str(k): str(v) for k, v in derivation.gradients.items()} == {
        str(k): str(v) for k, v in seed.gradients.items()
    }


def test_relu_derivative_is_not_rewritten_through_output(write_toml: WriteToml) -> None:
    path = write_toml(
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n'
        '[definitions]\nz = "w*x"\nh = "max(0, z)"\nL = "(h - y)**2"\n'
    )
    derivation = symcalc.derive(symcalc.load(str(path)))
    m = derivation.model
    local = derivation.local_derivatives[(sym(m, "h"), sym(m, "z"))]
    assert local == step(sym(m, "z"))  # SymPy's Heaviside, written with our step (0 at 0)


def test_total_derivatives_are_sympys_diff_of_the_composed_loss(seed: symcalc.Derivation) -> None:
    """dL/dz and dL/dw1 from the steps, definitions substituted, equal SymPy's diff (tests/oracle.py)."""
    m = seed.model
    L, a, z, w1 = (sym(m, n) for n in ("L", "a", "z", "w1"))
    definitions = m.definition_map
    loss_of_z = definitions[L].subs(a, definitions[a])  # L through a = σ(z), z held as a name
    by_steps = seed.adjoints[z].subs(a, definitions[a])
    assert sp.simplify(to_elementary(by_steps - sp.diff(loss_of_z, z))) == 0
    assert sp.simplify(to_elementary(m.expand(seed.gradient("w1"))) - composed_gradient(m, w1)) == 0
