"""Key insights: each one printed is recomputed here by an independent route; none is printed untrue."""

from __future__ import annotations

from pathlib import Path

import mpmath
import pytest
import sympy as sp

import symcalc
from symcalc.render.wording import insight_text
from symcalc.symbolic.functions import to_elementary
from symcalc.symbolic.insights import Insight
from tests.conftest import DERIVATIONS, WriteToml

MODELS = sorted(DERIVATIONS.glob("*.toml"))


def kinds(derivation: symcalc.Derivation) -> list[str]:
    return [i.kind for i in derivation.insights]


def test_seed_insights_are_the_pages_key_insights(seed: symcalc.Derivation) -> None:
    m = seed.model
    a, y = m.symbols["a"], m.symbols["y"]
    by_kind = {i.kind: i for i in seed.insights}
    assert by_kind["shared-factor"].expressions == (a - y,)
    assert "scaled-by-input" in by_kind and "unscaled" in by_kind
    maximum = by_kind["maximum"]
    assert maximum.expressions[1:] == (sp.Rational(1, 4), a, sp.S.Half, m.symbols["z"], 0)
    assert by_kind["canonical-link"].case == "sigmoid"
    assert insight_text(by_kind["sign-rule"]).startswith("When a > y, dL/dz is positive")


def _check_independently(insight: Insight, derivation: symcalc.Derivation) -> None:
    """Recompute what the insight says without the finder's code."""
    model = derivation.model
    if insight.kind == "shared-factor":
        (factor,) = insight.expressions
        for read in derivation.gradients.values():
            gradient = derivation.in_names(read)  # dL/dmu in layer norm's dL/dW1_1: its value
            # The quotient has no denominator in the factor's names: the factor truly divides.
            _, denominator = sp.fraction(sp.together(sp.cancel(gradient / factor)))
            assert not denominator.free_symbols & factor.free_symbols
            assert sp.simplify(sp.cancel(gradient / factor) * factor - gradient) == 0
    elif insight.kind == "output-only":
        partial, local, node, parent = insight.expressions
        definition = model.definition_map[node]
        assert local.free_symbols == {node}
        assert sp.simplify(to_elementary(local.subs(node, definition) - sp.diff(definition, parent))) == 0
    elif insight.kind == "maximum":
        partial, value, node, at_output, parent, at_input = insight.expressions
        local = derivation.local_derivatives[(partial.of, partial.wrt)]
        definition = to_elementary(model.definition_map[node])
        # Scan the input line numerically: the derivative of the definition never exceeds the value.
        f = sp.lambdify(parent, sp.diff(definition, parent), modules="mpmath")
        assert max(f(mpmath.mpf(t) / 10) for t in range(-80, 81)) <= value + mpmath.mpf("1e-12")
        assert abs(f(mpmath.mpf(float(at_input))) - value) < 1e-12
        assert local.subs(node, at_output) == value
    elif insight.kind in {"sign-rule", "canonical-link"}:
        partial = insight.expressions[0]
        adjoint = derivation.adjoints[partial.wrt]
        if insight.kind == "sign-rule":
            _, output, target, _ = insight.expressions
            assert sp.expand(adjoint - (output - target)) == 0
        else:
            assert sp.expand(adjoint - insight.expressions[1]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_every_printed_insight_holds(path: Path) -> None:
    derivation = symcalc.derive(symcalc.load(str(path)))
    for insight in derivation.insights:
        _check_independently(insight, derivation)


def test_no_shared_factor_claimed_when_there_is_none() -> None:
    derivation = symcalc.derive(symcalc.load("logistic_regression_l2"))
    assert "shared-factor" not in kinds(derivation)  # lamda*w1 + x1*(a - y) shares nothing with a - y
    assert "scaled-by-input" not in kinds(derivation)


def test_sigmoid_with_squared_error_is_not_called_canonical(write_toml: WriteToml) -> None:
    path = write_toml(
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w", "b"]\n'
        '[definitions]\nz = "w*x + b"\na = "sigmoid(z)"\nL = "(a - y)^2/2"\n'
    )
    derivation = symcalc.derive(symcalc.load(str(path)))
    assert "canonical-link" not in kinds(derivation)
    assert "sign-rule" not in kinds(derivation)  # dL/dz = (a - y)*a*(1 - a), not a - y
    assert "output-only" in kinds(derivation)  # sigma' = a(1 - a) still holds


def test_exp_has_no_maximum() -> None:
    derivation = symcalc.derive(symcalc.load("poisson_regression"))
    assert "output-only" in kinds(derivation)
    assert "maximum" not in kinds(derivation)  # a = exp(z) grows without bound


def test_insights_reach_json_and_documents(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from symcalc.cli.main import main
    from symcalc.render.latex import render_latex
    from symcalc.render.markdown import render_markdown

    assert main(["derive", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {
        "kind": "shared-factor",
        "text": "All the gradients share the factor a - y.",
        "expressions": ["a - y"],
    } in data["insights"]
    derivation = symcalc.derive(symcalc.load())
    assert r"\section*{Key insights}" in render_latex(derivation)
    assert "Key insights" in render_markdown(derivation)
