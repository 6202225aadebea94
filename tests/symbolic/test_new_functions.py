"""gelu, erf and leaky_relu, each one entry of the table, against oracles that do not read the table.

The written-out forms below are typed here by hand (x/2·(1 + erf(x/√2)), max(0, x) + s·min(0, x)),
so a wrong entry in `symbolic/functions.py` cannot agree with them by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.check.checks import check_claim, verify
from symcalc.numeric.c import build
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.model import BackendChoice, NumericModel
from symcalc.symbolic.functions import gelu, leaky_relu
from symcalc.symbolic.parse import parse_expression
from tests.conftest import WriteToml
from tests.generated import generated_module

x, s = sp.symbols("x s", real=True)

#: Each new function of one variable x, and the same function written out by hand.
WRITTEN_OUT: dict[str, tuple[sp.Expr, sp.Expr]] = {
    "gelu": (gelu(x), x / 2 * (1 + sp.erf(x / sp.sqrt(2)))),
    "erf": (
        sp.erf(x),
        2 / sp.sqrt(sp.pi) * sp.Integral(sp.exp(-(sp.Symbol("t") ** 2)), (sp.Symbol("t"), 0, x)),
    ),
    "leaky_relu": (leaky_relu(x, s), sp.Max(0, x) + s * sp.Min(0, x)),
}

POINTS = [-3.7, -1.2, -0.31, 0.05, 0.8, 2.9]
SLOPE = 0.2


def _mp(expr: sp.Expr, at: float) -> mpmath.mpf:
    with mpmath.workdps(40):
        return mpmath.mpf(str(sp.N(expr.subs({x: sp.Rational(repr(at)), s: sp.Rational(repr(SLOPE))}), 40)))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WRITTEN_OUT))
def test_derivative_equals_central_differences_and_sympy_diff_of_the_written_out_form(name: str) -> None:
    ours, by_hand = WRITTEN_OUT[name]
    derivative = sp.diff(ours, x)  # through the class's fdiff
    for at in POINTS:
        with mpmath.workdps(40):

            def value(u: mpmath.mpf, by_hand: sp.Expr = by_hand) -> mpmath.mpf:
                plain = by_hand.subs(s, sp.Rational(repr(SLOPE))).doit()
                return mpmath.mpf(str(sp.N(plain.subs(x, sp.Float(u, 40)), 40)))

            estimate = mpmath.diff(value, mpmath.mpf(repr(at)), h=mpmath.mpf("1e-12"), method="step")
            assert abs(_mp(derivative, at) - estimate) < mpmath.mpf("1e-15"), (name, at)
            exact = sp.diff(by_hand, x).doit()
            assert abs(_mp(derivative, at) - _mp(exact, at)) < mpmath.mpf("1e-30"), (name, at)
            assert abs(_mp(ours, at) - _mp(by_hand.doit(), at)) < mpmath.mpf("1e-30"), (name, at)


def test_leaky_relu_takes_its_slope_at_zero_and_0_01_by_default() -> None:
    assert sp.diff(leaky_relu(x, s), x).subs(x, 0) == s  # the PyTorch convention: the slope at 0
    assert parse_expression("leaky_relu(x)", {"x": x}) == leaky_relu(x, sp.Rational(1, 100))
    assert parse_expression("leaky_relu(-2, 0.5)", {}) == -1  # folded as a constant


#: A one-unit model per function: a linear form, the activation, squared error.
MODEL = """
title = "{name} unit"
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
loss = "L"

[constants]
s = 0.2

