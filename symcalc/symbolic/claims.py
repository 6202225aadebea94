"""Claims: the author's "dL/dw1 = (a - y)*x1", parsed over a model's names, and written out per entry."""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

import sympy as sp

from symcalc.errors import SpecError
from symcalc.symbolic.arrays import Shape, product_axis, shown
from symcalc.symbolic.claimed_adjoints import adjoint_arrays, read_adjoints
from symcalc.symbolic.expand import concrete, flat
from symcalc.symbolic.functions import text as text_of
from symcalc.symbolic.parse import parse_expression, parse_shaped

_NAME = r"([A-Za-z][A-Za-z0-9_]*)"
#: A total derivative through the graph, "dL/dz".
CLAIM_PATTERN = re.compile(rf"\s*d\s*{_NAME}\s*/\s*d\s*{_NAME}\s*")
#: A local partial derivative of one definition, "∂a/∂z" or in ASCII "partial a/partial z".
PARTIAL_CLAIM_PATTERN = re.compile(rf"\s*(?:∂|partial\s)\s*{_NAME}\s*/\s*(?:∂|partial\s)\s*{_NAME}\s*")
#: A second derivative through the graph, "d2L/dw1 dw2" (a space between the names) or "d2L/dw1^2".
SECOND_CLAIM_PATTERN = re.compile(rf"\s*d2\s*{_NAME}\s*/\s*d\s*{_NAME}(?:\s*\^\s*2|\s+d\s*{_NAME})\s*")
CLAIM_FORMS = "'dA/dB' (total), '∂A/∂B' / 'partial A/partial B' (local) or 'd2A/dB dC' / 'd2A/dB^2' (second)"


@dataclass(frozen=True)
class Claim:
    """The author's claim that d(of)/d(wrt) equals `expected`, as written in [claims].

    A `local` claim (∂a/∂z) is about the partial derivative of `of`'s own
    definition with every other name held fixed; otherwise it is about the total
    derivative through the graph (dL/dz).
    """

    of: sp.Symbol
    wrt: sp.Symbol
    expected: sp.Expr
    text: str
    local: bool = False
    #: For a second derivative d²(of)/d(wrt)d(second): the name differentiated by the second time.
    second: sp.Symbol | None = None

    @property
    def name(self) -> str:
        if self.second is not None:
            below = (
                f"{self.wrt.name}^2" if self.second == self.wrt else f"{self.wrt.name} d{self.second.name}"
            )
            return f"d2{self.of.name}/d{below}"
        mark = "∂" if self.local else "d"
        return f"{mark}{self.of.name}/{mark}{self.wrt.name}"


def parse_claim(
    lhs: object,
    rhs: str,
    symbols: Mapping[str, sp.Symbol],
    definitions: Collection[str],
    shapes: Mapping[str, Shape] | None = None,
) -> Claim:
    """The claim "lhs = rhs" over the declared `symbols`; SymcalcError (without a location) if it is not one.

    "dA/dB" is total; "∂A/∂B" and "partial A/partial B" are local, and A must then be a
    definition, whose expression is the one differentiated. The right-hand side goes
    through the same safe parser as every definition. With `shapes`, the claim may be about
    vectors and matrices: for a scalar A, dA/dB has B's shape; for vectors u and v, du/dv is
    the Jacobian, entry [i, j] = ∂uᵢ/∂vⱼ, and by a matrix W[h,n] it is by vec W, W's entries row
    by row ([m,h*n]); a scalar right-hand side stands for every entry.
    """
    text = lhs if isinstance(lhs, str) else ""
    total, partial = CLAIM_PATTERN.fullmatch(text), PARTIAL_CLAIM_PATTERN.fullmatch(text)
    second = SECOND_CLAIM_PATTERN.fullmatch(text)
    match = total or partial or second
    if match is None:
        example = 'e.g. "d2L/dw1 dw2" or "d2L/dw1^2"' if text.lstrip().startswith("d2") else 'e.g. "dL/dw1"'
        # A textbook's d²L/dw1², typed as d^2L/dw1^2, is the second-derivative form spelt d2L/dw1^2.
        spelt = re.sub(r"^(\s*)d\s*(?:\^\s*2|²)", r"\1d2", text).replace("²", "^2")
        if spelt != text and SECOND_CLAIM_PATTERN.fullmatch(spelt):
            example = f"write {spelt.strip()!r}"
        raise SpecError(f"claim {lhs!r} is not of the form {CLAIM_FORMS}", fix=example)
    named = [name for name in match.groups() if name is not None]
    unknown = [name for name in named if name not in symbols]
    if unknown:
        raise SpecError(f"claim is about undeclared name {unknown[0]!r}")
    of, wrt, *rest = (symbols[name] for name in named)
    if second is not None:
        return _second_claim(of, wrt, rest[0] if rest else wrt, rhs, symbols, shapes)
    if partial is not None and of.name not in definitions:
        raise SpecError(
            f"{of.name!r} is not a definition, so it has no local partial derivative",
            fix=f'write the total derivative "d{of.name}/d{wrt.name}"',
        )
    # dL/dmu in the right-hand side, as a result that reads an upstream derivative prints it
    read, adjoints, adjoint_shapes = read_adjoints(rhs, symbols, definitions, shapes)
    symbols = {**symbols, **adjoints}
    if not shapes:
        return Claim(of, wrt, parse_expression(read, symbols), rhs, local=partial is not None)
    wanted = _claim_shape(shapes.get(of.name, ()), shapes.get(wrt.name, ()), of.name, wrt.name)
    expected, shape = parse_shaped(read, symbols, {**shapes, **adjoint_shapes}, square=wanted)
    if shape and shape != wanted:
        raise SpecError(
            f"d{of.name}/d{wrt.name} has the shape {shown(wanted)}; the right-hand side is {shown(shape)}"
        )
    return Claim(of, wrt, expected, rhs, local=partial is not None)


