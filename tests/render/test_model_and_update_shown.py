"""Issue 16: the file's definitions as written, the update `train` applies (the batch mean) beside the
per-sample one, and --compact, which lists each note once."""

from __future__ import annotations

import pytest
import sympy as sp

import symcalc
from symcalc.symbolic.notation import AtSample, SampleMean
from tests.conftest import Runner


def test_the_model_shows_each_definition_in_the_files_order(run: Runner) -> None:
    for command, expected in (
        ("derive", "z = w₁⋅x₁ + w₂⋅x₂ + b"),
        ("latex", "z &= w_{1} x_{1} + w_{2} x_{2} + b"),
        ("markdown", "z &= w_{1} x_{1} + w_{2} x_{2} + b"),
    ):
        code, out, _ = run([command])
        assert code == 0 and expected in out, command
    code, out, _ = run(["derive"])
    assert "L = -(y⋅log(a) + (1 - y)⋅log(1 - a))" in out  # the file's form, its minus outside


def _unsampled(expr: sp.Expr) -> sp.Expr:
    return expr.replace(lambda e: isinstance(e, AtSample), lambda e: e.args[0])


@pytest.mark.parametrize("name", ["logistic_regression", "logistic_regression_l2", "two_layer_network"])
def test_the_batch_update_is_the_mean_of_the_per_sample_gradient(name: str) -> None:
    """The rule's parts, read back: w − α⋅(mean of the terms that vary by sample + the rest) is the
    per-sample rule with its varying part averaged; the rest (a penalty's λ⋅w) stays outside."""
    derivation = symcalc.derive(symcalc.load(name))
    per_sample = set(derivation.per_sample)
    for update in derivation.updates:
        rule = update.mean_rule(derivation.per_sample)
        parameter, *steps = rule.args
        assert parameter == update.parameter
        [mean] = [m for step in steps for m in step.atoms(SampleMean)]
        inside = _unsampled(mean.args[0])
        outside = sp.Add(*(t for t in sp.Add.make_args(update.gradient) if not t.free_symbols & per_sample))
        assert sp.expand(inside + outside - update.gradient) == 0
        assert not outside.free_symbols & per_sample
        # every per-sample name inside the mean carries the sample mark, and nothing else does
        marked = {a.args[0] for a in mean.args[0].atoms(AtSample)}
        assert marked == inside.free_symbols & per_sample
        total_step = sp.Add(*(step.xreplace({mean: inside}) for step in steps))
        assert sp.expand(total_step + update.learning_rate * update.gradient) == 0


def test_derive_and_the_documents_show_the_batch_mean_update(run: Runner) -> None:
    code, out, _ = run(["derive"])
    assert code == 0 and "w₁ := w₁ - α⋅(1/m)⋅Σₖ (a⁽ᵏ⁾ - y⁽ᵏ⁾)⋅x₁⁽ᵏ⁾" in out
    code, out, _ = run(["latex"])
    assert r"w_{1} &:= w_{1} - \alpha \frac{1}{m} \sum_{k=1}^{m}" in out
    code, out, _ = run(["derive", "logistic_regression_l2"])
    assert "w₁ := w₁ - α⋅λ⋅w₁ - α⋅(1/m)⋅Σₖ (a⁽ᵏ⁾ - y⁽ᵏ⁾)⋅x₁⁽ᵏ⁾" in out


@pytest.mark.slow
def test_compact_lists_each_note_once(run: Runner) -> None:
    note = "weight from x1 to hidden unit 1"
    code, full, _ = run(["derive", "two_layer_network"])
    code_c, compact, _ = run(["derive", "two_layer_network", "--compact"])
    assert code == code_c == 0
    assert full.count(note) > 1 and compact.count(note) == 1
    assert len(compact.splitlines()) < len(full.splitlines())
    for command in ("latex", "markdown", "html"):
        code, full, _ = run([command, "two_layer_network"])
        code_c, compact, _ = run([command, "two_layer_network", "--compact"])
        assert code == code_c == 0
        assert full.count(note) > 1 and compact.count(note) == 1, command
        assert "Calculation steps overview" in full and "Calculation steps overview" not in compact
