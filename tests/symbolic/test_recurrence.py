"""Recurrences written once (`"h[t]" = "tanh(W @ h[t-1] + U @ x[t] + b)"`), unrolled as the file is read.

The oracle is independent of symcalc: the same RNN written out by hand here, with SymPy symbols
(its own matrices and its own loop over the steps), differentiated by SymPy's `diff` and evaluated
by mpmath; and for `codegen` and `train`, a NumPy forward pass written here, differentiated by
central finite differences.
"""

from __future__ import annotations

import json
import random
import tomllib
from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.spec.recurrence import MAX_STEPS, unroll
from symcalc.symbolic.arrays import outer
from symcalc.symbolic.expand import concrete
from symcalc.symbolic.notation import Adjoint, Total
from tests.conftest import DERIVATIONS, Runner, WriteToml

T, D, N = 3, 2, 2

RNN = f"""
title = "An RNN over T steps"
inputs = ["x[T,n]"]
targets = ["y"]
parameters = ["W[d,d]", "U[d,n]", "b[d]", "v[d]", "c"]
[dimensions]
T = {T}
n = {N}
d = {D}
[definitions]
"h[0]" = "0"
"h[t]" = "tanh(W @ h[t-1] + U @ x[t] + b)"
z = "v @ h[T] + c"
L = "(z - y)^2/2"
"""


def _matrix(name: str, rows: int, columns: int) -> sp.Matrix:
    return sp.Matrix(rows, columns, lambda i, j: sp.Symbol(f"{name}{i + 1}_{j + 1}"))


def _vector(name: str, size: int) -> sp.Matrix:
    return sp.Matrix(size, 1, lambda i, _: sp.Symbol(f"{name}{i + 1}"))


def _hand_written(steps: int = T) -> tuple[sp.Expr, dict[str, sp.Symbol]]:
    """The loss of the RNN at `steps` steps, composed here by hand, and its independent names by name."""
    W, U = _matrix("W", D, D), _matrix("U", D, N)
    b, v = _vector("b", D), _vector("v", D)
    c, y = sp.Symbol("c"), sp.Symbol("y")
    xs = [_vector(f"x{t}", N) for t in range(1, steps + 1)]
    h = sp.zeros(D, 1)
    for x in xs:
        h = (W * h + U * x + b).applyfunc(sp.tanh)
    z = (v.T * h)[0, 0] + c
    loss = (z - y) ** 2 / 2
    names = [*W, *U, *b, *v, c, y, *(e for x in xs for e in x)]
    return loss, {s.name: s for s in names}


def _point(names: dict[str, sp.Symbol], rng: random.Random) -> dict[str, mpmath.mpf]:
    return {name: mpmath.mpf(rng.uniform(-1.5, 1.5)) for name in names}


def _at(expr: sp.Expr, values: dict[str, mpmath.mpf]) -> mpmath.mpf:
    ordered = sorted(expr.free_symbols, key=lambda s: s.name)
    function = sp.lambdify(ordered, expr, modules="mpmath")
    with mpmath.workdps(50):
        return mpmath.mpf(function(*(values[s.name] for s in ordered)))


@pytest.fixture(scope="module")
def rnn(tmp_path_factory: pytest.TempPathFactory) -> symcalc.Derivation:
    path = tmp_path_factory.mktemp("rnn") / "rnn.toml"
    path.write_text(RNN, encoding="utf-8")
    return symcalc.derive(symcalc.load(str(path)))


def test_the_cell_is_unrolled_into_one_definition_per_step(rnn: symcalc.Derivation) -> None:
    shaped = rnn.model.shaped
    assert shaped is not None
    defined = [symbol.name for symbol, _ in shaped.definitions]
    assert defined == [*(f"h{t}" for t in range(1, T + 1)), "z", "L"]
    assert [symbol.name for symbol in shaped.data] == [*(f"x{t}" for t in range(1, T + 1)), "y"]
    # each step reads the one before (the zero initial state drops out of the first)
    definitions = {symbol.name: expr for symbol, expr in shaped.definitions}
    for t in range(2, T + 1):
        assert f"h{t - 1}" in {s.name for s in definitions[f"h{t}"].free_symbols}
    assert not any(s.name.startswith("h") for s in definitions["h1"].free_symbols)


