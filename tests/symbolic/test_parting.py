"""A failed claim shows the engine's own result beside it and the first step where the two part
(issue 16). The oracles: SymPy's diff of each definition for the factors, and the claim itself,
which the chain with the reported factor replaced must equal exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.check.oracle import elementary
from symcalc.symbolic.graph import Model
from symcalc.symbolic.notation import Partial
from symcalc.symbolic.parting import Parting, parting
from tests.conftest import SEED, Runner


def _parting(model_name: str | None, lhs: str, rhs: str) -> tuple[Model, Parting]:
    model = Model.load(model_name)
    claims = model.claims_of(lhs, rhs)
    assert len(claims) == 1
    found = parting(symcalc.derive(model), claims[0])
    assert found is not None
    return model, found


def _composed(model: Model, expr: sp.Expr) -> sp.Expr:
    """`expr` in the independent names, with elementary functions only (σ as 1/(1 + e⁻ᶻ))."""
    return elementary(model.expand(expr))


def _chain_with(found: Parting, implied: sp.Expr) -> sp.Expr:
    assert found.factor is not None
    return sp.Mul(*(implied if f == found.factor else f.value for f in found.chain))


@pytest.mark.parametrize(
    ("model_name", "lhs", "rhs", "factor", "step", "derived", "claimed"),
    [
        (None, "dL/dw1", "(a - y)*x2", "∂z/∂w1", 4, "x1", "x2"),
        (None, "dL/dz", "a*(1 - a)*(a - y)", "∂L/∂a", 1, "(1 - y)/(1 - a) - y/a", "a - y"),
        ("two_layer_network", "dL/du11", "(a - y)*v1*(1 - h1)*x1", "∂h1/∂s1", 6, "1 - h1**2", "1 - h1"),
        ("two_layer_network", "dL/dh1", "(a - y)*v2", "∂z/∂h1", 4, "v1", "v2"),
    ],
)
def test_a_slip_in_one_step_is_found_at_that_step(
    model_name: str | None, lhs: str, rhs: str, factor: str, step: int, derived: str, claimed: str
) -> None:
    model, found = _parting(model_name, lhs, rhs)
    # The engine's result beside it holds, by the verifier (SymPy's diff through the graph).
    assert symcalc.check_claim(model, lhs, str(found.engine)).proved
    assert found.factor is not None and found.implied is not None
    assert (str(found.factor.symbol), found.factor.number) == (factor, step)
    names = {**model.symbols}
    assert sp.simplify(found.factor.value - sp.sympify(derived, locals=names)) == 0
    assert sp.simplify(found.implied - sp.sympify(claimed, locals=names)) == 0
    # Each factor of the chain is its definition's own partial derivative, by SymPy's diff ...
    for item in found.chain:
        if type(item.symbol) is Partial:
            definition = model.definition_map[item.symbol.of]
            assert sp.simplify(_composed(model, item.value - sp.diff(definition, item.symbol.wrt))) == 0
    # ... and the chain with the reported factor replaced is the claim, exactly.
    claim = model.claims_of(lhs, rhs)[0].expected
    assert sp.simplify(_chain_with(found, found.implied) - claim) == 0


def test_a_claim_no_single_factor_explains_gets_the_engines_result_only() -> None:
    _, found = _parting(None, "dL/dw1", "a*x1 + 5*y")
    assert found.factor is None and found.implied is None and len(found.chain) == 3
    assert found.engine == sp.sympify("x1*(a - y)", locals=Model.load(None).symbols)


def test_a_claim_in_the_inputs_and_parameters_alone_is_not_read_factor_by_factor() -> None:
    """Written out without the model's names, it is set beside the result but never cancelled against
    it (that took minutes on a deep model: tests/check/test_prove.py)."""
    _, found = _parting(None, "dL/dw1", "x1/(1 + exp(-w1*x1 - w2*x2 - b)) + 5")
    assert found.chain == () and found.factor is None and found.scale is None


def test_a_local_claim_gets_the_step_that_derives_it() -> None:
    model, found = _parting(None, "da/dz", "a*(1 + a)")
    assert found.number == 2 and found.chain == () and found.factor is None
    assert found.engine == model.symbols["a"] * (1 - model.symbols["a"])


def test_verify_prints_the_engines_result_and_where_they_part(
    run: Runner, tmp_path: pytest.TempPathFactory
) -> None:

    path = Path(str(tmp_path)) / "slip.toml"
    path.write_text(SEED.read_text().replace('"dL/dw1" = "(a - y)*x1"', '"dL/dw1" = "(a - y)*x2"'))
    code, out, _ = run(["verify", str(path)])
    assert code == 1
    flat = " ".join(out.split())  # the terminal may wrap a long line anywhere
    assert "the derivation has dL/dw₁ = x₁⋅(a - y) (step 5)" in flat
    assert "they part at step 4: the claim is dL/dw₁ = ∂L/∂a⋅∂a/∂z⋅∂z/∂w₁ with ∂z/∂w₁ = x₂" in flat
    assert "where step 4 has ∂z/∂w₁ = x₁" in flat
    code, out, _ = run(["verify", str(path), "--json"])
    [failed] = [c for c in json.loads(out)["files"][0]["checks"] if c["status"] == "fails"]
    assert failed["derivation"]["result"] == "x1*(a - y)"
    assert failed["derivation"]["parts_at"] == {
        "at_step": 4,
        "factor": "∂z/∂w1",
        "derived": "x1",
        "claimed": "x2",
    }
    holding = [c for c in json.loads(out)["files"][0]["checks"] if c["status"] == "holds"]
    assert holding and all(c["derivation"] is None for c in holding)


def test_check_command_explains_too(run: Runner) -> None:
    code, out, _ = run(["check", "two_layer_network", "dL/du11", "(a - y)*v1*(1 - h1)*x1"])
    assert code == 1
    flat = " ".join(out.split())
    assert (
        "they part at step 6" in flat and "with ∂h₁/∂s₁ = 1 - h₁, where step 6 has ∂h₁/∂s₁ = 1 - h₁²" in flat
    )


@pytest.mark.parametrize(
    ("rhs", "scale", "line"),
    [("(y - a)*x1", -1, "-1 times that: a sign slip"), ("2*(a - y)*x1", 2, "2 times that")],
)
def test_a_claim_off_by_a_number_is_called_that_not_pinned_on_a_factor(
    rhs: str, scale: int, line: str, run: Runner
) -> None:
    _, found = _parting(None, "dL/dw1", rhs)
    assert found.scale == scale and found.factor is None
    code, out, _ = run(["check", "logistic_regression", "dL/dw1", rhs])
    assert code == 1 and f"the claim is {line}" in " ".join(out.split())
