"""A derivation's batch form, the form every model's numbers are computed in: a model with vectors
has its own (`Derivation.batch`); a model of scalars (or the written-out scalars of one whose
vectors have none) has each per-sample name a column of m values, from the engine's own adjoints."""

from __future__ import annotations

import sympy as sp

from symcalc.symbolic.batch import BatchForm, derive_batch_form
from symcalc.symbolic.expand import Shaped
from symcalc.symbolic.matrix_hessian import vector_hessian_or_reason
from symcalc.symbolic.notation import Adjoint
from symcalc.symbolic.steps import Derivation
from symcalc.symbolic.vector import VectorForm, VectorResult


def batch_form_of(derivation: Derivation) -> tuple[Shaped, BatchForm]:
    """The batch form of a derivation: its own for a model with vectors; for a model of scalars (or
    the written-out scalars of one whose vectors have none), every per-sample name a column of m
    values (z = w1*x1 + b over the batch, dL/dw1 = sum(dL/dz*x1)/m), with its second derivatives
    summed alike where the derivation has them."""
    model = derivation.model
    if model.shaped is not None and derivation.batch is not None:
        return model.shaped, derivation.batch
    data = (*model.inputs, *model.targets)
    shaped = Shaped((), model.definitions, (), (), model.assumptions, model.parameters, data)
    vector = _as_vector_form(derivation)
    second = vector_hessian_or_reason(shaped, vector, model.loss)[0] if derivation.hessian else ()
    return shaped, derive_batch_form(shaped, vector, data, model.loss, second)


def _as_vector_form(derivation: Derivation) -> VectorForm:
    """The derivation's own adjoints and gradients (simplified as the engine did, with the file's
    assumptions: dL/dz1 = a1 − y1 for a softmax), each beside its chain rule's sum over its users'
    adjoints, as a vector form of scalars."""
    model = derivation.model
    loss = model.loss
    users: dict[sp.Symbol, list[sp.Expr]] = {}
    for (user, read), local in derivation.local_derivatives.items():
        upstream = sp.S.One if user == loss else Adjoint.of(loss, user)
        users.setdefault(read, []).append(upstream * local)

    def result(node: sp.Symbol, value: sp.Expr) -> VectorResult:
        return VectorResult(loss, node, (), sp.Add(*users.get(node, ())), value)

    adjoints = tuple(result(node, value) for node, value in derivation.adjoints.items() if node != loss)
    gradients = tuple(result(p, derivation.gradients[p]) for p in model.parameters)
    return VectorForm(adjoints, gradients)
