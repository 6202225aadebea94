"""Vectors and matrices whose names carry an index (W1, b1, w2, W_in), as every MLP lecture names them.

Each document is checked by what reads it: the LaTeX by pdflatex, the page by KaTeX in headless
Chromium, the terminal at fixed widths and encodings, JSON by its keys. An entry of such a name is
written with the name bracketed, (W₁)₁ ₂ and \\left(W_{1}\\right)_{1 2}, or in the file's own syntax
W1[1,2] where the output is text; no two entries print the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import symcalc
from symcalc.render.latex import render_latex
from symcalc.render.markdown import render_markdown
from symcalc.render.pdf import compile_pdf
from tests.conftest import Runner, WriteToml
from tests.pdf import needs_pdflatex
from tests.test_html import chromium, load  # noqa: F401  (chromium is a fixture)

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
    tex = render_latex(symcalc.derive(symcalc.load(str(mlp))))
    assert not DOUBLE_SUBSCRIPT.search(tex)
    assert compile_pdf(tex).startswith(b"%PDF")


def test_markdown_has_no_double_subscript(mlp: Path) -> None:
    text = render_markdown(symcalc.derive(symcalc.load(str(mlp))))
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
    code, _, err = run(["html", str(mlp), "-o", str(page)])
    assert code == 0, err
    dom, _ = load(chromium, page, tmp_path)
    assert dom.count('<span class="katex">') + dom.count('<span class="katex-display">') > 10
    assert 'class="katex-error"' not in dom