def _second_claim(
    of: sp.Symbol,
    wrt: sp.Symbol,
    second: sp.Symbol,
    rhs: str,
    symbols: Mapping[str, sp.Symbol],
    shapes: Mapping[str, Shape] | None,
) -> Claim:
    """d²(of)/d(wrt)d(second) = rhs: of a scalar; for vectors u and v, entry [i, j] is ∂²of/∂uᵢ∂vⱼ
    (for u = v, the Hessian). A matrix W[h,n] by a scalar has W's shape; by a vector or a matrix it is
    vec(W), its entries row by row: d2L/dW^2 is [h*n,h*n] (I ⊗ x xᵀ, kron(eye(h), outer(x, x)))."""
    claim = Claim(of, wrt, sp.S.Zero, rhs, second=second)
    if not shapes:
        return replace(claim, expected=parse_expression(rhs, symbols))
    of_shape, first, then = (shapes.get(name.name, ()) for name in (of, wrt, second))
    if of_shape:
        raise SpecError(
            f"{claim.name}: second-derivative claims are about a scalar by scalars, vectors or matrices; "
            f"{of.name} is {shown(of_shape)}"
        )
    wanted = (*first, *then) if not first or not then else (*vec(first), *vec(then))
    expected, shape = parse_shaped(rhs, symbols, shapes, square=wanted)
    if shape and shape != wanted:
        raise SpecError(f"{claim.name} has the shape {shown(wanted)}; the right-hand side is {shown(shape)}")
    return replace(claim, expected=expected)


def vec(shape: Shape) -> Shape:
    """The shape of vec(M): a matrix [h,n] as one vector [h*n] of its entries row by row (W1_1, W1_2, …,
    the order the written-out model names them); a vector stays as it is."""
    return (product_axis(*shape),) if len(shape) == 2 else shape


def _claim_shape(of: Shape, wrt: Shape, of_name: str, wrt_name: str) -> Shape:
    """The shape of dA/dB: B's for a scalar A; the Jacobian's for a vector by a vector or by a matrix,
    [m, h*n] for u[m] by W[h,n] (entry [i, (j, k)] = ∂uᵢ/∂Wⱼₖ, vec(W) row by row)."""
    if not of:
        return wrt
    if len(of) == 1 and len(wrt) in (1, 2):
        return (of[0], *vec(wrt))
    raise SpecError(
        f"d{of_name}/d{wrt_name}: claims are about a scalar's derivative, or a vector's by a vector or "
        f"a matrix (the Jacobian); {of_name} is {shown(of)} and {wrt_name} {shown(wrt)}"
    )


def claim_entries(claim: Claim, values: Mapping[sp.Basic, Any]) -> list[Claim]:
    """A claim about vectors or matrices as one claim per entry: dL/dW1_2, or ∂a2/∂z1 of a Jacobian."""
    names = (claim.of, claim.wrt) if claim.second is None else (claim.of, claim.wrt, claim.second)
    values = {**values, **adjoint_arrays(claim.expected, values)}  # dL/ds named: its entries dL/ds1 …
    if not any(name in values for name in names):
        # dL/dq of a scalar q may still be stated with vectors, (sum(s) - y)*sum(w): written out too
        if not any(name in values for name in claim.expected.free_symbols):
            return [claim]
        return [replace(claim, expected=sp.sympify(concrete(claim.expected, values)))]
    entries = [flat(values.get(name, name), 1) for name in names]
    tuples = list(itertools.product(*entries))
    expected = flat(concrete(claim.expected, values), len(tuples))
    fields = ("of", "wrt", "second")
    return [
        replace(
            claim,
            **dict(zip(fields, names_of, strict=False)),
            expected=sp.sympify(entry),
            text=entry_text(entry),
        )
        for names_of, entry in zip(tuples, expected, strict=True)
    ]


def entry_text(expr: Any) -> str:
    return text_of(sp.sympify(expr))
