"""Numeric functions: stable rewrites against mpmath, gradients against finite differences and SymPy."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p

import symcalc
from symcalc.errors import NumericError
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.model import BackendChoice, NumericModel, compile_model
from symcalc.numeric.program import Assignment
from symcalc.numeric.stable import stable
from symcalc.symbolic.functions import sigmoid, softplus, to_elementary
from tests.conftest import Runner
from tests.numeric_oracle import STEP_OF_AN_INPUT
from tests.oracle import composed_gradient

EXTREME_Z = (30.0, -30.0, 800.0, -800.0, 1e4, -1e4)


@pytest.fixture(scope="module")
def seed_numeric(seed: symcalc.Derivation) -> NumericModel:
    return compile_model(seed)


def _mp_sigmoid(z: mpmath.mpf) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-z))


def _close(ours: float, exact: mpmath.mpf, rel: float, abs_: float) -> bool:
    return math.isfinite(ours) and abs(mpmath.mpf(ours) - exact) <= rel * abs(exact) + abs_


@pytest.mark.parametrize("z", EXTREME_Z)
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_seed_loss_and_gradients_match_mpmath_at_extreme_z(
    seed_numeric: NumericModel, z: float, y: float
) -> None:
    # One sample with z = w1*x1 + w2*x2 + b chosen through x1; x2 = 1 so every gradient is non-trivial.
    params = {"w1": 1.0, "w2": 0.5, "b": -0.5}
    data = {"x1": np.array([z]), "x2": np.array([1.0]), "y": np.array([y])}
    loss, grads = seed_numeric.evaluate(params, data)
    with mpmath.workdps(5000):  # 1 − σ(1e4) ≈ 10^−4343 must not round to 0
        zm = mpmath.mpf(z)
        a = _mp_sigmoid(zm)
        exact_loss = -(y * mpmath.log(a) + (1 - y) * mpmath.log(1 - a))
        residual = a - y
        exact = {"w1": residual * zm, "w2": residual, "b": residual}
        # The loss is relatively accurate everywhere (softplus); a − y loses the
        # digits of σ(z) near 1 below one ulp of 1, so gradients are held to an absolute
        # error of a few ulp times the input's size.
        assert _close(loss, exact_loss, 1e-13, 1e-300), (loss, exact_loss)
        for name, value in exact.items():
            scale = abs(z) if name == "w1" else 1.0
            assert _close(grads[name], value, 1e-13, 4e-16 * scale), (name, grads[name], value)


@pytest.mark.parametrize("backend", ["auto", "numpy"])
@pytest.mark.parametrize("z", [3.0, 8.0, -15.0, 40.0])
def test_tanh_derivative_keeps_its_digits(z: float, backend: BackendChoice) -> None:
    """1 − tanh(z)² cancels to nothing near tanh = ±1; written as 1/cosh(z)² it is exact to 1e-13."""
    program = numeric_program(symcalc.derive(symcalc.load("tanh_unit")))
    numeric = NumericModel(program, backend=backend)
    params = {"w1": 1.0, "w2": 0.0, "b": 0.0}
    _, grads = numeric.evaluate(params, {"x1": np.array([z]), "x2": np.array([0.0]), "y": np.array([0.5])})
    with mpmath.workdps(60):
        exact = (mpmath.tanh(z) - mpmath.mpf(0.5)) / mpmath.cosh(z) ** 2
        assert _close(grads["b"], exact, 1e-13, 1e-300), (grads["b"], exact)


HAND_WRITTEN = """
inputs = ["x"]
targets = ["t"]
parameters = ["w"]
[definitions]
p = "1/(1 + exp(-w*x))"
L = "-t*log(p) - (1 - t)*log(1 - p)"
"""


@pytest.mark.parametrize("t", [0.0, 1.0])
def test_hand_written_sigmoid_is_stable_too(t: float, write_toml: Callable[[str], Path]) -> None:
    """The rewrites are not about the seed's names: a sigmoid typed out by hand gets them as well."""
    numeric = compile_model(symcalc.derive(symcalc.load(str(write_toml(HAND_WRITTEN)))))
    for z in EXTREME_Z:
        loss, grads = numeric.evaluate({"w": 1.0}, {"x": np.array([z]), "t": np.array([t])})
        with mpmath.workdps(5000):
            p = _mp_sigmoid(mpmath.mpf(z))
            assert _close(loss, -(t * mpmath.log(p) + (1 - t) * mpmath.log(1 - p)), 1e-13, 1e-300)
            assert _close(grads["w"], (p - t) * z, 1e-13, 4e-16 * abs(z))


