"""The language of lectures: what a course writes about networks reads as a model and as a claim.

Each oracle is the model written out here by hand in SymPy at its sizes, differentiated by
SymPy's `diff` and evaluated at 30 digits; symcalc's parser reads only the text under test.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.errors import SymcalcError
from tests.conftest import DERIVATIONS, Runner, WriteToml
from tests.generated import generated_module


def _entries(name: str, size: int) -> list[sp.Symbol]:
    return [sp.Symbol(f"{name}{i + 1}", real=True) for i in range(size)]


def _point(symbols: set[sp.Basic], seed: int = 0) -> dict[sp.Basic, sp.Float]:
    rng = random.Random(seed)
    return {s: sp.Float(rng.uniform(-2, 2), 30) for s in sorted(symbols, key=str)}


def _agrees(ours: sp.Expr, oracle: sp.Expr) -> bool:
    point = _point(ours.free_symbols | oracle.free_symbols)
    return bool(abs(sp.sympify(ours).evalf(30, subs=point) - oracle.evalf(30, subs=point)) < 1e-25)


def _substituted(model: symcalc.Model, expr: sp.Expr) -> sp.Expr:
    for name, definition in reversed(model.definitions):
        expr = expr.subs(name, definition)
    return expr


# -- a dimension's name is a number -----------------------------------------------------------

SIZED = """
title = "a mean, and a scale by the root of a size"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["w[n]", "b"]
[dimensions]
n = 3
[definitions]
s = "w*x"
z = "sum(s)/n + b"
L = "(z - y)^2/2 + sum(w*w)/sqrt(n)"
[claims]
"dL/dz" = "z - y"
"dL/dw" = "(z - y)*x/n + 2*w/sqrt(n)"
"""


def test_a_dimension_s_name_is_its_size_in_an_expression(write_toml: WriteToml) -> None:
    w, x = _entries("w", 3), _entries("x", 3)
    b, y = sp.symbols("b y", real=True)
    loss = ((sum(wi * xi for wi, xi in zip(w, x, strict=True)) / 3 + b - y) ** 2 / 2) + sum(
        wi**2 for wi in w
    ) / sp.sqrt(3)
    model = symcalc.load(str(write_toml(SIZED)))
    claims = {c.wrt: c for c in model.claims if c.wrt in w}
    assert len(claims) == 3
    for wi in w:
        assert _agrees(_substituted(model, claims[wi].expected), sp.diff(loss, wi))
    checks = symcalc.verify(symcalc.derive(model), points=3)
    assert all(c.status == "holds" for c in checks if c.name.startswith("claim")), checks
    wrong = symcalc.check_claim(model, "dL/dw", "(z - y)*x/n + 2*w/n")
    assert wrong.status == "fails"


def test_a_dimension_s_name_reads_in_a_claim_as_derive_prints_it(write_toml: WriteToml) -> None:
    model = symcalc.load(str(write_toml(SIZED)))
    derivation = symcalc.derive(model)
    assert derivation.vector is not None
    vector = {r.name: r.result for r in derivation.vector.results}
    printed = symcalc.symbolic.functions.text(vector["dL/ds"])
    assert "n" in printed
    assert symcalc.check_claim(model, "dL/ds", printed).status == "holds"


# -- pi ---------------------------------------------------------------------------------------

GELU = """
title = "one gelu unit"
inputs = ["x"]
targets = ["y"]
parameters = ["w"]
[definitions]
z = "w*x"
a = "gelu(z)"
L = "(a - y)^2/2"
[claims]
"da/dz" = "(1 + erf(z/sqrt(2)))/2 + z*exp(-z^2/2)/sqrt(2*pi)"
"""


def test_pi_reads_as_a_number_so_gelu_s_derivative_is_claimed(run: Runner, write_toml: WriteToml) -> None:
    z = sp.Symbol("z", real=True)
    oracle = sp.diff(z * (1 + sp.erf(z / sp.sqrt(2))) / 2, z)
    path = write_toml(GELU)
    model = symcalc.load(str(path))
    (claim,) = model.claims
    assert _agrees(claim.expected.subs(sp.Symbol("z", real=True), z), oracle)
    assert symcalc.check_claim(model, "da/dz", claim.text).status == "holds"
    wrong = "(1 + erf(z/sqrt(2)))/2 + z*exp(-z^2/2)/sqrt(pi)"
    assert symcalc.check_claim(model, "da/dz", wrong).status == "fails"
    # every result derive --json prints reads back as a claim that holds (gelu′ prints pi)
    code, out, _ = run(["derive", str(path), "--json"])
    assert code == 0
    steps = json.loads(out)["steps"]
    results = {e["lhs"]: e["result"] for step in steps for e in step["equations"]}
    assert any("pi" in r for r in results.values()), results
    for name, result in results.items():
        assert symcalc.check_claim(model, name, result).status == "holds", (name, result)


def test_a_declared_name_pi_is_still_the_name(write_toml: WriteToml) -> None:
    model = symcalc.load(str(write_toml(GELU.replace('inputs = ["x"]', 'inputs = ["x", "pi"]'))))
    assert symcalc.check_claim(model, "dL/dx", "(a - y)*pi*0").status == "fails"
    assert model.composed  # still a model: its own pi is an input


# -- I and eye(d) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rhs", "holds"),
    [
        ("lamda*I + outer(x, x)", True),  # what derive --hessian prints
        ("lamda*eye(n) + outer(x, x)", True),
        ("outer(x, x) + I*lamda", True),
        ("2*lamda*I + outer(x, x)", False),
        ("lamda + outer(x, x)", False),
    ],
)
def test_the_identity_reads_in_a_hessian_claim(rhs: str, holds: bool) -> None:
    model = symcalc.load("ridge_regression_vector")
    x, w = _entries("x", 2), _entries("w", 2)
    b, y, lamda = sp.symbols("b y lamda", real=True)
    loss = (sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b - y) ** 2 / 2 + lamda / 2 * sum(
        wi**2 for wi in w
    )
    entries = {(c.wrt, c.second): c.expected for c in model.claims_of("d2J/dw^2", rhs)}
    assert len(entries) == 4
    agree = all(_agrees(entries[(u, v)], sp.diff(loss, u, v)) for u in w for v in w)
    assert agree is holds
    assert (symcalc.check_claim(model, "d2J/dw^2", rhs).status == "holds") is holds


def test_derive_hessian_s_printed_identity_reads_back(run: Runner) -> None:
    code, out, _ = run(["derive", "ridge_regression_vector", "--hessian", "--json"])
    assert code == 0
    assert '"lamda*I + outer(x, x)"' in out
    model = symcalc.load("ridge_regression_vector")
    assert symcalc.check_claim(model, "d2J/dw^2", "lamda*I + outer(x, x)").status == "holds"


@pytest.mark.parametrize(
    ("rhs", "problem"),
    [
        ("I*x", "I is the identity, a square matrix; here it is [n]"),
        ("I @ x", "its size is not known here"),
        ("eye(y)", "eye() takes one dimension's name or a size"),
        ("eye(0)", "eye() takes one dimension's name or a size"),
    ],
)
def test_an_identity_that_does_not_fit_is_one_line(rhs: str, problem: str) -> None:
    model = symcalc.load("ridge_regression_vector")
    with pytest.raises(SymcalcError, match=re.escape(problem)):
        model.claims_of("dJ/dw", rhs)


# -- dot, norm, trace, mean and .T ------------------------------------------------------------

LECTURE = """
title = "a lecture's shorthands"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[n,n]", "v[n]"]
[dimensions]
n = 2
[definitions]
s = "W.T @ x"
t = "x @ (W @ W).T @ v"
q = "dot(s, v) + trace(W) + mean(v*x) + norm(v)"
L = "(q + t - y)^2/2"
[claims]
"dL/dv" = "(q + t - y)*(s + W @ W @ x + x/n + v/norm(v))"
"dL/dW" = "(q + t - y)*(outer(x, v) + eye(n) + outer(v, W @ x) + outer(W.T @ v, x))"
"""


def _lecture_loss() -> tuple[sp.Expr, sp.Matrix, list[sp.Symbol]]:
    x, v = (sp.Matrix(_entries(name, 2)) for name in ("x", "v"))
    W = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"W{i + 1}_{j + 1}", real=True))
    y = sp.Symbol("y", real=True)
    s = W.T * x
    t = (x.T * (W * W).T * v)[0]
    q = (s.T * v)[0] + W.trace() + sum(v.multiply_elementwise(x)) / 2 + sp.sqrt((v.T * v)[0])
    return (q + t - y) ** 2 / 2, W, list(v)


def test_dot_norm_trace_mean_and_dot_t_are_what_a_lecture_means(write_toml: WriteToml) -> None:
    loss, W, v = _lecture_loss()
    model = symcalc.load(str(write_toml(LECTURE)))
    for lhs, names in (("dL/dv", v), ("dL/dW", list(W))):
        claims = {c.wrt: c for c in model.claims if c.wrt in names}
        assert len(claims) == len(names)
        for name in names:
            assert _agrees(_substituted(model, claims[name].expected), sp.diff(loss, name)), (lhs, name)
    # and the engine's own derivatives, entry by entry
    gradients = symcalc.derive(model).gradients
    for name in [*v, *W]:
        assert _agrees(_substituted(model, gradients[name]), sp.diff(loss, name)), name
    assert (
        symcalc.check_claim(model, "dL/dv", "(q + t - y)*(s + W @ W @ x + x + v/norm(v))").status == "fails"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("dot(x, W)", "dot() takes two vectors, not [n] and [n,n]"),
        ("norm(W)", "norm() takes a vector, not [n,n]"),
        ("trace(x)", "trace() takes a square matrix, not [n]"),
        ("mean(x, x)", "mean() takes 1 argument(s), got 2"),
        ("x.T", "transpose() takes a matrix"),
        ("W.x", "attribute access ('.') is not allowed; only .T"),
        ("W.T.T.shape", "attribute access"),
        ("exp(W).T", "attribute access"),
    ],
)
def test_a_shorthand_that_does_not_fit_is_one_line(text: str, problem: str) -> None:
    from symcalc.symbolic.arrays import dimension
    from symcalc.symbolic.parse import parse_shaped

    names = {name: sp.Symbol(name, real=True) for name in ("x", "W")} | {"n": dimension("n")}
    with pytest.raises(SymcalcError, match=re.escape(problem)):
        parse_shaped(text, names, {"x": ("n",), "W": ("n", "n")})


def test_the_vector_form_of_a_trace_is_the_identity_and_reads_back(
    run: Runner, write_toml: WriteToml
) -> None:
    path = write_toml(LECTURE)
    code, out, _ = run(["derive", str(path), "--json"])
    assert code == 0
    results = {r["name"]: r["result"] for r in json.loads(out)["vector_form"]}
    assert "eye(n)" in results["dL/dW"]  # d trace(W)/dW = I: no vector of ones needed
    model = symcalc.load(str(path))
    for name, result in results.items():
        assert symcalc.check_claim(model, name, result).status == "holds", (name, result)


# -- log1p and expm1 --------------------------------------------------------------------------

SMALL = """
title = "log1p and expm1"
inputs = ["x"]
targets = ["y"]
parameters = ["w", "b"]
[definitions]
u = "w*x + b"
a = "expm1(u)"
L = "log1p(a^2) - y*a"
[claims]
"dL/du" = "(2*a/(1 + a^2) - y)*exp(u)"
"dL/da" = "2*a/(1 + a^2) - y"
"""


def test_log1p_and_expm1_differentiate_and_compute_as_log_1_plus_and_exp_minus_1(
    write_toml: WriteToml, tmp_path: Path
) -> None:
    w, b, x, y = sp.symbols("w b x y", real=True)
    loss = sp.log(1 + (sp.exp(w * x + b) - 1) ** 2) - y * (sp.exp(w * x + b) - 1)
    model = symcalc.load(str(write_toml(SMALL)))
    derivation = symcalc.derive(model)
    for name in (w, b):
        assert _agrees(_substituted(model, derivation.gradients[name]), sp.diff(loss, name))
    checks = symcalc.verify(derivation, points=3)
    assert all(c.status == "holds" for c in checks), [c for c in checks if c.status != "holds"]
    assert symcalc.check_claim(model, "dL/da", "2*a/(1 + a) - y").status == "fails"
    module = generated_module(derivation, tmp_path)
    point = {w: 0.3, b: -0.2, x: 1e-3, y: 0.7}
    value, grads = module.loss_and_gradient({"w": 0.3, "b": -0.2}, {"x": [1e-3], "y": [0.7]})
    assert value == pytest.approx(float(loss.evalf(30, subs=point)), rel=1e-13)
    for name in (w, b):
        assert grads[name.name] == pytest.approx(float(sp.diff(loss, name).evalf(30, subs=point)), rel=1e-13)


MEAN_WITH_PENALTY = """
title = "a mean over the features and a penalty scaled by their number"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["w[n]", "b"]
loss = "L"

