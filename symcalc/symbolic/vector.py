"""The chain rule on vectors and matrices: every adjoint in vector form, whatever the sizes.

For a model written with shapes (`x[n]`, `W[h,n]`), the adjoint dL/du of each
definition u, and each parameter's gradient, is derived once in the model's own
vector notation, as a lecture writes it: ∂L/∂s = (a − y)·v ⊙ (1 − g²),
∂L/∂W = outer(∂L/∂s, x), for n = 3 or n = 3000 alike. Reverse mode over each
definition's expression: an elementwise operation multiplies the adjoint by its
elementwise derivative, each function of `arrays.ARRAY_FUNCTIONS` passes it on by its
own vector-Jacobian product, and a scalar that was broadcast receives the sum.

Elementwise arithmetic on equal shapes obeys the rules of scalar arithmetic entry by
entry, so the scalar simplifications (`forms.tidy`) are sound on these expressions;
the products and sums that are not elementwise (`@`, sum, outer) are opaque to them.
A dot product is written as sum(u ⊙ v) while simplifying, so that sum(y) = 1 can be used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import sympy as sp

from symcalc.errors import NoVectorForm, VectorUnsupported
from symcalc.symbolic.arrays import (
    BY_CLASS,
    Shape,
    diag,
    dimension,
    eye,
    matmul,
    ones_of,
    outer,
    shape_of,
    softmax,
    total,
    transpose,
)
from symcalc.symbolic.batch_level import compact
from symcalc.symbolic.expand import Shaped
from symcalc.symbolic.forms import as_teacher_writes, solve_linear, tidy
from symcalc.symbolic.functions import heaviside_as_step
from symcalc.symbolic.index import index_form
from symcalc.symbolic.notation import Adjoint, Hadamard, Total, product


@dataclass(frozen=True)
class VectorResult:
    """dL/d(node) in vector form: `chain` in its users' adjoints, `result` in the model's names."""

    loss: sp.Symbol
    node: sp.Symbol
    shape: Shape
    chain: sp.Expr
    result: sp.Expr
    #: The `assume` entries the result was shortened with ("sum(y) = 1").
    using: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"d{self.loss.name}/d{self.node.name}"


def marked(expr: sp.Expr, shapes: Mapping[sp.Basic, Shape]) -> sp.Expr:
    """`expr` for reading: scalar factors first, then the vector factors joined by ⊙ (display only)."""
    if not expr.args or expr.is_Atom:
        return expr
    args = [marked(arg, shapes) for arg in expr.args]
    if isinstance(expr, matmul) and all(len(shape_of(a, shapes)) == 1 for a in expr.args):
        return matmul(transpose(args[0]), args[1])  # the dot product as uᵀv
    if isinstance(expr, matmul) and [len(shape_of(a, shapes)) for a in expr.args] == [1, 2]:
        return matmul(transpose(args[1]), args[0])  # g @ M as Mᵀg: vectors are columns on paper
    if not isinstance(expr, sp.Mul):
        return expr.func(*args)
    scalars = [m for a, m in zip(expr.args, args, strict=True) if not shape_of(a, shapes)]
    shaped = [m for a, m in zip(expr.args, args, strict=True) if shape_of(a, shapes)]
    # An entry-by-entry quotient stays a fraction (y/p), its numerator's vector factors joined by ⊙
    # (A B over C would read as a matrix product); ⊙ joins two or more vector factors.
    below = [f for f in shaped if f.is_Pow and f.exp.is_negative]
    above = [f for f in shaped if f not in below]
    if below and len(above) >= 2:
        return sp.Mul(*scalars, Hadamard(*above), *below)
    if len(shaped) < 2 or below:
        return expr.func(*args)
    scalar = sp.Mul(*scalars)
    if scalar == -1:  # −X̂ ⊙ M, not −1⋅X̂ ⊙ M
        return -Hadamard(*shaped)
    return product(scalar, Hadamard(*shaped))


@dataclass(frozen=True)
class VectorForm:
    """Each definition's adjoint (from the loss backwards), then each parameter's gradient."""

    adjoints: tuple[VectorResult, ...]
    gradients: tuple[VectorResult, ...]
    #: The shape of every name (and adjoint symbol) the results use, for printing them.
    shapes: tuple[tuple[sp.Basic, Shape], ...] = ()
    #: For a batch-level model, dL/dX for each input X that is a whole batch (after the gradients).
    inputs: tuple[VectorResult, ...] = ()

    @property
    def results(self) -> tuple[VectorResult, ...]:
        return (*self.adjoints, *self.gradients, *self.inputs)

    def marked(self, expr: sp.Expr) -> sp.Expr:
        """An expression of these results for reading, with ⊙ between vectors (`marked`)."""
        return marked(expr, dict(self.shapes))

    def index(self, result: VectorResult) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
        """A result's index form: ∂L/∂W_ij, its chain form's entry ((∂L/∂s)_i x_j), its entry in names."""
        shapes = dict(self.shapes)
        where, chain = index_form(result.chain, result.shape, shapes)
        _, value = index_form(result.result, result.shape, shapes)
        node = sp.IndexedBase(result.node)[where] if where else result.node
        return Total(result.loss, node), chain, value


def derive_vector_form(
    shaped: Shaped, loss: sp.Symbol, parameters: Sequence[sp.Symbol], inputs: Sequence[sp.Symbol] = ()
) -> VectorForm:
    """The adjoints and gradients of a shaped model, in its vector notation (and dL/dX for each of
    `inputs`, the batches of a batch-level model)."""
    shapes: dict[sp.Basic, Shape] = dict(shaped.shapes)
    names = {expr: node for node, expr in shaped.definitions if not expr.is_Atom}
    solutions = _sum_solutions(shaped.assumptions)
    values: dict[sp.Symbol, sp.Expr] = {loss: sp.S.One}
    # Each name's shares of its adjoint: (in its users' adjoint symbols, in values, from the loss itself).
    shares: dict[sp.Symbol, list[tuple[sp.Expr, sp.Expr, bool]]] = defaultdict(list)
    adjoints = []
    for node, expr in reversed(shaped.definitions):
        if node != loss:
            if node not in shares:
                continue  # the loss does not depend on it
            result = _result(loss, node, shares[node], shapes, solutions, shaped)
            adjoints.append(result)
            values[node] = result.result
        symbol: sp.Expr = sp.S.One
        if node != loss:
            symbol = Adjoint.of(loss, node)
            shapes[symbol] = shapes.get(node, ())
        try:
            found = _backward(expr, values[node], symbol, shapes)
        except NoVectorForm as err:
            raise VectorUnsupported(str(err)) from None
        for name, value_share, chain_share in found:
            shares[name].append((chain_share.xreplace(names), value_share.xreplace(names), node == loss))
    gradients, by_input = (
        tuple(
            _result(loss, p, shares[p], shapes, solutions, shaped)
            if p in shares
            else VectorResult(loss, p, shapes.get(p, ()), sp.S.Zero, sp.S.Zero)
            for p in names
        )
        for names in (parameters, inputs)
    )
    definitions = dict(shaped.definitions)
    by_input = tuple(
        replace(r, result=compact(r.result, r.shape, shapes, definitions, [a.result for a in adjoints]))
        for r in by_input
    )
    return VectorForm(tuple(adjoints), gradients, tuple(shapes.items()), by_input)


def _result(
    loss: sp.Symbol,
    node: sp.Symbol,
    shares: list[tuple[sp.Expr, sp.Expr, bool]],
    shapes: Mapping[sp.Basic, Shape],
    solutions: Mapping[sp.Expr, tuple[sp.Expr, str]],
    shaped: Shaped,
) -> VectorResult:
    chain = sp.Add(*(chain for chain, _, _ in shares))
    value = sp.Add(*(value for _, value, _ in shares))
    definitions = dict(shaped.definitions)
    # As the scalar engine does: a derivative of the loss's own definition keeps the form
    # differentiation gives it, term by term; a product of adjoints is simplified.
    using: tuple[str, ...] = ()
    if all(direct for _, _, direct in shares):
        value = as_teacher_writes(value, definitions)
    else:
        value, using = simplify(value, shapes, solutions, definitions)
    return VectorResult(loss, node, shapes.get(node, ()), chain, value, using)


def _backward(
    expr: sp.Expr, value: sp.Expr, symbol: Adjoint, shapes: Mapping[sp.Basic, Shape]
) -> list[tuple[sp.Symbol, sp.Expr, sp.Expr]]:
    """Each name's share of the adjoint of `expr`: (name, share of `value`, share of `symbol`)."""
    found: list[tuple[sp.Symbol, sp.Expr, sp.Expr]] = []
    stack: list[tuple[sp.Expr, sp.Expr, sp.Expr]] = [(expr, value, symbol)]
    while stack:
        node, g_value, g_chain = stack.pop()
        if isinstance(node, sp.Symbol):
            found.append((node, g_value, g_chain))
            continue
        if not node.free_symbols:
            continue
        for arg, local_value, local_chain in _local(node, g_value, g_chain, shapes):
            target = shape_of(arg, shapes)
            stack.append(
                (arg, _to_shape(local_value, target, shapes), _to_shape(local_chain, target, shapes))
            )
    found.reverse()
    return found


