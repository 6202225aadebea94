"""Second derivatives by a matrix parameter in vec form, through a stand-in vector for W @ x.

A model that reads a matrix parameter W[h,n] only as W @ x, x a vector of the data, depends on
W through p = W @ x alone, and ∂pₖ/∂Wᵢⱼ = δₖᵢ xⱼ. So with vec W listing W's entries row by row
(W1_1, W1_2, …, W2_1, …: the order the written-out model names them, and the claims' order),

    d²L/dW²    = d²L/dp² ⊗ x xᵀ       [h·n, h·n]      (I ⊗ x xᵀ for L = ½‖W x − y‖²)
    d²L/dW dc  = d²L/dp dc ⊗ x        [h·n, m]        d²L/dc dW = (d²L/dc dp ⊗ x)ᵀ
    d²L/dW db  = (d²L/dp db) xᵀ       [h, n], W's shape, for a scalar b

and two matrices W, V read as W @ x and V @ u give d²L/dW dV = d²L/dp dq ⊗ x uᵀ. The blocks by
p are the vector forms of `vector_hessian` on the model with p a parameter in W @ x's place; a
penalty that reads W entry by entry (lam/2*sum(W*W)) keeps W a parameter there too, and its own
block (λI) is added to d²L/dW², provided no other block reads W both ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import sympy as sp

from symcalc.errors import VectorHessianUnsupported, VectorUnsupported
from symcalc.symbolic.arrays import Axis, Shape, axis_size, eye, kron, matmul, outer, shape_of, transpose
from symcalc.symbolic.claims import vec
from symcalc.symbolic.expand import Shaped
from symcalc.symbolic.forms import as_teacher_writes
from symcalc.symbolic.vector import VectorForm, derive_vector_form
from symcalc.symbolic.vector_hessian import VectorSecond, derive_vector_hessian, identity


@dataclass(frozen=True)
class _Product:
    """A matrix parameter read only as `matrix @ data`, and the vector parameter standing for it."""

    matrix: sp.Symbol
    data: sp.Expr
    stand_in: sp.Symbol
    rows: Axis


def vector_hessian_or_reason(
    shaped: Shaped, vector: VectorForm, loss: sp.Symbol
) -> tuple[tuple[VectorSecond, ...], str]:
    """Every second derivative in vector form (vec form by a matrix), or () with the reason it has none."""
    try:
        if any(len(shape) == 2 for name, shape in shaped.shapes if name in shaped.parameters):
            return matrix_hessian(shaped, loss), ""
        return derive_vector_hessian(shaped, vector, loss), ""
    except VectorHessianUnsupported as err:
        return (), str(err)


def matrix_hessian(shaped: Shaped, loss: sp.Symbol) -> tuple[VectorSecond, ...]:
    """Every d²L/dθᵢdθⱼ (i ≤ j in parameter order) of a model with matrix parameters, in vec form;
    VectorHessianUnsupported when a matrix is read other than as W @ x with x the data (and entry
    by entry, as in a penalty lam/2*sum(W*W), whose λI is then added to d²L/dW²)."""
    shapes = dict(shaped.shapes)
    products = _products(shaped, shapes)
    by_matrix = {p.matrix: p for p in products}
    matmuls = {matmul(p.matrix, p.data): p.stand_in for p in products}
    definitions = tuple((node, expr.xreplace(matmuls)) for node, expr in shaped.definitions)
    direct = {p.matrix for p in products if any(p.matrix in e.free_symbols for _, e in definitions)}
    stood = replace(
        shaped,
        shapes=(*shaped.shapes, *((p.stand_in, (p.rows,)) for p in products)),
        definitions=definitions,
        parameters=tuple(
            q
            for p in shaped.parameters
            for q in (
                (by_matrix[p].stand_in, p)
                if p in direct
                else (by_matrix[p].stand_in,)
                if p in by_matrix
                else (p,)
            )
        ),
    )
    try:
        vector = derive_vector_form(stood, loss, stood.parameters)
        seconds = derive_vector_hessian(stood, vector, loss, matrices=True)
    except (VectorUnsupported, VectorHessianUnsupported) as err:
        said = str(err)
        for p in products:
            said = said.replace(p.stand_in.name, f"{p.matrix.name} @ {p.data}")
        raise VectorHessianUnsupported(said) from None
    by_stand_in = {p.stand_in: p for p in products}
    back = {p.stand_in: matmul(p.matrix, p.data) for p in products}
    results: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr] = {}
    for second in seconds:
        if {second.first, second.second} & direct:  # W itself: only λI, by W itself
            if second.first == second.second:
                pair = (second.first, second.first)
                results[pair] = results.get(pair, sp.S.Zero) + second.result
            elif second.result != 0:
                name = min(direct & {second.first, second.second}, key=str).name
                raise VectorHessianUnsupported(f"{name} is read both entry by entry and through a product")
            continue
        first, then = by_stand_in.get(second.first), by_stand_in.get(second.second)
        original = (first.matrix if first else second.first, then.matrix if then else second.second)
        a, b = (shapes.get(name, ()) for name in original)
        value = _in_vec_form(second.result, first, then, not a or not b)
        value = _pulled(value, dict(vector.shapes)) if first or then else value
        results[original] = results.get(original, sp.S.Zero) + value.xreplace(back)
    ordered = []
    for pair, value in results.items():
        a, b = (shapes.get(name, ()) for name in pair)
        shape = (*a, *b) if not a or not b else (*vec(a), *vec(b))
        ordered.append(VectorSecond(loss, *pair, shape, value))
    return tuple(ordered)


def _products(shaped: Shaped, shapes: Mapping[sp.Symbol, Shape]) -> list[_Product]:
    """Each matrix parameter with the one product W @ x it is read in (W may also be read entry by
    entry: sum(W*W)); VectorHessianUnsupported when it is read in another product, or x is not the
    data alone."""
    parameters = set(shaped.parameters)
    learned = set(parameters)
    for node, expr in shaped.definitions:
        if expr.free_symbols & learned:
            learned.add(node)
    found = []
    for matrix in (p for p in shaped.parameters if len(shapes.get(p, ())) == 2):
        uses = {m for _, expr in shaped.definitions for m in expr.atoms(matmul) if matrix in m.free_symbols}
        why = f"{matrix.name} is a matrix read other than once as {matrix.name} @ x, x the data"
        if len(uses) != 1:
            raise VectorHessianUnsupported(why)
        (use,) = uses
        data = use.args[1]
        if use.args[0] != matrix or data.free_symbols & learned or len(shape_of(data, shapes)) != 1:
            raise VectorHessianUnsupported(why)
        stand_in = sp.Symbol(f"{matrix.name}__x", **matrix.assumptions0)
        found.append(_Product(matrix, data, stand_in, shapes[matrix][0]))
    return found


def _in_vec_form(result: sp.Expr, first: _Product | None, then: _Product | None, by_scalar: bool) -> sp.Expr:
    """A block by stand-ins p (and q) as the block by the matrices: ⊗ x uᵀ, ⊗ x, or times xᵀ
    (`by_scalar`: the other name is a scalar)."""
    if first is None and then is None:
        return result
    if first is not None and then is not None:
        return kron(result, outer(first.data, then.data))
    if first is not None:  # d²L/dW dθ
        return outer(result, first.data) if by_scalar else kron(result, first.data)
    assert then is not None  # d²L/dθ dW
    return outer(result, then.data) if by_scalar else transpose(kron(transpose(result), then.data))


def _pulled(expr: sp.Expr, shapes: Mapping[sp.Basic, Shape]) -> sp.Expr:
    """`expr` with each I sized (eye(h)) and the scalar factors of each kron and outer of a product
    taken out: c·kron(I, x xᵀ) for kron(c·I, x xᵀ); a sum stays inside, kron(diag(p) − p pᵀ, x xᵀ)."""
    sized = {i: eye(axis_size(shape_of(i.args[0], shapes)[0])) for i in expr.atoms(identity)}
    expr = expr.xreplace(sized)

    def taken_out(call: sp.Expr) -> sp.Expr:
        inner, *others = call.args
        factors = sp.Mul.make_args(inner)
        scalars = sp.Mul(*(f for f in factors if not shape_of(f, shapes)))
        arrays = sp.Mul(*(f for f in factors if shape_of(f, shapes)))
        if arrays == 1:
            raise VectorHessianUnsupported(f"the block {inner} has no vector or matrix in it")
        return as_teacher_writes(scalars * call.func(arrays, *others), {})

    return expr.replace(lambda e: isinstance(e, kron | outer) and e.args[0].args, taken_out)
