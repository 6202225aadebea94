"""Step titles write names as the maths beside them does (issue 16): w₁ in the terminal, $w_{1}$ in
LaTeX and Markdown, w1 in JSON and where the terminal cannot encode w₁."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import sympy as sp
from rich.console import Console

import symcalc
from symcalc.render.latex import render_latex
from symcalc.render.markdown import render_markdown
from symcalc.render.wording import step_title, step_title_parts, title_parts


def _console(renderable: object, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_a_title_holds_its_names_as_symbols(seed: symcalc.Derivation) -> None:
    step = seed.steps[3]
    w1, w2, b, z = (seed.model.symbols[n] for n in ("w1", "w2", "b", "z"))
    assert step_title_parts(step) == ("Derivatives of ", z, " with respect to ", w1, ", ", w2, " and ", b)
    assert step_title(step) == "Derivatives of z with respect to w1, w2 and b"  # JSON's, unchanged


def test_the_terminal_subscripts_the_names_in_a_title(seed: symcalc.Derivation) -> None:
    text = _console(seed)
    assert "Step 4 of 5: Derivatives of z with respect to w₁, w₂ and b" in text
    assert "Logistic regression: the derivatives that update w₁, w₂ and b" in text
    assert "with respect to w1" not in text
    assert "Step 4: Derivatives of z with respect to w₁, w₂ and b" in _console(seed.steps[3])


def test_latex_and_markdown_set_the_names_in_a_title_as_their_maths(seed: symcalc.Derivation) -> None:
    latex = render_latex(seed)
    assert r"\section*{Step 4 of 5: Derivatives of $z$ with respect to $w_{1}$, $w_{2}$ and $b$}" in latex
    assert r"\bfseries Logistic regression: the derivatives that update $w_{1}$, $w_{2}$ and b\par" in latex
    markdown = render_markdown(seed)
    assert "## Step 4 of 5: Derivatives of $z$ with respect to $w_{1}$, $w_{2}$ and $b$" in markdown
    assert markdown.startswith("# Logistic regression: the derivatives that update $w_{1}$, $w_{2}$ and b\n")
    assert (
        seed.steps[3]
        ._repr_markdown_()
        .startswith("**Step 4: Derivatives of $z$ with respect to $w_{1}$, $w_{2}$ and $b$**")
    )


def test_a_title_sets_only_subscripted_names_as_maths() -> None:
    a, w1, x_2 = sp.symbols("a w1 x_2")
    symbols = {"a": a, "w1": w1, "x_2": x_2}
    assert title_parts("a net: update w1 and x_2, not w12", symbols) == (
        "a net: update ",
        w1,
        " and ",
        x_2,
        ", not w12",
    )


def test_ascii_keeps_the_names_as_the_file_spells_them() -> None:
    environment = {**os.environ, "PYTHONIOENCODING": "cp1252", "COLUMNS": "100"}
    command = [sys.executable, "-m", "symcalc", "derive"]
    result = subprocess.run(command, capture_output=True, env=environment, timeout=300, check=True)
    out = result.stdout.decode("cp1252")
    assert "+- Step 4 of 5: Derivatives of z with respect to w1, w2 and b -" in out
    assert "+- Logistic regression: the derivatives that update w1, w2 and b -" in out