def _local(
    node: sp.Expr, g_value: sp.Expr, g_chain: sp.Expr, shapes: Mapping[sp.Basic, Shape]
) -> list[tuple[sp.Expr, sp.Expr, sp.Expr]]:
    """Each argument of `node` with its share of the adjoint (for the value and for the chain form)."""
    entry = BY_CLASS.get(type(node))
    if entry is not None and shape_of(node, shapes) and not shape_of(g_value, shapes):
        by_value, by_chain = _broadcast(node, g_value, shapes), _broadcast(node, g_chain, shapes)
        return list(zip(node.args, by_value, by_chain, strict=True))
    if entry is not None:
        arg_shapes = tuple(shape_of(arg, shapes) for arg in node.args)
        by_value = entry.backward(node.args, arg_shapes, node, g_value)
        by_chain = entry.backward(node.args, arg_shapes, node, g_chain)
        return list(zip(node.args, by_value, by_chain, strict=True))
    if isinstance(node, sp.Add):
        return [(arg, g_value, g_chain) for arg in node.args]
    result = []
    for index, arg in enumerate(node.args):
        if not arg.free_symbols:
            continue
        local = _elementwise_derivative(node, index)
        result.append((arg, g_value * local, g_chain * local))
    return result


def _broadcast(node: sp.Expr, g: sp.Expr, shapes: Mapping[sp.Basic, Shape]) -> tuple[sp.Expr, ...]:
    """Each argument's share of a scalar adjoint g of a vector or matrix call, g in every entry
    (the call was summed, sum(outer(u, v)), or added to a scalar): the call's vector-Jacobian
    product with G = g𝟙, written shorter where the file's syntax can (sum(u vᵀ) = sum(u) sum(v)),
    else with a vector of ones: sum(W @ x) gives W the share outer(g·ones(h), x).
    """
    if isinstance(node, outer):  # sum(u vᵀ) = sum(u) sum(v)
        return (g * total(node.args[1]), g * total(node.args[0]))
    if isinstance(node, transpose) or (isinstance(node, diag) and len(shape_of(node.args[0], shapes)) == 1):
        return (g,)  # every entry of M, or of v on diag(v)'s diagonal, is summed once
    if isinstance(node, diag):  # sum(diag(M)) = trace(M): each diagonal entry summed once, gI
        (axis, _) = shape_of(node.args[0], shapes)
        return (g * eye(dimension(axis) if isinstance(axis, str) else sp.Integer(axis)),)
    if isinstance(node, softmax):  # p ⊙ (G − (G·p)) with G = g𝟙
        return (node * (g - g * total(node)),)
    arg_shapes = tuple(shape_of(arg, shapes) for arg in node.args)
    spread = g * ones_of(shape_of(node, shapes))
    return BY_CLASS[type(node)].backward(node.args, arg_shapes, node, spread)


