"""Second derivatives: claims "d2L/dA dB" and "d2L/dA^2", checked against SymPy's diff twice of the
composed loss and against central differences of SymPy's own gradient."""

from __future__ import annotations

import random
from pathlib import Path

import mpmath
import pytest
import sympy as sp

import symcalc
from symcalc.check.checks import check_claim
from symcalc.check.oracle import second_derivative
from symcalc.errors import SymcalcError
from symcalc.symbolic.steps import SecondDerivatives
from tests.conftest import DERIVATIONS, SEED, Runner, WriteToml
from tests.oracle import agree_numerically, composed_gradient, sample_point, values_at

VECTOR = DERIVATIONS / "logistic_regression_vector.toml"
SEED_HESSIAN = {  # ∂²L/∂θi∂θj of the seed, as a teacher writes it: a(1 − a) times the two inputs
    ("w1", "w1"): "a*(1 - a)*x1^2",
    ("w1", "w2"): "a*(1 - a)*x1*x2",
    ("w1", "b"): "a*(1 - a)*x1",
    ("w2", "w2"): "a*(1 - a)*x2^2",
    ("w2", "b"): "a*(1 - a)*x2",
    ("b", "b"): "a*(1 - a)",
}


def claim_key(first: str, second: str) -> str:
    return f"d2L/d{first}^2" if first == second else f"d2L/d{first} d{second}"


@pytest.mark.parametrize(("pair", "expected"), list(SEED_HESSIAN.items()))
def test_every_seed_hessian_entry_is_proved(
    seed_model: symcalc.Model, pair: tuple[str, str], expected: str
) -> None:
    check = check_claim(seed_model, claim_key(*pair), expected)
    assert check.holds and check.proved, check


@pytest.mark.parametrize("pair", list(SEED_HESSIAN))
def test_the_second_derivative_oracle_is_sympys_diff_twice(
    seed_model: symcalc.Model, pair: tuple[str, str]
) -> None:
    first, second = (seed_model.symbols[name] for name in pair)
    twice = sp.diff(composed_gradient(seed_model, first), second)
    ours = second_derivative(seed_model, seed_model.loss, first, second)
    assert agree_numerically(seed_model, ours, twice)


def test_the_oracle_agrees_with_central_differences_of_sympys_gradient(seed_model: symcalc.Model) -> None:
    """h = 1e-12 at 50 digits: the difference quotient of d L/d w1 by w2, against the oracle's value."""
    w1, w2 = seed_model.symbols["w1"], seed_model.symbols["w2"]
    gradient = composed_gradient(seed_model, w1)
    oracle = second_derivative(seed_model, seed_model.loss, w1, w2)
    point = sample_point(seed_model, random.Random(3))
    with mpmath.workdps(50):
        h = mpmath.mpf("1e-12")
        at = {s: mpmath.mpf(v) for s, v in point.items()}

        def grad(shift: mpmath.mpf) -> mpmath.mpf:
            return sp.lambdify(list(at), gradient, "mpmath")(*{**at, w2: at[w2] + shift}.values())

        quotient = (grad(h) - grad(-h)) / (2 * h)
        values = values_at(seed_model, point)
        exact = sp.lambdify(list(values), oracle, "mpmath")(*values.values())
        assert abs(quotient - exact) < mpmath.mpf("1e-18")


def test_a_second_derivative_through_an_intermediate(seed_model: symcalc.Model) -> None:
    assert check_claim(seed_model, "d2L/dz^2", "a*(1 - a)").proved
    assert check_claim(seed_model, "d2L/dz dw1", "a*(1 - a)*x1").proved


def test_a_wrong_second_derivative_gets_a_counterexample(seed_model: symcalc.Model) -> None:
    check = check_claim(seed_model, "d2L/dw1 dw2", "a*(1 - a)*x1")
    assert not check.holds
    assert check.counterexample is not None


def test_the_vector_hessian_claim_holds_entry_by_entry() -> None:
    model = symcalc.Model.load(VECTOR)
    check = check_claim(model, "d2L/dw^2", "a*(1 - a)*outer(x, x)")
    assert check.holds and check.proved
    assert check_claim(model, "d2L/dw db", "a*(1 - a)*x").proved


