"""The runtime of the JAX and PyTorch modules `symcalc codegen` writes, beyond `runtime`'s shared part.

Each framework module copies, verbatim (`symcalc.numeric.runtime_text`): its framework's own
definitions (`runtime_jax` or `runtime_torch`: `_array`, `_softmax`, `_logsumexp`, and
`loss_with_derived_gradient`), `runtime`'s definitions from `_arguments` to `standardize` with
its `predict` and `step`, and the functions below. These are the NumPy module's functions of the
same names, on the framework's arrays: no `float()` (a 0-d array, which the framework can
differentiate), no errstate, one pass over the whole batch (the framework fuses or spreads it on
its own).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

# what each generated module defines for itself, or copies from `runtime`
from symcalc.numeric.runtime import (
    INPUTS,
    PARAMETERS,
    TARGETS,
    _arguments,
    _gradient,
    _loss,
    _loss_and_gradient,
)

# -- copied into every JAX and PyTorch module from here on --


def loss(
    params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
) -> Any:
    """The mean loss over the samples, a 0-d array: the forward pass only; the framework can
    differentiate it itself."""
    return _loss(*_arguments(params, data, constants, INPUTS + TARGETS))[0]


def gradient(
    params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The mean gradient of the loss by each parameter, as symcalc derived it; no loss is computed."""
    grads = _gradient(*_arguments(params, data, constants, INPUTS + TARGETS))
    return dict(zip(PARAMETERS, grads, strict=True))


def loss_and_gradient(
    params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
) -> tuple[Any, dict[str, Any]]:
    """The mean loss and each mean gradient, from one pass forward and one backward."""
    value, *grads = _loss_and_gradient(*_arguments(params, data, constants, INPUTS + TARGETS))
    return value, dict(zip(PARAMETERS, grads, strict=True))


def _quiet() -> Any:
    """No warnings to hold back: `predict`, copied from the NumPy module's runtime, runs in this."""
    return contextlib.nullcontext()
