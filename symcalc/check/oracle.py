"""The other side of every comparison: SymPy's own diff of the definitions, never the engine's chain rule.

Definitions are written with exp/log/Max (`elementary`) before SymPy differentiates,
so nothing of the engine's local derivatives or recognitions is reused.
"""

from __future__ import annotations

import sympy as sp

from symcalc.symbolic.functions import written_out
from symcalc.symbolic.graph import Model
from symcalc.symbolic.notation import Product, Sum


def independent_derivative(model: Model, of: sp.Symbol, wrt: sp.Symbol) -> sp.Expr:
    """d(of)/d(wrt) through the graph by SymPy's diff, not by the engine's chain rule.

    Every definition that depends on `wrt` is substituted into `of` (written with
    exp/log/Max), then SymPy differentiates once with respect to `wrt`; names that
    do not depend on `wrt` stay as they are, held fixed, as "dA/dB" means.
    """
    if of == wrt:
        return sp.S.One
    downstream = _downstream(model, wrt)
    if of not in downstream:
        return sp.S.Zero
    return sp.diff(elementary(downstream[of]), wrt)


def second_derivative(
    model: Model, of: sp.Symbol, wrt: sp.Symbol, second: sp.Symbol, first: sp.Expr | None = None
) -> sp.Expr:
    """d²(of)/d(wrt)d(second) through the graph by SymPy's diff, twice.

    `independent_derivative` gives d(of)/d(wrt) as an expression that may still hold names
    upstream of `wrt` (z in dL/dz); every definition that depends on `second` is substituted
    into it, and SymPy differentiates once more, with respect to `second`. `first` is that
    d(of)/d(wrt) where the caller has it already (a Hessian's row shares it).
    """
    if first is None:
        first = independent_derivative(model, of, wrt)
    return sp.diff(elementary(first.xreplace(_downstream(model, second))), second)


def _downstream(model: Model, wrt: sp.Symbol) -> dict[sp.Symbol, sp.Expr]:
    """Each definition that depends on `wrt`, with the earlier ones substituted into it: in the
    names that do not depend on `wrt`, and `wrt` itself."""
    downstream: dict[sp.Symbol, sp.Expr] = {}
    for sym, definition in model.definitions:
        if sym == wrt:
            continue
        if wrt in definition.free_symbols or definition.free_symbols & downstream.keys():
            downstream[sym] = definition.xreplace(downstream)
    return downstream


def value_of(expr: sp.Expr) -> sp.Expr:
    """A displayed product or sum (`notation.Product`, `Sum`) as the ordinary SymPy value it shows."""

    def plain(node: sp.Expr) -> sp.Expr:
        return sp.Mul(*node.args) if isinstance(node, Product) else sp.Add(*node.args)

    return expr.replace(lambda e: isinstance(e, Product | Sum), plain)


def elementary(expr: sp.Expr) -> sp.Expr:
    """Every function of the table replaced by its written-out form, the table's `written_out`.

    σ, softplus, relu, gelu, leaky_relu and step become exp, log, erf and Max; every other
    function stays as written, so the two sides of a comparison keep the same building blocks
    and ``cancel`` can see that they agree.
    """
    return written_out(expr)