def test_a_wrong_vector_hessian_names_the_entry_that_fails() -> None:
    model = symcalc.Model.load(VECTOR)
    check = check_claim(model, "d2L/dw^2", "a*(1 - a)*outer(x, w)")
    assert not check.holds
    assert check.name == "claim d2L/dw1^2"  # the first entry, [1, 1], already differs


def test_second_derivative_claims_in_a_file_are_verified(write_toml: WriteToml) -> None:
    text = SEED.read_text(encoding="utf-8").replace(
        "[claims]", '[claims]\n"d2L/dw1 dw2" = "a*(1 - a)*x1*x2"\n"d2L/db^2" = "a*(1 - a)*x1"'
    )
    checks = {c.name: c for c in symcalc.verify(symcalc.derive(symcalc.load(str(write_toml(text)))))}
    assert checks["claim d2L/dw1 dw2"].proved
    assert not checks["claim d2L/db^2"].holds


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("d2L/dw1", "is not of the form"),
        ("d2L/dw1 dw2 db", "is not of the form"),
        ("d2L/dw1^3", "is not of the form"),
        ("d2 L/dq^2", "undeclared name 'q'"),
        ("d2L/dw1 dq", "undeclared name 'q'"),
    ],
)
def test_a_malformed_second_derivative_key_is_one_line(
    run: Runner, write_toml: WriteToml, key: str, message: str
) -> None:
    text = SEED.read_text(encoding="utf-8").replace("[claims]", f'[claims]\n"{key}" = "a"')
    code, out, err = run(["derive", str(write_toml(text))])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_a_vector_second_derivative_of_the_wrong_shape_is_refused() -> None:
    model = symcalc.Model.load(VECTOR)
    with pytest.raises(SymcalcError, match=r"has the shape \[n,n\]; the right-hand side is \[n\]"):
        model.claims_of("d2L/dw^2", "a*(1 - a)*x")
    network = symcalc.Model.load(DERIVATIONS / "two_layer_network_vector.toml")
    with pytest.raises(SymcalcError, match="about a scalar by scalars, vectors or matrices"):
        network.claims_of("d2s/dc^2", "0")  # of a vector
    with pytest.raises(SymcalcError, match=r"has the shape \[h\*n,h\*n\]; the right-hand side is \[n,n\]"):
        network.claims_of("d2L/dW^2", "outer(x, x)")  # by a matrix: vec(W), h·n entries


def test_check_on_the_command_line_takes_a_second_derivative(run: Runner, tmp_path: Path) -> None:
    code, out, _ = run(["check", str(SEED), "d2L/dw1 dw2", "a*(1 - a)*x1*x2"])
    assert code == 0 and "holds" in out
    code, out, _ = run(["check", str(SEED), "d2L/dw1 dw2", "a*x1*x2"])
    assert code == 1 and "fails" in out


# -- the derivation's second-order step ----------------------------------------------------------

SCALAR_MODELS = sorted(p.stem for p in DERIVATIONS.glob("*.toml") if not p.stem.endswith("_vector"))


@pytest.mark.slow
@pytest.mark.parametrize("name", [*SCALAR_MODELS, "logistic_regression_vector", "softmax_regression_vector"])
def test_every_derived_second_derivative_is_sympys_diff_twice_of_the_composed_loss(name: str) -> None:
    """The oracle of tests/oracle.py: SymPy's diff of the fully composed loss, twice, at mpmath points."""
    model = symcalc.Model.load(DERIVATIONS / f"{name}.toml")
    derivation = symcalc.derive(model, hessian=True)
    assert derivation.hessian is not None
    parameters = model.parameters
    assert len(derivation.hessian) == len(parameters) * (len(parameters) + 1) // 2
    for (first, second), result in derivation.hessian.items():
        twice = sp.diff(composed_gradient(derivation.model, first), second)
        assert agree_numerically(derivation.model, result, twice, points=3), (name, first, second, result)