def _elementwise_derivative(node: sp.Expr, index: int) -> sp.Expr:
    """∂node/∂(its argument `index`), entry by entry: differentiating with the argument as a scalar."""
    dummies = [sp.Dummy(real=True) for _ in node.args]
    derivative = node.func(*dummies).diff(dummies[index])
    return heaviside_as_step(derivative.xreplace(dict(zip(dummies, node.args, strict=True))))


def _to_shape(share: sp.Expr, shape: Shape, shapes: Mapping[sp.Basic, Shape]) -> sp.Expr:
    """A share for a scalar that was broadcast over a shape is the sum of its entries."""
    if not shape and shape_of(share, shapes):
        return total(share)
    return share


def simplify(
    expr: sp.Expr,
    shapes: Mapping[sp.Basic, Shape],
    solutions: Mapping[sp.Expr, tuple[sp.Expr, str]],
    definitions: Mapping[sp.Symbol, sp.Expr],
) -> tuple[sp.Expr, tuple[str, ...]]:
    """The shortest form of an adjoint (dot products as sums, sums pulled apart, the assumptions
    put in), and the assumptions it used."""

    def is_dot(call: sp.Basic) -> bool:
        return isinstance(call, matmul) and all(len(shape_of(arg, shapes)) == 1 for arg in call.args)

    expr = expr.replace(is_dot, lambda call: total(call.args[0] * call.args[1]))
    expr = expr.replace(lambda call: isinstance(call, total), lambda call: _apart(call, shapes))
    used = tuple(text for call, (_, text) in solutions.items() if expr.has(call))
    expr = expr.xreplace({call: value for call, (value, _) in solutions.items()})
    return as_teacher_writes(tidy(expr), definitions), used


def _apart(call: sp.Expr, shapes: Mapping[sp.Basic, Shape]) -> sp.Expr:
    """sum(a + b) as sum(a) + sum(b), and scalar factors taken out: sum(c·u) = c·sum(u).

    Left as it is when a term has no vector in it (its sum would need the size).
    """
    terms = []
    for term in sp.Add.make_args(sp.expand(call.args[0])):
        factors = sp.Mul.make_args(term)
        shaped = [f for f in factors if shape_of(f, shapes)]
        if not shaped:
            return call
        terms.append(sp.Mul(*(f for f in factors if not shape_of(f, shapes))) * total(sp.Mul(*shaped)))
    return sp.Add(*terms)


def _sum_solutions(assumptions: Sequence[tuple[str, sp.Expr]]) -> dict[sp.Expr, tuple[sp.Expr, str]]:
    """An assumption about a sum solved for it, with its text: {sum(y): (1, "sum(y) = 1")}."""
    solutions: dict[sp.Expr, tuple[sp.Expr, str]] = {}
    for text, equation in assumptions:
        for call in sorted(equation.atoms(total), key=sp.default_sort_key):
            stand_in = sp.Dummy()
            solved = solve_linear(equation.xreplace({call: stand_in}), stand_in)
            if solved is not None and not solved.has(stand_in):
                solutions[call] = (solved, text)
                break
    return solutions
