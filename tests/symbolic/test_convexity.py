"""The insight "L is convex in the parameters": claimed only with its proof, and never wrongly.

Each claim is checked against an independent oracle: the Hessian of the mean loss over random
samples, by SymPy's diff twice of the composed loss, has no negative eigenvalue at random
parameters; each refusal of a model that is not convex is backed by a point where it has one.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.render.wording import insight_text
from symcalc.symbolic.functions import to_elementary
from tests.conftest import DERIVATIONS, WriteToml
from tests.oracle import sample_point

CONVEX = [
    "linear_regression",
    "logistic_regression",
    "logistic_regression_4",
    "logistic_regression_l2",
    "logistic_regression_vector",
    "poisson_regression",
    "ridge_regression_vector",
]
NOT_CONVEX = ["tanh_unit", "two_layer_network", "two_layer_network_vector", "tied_weights"]


def _convexity(derivation: symcalc.Derivation) -> list[str]:
    return [insight_text(i) for i in derivation.insights if i.kind == "convex"]


def _smallest_eigenvalues(model: symcalc.Model, seeds: int, samples: int = 6) -> list[float]:
    """For each seed, the smallest eigenvalue of the mean Hessian over `samples` random samples, at
    random parameters and the file's constants (SymPy's diff twice of the composed loss, in float64)."""
    loss = to_elementary(model.composed[model.loss])
    parameters = list(model.parameters)
    hessian = sp.lambdify(list(model.independents), sp.hessian(loss, parameters), "numpy", cse=True)
    data = set(model.inputs) | set(model.targets)
    smallest = []
    for seed in range(seeds):
        rng = random.Random(seed)
        fixed = sample_point(model, rng) | model.constant_values()  # the claim is for λ ≥ 0: the defaults
        total = np.zeros((len(parameters), len(parameters)))
        for _ in range(samples):
            point = {**fixed, **{s: v for s, v in sample_point(model, rng).items() if s in data}}
            total += np.array(hessian(*(point[s] for s in model.independents)), dtype=float)
        smallest.append(float(np.linalg.eigvalsh(total / samples).min()))
    return smallest


@pytest.mark.parametrize("name", CONVEX)
def test_convexity_is_claimed_with_its_proof_and_holds(name: str) -> None:
    model = symcalc.Model.load(DERIVATIONS / f"{name}.toml")
    (text,) = _convexity(symcalc.derive(model))
    assert text.startswith(f"{model.loss.name} is convex in the parameters. Proof: z is linear in them")
    assert min(_smallest_eigenvalues(model, 4)) > -1e-9


@pytest.mark.slow
@pytest.mark.parametrize("name", NOT_CONVEX)
def test_convexity_is_never_claimed_for_a_model_that_is_not_convex(name: str) -> None:
    model = symcalc.Model.load(DERIVATIONS / f"{name}.toml")
    assert _convexity(symcalc.derive(model)) == []
    assert min(_smallest_eigenvalues(model, 40)) < 0  # the refusal is right


def test_the_proof_names_the_curvature_the_penalty_and_its_condition() -> None:
    (text,) = _convexity(symcalc.derive(symcalc.load("logistic_regression_l2")))
    assert "a*(1 - a) times grad(z)*grad(z)^T" in text
    assert "the penalty lamda*(w1**2 + w2**2)/2" in text and "for lamda ≥ 0" in text
    (text,) = _convexity(symcalc.derive(symcalc.load("linear_regression")))
    assert text.endswith("so its Hessian is grad(z)*grad(z)^T.")


@pytest.mark.parametrize(
    ("loss", "penalty"),
    [
        ("(a - y)^2", ""),  # σ with squared error: not a canonical pair, F'' changes sign
        ("-(y*log(a) + (1 - y)*log(1 - a))", " - lamda*w1^2"),  # a concave penalty
        ("-(y*log(a) + (1 - y)*log(1 - a))", " + lamda*w1^2*w2^2"),  # a penalty whose Hessian varies
    ],
)
def test_variations_that_are_not_provably_convex_are_not_claimed(
    write_toml: WriteToml, loss: str, penalty: str
) -> None:
    text = (
        'inputs = ["x1", "x2"]\ntargets = ["y"]\nparameters = ["w1", "w2", "b"]\n'
        '[constants]\nlamda = 0.5\n[domains]\ny = "{0, 1}"\n'
        f'[definitions]\nz = "w1*x1 + w2*x2 + b"\na = "sigmoid(z)"\nL = "{loss}{penalty}"\n'
    )
    assert _convexity(symcalc.derive(symcalc.load(str(write_toml(text))))) == []


def test_convexity_in_the_console_latex_and_markdown(run: object) -> None:
    from tests.conftest import Runner

    runner: Runner = run  # type: ignore[assignment]
    code, out, _ = runner(["derive", "logistic_regression"])
    assert code == 0 and "convex in the parameters" in out and "∇z ∇zᵀ" in out
    code, out, _ = runner(["latex", "logistic_regression"])
    assert code == 0 and r"$\nabla z \, \nabla z^{\top}$" in out