def test_naive_lambdify_fails_at_the_same_points(seed_model: symcalc.Model) -> None:
    """The points above are where the obvious code breaks: otherwise the test above proves nothing."""
    x1, x2, y = seed_model.inputs + seed_model.targets
    w1, w2, b = seed_model.parameters
    naive = sp.lambdify((w1, w2, b, x1, x2, y), to_elementary(seed_model.composed[seed_model.loss]), "numpy")
    with np.errstate(all="ignore"):
        values = [
            naive(1.0, 0.0, 0.0, np.array([z]), np.array([0.0]), np.array([y]))
            for z in EXTREME_Z
            for y in (0, 1)
        ]
    assert sum(not np.all(np.isfinite(v)) for v in values) >= 4


def test_rewrites() -> None:
    u = sp.Symbol("u", real=True)
    assert stable(sp.log(sigmoid(u))) == -softplus(-u)
    assert stable(sp.log(1 - sigmoid(u))) == -softplus(u)
    assert stable(1 - sigmoid(u)) == sigmoid(-u)
    assert stable(sp.log(1 + sp.exp(u))) == softplus(u)
    assert stable(1 / (1 + sp.exp(-u))) == sigmoid(u)
    assert stable(sp.log(1 + u**2)) == log1p(u**2)
    assert stable(sp.exp(u) - 1) == expm1(u)
    assert stable(1 - sp.tanh(u) ** 2) == sp.cosh(u) ** -2
    assert stable(3 - sp.tanh(u) ** 2) == 3 - sp.tanh(u) ** 2  # only 1 − tanh² cancels
    # The derivative of a hand-written σ, exp(−u)/(1 + exp(−u))², is σ(u)·σ(−u): no exp left to overflow.
    derivative = sp.diff(1 / (1 + sp.exp(-u)), u)
    assert not stable(derivative).has(sp.exp)
    assert sp.simplify(to_elementary(stable(derivative)) - derivative) == 0


@pytest.mark.parametrize(
    "expr_text",
    [
        "log(sigmoid(u))",
        "log(1 - sigmoid(u))",
        "3*log(1 - sigmoid(2*u)) + sigmoid(u) - 1",
        "log(1 + exp(u)) * log(1 + u**2)",
        "1/(1 + exp(-u)) + exp(u) - 1",
        "u*exp(-u)/(1 + exp(-u))**2 + sigmoid(u)",
        "u*(1 - tanh(2*u)**2) + 1",
    ],
)
def test_rewrites_keep_the_value(expr_text: str) -> None:
    u = sp.Symbol("u", real=True)
    expr = sp.sympify(expr_text, locals={"sigmoid": sigmoid, "u": u})  # test-only text, written here
    rewritten = stable(expr)
    assert rewritten != expr
    for point in (sp.Integer(-3), sp.Rational(-1, 10), sp.Rational(7, 10), sp.Integer(5)):
        left = to_elementary(expr.subs(u, point)).rewrite(sp.log).evalf(40)
        right = to_elementary(rewritten.subs(u, point)).rewrite(sp.log).evalf(40)
        assert abs(complex(left) - complex(right)) < 1e-30


def test_the_program_is_the_derivations_forward_and_backward_pass(seed: symcalc.Derivation) -> None:
    program = numeric_program(seed)
    name = {str(line.target): line for line in program.assignments}
    # Forward: every definition in file order under its own name; the loss in its stable form.
    assert [line.label for line in program.forward] == ["z", "a", "L"]
    assert [str(line.target) for line in program.forward] == ["z", "a", "L"]
    assert not name["L"].value.has(sp.log)
    # Backward: dL/dz as the engine simplified it (a - y, not dL/da·a(1 - a)), each gradient through it.
    assert name["dL_dz"].value == seed.adjoints[seed.model.symbols["z"]].xreplace(
        {s: sp.Symbol(s.name, real=True) for s in seed.model.symbols.values()}
    )
    assert str(name["dL_dz"].value) == "a - y" and name["dL_dz"].step_number == 3
    assert str(program.value(program.gradients[0])) == "dL_dz*x1"
    # Only what the outputs need: dL/da is derived but never computed.
    assert "dL_da" in name and "dL_da" not in {str(target) for target, _ in program.shared}


def _central_differences(
    f: Callable[[dict[str, float]], float], params: dict[str, float], h: float = 1e-5
) -> dict[str, float]:
    result = {}
    for name in params:
        up, down = dict(params), dict(params)
        up[name] += h
        down[name] -= h
        result[name] = (f(up) - f(down)) / (2 * h)
    return result


