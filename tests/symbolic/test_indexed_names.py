"""Vectors and matrices whose names carry an index (W1, b1, w2, W_in), as every MLP lecture names them.

Each document is checked by what reads it: the LaTeX by pdflatex, the page by KaTeX in headless
Chromium, the terminal at fixed widths and encodings, JSON by its keys. An entry of such a name is
written with the name bracketed, (W₁)₁ ₂ and \\left(W_{1}\\right)_{1 2}, or in the file's own syntax
W1[1,2] where the output is text; no two entries print the same.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from rich.console import Console

import symcalc
from symcalc.errors import SymcalcError
from symcalc.render.console import render_derivation
from symcalc.render.latex import render_latex
from symcalc.render.markdown import render_markdown
from symcalc.render.pdf import compile_pdf
from symcalc.render.views import EVERYTHING
from tests.conftest import Runner, WriteToml
from tests.pdf import needs_pdflatex
from tests.render.test_html import chromium, load  # noqa: F401  (chromium is a fixture)

MLP = """\
title = "MLP with indexed names"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W1[h,n]", "b1[h]", "w2[h]", "b2"]
loss = "L"

[dimensions]
n = 2
h = 2

[definitions]
s = "W1 @ x + b1"
g = "tanh(s)"
z = "w2 @ g + b2"
a = "sigmoid(z)"
L = "-y*log(a) - (1 - y)*log(1 - a)"
"""


@pytest.fixture
def mlp(write_toml: WriteToml) -> Path:
    return write_toml(MLP, "mlp.toml")


#: A TeX subscript that follows a braced group closed by another subscript: `W_{1}_{ij}`.
DOUBLE_SUBSCRIPT = re.compile(r"_\{[^{}]*\}_\{|_[A-Za-z0-9]_\{")


@needs_pdflatex
@pytest.mark.slow
def test_the_latex_of_indexed_names_compiles(mlp: Path) -> None:
    tex = render_latex(symcalc.derive(symcalc.load(str(mlp))), views=EVERYTHING)
    assert not DOUBLE_SUBSCRIPT.search(tex)
    assert compile_pdf(tex).startswith(b"%PDF")


def test_markdown_has_no_double_subscript(mlp: Path) -> None:
    text = render_markdown(symcalc.derive(symcalc.load(str(mlp))), views=EVERYTHING)
    assert not DOUBLE_SUBSCRIPT.search(text)
    assert r"\left(W_{1}\right)_{ij}" in text  # the vector form's entry of W1


@pytest.mark.slow
def test_the_page_of_indexed_names_typesets_every_formula(
    chromium: str,  # noqa: F811  (the fixture imported above)
    mlp: Path,
    run: Runner,
    tmp_path: Path,
) -> None:
    page = tmp_path / "mlp.html"
    code, _, err = run(["html", str(mlp), "--view", "all", "-o", str(page)])
    assert code == 0, err
    dom, _ = load(chromium, page, tmp_path)
    assert dom.count('<span class="katex">') + dom.count('<span class="katex-display">') > 10
    assert 'class="katex-error"' not in dom


def _terminal(mlp: Path, width: int) -> str:
    file = io.StringIO()
    console = Console(file=file, width=width, color_system=None, legacy_windows=False)
    for part in render_derivation(symcalc.derive(symcalc.load(str(mlp))), width, views=EVERYTHING):
        console.print(part)
    return file.getvalue()


@pytest.mark.parametrize("width", [60, 100])
def test_the_terminal_writes_an_entry_with_its_name_bracketed(mlp: Path, width: int) -> None:
    out = _terminal(mlp, width)
    assert "(W₁)₁ ₂" in out and "(b₁)₁" in out and "(w₂)₂" in out and "d(W₁)ᵢⱼ" in out
    assert "W₁₁" not in out and "b₁₁" not in out and "w₂₁" not in out  # W1[1,2] was W₁₁ ₂, b1[1] b₁₁


@pytest.mark.slow
def test_ascii_writes_an_entry_as_the_file_indexes_it(mlp: Path) -> None:
    environment = {**os.environ, "PYTHONIOENCODING": "ascii", "COLUMNS": "80"}
    result = subprocess.run(
        [sys.executable, "-m", "symcalc", "derive", str(mlp), "--view", "all"],
        capture_output=True,
        env=environment,
        timeout=300,
    )
    out = result.stdout.decode("ascii")
    assert result.returncode == 0, result.stderr
    assert "W1[1,2]" in out and "b1[1]" in out and "w2[2]" in out
    assert "W11_2" not in out and "b11" not in out


def test_json_names_an_entry_as_the_file_indexes_it(mlp: Path, run: Runner) -> None:
    code, out, err = run(["derive", str(mlp), "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["parameters"] == [
        *(f"W1[{i},{j}]" for i in (1, 2) for j in (1, 2)),
        "b1[1]",
        "b1[2]",
        "w2[1]",
        "w2[2]",
        "b2",
    ]
    assert set(data["gradients"]) == set(data["parameters"]) == set(data["updates"])
    lhs = {eq["lhs"] for step in data["steps"] for eq in step["equations"]}
    assert {"dL/dW1[1,2]", "∂s1/∂W1[1,2]", "dL/db1[2]"} <= lhs
    assert "W1[1,2]" in data["gradients"]["W1[1,2]"] or "w2[1]" in data["gradients"]["W1[1,2]"]
    assert not re.search(r"\b(W11_2|b11|w21)\b", out)


@pytest.mark.slow
def test_the_train_table_names_an_entry_as_the_file_indexes_it(mlp: Path, run: Runner) -> None:
    code, out, err = run(["train", str(mlp), "--epochs", "3"])
    assert code == 0, err
    rows = [line.split("│")[1].strip() for line in out.splitlines() if line.count("│") == 3]
    assert rows[:9] == ["W1[1,1]", "W1[1,2]", "W1[2,1]", "W1[2,2]", "b1[1]", "b1[2]", "w2[1]", "w2[2]", "b2"]


def test_a_gradient_by_the_name_of_a_matrix_is_the_matrix_of_its_entries(mlp: Path) -> None:
    derivation = symcalc.derive(symcalc.load(str(mlp)))
    gradient = derivation.gradient("W1")
    assert gradient.shape == (2, 2) and derivation.gradient("b1").shape == (2,)
    # the oracle: SymPy's own diff of the written-out loss, every definition substituted
    # (at a point: simplify on the written-out tanh and log takes minutes)
    model = derivation.model
    loss = model.expand(model.loss)
    point = {s: sp.Rational(k + 2, 7) * (-1) ** k for k, s in enumerate(model.independents)}
    for i, j in [(1, 1), (1, 2), (2, 1), (2, 2)]:
        entry = sp.Symbol(f"W1{i}_{j}", real=True)
        difference = model.expand(gradient[i - 1, j - 1]) - sp.diff(loss, entry)
        assert abs(difference.subs(point).evalf(30)) < 1e-25
        assert (
            derivation.gradient(f"W1[{i},{j}]") == derivation.gradient(f"W1{i}_{j}") == gradient[i - 1, j - 1]
        )


@pytest.mark.parametrize("name", ["W", "W1[3,1]", "W1[1]", "x1", "L"])
def test_a_gradient_by_another_name_says_which_names_there_are(mlp: Path, name: str) -> None:
    derivation = symcalc.derive(symcalc.load(str(mlp)))
    with pytest.raises(SymcalcError, match=r"the parameters are W1\[h,n\], b1\[h\], w2\[h\], b2"):
        derivation.gradient(name)


def test_two_matrices_whose_entries_share_a_name_are_refused(write_toml: WriteToml, run: Runner) -> None:
    path = write_toml(
        'inputs = ["x[2]"]\ntargets = ["y"]\nparameters = ["W[11,2]", "W1[2,2]"]\n'
        '[definitions]\nz = "sum(W @ x) + sum(W1 @ x)"\nL = "(z - y)^2"\n'
    )
    code, _, err = run(["derive", str(path)])
    assert code == 2
    assert err.strip().endswith(
        "the entries of W[11,2] and W1[2,2] are both named 'W11_1' (rename one of them)"
    )
    assert "parameters" in err and "Traceback" not in err


def test_an_entry_and_a_name_print_apart_so_both_are_allowed(write_toml: WriteToml) -> None:
    # b1[1] prints (b₁)₁, the scalar b_11 b₁₁: not the look-alikes the model refuses
    path = write_toml(
        'inputs = ["x[2]"]\ntargets = ["y"]\nparameters = ["b1[2]", "b_11"]\n'
        '[definitions]\nz = "sum(b1*x) + b_11"\nL = "(z - y)^2"\n'
    )
    z, y = sp.symbols("z y", real=True)
    assert sp.expand(symcalc.derive(symcalc.load(str(path))).gradient("b_11") - 2 * (z - y)) == 0