[definitions]
z = "w1*x1 + w2*x2 + b"
a = "{call}"
L = "(a - y)^2 / 2"
"""

CALLS = {
    "gelu": "gelu(z)",
    "erf": "erf(z)",
    "leaky_relu": "leaky_relu(z, s)",
    "leaky_relu_default": "leaky_relu(z)",
}

#: The same loss written out by hand in SymPy (mpmath evaluates it and its SymPy derivative).
z_ = sp.Symbol("w1") * sp.Symbol("x1") + sp.Symbol("w2") * sp.Symbol("x2") + sp.Symbol("b")
HAND_ACTIVATION: dict[str, sp.Expr] = {
    "gelu": z_ / 2 * (1 + sp.erf(z_ / sp.sqrt(2))),
    "erf": sp.erf(z_),
    "leaky_relu": sp.Max(0, z_) + sp.Rational(1, 5) * sp.Min(0, z_),
    "leaky_relu_default": sp.Max(0, z_) + sp.Rational(1, 100) * sp.Min(0, z_),
}


def _load(name: str, write_toml: WriteToml) -> symcalc.Derivation:
    path = write_toml(MODEL.format(name=name, call=CALLS[name]), f"{name}.toml")
    return symcalc.derive(symcalc.load(str(path)))


def _hand_means(name: str, params: dict[str, float], data: dict[str, np.ndarray]) -> list[float]:
    """The mean loss and gradients of the hand-written loss: mpmath, sample by sample."""
    loss = (HAND_ACTIVATION[name] - sp.Symbol("y")) ** 2 / 2
    exprs = [loss, *(sp.diff(loss, sp.Symbol(p)) for p in ("w1", "w2", "b"))]
    functions = [sp.lambdify(sorted(e.free_symbols, key=str), e, modules="mpmath") for e in exprs]
    arguments = [sorted(e.free_symbols, key=str) for e in exprs]
    totals = [mpmath.mpf(0)] * len(exprs)
    with mpmath.workdps(30):
        for i in range(len(data["y"])):
            values = {**params, **{k: float(v[i]) for k, v in data.items()}}
            for k, (f, args) in enumerate(zip(functions, arguments, strict=True)):
                totals[k] += f(*(mpmath.mpf(values[str(a)]) for a in args))
        return [float(t / len(data["y"])) for t in totals]


def _random(seed: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    params = {p: float(rng.normal()) for p in ("w1", "w2", "b")}
    data = {"x1": rng.normal(size=40) * 2, "x2": rng.normal(size=40) * 2, "y": rng.normal(size=40)}
    return params, data


BACKENDS = [
    "generic",
    "numpy",
    pytest.param(
        "c", marks=pytest.mark.skipif(build.compiler() is None, reason="no C compiler on this machine")
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_each_back_end_equals_mpmath_on_the_hand_written_loss(
    name: str, backend: BackendChoice, write_toml: WriteToml
) -> None:
    program = numeric_program(_load(name, write_toml))
    numeric = NumericModel(program, backend=backend)
    assert numeric.backend == backend  # no fallback, and the name asked for is the name reported
    for seed in (1, 2):
        params, data = _random(seed)
        loss, grads = numeric.evaluate(params, data)
        got = [loss, grads["w1"], grads["w2"], grads["b"]]
        np.testing.assert_allclose(got, _hand_means(name, params, data), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_generated_module_equals_mpmath_on_the_hand_written_loss(
    name: str, write_toml: WriteToml, tmp_path: Path
) -> None:
    module = generated_module(_load(name, write_toml), tmp_path, f"generated_{name}")
    params, data = _random(3)
    grads = module.gradient(params, data)
    got = [module.loss(params, data), grads["w1"], grads["w2"], grads["b"]]
    np.testing.assert_allclose(got, _hand_means(name, params, data), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("gelu", "(1 + erf(z/sqrt(2)))/2"),  # Φ(z) alone: the z·φ(z) term is missing
        ("erf", "exp(-z^2)"),  # 2/√π missing
        ("leaky_relu", "step(z)"),  # relu's derivative: the slope below 0 is missing
    ],
)
def test_verify_holds_on_each_and_refutes_a_wrong_claim(name: str, wrong: str, write_toml: WriteToml) -> None:
    derivation = _load(name, write_toml)
    checks = verify(derivation)
    assert not [c for c in checks if not c.holds]
    assert {"gradient dL/dw1", "finite differences dL/dw1"} <= {c.name for c in checks}
    assert check_claim(derivation.model, "da/dz", wrong).status == "fails"


def test_verify_holds_on_a_right_leaky_relu_claim(write_toml: WriteToml) -> None:
    model = _load("leaky_relu", write_toml).model
    assert check_claim(model, "da/dz", "s + (1 - s)*step(z)").holds
    assert check_claim(model, "da/dz", "max(step(z), s)").holds  # the same for 0 < s < 1, by cases


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "leaky_relu(z, w1)",
            "definitions.a: the slope of leaky_relu() must be a number or a declared constant",
        ),
        ("leaky_relu(z, s, s)", "definitions.a: leaky_relu() takes 1 to 2 argument(s), got 3"),
        ("gelu(z, z)", "definitions.a: gelu() takes 1 argument(s), got 2"),
    ],
)
def test_bad_calls_are_one_line_naming_file_and_key(
    call: str, message: str, write_toml: WriteToml, run: Callable[[list[str]], tuple[int, str, str]]
) -> None:
    path = write_toml(MODEL.format(name="bad", call=call), "bad.toml")
    code, out, err = run(["derive", str(path)])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(path) in err and message in err, err