[dimensions]
n = 3

[definitions]
L = "(sum(w*x)/n + b - y)^2/2 + sum(w*w)/sqrt(n)"
"""


def test_generated_code_takes_a_dimension_s_size_from_the_data_it_is_given(
    write_toml: WriteToml, tmp_path: Path
) -> None:
    """The file says n = 3; the arrays given have n = 5, and the module computes with 5 (it raised
    NameError: n before). Oracle: SymPy's diff of the mean loss written out at n = 5."""
    size, rows = 5, 4
    rng = random.Random(7)
    w_values = [rng.uniform(-1, 1) for _ in range(size)]
    x_values = [[rng.uniform(-2, 2) for _ in range(size)] for _ in range(rows)]
    y_values = [rng.uniform(-1, 1) for _ in range(rows)]
    w = sp.symbols(f"w1:{size + 1}", real=True)
    b = sp.Symbol("b", real=True)
    penalty = sum(wi**2 for wi in w) / sp.sqrt(size)
    samples = [
        (sum(wi * xi for wi, xi in zip(w, xs, strict=True)) / size + b - yk) ** 2 / 2 + penalty
        for xs, yk in zip(x_values, y_values, strict=True)
    ]
    objective = sum(samples) / rows
    point = {**dict(zip(w, w_values, strict=True)), b: 0.25}
    module = generated_module(symcalc.derive(symcalc.load(str(write_toml(MEAN_WITH_PENALTY)))), tmp_path)
    value, grads = module.loss_and_gradient({"w": w_values, "b": 0.25}, {"x": x_values, "y": y_values})
    assert value == pytest.approx(float(objective.evalf(30, subs=point)), rel=1e-13)
    expected = [float(sp.diff(objective, wi).evalf(30, subs=point)) for wi in w]
    assert list(grads["w"]) == pytest.approx(expected, rel=1e-13)
    assert grads["b"] == pytest.approx(float(sp.diff(objective, b).evalf(30, subs=point)), rel=1e-13)


