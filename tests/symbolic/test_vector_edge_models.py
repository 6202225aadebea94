"""Vector models a course writes next: a scalar that scales a vector, sums of products, a bilinear score.

The oracle never goes through symcalc: each model is written out here by hand in SymPy at
its sizes, differentiated by SymPy's `diff` and evaluated at 30 digits.
"""

from __future__ import annotations

import random

import pytest
import sympy as sp

import symcalc
from symcalc.symbolic.expand import concrete, flat
from tests.conftest import WriteToml


def _entries(name: str, *sizes: int) -> sp.Matrix:
    """A name's entries as the CSV names them: x1 … xn, W1_1 … Wh_n (real symbols)."""
    if len(sizes) == 1:
        return sp.Matrix([sp.Symbol(f"{name}{i + 1}", real=True) for i in range(sizes[0])])
    rows, columns = sizes
    return sp.Matrix(rows, columns, lambda i, j: sp.Symbol(f"{name}{i + 1}_{j + 1}", real=True))


def _at(expr: sp.Expr, seed: int = 0) -> dict[sp.Symbol, sp.Float]:
    rng = random.Random(seed)
    return {s: sp.Float(rng.uniform(-2, 2), 30) for s in sorted(expr.free_symbols, key=str)}


SCALED = """
title = "a scalar that scales a vector"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["w[n]"]
[dimensions]
n = 3
[definitions]
q = "sum(x*x)"
s = "q*w"
L = "(sum(s) - y)^2/2"
[claims]
"dL/dq" = "(sum(s) - y)*sum(w)"
"""


@pytest.mark.slow
def test_a_claim_about_a_scalar_stated_with_vectors_is_decided(write_toml: WriteToml) -> None:
    # Written out by hand: with q free, L = (q*(w1 + w2 + w3) - y)^2 / 2.
    q, y = sp.symbols("q y", real=True)
    w, x = _entries("w", 3), _entries("x", 3)
    loss = (q * sum(w) - y) ** 2 / 2
    oracle = sp.diff(loss, q).subs(q, sum(x.multiply_elementwise(x)))
    model = symcalc.load(str(write_toml(SCALED)))
    (claim,) = model.claims
    point = _at(oracle)
    # The claim in the names of the model, with q and s put in, at the same point as the oracle.
    expected = claim.expected
    for name, definition in reversed(model.definitions):
        expected = expected.subs(name, definition)
    assert abs(expected.subs(point) - oracle.subs(point)) < 1e-25
    checks = symcalc.verify(symcalc.derive(model), points=4)
    (verdict,) = [c for c in checks if c.name == "claim dL/dq"]
    assert verdict.status == "holds", verdict
    wrong = symcalc.check_claim(model, "dL/dq", "(sum(s) - y)*sum(w)*2")
    assert wrong.status == "fails"


SUMS_HEADER = """
title = "a sum of a product"
inputs = ["x[n]", "K[n,n]"]
targets = []
parameters = ["W[h,n]", "w[n]"]
[dimensions]
n = 2
h = 3
[definitions]
"""
N, H = 2, 3
X, K, W, V = _entries("x", N), _entries("K", N, N), _entries("W", H, N), _entries("w", N)


def _sum(matrix: sp.Matrix) -> sp.Expr:
    return sp.Add(*matrix)


#: Each loss as the file writes it, and written out by hand with SymPy's matrices.
SUMS = [
    ("sum(W @ x)", _sum(W * X)),
    ("sum(outer(w, w))", _sum(V * V.T)),
    ("sum(K @ w)", _sum(K * V)),
    ("sum(diag(w) @ x)", _sum(sp.diag(*V) * X)),
    ("sum(W @ transpose(W))", _sum(W * W.T)),
    ("sum(transpose(W)) * sum(w) + sum(diag(w))", _sum(W.T) * _sum(V) + _sum(sp.diag(*V))),
    ("sum(softmax(w)) * sum(w) + sum(outer(W @ x, w))", _sum(V) + _sum((W * X) * V.T)),
]


@pytest.mark.slow
@pytest.mark.parametrize(("loss", "oracle"), SUMS, ids=[loss for loss, _ in SUMS])
def test_a_sum_of_a_product_derives_to_sympys_diff(loss: str, oracle: sp.Expr, write_toml: WriteToml) -> None:
    derivation = symcalc.derive(symcalc.load(str(write_toml(SUMS_HEADER + f'L = "{loss}"\n'))))
    point = _at(sp.Add(*X, *K, *W, *V))
    for parameter in [*W, *V]:
        derived = derivation.gradients[parameter]
        assert abs((derived - sp.diff(oracle, parameter)).subs(point)) < 1e-25, (parameter, derived)
    # every one has a vector form: a sum of W @ x passes g·ones(h) on (it needed a word for it)
    assert derivation.vector is not None, derivation.vector_problem
    arrays = derivation.model.shaped.arrays() if derivation.model.shaped else {}
    for result in derivation.vector.gradients:
        entries = flat(concrete(result.result, arrays), len(flat(arrays[result.node], 1)))
        for target, entry in zip(flat(arrays[result.node], 1), entries, strict=True):
            expected = sp.diff(oracle, target).subs(point)
            assert abs(sp.sympify(entry).subs(point) - expected) < 1e-25, (result.name, target)


BILINEAR = """
title = "a bilinear score"
inputs = ["u[n]", "v[k]"]
targets = ["y"]
parameters = ["W[n,k]"]
[dimensions]
n = 3
k = 3
[definitions]
s = "u @ (W @ v)"
a = "sigmoid(s)"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
"""


@pytest.mark.slow
def test_a_bilinear_score_verifies_where_one_minus_sigmoid_rounds_to_zero(write_toml: WriteToml) -> None:
    # At these sizes some samples have s past 120, where 1 - σ(s) is 0 at 50 digits in SymPy's diff of
    # the written-out loss: the batch form's oracle takes more digits there instead of dividing by 0.
    derivation = symcalc.derive(symcalc.load(str(write_toml(BILINEAR))))
    checks = symcalc.verify(derivation)
    assert all(c.holds for c in checks), [c.name for c in checks if not c.holds]
    assert "batch" in {c.kind for c in checks}
    # The written-out gradient is SymPy's diff of the model written out by hand.
    u, v, w = _entries("u", 3), _entries("v", 3), _entries("W", 3, 3)
    y = sp.Symbol("y", real=True)
    a = 1 / (1 + sp.exp(-(u.T * w * v)[0, 0]))
    loss = -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    point = _at(loss)
    for entry in w:
        derived = derivation.gradients[entry]
        for name, definition in reversed(derivation.model.definitions):
            derived = derived.subs(name, definition)
        assert abs((derived - sp.diff(loss, entry)).subs(point).evalf(30)) < 1e-25
