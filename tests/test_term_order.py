"""Sums are written as a teacher writes them (issue 16): z − y, not −y + z, in every renderer; the
terms are only reordered, never changed."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.printing.str import StrPrinter

import symcalc
from symcalc.render.latex import SymcalcLatexPrinter
from symcalc.render.order import PositiveFirst, positive_first
from symcalc.render.pretty import inline, pretty
from symcalc.spec.toml import builtin_models
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
        if not result.atoms(sp.Function) and not result.atoms(sp.Indexed):
            assert sp.sympify(text, locals=symbols) - result == 0


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