def test_a_size_no_parameter_carries_is_one_line_for_generated_code(
    run: Runner, write_toml: WriteToml
) -> None:
    path = write_toml(
        MEAN_WITH_PENALTY.replace('parameters = ["w[n]", "b"]', 'parameters = ["b"]').replace(
            'L = "(sum(w*x)/n + b - y)^2/2 + sum(w*w)/sqrt(n)"', 'L = "(sum(x)/n + b - y)^2/2"'
        )
    )
    code, out, err = run(["codegen", str(path)])
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1 and "no parameter has n as an axis" in err


# -- clip, and max and min over a vector ----------------------------------------------------------

CLIPPED = """
title = "relu6 written as a clip, and a clip with bounds that are parameters"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[h,n]", "v[h]", "lo"]
[dimensions]
n = 2
h = 3
[definitions]
s = "W @ x"
g = "clip(s, 0, 6)"
z = "v @ g + clip(sum(s), lo, 1)"
L = "(z - y)^2/2"
[claims]
"dL/ds" = "(z - y)*(v*step(s)*step(6 - s) + step(sum(s) - lo)*step(1 - sum(s)))"
"dL/dlo" = "(z - y)*step(lo - sum(s))*step(1 - lo)"
"""


def _clipped_loss() -> tuple[sp.Expr, list[sp.Symbol]]:
    x, v = sp.Matrix(_entries("x", 2)), sp.Matrix(_entries("v", 3))
    W = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"W{i + 1}_{j + 1}", real=True))
    lo, y = sp.symbols("lo y", real=True)
    s = W * x
    z = sum(vi * sp.Min(sp.Max(si, 0), 6) for vi, si in zip(v, s, strict=True)) + sp.Min(
        sp.Max(sum(s), lo), 1
    )
    return (z - y) ** 2 / 2, [*W, *v, lo]


