"""Maths inside a sentence uses the terminal's symbols, never raw Python (`h1**2`, `*`) (issue 16)."""

from __future__ import annotations

import re

import pytest
import sympy as sp

from symcalc.render.pretty import inline
from tests.conftest import DERIVATIONS, Runner

RAW_PYTHON = re.compile(r"\*\*|[A-Za-z0-9)]\*[A-Za-z(]")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.stem for p in DERIVATIONS.glob("*.toml")))
def test_no_shipped_derivation_prints_raw_python(name: str, run: Runner) -> None:
    code, out, _ = run(["derive", name])
    assert code == 0
    assert not RAW_PYTHON.search(out), RAW_PYTHON.findall(out)


def test_an_inline_power_of_a_subscripted_name_is_a_superscript() -> None:
    h1, a, y = sp.symbols("h1 a y", real=True)
    assert inline(1 - h1**2) == "1 - h₁²"
    assert inline((1 - a**2) * (a - y)) == "(1 - a²)⋅(a - y)"
    assert inline(h1 ** sp.Rational(1, 2)) == "sqrt(h₁)"
