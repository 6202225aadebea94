"""Key insights: observations about a derivation, like the seed page's, each computed and checked.

Every finder proposes statements from the derivation's results and keeps only
those whose check passes, so nothing untrue is ever printed. An insight is data:
its kind, the expressions it is about and, where the kind has cases, which case;
`symcalc.render.wording` words it, and each renderer typesets the expressions its
own way (unicode, LaTeX, str).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sympy as sp

from symcalc.symbolic.convexity import prove_convex
from symcalc.symbolic.functions import sigmoid, to_elementary
from symcalc.symbolic.graph import Model
from symcalc.symbolic.notation import GradientOuter, Partial, Total

# The output's range for the activations whose local derivative depends only on the output.
_RANGES: dict[type, tuple[sp.Expr, sp.Expr]] = {
    sigmoid: (sp.S.Zero, sp.S.One),
    sp.tanh: (sp.S.NegativeOne, sp.S.One),
    sp.exp: (sp.S.Zero, sp.oo),
}


# Each activation's inverse: where its output takes a given value (σ(z) = v at z = log(v/(1 − v))).
_INVERSES: dict[type, Callable[[sp.Expr], sp.Expr]] = {
    sigmoid: lambda v: sp.log(v / (1 - v)),
    sp.tanh: sp.atanh,
    sp.exp: sp.log,
}


@dataclass(frozen=True)
class Insight:
    """One checked observation of `kind` about `expressions`; `case` says which of the kind's cases holds.

    The cases: "scaled-by-input" is "every" weight or "some"; "canonical-link" names
    the output ("sigmoid", "identity", "exp", "softmax"); "convex" joins with "+" which of its
    optional parts the expressions hold, in order: "curvature" (F''(z) when it is not 1),
    "penalty" and "constants" (those the penalty needs ≥ 0); other kinds have one case, "".
    """

    kind: str
    expressions: tuple[sp.Expr, ...]
    case: str = ""


@dataclass(frozen=True)
class _Facts:
    """What the finders read: the model and the derivation's results (kept free of steps.py)."""

    model: Model
    gradients: dict[sp.Symbol, sp.Expr]
    adjoints: dict[sp.Symbol, sp.Expr]
    local_derivatives: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr]


def find_insights(
    model: Model,
    gradients: dict[sp.Symbol, sp.Expr],
    adjoints: dict[sp.Symbol, sp.Expr],
    local_derivatives: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr],
) -> tuple[Insight, ...]:
    """Every insight that holds for these results, in a fixed order."""
    facts = _Facts(model, gradients, adjoints, local_derivatives)
    found: list[Insight] = []
    for finder in (_shared_factor, _output_only, _sign_rule, _canonical_link, _convex):
        found.extend(finder(facts))
    return tuple(found)


def _is_zero(expr: sp.Expr) -> bool:
    return sp.expand(expr) == 0 or sp.cancel(expr) == 0


def _factors(expr: sp.Expr) -> list[sp.Expr]:
    """The factors of a gradient as the engine wrote it (already simplified), numbers kept."""
    return list(sp.Mul.make_args(expr))


def _shared_factor(facts: _Facts) -> Iterator[Insight]:
    """All gradients share a factor; each is that factor times its input, or the factor alone."""
    gradients = {p: g for p, g in facts.gradients.items() if g != 0}
    if len(gradients) < 2:
        return
    factors = {p: _factors(g) for p, g in gradients.items()}
    common = set.intersection(*({f for f in fs if not f.is_number} for fs in factors.values()))
    if not common:
        return
    shared = sp.Mul(*sorted(common, key=sp.default_sort_key))
    # The quotient is what is left of each factor list: taken apart, never expanded (a deep
    # network's gradients are long products that expand exponentially).
    quotients = {}
    for p, fs in factors.items():
        rest = list(fs)
        for factor in common:
            rest.remove(factor)
        quotients[p] = sp.Mul(*rest)
    # The check: each gradient is exactly shared × quotient.
    if not all(sp.Mul(quotients[p], shared) == g for p, g in gradients.items()):
        return
    yield Insight("shared-factor", (shared,))
    loss = facts.model.loss
    # Weights whose gradient is the shared factor times the one name they multiply.
    inputs = set(facts.model.inputs) | set(facts.model.definition_map)
    scaled = [
        (p, q)
        for p, q in quotients.items()
        if q in inputs and all(facts.local_derivatives.get((c, p)) == q for c in _users(facts, p))
    ]
    # A bias is added: every local derivative of it is 1 (w1 in w1*x + w2*x is not a bias).
    biases = [
        p
        for p, q in quotients.items()
        if q == 1 and all(facts.local_derivatives.get((c, p)) == 1 for c in _users(facts, p))
    ]
    if scaled:
        expressions: list[sp.Expr] = [shared]
        for p, q in scaled:
            expressions += [Total(loss, p), q]
        every = len(scaled) + len(biases) == len(quotients)
        yield Insight("scaled-by-input", tuple(expressions), "every" if every else "some")
    for p in biases:
        yield Insight("unscaled", (shared, Total(loss, p), p))