@pytest.mark.slow
def test_clip_differentiates_as_min_of_max_written_out(write_toml: WriteToml) -> None:
    """Oracle: SymPy's diff of min(max(s, lo), hi) written out by hand at n = 2, h = 3, at points
    drawn so that some entries are clipped at each end and some pass."""
    loss, names = _clipped_loss()
    model = symcalc.load(str(write_toml(CLIPPED)))
    derivation = symcalc.derive(model)
    rng = random.Random(3)
    for _ in range(6):
        point = {s: sp.Float(rng.uniform(-4, 4), 30) for s in loss.free_symbols}
        for name in names:
            ours = _substituted(model, derivation.in_names(derivation.gradients[name]))
            oracle = sp.diff(loss, name)
            assert abs(ours.evalf(30, subs=point) - oracle.evalf(30, subs=point)) < 1e-25, name
    checks = symcalc.verify(derivation, points=3)
    assert all(c.status == "holds" for c in checks), [c for c in checks if c.status != "holds"]
    assert symcalc.check_claim(model, "dL/dlo", "(z - y)*step(lo - sum(s))").status == "fails"


def test_clip_s_derivative_is_0_at_both_bounds_as_relu_s_at_0() -> None:
    from symcalc.symbolic.functions import FUNCTIONS, heaviside_as_step

    u = sp.Symbol("u", real=True)
    derivative = heaviside_as_step(sp.diff(FUNCTIONS["clip"].build(u, 0, 6), u))
    assert [derivative.subs(u, at) for at in (-1, 0, 3, 6, 7)] == [0, 0, 1, 0, 0]


