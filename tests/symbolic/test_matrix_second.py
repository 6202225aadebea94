"""Second derivatives and Jacobians by a matrix, in vec form (W's entries row by row: W1_1, W1_2, …),
against SymPy's own diff of the model written out by hand at h = 2, n = 3, entry by entry, exactly."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.check.checks import check_claim
from tests.conftest import WriteToml
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
