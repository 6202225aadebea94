"""A vector computed from parameters alone (q = tanh(p), an RNN's learned initial state) is the same in
every sample: the batch form keeps it as it is, with its own shape.

`W @ q` with q made of parameters crashed derive's batch panel, --json and codegen with an internal
error (the batch form's shapes had no entry for q, so outer(Σ dL/dS, q) read q as a scalar), and
verify's batch check counted q among the per-sample names. Oracles: NumPy written here with central
finite differences, and SymPy's diff of the written-out loss through verify's own checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import symcalc
from tests.conftest import Runner, WriteToml
from tests.generated import generated_module

FIXED = """
title = "a vector made of parameters alone"
inputs = ["x[n]"]
targets = ["y"]
parameters = ["W[d,d]", "U[d,n]", "p[d]", "v[d]"]
[dimensions]
n = 2
d = 3
[definitions]
q = "tanh(p)"
s = "W @ q + U @ x"
L = "(v @ tanh(s) - y)^2/2"
"""


def test_derive_shows_the_batch_form_of_a_vector_made_of_parameters(
    run: Runner, write_toml: WriteToml
) -> None:
    path = write_toml(FIXED)
    code, out, err = run(["derive", str(path), "--view", "batch"])
    assert (code, err) == (0, ""), err
    assert "dJ" in out and "dW" in out


def test_the_module_equals_finite_differences_of_numpy_written_here(
    write_toml: WriteToml, tmp_path: Path
) -> None:
    derivation = symcalc.derive(symcalc.load(str(write_toml(FIXED))))
    module = generated_module(derivation, tmp_path)
    rng = np.random.default_rng(4)
    params = {"W": rng.normal(size=(3, 3)), "U": rng.normal(size=(3, 2)), "p": rng.normal(size=3)}
    params["v"] = rng.normal(size=3)
    data = {"x": rng.normal(size=(7, 2)), "y": rng.normal(size=7)}

    def mean_loss(values: dict[str, np.ndarray]) -> float:
        s = np.tanh(values["p"]) @ values["W"].T + data["x"] @ values["U"].T
        return float(np.mean((np.tanh(s) @ values["v"] - data["y"]) ** 2 / 2))

    assert np.isclose(module.loss(params, data), mean_loss(params), rtol=1e-13, atol=0)
    gradient = module.gradient(params, data)
    for name, value in params.items():
        for index in np.ndindex(value.shape):
            up = {k: v.copy() for k, v in params.items()}
            down = {k: v.copy() for k, v in params.items()}
            up[name][index] += 1e-6
            down[name][index] -= 1e-6
            central = (mean_loss(up) - mean_loss(down)) / 2e-6
            assert np.isclose(gradient[name][index], central, rtol=1e-6, atol=1e-9), (name, index)


def test_verify_proves_every_form_of_it(write_toml: WriteToml) -> None:
    """At n = 1, d = 2 (a second); at n = 2, d = 3 the batch check's proofs pass their budget and two
    gradients hold numerically (tests/check/test_proof_budget.py)."""
    small = FIXED.replace("n = 2", "n = 1").replace("d = 3", "d = 2")
    checks = symcalc.verify(symcalc.derive(symcalc.load(str(write_toml(small)))), points=3)
    assert checks and all(c.status == "holds" for c in checks), [c for c in checks if c.status != "holds"]
    assert {"vector", "batch"} <= {c.kind for c in checks}, sorted({c.kind for c in checks})