def _users(facts: _Facts, name: sp.Symbol) -> list[sp.Symbol]:
    return [node for (node, parent) in facts.local_derivatives if parent == name]


def _output_only(facts: _Facts) -> Iterator[Insight]:
    """A local derivative written through the node's own output only (σ′ = a(1 − a)); where it peaks."""
    model = facts.model
    for (node, parent), local in facts.local_derivatives.items():
        definition = model.definition_map[node]
        if local.free_symbols != {node} or parent not in definition.free_symbols:
            continue
        raw = sp.diff(definition, parent)
        if not _is_zero(to_elementary(local.xreplace({node: definition}) - raw)):
            continue  # the check: substituting the definition back gives the raw derivative
        partial = Partial(node, parent)
        yield Insight("output-only", (partial, local, node, parent))
        peak = _peak(local, node, definition, parent)
        if peak is not None:
            at_output, at_input, value = peak
            yield Insight("maximum", (partial, value, node, at_output, parent, at_input))


def _peak(
    local: sp.Expr, node: sp.Symbol, definition: sp.Expr, parent: sp.Symbol
) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """The maximum of `local` over the output's range, and the input where it happens, if checked."""
    if definition.func not in _RANGES or definition.args != (parent,) or not local.is_polynomial(node):
        return None
    low, high = _RANGES[definition.func]
    slope = sp.Poly(sp.diff(local, node), node)
    critical = [c for c in sp.roots(slope, filter="R") if low < c < high] if slope.degree() > 0 else []
    if len(critical) != 1:
        return None
    (top,) = critical
    if not sp.diff(local, node, 2).subs(node, top).is_negative:
        return None
    at_input = _INVERSES[definition.func](top)
    if not (at_input.is_real and _is_zero(to_elementary(definition.subs(parent, at_input)) - top)):
        return None  # the check: the definition really takes the value `top` there
    value = local.subs(node, top)
    # The check: no sampled output in the open range gives a larger value.
    finite_high = high if high.is_finite else top + 10
    samples = [low + (finite_high - low) * sp.Rational(k, 64) for k in range(1, 64)]
    if any(local.subs(node, s) > value for s in samples):
        return None
    return top, at_input, value


def _difference_pairs(facts: _Facts) -> Iterator[tuple[sp.Symbol, sp.Symbol, sp.Symbol]]:
    """(node, output, target) where ∂L/∂node is exactly output − target."""
    model = facts.model
    targets = set(model.targets)
    for node, adjoint in facts.adjoints.items():
        names = adjoint.free_symbols  # computed once: adjoints of deep graphs are large
        if len(names) != 2 or len(names & targets) != 1:
            continue
        (target,) = names & targets
        (output,) = names - {target}
        if output != node and output in model.definition_map and _is_zero(adjoint - (output - target)):
            yield node, output, target


def _sign_rule(facts: _Facts) -> Iterator[Insight]:
    """When ∂L/∂z = a − y: a > y makes it positive, so gradient descent lowers z."""
    for node, output, target in _difference_pairs(facts):
        partial = Total(facts.model.loss, node)
        yield Insight("sign-rule", (partial, output, target, node))


def _canonical_link(facts: _Facts) -> Iterator[Insight]:
    """Name the output/loss pair when ∂L/∂z = a − y: the canonical link."""
    for node, output, target in _difference_pairs(facts):
        activation = _activation(facts.model.definition_map[output], node)
        if activation is None:
            continue
        partial = Total(facts.model.loss, node)
        yield Insight("canonical-link", (partial, output - target), activation)


def _convex(facts: _Facts) -> Iterator[Insight]:
    """The loss is convex in the parameters, with the proof's parts (`convexity.prove_convex`)."""
    proof = prove_convex(facts.model, facts.adjoints, facts.local_derivatives)
    if proof is None:
        return
    parts = []
    expressions: list[sp.Expr] = [proof.loss, proof.node, GradientOuter(proof.node)]
    if proof.curvature != 1:
        parts.append("curvature")
        expressions.append(proof.curvature)
    if proof.penalty != 0:
        parts.append("penalty")
        expressions.append(proof.penalty)
    if proof.constants:
        parts.append("constants")
        expressions += proof.constants
    yield Insight("convex", tuple(expressions), "+".join(parts))


def _activation(definition: sp.Expr, node: sp.Symbol) -> str | None:
    if definition == node:
        return "identity"
    if definition == sigmoid(node):
        return "sigmoid"
    if definition == sp.exp(node):
        return "exp"
    numerator, denominator = sp.fraction(definition)
    if (
        numerator == sp.exp(node)
        and isinstance(denominator, sp.Add)
        and numerator in denominator.args
        and all(isinstance(t, sp.exp) for t in denominator.args)
    ):
        return "softmax"
    return None