@pytest.mark.slow
def test_clip_computes_in_the_generated_module(write_toml: WriteToml, tmp_path: Path) -> None:
    """The module codegen writes, against SymPy's diff of the written-out loss at 30 digits."""
    loss, names = _clipped_loss()
    derivation = symcalc.derive(symcalc.load(str(write_toml(CLIPPED))))
    module = generated_module(derivation, tmp_path)
    rng = random.Random(5)
    W = [[rng.uniform(-3, 3) for _ in range(2)] for _ in range(3)]
    v, lo = [rng.uniform(-1, 1) for _ in range(3)], -0.5
    x, y = [[2.5, -1.5]], [0.3]
    params = {"W": W, "v": v, "lo": lo}
    value, grads = module.loss_and_gradient(params, {"x": x, "y": y})
    point = {sp.Symbol(f"W{i + 1}_{j + 1}", real=True): W[i][j] for i in range(3) for j in range(2)}
    point |= {sp.Symbol(f"v{i + 1}", real=True): v[i] for i in range(3)}
    point |= {sp.Symbol("lo", real=True): lo, sp.Symbol("y", real=True): y[0]}
    point |= {sp.Symbol(f"x{j + 1}", real=True): x[0][j] for j in range(2)}
    assert value == pytest.approx(float(loss.evalf(30, subs=point)), rel=1e-13)
    got = [*(g for row in grads["W"] for g in row), *grads["v"], grads["lo"]]
    expected = [float(sp.diff(loss, name).evalf(30, subs=point)) for name in names]
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_clip_agrees_with_jax_grad_away_from_its_bounds() -> None:
    jax = pytest.importorskip("jax")
    from symcalc.symbolic.functions import FUNCTIONS, heaviside_as_step

    u = sp.Symbol("u", real=True)
    ours = sp.lambdify(
        u, heaviside_as_step(sp.diff(FUNCTIONS["clip"].build(u, -1, 2), u)).rewrite(sp.Heaviside)
    )
    grad = jax.grad(lambda t: jax.numpy.clip(t, -1.0, 2.0))
    for at in (-3.0, -0.5, 0.0, 1.9, 2.5):
        assert float(ours(at)) == float(grad(at)), at


POOLED = """
title = "max and min pooling over a layer's units"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[h,n]", "b"]
[dimensions]
n = 2
h = 3
[definitions]
s = "tanh(W @ x)"
z = "max(s) - min(s) + max(b, 0)"
L = "(z - y)^2/2"
"""


@pytest.mark.slow
def test_max_and_min_over_a_vector_are_of_its_entries(write_toml: WriteToml) -> None:
    """Oracle: SymPy's diff of Max(s1, s2, s3) − Min(s1, s2, s3) written out; max with two
    arguments stays elementwise (max(b, 0) is relu(b))."""
    x = sp.Matrix(_entries("x", 2))
    W = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"W{i + 1}_{j + 1}", real=True))
    b, y = sp.symbols("b y", real=True)
    s = [sp.tanh(e) for e in W * x]
    loss = (sp.Max(*s) - sp.Min(*s) + sp.Max(b, 0) - y) ** 2 / 2
    model = symcalc.load(str(write_toml(POOLED)))
    derivation = symcalc.derive(model)
    for name in [*W, b]:
        ours = _substituted(model, derivation.in_names(derivation.gradients[name]))
        assert _agrees(ours, sp.diff(loss, name)), name
    assert derivation.vector is None and "largest entry" in str(derivation.vector_problem)
    checks = symcalc.verify(derivation, points=3)
    assert all(c.status == "holds" for c in checks), [c for c in checks if c.status != "holds"]
    wrong = symcalc.check_claim(model, "dL/ds1", "(z - y)*step(s1 - max(s2, s3))")
    assert wrong.status == "fails"  # it forgot min's share
    right = "(z - y)*(step(s1 - max(s2, s3)) - step(min(s2, s3) - s1))"
    assert symcalc.check_claim(model, "dL/ds1", right).status == "holds"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("max(W)", "max() takes a vector, not [n,n]"),
        ("min(y)", "min() takes a vector, not a scalar"),
        ("clip(x, 0)", "clip() takes 3 argument(s), got 2"),
        ("clip(x, W, 1)", "'clip()' between [n] and [n,n]"),
    ],
)
def test_a_max_or_clip_that_does_not_fit_is_one_line(text: str, problem: str) -> None:
    from symcalc.symbolic.arrays import dimension
    from symcalc.symbolic.parse import parse_shaped

    names = {name: sp.Symbol(name, real=True) for name in ("x", "W", "y")} | {"n": dimension("n")}
    with pytest.raises(SymcalcError, match=re.escape(problem)):
        parse_shaped(text, names, {"x": ("n",), "W": ("n", "n")})


