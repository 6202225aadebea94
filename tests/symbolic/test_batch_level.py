"""Batch-level models (issue 31): a loss over a whole batch X[m,n], dL/dX derived, shown and verified.

The oracle here shares nothing with symcalc: batch normalisation is written out at m = 3, n = 2 with
SymPy's own symbols, every definition substituted into the loss, differentiated by SymPy's `diff`
and evaluated with mpmath at random points. symcalc's vector-form results (dL/dX in its compact
form, dL/dγ, dL/dβ) are evaluated at the same points by their own meaning (`concrete`, each
definition put in), never by symcalc's derivatives.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.render.json import derivation_dict
from symcalc.spec.shapes import batch_inputs
from symcalc.symbolic.expand import concrete, flat
from tests.conftest import DERIVATIONS, Runner, WriteToml

M, N = 3, 2
EPS = sp.Rational(1, 100_000)
DIGITS = 40
SHIPPED = DERIVATIONS / "batch_norm.toml"


def _written_at_three(tmp_path: Path) -> Path:
    """The shipped file with its batch at m = 3, the oracle's size (the file's own is 4)."""
    path = tmp_path / "batch_norm.toml"
    path.write_text(SHIPPED.read_text(encoding="utf-8").replace("m = 4", f"m = {M}"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def derivation(tmp_path_factory: pytest.TempPathFactory) -> symcalc.Derivation:
    return symcalc.derive(symcalc.load(str(_written_at_three(tmp_path_factory.mktemp("bn")))))


# -- the independent oracle ------------------------------------------------------------------------


def _oracle_loss() -> tuple[sp.Expr, dict[str, sp.Symbol]]:
    """Batch normalisation's loss at m × n, composed from scratch, and its symbols by symcalc's names."""
    X = [[sp.Symbol(f"X{i}_{j}") for j in range(1, N + 1)] for i in range(1, M + 1)]
    T = [[sp.Symbol(f"T{i}_{j}") for j in range(1, N + 1)] for i in range(1, M + 1)]
    gamma = [sp.Symbol(f"gamma{j}") for j in range(1, N + 1)]
    beta = [sp.Symbol(f"beta{j}") for j in range(1, N + 1)]
    loss = sp.S.Zero
    for j in range(N):
        mean = sum(X[i][j] for i in range(M)) / M
        variance = sum((X[i][j] - mean) ** 2 for i in range(M)) / M
        for i in range(M):
            normalised = (X[i][j] - mean) / sp.sqrt(variance + EPS)
            loss += (gamma[j] * normalised + beta[j] - T[i][j]) ** 2 / 2
    names = [*(s for row in X for s in row), *(s for row in T for s in row), *gamma, *beta]
    return loss, {s.name: s for s in names}


def _points(symbols: dict[str, sp.Symbol], count: int) -> list[dict[str, mpmath.mpf]]:
    rng = random.Random(31)
    points = []
    for _ in range(count):
        point = {}
        for name in symbols:
            low, high = (0.5, 2.0) if name.startswith("gamma") else (-3.0, 3.0)
            point[name] = mpmath.mpf(rng.uniform(low, high))
        points.append(point)
    return points


def _independent(model: symcalc.Model, entries: Sequence[sp.Basic]) -> list[sp.Expr]:
    """Entries of the written-out model with every definition put in and each constant at its value:
    only inputs, targets and parameters are left."""
    constants = {symbol: sp.nsimplify(value) for symbol, value in model.constants}
    written: list[sp.Expr] = []
    for entry in entries:
        expr = sp.sympify(entry)
        for symbol, value in reversed(model.definitions):
            expr = expr.xreplace({symbol: value})
        written.append(expr.xreplace(constants))
    return written


def _result_entries(derivation: symcalc.Derivation, name: str) -> list[sp.Expr]:
    """A vector-form result entry by entry, by what its operations mean at the written-out sizes."""
    model = derivation.model
    assert model.shaped is not None and derivation.vector is not None
    result = next(r for r in derivation.vector.results if r.node.name == name)
    return _independent(model, flat(concrete(result.result, model.shaped.arrays()), 1))


def _oracle_entries(name: str) -> tuple[list[sp.Expr], dict[str, sp.Symbol]]:
    """SymPy's diff of the composed loss by each entry of `name` (row by row), and the symbols."""
    loss, symbols = _oracle_loss()
    wrt = [symbol for key, symbol in symbols.items() if key.rstrip("0123456789_") == name]
    assert len(wrt) == (M * N if name == "X" else N)
    return [sp.diff(loss, symbol) for symbol in wrt], symbols


