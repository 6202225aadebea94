"""What `derive` prints is a claim that holds: results that read an upstream dL/dc, and Hessians of kinks.

A result past a size reads an upstream derivative as the symbol dL/dc (layer normalisation's dL/ds1 reads
dL/dmu); a claim may name one, and a check puts in SymPy's derivative through the graph for it (never the
engine's). The oracle is `check_claim`'s: SymPy's diff of the model written out, evaluated with mpmath.
"""

from __future__ import annotations

import json

import pytest

import symcalc
from symcalc.cli.work import derive_text
from tests.conftest import WriteToml
from tests.test_course_models import LAYER_NORM
from tests.test_printed_forms import at_a_point, check_json, check_terminal
from tests.test_round_trip import assert_round_trip

# -- a result that reads dL/dc reads back as a claim ---------------------------------------------------


@pytest.mark.slow
def test_every_printed_result_of_layer_norm_reads_back_as_a_claim_that_holds(write_toml: WriteToml) -> None:
    path = write_toml(LAYER_NORM, "layer_norm.toml")
    printed = derive_text(str(path), as_json=True)
    assert "dL/dmu" in json.loads(printed)["gradients"]["W1_1"]  # before: "unknown name 'dL'"
    assert assert_round_trip(path) > 60
    derivation = symcalc.derive(symcalc.load(str(path)))
    point, oracle = at_a_point(derivation)
    check_json(derivation, point, oracle)
    assert check_terminal(derivation, point, oracle) > 0


@pytest.mark.parametrize(
    ("lhs", "rhs", "status"),
    [
        ("dL/ds", "dL/dd - sum(dL/dd)/3", "holds"),  # layer norm's backward pass through the mean
        ("dL/ds", "dL/dd - sum(dL/dd)/2", "fails"),
        ("dL/ds1", "dL/dd1 + dL/dmu/3", "holds"),
        ("dL/ds1", "dL/dd1 + dL/dmu/2", "fails"),
        ("dL/dc", "dL/ds", "holds"),
        ("dL/dW", "outer(dL/ds, x)", "holds"),
        ("dL/dW", "outer(dL/ds, x) + outer(dL/ds, x)", "fails"),
    ],
)
def test_a_claim_may_name_an_upstream_derivative(
    write_toml: WriteToml, lhs: str, rhs: str, status: str
) -> None:
    model = symcalc.load(str(write_toml(LAYER_NORM, "layer_norm.toml")))
    assert symcalc.check_claim(model, lhs, rhs).status == status


def test_a_quotient_of_two_declared_names_stays_a_quotient(write_toml: WriteToml) -> None:
    text = 'inputs = ["dx", "x"]\ntargets = []\nparameters = ["dy", "y"]\n[definitions]\nL = "x*y*dx*dy"\n'
    model = symcalc.load(str(write_toml(text)))
    assert symcalc.check_claim(model, "dL/dy", "x*dx/dy*dy^2").status == "holds"
    with pytest.raises(symcalc.SymcalcError, match="unknown name 'dL'"):
        symcalc.check_claim(model, "dL/dy", "dL/dx")  # dx is declared: a quotient, and dL unknown
