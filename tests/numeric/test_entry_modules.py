"""The module of a model whose formulas are its written-out entries (skip-gram: no batch form of its
own) takes whole arrays, and its Hessian blocks are its entries' second derivatives in place.

Its loss and gradient are held to mpmath of SymPy's diff in test_independent_oracle.py; here the
Hessian is held to central differences of that gradient, and the interface to the arrays' shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import symcalc
from symcalc.numeric.codegen import generate, load_module


def _flat(module: Any, values: dict[str, Any]) -> Any:
    return np.concatenate([np.ravel(values[name]) for name in module.PARAMETERS])


def _unflat(module: Any, vector: Any) -> dict[str, Any]:
    params, start = {}, 0
    for name, shape in module.PARAMETERS.items():
        size = int(np.prod(shape))
        params[name] = vector[start : start + size].reshape(shape)
        start += size
    return params


@pytest.mark.slow
def test_skip_grams_module_takes_its_matrices_whole_and_its_hessian_is_the_gradients_derivative() -> None:
    derivation = symcalc.derive(symcalc.load("skipgram_negative_sampling"), hessian=True)
    module = load_module(generate(derivation))
    assert module.PARAMETERS == {"U": (3, 2), "W": (3, 2)}
    rng = np.random.default_rng(0)
    params = {name: rng.normal(size=shape) for name, shape in module.PARAMETERS.items()}
    data = {name: rng.normal(size=(50, *shape)) for name, (_, shape) in module.DATA.items()}
    _, grads, hessian = module.loss_gradient_hessian(params, data)
    assert {name: g.shape for name, g in grads.items()} == module.PARAMETERS
    point, h = _flat(module, params), 1e-6

    def gradient(vector: Any) -> Any:
        return _flat(module, module.gradient(_unflat(module, vector), data))

    steps = np.eye(point.size)
    differences = np.array([(gradient(point + h * e) - gradient(point - h * e)) / (2 * h) for e in steps])
    assert np.abs(hessian - differences).max() < 1e-7 * max(1.0, np.abs(hessian).max())
    assert np.allclose(hessian, hessian.T, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="parameter 'U' must have shape"):
        module.gradient({**params, "U": np.zeros((4, 2))}, data)
