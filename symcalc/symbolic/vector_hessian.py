"""Second derivatives in vector form: d²L/dw² = a(1 − a)·x xᵀ, derived from the vector-form gradients.

Each gradient of the vector form (dL/dw = x·(a − y)) is differentiated by each parameter θ
with the product rule over its factors: a factor that does not depend on θ is kept; a
scalar factor f contributes its gradient ∇_θ f = Σ ∂f/∂s · ∇_θ s over the scalar names s it
reads, each ∇_θ s being the vector form of ds/dθ (`derive_vector_form` with s in place of
the loss), joined to the rest by an outer product where both are vectors; a factor that is
θ itself contributes the identity (d(λw)/dw = λI); a vector factor u that depends on θ (the
residual r = W x + c − y of a squared error) contributes its Jacobian J_u, carried forward
through sums, elementwise functions (diag(f′(s)) J_s) and products M @ u by a matrix M that
does not depend on θ (`jacobians`). Any other factor has no short vector form here:
`VectorHessianUnsupported` says so, and the entry-by-entry step shows every second derivative
anyway.

A matrix parameter W that the model reads only as W @ x, x the data, is derived through a
stand-in vector p = W @ x: ∂L/∂Wᵢⱼ = xⱼ ∂L/∂pᵢ, so with W's entries row by row (vec W: W1_1,
W1_2, …, as the written-out model names them) d²L/dW² = d²L/dp² ⊗ x xᵀ, d²L/dW dc =
d²L/dp dc ⊗ x, and d²L/dW db = (d²L/dp db) xᵀ in W's own shape (`matrix_hessian`). A matrix
read otherwise (W used twice, or W @ tanh(V x)) has no such form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import sympy as sp
from sympy.printing.pretty.stringpict import prettyForm

from symcalc.errors import VectorHessianUnsupported
from symcalc.symbolic.arrays import BY_CLASS, Shape, Value, diag, matmul, outer, shape_of, softmax
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

    size = np.size(vector)  # of a matrix W, the identity of vec W
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


def derive_vector_hessian(
    shaped: Shaped, vector: VectorForm, loss: sp.Symbol, matrices: bool = False
) -> tuple[VectorSecond, ...]:
    """Every d²L/dθᵢdθⱼ for i ≤ j in parameter order, in vector form; VectorHessianUnsupported when
    a parameter is a matrix (unless `matrices`: read entry by entry, d(λW)/dW = λI of vec W) or a
    factor has no short derivative here."""
    shapes: dict[sp.Basic, Shape] = dict(vector.shapes)
    parameters = shaped.parameters
    read = [p.name for p in parameters if len(shapes.get(p, ())) > 1]
    if read and not matrices:  # `matrix_hessian` derives through a stand-in vector for W @ x
        raise VectorHessianUnsupported(f"{read[0]} is a matrix: its second derivatives form a four-way array")
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
            rules = _Rules(shapes, dict(shaped.definitions), depends[second], gradient_of)
            derivative = _derivative(gradients[first], second, rules)
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


@dataclass(frozen=True)
class _Rules:
    """What differentiating by one parameter needs: the shapes, the definitions, the names that
    depend on the parameter, and the vector-form gradient ∇_wrt s of a scalar name s."""

    shapes: Mapping[sp.Basic, Shape]
    definitions: Mapping[sp.Symbol, sp.Expr]
    depends: set[sp.Symbol]
    gradient_of: Callable[[sp.Symbol, sp.Symbol], sp.Expr]

    def scalar_gradient(self, factor: sp.Expr, wrt: sp.Symbol) -> sp.Expr:
        """∇_wrt of a scalar expression: Σ ∂f/∂s · ∇_wrt s over the scalar names s it reads."""
        names = sorted(factor.free_symbols & self.depends, key=sp.default_sort_key)
        if any(shape_of(name, self.shapes) for name in names):
            raise VectorHessianUnsupported(f"{factor} reads a vector that depends on {wrt.name}")
        return sp.Add(*(sp.diff(factor, name) * self.gradient_of(name, wrt) for name in names))

    def scaled(self, rest: sp.Expr, jacobian: sp.Expr, wrt: sp.Symbol) -> sp.Expr:
        """rest ⊙ u differentiated through u: rest's scalars times diag(rest's vectors) J_u."""
        scalars, vectors = _split(rest, self.shapes)
        if vectors == 1:
            return scalars * jacobian
        if not shape_of(wrt, self.shapes):  # by a scalar J_u is a vector: entry by entry
            return scalars * vectors * jacobian
        return scalars * matrix_product(diag(vectors), jacobian)

    def jacobian(self, expr: sp.Expr, wrt: sp.Symbol) -> sp.Expr:
        """J = d(expr)/d(wrt) of a vector expression: [i, j] = ∂exprᵢ/∂wrtⱼ (a vector by a scalar)."""
        if not expr.free_symbols & self.depends:
            return sp.S.Zero
        if expr == wrt:
            return identity(wrt)
        if expr in self.definitions:
            return self.jacobian(self.definitions[expr], wrt)
        if isinstance(expr, sp.Add):
            if any(not shape_of(t, self.shapes) and t.free_symbols & self.depends for t in expr.args):
                raise VectorHessianUnsupported(f"a scalar added to a vector depends on {wrt.name}")
            return sp.Add(*(self.jacobian(t, wrt) for t in expr.args if shape_of(t, self.shapes)))
        if isinstance(expr, sp.Mul):
            terms = []
            for k, factor in enumerate(expr.args):
                if not factor.free_symbols & self.depends:
                    continue
                rest = sp.Mul(*expr.args[:k], *expr.args[k + 1 :])
                if shape_of(factor, self.shapes):
                    terms.append(self.scaled(rest, self.jacobian(factor, wrt), wrt))
                else:
                    terms.append(_joined(rest, self.scalar_gradient(factor, wrt), self.shapes))
            return sp.Add(*terms)
        if isinstance(expr, matmul):
            matrix, vector = expr.args
            if matrix.free_symbols & self.depends or len(shape_of(vector, self.shapes)) != 1:
                raise VectorHessianUnsupported(f"{expr} depends on {wrt.name} other than through a vector")
            return matrix_product(matrix, self.jacobian(vector, wrt))
        if isinstance(expr, softmax):  # J = (diag(p) − p pᵀ) J_z, p = softmax(z) by its name
            p = next((node for node, value in self.definitions.items() if value == expr), expr)
            return matrix_product(diag(p) - outer(p, p), self.jacobian(expr.args[0], wrt))
        elementwise = isinstance(expr, sp.Pow) and not expr.exp.free_symbols & self.depends
        elementwise = elementwise or (isinstance(expr, sp.Function) and len(expr.args) == 1)
        if elementwise and type(expr) not in BY_CLASS:
            inner = expr.args[0]
            point = sp.Dummy("t")
            slope = sp.diff(expr.xreplace({inner: point}), point).xreplace({point: inner})
            if slope.has(sp.Derivative, sp.DiracDelta):  # sign(w)′: a point mass at 0, said in the steps
                raise VectorHessianUnsupported(f"{expr} has a jump: its derivative is a point mass")
            slope = slope.xreplace({value: node for node, value in self.definitions.items()})  # 1 - g^2
            return self.scaled(slope, self.jacobian(inner, wrt), wrt)
        raise VectorHessianUnsupported(f"{expr} has no Jacobian by {wrt.name} here")


def matrix_product(left: sp.Expr, right: sp.Expr) -> sp.Expr:
    """left @ right, with M I = M, I M = M and diag(u) diag(v) = diag(u ⊙ v)."""
    if left == 0 or right == 0:
        return sp.S.Zero
    if isinstance(right, identity):
        return left
    if isinstance(left, identity):
        return right
    if isinstance(left, diag) and isinstance(right, diag):
        return diag(left.args[0] * right.args[0])
    if isinstance(right, sp.Add):
        return sp.Add(*(matrix_product(left, term) for term in right.args))
    if isinstance(right, sp.Mul):
        scalars, arrays = (
            sp.Mul(*(f for f in right.args if not isinstance(f, diag | identity | matmul | outer))),
            sp.Mul(*(f for f in right.args if isinstance(f, diag | identity | matmul | outer))),
        )
        if scalars != 1 and arrays != 1:
            return scalars * matrix_product(left, arrays)
    return matmul(left, right)


def _derivative(gradient: sp.Expr, wrt: sp.Symbol, rules: _Rules) -> sp.Expr:
    """d(gradient)/d(wrt) by the product rule over each term's factors."""
    contributions = []
    for term in sp.Add.make_args(gradient):
        factors = sp.Mul.make_args(term)
        for k, factor in enumerate(factors):
            if not factor.free_symbols & rules.depends:
                continue
            rest = sp.Mul(*factors[:k], *factors[k + 1 :])
            contributions.append(_factor(rest, factor, wrt, rules))
    return sp.Add(*contributions)


def _factor(rest: sp.Expr, factor: sp.Expr, wrt: sp.Symbol, rules: _Rules) -> sp.Expr:
    """rest · d(factor)/d(wrt), the two joined as their shapes need."""
    shapes = rules.shapes
    if factor == wrt and shape_of(wrt, shapes):
        return rules.scaled(rest, identity(wrt), wrt)  # d(u ⊙ w)/dw = diag(u)
    if shape_of(factor, shapes):
        return rules.scaled(rest, rules.jacobian(factor, wrt), wrt)
    return _joined(rest, rules.scalar_gradient(factor, wrt), shapes)


def _joined(left: sp.Expr, right: sp.Expr, shapes: Mapping[sp.Basic, Shape]) -> sp.Expr:
    """left ⊗ right: their product where one is a scalar, else the scalar factors times outer(u, v)."""
    if not shape_of(left, shapes) or not shape_of(right, shapes):
        return left * right
    if len(shape_of(left, shapes)) > 1 or len(shape_of(right, shapes)) > 1:
        raise VectorHessianUnsupported("a matrix would be joined to a gradient: a four-way array")
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
