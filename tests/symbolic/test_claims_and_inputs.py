"""Local (∂) and total (d) claims, the relu′ notation in every output, and small input fixes (issue 12).

Claims are checked against SymPy's diff (through `symcalc.check.checks`); the expected
right-hand sides are derived by hand in the comments.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.check.checks import check_claim
from symcalc.errors import SymcalcError
from symcalc.render.latex import render_latex
from symcalc.render.pdf import compile_pdf
from symcalc.render.pretty import pretty
from symcalc.symbolic.functions import heaviside_as_step, step, text
from symcalc.symbolic.parse import parse_expression
from tests.conftest import DERIVATIONS, Runner, WriteToml
from tests.pdf import needs_pdflatex, pdf_text

TIED = DERIVATIONS / "tied_weights.toml"
# z = w*h + w*x2 + b with h = tanh(w*x1): holding h fixed, ∂z/∂w = h + x2; through the
# graph h moves with w too, so dz/dw = h + x2 + w*(1 - h^2)*x1.
LOCAL, TOTAL = "h + x2", "h + x2 + w*(1 - h^2)*x1"

RELU = (
    'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n[definitions]\ns = "w*x"\nL = "(relu(s) - y)^2"\n'
)


@pytest.mark.parametrize("lhs", ["∂z/∂w", "partial z/partial w", " ∂ z / ∂ w ", "partial  z / partial w"])
def test_a_local_claim_is_the_partial_of_one_definition(lhs: str) -> None:
    model = symcalc.load(str(TIED))
    assert check_claim(model, lhs, LOCAL).status == "holds"
    assert check_claim(model, lhs, TOTAL).status == "fails"


def test_a_total_claim_keeps_its_meaning() -> None:
    model = symcalc.load(str(TIED))
    assert check_claim(model, "dz/dw", TOTAL).status == "holds"
    assert check_claim(model, "dz/dw", LOCAL).status == "fails"


def test_local_claims_in_a_file(write_toml: WriteToml) -> None:
    body = TIED.read_text(encoding="utf-8").split("[claims]")[0]
    path = write_toml(body + f'[claims]\n"partial z/partial w" = "{LOCAL}"\n"∂a/∂z" = "a*(1 - a)"\n')
    model = symcalc.load(str(path))
    assert [(c.name, c.local) for c in model.claims] == [("∂z/∂w", True), ("∂a/∂z", True)]
    checks = [c for c in symcalc.verify(symcalc.derive(model)) if c.kind == "claim"]
    assert [c.status for c in checks] == ["holds", "holds"]


@pytest.mark.parametrize(
    ("lhs", "problem"),
    [
        ("∂w/∂x1", "'w' is not a definition, so it has no local partial derivative"),
        ("partialz/partialw", "is not of the form 'dA/dB' (total), '∂A/∂B'"),
        ("∂z/dw", "is not of the form"),
    ],
)
def test_a_malformed_local_claim_is_bad_input(lhs: str, problem: str) -> None:
    model = symcalc.load(str(TIED))
    with pytest.raises(SymcalcError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        check_claim(model, lhs, "1")


def test_json_says_which_derivative_each_equation_is(run: Runner) -> None:
    code, out, _ = run(["derive", str(TIED), "--json"])
    assert code == 0
    equations = [eq for step in json.loads(out)["steps"] for eq in step["equations"]]
    for eq in equations:
        mark = "∂" if eq["derivative"] == "local" else "d"
        assert eq["lhs"].startswith(mark) and eq["lhs"].count(mark) == 2
    assert {eq["derivative"] for eq in equations} == {"local", "total"}
    assert any(eq["chain"] and "dL/d" in eq["chain"] and "∂" in eq["chain"] for eq in equations)


def test_text_parses_back_to_the_same_expression() -> None:
    names = {n: sp.Symbol(n, real=True) for n in ("a", "b")}
    a, b = names.values()
    for expr in (
        sp.Abs(a) + sp.Max(a, b) * sp.Min(a, b, 1) + sp.sign(b) + symcalc.relu(a),
        step(a - b) * sp.E**a + sp.E * b,
        sp.diff(sp.Max(a, 0) + sp.Abs(b) ** 3, a) + sp.diff(sp.Abs(b) ** 3, b),
    ):
        shown = text(heaviside_as_step(expr))
        assert not any(word in shown for word in ("Abs", "Max", "Min", "Heaviside", "E*"))
        assert parse_expression(shown, names) == heaviside_as_step(expr)


def test_relu_derivative_prints_as_an_indicator(write_toml: WriteToml, run: Runner, tmp_path: Path) -> None:
    path = write_toml(RELU)
    derivation = symcalc.derive(symcalc.load(str(path)))
    code, out, _ = run(["derive", str(path)])
    assert code == 0 and "𝟙[s > 0]" in out and "θ" not in out
    assert "𝟙[s > 0]" in pretty(derivation.gradients[derivation.model.symbols["w"]])
    document = render_latex(derivation)
    assert r"\mathbb{1}\left[s > 0\right]" in document and r"\usepackage{amssymb}" in document
    code, out, _ = run(["markdown", str(path)])
    assert code == 0 and r"\mathbb{1}\left[s > 0\right]" in out


@needs_pdflatex
def test_the_indicator_compiles_as_a_double_struck_one(write_toml: WriteToml) -> None:
    derivation = symcalc.derive(symcalc.load(str(write_toml(RELU))))
    shown = pdf_text(compile_pdf(render_latex(derivation)))
    # amsfonts' own \mathbb{1} is the glyph ⊮; ours is two overlapping 1s
    assert "⊮" not in shown and "11[s > 0]" in shown.replace(" [", "[")


# -- small input fixes --------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["-(y - a)", "-y + a", "-1*(y - a)"])
def test_check_accepts_an_expression_that_starts_with_a_minus(run: Runner, expression: str) -> None:
    code, out, err = run(["check", "logistic_regression", "dL/dz", expression, "--json"])
    assert (code, err) == (0, "")
    assert json.loads(out)["passed"] is True


def test_a_wrong_dashed_expression_fails_and_options_still_work(run: Runner) -> None:
    code, out, err = run(["check", "--points", "3", "logistic_regression", "dL/dz", "-2*y*a", "--json"])
    assert (code, err) == (1, "")
    assert json.loads(out)["files"][0]["checks"][0]["status"] == "fails"
    with pytest.raises(SystemExit) as help_exit:
        run(["check", "-h"])
    assert help_exit.value.code == 0


def test_a_toml_file_with_a_byte_order_mark_reads(run: Runner, tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + RELU.encode())
    code, _, err = run(["derive", str(path), "--json"])
    assert (code, err) == (0, "")


@pytest.mark.parametrize("value", ["nan", "inf", '"big"'])
def test_a_refused_constant_is_one_error(write_toml: WriteToml, run: Runner, value: str) -> None:
    path = write_toml(
        f'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n[constants]\nlam = {value}\n'
        '[definitions]\nz = "w*x"\nL = "(z - y)^2 + lam*w^2"\n'
    )
    code, _, err = run(["derive", str(path)])
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert "constants.lam" in lines[0] and "unknown name" not in lines[0]


def test_model_build_refuses_what_the_vector_syntax_has_no_word_for() -> None:
    """Matrix symbols are taken (tests/symbolic/test_vectors.py); one entry of a vector is not a name."""
    X = sp.MatrixSymbol("X", 2, 1)
    b, w, z = sp.symbols("b w z", real=True)
    with pytest.raises(SymcalcError, match=r"definitions: X\[0, 0\] is one entry of a vector or matrix"):
        symcalc.Model.build({z: w * X[0, 0] + b}, parameters=[w, b])
    n = sp.Symbol("n", integer=True, positive=True)
    with pytest.raises(SymcalcError, match=r"sizes: dimension 'n' has no size"):
        symcalc.Model.build(
            {z: (sp.MatrixSymbol("v", n, 1).T * sp.MatrixSymbol("u", n, 1))[0, 0]}, parameters=[w]
        )
