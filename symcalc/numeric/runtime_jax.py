"""The JAX module's own runtime: its arrays, softmax and log-sum-exp, and the loss whose derivative is
symcalc's gradient. Copied verbatim into each module `codegen --target jax` writes (from `_array`
on), with `runtime_frameworks`' functions; symcalc never imports this file but to test it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special

# what each generated module copies from `runtime_frameworks`
from symcalc.numeric.runtime_frameworks import loss, loss_and_gradient

# -- copied into every JAX module from here on --


def _array(value: Any) -> Any:
    """A number or (nested) list or array as a JAX array (float64 under jax_enable_x64)."""
    return jnp.asarray(value)


def _stack(shape: tuple[int, ...], *entries: Any) -> Any:
    """Numbers in `shape`, row by row: a gradient of a module whose formulas are its parameter's entries."""
    return jnp.reshape(jnp.stack([jnp.asarray(e) for e in entries]), shape)


def _softmax(z: Any) -> Any:
    """exp(z) / sum(exp(z)) along the last axis, shifted by the largest entry."""
    return jax.nn.softmax(z, axis=-1)


def _logsumexp(z: Any) -> Any:
    """log(sum(exp(z))) along the last axis, without overflow."""
    return jax.scipy.special.logsumexp(z, axis=-1)


def _elementwise(function: Callable[..., Any], otypes: Any = None) -> Callable[..., Any]:
    """`function` itself: JAX's own functions already act entry by entry."""
    return function


def loss_with_derived_gradient(data: Mapping[str, Any], constants: Mapping[str, float] | None = None) -> Any:
    """loss(params, data) as a function of the parameters alone, whose derivative (jax.grad, jax.vjp)
    is symcalc's derived gradient rather than JAX's own differentiation of the loss."""

    @jax.custom_vjp
    def mean_loss(params: Mapping[str, Any]) -> Any:
        return loss(params, data, constants)

    def forward(params: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        return loss_and_gradient(params, data, constants)

    def backward(grads: dict[str, Any], cotangent: Any) -> tuple[dict[str, Any]]:
        return ({name: cotangent * grads[name] for name in grads},)

    mean_loss.defvjp(forward, backward)
    return mean_loss
