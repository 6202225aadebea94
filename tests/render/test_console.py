"""The terminal rendering of the seed, at a fixed width, read as text."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

import symcalc
from symcalc.cli.main import main


def render(derivation: symcalc.Derivation, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(derivation)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_seed_panels_show_the_pages_steps(seed: symcalc.Derivation) -> None:
    text = render(seed)
    for number in range(1, 6):
        assert f"Step {number} of 5" in text
    lines = text.splitlines()
    # Step 2: the sigmoid's derivative, re-expressed through its output a.
    assert any("(1 - σ(z))⋅σ(z) = a⋅(1 - a)" in line for line in lines)
    # Step 3: the chain-rule product before and after simplification.
    assert any("⎜───── - ─⎟⋅(a⋅(1 - a)) = a - y" in line for line in lines)
    # Step 5 and the updates, with alpha printed as α and subscripts.
    assert any("= x₁⋅(a - y)" in line for line in lines)
    assert any("w₁ := w₁ - α⋅x₁⋅(a - y)" in line for line in lines)
    assert any("b := b - α⋅(a - y)" in line for line in lines)
    # Notes from the file appear beside the names.
    assert "true value (ground truth), 0 or 1" in text
    assert "Gradients and update rules" in text


def test_plain_when_piped(seed: symcalc.Derivation) -> None:
    assert "\x1b[" not in render(seed)


def test_narrow_terminal_breaks_after_equals_instead_of_wrapping(seed: symcalc.Derivation) -> None:
    text = render(seed, width=40)
    assert "Step 3 of 5" in text
    assert any(line.strip("│ ").startswith("= a - y") for line in text.splitlines())


def test_cli_derive_default_is_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive"]) == 0
    out = capsys.readouterr().out
    assert "Logistic regression" in out and "Step 5 of 5" in out


def test_cli_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"title", "loss", "parameters", "steps", "gradients", "updates"}
    assert data["parameters"] == ["w1", "w2", "b"]
    assert [step["kind"] for step in data["steps"]] == ["local", "local", "chain", "local", "gradients"]
    step3 = data["steps"][2]
    assert step3["number"] == 3
    assert step3["title"] == "Derivative of L with respect to z"
    assert step3["rule"] == "chain rule: multiply the upstream gradient by the local derivative"
    assert step3["equations"][0]["lhs"] == "dL/dz"
    assert step3["equations"][0]["result"] == "a - y"
    assert step3["equations"][0]["unsimplified"] == "((1 - y)/(1 - a) - y/a)*(a*(1 - a))"
    assert data["gradients"] == {"w1": "x1*(a - y)", "w2": "x2*(a - y)", "b": "a - y"}
    assert data["updates"]["b"] == "b - alpha*(a - y)"
