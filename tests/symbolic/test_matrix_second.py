"""Second derivatives and Jacobians by a matrix, in vec form (W's entries row by row: W1_1, W1_2, …),
against SymPy's own diff of the model written out by hand at h = 2, n = 3, entry by entry, exactly."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.check.checks import check_claim
from symcalc.symbolic.arrays import dimension, eye, kron, outer
from tests.conftest import Runner, WriteToml
from tests.written_out import matrix, vector

H, N = 2, 3
LINEAR_LAYER = f"""
title = "A linear layer fitted by least squares"
inputs     = ["x[n]"]
targets    = ["y[h]"]
parameters = ["W[h,n]", "c[h]"]

[dimensions]
n = {N}
h = {H}

[definitions]
s = "W @ x + c"
r = "s - y"
L = "(r @ r)/2"
"""
W, x, y, c = matrix("W", H, N), vector("x", N), vector("y", H), vector("c", H)
S = W * x + c
LOSS = ((S - y).T * (S - y))[0, 0] / 2
VEC_W = [W[i, j] for i in range(H) for j in range(N)]  # row by row: the claims' convention


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> symcalc.Model:
    path: Path = tmp_path_factory.mktemp("matrix") / "linear_layer.toml"
    path.write_text(LINEAR_LAYER, encoding="utf-8")
    return symcalc.Model.load(path)


def _real(expr: sp.Expr) -> sp.Expr:
    """`expr` with its names as the written-out model's (real) symbols, so the two compare exactly."""
    return expr.xreplace({s: sp.Symbol(s.name, real=True) for s in expr.free_symbols})


def _entries(model: symcalc.Model, lhs: str, rhs: str) -> list[sp.Expr]:
    return [_real(claim.expected) for claim in model.claims_of(lhs, rhs)]


def test_the_hessian_by_a_matrix_is_i_kron_x_xt_row_by_row(layer: symcalc.Model) -> None:
    oracle = [sp.diff(LOSS, p, q) for p, q in itertools.product(VEC_W, VEC_W)]
    claimed = _entries(layer, "d2L/dW^2", "kron(eye(h), outer(x, x))")
    assert len(claimed) == (H * N) ** 2
    assert all(sp.expand(a - b) == 0 for a, b in zip(claimed, oracle, strict=True))
    check = check_claim(layer, "d2L/dW^2", "kron(eye(h), outer(x, x))")
    assert check.holds and check.proved


def test_the_column_by_column_form_is_refuted_with_a_counterexample(layer: symcalc.Model) -> None:
    oracle = [sp.diff(LOSS, p, q) for p, q in itertools.product(VEC_W, VEC_W)]
    column_major = _entries(layer, "d2L/dW^2", "kron(outer(x, x), eye(h))")
    assert any(sp.expand(a - b) != 0 for a, b in zip(column_major, oracle, strict=True))
    check = check_claim(layer, "d2L/dW^2", "kron(outer(x, x), eye(h))")
    assert not check.holds and check.counterexample is not None
    assert check.name == "claim d2L/dW1_1 dW1_2"  # x1·x2 claimed where W1_1, W1_2 are in one row


def test_mixed_second_derivatives_by_a_matrix_and_a_vector(layer: symcalc.Model) -> None:
    c_entries = list(c)
    oracle = [sp.diff(LOSS, p, q) for p, q in itertools.product(VEC_W, c_entries)]
    claimed = _entries(layer, "d2L/dW dc", "kron(eye(h), x)")
    assert all(sp.expand(a - b) == 0 for a, b in zip(claimed, oracle, strict=True))
    assert check_claim(layer, "d2L/dW dc", "kron(eye(h), x)").proved
    oracle = [sp.diff(LOSS, p, q) for p, q in itertools.product(c_entries, VEC_W)]
    claimed = _entries(layer, "d2L/dc dW", "transpose(kron(eye(h), x))")
    assert all(sp.expand(a - b) == 0 for a, b in zip(claimed, oracle, strict=True))
    assert not check_claim(layer, "d2L/dW dc", "kron(x, eye(h))").holds


def test_the_jacobian_of_a_vector_by_a_matrix(layer: symcalc.Model) -> None:
    oracle = [sp.diff(S[i], p) for i, p in itertools.product(range(H), VEC_W)]
    claimed = _entries(layer, "ds/dW", "transpose(kron(eye(h), x))")
    assert len(claimed) == H * H * N
    assert all(sp.expand(a - b) == 0 for a, b in zip(claimed, oracle, strict=True))
    assert check_claim(layer, "dr/dW", "transpose(kron(eye(h), x))").proved
    wrong = check_claim(layer, "ds/dW", "transpose(kron(x, eye(h)))")
    assert not wrong.holds and wrong.counterexample is not None


def test_a_claim_by_a_matrix_of_the_wrong_shape_is_refused(layer: symcalc.Model) -> None:
    wanted = r"has the shape \[h\*n,h\*n\]; the right-hand side is \[n,n\]"
    with pytest.raises(symcalc.SymcalcError, match=wanted):
        layer.claims_of("d2L/dW^2", "outer(x, x)")
    with pytest.raises(symcalc.SymcalcError, match=r"ds/dW has the shape \[h,h\*n\]"):
        layer.claims_of("ds/dW", "kron(eye(h), x)")