def _differences(
    got: Sequence[sp.Expr], oracle: Sequence[sp.Expr], symbols: dict[str, sp.Symbol]
) -> list[float]:
    """|got − oracle| / (1 + |oracle|) for each entry at each of three random points, at 40 digits."""
    names = list(symbols.values())
    found = []
    with mpmath.workdps(DIGITS):
        for point in _points(symbols, 3):
            values = [point[s.name] for s in names]
            for g, o in zip(got, oracle, strict=True):
                have = sp.lambdify(names, g, "mpmath")(*values)
                want = sp.lambdify(names, o, "mpmath")(*values)
                found.append(float(abs(have - want) / (1 + abs(want))))
    return found


@pytest.mark.parametrize("name", ["X", "gamma", "beta"])
def test_each_result_equals_sympys_diff_of_the_composed_loss(
    derivation: symcalc.Derivation, name: str
) -> None:
    oracle, symbols = _oracle_entries(name)
    assert max(_differences(_result_entries(derivation, name), oracle, symbols)) < 1e-30


def test_the_comparison_has_teeth(derivation: symcalc.Derivation) -> None:
    """dL/dX through the normalised batch alone (the mean and the variance held fixed) is far from the
    oracle: the test above would catch it."""
    model = derivation.model
    wrong = "(Y - T)*outer(ones(m), gamma)/outer(ones(m), sigma)"
    claims = model.claims_of("dL/dX", wrong)
    oracle, symbols = _oracle_entries("X")
    got = _independent(model, [claim.expected for claim in claims])
    assert max(_differences(got, oracle, symbols)) > 1e-3


# -- derive, --json, verify and check ---------------------------------------------------------------


def test_dl_dx_is_a_result_of_the_vector_form_in_its_compact_form(derivation: symcalc.Derivation) -> None:
    assert derivation.vector is not None
    (result,) = derivation.vector.inputs
    assert result.name == "dL/dX" and result.shape == ("m", "n")
    # the compact form reads the normalised batch, σ, γ and dL/dY's value alone: neither the centred
    # batch D nor the variance (through sqrt(var + eps)) is left in it
    assert {s.name for s in result.result.free_symbols} <= {"Xhat", "Y", "T", "gamma", "sigma", "m"}
    assert not result.result.atoms(sp.Pow) & {p for p in result.result.atoms(sp.Pow) if p.exp == sp.S.Half}


def test_json_gives_dl_dx_which_reads_back_as_a_claim_that_holds(derivation: symcalc.Derivation) -> None:
    printed = json.loads(json.dumps(derivation_dict(derivation)))
    entry = next(e for e in printed["vector_form"] if e["name"] == "dL/dX")
    assert entry["shape"] == ["m", "n"] and entry["index_form"].startswith("dL/dX[i, j] = ")
    assert printed["batch_form"] is None  # nothing is averaged over samples for a batch-level model
    assert symcalc.check_claim(derivation.model, "dL/dX", entry["result"]).holds


def test_verify_checks_dl_dx_and_every_claim_of_the_shipped_file() -> None:
    checks = symcalc.verify(symcalc.derive(symcalc.load(str(SHIPPED))))
    assert all(check.holds for check in checks), [c.name for c in checks if not c.holds]
    names = {check.name for check in checks}
    assert "vector form dL/dX" in names
    claimed = {
        name.removeprefix("claim dL/d").rstrip("0123456789_") for name in names if name.startswith("claim")
    }
    assert {"X", "gamma", "beta"} <= claimed  # each claim is checked entry by entry


@pytest.mark.parametrize(
    "wrong",
    [
        # the mean's path dropped: no −𝟙ᵀdX̂ term
        "(m*dL/dXhat - Xhat*outer(ones(m), ones(m) @ (dL/dXhat*Xhat)))/(m*outer(ones(m), sigma))",
        # the variance's path dropped: no −X̂ ⊙ 𝟙ᵀ(dX̂ ⊙ X̂) term
        "(m*dL/dXhat - outer(ones(m), ones(m) @ dL/dXhat))/(m*outer(ones(m), sigma))",
    ],
    ids=["no mean term", "no variance term"],
)
def test_the_common_wrong_dl_dx_fails_with_a_counterexample(wrong: str) -> None:
    check = symcalc.check_claim(symcalc.load(str(SHIPPED)), "dL/dX", wrong)
    assert check.status == "fails"
    assert check.counterexample is not None


