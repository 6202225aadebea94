"""check-work reads second derivatives written as fractions (∂²L/∂w₁², ∂²L/∂w₁∂w₂, d²L/db²) and checks
them as derivatives through the model. What each line is expected to do is decided first by an
independent oracle: SymPy's diff, twice, of the loss with every definition put in but the names
differentiated by, evaluated with mpmath at random points (never symcalc's engine or checker)."""

from __future__ import annotations

import random
from pathlib import Path

import mpmath
import pytest
import sympy as sp

import symcalc
from symcalc.symbolic.functions import to_elementary
from tests.check.test_check_work import checks_of, work
from tests.conftest import Runner

y, a, x1, x2 = sp.symbols("y a x1 x2")

SECOND_TEX = r"""\begin{align*}
\frac{\partial^2 L}{\partial w_1^2} &= a(1 - a)\, x_1^2 \\
\frac{\partial^2 L}{\partial w_1 \partial w_2} &= a(1 - a) x_1 x_2 \\
\frac{d^2 L}{d b^{2}} &= a (1 - a) \\
\frac{\partial^2 L}{\partial w_1 \partial b} &= a x_1 \\
\frac{\partial^2 L}{\partial z^2} &= a(1 - a)
\end{align*}
"""
#: (of, by, by again, claimed) of each line, for the oracle.
SECOND_CLAIMS = [
    ("L", "w1", "w1", a * (1 - a) * x1**2),
    ("L", "w1", "w2", a * (1 - a) * x1 * x2),
    ("L", "b", "b", a * (1 - a)),
    ("L", "w1", "b", a * x1),
    ("L", "z", "z", a * (1 - a)),
]


def oracle_second(
    model: symcalc.Model, of: str, wrt: str, second: str, claimed: sp.Expr, seed: int = 2
) -> bool:
    symbols = model.symbols
    kept = {symbols[wrt], symbols[second]}
    composed: sp.Expr = symbols[of]
    for symbol, definition in reversed(model.definitions):
        if symbol not in kept:
            composed = composed.xreplace({symbol: definition})
    derivative = sp.diff(to_elementary(composed), symbols[wrt], symbols[second])
    rng = random.Random(seed)
    for _ in range(5):
        values = {
            s: sp.Float(rng.uniform(0.05, 0.95) if s.name == "y" else rng.uniform(-2, 2), 40)
            for s in model.independents
        }
        for symbol, definition in model.definitions:
            values[symbol] = to_elementary(definition).xreplace(values)
        left = derivative.xreplace(values).evalf(40)
        right = to_elementary(claimed).xreplace({sp.Symbol(k.name): v for k, v in values.items()}).evalf(40)
        if abs(mpmath.mpf(str(left)) - mpmath.mpf(str(right))) > mpmath.mpf("1e-25"):
            return False
    return True


@pytest.mark.slow
def test_second_derivatives_are_read_and_checked_through_the_model(run: Runner, tmp_path: Path) -> None:
    model = symcalc.load("logistic_regression")
    expected = ["holds" if oracle_second(model, *claim) else "fails" for claim in SECOND_CLAIMS]
    assert expected == ["holds", "holds", "holds", "fails", "holds"]
    code, checks = checks_of(run, "logistic_regression", work(tmp_path, SECOND_TEX))
    assert code == 1
    assert [c["status"] for c in checks] == expected
    assert checks[3]["name"] == "line 5, column 47" and checks[3]["counterexample"]["point"]


@pytest.mark.parametrize(
    ("model", "maths", "problem"),
    [
        ("logistic_regression", r"\frac{\partial^3 L}{\partial w_1^3} = 0", "order 1 and 2"),
        ("logistic_regression", r"\frac{\partial^2 L}{\partial w_1 + b} = 0", "denominator"),
        ("two_layer_network_vector", r"\frac{\partial^2 L}{\partial \mathbf{v}^2} = 0", "by scalars"),
    ],
)
def test_what_is_not_a_second_derivative_of_scalars_is_one_line_with_its_place(
    run: Runner, tmp_path: Path, model: str, maths: str, problem: str
) -> None:
    code, _, err = run(["check-work", model, work(tmp_path, f"$$ {maths} $$\n")])
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "line 1, column" in err and problem in err, err