def test_a_matrix_hessian_claim_in_a_file_is_verified(write_toml: WriteToml) -> None:
    claims = '"d2L/dW^2" = "kron(eye(h), outer(x, x))"\n"ds/dW" = "transpose(kron(x, eye(h)))"\n'
    text = LINEAR_LAYER + "\n[claims]\n" + claims
    checks = {c.name: c for c in symcalc.verify(symcalc.derive(symcalc.load(str(write_toml(text)))))}
    hessian = [c for name, c in checks.items() if name.startswith("claim d2L/dW")]
    assert len(hessian) == (H * N) ** 2 and all(c.holds for c in hessian)
    assert checks["claim ds1/dW1_1"].holds and not checks["claim ds1/dW1_2"].holds  # x1 either way


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("softmax_regression_vector", "kron(diag(p) - outer(p, p), outer(x, x))"),
        ("gaussian_likelihood_vector", "kron(diag(exp(-lv)), outer(x, x))"),
        ("multinomial_logistic_regression", "lam*I + kron(diag(p) - outer(p, p), outer(x, x))"),  # penalised
    ],
)
def test_derive_hessian_prints_the_vec_form_and_it_reads_back_as_claims_that_hold(
    run: Runner, name: str, first: str
) -> None:
    code, out, err = run(["derive", name, "--hessian", "--json"])
    assert code == 0, err
    printed = json.loads(out)["vector_hessian"]
    assert printed[0]["result"] == first and printed[0]["shape"][0] in ("k*n",)
    model = symcalc.load(name)
    for second in printed:
        check = check_claim(model, second["name"], second["result"])
        assert check.holds and check.proved, second
    code, out, _ = run(["derive", name, "--hessian"])
    assert code == 0 and "⊗ x⋅xᵀ" in out and "no vector form" not in out


def test_the_linear_layer_hessian_is_derived_in_vec_form_and_verified(
    layer: symcalc.Model, run: Runner, tmp_path: Path
) -> None:
    derivation = symcalc.derive(layer, hessian=True)
    shown = {s.name: (s.shape, str(s.result)) for s in derivation.vector_hessian}
    assert shown == {
        "d2L/dW^2": (("h*n", "h*n"), "kron(eye(h), outer(x, x))"),
        "d2L/dW dc": (("h*n", "h"), "kron(eye(h), x)"),
        "d2L/dc^2": (("h", "h"), "I"),
    }
    checks = [c for c in symcalc.verify(derivation) if c.kind == "vector" and "d2" in c.name]
    assert len(checks) == 3 and all(c.holds and c.proved for c in checks)
    path = tmp_path / "layer.toml"
    path.write_text(LINEAR_LAYER, encoding="utf-8")
    code, out, _ = run(["derive", str(path), "--hessian", "--json"])
    assert code == 0
    for second in json.loads(out)["vector_hessian"]:
        assert check_claim(layer, second["name"], second["result"]).proved, second


def test_a_wrong_vec_form_in_the_derivation_fails_verify(layer: symcalc.Model) -> None:
    derivation = symcalc.derive(layer, hessian=True)
    first = derivation.vector_hessian[0]
    x = next(s for s in first.result.free_symbols if s.name == "x")
    wrong = dataclasses.replace(first, result=kron(outer(x, x), eye(dimension("h"))))  # column by column
    broken = dataclasses.replace(derivation, vector_hessian=(wrong, *derivation.vector_hessian[1:]))
    failed = [c for c in symcalc.verify(broken) if not c.holds]
    assert [c.kind for c in failed] == ["vector"] and "d2L/dW^2" in failed[0].name


@pytest.mark.parametrize(
    "name",
    [
        "linear_layer",
        "softmax_regression_vector",
        "two_layer_network_vector",
        "multinomial_logistic_regression",
    ],
)
def test_every_document_reads_the_vec_form_back_as_sympys_diff(write_toml: WriteToml, name: str) -> None:
    """LaTeX, Markdown and HTML write d²L/dW² = I_{h} ⊗ x xᵀ; their reader takes each row back, and it
    equals SymPy's diff of the written-out loss twice, entry by entry (vec W row by row)."""
    from tests.render.test_printed_documents import check_documents

    if name == "linear_layer":  # without c, whose d2L/dc^2 = I the rows' reader cannot size
        without_c = LINEAR_LAYER.replace(', "c[h]"', "").replace("W @ x + c", "W @ x")
        model = symcalc.load(str(write_toml(without_c)))
    else:
        model = symcalc.load(f"derivations/{name}.toml")
    derivation = symcalc.derive(model, hessian=True)
    assert any(s.first.name == "W" for s in derivation.vector_hessian)
    check_documents(derivation)


def test_check_on_the_command_line_takes_a_hessian_and_a_jacobian_by_a_matrix(run: Runner) -> None:
    code, out, _ = run(
        ["check", "softmax_regression_vector", "d2L/dW^2", "kron(diag(p) - outer(p, p), outer(x, x))"]
    )
    assert code == 0 and "1 holds (1 proved)" in out
    code, out, _ = run(
        ["check", "softmax_regression_vector", "d2L/dW^2", "kron(outer(x, x), diag(p) - outer(p, p))"]
    )
    assert code == 1 and "claim d2L/dW1_1 dW1_2" in out and "SymPy's diff" in out
    code, out, _ = run(["check", "two_layer_network_vector", "ds/dW", "transpose(kron(eye(h), x))"])
    assert code == 0 and "1 holds (1 proved)" in out
