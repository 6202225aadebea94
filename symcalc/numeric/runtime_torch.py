"""The PyTorch module's own runtime: its tensors, NumPy's functions torch spells otherwise, and the
loss whose backward is symcalc's gradient. Copied verbatim into each module `codegen --target
torch` writes (from `_array` on), with `runtime_frameworks`' functions; symcalc never imports this
file but to test it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

# what each generated module defines for itself, or copies from `runtime_frameworks`
from symcalc.numeric.runtime import PARAMETERS
from symcalc.numeric.runtime_frameworks import loss_and_gradient

# -- copied into every PyTorch module from here on --


def _array(value: Any) -> torch.Tensor:
    """A number or (nested) list, array or tensor as a float64 tensor."""
    return torch.as_tensor(value, dtype=torch.float64)


def _stack(shape: tuple[int, ...], *entries: Any) -> torch.Tensor:
    """Numbers in `shape`, row by row: a gradient of a module whose formulas are its parameter's entries."""
    return torch.stack([_array(e) for e in entries]).reshape(shape)


def _maximum(a: Any, b: Any) -> torch.Tensor:
    """The larger of a and b entry by entry; a number beside a tensor is made a tensor too."""
    return torch.maximum(_array(a), _array(b))


def _minimum(a: Any, b: Any) -> torch.Tensor:
    return torch.minimum(_array(a), _array(b))


def _ones(size: int) -> torch.Tensor:
    """The vector of `size` ones in float64 (torch.ones would give float32)."""
    return torch.ones(size, dtype=torch.float64)


def _heaviside(u: Any, at_zero: Any) -> torch.Tensor:
    """NumPy's heaviside in a form autograd differentiates (to 0): 1 above 0, `at_zero` at 0, 0 below,
    NaN stays NaN (torch.heaviside has no derivative)."""
    u = _array(u)
    ones = torch.ones_like(u)
    below = torch.where(u < 0, 0 * ones, u)  # NaN where u is NaN
    return torch.where(u > 0, ones, torch.where(u == 0, _array(at_zero) * ones, below))


def _logaddexp(a: Any, b: Any) -> torch.Tensor:
    return torch.logaddexp(_array(a), _array(b))


def _softmax(z: torch.Tensor) -> torch.Tensor:
    """exp(z) / sum(exp(z)) along the last axis, shifted by the largest entry."""
    return torch.softmax(z, dim=-1)


def _logsumexp(z: torch.Tensor) -> torch.Tensor:
    """log(sum(exp(z))) along the last axis, without overflow."""
    return torch.logsumexp(z, dim=-1)


def _elementwise(function: Callable[..., Any], otypes: Any = None) -> Callable[..., Any]:
    """`function` itself: torch's own functions already act entry by entry."""
    return function


class DerivedLoss(torch.autograd.Function):
    """The mean loss whose backward is symcalc's derived gradient, not autograd's own."""

    @staticmethod
    def forward(
        ctx: Any, data: Mapping[str, Any], constants: Mapping[str, float] | None, *values: Any
    ) -> Any:
        value, grads = loss_and_gradient(dict(zip(PARAMETERS, values, strict=True)), data, constants)
        ctx.save_for_backward(*(grads[name] for name in PARAMETERS))
        return value

    @staticmethod
    def backward(ctx: Any, cotangent: Any) -> tuple[Any, ...]:
        return (None, None, *(cotangent * g for g in ctx.saved_tensors))


def loss_with_derived_gradient(
    params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
) -> Any:
    """The mean loss as a tensor whose .backward() puts symcalc's derived gradient into each
    parameter's .grad: the loss of an ordinary torch.optim training loop."""
    return DerivedLoss.apply(  # type: ignore[no-untyped-call]
        data, constants, *(params[name] for name in PARAMETERS)
    )