TWO_LAYER = """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["u1", "u2", "c", "v", "d"]
[definitions]
h = "tanh(u1*x1 + u2*x2 + c)"
z = "v*h + d"
a = "1/(1 + exp(-z))"
L = "-(y*log(a) + (1 - y)*log(1 - a))"
"""

SOFTPLUS_RIDGE = """
inputs = ["x"]
targets = ["y"]
parameters = ["w", "b"]
[constants]
lam = 0.25
[definitions]
z = "w*x + b"
L = "softplus(z) - y*z + lam*w^2"
"""


@pytest.mark.parametrize("text", [TWO_LAYER, SOFTPLUS_RIDGE], ids=["two-layer", "softplus-ridge"])
def test_other_models_gradient_matches_differences_and_sympy(
    text: str, write_toml: Callable[[str], Path]
) -> None:
    model = symcalc.load(str(write_toml(text)))
    derivation = symcalc.derive(model)
    numeric = compile_model(derivation)
    rng = np.random.default_rng(1)
    n = 50
    data = {s.name: rng.normal(size=n) for s in model.inputs}
    data.update({s.name: rng.integers(0, 2, size=n).astype(float) for s in model.targets})
    args = (*model.parameters, *model.inputs, *model.targets, *(c for c, _ in model.constants))
    constants = tuple(v for _, v in model.constants)
    oracles = {p.name: sp.lambdify(args, composed_gradient(model, p), "mpmath") for p in model.parameters}
    rows = list(zip(*(data[s.name] for s in (*model.inputs, *model.targets)), strict=True))
    for _ in range(3):
        params = {p: float(rng.normal()) for p in numeric.parameters}
        grads = numeric.gradient(params, data)
        differences = _central_differences(lambda p: numeric.loss(p, data), params)
        for name in params:
            assert grads[name] == pytest.approx(differences[name], rel=1e-6, abs=1e-8)
        # And SymPy's own diff of the fully composed loss, averaged over the samples (in mpmath).
        for p, value in numeric.gradient(params, data).items():
            exact = [oracles[p](*params.values(), *row, *constants) for row in rows]
            assert value == pytest.approx(float(np.mean(exact)), rel=1e-10, abs=1e-14)


def test_constants_default_and_override(write_toml: Callable[[str], Path]) -> None:
    numeric = compile_model(symcalc.derive(symcalc.load(str(write_toml(SOFTPLUS_RIDGE)))))
    assert numeric.constants == {"lam": 0.25}
    data = {"x": np.array([0.5, -1.0]), "y": np.array([1.0, 0.0])}
    params = {"w": 2.0, "b": 0.0}
    default = numeric.gradient(params, data)["w"]
    heavier = numeric.gradient(params, data, constants={"lam": 1.25})["w"]
    assert heavier - default == pytest.approx(2 * (1.25 - 0.25) * params["w"])  # d(lam*w²)/dw = 2*lam*w
    with pytest.raises(NumericError, match="'mu' is not a constant"):
        numeric.gradient(params, data, constants={"mu": 1.0})


def test_missing_names_are_reported(seed_numeric: NumericModel) -> None:
    with pytest.raises(NumericError, match="parameter 'b'"):
        seed_numeric.loss({"w1": 0, "w2": 0}, {"x1": [1.0], "x2": [1.0], "y": [1.0]})
    with pytest.raises(NumericError, match="data for 'y'"):
        seed_numeric.loss({"w1": 0, "w2": 0, "b": 0}, {"x1": [1.0], "x2": [1.0]})


def test_step_moves_against_the_gradient(seed_numeric: NumericModel) -> None:
    params = {"w1": 0.3, "w2": -0.2, "b": 0.1}
    data = {"x1": np.array([1.0, -2.0]), "x2": np.array([0.5, 0.5]), "y": np.array([1.0, 0.0])}
    grads = seed_numeric.gradient(params, data)
    stepped = seed_numeric.step(params, data, 0.1)
    assert stepped == {p: pytest.approx(params[p] - 0.1 * grads[p]) for p in params}
    assert seed_numeric.loss(stepped, data) < seed_numeric.loss(params, data)


def _big_constant_model(z: str, loss: str = "(z - y)**2") -> str:
    return f"""
inputs = ["x1"]
targets = ["y"]
parameters = ["w1"]
[definitions]
z = "{z}"
L = "{loss}"
"""


