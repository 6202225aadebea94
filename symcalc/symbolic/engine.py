"""The chain rule, one node at a time: `derive(model) -> Derivation`.

Walk the definitions once in reverse order from the loss. At each node n,
first collect ∂L/∂n as the sum over its consumers c of ∂L/∂c · ∂c/∂n (the `+=`
that makes fan-out right), then differentiate n's own definition with respect
to what it uses. Every result stays in the model's intermediate names (a, z),
which is what keeps it short: the composed loss is never differentiated here.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable

import sympy as sp

from symcalc.errors import BatchUnsupported, VectorUnsupported
from symcalc.symbolic.batch import derive_batch_form
from symcalc.symbolic.forms import (
    as_teacher_writes,
    has_fraction,
    in_terms_of_outputs,
    join_powers,
    reduce_with,
    tidy,
    tree_size,
)
from symcalc.symbolic.functions import heaviside_as_step
from symcalc.symbolic.graph import Model
from symcalc.symbolic.kinks import away_from_kinks, kinks_of, without_point_masses
from symcalc.symbolic.matrix_hessian import vector_hessian_or_reason
from symcalc.symbolic.notation import Adjoint, Partial, Total, product, total
from symcalc.symbolic.recognise import Recognised, recognise_all
from symcalc.symbolic.second import hessian_pairs, second_derivative, tangents
from symcalc.symbolic.steps import (
    ChainRule,
    Derivation,
    Equation,
    LocalDerivatives,
    ParameterGradients,
    Recognition,
    SecondDerivatives,
    Step,
    Unsupported,
    Update,
)
from symcalc.symbolic.vector import derive_vector_form
from symcalc.symbolic.vector_hessian import VectorSecond

LEARNING_RATE_NAMES = ("alpha", "eta", "lr", "learning_rate")
#: Nodes in an upstream dL/dc's tree above which a result reads it as the symbol dL/dc (`Adjoint`)
#: rather than its value: a network's results would otherwise grow by its width at every layer.
#: Every adjoint of the shipped models is under 25.
INLINE_NODES = 60
#: Why a batch-level model (`spec.shapes.batch_inputs`) has no batch form over samples.
BATCH_LEVEL = Unsupported(
    "batch form", "a batch-level model's loss is over its whole batch already; nothing is averaged for it"
)


def derive(model: Model, *, hessian: bool = False, written_out_hessian: bool = True) -> Derivation:
    """Apply the chain rule through `model`'s graph and record every step.

    A definition that is σ, tanh or softplus written out with exp and log is first
    replaced by the named function (a step of its own), so that it derives to the
    textbook answer; the derivation's model is the one with the named functions.
    With `hessian`, a last step differentiates each gradient once more (`SecondDerivatives`);
    SecondOrderUnsupported past `MAX_SECOND_ORDER_PARAMETERS` parameters. Without
    `written_out_hessian`, only the batch form's second derivatives (what training on arrays reads):
    the written-out ones of a network cost far more and are not used there.
    """
    recognised = recognise_all(model.definitions)
    if recognised:
        named = {r.node: r.named for r in recognised}
        definitions = tuple((node, named.get(node, expr)) for node, expr in model.definitions)
        model = dataclasses.replace(model, definitions=definitions)
    derivation = _Backprop(model, recognised).run()
    if hessian and written_out_hessian:
        derivation = _second_order(derivation)
    if model.shaped is None:
        return derivation
    try:
        vector = derive_vector_form(model.shaped, model.loss, model.shaped.parameters, model.shaped.batch)
    except VectorUnsupported as err:  # the written-out steps stand on their own
        return dataclasses.replace(
            derivation,
            vector_problem=Unsupported("vector form", str(err)),
            batch_problem=Unsupported("batch form", str(err)),
        )
    derivation = dataclasses.replace(derivation, vector=vector)
    second: tuple[VectorSecond, ...] = ()
    if hessian:
        second, problem = vector_hessian_or_reason(model.shaped, vector, model.loss)
        missing = Unsupported("vector second derivatives", problem) if problem else None
        derivation = dataclasses.replace(derivation, vector_hessian=second, vector_hessian_problem=missing)
    if model.shaped.batch:  # its loss is over a batch already: J = (1/m) Σ L would average batches
        return dataclasses.replace(derivation, batch_problem=BATCH_LEVEL)
    try:
        batch = derive_batch_form(model.shaped, vector, model.shaped.data, model.loss, second)
    except BatchUnsupported as err:
        if not second:
            return dataclasses.replace(derivation, batch_problem=Unsupported("batch form", str(err)))
        try:  # second derivatives with no batch form (kron in d2L/dW^2): the gradients' batch form alone
            batch = derive_batch_form(model.shaped, vector, model.shaped.data, model.loss)
        except BatchUnsupported as again:
            return dataclasses.replace(derivation, batch_problem=Unsupported("batch form", str(again)))
    return dataclasses.replace(derivation, batch=batch)


class _Backprop:
    """Traversal state for one derivation, local to it."""

    def __init__(self, model: Model, recognised: list[Recognised] | None = None):
        self.model = model
        self.loss = model.loss
        self.relevant = _relevant_nodes(model)
        self.steps: list[Step] = [
            Recognition(number, r.node, r.function, r.written, r.named)
            for number, r in enumerate(recognised or (), start=1)
        ]
        self.adjoints: dict[sp.Symbol, sp.Expr] = {self.loss: sp.S.One}
        self.locals: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr] = {}
        # For each name, the consumers that use it, in the order they were visited.
        self.consumers: dict[sp.Symbol, list[sp.Symbol]] = defaultdict(list)

    def run(self) -> Derivation:
        for node in _backward_order(self.model, self.relevant):
            if node != self.loss:
                self.carry_to(node)
            self.differentiate(node)
        gradients = self.parameter_gradients()
        rate = _learning_rate_symbol(self.model)
        updates = tuple(Update(p, g, rate) for p, g in gradients.items())
        return Derivation(
            model=self.model,
            steps=tuple(self.steps),
            gradients=gradients,
            updates=updates,
            adjoints=dict(self.adjoints),
            local_derivatives=dict(self.locals),
        )

    def differentiate(self, node: sp.Symbol) -> None:
        """Local partial derivatives of node's definition w.r.t. the names gradients flow through."""
        definition = self.model.definition_map[node]
        partial = _partials(definition)
        equations = []
        for parent in self.model.parents(node):
            if parent not in self.relevant and parent not in self.model.parameters:
                continue
            raw = partial(parent)
            result = as_teacher_writes(
                in_terms_of_outputs(raw, self.model.outputs_near(node)), self.model.definition_map
            )
            self.locals[(node, parent)] = result
            self.consumers[parent].append(node)
            shown_raw = raw if result != raw else None
            equations.append(Equation(node, parent, result, unsimplified=shown_raw, local=True))
        if equations:
            self.steps.append(LocalDerivatives(self.next_number(), node, tuple(equations)))

    def carry_to(self, node: sp.Symbol) -> None:
        """∂L/∂node from its consumers; shown as a step unless it is just ∂L/∂node itself."""
        equation = self.chain_equation(node)
        self.adjoints[node] = equation.result
        if equation.chain is not None:
            paths = len(self.consumers[node])
            self.steps.append(ChainRule(self.next_number(), node, (equation,), paths))

    def chain_equation(self, node: sp.Symbol) -> Equation:
        users = self.consumers[node]
        if users == [self.loss]:
            return Equation(self.loss, node, self.locals[(self.loss, node)])
        pattern = [
            product(Total(self.loss, c), Partial(c, node)) if c != self.loss else Partial(self.loss, node)
            for c in users
        ]
        upstream = {c: self.upstream(c) for c in users}
        values = [product(upstream[c], self.locals[(c, node)]) for c in users]
        exact = sp.Add(*(upstream[c] * self.locals[(c, node)] for c in users))
        first = users[0]
        result = _product(upstream[first], self.locals[(first, node)]) if len(users) == 1 else tidy(exact)
        result, used = reduce_with(result, [expr for _, expr in self.model.assumptions])
        result = as_teacher_writes(result, self.model.definition_map)
        using = tuple(self.model.assumptions[i][0] for i in used)
        # Show the values put into the pattern only when simplifying them changed something.
        shown = total(*values) if result != exact or len(users) > 1 else None
        return Equation(self.loss, node, result, chain=total(*pattern), unsimplified=shown, using=using)

    def upstream(self, user: sp.Symbol) -> sp.Expr:
        """dL/duser as a result that uses it writes it: its value, or the symbol once the value is large."""
        value = self.adjoints[user]
        if user != self.loss and tree_size(value, INLINE_NODES) > INLINE_NODES:
            return Adjoint.of(self.loss, user)
        return value

    def parameter_gradients(self) -> dict[sp.Symbol, sp.Expr]:
        gradients: dict[sp.Symbol, sp.Expr] = {}
        equations = []
        for parameter in self.model.parameters:
            if not self.consumers[parameter]:
                gradients[parameter] = sp.S.Zero
                equations.append(Equation(self.loss, parameter, sp.S.Zero))
                continue
            equation = self.chain_equation(parameter)
            gradients[parameter] = equation.result
            equations.append(equation)
        self.steps.append(ParameterGradients(self.next_number(), self.loss, tuple(equations)))
        return gradients

    def next_number(self) -> int:
        return len(self.steps) + 1