def test_every_gradient_is_sympys_diff_of_the_rnn_written_out_by_hand(rnn: symcalc.Derivation) -> None:
    loss, names = _hand_written()
    rng = random.Random(31)
    for parameter in rnn.model.parameters:
        derived = rnn.model.expand(rnn.in_names(rnn.gradients[parameter]))
        exact = sp.diff(loss, names[parameter.name])
        for _ in range(3):
            values = _point(names, rng)
            ours, theirs = _at(derived, values), _at(exact, values)
            assert abs(ours - theirs) <= mpmath.mpf(10) ** -30 * (1 + abs(theirs)), parameter


def test_the_gradient_of_W_is_a_sum_of_one_term_per_step(rnn: symcalc.Derivation) -> None:
    assert rnn.vector is not None
    (result,) = [r for r in rnn.vector.gradients if r.node.name == "W"]
    terms = sp.Add.make_args(result.chain)
    # one outer product per step whose W @ h[t-1] reads a state, t = 2 … T (h0 = 0): δ_t h_{t-1}ᵀ
    assert len(terms) == T - 1 and all(isinstance(term, outer) for term in terms)
    assert sorted(term.args[1].name for term in terms) == [f"h{t}" for t in range(1, T)]
    assert sorted(a.node.name for term in terms for a in term.args[0].atoms(Adjoint)) == [
        f"h{t}" for t in range(2, T + 1)
    ]


def _written(path: Path, *parts: str) -> Path:
    path.write_text(RNN + "\n".join(parts) + "\n", encoding="utf-8")
    return path


def test_json_chain_of_W_reads_back_as_a_claim_that_holds(run: Runner, tmp_path: Path) -> None:
    path = _written(tmp_path / "rnn.toml")
    code, out, _ = run(["derive", str(path), "--json"])
    assert code == 0
    (result,) = [r for r in json.loads(out)["vector_form"] if r["name"] == "dL/dW"]
    for side in ("chain", "result"):
        code, out, err = run(["check", str(path), "dL/dW", result[side]])
        assert code == 0, out + err


def test_the_lecture_claims_hold_and_the_truncated_one_fails_with_a_counterexample(
    run: Runner, tmp_path: Path
) -> None:
    claims = [
        "[claims]",
        '"dL/dh[T]" = "(z - y)*v"',
        '"dL/dh[T-1]" = "transpose(W) @ ((1 - h[T]^2)*dL/dh[T])"',
        '"dL/dW" = "sum_t(outer((1 - h[t]^2)*dL/dh[t], h[t-1]))"',
        '"dL/dU" = "sum_t(outer((1 - h[t]^2)*dL/dh[t], x[t]))"',
        '"dL/db" = "sum_t((1 - h[t]^2)*dL/dh[t])"',
    ]
    path = _written(tmp_path / "rnn.toml", *claims)
    checks = symcalc.verify(symcalc.derive(symcalc.load(str(path))))
    assert checks and all(check.holds for check in checks)
    # back-propagation through time truncated to the last step: the classic mistake
    code, out, _ = run(["check", str(path), "dL/dW", "outer((1 - h[T]^2)*dL/dh[T], h[T-1])"])
    assert code == 1
    assert "fails" in out and "SymPy's diff" in out
    truncated = _written(tmp_path / "wrong.toml", '[claims]\n"dL/dU" = "outer((1 - h[T]^2)*dL/dh[T], x[T])"')
    checks = symcalc.verify(symcalc.derive(symcalc.load(str(truncated))))
    failed = [c for c in checks if c.kind == "claim" and not c.holds]
    assert failed and all(c.counterexample is not None for c in failed)


