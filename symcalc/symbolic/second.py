"""Second derivatives through the graph, in the model's names: each gradient differentiated once more.

Forward over reverse, as a lecture does it by hand. The engine's gradient dL/dθᵢ is an
expression in the model's names (x₁·(a − y)); differentiating it by θⱼ through the graph
is the sum, over each name s it reads, of ∂(dL/dθᵢ)/∂s · ds/dθⱼ, where ds/dθⱼ is carried
forward through the definitions with the engine's own local derivatives
(da/dw₂ = ∂a/∂z · dz/dw₂ = a(1 − a)·x₂). So d²L/dw₁dw₂ = x₁·a(1 − a)·x₂, never the composed
loss differentiated twice. The Hessian is symmetric; only θᵢ ≤ θⱼ (in parameter order) is
derived.
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from symcalc.errors import SecondOrderUnsupported
from symcalc.settings import MAX_SECOND_ORDER_PARAMETERS
from symcalc.symbolic.forms import as_teacher_writes, reduce_with, tidy
from symcalc.symbolic.graph import Model
from symcalc.symbolic.notation import Total, product, total


def tangents(
    model: Model, wrt: sp.Symbol, local_derivatives: Mapping[tuple[sp.Symbol, sp.Symbol], sp.Expr]
) -> dict[sp.Symbol, sp.Expr]:
    """d(node)/d(wrt) for every definition that depends on `wrt`, in file order, in the model's names."""
    carried: dict[sp.Symbol, sp.Expr] = {wrt: sp.S.One}
    for node, _ in model.definitions:
        terms = [
            local_derivatives[(node, parent)] * carried[parent]
            for parent in model.parents(node)
            if parent in carried and (node, parent) in local_derivatives
        ]
        if terms:
            carried[node] = sp.Add(*terms)
    return carried


def second_derivative(
    model: Model, gradient: sp.Expr, second: sp.Symbol, carried: Mapping[sp.Symbol, sp.Expr]
) -> tuple[sp.Expr, sp.Expr | None, sp.Expr | None]:
    """d/d(second) of a gradient through the graph: (result, chain, values).

    `chain` is Σ ∂g/∂s · ds/d(second) over the names s the gradient g reads, each ∂g/∂s
    worked out and each ds/d(second) a derivative symbol (x₁ · da/dw₂); `values` is the same
    with each ds/d(second) put in. Both are None when g reads `second` only directly.
    """
    reads = sorted((s for s in gradient.free_symbols if s in carried), key=lambda s: model.order.get(s, -1))
    pattern, shown, exact = [], [], []
    for name in reads:
        outer = sp.diff(gradient, name)
        if outer == 0:
            continue
        inner = carried[name]
        pattern.append(outer if name == second else product(outer, Total(name, second)))
        shown.append(product(outer, inner))
        exact.append(outer * inner)
    result = tidy(sp.Add(*exact)) if exact else sp.S.Zero
    result, _ = reduce_with(result, [expr for _, expr in model.assumptions])
    result = as_teacher_writes(result, model.definition_map)
    if all(name == second for name in reads):
        return result, None, None
    return result, total(*pattern), total(*shown)


def hessian_pairs(model: Model) -> list[tuple[sp.Symbol, sp.Symbol]]:
    """(θᵢ, θⱼ) for i ≤ j in parameter order: the entries of the symmetric Hessian that are derived."""
    parameters = model.parameters
    if len(parameters) > MAX_SECOND_ORDER_PARAMETERS:
        raise SecondOrderUnsupported(
            f"{len(parameters)} parameters; second derivatives are derived one by one up to "
            f"{MAX_SECOND_ORDER_PARAMETERS}"
        )
    return [(p, q) for i, p in enumerate(parameters) for q in parameters[i:]]
