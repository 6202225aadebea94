"""Second derivatives in vector form: d²L/dw² = a(1 − a)·x xᵀ, derived from the vector-form gradients.

Each gradient of the vector form (dL/dw = x·(a − y)) is differentiated by each parameter θ
with the product rule over its factors: a factor that does not depend on θ is kept; a
scalar factor f contributes its gradient ∇_θ f = Σ ∂f/∂s · ∇_θ s over the scalar names s it
reads, each ∇_θ s being the vector form of ds/dθ (`derive_vector_form` with s in place of
the loss), joined to the rest by an outer product where both are vectors; a factor that is
θ itself contributes the identity (d(λw)/dw = λI). Any other factor (a vector that depends on
θ, as tanh(W x + c) does on c) has no short vector form here: `VectorHessianUnsupported`
says so, and the entry-by-entry step shows every second derivative anyway. So do matrix
parameters, whose second derivatives form a four-way array.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

from symcalc.errors import VectorHessianUnsupported
from symcalc.symbolic.arrays import Shape, Value, outer, shape_of
from symcalc.symbolic.expand import Shaped
from symcalc.symbolic.forms import as_teacher_writes, tidy
from symcalc.symbolic.kinks import away_from_kinks
from symcalc.symbolic.notation import Adjoint
from symcalc.symbolic.vector import VectorForm, derive_vector_form


class identity(sp.Function):
    """I: the identity matrix the size of its vector argument (display and concrete value only)."""

    nargs = 1

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return f"I^{{{exp}}}" if exp else "I"

    def _pretty(self, printer: Any) -> prettyForm:
        return prettyForm("I")

    def _sympystr(self, printer: Any) -> str:
        return "I"


def identity_value(vector: Value) -> Value:
    """The identity matrix, of SymPy integers, the size of a concrete vector."""
    import numpy as np  # only for models with vectors: a scalar model's derive never loads NumPy

    size = len(vector)
    return np.array(
        [[sp.S.One if i == j else sp.S.Zero for j in range(size)] for i in range(size)], dtype=object
    )


@dataclass(frozen=True)
class VectorSecond:
    """d²L/d(first)d(second) in vector form: a scalar, a vector or a matrix (entry [i, j] is
    ∂²L/∂firstᵢ∂secondⱼ)."""

    loss: sp.Symbol
    first: sp.Symbol
    second: sp.Symbol
    shape: Shape
    result: sp.Expr

    @property
    def name(self) -> str:
        if self.first == self.second:
            return f"d2{self.loss.name}/d{self.first.name}^2"
        return f"d2{self.loss.name}/d{self.first.name} d{self.second.name}"


def derive_vector_hessian(shaped: Shaped, vector: VectorForm, loss: sp.Symbol) -> tuple[VectorSecond, ...]:
    """Every d²L/dθᵢdθⱼ for i ≤ j in parameter order, in vector form; VectorHessianUnsupported when
    a parameter is a matrix or a factor has no short derivative here."""
    shapes: dict[sp.Basic, Shape] = dict(vector.shapes)
    parameters = shaped.parameters
    matrices = [p.name for p in parameters if len(shapes.get(p, ())) > 1]
    if matrices:
        raise VectorHessianUnsupported(
            f"{matrices[0]} is a matrix: its second derivatives form a four-way array"
        )
    gradients = {r.node: r.result for r in vector.gradients}
    if any(g.atoms(Adjoint) for g in gradients.values()):
        raise VectorHessianUnsupported("a gradient reads an adjoint dL/dc by name")
    depends = _dependents(shaped)

    @cache
    def gradient_of(name: sp.Symbol, wrt: sp.Symbol) -> sp.Expr:
        """∇_wrt name in vector form (wrt's shape)."""
        if name == wrt:
            return sp.S.One
        return derive_vector_form(shaped, name, [wrt]).gradients[0].result

    results = []
    for i, first in enumerate(parameters):
        for second in parameters[i:]:
            derivative = _derivative(gradients[first], second, shapes, depends[second], gradient_of)
            value = as_teacher_writes(away_from_kinks(tidy(derivative)), dict(shaped.definitions))
            shape = (*shapes.get(first, ()), *shapes.get(second, ()))
            results.append(VectorSecond(loss, first, second, shape, value))
    return tuple(results)


def _dependents(shaped: Shaped) -> dict[sp.Symbol, set[sp.Symbol]]:
    """For each parameter, itself and every definition that depends on it."""
    result = {}
    for parameter in shaped.parameters:
        found = {parameter}
        for node, expr in shaped.definitions:
            if expr.free_symbols & found:
                found.add(node)
        result[parameter] = found
    return result


def _derivative(
    gradient: sp.Expr,
    wrt: sp.Symbol,
    shapes: Mapping[sp.Basic, Shape],
    depends: set[sp.Symbol],
    gradient_of: Callable[[sp.Symbol, sp.Symbol], sp.Expr],
) -> sp.Expr:
    """d(gradient)/d(wrt) by the product rule over each term's factors."""
    contributions = []
    for term in sp.Add.make_args(gradient):
        factors = sp.Mul.make_args(term)
        for k, factor in enumerate(factors):
            if not factor.free_symbols & depends:
                continue
            rest = sp.Mul(*factors[:k], *factors[k + 1 :])
            contributions.append(_factor(rest, factor, wrt, shapes, depends, gradient_of))
    return sp.Add(*contributions)


def _factor(
    rest: sp.Expr,
    factor: sp.Expr,
    wrt: sp.Symbol,
    shapes: Mapping[sp.Basic, Shape],
    depends: set[sp.Symbol],
    gradient_of: Callable[[sp.Symbol, sp.Symbol], sp.Expr],
) -> sp.Expr:
    """rest · d(factor)/d(wrt), the two joined as their shapes need."""
    if factor == wrt and shape_of(wrt, shapes):
        if shape_of(rest, shapes):
            raise VectorHessianUnsupported(f"{wrt.name} is multiplied entry by entry by a vector")
        return rest * identity(wrt)
    if shape_of(factor, shapes):
        raise VectorHessianUnsupported(f"a vector factor {factor} depends on {wrt.name}")
    names = sorted(factor.free_symbols & depends, key=sp.default_sort_key)
    if any(shape_of(name, shapes) for name in names):
        raise VectorHessianUnsupported(f"{factor} reads a vector that depends on {wrt.name}")
    gradient = sp.Add(*(sp.diff(factor, name) * gradient_of(name, wrt) for name in names))
    return _joined(rest, gradient, shapes)


def _joined(left: sp.Expr, right: sp.Expr, shapes: Mapping[sp.Basic, Shape]) -> sp.Expr:
    """left ⊗ right: their product where one is a scalar, else the scalar factors times outer(u, v)."""
    if not shape_of(left, shapes) or not shape_of(right, shapes):
        return left * right
    terms = []
    for term in sp.Add.make_args(right):
        left_scalars, left_vectors = _split(left, shapes)
        right_scalars, right_vectors = _split(term, shapes)
        terms.append(left_scalars * right_scalars * outer(left_vectors, right_vectors))
    return sp.Add(*terms)


def _split(expr: sp.Expr, shapes: Mapping[sp.Basic, Shape]) -> tuple[sp.Expr, sp.Expr]:
    """A product's scalar factors and its vector factors (an entry-by-entry product)."""
    factors = sp.Mul.make_args(expr)
    scalars = [f for f in factors if not shape_of(f, shapes)]
    vectors = [f for f in factors if shape_of(f, shapes)]
    return sp.Mul(*scalars), sp.Mul(*vectors)


def vector_hessian_or_reason(
    shaped: Shaped, vector: VectorForm, loss: sp.Symbol
) -> tuple[tuple[VectorSecond, ...], str]:
    """`derive_vector_hessian`, or () with the reason it has no vector form."""
    try:
        return derive_vector_hessian(shaped, vector, loss), ""
    except VectorHessianUnsupported as err:
        return (), str(err)
