"""A derivation as plain data for machines: every expression as text in the file's syntax and names.

Each equation's "lhs" is written as a claim writes it, "∂a/∂z" for a local
partial derivative and "dL/dz" for a total one, and "derivative" says which
("local" or "total"), so any result can be pasted back into [claims].
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from symcalc.render.wording import insight_text, step_rule, step_title
from symcalc.spec.shapes import entry_label
from symcalc.symbolic.entries import entries_named, entry
from symcalc.symbolic.functions import TextPrinter
from symcalc.symbolic.steps import (
    ChainRule,
    Derivation,
    Equation,
    LocalDerivatives,
    ParameterGradients,
    Recognition,
    SecondDerivatives,
    Step,
)
from symcalc.symbolic.vector import VectorForm, VectorResult

# Each kind of step's name in the JSON output.
STEP_KINDS: dict[type[Step], str] = {
    LocalDerivatives: "local",
    ChainRule: "chain",
    ParameterGradients: "gradients",
    Recognition: "form",
    SecondDerivatives: "second",
}


class _EntryText(TextPrinter):
    """The file's syntax, an entry of a name that carries an index written as the file indexes: W1[1,2]."""

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        found = entry(expr)
        return str(super()._print_Symbol(expr)) if found is None else entry_label(*found)


def text(expr: sp.Basic) -> str:
    """An expression in the file's syntax and names (`symbolic.functions.text`), entries as above."""
    return str(_EntryText().doprint(expr))


def _text(expr: sp.Basic | None) -> str | None:
    return None if expr is None else text(expr)


def equation_dict(equation: Equation) -> dict[str, Any]:
    return {
        "lhs": text(equation.lhs),
        "derivative": equation.derivative,
        "using": list(equation.using),
        "chain": _text(equation.chain),
        "unsimplified": _text(equation.unsimplified),
        "result": _text(equation.result),
    }


def _recognition(step: Step) -> dict[str, Any]:
    """For a recognised written-out form: the definition as written and the named function it is."""
    if not isinstance(step, Recognition):
        return {}
    return {"node": _text(step.node), "written": _text(step.written), "named": _text(step.named)}


def _hessian(derivation: Derivation) -> dict[str, Any]:
    """With --hessian: the parameters' second derivatives as a symmetric matrix of texts, rows and columns
    in parameter order."""
    if derivation.hessian is None:
        return {}
    parameters = derivation.model.parameters
    return {"hessian": [[text(derivation.second_derivative(p, q)) for q in parameters] for p in parameters]}


@entries_named
def derivation_dict(derivation: Derivation) -> dict[str, Any]:
    """The documented JSON shape of `symcalc derive --json`."""
    model = derivation.model
    return {
        "title": derivation.title,
        "loss": model.loss.name,
        "parameters": [text(p) for p in model.parameters],
        "learning_rate": derivation.learning_rate.name,
        "steps": [
            {
                "number": step.number,
                "kind": STEP_KINDS[type(step)],
                "title": step_title(step),
                "rule": step_rule(step),
                "equations": [equation_dict(eq) for eq in step.equations],
                **_recognition(step),
            }
            for step in derivation.steps
        ],
        "gradients": {text(p): text(g) for p, g in derivation.gradients.items()},
        "updates": {text(u.parameter): text(u.rule) for u in derivation.updates},
        **_hessian(derivation),
        "insights": [
            {"kind": i.kind, "text": insight_text(i, text), "expressions": [text(e) for e in i.expressions]}
            for i in derivation.insights
        ],
        **_vector_form(derivation),
    }


def _vector_form(derivation: Derivation) -> dict[str, Any]:
    """For a model with vectors and matrices: its sizes, and each adjoint and gradient in vector form."""
    vector, shaped = derivation.vector, derivation.model.shaped
    if shaped is not None and derivation.vector_problem:
        problem = str(derivation.vector_problem)
        return {"sizes": dict(shaped.sizes), "vector_form": None, "vector_form_problem": problem}
    if vector is None or shaped is None:
        return {}
    return {
        "sizes": dict(shaped.sizes),
        "vector_form": [
            {
                "name": r.name,
                "shape": [str(axis) for axis in r.shape],
                "chain": text(r.chain),
                "result": text(r.result),
                "index_form": _index_form(vector, r),
                "using": list(r.using),
            }
            for r in vector.results
        ],
        **_vector_hessian(derivation),
        "batch_form": _batch_form(derivation),
    }


def _vector_hessian(derivation: Derivation) -> dict[str, Any]:
    """With --hessian: each second derivative in vector form, or why there is none."""
    if derivation.vector_hessian:
        return {
            "vector_hessian": [
                {"name": s.name, "shape": [str(axis) for axis in s.shape], "result": text(s.result)}
                for s in derivation.vector_hessian
            ]
        }
    if derivation.vector_hessian_problem:
        return {"vector_hessian": None, "vector_hessian_problem": str(derivation.vector_hessian_problem)}
    return {}


def _index_form(vector: VectorForm, result: VectorResult) -> str | None:
    """ "dL/dW[i, j] = x[j]*dL/ds[i]": the result entry by entry (None for a scalar)."""
    if not result.shape:
        return None
    lhs, _, value = vector.index(result)
    return f"{text(lhs)} = {text(value)}"


def _batch_form(derivation: Derivation) -> dict[str, Any] | None:
    batch = derivation.batch
    if batch is None:
        return None
    return {
        "objective": f"{batch.objective_name} = {text(batch.objective)}",
        "lines": [
            {"name": line.target.name, "value": text(batch.explicit(line.value))}
            for line in (*batch.forward, *batch.backward)
        ],
        "gradients": [
            {
                "name": line.label,
                "value": text(batch.explicit(line.value)),
                "expanded": None if line.expanded is None else text(batch.explicit(line.expanded)),
            }
            for line in batch.gradients
        ],
        **(
            {
                "hessian": [
                    {"name": line.label, "value": text(batch.explicit(line.value))} for line in batch.hessian
                ]
            }
            if batch.hessian
            else {}
        ),
    }
