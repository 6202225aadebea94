"""The caps bound memory: the display check never multiplies out a power of a sum, and powers that
SymPy folds together are held to the exponent cap."""

from __future__ import annotations

import time

import pytest
import sympy as sp

import symcalc
from symcalc.isolate import run_limited
from symcalc.symbolic.graph import Model
from tests.conftest import Runner, WriteToml


def _power_of_a_sum(terms: int) -> str:
    inputs = [f"x{k}" for k in range(1, terms - 1)]
    names = ", ".join(f'"{n}"' for n in [*inputs, "y"])
    total = " + ".join([*inputs, "w", "y"])
    return f'inputs = [{names}]\nparameters = ["w"]\n[definitions]\nL = "({total})^1000"\n'


def _written_count(path: str) -> int:
    return len(Model.load(path).written)


@pytest.mark.slow
@pytest.mark.parametrize("terms", [3, 5])
def test_the_display_check_never_multiplies_a_power_of_a_sum_out(write_toml: WriteToml, terms: int) -> None:
    path = str(write_toml(_power_of_a_sum(terms)))
    start = time.perf_counter()
    assert run_limited(_written_count, path, timeout=20) == 1  # L is kept as written
    assert time.perf_counter() - start < 15
    model = Model.load(path)
    (form,) = model.written.values()
    # the oracle: SymPy's own power of the sum of the declared names, evaluated as SymPy does
    declared = [model.symbols[n] for n in [*(f"x{k}" for k in range(1, terms - 1)), "w", "y"]]
    assert sp.Pow(sp.Add(*declared), 1000) == model.definition_map[model.loss]
    assert form.args[1] == 1000 and set(form.args[0].args) == set(declared)


@pytest.mark.slow
def test_derive_of_a_power_of_a_sum_ends(run: Runner, write_toml: WriteToml) -> None:
    path = write_toml(_power_of_a_sum(5))
    code, out, err = run(["derive", str(path), "--timeout", "30"])
    assert code == 0, err
    assert "1000" in out


@pytest.mark.parametrize(
    ("text", "exponent"),
    [
        ("(((x1 + w)^1000)^1000)^1000", 1_000_000),  # powers of powers
        ("(x1 + w)^1000*(x1 + w)^1000", 2000),  # a product of powers
        ("w*(x1^600)^2", 1200),
        ("exp(1000*log((x1 + w)^1000))", 1_000_000),  # exp(k*log(u)) is u^k
    ],
)
def test_folded_exponents_are_held_to_the_cap(
    run: Runner, write_toml: WriteToml, text: str, exponent: int
) -> None:
    path = write_toml(f'inputs = ["x1"]\nparameters = ["w"]\n[definitions]\nL = "{text}"\n')
    start = time.perf_counter()
    code, out, err = run(["derive", str(path), "--timeout", "10"])
    assert time.perf_counter() - start < 5
    assert code == 2 and out == ""
    assert err.startswith(f"symcalc: error: {path}, line 4, column ")
    assert err.endswith(
        f", definitions.L: the powers here fold into the exponent {exponent}, which is too large "
        "(limit 1000)\n"
    )
    assert len(err.splitlines()) == 1


def test_powers_within_the_cap_still_fold(write_toml: WriteToml) -> None:
    path = write_toml('inputs = ["x1"]\nparameters = ["w"]\n[definitions]\nL = "w*((x1^10)^10)^10"\n')
    model = symcalc.load(str(path))
    x1, w = model.symbols["x1"], model.symbols["w"]
    assert model.definition_map[model.loss] == w * x1**1000
