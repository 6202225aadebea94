"""check-work reads a Jacobian (dA/dB of two vectors) entry by entry, as a claim about dg/ds means it:
entry (i, j) is the derivative of A's entry i by B's entry j through the model. What each line is
expected to do is decided first by the independent oracle (`oracle_holds`: SymPy's diff of the
written-out model at mpmath points), never by symcalc."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

import symcalc
from tests.check.test_check_work import checks_of, oracle_holds, work
from tests.conftest import Runner

MODEL = "two_layer_network_vector"  # s = W x + c, g = tanh(s), at n = 2, h = 3


def oracle_jacobian(model: symcalc.Model, of: str, wrt: str, claimed: sp.Matrix) -> bool:
    """Whether every entry (i, j) of `claimed` is d(of_i)/d(wrt_j) through the model, by the oracle."""
    return all(
        oracle_holds(model, f"{of}{i + 1}", f"{wrt}{j + 1}", claimed[i, j])
        for i in range(claimed.rows)
        for j in range(claimed.cols)
    )


@pytest.fixture(scope="module")
def network() -> symcalc.Model:
    return symcalc.load(MODEL)


@pytest.mark.slow
def test_a_jacobian_is_read_and_checked_entry_by_entry(
    network: symcalc.Model, run: Runner, tmp_path: Path
) -> None:
    g = sp.symbols("g1:4")
    W = sp.Matrix(3, 2, lambda i, j: sp.Symbol(f"W{i + 1}_{j + 1}"))
    assert oracle_jacobian(network, "g", "s", sp.diag(*[1 - gi**2 for gi in g]))
    assert oracle_jacobian(network, "s", "x", W)
    assert not oracle_jacobian(network, "g", "s", sp.diag(*[1 - gi for gi in g]))
    text = r"""\begin{align*}
\frac{\partial \mathbf{g}}{\partial \mathbf{s}} &= \mathrm{diag}(1 - g^2) \\
\frac{\partial \mathbf{s}}{\partial \mathbf{x}} &= W \\
\frac{\partial \mathbf{g}}{\partial \mathbf{s}} &= \mathrm{diag}(1 - g)
\end{align*}
"""
    code, checks = checks_of(run, MODEL, work(tmp_path, text))
    assert code == 1
    assert [c["status"] for c in checks] == ["holds", "holds", "fails"]
    assert checks[2]["name"].startswith("line 4,")


def test_a_transposed_jacobian_is_refused_by_its_shape(
    network: symcalc.Model, run: Runner, tmp_path: Path
) -> None:
    text = "$$ \\frac{\\partial \\mathbf{s}}{\\partial \\mathbf{x}} = W^\\top $$\n"
    code, checks = checks_of(run, MODEL, work(tmp_path, text))
    assert code == 1 and checks[0]["status"] == "fails"
    assert "different shapes" in checks[0]["detail"]


def test_a_derivative_of_a_vector_by_a_matrix_is_one_line_with_its_place(run: Runner, tmp_path: Path) -> None:
    text = "$$ \\frac{\\partial \\mathbf{s}}{\\partial W} = 1 $$\n"
    code, _, err = run(["check-work", MODEL, work(tmp_path, text)])
    assert code == 2
    assert "line 1, column" in err and "is read by a vector (the Jacobian)" in err
    assert len(err.strip().splitlines()) == 1
