"""The English for steps and insights: the seed page's wording, and a sentence for every insight found."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.render.wording import insight_template, insight_text, sentence, step_rule, step_title
from symcalc.symbolic.insights import Insight
from tests.conftest import DERIVATIONS


def test_seed_steps_are_worded_as_on_the_page(seed: symcalc.Derivation) -> None:
    assert [step_title(step) for step in seed.steps] == [
        "Derivative of L with respect to a",
        "Derivative of a with respect to z",
        "Derivative of L with respect to z",
        "Derivatives of z with respect to w1, w2 and b",
        "Derivatives of L with respect to the parameters",
    ]
    assert [step_rule(step) for step in seed.steps] == [
        "differentiate the definition of L, holding every other name fixed",
        "differentiate the definition of a, holding every other name fixed",
        "chain rule: multiply the upstream gradient by the local derivative",
        "differentiate the definition of z, holding every other name fixed",
        "chain rule: carry the gradient of the loss to every parameter",
    ]


def test_a_rule_becomes_a_sentence() -> None:
    assert sentence("chain rule: add them") == "Chain rule: add them."


def test_fan_out_is_worded_with_its_paths(write_toml: Callable[[str], Path]) -> None:
    path = write_toml(
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n'
        '[definitions]\nz = "w*x"\nu = "tanh(z)"\nv = "z**2"\nL = "(u + v - y)**2"\n'
    )
    derivation = symcalc.derive(symcalc.load(str(path)))
    rules = [step_rule(step) for step in derivation.steps]
    assert "chain rule: z reaches the loss along 2 paths; add them" in rules


def test_a_recognised_form_is_named_in_its_title(write_toml: Callable[[str], Path]) -> None:
    path = write_toml(
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n'
        '[definitions]\nz = "w*x"\na = "1/(1 + exp(-z))"\nL = "(a - y)**2"\n'
    )
    first = symcalc.derive(symcalc.load(str(path))).steps[0]
    assert step_title(first) == "a is the sigmoid σ"


def test_scaled_by_input_says_whether_every_weight_is_scaled() -> None:
    factor, dw1, x1, dw2, x2 = sp.symbols("f g1 x1 g2 x2")
    expressions = (factor, dw1, x1, dw2, x2)
    every = insight_text(Insight("scaled-by-input", expressions, "every"))
    assert every == (
        "The weight gradients are f scaled by the input the weight multiplies: g1 by x1, g2 by x2."
    )
    some = insight_text(Insight("scaled-by-input", expressions, "some"))
    assert some.startswith("These weight gradients are f scaled")


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(DERIVATIONS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_insight_found_has_a_slot_for_each_expression(path: Path) -> None:
    for insight in symcalc.derive(symcalc.load(str(path))).insights:
        slots = {int(i) for i in re.findall(r"\{(\d+)\}", insight_template(insight))}
        assert slots == set(range(len(insight.expressions))), insight.kind