def test_the_seed_hessian_reads_as_a_teacher_writes_it(seed: symcalc.Derivation) -> None:
    derivation = symcalc.derive(seed.model, hessian=True)
    names = derivation.model.symbols
    a, x1, x2 = names["a"], names["x1"], names["x2"]
    assert derivation.second_derivative("w1", "w2") == a * (1 - a) * x1 * x2
    assert derivation.second_derivative("w2", "w1") == a * (1 - a) * x1 * x2  # symmetric
    assert derivation.second_derivative("b", "b") == a * (1 - a)
    step = derivation.steps[-1]
    assert str(step.equations[1].chain) == "x1*da/dw2"


@pytest.mark.slow
def test_verify_checks_each_second_derivative_twice() -> None:
    derivation = symcalc.derive(symcalc.load("two_layer_network"), hessian=True)
    checks = [c for c in symcalc.verify(derivation) if c.kind == "second" or " d2" in c.name]
    assert len(checks) == 2 * 45 + sum(1 for c in checks if c.name.endswith(" simplified"))
    assert all(c.holds for c in checks)
    assert all(c.proved for c in checks if c.kind == "second")


def test_a_wrong_second_derivative_fails_both_checks(seed: symcalc.Derivation) -> None:
    import dataclasses

    derivation = symcalc.derive(seed.model, hessian=True)
    step = derivation.steps[-1]
    assert isinstance(step, SecondDerivatives)
    a = derivation.model.symbols["a"]
    wrong = [dataclasses.replace(eq, result=eq.result * 2 * a, unsimplified=None) for eq in step.equations]
    broken = dataclasses.replace(
        derivation, steps=(*derivation.steps[:-1], dataclasses.replace(step, equations=tuple(wrong)))
    )
    failed = {c.kind for c in symcalc.verify(broken) if not c.holds}
    assert failed == {"second", "finite differences"}


@pytest.mark.slow
def test_derive_hessian_in_every_output(run: Runner, tmp_path: Path) -> None:
    import json

    code, out, _ = run(["derive", "--hessian"])
    assert code == 0 and "d²L" in out and "dw₁ dw₂" in out
    code, out, _ = run(["derive", "--hessian", "--json"])
    document = json.loads(out)
    matrix = document["hessian"]
    assert matrix[0][1] == matrix[1][0] == "a*x1*x2*(1 - a)"
    assert document["steps"][-1]["kind"] == "second"
    assert document["steps"][-1]["equations"][1]["lhs"] == "d2L/dw1 dw2"
    code, out, _ = run(["markdown", "--hessian"])
    assert code == 0 and r"\mathrm{d}^{2} L" in out
    code, out, _ = run(["latex", "--hessian"])
    assert code == 0 and r"\frac{\mathrm{d}^{2} L}{\mathrm{d} w_{1}\,\mathrm{d} w_{2}}" in out
    code, out, _ = run(["verify", "--hessian"])
    assert code == 0 and "d2L/dw1 dw2" in out
    code, out, _ = run(["derive"])
    assert "d²L" not in out  # only when asked for


