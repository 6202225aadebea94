"""Convexity in the parameters, proved where the model is a linear predictor with a convex link loss.

The proof this module looks for, and states: the loss is F(z) + P, where z is a definition
that is linear (affine) in every parameter, F reads the parameters only through z, and P
(a penalty, possibly absent) reads no input or target. Then by the chain rule

    d²L/dθ² = F''(z) · ∇z ∇zᵀ + ∇²P,

and the loss is convex when F''(z) ≥ 0 for every z (SymPy proves it sign by sign on its
written-out form: σ(z)(1 − σ(z)) as eᶻ/(1 + eᶻ)², eᶻ, 1) and ∇²P is a constant positive
semidefinite matrix (for the constants ≥ 0 it names). A network's output is not linear in
its weights, and a non-canonical pair (σ with squared error) has an F'' of either sign, so
neither is ever called convex: each condition is checked exactly, nothing is sampled.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import sympy as sp

from symcalc.settings import MAX_SECOND_ORDER_PARAMETERS
from symcalc.symbolic.forms import as_teacher_writes
from symcalc.symbolic.functions import to_elementary
from symcalc.symbolic.graph import Model
from symcalc.symbolic.second import second_derivative, tangents


@dataclass(frozen=True)
class Convexity:
    """What the proof found: the loss, z, F''(z) in the model's names, the penalty P (0 if none), and
    the constants P's Hessian needs to be ≥ 0."""

    loss: sp.Symbol
    node: sp.Symbol
    curvature: sp.Expr
    penalty: sp.Expr
    constants: tuple[sp.Symbol, ...]


def prove_convex(
    model: Model,
    adjoints: Mapping[sp.Symbol, sp.Expr],
    local_derivatives: Mapping[tuple[sp.Symbol, sp.Symbol], sp.Expr],
) -> Convexity | None:
    """The proof that the loss is convex in the parameters, or None when this argument does not apply."""
    parameters = set(model.parameters)
    if not parameters or len(parameters) > MAX_SECOND_ORDER_PARAMETERS:
        return None
    for node in _linear_nodes(model, parameters):
        values = _down_to(model, node)
        found = _split(model, values[model.loss], node, parameters)
        if found is None:
            continue
        outer, penalty = found
        exact = sp.diff(to_elementary(outer), node, 2)
        if not _nonnegative(exact):
            continue
        constants = _penalty_constants(model, penalty)
        if constants is None or node not in adjoints:
            continue
        carried = tangents(model, node, local_derivatives)
        curvature = as_teacher_writes(
            second_derivative(model, adjoints[node], node, carried)[0], model.definition_map
        )
        # The check of what is shown: F''(z) in the model's names is the one proved ≥ 0, both written
        # in z (a = σ(z)), not in the parameters, so that cancelling them stays cheap.
        if sp.cancel(to_elementary(curvature.xreplace(values) - exact)) != 0:
            continue
        return Convexity(model.loss, node, curvature, penalty, constants)
    return None


def _linear_nodes(model: Model, parameters: set[sp.Symbol]) -> Iterator[sp.Symbol]:
    """Definitions whose composed value is affine in the parameters, each reading at least one."""
    for node, _ in model.definitions:
        composed = model.composed[node]
        used = composed.free_symbols & parameters
        if used and all(not (sp.diff(composed, p).free_symbols & parameters) for p in used):
            yield node


def _down_to(model: Model, node: sp.Symbol) -> dict[sp.Symbol, sp.Expr]:
    """Each definition with every earlier one put in, except `node`, which stays itself."""
    values: dict[sp.Symbol, sp.Expr] = {}
    for name, definition in model.definitions:
        values[name] = name if name == node else definition.xreplace(values)
    return values


def _split(
    model: Model, loss: sp.Expr, node: sp.Symbol, parameters: set[sp.Symbol]
) -> tuple[sp.Expr, sp.Expr] | None:
    """(F, P): the loss's terms (every definition but `node` put in) that read data or `node` (F, which
    must read no parameter but through `node`) and the rest (P, which reads no data); None when it
    does not split so."""
    data = set(model.inputs) | set(model.targets)
    outer: list[sp.Expr] = []
    penalty: list[sp.Expr] = []
    for term in sp.Add.make_args(loss):
        (outer if term.free_symbols & (data | {node}) else penalty).append(term)
    if sp.Add(*outer).free_symbols & parameters:
        return None
    return sp.Add(*outer), sp.Add(*penalty)


def _nonnegative(expr: sp.Expr) -> bool:
    """SymPy proves expr ≥ 0 for every real value of its names, after putting it over one denominator."""
    return bool(sp.factor(sp.together(expr)).is_nonnegative)


def _penalty_constants(model: Model, penalty: sp.Expr) -> tuple[sp.Symbol, ...] | None:
    """The constants that P's Hessian needs to be ≥ 0 for it to be positive semidefinite (() for none);
    None when its Hessian is not a constant positive semidefinite matrix for constants ≥ 0."""
    if penalty == 0:
        return ()
    parameters = list(model.parameters)
    hessian = sp.hessian(penalty, parameters)
    if hessian.free_symbols & set(parameters):
        return None
    constants = sorted(hessian.free_symbols, key=sp.default_sort_key)
    nonnegative = {c: sp.Symbol(c.name, nonnegative=True) for c in constants}
    if not hessian.xreplace(nonnegative).is_positive_semidefinite:
        return None
    return tuple(constants)