# -- an adjoint dL/dc in a claim, as derive prints it ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("lhs", "rhs", "holds"),
    [
        ("dL/dWq1_1", "dL/dq1*x1", True),  # what derive prints for attention's query weights
        ("dL/dWq1_1", "dL/dq1*x2", False),
        ("dL/dWq1_1", "2*dL/dq1*x1", False),
        ("dL/dWk1_2", "dL/dK1_1*X1_2 + dL/dK2_1*X2_2 + dL/dK3_1*X3_2", True),
        ("dL/dWk1_2", "dL/dK1_1*X1_2 + dL/dK2_1*X2_2", False),
    ],
)
def test_a_claim_may_name_an_adjoint_as_derive_prints_it(lhs: str, rhs: str, holds: bool) -> None:
    """dL/dq1 stands for the derivative of the loss by q1 through the graph (checked with SymPy's
    diff, never with the engine's value). Oracle: attention written out by hand with q and K free,
    differentiated by SymPy; the claim holds exactly when it then equals SymPy's diff of the loss."""
    model = symcalc.load("attention_one_query")

    def matrix(name: str, rows: int) -> sp.Matrix:
        return sp.Matrix(rows, 2, lambda i, j: sp.Symbol(f"{name}{i + 1}_{j + 1}", real=True))

    x, y, q = (sp.Matrix(_entries(name, 2)) for name in ("x", "y", "q"))
    X, K, Wq, Wk, Wv = matrix("X", 3), matrix("K", 3), matrix("Wq", 2), matrix("Wk", 2), matrix("Wv", 2)
    scores = K * q / sp.sqrt(2)
    a = sp.Matrix([sp.exp(s) / sum(sp.exp(t) for t in scores) for s in scores])
    o = (X * Wv.T).T * a
    of_q_and_K = sum((oi - yi) ** 2 for oi, yi in zip(o, y, strict=True)) / 2
    written = dict(zip(q, Wq * x, strict=True)) | dict(zip(K, X * Wk.T, strict=True))
    loss = of_q_and_K.xreplace(written)
    adjoints = {sp.Symbol(f"dL/d{v.name}"): sp.diff(of_q_and_K, v).xreplace(written) for v in (*q, *K)}
    (claim,) = model.claims_of(lhs, rhs)
    claimed = claim.expected.xreplace(
        {s: adjoints[sp.Symbol(s.name)] for s in claim.expected.free_symbols if "/" in s.name}
    )
    wrt = Wq[0, 0] if lhs == "dL/dWq1_1" else Wk[0, 1]
    assert _agrees(claimed, sp.diff(loss, wrt)) is holds
    assert (symcalc.check_claim(model, lhs, rhs).status == "holds") is holds


# -- the shipped multinomial regression trains on class numbers -----------------------------------


@pytest.mark.slow
def test_multinomial_regression_trained_on_class_numbers_is_scikit_learn_s(
    run: Runner, tmp_path: Path
) -> None:
    """y is one CSV column of class numbers 0 … 2, read as one-hot for y[k]. Oracle: scikit-learn's
    multinomial LogisticRegression, whose 0.5‖W‖² + C·Σ cross-entropy is m·C times ours at
    C = 1/(lam·m); the biases are unpenalised, so only their differences are determined."""
    np = pytest.importorskip("numpy")
    datasets = pytest.importorskip("sklearn.datasets")
    linear = pytest.importorskip("sklearn.linear_model")
    iris = datasets.load_iris()
    rows = [
        "x1,x2,x3,x4,y",
        *(
            ",".join([*(repr(float(v)) for v in r), str(int(t))])
            for r, t in zip(iris.data, iris.target, strict=True)
        ),
    ]
    data = tmp_path / "iris.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    model = str(DERIVATIONS / "multinomial_logistic_regression.toml")
    code, out, err = run(
        ["train", model, "--data", str(data), "--method", "lbfgs", "--tol", "1e-9", "--json"]
    )
    assert code == 0, err
    fitted = json.loads(out)["parameters"]
    oracle = linear.LogisticRegression(C=1 / (0.01 * len(rows[1:])), tol=1e-12, max_iter=10_000)
    oracle.fit(iris.data, iris.target)
    assert np.allclose(fitted["W"], oracle.coef_, atol=2e-5)
    c = np.array(fitted["c"])
    assert np.allclose(c - c.mean(), oracle.intercept_ - oracle.intercept_.mean(), atol=2e-4)


# -- ones(d), and the vector form of a summed layer ---------------------------------------------------