def test_the_insight_names_the_factor_and_it_is_the_jacobian_of_one_step(rnn: symcalc.Derivation) -> None:
    (insight,) = [i for i in rnn.insights if i.kind == "recurrence"]
    assert insight in rnn.vector_insights
    _, _, one_step, factor, over_steps, product, _ = insight.expressions
    state = {t: sp.Symbol(f"h{t}", real=True) for t in range(1, T + 1)}
    assert one_step == Total(state[T], state[T - 1]) and over_steps == Total(state[T], state[1])
    # independently: the hand-written steps h2(h1) and h3(h2), their Jacobians by SymPy
    W, U, b = _matrix("W", D, D), _matrix("U", D, N), _vector("b", D)
    h1, h2 = _vector("h1", D), _vector("h2", D)
    x2, x3 = _vector("x2", N), _vector("x3", N)
    rng = random.Random(7)
    values = {s: rng.uniform(-1, 1) for s in (*W, *U, *b, *h1, *x2, *x3)}
    step2 = (W * h1 + U * x2 + b).applyfunc(sp.tanh)
    at_h2 = step2.subs(values)
    step3 = (W * h2 + U * x3 + b).applyfunc(sp.tanh)
    at_h3 = step3.subs(values).subs(dict(zip(h2, at_h2, strict=True)))
    one = step3.jacobian(h2).subs(values).subs(dict(zip(h2, at_h2, strict=True)))
    both = step3.subs(dict(zip(h2, step2, strict=True))).jacobian(h1).subs(values)
    named = {s.name: v for s, v in values.items()}
    named |= {f"h2{i + 1}": at_h2[i] for i in range(D)} | {f"h3{i + 1}": at_h3[i] for i in range(D)}
    assert rnn.model.shaped is not None
    arrays = rnn.model.shaped.arrays()
    for shown, expected in ((factor, one), (product, both)):
        entries = concrete(shown, arrays)
        for i in range(D):
            for j in range(D):
                got = sp.sympify(entries[i, j])
                got = got.subs({s: named[s.name] for s in got.free_symbols})
                assert abs(float(got) - float(expected[i, j])) < 1e-12, (shown, i, j)


def test_a_model_without_a_recurrence_has_no_recurrence_insight() -> None:
    derivation = symcalc.derive(symcalc.load("two_layer_network_vector"))
    assert not [i for i in derivation.insights if i.kind == "recurrence"]


def test_a_scalar_recurrence_with_a_loss_summed_over_the_steps(write_toml: WriteToml) -> None:
    path = write_toml(
        """
inputs = ["x[T]"]
targets = ["y[T]"]
parameters = ["w", "u", "b"]
[dimensions]
T = 4
[definitions]
"s[0]" = "0"
"s[t]" = "tanh(w*s[t-1] + u*x[t] + b)"
L = "sum_t((s[t] - y[t])^2)/2"
"""
    )
    derivation = symcalc.derive(symcalc.load(str(path)))
    w, u, b = sp.symbols("w u b")
    xs, ys = sp.symbols("x1:5"), sp.symbols("y1:5")
    s, loss = sp.S.Zero, sp.S.Zero
    for x, y in zip(xs, ys, strict=True):
        s = sp.tanh(w * s + u * x + b)
        loss += (s - y) ** 2 / 2
    rng = random.Random(5)
    names = {sym.name: sym for sym in (w, u, b, *xs, *ys)}
    for parameter in derivation.model.parameters:
        derived = derivation.model.expand(derivation.in_names(derivation.gradients[parameter]))
        values = _point(names, rng)
        exact = _at(sp.diff(loss, names[parameter.name]), values)
        assert abs(_at(derived, values) - exact) <= mpmath.mpf(10) ** -30 * (1 + abs(exact))


# -- numbers: codegen and train against a NumPy forward pass written here --------------------------


def _forward(params: dict[str, np.ndarray], xs: list[np.ndarray], y: np.ndarray) -> float:
    """The mean loss over the rows: h_t = tanh(W h_{t-1} + U x_t + b) from h_0 = 0, z = v·h_T + c."""
    h = np.zeros((len(y), D))
    for x in xs:
        h = np.tanh(h @ params["W"].T + x @ params["U"].T + params["b"])
    z = h @ params["v"] + params["c"]
    return float(np.mean((z - y) ** 2 / 2))


