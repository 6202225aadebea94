"""Property: random models from a grammar derive right, round-trip, verify in bounded time, catch mutants.

Each model is a TOML text built from the grammar below (so it goes through the whole
pipeline: safe parser, model, engine, verifier): a linear form, one to three layers of
functions of the table (numeric and symbolic exponents, a parameter used twice, a
definition used twice), and one of the usual losses, with the target's domain stated
where the loss needs it. For every model:

- every derived gradient equals SymPy's `diff` of the composed loss (mpmath, 40 digits);
- every gradient, printed as derive prints it, holds when pasted back as a claim;
- `verify` reaches a verdict for every check (nothing undecided) inside its time limit;
- a mutated gradient (sign, factor, a dropped term, a term off by 1e-9) is refuted.

Fixed seed (`derandomize=True`) and a bounded number of examples, so CI is repeatable.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc
from symcalc.check.checks import check_claim
from symcalc.cli.work import verify_file
from symcalc.isolate import run_limited
from symcalc.symbolic.functions import text
from tests.oracle import agree_numerically, composed_gradient

# Functions of one argument, written as a student would; `{}` is the argument.
LAYERS = (
    "sigmoid({})",
    "tanh({})",
    "softplus({})",
    "relu({})",
    "abs({})",
    "sin({})",
    "exp(-({})^2)",
    "sqrt(1 + ({})^2)",
    "log(1 + ({})^2)",
    "({})^2",
    "({})^3",
    "(1 + ({})^2)^c",  # a constant exponent
    "softplus({})^w2",  # a parameter exponent: w2 reaches the loss along two paths
)
# How a layer combines what came before: fan-out (h1 used twice) and a shared parameter (w1).
COMBINE_2 = ("w1*h1 + b", "h1 + z", "h1*z", "w2*h1 - x1")
COMBINE_3 = ("h2 + h1", "h1*h2", "w1*h2 + h1")
# (loss, domain of y or None)
LOSSES = (
    ("({} - y)^2", None),
    ("log(cosh({} - y))", None),
    ("-(y*log(sigmoid({0})) + (1 - y)*log(1 - sigmoid({0})))", "{0, 1}"),
    ("abs({} - y)", None),
    ("max(0, 1 - y*{})^2", "{-1, 1}"),
    ("softplus(-y*{})", "{-1, 1}"),
)

VERIFY_TIMEOUT = 60.0  # seconds: the CLI's default limit on symbolic work

EXAMPLES = settings(
    derandomize=True,
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Generated:
    text: str

    def __repr__(self) -> str:  # hypothesis prints the failing example: show the file
        return "\n" + self.text


@st.composite
def models(draw: st.DrawFn) -> Generated:
    definitions = {"z": "w1*x1 + w2*x2 + b", "h1": draw(st.sampled_from(LAYERS)).format("z")}
    depth = draw(st.integers(1, 3))
    if depth >= 2:
        definitions["h2"] = draw(st.sampled_from(LAYERS)).format(draw(st.sampled_from(COMBINE_2)))
    if depth >= 3:
        definitions["h3"] = draw(st.sampled_from(LAYERS)).format(draw(st.sampled_from(COMBINE_3)))
    last = list(definitions)[-1]
    loss, domain = draw(st.sampled_from(LOSSES))
    definitions["L"] = loss.format(last)
    lines = [
        'title = "generated"',
        'inputs = ["x1", "x2"]',
        'targets = ["y"]',
        'parameters = ["w1", "w2", "b"]',
        "[constants]",
        "c = 1.5",
        "[definitions]",
        *(f'{name} = "{text}"' for name, text in definitions.items()),
    ]
    if domain is not None:
        lines += ["[domains]", f'y = "{domain}"']
    return Generated("\n".join(lines) + "\n")


def _load(generated: Generated, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, symcalc.Model]:
    path = tmp_path_factory.mktemp("generated") / "model.toml"
    path.write_text(generated.text, encoding="utf-8")
    return str(path), symcalc.load(str(path))


@pytest.mark.slow
@EXAMPLES
@given(generated=models())
def test_every_gradient_equals_sympy_diff_and_round_trips(
    generated: Generated, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, model = _load(generated, tmp_path_factory)
    derivation = symcalc.derive(model)
    for parameter, gradient in derivation.gradients.items():
        assert agree_numerically(model, gradient, composed_gradient(model, parameter))
        printed = text(gradient)  # as `derive --json` prints it
        check = check_claim(model, f"d{model.loss.name}/d{parameter.name}", printed)
        assert check.holds, (parameter, printed, check.detail)


@pytest.mark.slow
@EXAMPLES
@given(generated=models())
def test_verify_decides_every_check_in_time(
    generated: Generated, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path, _ = _load(generated, tmp_path_factory)
    _, checks = run_limited(verify_file, path, False, 20, 0, timeout=VERIFY_TIMEOUT)
    undecided = [c.name for c in checks if c.status == "undecided"]
    failed = [(c.name, c.detail) for c in checks if c.status == "fails"]
    assert not undecided and not failed, (undecided, failed)


def _mutants(gradient: sp.Expr) -> list[tuple[str, sp.Expr]]:
    """Plausible slips: a sign, a factor of 2, a dropped term, one term off by 1e-9 relative."""
    terms = sp.Add.make_args(sp.expand(gradient, deep=False, mul=True, power_exp=False, log=False))
    mutants = [("sign", -gradient), ("factor", 2 * gradient)]
    if len(terms) > 1:
        mutants.append(("dropped term", sp.Add(*terms[1:])))
    mutants.append(("off by 1e-9", gradient + sp.Float("1e-9", 30) * terms[0]))
    return mutants


@pytest.mark.slow
@EXAMPLES
@given(generated=models())
def test_a_mutated_gradient_is_refuted(
    generated: Generated, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, model = _load(generated, tmp_path_factory)
    derivation = symcalc.derive(model)
    for parameter, gradient in derivation.gradients.items():
        if gradient == 0:
            continue
        for slip, mutant in _mutants(gradient):
            check = check_claim(model, f"d{model.loss.name}/d{parameter.name}", text(mutant))
            assert check.status == "fails", (parameter, slip, text(mutant), check.status, check.detail)