SUMMED = """
title = "a layer summed, a vector of ones"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[h,n]", "V[h,n]"]
[dimensions]
n = 2
h = 3
[definitions]
z = "sum(W @ x) + sum(V @ (W.T @ ones(h))) + ones(n) @ x"
L = "(z - y)^2/2"
[claims]
"dL/dW" = "(z - y)*(outer(ones(h), x) + outer(ones(h), V.T @ ones(h)))"
"dL/dV" = "(z - y)*outer(ones(h), W.T @ ones(h))"
"""


def _summed_loss() -> tuple[sp.Expr, list[sp.Symbol]]:
    x = sp.Matrix(_entries("x", 2))
    W, V = (sp.Matrix(3, 2, lambda i, j, n=n: sp.Symbol(f"{n}{i + 1}_{j + 1}", real=True)) for n in "WV")
    y = sp.Symbol("y", real=True)
    z = sum(W * x) + sum(V * (W.T * sp.ones(3, 1))) + sum(x)
    return (z - y) ** 2 / 2, [*W, *V]


@pytest.mark.slow
def test_a_summed_layer_has_a_vector_form_through_ones(write_toml: WriteToml, run: Runner) -> None:
    """sum(W @ x) gave no vector form ("needs a vector of ones"); now dL/dW = outer(g·ones(h), x).
    Oracle: SymPy's diff of the model written out by hand; every vector result derive --json prints
    reads back as a claim that holds."""
    loss, names = _summed_loss()
    path = write_toml(SUMMED)
    model = symcalc.load(str(path))
    derivation = symcalc.derive(model)
    assert derivation.vector is not None, derivation.vector_problem
    assert derivation.batch is not None, derivation.batch_problem
    vector = {r.node.name: r.result for r in derivation.vector.gradients}
    assert "ones(h)" in symcalc.symbolic.functions.text(vector["W"])
    for claim in (c for c in model.claims if c.wrt in names):
        assert _agrees(_substituted(model, claim.expected), sp.diff(loss, claim.wrt)), claim.wrt
    checks = symcalc.verify(derivation, points=3)
    assert all(c.status == "holds" for c in checks), [c for c in checks if c.status != "holds"]
    code, out, _ = run(["derive", str(path), "--json"])
    assert code == 0
    for entry in json.loads(out)["vector_form"]:
        assert symcalc.check_claim(model, entry["name"], entry["result"]).status == "holds", entry
    assert symcalc.check_claim(model, "dL/dV", "(z - y)*outer(ones(h), W.T @ ones(h) + x)").status == "fails"


@pytest.mark.slow
def test_a_summed_layer_computes_in_the_generated_module(write_toml: WriteToml, tmp_path: Path) -> None:
    """The module reads h and n from W's shape (numpy.ones(W.shape[0])); oracle: SymPy's diff."""
    loss, names = _summed_loss()
    module = generated_module(symcalc.derive(symcalc.load(str(write_toml(SUMMED)))), tmp_path)
    rng = random.Random(11)
    W, V = ([[rng.uniform(-1, 1) for _ in range(2)] for _ in range(3)] for _ in range(2))
    xs, ys = [[0.5, -1.25], [2.0, 0.75]], [0.25, -0.5]
    value, grads = module.loss_and_gradient({"W": W, "V": V}, {"x": xs, "y": ys})
    base = {
        sp.Symbol(f"{n}{i + 1}_{j + 1}", real=True): M[i][j]
        for n, M in (("W", W), ("V", V))
        for i in range(3)
        for j in range(2)
    }
    samples = [
        base
        | {sp.Symbol("x1", real=True): x[0], sp.Symbol("x2", real=True): x[1], sp.Symbol("y", real=True): t}
        for x, t in zip(xs, ys, strict=True)
    ]
    expected = sum(float(loss.evalf(30, subs=p)) for p in samples) / 2
    assert value == pytest.approx(expected, rel=1e-13)
    got = [*(g for row in grads["W"] for g in row), *(g for row in grads["V"] for g in row)]
    oracle = [sum(float(sp.diff(loss, n).evalf(30, subs=p)) for p in samples) / 2 for n in names]
    assert got == pytest.approx(oracle, rel=1e-12)


# -- indexing and slices, 1-based and inclusive ---------------------------------------------------

GLU = """
title = "a gated linear unit: one layer's two halves"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[4,n]", "v[2]", "u[n]"]
[dimensions]
n = 3
h = 2
[definitions]
s = "W @ x"
g = "s[1:2] * sigmoid(s[3:4])"
z = "v @ g + s[1] + sum(u[1:2]*x[2:3]) + u[1:h] @ x[1:h] + x[n]*u[n]"
L = "(z - y)^2/2"
[claims]
"dL/dv" = "(z - y)*g"
"dL/dg" = "(z - y)*v"
"""