def _differences(
    loss: Callable[[dict[str, np.ndarray]], float], params: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    step = 1e-6
    result: dict[str, np.ndarray] = {}
    for name, value in params.items():
        grad = np.zeros_like(value, dtype=float)
        for index in np.ndindex(np.shape(value)):
            up, down = ({k: np.array(v, dtype=float) for k, v in params.items()} for _ in range(2))
            up[name][index] += step
            down[name][index] -= step
            grad[index] = (loss(up) - loss(down)) / (2 * step)
        result[name] = grad
    return result


def test_codegen_gradient_equals_finite_differences_of_a_numpy_forward_pass(rnn: symcalc.Derivation) -> None:
    module = symcalc.load_module(symcalc.codegen(rnn))
    rng = np.random.default_rng(3)
    params = {
        "W": rng.normal(size=(D, D)),
        "U": rng.normal(size=(D, N)),
        "b": rng.normal(size=D),
        "v": rng.normal(size=D),
        "c": np.array(rng.normal()),
    }
    xs = [rng.normal(size=(6, N)) for _ in range(T)]
    y = rng.normal(size=6)
    data = {f"x{t}": xs[t - 1] for t in range(1, T + 1)} | {"y": y}
    assert module.loss(params, data) == pytest.approx(_forward(params, xs, y), rel=1e-12)
    derived = module.gradient(params, data)
    expected = _differences(lambda p: _forward(p, xs, y), params)
    for name in params:
        assert np.allclose(derived[name], expected[name], rtol=1e-6, atol=1e-8), name


@pytest.mark.slow
def test_train_reports_the_loss_and_gradient_norm_of_a_numpy_forward_pass(
    run: Runner, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(30, N)) for _ in range(T)]
    y = np.tanh(sum(x[:, 0] for x in xs)) * 0.8
    columns = [f"x{t}{i}" for t in range(1, T + 1) for i in range(1, N + 1)]
    rows = np.column_stack([*xs, y])
    data = tmp_path / "sequences.csv"
    lines = [",".join([*columns, "y"]), *(",".join(repr(float(v)) for v in row) for row in rows)]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = _written(tmp_path / "rnn.toml")
    code, out, err = run(["train", str(model), "--data", str(data), "--epochs", "200", "--json"])
    assert code == 0, err
    report = json.loads(out)
    params = {name: np.array(value, dtype=float) for name, value in report["parameters"].items()}
    assert report["loss"] == pytest.approx(_forward(params, xs, y), rel=1e-9)
    gradient = _differences(lambda p: _forward(p, xs, y), params)
    norm = np.sqrt(sum(float(np.sum(g**2)) for g in gradient.values()))
    assert report["gradient_norm"] == pytest.approx(norm, rel=1e-4)


# -- refusals: one line each, naming the file and the key ------------------------------------------

_CELL = '"h[t]" = "tanh(W @ h[t-1] + U @ x[t] + b)"'


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        (_CELL, '"h[t]" = "tanh(W @ h[t+1] + U @ x[t] + b)"', "definitions.h[t]", "not computed yet"),
        (_CELL, '"h[t]" = "tanh(W @ h[t] + U @ x[t] + b)"', "definitions.h[t]", "not computed yet"),
        (_CELL, '"h[t]" = "tanh(W @ h[t-2] + U @ x[t] + b)"', "definitions.h[t]", "outside 0 … 3"),
        (_CELL, '"h[t]" = "tanh(W @ h[t-1] + U @ x[t-1] + b)"', "definitions.h[t]", "outside 1 … 3"),
        ('z = "v @ h[T] + c"', 'z = "v @ h[T+1] + c"', "definitions.z", "outside 0 … 3"),
        ('z = "v @ h[T] + c"', 'z = "v @ h + c"', "definitions.z", "sequence over steps"),
        ('z = "v @ h[T] + c"', 'z = "v @ h[s] + c"', "definitions.z", "a step is a whole number"),
        ('"h[0]" = "0"\n', "", "definitions.h[t]", "initial state is not given"),
        (f"T = {T}", f"T = {MAX_STEPS + 1}", "dimensions.T", f"1 to {MAX_STEPS} steps"),
        (f"T = {T}\n", "", "definitions.h[t]", "need T, the number of steps"),
        ('"h[0]" = "0"', '"h[1]" = "0"', "definitions.h[1]", "not a recurrence's key"),
        # one line: what uses the refused state (h1 … h3, z, the claims) is not read after it
        ('"h[0]" = "0"', '"h[0]" = "zeros(d)"', "definitions.h0", "unknown function 'zeros'"),
        ('"h[0]" = "0"', '"h[0]" = "0*ones(q)"', "definitions.h0", "ones() takes one dimension's name"),
    ],
)
def test_a_bad_recurrence_is_refused_in_one_line(
    run: Runner, write_toml: WriteToml, old: str, new: str, key: str, problem: str
) -> None:
    assert old in RNN
    path = write_toml(RNN.replace(old, new, 1))
    code, out, err = run(["derive", str(path)])
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1, err
    assert str(path) in err and key in err and problem in err, err


@pytest.mark.parametrize("zero", ["0*ones(d)", "ones(d)*0", "0.0*ones(d)"])
def test_a_zero_state_written_as_a_vector_is_the_zero_state(
    zero: str, rnn: symcalc.Derivation, write_toml: WriteToml
) -> None:
    """0*ones(d) is SymPy's number 0: verify's batch check and the module's W @ h0 failed on it."""
    derivation = symcalc.derive(
        symcalc.load(str(write_toml(RNN.replace('"h[0]" = "0"', f'"h[0]" = "{zero}"'))))
    )
    assert derivation.gradients == rnn.gradients
    checks = symcalc.verify(derivation, points=3)
    assert checks and all(c.holds for c in checks)