@pytest.mark.parametrize(
    ("z", "loss", "key", "problem"),
    [
        # 10**300 is inside the parser's cap; folding a definition's own numbers makes 10**600
        (
            "10**300*(10**300*w1)*x1",
            "(z - y)**2",
            "definitions.z",
            "it has the number 1.00e+600",
        ),
        # each line of the program holds 10**300 at most, but the chain rule multiplies them
        (
            "10**300*w1*x1",
            "(10**300*z - y)**2",
            "definitions.L",
            "its derivative dL/dw1 has the number 2.00e+600",
        ),
        # only a local derivative has it: the power rule's 10**300 meets the inner 10**300
        (
            "w1*x1",
            "10**300*sin(10**300*z)",
            "definitions.L",
            "its derivative dL/dz has the number 1.00e+600",
        ),
    ],
)
def test_numbers_beyond_float64_are_refused_before_any_back_end(
    z: str, loss: str, key: str, problem: str, write_toml: Callable[[str], Path], run: Runner, tmp_path: Path
) -> None:
    path = write_toml(_big_constant_model(z, loss))
    derivation = symcalc.derive(symcalc.load(str(path)))  # the symbolic side has no such limit
    with pytest.raises(symcalc.SpecError) as refused:
        numeric_program(derivation)
    assert refused.value.message == (
        f"{path}, {key}: {problem}, beyond float64's range (about 1.8e308): "
        "it cannot be evaluated numerically"
    )
    (tmp_path / "d.csv").write_text("x1,y\n1,2\n")
    for argv in (
        ["train", str(path), "--data", str(tmp_path / "d.csv"), "--epochs", "1"],
        ["codegen", str(path)],
    ):
        code, out, err = run(argv)
        assert (code, out, err) == (2, "", f"symcalc: error: {refused.value.message}\n")


@pytest.mark.parametrize("backend", ["c", "numpy", "generic"])
def test_folded_numbers_inside_float64_are_evaluated_alike(
    backend: BackendChoice, write_toml: Callable[[str], Path]
) -> None:
    # 10**200*10**100 = 1e300 after folding: every back end evaluates it, as mpmath does
    path = write_toml(_big_constant_model("10**200*w1*x1", "(10**100*z - y)**2"))
    model = NumericModel(numeric_program(symcalc.derive(symcalc.load(str(path)))), backend=backend)
    w1, x1, y = 3e-300, 0.5, 2.0
    loss, grads = model.evaluate({"w1": w1}, {"x1": np.array([x1]), "y": np.array([y])})
    mp = mpmath.mpf
    residual = mp(10) ** 300 * mp(w1) * mp(x1) - mp(y)
    assert _close(loss, residual**2, 1e-12, 0)
    assert _close(grads["w1"], 2 * residual * mp(10) ** 300 * mp(x1), 1e-12, 0)


@pytest.mark.parametrize("backend", ["c", "numpy", "generic"])
def test_parameters_near_the_float64_maximum_give_inf_or_nan_not_overflow_error(
    backend: BackendChoice,
) -> None:
    from symcalc.numeric.generic import Generic

    program = numeric_program(symcalc.derive(symcalc.load("logistic_regression_l2")))
    params = {"w1": 1.7e308, "w2": -1.7e308, "b": 1.7e308}
    data = {"x1": np.array([1.0, 2.0]), "x2": np.array([0.5, -1.0]), "y": np.array([1.0, 0.0])}
    # the oracle: NumPy's own float64, where the penalty λ/2·w² overflows to inf
    with np.errstate(over="ignore"):
        assert np.float64(params["w1"]) ** 2 == np.inf
    loss, gradients = NumericModel(program, backend=backend).evaluate(params, data)
    assert type(loss) is float and not math.isfinite(loss)
    assert all(type(g) is float for g in gradients.values())
    # the generic program called with plain Python floats, as a caller of the back end would
    generic = Generic(program)
    constants = list(program.constants.values())
    loss, _ = generic.evaluate(list(params.values()), [data["x1"], data["x2"], data["y"]], constants)
    assert not math.isfinite(loss)


