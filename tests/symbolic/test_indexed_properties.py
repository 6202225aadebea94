"""Generated networks named as lectures name them (W1, W_in, b_2, theta0, x_t, Greek names, digits and
underscores), rendered in every output format: no two names or entries print the same, each prints
in the document it belongs to, KaTeX typesets every formula, a handful of the documents compile
with pdflatex, and each entry named in JSON is the entry whose gradient it labels.

Fixed seed (`derandomize=True`) and a bounded number of examples, so CI is repeatable.
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rich.console import Console

import symcalc
from symcalc.errors import SymcalcError
from symcalc.render import pretty as maths_printing
from symcalc.render.console import render_derivation
from symcalc.render.html import cards_html
from symcalc.render.json import derivation_dict, text
from symcalc.render.latex import latex, render_latex
from symcalc.render.markdown import render_markdown
from symcalc.render.pdf import compile_pdf
from symcalc.render.pretty import pretty
from symcalc.render.views import EVERYTHING
from symcalc.symbolic.entries import printing
from tests.conftest import REPO
from tests.pdf import needs_pdflatex

STEMS = ["W", "b", "w", "x", "h", "z", "U", "theta", "alpha", "phi", "Wx", "v"]
TAILS = ["", "1", "2", "0", "10", "12", "_1", "_2", "_in", "_out", "_t", "_hid", "1_2", "_b"]
NAMES = st.builds(lambda stem, tail: stem + tail, st.sampled_from(STEMS), st.sampled_from(TAILS))
KATEX = REPO / "symcalc" / "render" / "katex" / "katex.min.js"
#: A subscript after a subscript: W_{1}_{ij} or b_1_{2}, which TeX and KaTeX refuse.
DOUBLE_SUBSCRIPT = re.compile(r"_\{[^{}]*\}_\{|_[A-Za-z0-9]_\{")


def _model(names: list[str], n: int) -> str:
    x, W, b, w, c, s, g, z = names
    return (
        f'title = "generated"\ninputs = ["{x}[{n}]"]\ntargets = ["y"]\n'
        f'parameters = ["{W}[h,{n}]", "{b}[h]", "{w}[h]", "{c}"]\nloss = "L"\n'
        "[dimensions]\nh = 2\n"
        f'[definitions]\n{s} = "{W} @ {x} + {b}"\n{g} = "tanh({s})"\n{z} = "{w} @ {g} + {c}"\n'
        f'L = "({z} - y)^2/2"\n'
    )


def _seen_by_eye(tex: str) -> str:
    """TeX as it looks: spaces, sizing and braces do not show (W_{1 12} and W_{11 2} look alike)."""
    return re.sub(r"\\left|\\right|\\mathit|[\s{}]", "", tex)


def _katex_errors(formulas: list[str]) -> list[str]:
    """KaTeX's error for each formula it cannot typeset, run by Node on the page's own copy of KaTeX."""
    script = (
        f"const katex = require({json.dumps(str(KATEX))});"
        "const formulas = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const errors = [];"
        "for (const f of formulas) { try { katex.renderToString(f, {throwOnError: true}); }"
        " catch (e) { errors.push(f + ': ' + e.message); } }"
        "console.log(JSON.stringify(errors));"
    )
    done = subprocess.run(
        ["node", "-e", script], input=json.dumps(formulas), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    errors: list[str] = json.loads(done.stdout)
    return errors


def _terminal(derivation: symcalc.Derivation, ascii_only: bool) -> str:
    file = io.StringIO()
    out = Console(file=file, width=100, color_system=None, legacy_windows=False)
    maths_printing.set_ascii(ascii_only)
    try:
        for part in render_derivation(derivation, 100, views=EVERYTHING):
            out.print(part)
    finally:
        maths_printing.set_ascii(False)
    return file.getvalue()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs KaTeX here")
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(names=st.lists(NAMES, min_size=8, max_size=8, unique=True), n=st.sampled_from([2, 2, 10]))
def test_generated_names_print_apart_in_every_format(
    names: list[str], n: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("models") / "generated.toml"
    path.write_text(_model(names, n))
    try:
        model = symcalc.load(str(path))
    except SymcalcError as err:  # names that print alike, or entries named alike: refused in one line
        assert "\n" not in str(err)
        assume(False)
    derivation = symcalc.derive(model)
    every = [*model.independents, *(name for name, _ in model.definitions)]

    # Each format names every name and entry its own way: no two print the same.
    with printing(model.shaped):
        forms = {
            "unicode": [pretty(s) for s in every],
            "latex": [_seen_by_eye(latex(s)) for s in every],
            "json": [text(s) for s in every],
        }
        maths_printing.set_ascii(True)
        try:
            forms["ascii"] = [pretty(s) for s in every]
        finally:
            maths_printing.set_ascii(False)
    for kind, shown in forms.items():
        assert len(set(shown)) == len(shown), (kind, sorted(x for x in shown if shown.count(x) > 1))

    # ... and each appears in its document.
    for kind, ascii_only in (("unicode", False), ("ascii", True)):
        document = _terminal(derivation, ascii_only)
        missing = [f for f in forms[kind][: len(model.parameters)] if f not in document]
        assert not missing, (kind, missing)
    tex = render_latex(derivation, views=EVERYTHING)
    markdown = render_markdown(derivation, views=EVERYTHING)
    for document in (tex, markdown):
        assert not DOUBLE_SUBSCRIPT.search(document)

    # KaTeX typesets every formula of the page.
    page = cards_html(derivation, views=EVERYTHING)
    formulas = [html.unescape(f) for f in re.findall(r'class="math(?: display)?">(.*?)</(?:span|div)>', page)]
    assert len(formulas) > 10
    assert _katex_errors(formulas) == []

    # JSON labels each gradient with the entry it is the gradient of.
    data = derivation_dict(derivation)
    assert len(set(data["parameters"])) == len(model.parameters)
    for label, symbol in zip(data["parameters"], model.parameters, strict=True):
        assert derivation.gradient(label) == derivation.gradients[symbol]


@needs_pdflatex
@pytest.mark.slow
@pytest.mark.parametrize(
    "names",
    [
        ["x", "W1", "b1", "w2", "b2", "s1", "h1", "z2"],
        ["x_t", "W_in", "b_in", "w_out", "b_out", "s", "h_hid", "z"],
        ["x0", "theta0", "beta1", "phi_2", "c_1", "alpha1", "g_t", "z_12"],
    ],
    ids=["W1", "W_in", "theta0"],
)
def test_a_handful_of_such_documents_compile(names: list[str], tmp_path: Path) -> None:
    path = tmp_path / "model.toml"
    path.write_text(_model(names, 10))
    tex = render_latex(symcalc.derive(symcalc.load(str(path))), views=EVERYTHING)
    assert not DOUBLE_SUBSCRIPT.search(tex)
    assert compile_pdf(tex).startswith(b"%PDF")