def test_a_definition_that_is_the_zero_vector_is_refused_in_one_line(
    run: Runner, write_toml: WriteToml
) -> None:
    text = RNN.replace('z = "v @ h[T] + c"', 'q = "0*ones(d)"\nz = "v @ h[T] + v @ q + c"')
    code, out, err = run(["verify", str(write_toml(text))])
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1, err
    assert "definitions.q: q is the zero vector whatever the values" in err, err


def test_shipped_files_without_a_recurrence_are_read_exactly_as_before() -> None:
    for path in sorted(DERIVATIONS.glob("*.toml")):
        if path.stem == "rnn":
            continue
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        lines: dict[str, int] = {}
        unrolled, steps = unroll(data, lines, str(path))
        assert unrolled is data and steps is None and not lines, path.name


def test_indexing_outside_a_recurrence_file_keeps_its_meaning(write_toml: WriteToml) -> None:
    path = write_toml(
        """
inputs = ["x[T]"]
targets = ["y"]
parameters = ["w"]
[dimensions]
T = 3
[definitions]
z = "w*x[T] + w*x[1]"
L = "(z - y)^2"
"""
    )
    model = symcalc.load(str(path))
    assert {s.name for s in model.inputs} == {"x1", "x2", "x3"}
    z = model.definition_map[model.symbols["z"]]
    assert {s.name for s in z.free_symbols} == {"w", "x1", "x3"}


def _matches_oracle(derivation: symcalc.Derivation, loss: sp.Expr, seed: int) -> None:
    """Each gradient of `derivation` is SymPy's diff of the hand-written `loss`, at random points."""
    names = {s.name: s for s in loss.free_symbols}
    rng = random.Random(seed)
    for parameter in derivation.model.parameters:
        derived = derivation.model.expand(derivation.in_names(derivation.gradients[parameter]))
        values = _point(names, rng)
        exact = _at(sp.diff(loss, names[parameter.name]), values)
        assert abs(_at(derived, values) - exact) <= mpmath.mpf(10) ** -30 * (1 + abs(exact)), parameter


def test_two_cells_side_by_side_are_computed_step_by_step_in_file_order(write_toml: WriteToml) -> None:
    path = write_toml(
        """
inputs = ["x[T]"]
targets = ["y"]
parameters = ["a", "u", "w"]
[dimensions]
T = 3
[definitions]
"c[0]" = "0"
"h[0]" = "0"
"c[t]" = "sigmoid(a*h[t-1] + u*x[t])*c[t-1] + tanh(w*h[t-1] + x[t])"
"h[t]" = "tanh(c[t])"
L = "(h[T] - y)^2/2"
"""
    )
    derivation = symcalc.derive(symcalc.load(str(path)))
    a, u, w, y = sp.symbols("a u w y")
    c = h = sp.S.Zero
    for x in sp.symbols("x1:4"):
        c = 1 / (1 + sp.exp(-(a * h + u * x))) * c + sp.tanh(w * h + x)
        h = sp.tanh(c)
    _matches_oracle(derivation, (h - y) ** 2 / 2, seed=11)


def test_an_initial_state_given_with_the_data(write_toml: WriteToml) -> None:
    path = write_toml(
        f"""
inputs = ["x[T,n]", "s[d]"]
targets = ["y"]
parameters = ["W[d,d]", "U[d,n]", "v[d]"]
[dimensions]
T = {T}
n = {N}
d = {D}
[definitions]
"h[0]" = "s"
"h[t]" = "tanh(W @ h[t-1] + U @ x[t])"
L = "(v @ h[T] - y)^2/2"
"""
    )
    derivation = symcalc.derive(symcalc.load(str(path)))
    W, U, v, h = _matrix("W", D, D), _matrix("U", D, N), _vector("v", D), _vector("s", D)
    for t in range(1, T + 1):
        h = (W * h + U * _vector(f"x{t}", N)).applyfunc(sp.tanh)
    _matches_oracle(derivation, ((v.T * h)[0, 0] - sp.Symbol("y")) ** 2 / 2, seed=13)
    # the initial state is a definition of its own, h0 = s, and the first step reads it
    assert [s.name for s, _ in derivation.model.shaped.definitions][:2] == ["h0", "h1"]  # type: ignore[union-attr]
