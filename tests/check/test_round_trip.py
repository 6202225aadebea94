"""Whatever `symcalc derive --json` prints is a claim that holds, pasted back as the kind it was printed as.

For every shipped model (and models with relu, max, min, abs and sign, whose
derivatives hold step, sign and abs), each step equation ("∂a/∂z" local or
"dL/dz" total) and each gradient ("dL/dw"), taken from the JSON text, is
checked by `symcalc.check.checks.check_claim`, whose oracle is SymPy's diff (of the
one definition for a local partial, through the graph for a total derivative)
evaluated with mpmath: never symcalc's own result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import symcalc
from symcalc.check.checks import check_claim
from symcalc.cli.work import derive_text
from tests.conftest import DERIVATIONS

KINKED = {
    "relu_net.toml": """
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["w1", "w2", "b", "v"]
[definitions]
s = "w1*x1 + w2*x2 + b"
h = "relu(s)"
z = "v*h"
L = "(z - y)^2"
""",
    "kinks.toml": """
inputs = ["x", "u"]
targets = ["y"]
parameters = ["w", "c"]
[definitions]
z = "w*x + c"
h = "max(z, c*u) - min(z, 0) + abs(c*u) + sign(u)*z"
L = "(h - y)^2"
""",
}

SHIPPED = [
    pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem == "softmax_regression" else [])
    for p in sorted(DERIVATIONS.glob("*.toml"))
]


def printed_claims(text: str) -> list[tuple[str, str, str]]:
    """(lhs, result, derivative kind) of every equation and every gradient in derive's JSON output."""
    data: dict[str, Any] = json.loads(text)
    claims = [
        (eq["lhs"], eq["result"], eq["derivative"]) for step in data["steps"] for eq in step["equations"]
    ]
    claims += [(f"d{data['loss']}/d{p}", g, "total") for p, g in data["gradients"].items()]
    return claims


def assert_round_trip(path: Path) -> int:
    model = symcalc.load(str(path))
    claims = printed_claims(derive_text(str(path), as_json=True))
    for lhs, result, kind in claims:
        assert lhs.startswith("∂" if kind == "local" else "d"), (lhs, kind)
        check = check_claim(model, lhs, result, points=8)
        assert check.status == "holds", (path.name, lhs, result, check.detail)
    return len(claims)


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED)
def test_every_printed_result_of_a_shipped_model_holds_as_a_claim(path: Path) -> None:
    assert assert_round_trip(path) > 0


@pytest.mark.parametrize("name", sorted(KINKED))
def test_results_with_step_sign_abs_max_hold_as_claims(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text(KINKED[name], encoding="utf-8")
    text = derive_text(str(path), as_json=True)
    assert "step(" in text and "Heaviside" not in text and "Max(" not in text and "Abs(" not in text
    assert assert_round_trip(path) > 0
