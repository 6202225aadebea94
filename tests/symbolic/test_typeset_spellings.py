"""A claim or expression typed as a page or another language writes it gets one line naming the
table's spelling: (a − y)·x₁, z², (a-y)x1, d^2L/dw1^2, log10, pow(z, 2), np.tanh."""

from __future__ import annotations

import pytest

from tests.conftest import Runner

PREFIX = "symcalc: error: logistic_regression, "


@pytest.mark.parametrize(
    ("claim", "expression", "expected"),
    [
        ("dL/dw1", "(a−y)*x1", "character '−' is not allowed (write '-' for '−': (a-y)*x1)"),
        ("dL/dw1", "(a-y)·x1", "character '·' is not allowed (write '*' for '·': (a-y)*x1)"),
        ("dL/dw1", "(a-y)⋅x1", "character '⋅' is not allowed (write '*' for '⋅': (a-y)*x1)"),
        ("dL/dz", "a - y + 0*z²", "character '²' is not allowed (write '^2' for '²': a - y + 0*z^2)"),
        ("dL/dw1", "(a-y)x1", "syntax error: invalid syntax (write a product with '*': (a-y)*x1)"),
        ("dL/dw1", "x1(a-y)", "'x1' is a name, not a function (write a product with '*': x1*(a-y))"),
        ("dL/dw1", "2x1*(a-y)", "syntax error: invalid number (write a product with '*': 2*x1*(a-y))"),
        ("dL/dw1", "log10(a)", "unknown function 'log10' (write log(a)/log(10))"),
        ("dL/dw1", "pow(z, 2)", "unknown function 'pow' (write z**2)"),
        ("dL/dw1", "pow(a - y, 2)*x1", "unknown function 'pow' (write (a - y)**2)"),
        (
            "dL/dw1",
            "(np.tanh(z) - y)*x1",
            "only functions from the table can be called, by name (write tanh(z), without the module)",
        ),
        (
            "d^2L/dw1^2",
            "x1**2*a*(1-a)",
            "claim 'd^2L/dw1^2' is not of the form 'dA/dB' (total), '∂A/∂B' / 'partial A/partial B'"
            " (local) or 'd2A/dB dC' / 'd2A/dB^2' (second) (write 'd2L/dw1^2')",
        ),
        ("d²L/dw1²", "x1**2*a*(1-a)", "(write 'd2L/dw1^2')"),
    ],
)
def test_a_typeset_spelling_gets_the_tables_spelling_in_one_line(
    claim: str, expression: str, expected: str, run: Runner
) -> None:
    code, out, err = run(["check", "logistic_regression", claim, expression])
    assert code == 2 and out == ""
    assert err.startswith(f"{PREFIX}{claim}: ") and err.count("\n") == 1, err
    assert expected in err
    assert "did you mean" not in err  # log10 was once "did you mean 'log1p'?"


@pytest.mark.parametrize(
    ("claim", "expression"),
    [
        ("dL/dw1", "(a-y)*x1"),
        ("d2L/dw1^2", "x1**2*a*(1-a)"),
    ],
)
def test_the_suggested_spellings_are_the_ones_that_hold(claim: str, expression: str, run: Runner) -> None:
    code, out, _ = run(["check", "logistic_regression", claim, expression])
    assert code == 0 and "holds" in out


def test_a_scientific_number_is_not_taken_for_a_product(run: Runner) -> None:
    # 1e5 is a number: the fix for 2x must not write it 1*e5
    code, _, err = run(["check", "logistic_regression", "dL/dw1", "2x1 + 1e-5"])
    assert code == 2 and "(write a product with '*': 2*x1 + 1e-5)" in err
