"""Sums are written as a teacher writes them (issue 16): z − y, not −y + z, in every renderer; the
terms are only reordered, never changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp
from sympy.printing.str import StrPrinter

import symcalc
from symcalc.render.latex import SymcalcLatexPrinter
from symcalc.render.pretty import inline, pretty
from symcalc.spec.toml import builtin_models
from symcalc.symbolic.notation import Adjoint
from symcalc.symbolic.order import PositiveFirst, positive_first
from tests.conftest import Runner

y, z, a, x1 = sp.symbols("y z a x1")


class _Ordered(PositiveFirst, StrPrinter):
    """SymPy's str printer with the renderers' term order: its text reads back with sympify."""


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (z - y, "z - y"),
        (x1 * (z - y), "x1*(z - y)"),
        (-y - z, "-y - z"),  # no positive term to lead with: as SymPy writes it
        (1 - y, "1 - y"),
        (-y + z**2 - 2 * a, "z**2 - 2*a - y"),
    ],
)
def test_a_positive_term_leads_the_sum(expr: sp.Expr, text: str) -> None:
    assert _Ordered().doprint(expr) == text
    assert positive_first(list(sp.Add.make_args(-y + z))) == [z, -y]


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_models())
def test_every_result_of_every_shipped_model_reads_back_unchanged(name: str) -> None:
    derivation = symcalc.derive(symcalc.load(name))
    symbols = dict(derivation.model.symbols)
    results = [eq.result for step in derivation.steps for eq in step.equations]
    for result in results:
        text = _Ordered().doprint(result)
        if isinstance(result, sp.Add) and not all(t.could_extract_minus_sign() for t in result.args):
            assert not text.startswith("-"), text
        # a result that names an upstream dL/dc (layer norm's dL/dmu) reads back as a claim instead:
        # tests/render/test_printed_claims.py
        if not result.atoms(sp.Function) and not result.atoms(sp.Indexed) and not result.atoms(Adjoint):
            # SymPy's parser distributes a number over a sum, 2*(eps + var) -> 2*eps + 2*var: equal, not same
            assert sp.simplify(sp.sympify(text, locals=symbols) - result) == 0, text


def test_ridge_regression_reads_z_minus_y_in_the_terminal_latex_and_markdown(run: Runner) -> None:
    for command in ("derive", "latex", "markdown"):
        code, out, _ = run([command, "ridge_regression_vector"])
        assert code == 0
        assert "-y + z" not in out and "- y + z" not in out, command
    assert inline(z - y) == "z - y" and pretty(x1 * (z - y)) == "x₁⋅(z - y)"
    assert SymcalcLatexPrinter().doprint(z - y) == "z - y"


# Where the printed form differs from the file's text: a number divided in the middle of a product is
# written at its end (lamda/2*(…) as lamda*(…)/2), the same product in the same order otherwise.
_MOVED_DIVISOR = {("logistic_regression_l2", "J")}


@pytest.mark.parametrize("name", builtin_models())
def test_a_definition_as_written_keeps_the_files_order(name: str) -> None:
    """The oracle is the file's own text: printed in the given order, the form reads as written."""
    model = symcalc.load(name)
    texts = dict(model.spec.definitions) if model.spec else {}
    assert set(model.written) <= set(model.definition_map)
    if model.shaped is None:
        assert len(model.written) == len(model.definitions)  # every definition of a model of scalars
    for symbol, form in model.written.items():
        assert sp.expand(form - model.definition_map[symbol]) == 0
        shown = StrPrinter({"order": "none"}).doprint(form).replace(" ", "")
        if (name, symbol.name) not in _MOVED_DIVISOR:
            assert shown == texts[symbol.name].replace(" ", "").replace("^", "**")


YHAT = """
title = "yhat"
inputs = ["x"]
targets = ["y"]
parameters = ["w"]
[definitions]
yhat = "w*x"
L = "(yhat - y)^2/2"
"""


def test_json_the_api_and_codegen_write_a_sum_as_the_terminal_does(run: Runner, tmp_path: Path) -> None:
    """SymPy sorts y before yhat (-y + yhat); the terminal writes ŷ - y, and so does every text form."""
    path = tmp_path / "yhat.toml"
    path.write_text(YHAT, encoding="utf-8")
    code, out, _ = run(["derive", str(path)])
    assert code == 0 and "x⋅(y\u0302 - y)" in out  # y and a combining circumflex
    code, out, _ = run(["derive", str(path), "--json"])
    document = json.loads(out)
    assert code == 0 and document["gradients"]["w"] == "x*(yhat - y)"
    assert next(e["result"] for s in document["steps"] for e in s["equations"]) == "yhat - y"
    derivation = symcalc.derive(symcalc.load(str(path)))
    assert repr(derivation) == "<Derivation 'yhat': 3 steps; dL/dw = x*(yhat - y)>"
    for target in ("numpy", "torch", "jax"):
        code, out, _ = run(["codegen", str(path), "--target", target])
        assert code == 0 and "dL_dyhat = yhat - y\n" in out and "(yhat - y) ** 2" in out
        assert "-y + yhat" not in out