def _second_order(derivation: Derivation) -> Derivation:
    """The derivation with its `SecondDerivatives` step and `hessian`: each gradient differentiated
    by each parameter at or after its own, forward through the local derivatives."""
    model = derivation.model
    pairs = hessian_pairs(model)
    carried = {p: tangents(model, p, derivation.local_derivatives) for p in model.parameters}
    gradients = {p: derivation.in_names(g) for p, g in derivation.gradients.items()}
    results: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr] = {}
    equations = []
    raw = []
    for first, second in pairs:
        result, chain, values = second_derivative(model, gradients[first], second, carried[second])
        raw.append(result)
        result = away_from_kinks(result)  # a point mass left out, said in words (`SecondDerivatives.kinks`)
        values = None if values is None else away_from_kinks(values)
        chain = None if chain is None else without_point_masses(chain)
        results[(first, second)] = result
        shown = values if values is not None and values != result else None
        equations.append(Equation(model.loss, first, result, chain=chain, unsimplified=shown, second=second))
    step = SecondDerivatives(len(derivation.steps) + 1, model.loss, tuple(equations), kinks_of(raw))
    return dataclasses.replace(derivation, steps=(*derivation.steps, step), hessian=results)


def _partials(definition: sp.Expr) -> Callable[[sp.Symbol], sp.Expr]:
    """∂definition/∂name for each name, differentiating only the terms of a sum that hold it.

    sp.diff of a 400-term sum looks at every term for every name, so a linear form
    over n features cost n² term visits; grouping the terms by name once makes it n.
    """
    if not isinstance(definition, sp.Add):
        return lambda name: heaviside_as_step(join_powers(sp.diff(definition, name)))
    terms: dict[sp.Symbol, list[sp.Expr]] = defaultdict(list)
    for term in definition.args:
        for name in term.free_symbols:
            terms[name].append(term)
    return lambda name: heaviside_as_step(sp.Add(*(join_powers(sp.diff(term, name)) for term in terms[name])))


