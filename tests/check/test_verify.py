"""symcalc.check: every shipped derivation verifies; wrong claims are refuted at a real counterexample.

Counterexamples are re-checked here without the verifier's evaluator: both sides are
evaluated by SymPy's evalf at the reported point, with the true side taken from an
oracle written in this file (the issue's stated answer, or SymPy's diff of the
composed loss from tests/oracle.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.check.checks import check_claim, verify
from symcalc.check.ladder import ProofLimits
from symcalc.check.oracle import independent_derivative, value_of
from symcalc.check.records import Check, all_hold
from symcalc.errors import ParseError, SpecError
from symcalc.symbolic.functions import to_elementary
from symcalc.symbolic.notation import Product, Sum
from symcalc.symbolic.parse import parse_expression
from symcalc.symbolic.steps import ChainRule
from tests.conftest import DERIVATIONS
from tests.oracle import composed_gradient

SQUARED_ERROR_SIGMOID = """
title = "One sigmoid unit with squared error"
inputs = ["x1"]
targets = ["y"]
parameters = ["w1", "b"]
[definitions]
z = "w1*x1 + b"
a = "sigmoid(z)"
L = "(a - y)**2/2"
"""

WEIGHT_USED_TWICE = """
inputs = ["x"]
targets = ["y"]
parameters = ["w"]
[definitions]
h = "tanh(w*x)"
a = "w*h"
L = "(a - y)**2/2"
"""


def exact_point(model: symcalc.Model, check: Check) -> dict[sp.Symbol, sp.Rational]:
    """The reported point as exact rationals; it must name every independent name, and nothing else."""
    assert check.counterexample is not None
    point = dict(check.counterexample.point)
    assert set(point) == {s.name for s in model.independents}
    return {model.symbols[name]: sp.Rational(value) for name, value in point.items()}


def value_at(model: symcalc.Model, expr: sp.Expr, point: dict[sp.Symbol, sp.Rational]) -> sp.Float:
    return to_elementary(model.expand(expr)).xreplace(point).evalf(60)


def assert_refuted_at_a_real_point(
    model: symcalc.Model, check: Check, claimed: sp.Expr, truth: sp.Expr, truth_composed: bool = False
) -> None:
    """The check fails, and at its point the claimed and true values differ and are what it reports."""
    assert check.status == "fails", check
    assert check.counterexample is not None
    point = exact_point(model, check)
    left = value_at(model, claimed, point)
    right = truth.xreplace(point).evalf(60) if truth_composed else value_at(model, truth, point)
    assert abs(left - right) > 1e-20 * max(1, abs(right)), "the reported point is not a counterexample"
    example = check.counterexample
    assert example.left == pytest.approx(float(left), rel=1e-12)
    assert example.right == pytest.approx(float(right), rel=1e-12)
    assert example.difference == pytest.approx(float(left - right), rel=1e-9)


def parse(model: symcalc.Model, text: str) -> sp.Expr:
    return parse_expression(text, model.symbols)


# -- every shipped derivation verifies ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(DERIVATIONS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_derivation_verifies(path: Path) -> None:
    model = symcalc.load(str(path))
    derivation = symcalc.derive(model)
    checks = verify(derivation)
    failing = [c for c in checks if not c.holds]
    assert not failing, failing
    names = {c.name for c in checks}
    assert {f"claim {c.name}" for c in model.claims} <= names
    for parameter in model.parameters:
        gradient = f"d{model.loss.name}/d{parameter.name}"
        assert f"gradient {gradient}" in names
        assert f"finite differences {gradient}" in names
    # Every step's equation is checked; the gradients step is covered by the gradient checks.
    for step in derivation.steps:
        if not isinstance(step, symcalc.ParameterGradients):
            for eq in step.equations:
                assert f"step {step.number}: {eq.name}" in names


def test_seed_checks_are_proved_not_just_sampled(seed: symcalc.Derivation) -> None:
    checks = verify(seed)
    symbolic = [c for c in checks if c.kind != "finite differences"]
    assert symbolic and all(c.proved for c in symbolic)
    kinds = [c.kind for c in checks]
    assert kinds.count("claim") == len(seed.model.claims) == 9
    assert kinds.count("gradient") == kinds.count("finite differences") == 3
    # Step 3's simplification, [-y/a + (1-y)/(1-a)]*[a(1-a)] = a - y, is among the step checks.
    assert any(c.name == "step 3: dL/dz simplified" for c in checks)


def test_verify_is_deterministic_and_the_seed_chooses_the_points(seed_model: symcalc.Model) -> None:
    first = check_claim(seed_model, "dL/dw1", "(y - a)*x1")
    assert check_claim(seed_model, "dL/dw1", "(y - a)*x1") == first
    other = check_claim(seed_model, "dL/dw1", "(y - a)*x1", seed=7)
    assert other.status == "fails"
    assert other.counterexample != first.counterexample


# -- wrong claims, refuted with a real counterexample ------------------------------------------


def test_sign_error_in_dL_dw1(seed_model: symcalc.Model) -> None:
    check = check_claim(seed_model, "dL/dw1", "(y - a)*x1")
    truth = composed_gradient(seed_model, seed_model.symbols["w1"])
    assert_refuted_at_a_real_point(
        seed_model, check, parse(seed_model, "(y - a)*x1"), truth, truth_composed=True
    )
    assert check.counterexample is not None
    assert check.counterexample.sides == ("claimed", "SymPy's diff")
    # The intermediates shown are computed from the point, so a reader can follow along.
    names = dict(check.counterexample.intermediates)
    point = exact_point(seed_model, check)
    z = seed_model.symbols["z"]
    assert names["z"] == pytest.approx(float(seed_model.composed[z].xreplace(point)))


def test_missing_factor_in_da_dz(seed_model: symcalc.Model) -> None:
    check = check_claim(seed_model, "da/dz", "a*(1 + a)")
    assert_refuted_at_a_real_point(
        seed_model, check, parse(seed_model, "a*(1 + a)"), parse(seed_model, "a*(1 - a)")
    )


def test_sigmoid_with_squared_error_is_not_a_minus_y(write_toml: Callable[[str], Path]) -> None:
    model = symcalc.load(str(write_toml(SQUARED_ERROR_SIGMOID)))
    check = check_claim(model, "dL/dz", "a - y")
    assert_refuted_at_a_real_point(model, check, parse(model, "a - y"), parse(model, "(a - y)*a*(1 - a)"))
    assert check_claim(model, "dL/dz", "(a - y)*a*(1 - a)").proved


def test_gradient_that_misses_one_path_of_a_weight_used_twice(write_toml: Callable[[str], Path]) -> None:
    model = symcalc.load(str(write_toml(WEIGHT_USED_TWICE)))
    w = model.symbols["w"]
    check = check_claim(model, "dL/dw", "(a - y)*h")  # only the path through a = w*h
    truth = composed_gradient(model, w)
    assert_refuted_at_a_real_point(model, check, parse(model, "(a - y)*h"), truth, truth_composed=True)
    both_paths = check_claim(model, "dL/dw", "(a - y)*(h + w*(1 - h**2)*x)")
    assert both_paths.holds


def test_claim_off_by_1e_12_is_refuted(seed_model: symcalc.Model) -> None:
    check = check_claim(seed_model, "dL/dz", "a - y + 1e-12")
    assert_refuted_at_a_real_point(
        seed_model, check, parse(seed_model, "a - y + 1e-12"), parse(seed_model, "a - y")
    )
    assert check.counterexample is not None
    assert check.counterexample.difference == pytest.approx(1e-12, rel=1e-9)
    # The floats printed for the two sides really differ, too.
    assert check.counterexample.left != check.counterexample.right


def test_wrong_claims_in_a_file_fail_and_the_right_ones_hold(write_toml: Callable[[str], Path]) -> None:
    text = SQUARED_ERROR_SIGMOID + '[claims]\n"dL/dz" = "a - y"\n"da/dz" = "a*(1 - a)"\n'
    model = symcalc.load(str(write_toml(text)))
    checks = {c.name: c for c in verify(symcalc.derive(model))}
    assert checks["claim dL/dz"].status == "fails"
    assert checks["claim da/dz"].proved
    assert all(c.holds for name, c in checks.items() if name != "claim dL/dz")


# -- the verifier catches a wrong engine, not only wrong claims ----------------------------------


def test_a_wrong_gradient_fails_symbolically_and_by_finite_differences(seed: symcalc.Derivation) -> None:
    model = seed.model
    w1, a, y, x1 = (model.symbols[n] for n in ("w1", "a", "y", "x1"))
    broken = dict(seed.gradients)
    broken[w1] = (a - y) * x1 * 1.01  # 1% off: float64 finite differences see it too
    checks = {c.name: c for c in verify(dataclasses.replace(seed, gradients=broken))}
    gradient = checks["gradient dL/dw1"]
    truth = composed_gradient(model, w1)
    assert_refuted_at_a_real_point(model, gradient, broken[w1], truth, truth_composed=True)
    fd = checks["finite differences dL/dw1"]
    assert fd.status == "fails" and fd.method == "finite differences"
    assert fd.counterexample is not None and fd.counterexample.sides == ("derived", "central difference")
    # The central difference there is the true gradient (to FD accuracy); the derived side is 1% off it.
    true_value = float(truth.xreplace(exact_point(model, fd)).evalf(30))
    assert fd.counterexample.right == pytest.approx(true_value, rel=1e-6, abs=1e-9)
    assert fd.counterexample.left == pytest.approx(1.01 * true_value, rel=1e-12)
    assert checks["gradient dL/dw2"].proved


def test_a_wrong_simplification_in_a_step_fails(seed: symcalc.Derivation) -> None:
    model = seed.model
    a, y = model.symbols["a"], model.symbols["y"]
    step3 = seed.steps[2]
    assert isinstance(step3, ChainRule)
    equation = dataclasses.replace(step3.equations[0], result=y - a)
    steps = list(seed.steps)
    steps[2] = dataclasses.replace(step3, equations=(equation,))
    checks = {c.name: c for c in verify(dataclasses.replace(seed, steps=tuple(steps)))}
    assert checks["step 3: dL/dz simplified"].status == "fails"
    assert checks["step 3: dL/dz"].status == "fails"
    assert checks["step 2: ∂a/∂z"].proved
    assert_refuted_at_a_real_point(model, checks["step 3: dL/dz"], y - a, a - y)


# -- the ladder: proved, numerically, strict ------------------------------------------------------

TRIG = 'inputs = ["x"]\nparameters = ["w"]\n[definitions]\nL = "sin(w*x)**2"\n'


def test_a_claim_only_simplify_can_prove(write_toml: Callable[[str], Path]) -> None:
    model = symcalc.load(str(write_toml(TRIG)))
    check = check_claim(model, "dL/dw", "x*sin(2*w*x)")  # needs the double-angle identity
    assert check.proved


NO_SIMPLIFY = ProofLimits(simplify_max_ops=0)  # as if simplify were too costly for every difference
NO_PROOFS = ProofLimits(prove=False)


def test_unproved_agreement_holds_numerically_and_fails_under_strict(
    write_toml: Callable[[str], Path],
) -> None:
    model = symcalc.load(str(write_toml(TRIG)))
    check = check_claim(model, "dL/dw", "x*sin(2*w*x)", limits=NO_SIMPLIFY)
    assert (check.status, check.method, check.proved) == ("holds", "numerically", False)
    assert "not proved" in check.detail
    strict = check_claim(model, "dL/dw", "x*sin(2*w*x)", strict=True, limits=NO_SIMPLIFY)
    assert (strict.status, strict.counterexample) == ("fails", None)
    wrong = check_claim(model, "dL/dw", "x*sin(2*w*x) + x*1e-12", limits=NO_SIMPLIFY)
    assert_refuted_at_a_real_point(
        model, wrong, parse(model, "x*sin(2*w*x) + x*1e-12"), parse(model, "2*x*sin(w*x)*cos(w*x)")
    )


LOG_MODEL = 'inputs = ["x"]\nparameters = ["w"]\n[definitions]\nL = "log(w*x) + sqrt(x)"\n'


def test_points_where_a_side_is_undefined_are_resampled_not_failed(write_toml: Callable[[str], Path]) -> None:
    model = symcalc.load(str(write_toml(LOG_MODEL)))
    check = check_claim(model, "dL/dw", "1/w", points=10, limits=NO_PROOFS)
    assert (check.status, check.method) == ("holds", "numerically")
    assert "at 10 random points" in check.detail
    wrong = check_claim(model, "dL/dw", "1/w + 1/x", limits=NO_PROOFS)
    assert_refuted_at_a_real_point(model, wrong, parse(model, "1/w + 1/x"), parse(model, "1/w"))
    point = exact_point(model, wrong)
    assert point[model.symbols["x"]] > 0 and point[model.symbols["w"]] > 0  # where log(w*x), sqrt(x) exist


def test_a_claim_undefined_everywhere_is_undecided(write_toml: Callable[[str], Path]) -> None:
    model = symcalc.load(str(write_toml(LOG_MODEL)))
    check = check_claim(model, "dL/dw", "1/w + log(-x**2 - 1)", points=3)
    assert (check.status, check.method) == ("undecided", "numerically")


RELU_MODEL = """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
[definitions]
z = "w1*x1 + w2*x2 + b"
h = "relu(z)"
m = "max(h, x1)"
L = "(m - y)**2 + abs(w1)"
"""


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_kinks_are_skipped_not_reported_as_mismatches(write_toml: Callable[[str], Path], seed: int) -> None:
    model = symcalc.load(str(write_toml(RELU_MODEL)))
    checks = verify(symcalc.derive(model), seed=seed)
    assert all(c.holds for c in checks), [c for c in checks if not c.holds]
    fd = [c for c in checks if c.kind == "finite differences"]
    assert len(fd) == 3 and all("5 points" in c.detail for c in fd)


# -- check_claim's input is bad input, never a failed check ------------------------------------


@pytest.mark.parametrize(
    ("lhs", "rhs", "error"),
    [
        ("L/w1", "x1", SpecError),
        ("dQ/dw1", "x1", SpecError),
        ("dL/dw1", "q*x1", ParseError),
        ("dL/dw1", "erfc(x1)", ParseError),
        ("dL/dw1", "__import__('os').system('false')", ParseError),
        ("dL/dw1", "().__class__.__base__", ParseError),
    ],
)
def test_bad_claims_raise(seed_model: symcalc.Model, lhs: str, rhs: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_claim(seed_model, lhs, rhs)


# -- the independent results themselves ------------------------------------------------------


def test_independent_derivative_holds_other_names_fixed(write_toml: Callable[[str], Path]) -> None:
    model = symcalc.load(str(write_toml(WEIGHT_USED_TWICE)))
    w, h, a, x, y = (model.symbols[n] for n in "whaxy")
    assert independent_derivative(model, a, h) == w  # w held fixed
    assert independent_derivative(model, h, a) == 0  # h does not depend on a
    assert independent_derivative(model, a, a) == 1
    total = independent_derivative(model, model.loss, w)
    by_hand = (w * sp.tanh(w * x) - y) * (sp.tanh(w * x) + w * x * (1 - sp.tanh(w * x) ** 2))
    assert sp.simplify(total - by_hand) == 0


def test_value_of_turns_display_products_into_values() -> None:
    a, y = sp.symbols("a y")
    shown = Sum(Product(a - y, a), Product(2, y))
    assert value_of(shown) == (a - y) * a + 2 * y


def test_finite_differences_skip_points_whose_step_crosses_a_kink(write_toml: Callable[[str], Path]) -> None:
    next_to_the_kink = 2.0**-20  # the step h = 1e-5 straddles relu's kink at every point
    domains = f'[domains]\nw = "{{{next_to_the_kink!r}}}"\n'
    model = symcalc.load(
        str(write_toml(f'inputs = ["x"]\nparameters = ["w"]\n{domains}[definitions]\nL = "relu(w)*x"\n'))
    )
    assert model.domain_map[model.symbols["w"]].members == (Fraction(next_to_the_kink),)
    checks = {c.name: c for c in verify(symcalc.derive(model))}
    assert checks["gradient dL/dw"].proved
    fd = checks["finite differences dL/dw"]
    assert (fd.status, fd.counterexample) == ("undecided", None)  # skipped every point: no false mismatch


def test_strict_verify_fails_what_holds_only_numerically(write_toml: Callable[[str], Path]) -> None:
    model = symcalc.load(str(write_toml(TRIG + '[claims]\n"dL/dw" = "x*sin(2*w*x)"\n')))
    derivation = symcalc.derive(model)
    assert all_hold(verify(derivation, strict=True))  # proved: strict changes nothing
    lenient = {c.name: c for c in verify(derivation, limits=NO_SIMPLIFY)}
    strict = {c.name: c for c in verify(derivation, strict=True, limits=NO_SIMPLIFY)}
    assert (lenient["claim dL/dw"].status, lenient["claim dL/dw"].method) == ("holds", "numerically")
    assert strict["claim dL/dw"].status == "fails"
    assert all(strict[n].status == c.status for n, c in lenient.items() if c.method != "numerically")


HIDDEN_LAYER = """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["u1", "u2", "c", "v", "b"]
[definitions]
s = "u1*x1 + u2*x2 + c"
h = "tanh(s)"
z = "v*h + b"
a = "sigmoid(z)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
[claims]
"dL/ds" = "(a - y)*v*(1 - h^2)"
"dL/du1" = "(a - y)*v*(1 - h^2)*x1"
"""


def test_a_hidden_layer_is_proved_not_merely_sampled(write_toml: Callable[[str], Path]) -> None:
    # tanh inside sigmoid: rewriting σ must leave its argument's tanh alone, or the two sides
    # are written with different building blocks and no cheap proof is found.
    model = symcalc.load(str(write_toml(HIDDEN_LAYER)))
    checks = verify(symcalc.derive(model))
    unproved = [c for c in checks if c.kind != "finite differences" and not c.proved]
    assert not unproved, unproved
    assert all(c.holds for c in checks)


EVERY_FUNCTION = """
inputs = ["x"]
targets = ["y"]
parameters = ["w", "b"]
[definitions]
z = "w*x + b"
p = "sqrt(1 + z^2) + sin(z) + cos(w) + tan(z/4) + sinh(b) + cosh(z)"
q = "abs(z) + softplus(z) + relu(z) + max(z, b, 0) + min(z, x) + exp(-z^2) + ln(2 + sigmoid(z))"
L = "(p + q - y)^2 + log(1 + tanh(w)^2)"
"""


@pytest.mark.slow
def test_every_function_in_the_table_is_verified_not_undecided(write_toml: Callable[[str], Path]) -> None:
    model = symcalc.load(str(write_toml(EVERY_FUNCTION)))
    checks = verify(symcalc.derive(model))
    assert all(c.holds for c in checks), [c for c in checks if not c.holds]
    assert all(c.proved for c in checks if c.kind in ("gradient", "step"))


def test_assumption_is_what_makes_the_softmax_claim_true(tmp_path: Path) -> None:
    """Without `assume`, dL/dz1 = a1 - y1 is false (it needs y1 + y2 + y3 = 1), and verify says so."""
    text = (DERIVATIONS / "softmax_regression.toml").read_text()
    with_assumption = symcalc.load(str(DERIVATIONS / "softmax_regression.toml"))
    check = symcalc.check_claim(with_assumption, "dL/dz1", "a1 - y1")
    assert check.holds and "assuming y1 + y2 + y3 = 1" in check.detail
    path = tmp_path / "softmax_no_assumption.toml"
    path.write_text(text.replace('assume = ["y1 + y2 + y3 = 1"]', ""))
    without = symcalc.load(str(path))
    refuted = symcalc.check_claim(without, "dL/dz1", "a1 - y1")
    assert refuted.status == "fails" and refuted.counterexample is not None
    point = dict(refuted.counterexample.point)
    assert abs(point["y1"] + point["y2"] + point["y3"] - 1) > 1e-6


def test_finite_differences_skip_points_float64_cannot_resolve(tmp_path: Path) -> None:
    """At z ≈ 30, float64 log(1 - σ(z)) is noise at the step's scale: such points are resampled."""
    path = tmp_path / "steep.toml"
    path.write_text(
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w", "b"]\n[definitions]\n'
        'z = "30*(w*x + b)"\na = "sigmoid(z)"\nL = "-(y*log(a) + (1 - y)*log(1 - a))"\n'
    )
    checks = verify(symcalc.derive(symcalc.load(str(path))))
    finite = [c for c in checks if c.kind == "finite differences"]
    assert finite and all(c.status == "holds" for c in finite), finite