def test_too_many_parameters_for_second_derivatives_is_one_line(run: Runner, write_toml: WriteToml) -> None:
    count = 65
    inputs = ", ".join(f'"x{i}"' for i in range(1, count))
    weights = ", ".join(f'"w{i}"' for i in range(1, count))
    linear = " + ".join(f"w{i}*x{i}" for i in range(1, count))
    path = write_toml(
        f'inputs = [{inputs}]\ntargets = ["y"]\nparameters = [{weights}, "b"]\n'
        f'[definitions]\nz = "{linear} + b"\nL = "(z - y)^2"\n'
    )
    code, out, err = run(["derive", "--hessian", str(path)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "65 parameters" in err and "--hessian" in err


# -- vector and batch forms of the second derivatives -------------------------------------------


def test_the_vector_forms_of_the_second_derivatives_as_a_lecture_writes_them() -> None:
    derivation = symcalc.derive(symcalc.Model.load(VECTOR), hessian=True)
    shown = {s.name: str(s.result) for s in derivation.vector_hessian}
    assert shown == {"d2L/dw^2": "a*(1 - a)*outer(x, x)", "d2L/dw db": "a*x*(1 - a)", "d2L/db^2": "a*(1 - a)"}
    assert derivation.batch is not None
    batch = {line.label: str(line.value) for line in derivation.batch.hessian}
    assert batch["d2L/dw^2"] == "(transpose(X) @ (diag(a*(1 - a)) @ X))/m"
    ridge = symcalc.derive(symcalc.Model.load(DERIVATIONS / "ridge_regression_vector.toml"), hessian=True)
    assert str(ridge.vector_hessian[0].result) == "lamda*I + outer(x, x)"


@pytest.mark.parametrize("name", ["logistic_regression_vector", "ridge_regression_vector"])
def test_verify_checks_the_vector_and_batch_forms_of_the_second_derivatives(name: str) -> None:
    derivation = symcalc.derive(symcalc.Model.load(DERIVATIONS / f"{name}.toml"), hessian=True)
    checks = [c for c in symcalc.verify(derivation) if c.kind in ("vector", "batch") and "d2" in c.name]
    assert len(checks) == 6 and all(c.holds for c in checks)
    assert all(c.proved for c in checks if c.kind == "vector")


def test_a_wrong_vector_or_batch_second_derivative_fails(seed: symcalc.Derivation) -> None:
    import dataclasses

    derivation = symcalc.derive(symcalc.Model.load(VECTOR), hessian=True)
    assert derivation.batch is not None
    first = derivation.vector_hessian[0]
    wrong = dataclasses.replace(first, result=first.result * 2)
    line = derivation.batch.hessian[0]
    batch = dataclasses.replace(
        derivation.batch,
        hessian=(dataclasses.replace(line, value=line.value * 2), *derivation.batch.hessian[1:]),
    )
    broken = dataclasses.replace(
        derivation, vector_hessian=(wrong, *derivation.vector_hessian[1:]), batch=batch
    )
    failed = [c for c in symcalc.verify(broken) if not c.holds]
    assert {c.kind for c in failed} == {"vector", "batch"}
    assert any("entry x1" in c.name or "entry w1" in c.name for c in failed)


TWICE = """
title = "A matrix read twice"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[n,n]"]
[dimensions]
n = 2
[definitions]
s = "W @ x"
t = "W @ tanh(s)"
L = "(sum(t) - y)^2"
"""


@pytest.mark.slow
def test_a_network_has_its_hessian_in_vec_form_and_a_matrix_read_twice_says_why(
    run: Runner, write_toml: WriteToml
) -> None:
    derivation = symcalc.derive(symcalc.load("two_layer_network_vector"), hessian=True)
    assert derivation.vector_hessian_problem is None
    assert str(derivation.vector_hessian[0].result).endswith(", outer(x, x))")  # d²L/ds² ⊗ x xᵀ
    assert derivation.batch is not None and derivation.batch.hessian == ()  # the gradients' batch form stays
    penalised = symcalc.derive(symcalc.load("multinomial_logistic_regression"), hessian=True)
    assert str(penalised.vector_hessian[0].result) == "lam*I + kron(diag(p) - outer(p, p), outer(x, x))"
    twice = write_toml(TWICE)
    missing = symcalc.derive(symcalc.load(str(twice)), hessian=True).vector_hessian_problem
    assert missing is not None and missing.form == "vector second derivatives"
    assert "W is a matrix read other than" in missing.reason
    code, out, _ = run(["derive", str(twice), "--hessian"])
    assert code == 0 and "no vector form here (W is a matrix read other" in out


def test_the_vector_hessian_in_every_output(run: Runner) -> None:
    import json

    code, out, _ = run(["derive", "logistic_regression_vector", "--hessian"])
    assert code == 0 and "a⋅(1 - a)⋅x⋅xᵀ" in out and "Xᵀ⋅diag(a ⊙ (1 - a))⋅X" in out
    document = json.loads(run(["derive", "logistic_regression_vector", "--hessian", "--json"])[1])
    assert document["vector_hessian"][0] == {
        "name": "d2L/dw^2",
        "shape": ["n", "n"],
        "result": "a*(1 - a)*outer(x, x)",
    }
    assert document["batch_form"]["hessian"][0]["value"] == "(transpose(X) @ (diag(a*(1 - a)) @ X))/m"
    code, out, _ = run(["markdown", "logistic_regression_vector", "--hessian"])
    assert code == 0 and r"a \left(1 - a\right) x x^{\top}" in out
    assert r"\frac{X^{\top} \operatorname{diag}{\left(a \odot \left(1 - a\right) \right)} X}{m}" in out
