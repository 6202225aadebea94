"""The exact proofs of one batch form share a bounded amount of polynomial work; past it, the
gradients left are compared at points only, so verify reaches its verdict.

A 3 × 3 matrix times a vector made of parameters alone (q = tanh(p)) made verify's exact batch
proofs multiply out polynomials of millions of terms: 85 s of a 60 s limit, and no verdict.
"""

from __future__ import annotations

import pytest
import sympy as sp

import symcalc
from symcalc.check.batch import EXACT_WORK, batch_checks
from symcalc.check.polynomial import Poly, spending
from symcalc.check.prove import is_zero
from symcalc.errors import TooLarge
from tests.conftest import WriteToml
from tests.symbolic.test_fixed_definitions import FIXED  # at n = 2, d = 3


def test_work_past_the_budget_is_too_large_and_each_operation_counts() -> None:
    x, y = Poly.generator(0), Poly.generator(1)
    with spending(10) as left:
        total = x + y  # 1 + 1 terms added: 2 of work
        product = total * total  # 2 × 2 pairs: 4
        assert len(product) == 3 and left == [4]
        with pytest.raises(TooLarge):
            product * product  # 9 pairs of the 4 left
    assert len(product * product) == 5  # outside, nothing is counted


def test_a_proof_past_the_budget_is_no_decision_not_a_wrong_one() -> None:
    a, b = sp.symbols("a b", real=True)
    identity = (a + b) ** 6 - sp.expand((a + b) ** 6)
    assert is_zero(identity)
    with spending(5):
        assert not is_zero(identity)  # undecided: the caller falls back to numbers


@pytest.mark.slow
def test_verify_reaches_its_verdict_with_the_proofs_past_the_budget_left_to_numbers(
    write_toml: WriteToml,
) -> None:
    derivation = symcalc.derive(symcalc.load(str(write_toml(FIXED))))
    checks = batch_checks(derivation, seed=0)
    assert checks and all(c.status == "holds" for c in checks)
    how = {c.method for c in checks}
    assert how == {"proved", "numerically"}, (how, EXACT_WORK)