def test_train_stops_at_a_non_finite_loss_without_a_kernel(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", "/nonexistent/cc")  # no C kernel: the NumPy back ends do the work
    code, out, err = run(["train", "logistic_regression_l2", "--lr", "1e300", "--epochs", "5"])
    assert code == 1, err
    assert "internal error" not in err and "Traceback" not in err
    assert "became inf at step 1; kept the parameters of step 0, the last finite ones" in out + err


@pytest.mark.parametrize("heaviside", [False, True])
@pytest.mark.parametrize("backend", ["c", "numpy", "generic"])
def test_heaviside_and_step_of_nan_are_nan_on_every_back_end(
    backend: BackendChoice, heaviside: bool, write_toml: Callable[[str], Path]
) -> None:
    import dataclasses

    from symcalc.symbolic.functions import step

    program = numeric_program(symcalc.derive(symcalc.load(str(write_toml(STEP_OF_AN_INPUT)))))
    if heaviside:  # SymPy's own Heaviside, as a Program may hold it: printed by SymPy as a select

        def swap(expr: sp.Expr) -> sp.Expr:
            return expr.replace(lambda e: isinstance(e, step), lambda e: sp.Heaviside(e.args[0], 0))

        def swapped(lines: tuple[Assignment, ...]) -> tuple[Assignment, ...]:
            return tuple(dataclasses.replace(line, value=swap(line.value)) for line in lines)

        program = dataclasses.replace(
            program, forward=swapped(program.forward), backward=swapped(program.backward)
        )
        held = [*program.outputs, *(e for _, e in program.shared)]
        assert any(e.has(sp.Heaviside) for e in held) and not any(e.has(step) for e in held)
    model = NumericModel(program, backend=backend)
    x1 = np.array([np.nan, -1.0, 0.0, 2.0])
    data = {"x1": x1, "x2": np.array([3.0, 3.0, 3.0, 3.0]), "y": np.array([1.0, 1.0, 1.0, 1.0])}
    # the oracle, by hand: step is 0 at and below 0, 1 above, and NaN stays NaN
    expected = [math.nan, 0.0, 0.0, (0.5 * 3.0 - 1.0) ** 2]
    for k, want in enumerate(expected):
        row = {name: column[k : k + 1] for name, column in data.items()}
        loss, gradients = model.evaluate({"w1": 0.5}, row)
        if math.isnan(want):
            assert math.isnan(loss) and math.isnan(gradients["w1"]), (k, loss, gradients)
        else:
            assert loss == want, (k, loss)
    assert np.array_equal(model.per_sample_loss({"w1": 0.5}, data), expected, equal_nan=True)


@pytest.mark.parametrize("backend", ["c", "numpy", "generic", "codegen"])
def test_softmax_stays_finite_and_exact_past_exp_overflow(backend: str, tmp_path: Path) -> None:
    """Scores of ±900, where exp overflows: every back end gives the log-sum-exp values (mpmath)."""
    from tests.generated import generated_module

    derivation = symcalc.derive(symcalc.load("softmax_regression"))
    program = numeric_program(derivation)
    params = {p: 0.0 for p in program.parameters} | {"w11": 1.0, "w21": 0.5, "w31": -1.0, "b2": 3.0}
    x1 = np.array([900.0, -900.0, 2.0, 750.0])
    x2 = np.array([1.0, -2.0, 0.5, 3.0])
    labels = [0, 2, 1, 1]
    data = {"x1": x1, "x2": x2} | {f"y{k + 1}": np.array([float(c == k) for c in labels]) for k in range(3)}
    if backend == "codegen":
        module = generated_module(derivation, tmp_path, "generated_softmax")
        loss = module.loss(params, data)
        grads = {p: float(g) for p, g in module.gradient(params, data).items()}
    else:
        loss, grads = NumericModel(program, backend=backend).evaluate(params, data)  # type: ignore[arg-type]
    # The oracle, by hand at 50 digits: L = logsumexp(z) − z_label, dL/dw_kj = (p_k − y_k)·x_j.
    with mpmath.workdps(50):
        total = mpmath.mpf(0)
        gradient = {p: mpmath.mpf(0) for p in program.parameters}
        for i, label in enumerate(labels):
            x = (mpmath.mpf(x1[i]), mpmath.mpf(x2[i]))
            z = [params[f"w{k}1"] * x[0] + params[f"w{k}2"] * x[1] + params[f"b{k}"] for k in (1, 2, 3)]
            z = [mpmath.mpf(v) for v in z]
            norm = mpmath.log(sum(mpmath.exp(v) for v in z))
            total += norm - z[label]
            for k in range(3):
                error = mpmath.exp(z[k] - norm) - (1 if k == label else 0)
                gradient[f"w{k + 1}1"] += error * x[0]
                gradient[f"w{k + 1}2"] += error * x[1]
                gradient[f"b{k + 1}"] += error
        n = len(labels)
        assert _close(loss, total / n, 1e-13, 0), (loss, total / n)
        for p in program.parameters:
            assert _close(grads[p], gradient[p] / n, 1e-12, 1e-12), (p, grads[p], gradient[p] / n)