@pytest.mark.slow
def test_indexing_and_slices_are_the_entries_they_name(write_toml: WriteToml, run: Runner) -> None:
    """s[1:2] is s1, s2 and s[3:4] is s3, s4 (1-based, both ends in); oracle: SymPy's diff of the
    GLU written out by hand; every result derive --json prints reads back as a claim that holds."""
    x, v, u = sp.Matrix(_entries("x", 3)), _entries("v", 2), _entries("u", 3)
    W = sp.Matrix(4, 3, lambda i, j: sp.Symbol(f"W{i + 1}_{j + 1}", real=True))
    y = sp.Symbol("y", real=True)
    s = W * x
    g = [s[0] * sp.exp(s[2]) / (1 + sp.exp(s[2])), s[1] / (1 + sp.exp(-s[3]))]
    z = v[0] * g[0] + v[1] * g[1] + s[0] + u[0] * x[1] + u[1] * x[2] + u[0] * x[0] + u[1] * x[1] + x[2] * u[2]
    loss = (z - y) ** 2 / 2
    path = write_toml(GLU)
    model = symcalc.load(str(path))
    derivation = symcalc.derive(model)
    for name in [*W, *v, *u]:
        assert _agrees(
            _substituted(model, derivation.in_names(derivation.gradients[name])), sp.diff(loss, name)
        )
    assert derivation.vector is None and "vector of zeros" in str(derivation.vector_problem)
    checks = symcalc.verify(derivation, points=3)
    assert all(c.status == "holds" for c in checks), [c for c in checks if c.status != "holds"]
    assert symcalc.check_claim(model, "dL/dg", "(z - y)*v*g").status == "fails"
    code, out, _ = run(["derive", str(path), "--json"])
    assert code == 0
    data = json.loads(out)
    for lhs, result in [*((f"dL/d{p}", g) for p, g in data["gradients"].items())]:
        assert symcalc.check_claim(model, lhs, result).status == "holds", (lhs, result)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("x[0]", "an index is a whole number from 1"),
        ("x[y]", "an index is a whole number from 1"),
        ("x[1.5]", "an index is a whole number from 1"),
        ("W[1, 2]", "subscripts ('[...]') index not a matrix's rows or entries"),
        ("W[1]", "subscripts ('[...]') index a vector only"),
        ("x[1:]", "a slice names both ends"),
        ("x[1:3:2]", "a slice names both ends"),
        ("x[2:n]", "a slice's length must be a dimension or a number; here it is n - 1"),
        ("z[1:4]", "the index 4 is past the vector's 3 entries"),
        ("z[4]", "the index 4 is past the vector's 3 entries"),
    ],
)
def test_an_index_that_does_not_fit_is_one_line(text: str, problem: str) -> None:
    from symcalc.symbolic.arrays import dimension
    from symcalc.symbolic.parse import parse_shaped

    names = {name: sp.Symbol(name, real=True) for name in ("x", "W", "y", "z")} | {"n": dimension("n")}
    with pytest.raises(SymcalcError, match=re.escape(problem)):
        parse_shaped(text, names, {"x": ("n",), "W": ("n", "n"), "z": (3,)})


def test_a_slice_past_the_end_at_the_written_out_sizes_is_one_line(
    run: Runner, write_toml: WriteToml
) -> None:
    """k = 4 is written out at 3 (each dimension is cut to 3 for reading), so s[h+1:2*h] runs past s."""
    path = write_toml(
        'title = "t"\ninputs = ["x[k]"]\ntargets = ["y"]\nparameters = ["w"]\n'
        "[dimensions]\nk = 4\nh = 2\n[definitions]\n"
        'g = "x[1:h]*sigmoid(x[h+1:2*h])"\nL = "(w*sum(g) - y)^2"\n'
    )
    code, out, err = run(["derive", str(path)])
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1, err
    assert "definitions.g: index 4 is outside 1 … 3, written out at k = 3, h = 2" in err and str(path) in err


@pytest.mark.slow
@pytest.mark.parametrize("text", [CLIPPED, POOLED, GLU, SUMMED], ids=["clip", "max-min", "slices", "ones"])
def test_every_printed_step_and_gradient_with_the_new_forms_reads_back(
    text: str, write_toml: WriteToml
) -> None:
    """Each equation of each step and each gradient derive --json prints, pasted back as a claim of its
    kind (total or local), holds: min(max(...)), max(s), s[1:2] and ones(h) print as the file writes them."""
    from tests.check.test_round_trip import assert_round_trip

    assert assert_round_trip(write_toml(text)) > 0
