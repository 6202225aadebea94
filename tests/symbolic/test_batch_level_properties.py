"""Random batch-level models (a loss over a whole batch X[m,n]) from a grammar: each derives and
verifies in every form, and a mutated result or the classic uncoupled dL/dX is refuted.

The grammar: how the batch is normalised over its samples (centred on the batch's means; also
scaled by its standard deviations, as batch normalisation does; not at all), an elementwise
activation, a learned scale (and shift) per feature, and a loss over the batch (squared error
against T[m,n], or a logistic loss). `verify` holds every step, gradient, vector result and claim
against SymPy's diff of the batch written out, and central differences. Fixed seed
(`derandomize=True`) and bounded examples, so CI is repeatable.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc

#: How the batch X becomes Xhat: each normalisation's definitions, over the batch's m samples.
NORMALISED = {
    "none": ['Xhat = "X"'],
    "centred": ['mu = "X.T @ ones(m)/m"', 'Xhat = "X - outer(ones(m), mu)"'],
    "standardised": [
        'mu = "X.T @ ones(m)/m"',
        'D = "X - outer(ones(m), mu)"',
        'var = "(D*D).T @ ones(m)/m"',
        'Xhat = "D/outer(ones(m), sqrt(var + eps))"',
    ],
}
UNCOUPLED = {"centred": "dL/dXhat", "standardised": "dL/dXhat/outer(ones(m), sqrt(var + eps))"}
ACTIVATIONS = ("tanh({})", "sigmoid({})", "{}")
LOSSES = {
    "squared": 'L = "sum((Y - T)^2)/2"',
    "logistic": 'L = "sum(log(1 + exp(Y)) - T*Y)"',
}


@dataclasses.dataclass(frozen=True)
class BatchModel:
    normalised: str
    activation: str
    shift: bool
    loss: str

    def toml(self) -> str:
        parameters = ["gamma[n]", *(["beta[n]"] if self.shift else [])]
        shifted = " + outer(ones(m), beta)" if self.shift else ""
        definitions = [
            *NORMALISED[self.normalised],
            f'H = "{self.activation.format("Xhat")}"',
            f'Y = "H*outer(ones(m), gamma){shifted}"',
            LOSSES[self.loss],
        ]
        constants = "[constants]\neps = 0.00001\n" if self.normalised == "standardised" else ""
        # the uncoupled dL/dX, as if the batch's means and deviations did not depend on X
        claims = f'[claims]\n"dL/dX" = "{UNCOUPLED[self.normalised]}"\n' if self.normalised != "none" else ""
        return (
            'title = "random batch"\ninputs = ["X[m,n]"]\ntargets = ["T[m,n]"]\n'
            f"parameters = {json.dumps(parameters)}\n[dimensions]\nm = 3\nn = 2\n{constants}"
            "[definitions]\n" + "\n".join(definitions) + "\n" + claims
        )


MODELS = st.builds(
    BatchModel,
    st.sampled_from(sorted(NORMALISED)),
    st.sampled_from(ACTIVATIONS),
    st.booleans(),
    st.sampled_from(sorted(LOSSES)),
)


@pytest.mark.slow
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(model=MODELS)
def test_a_random_batch_level_model_verifies_and_a_mutant_is_refuted(
    model: BatchModel, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("batch") / "model.toml"
    path.write_text(model.toml())
    derivation = symcalc.derive(symcalc.load(str(path)))
    assert derivation.vector is not None
    checks = symcalc.verify(derivation, points=4)
    wrong = [c for c in checks if not c.holds]
    if model.normalised != "none":
        # refuted entry by entry: every sample's X moves the batch's means
        assert wrong and all(c.kind == "claim" and c.name.startswith("claim dL/dX") for c in wrong), model
    else:
        assert not wrong, (model, [c.name for c in wrong])
    assert {"vector", "step", "gradient"} <= {c.kind for c in checks}
    gradients = [
        dataclasses.replace(r, result=2 * r.result) if r.name == "dL/dgamma" else r
        for r in derivation.vector.gradients
    ]
    mutant = dataclasses.replace(
        derivation, vector=dataclasses.replace(derivation.vector, gradients=tuple(gradients))
    )
    refuted = {c.kind for c in symcalc.verify(mutant, points=4) if not c.holds} - {"claim"}
    assert refuted == {"vector"}, model