def _product(upstream: sp.Expr, local: sp.Expr) -> sp.Expr:
    """upstream × local, simplified where that can pay off.

    Multiplying by an upstream 1 changes nothing: the local derivative keeps its
    form. Where neither factor has a fraction nothing can cancel, so the product
    is kept as it is (upstream is already simplified): tidying a deep network's
    long products again at every node made deriving 200 layers quadratic in cost.
    """
    if upstream == 1:
        return local
    if not (has_fraction(upstream) or has_fraction(local)):
        return upstream * tidy(local)
    return tidy(upstream * local)


def _backward_order(model: Model, nodes: set[sp.Symbol]) -> list[sp.Symbol]:
    """`nodes` layer by layer from the loss: by longest distance to the loss, then file order.

    Every consumer of a node is strictly nearer the loss, so this is a reverse
    topological order; grouping by distance makes a network read layer by layer
    (both hidden units, then both pre-activations) rather than unit by unit.
    """
    distance: dict[sp.Symbol, int] = {model.loss: 0}
    for node, _ in reversed(model.definitions):
        if node not in nodes or node not in distance:
            continue
        for parent in model.parents(node):
            if parent in nodes:
                distance[parent] = max(distance.get(parent, 0), distance[node] + 1)
    ordered = [node for node, _ in model.definitions if node in distance and node in nodes]
    return sorted(ordered, key=lambda n: (distance[n], model.order[n]))


def _relevant_nodes(model: Model) -> set[sp.Symbol]:
    """Definitions on some path from a parameter to the loss: the only ones gradients cross."""
    feeds_loss = model.ancestors(model.loss) | {model.loss}
    params = set(model.parameters)
    relevant = set()
    for node, _ in model.definitions:
        if node in feeds_loss and model.ancestors(node) & params:
            relevant.add(node)
    return relevant


def _learning_rate_symbol(model: Model) -> sp.Symbol:
    taken = set(model.symbols)
    name = next((n for n in LEARNING_RATE_NAMES if n not in taken), "alpha_lr")
    return sp.Symbol(name, positive=True)