#: Other batch-level models: a regression over the batch (dL/dX a product with a vector over the rows,
#: which the compact reading leaves alone), centring then tanh (a row γ beside a matrix), batch
#: normalisation with σ written inline, relu and cross-entropy.
OTHERS = {
    "regression": """
inputs = ["X[m,n]"]
targets = ["t[m]"]
parameters = ["w[n]", "b"]
[dimensions]
m = 3
n = 2
[definitions]
z = "X @ w + b"
L = "sum((z - t)^2)/2"
""",
    "centred tanh": """
inputs = ["X[m,n]"]
targets = ["T[m,n]"]
parameters = ["g[n]"]
[dimensions]
m = 3
n = 2
[definitions]
mu = "X.T @ ones(m)/m"
D = "X - outer(ones(m), mu)"
Y = "tanh(D*outer(ones(m), g))"
L = "sum((Y - T)^2)/2"
""",
    "normalised, relu, cross-entropy": """
inputs = ["X[m,n]"]
targets = ["T[m,n]"]
parameters = ["gamma[n]", "beta[n]"]
[dimensions]
m = 3
n = 2
[constants]
eps = 0.001
[definitions]
mu = "X.T @ ones(m)/m"
D = "X - outer(ones(m), mu)"
var = "(D*D).T @ ones(m)/m"
Xhat = "D/outer(ones(m), sqrt(var + eps))"
Y = "relu(Xhat*outer(ones(m), gamma) + outer(ones(m), beta))"
L = "sum(-T*log(sigmoid(Y)) - (1 - T)*log(1 - sigmoid(Y)))"
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OTHERS))
def test_another_batch_level_models_dl_dx_is_shown_as_a_claim_that_holds(
    name: str, write_toml: WriteToml
) -> None:
    """Whatever form the engine gives dL/dX, its text is the file's syntax (each row beside a matrix
    spread as 𝟙uᵀ) and holds as a claim."""
    model = symcalc.load(str(write_toml(OTHERS[name])))
    derivation = symcalc.derive(model)
    assert derivation.vector is not None and [r.name for r in derivation.vector.inputs] == ["dL/dX"]
    entry = next(e for e in derivation_dict(derivation)["vector_form"] if e["name"] == "dL/dX")
    assert symcalc.check_claim(model, "dL/dX", entry["result"]).holds


def test_a_per_sample_model_with_a_matrix_input_is_not_batch_level() -> None:
    """Attention's X[t,e] is one sample's keys: no target has t first, so no dL/dX and a batch form."""
    derivation = symcalc.derive(symcalc.load(str(DERIVATIONS / "attention_one_query.toml")))
    assert derivation.vector is not None and derivation.vector.inputs == ()


# -- the rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "targets", "shapes", "expected"),
    [
        (["X"], ["T"], [("X", ("m", "n")), ("T", ("m", "n"))], ("X",)),
        (["X"], ["t"], [("X", ("m", "n")), ("t", ("m",))], ("X",)),
        (["X", "x"], ["y"], [("X", ("t", "e")), ("x", ("e",)), ("y", ("d",))], ()),
        (["x"], ["t"], [("x", ("m",)), ("t", ("m",))], ()),
        (["X"], ["T"], [("X", (3, 2)), ("T", (3, 2))], ()),
        (["X"], [], [("X", ("m", "n"))], ()),
    ],
    ids=["matrix target", "vector target", "attention", "vectors only", "literal sizes", "no target"],
)
def test_batch_inputs_share_their_first_axis_with_a_target(
    inputs: list[str],
    targets: list[str],
    shapes: list[tuple[str, tuple[str | int, ...]]],
    expected: tuple[str, ...],
) -> None:
    assert batch_inputs(inputs, targets, shapes) == expected


# -- train -------------------------------------------------------------------------------------------


def test_train_refuses_a_batch_level_model_in_one_line(run: Runner) -> None:
    code, out, err = run(["train", str(SHIPPED), "--epochs", "1"])
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "batch-level" in err and "X[m,n]" in err, err


def test_train_still_trains_a_model_with_a_per_sample_matrix(
    run: Runner, write_toml: WriteToml, tmp_path: Path
) -> None:
    """The refusal is the rule's: a matrix input whose first axis no target shares trains as before."""
    path = write_toml(PER_SAMPLE)
    rng = np.random.default_rng(5)
    rows = [",".join(f"{v:.6f}" for v in rng.normal(size=5)) for _ in range(20)]
    data = tmp_path / "data.csv"
    data.write_text("A1_1,A1_2,A2_1,A2_2,y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = run(["train", str(path), "--data", str(data), "--epochs", "1", "--json"])
    assert code == 0, err
    assert np.isfinite(json.loads(out)["loss"])


PER_SAMPLE = """
title = "a sample of two rows"
inputs = ["A[k,n]"]
targets = ["y"]
parameters = ["w[n]", "b"]
[dimensions]
k = 2
n = 2
[definitions]
s = "A @ w"
z = "sum(s) + b"
L = "(z - y)^2/2"
"""
