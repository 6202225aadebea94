"""The numeric program every back end reads: the derivation's forward and backward pass, stable in float64.

A derivation becomes a straight-line program of SymPy assignments: every
definition in file order under its own name (z = …, a = σ(z)), then every
adjoint the engine derived, in its order (dL_dz = a − y, dL_dh1 = dL_dz·v1),
then the parameter gradients. Each line is rewritten on its own into forms that
stay finite in float64 (log σ(z) → −softplus(−z), 1 − σ(z) → σ(−z),
1 − tanh(z)² → 1/cosh(z)², log(1 + u) → log1p(u), exp(u) − 1 → expm1(u)),
looking one level into the σ, tanh and exp definitions it reads; nothing is
ever composed into one tree, so size and cost grow linearly with the graph.
The rewriting, and the NumPy printer that writes σ and softplus without
overflow, are `symcalc.numeric.stable`. `lambdify` only ever sees SymPy
objects built by our parser, never a string.
`Program` is the seam between the derivation and the per-sample back ends
(`symcalc.numeric.c`, `symcalc.numeric.generic`); it carries the batch module too, which
`symcalc.numeric.model` runs as its NumPy back end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from symcalc.errors import Location, SpecError
from symcalc.numeric.names import CodeNames, code_symbol
from symcalc.numeric.stable import LOOK_INTO, name_sigmoids, softmax_parts, stable_line
from symcalc.symbolic.forms import cancels_a_quotient, tree_size
from symcalc.symbolic.functions import sigmoid
from symcalc.symbolic.graph import Model
from symcalc.symbolic.notation import Adjoint
from symcalc.symbolic.steps import ChainRule, Derivation, LocalDerivatives, Unsupported

Array = np.ndarray[Any, np.dtype[np.float64]]
#: Why a program built by `build_program` alone has no batch module (`codegen.numeric_program` adds it).
NOT_BUILT = Unsupported("batch module", "the program was built without its batch module")


@dataclass(frozen=True)
class Assignment:
    """One line of the program: `target = value`, in code symbols.

    `label` is what the line computes as the derivation writes it ("z", "dL/dz"),
    `step_number` the number of the derivation's step that derived it (None for a
    definition of the file) and `rule` how: "definition", "chain rule", or
    "local derivative" (dL/dn is ∂L/∂n when the loss is n's only user).
    """

    target: sp.Symbol
    value: sp.Expr
    label: str
    step_number: int | None
    rule: str


@dataclass(frozen=True)
class Program:
    """The derivation as a straight-line program: the forward pass, then the backward pass.

    `forward` holds every definition in file order, each under its own name;
    `backward` the adjoints dL/dn in the engine's order and then the parameter
    gradients, each either as the derivation simplified it or as the chain rule's
    sum over the adjoints of n's users, whichever is shorter. Every value is
    rewritten for float64 on its own (looking one level into the definitions of
    σ, tanh and exp it reads), never as one composed tree, so size and cost grow
    linearly with the graph. `loss` and `gradients` are the symbols (or 0) the
    outputs are read from; `logit` is u when the loss takes the log of a
    probability σ(u) (binary cross-entropy): the model predicts class 1 where u ≥ 0.
    """

    model: Model
    forward: tuple[Assignment, ...]
    backward: tuple[Assignment, ...]
    loss: sp.Symbol
    gradients: tuple[sp.Expr, ...]
    predictions: tuple[sp.Symbol, ...]
    logit: sp.Expr | None = None
    #: With a derivation's second derivatives: d²L/dθᵢdθⱼ for i ≤ j in parameter order (row by row of
    #: the Hessian's upper triangle), each rewritten for float64 on its own as every line is.
    hessian: tuple[sp.Expr, ...] = ()
    #: The batch module `codegen --target numpy` writes, which `NumericModel` runs
    #: (`symcalc.numeric.codegen.numeric_program`); "" without it, and `batch_problem` says why.
    batch_source: str = ""
    batch_problem: Unsupported | None = NOT_BUILT
    #: The targets the loss treats as 0/1 labels, where decided with the program (`train` decides them
    #: in the limited child: `symcalc.numeric.data.labels_of`); None when not yet decided.
    labels: tuple[str, ...] | None = None

    @cached_property
    def parameters(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.model.parameters)

    @cached_property
    def inputs(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.model.inputs)

    @cached_property
    def targets(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.model.targets)

    @property
    def constants(self) -> dict[str, float]:
        return {s.name: v for s, v in self.model.constants}

    @property
    def arguments(self) -> tuple[sp.Symbol, ...]:
        names = (*self.model.parameters, *self.model.inputs, *self.model.targets)
        return tuple(code_symbol(s) for s in (*names, *(s for s, _ in self.model.constants)))

    @property
    def outputs(self) -> tuple[sp.Expr, ...]:
        """The loss, then one gradient per parameter: what every back end sums over the samples."""
        return (self.loss, *self.gradients)

    @cached_property
    def assignments(self) -> tuple[Assignment, ...]:
        return (*self.forward, *self.backward)

    @cached_property
    def shared(self) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
        """The lines the outputs need, in order: (target, value) pairs."""
        return tuple((line.target, line.value) for line in self.needed(self.outputs))

    def needed(self, outputs: Sequence[sp.Expr]) -> tuple[Assignment, ...]:
        """The lines that computing `outputs` needs, in program order (dead code left out)."""
        wanted: set[sp.Symbol] = set()
        for expr in outputs:
            wanted |= expr.free_symbols
        kept = []
        for line in reversed(self.assignments):
            if line.target in wanted:
                kept.append(line)
                wanted |= line.value.free_symbols
        return tuple(reversed(kept))

    def value(self, symbol: sp.Symbol) -> sp.Expr:
        """What `symbol` is assigned, or `symbol` itself when it is an argument."""
        return self._values.get(symbol, symbol)

    @cached_property
    def _values(self) -> dict[sp.Symbol, sp.Expr]:
        return {line.target: line.value for line in self.assignments}


# -- building it from a derivation -------------------------------------------------------------


def build_program(derivation: Derivation) -> Program:
    """The forward pass (every definition) and backward pass (every adjoint, then the gradients)."""
    model = derivation.model
    refuse_numbers_beyond_float64(derivation)  # before `stable`, which is slow on such numbers
    names = _Names(derivation)
    rename = names.rename
    inside = {s: e for s, e in model.definitions if isinstance(e, LOOK_INTO) or softmax_parts(e)}
    forward = []
    defined: set[sp.Symbol] = set()
    for node, definition in model.definitions:
        value = stable_line(definition, inside, defined)
        forward.append(Assignment(rename[node], value.xreplace(rename), node.name, None, "definition"))
        defined.add(node)
    steps = _steps_by_node(derivation)
    backward = []
    chosen: dict[sp.Symbol, sp.Expr] = {}  # each adjoint's line, before the float64 rewrites
    for node in derivation.adjoints:
        if node == model.loss:
            continue
        value = chosen[names.adjoint(node)] = _shorter(derivation.adjoints[node], node, names, chosen)
        step, rule = steps.get(node, (None, "chain rule"))
        target = names.adjoint(node)
        line = stable_line(value, inside, defined).xreplace(rename)
        backward.append(Assignment(target, line, names.label(node), step, rule))
    gradients: list[sp.Expr] = []
    last = derivation.steps[-1].number if derivation.steps else None
    for parameter in model.parameters:
        result = derivation.gradients[parameter]
        if result == 0:
            gradients.append(sp.S.Zero)
            continue
        value = _shorter(result, parameter, names, chosen)
        target = names.adjoint(parameter)
        line = stable_line(value, inside, defined).xreplace(rename)
        backward.append(Assignment(target, line, names.label(parameter), last, "chain rule"))
        gradients.append(target)
    logit = find_logit(model)
    second = (derivation.hessian or {}).values()
    return Program(
        model,
        tuple(forward),
        tuple(backward),
        rename[model.loss],
        tuple(gradients),
        tuple(rename[s] for s in _predictions(model)),
        logit.xreplace(rename) if logit is not None else None,
        tuple(stable_line(value, inside, defined).xreplace(rename) for value in second),
    )


class _Names:
    """Code symbols: a declared name is its `code_symbol`; the adjoint dL/dn is `dL_dn`, spelled apart
    from every other name of the code by `CodeNames` (a file may declare a name `dL_dz` itself)."""

    def __init__(self, derivation: Derivation) -> None:
        model = derivation.model
        self.loss = model.loss
        declared = (*model.independents, *(n for n, _ in model.definitions))
        self.rename = {s: code_symbol(s) for s in declared}
        self.code = CodeNames(declared)
        self.users: dict[sp.Symbol, list[tuple[sp.Symbol, sp.Expr]]] = {}
        for (user, used), local in derivation.local_derivatives.items():
            self.users.setdefault(used, []).append((user, local))

    def adjoint(self, node: sp.Symbol) -> sp.Symbol:
        """The code symbol of dL/dnode (by name: an `Adjoint` reads its node back without assumptions)."""
        adjoint = sp.Symbol(self.label(node))
        return sp.Symbol(self.code.derive(adjoint, f"d{self.loss.name}_d{node.name}"), real=True)

    def label(self, node: sp.Symbol) -> str:
        return f"d{self.loss.name}/d{node.name}"


def _chain_sum(node: sp.Symbol, names: _Names) -> sp.Expr:
    """Σ over the users c of node of dL/dc · ∂c/∂node, with each dL/dc a symbol: the backward pass's line."""
    terms = []
    for user, local in names.users.get(node, ()):
        upstream = sp.S.One if user == names.loss else names.adjoint(user)
        terms.append(upstream * local)
    return sp.Add(*terms)


def _shorter(
    simplified: sp.Expr, node: sp.Symbol, names: _Names, chosen: Mapping[sp.Symbol, sp.Expr]
) -> sp.Expr:
    """The derivation's simplified dL/dnode where it cancels a division of the chain rule's sum (with
    the lines it reads, `chosen`, put in) or is no longer than the sum; else the sum.

    The simplified form cancels what the sum computes twice (a − y, or a(1 − y) − cw·y(1 − a) with a
    class weight, not dL/da·a(1 − a), 0·∞ where a rounds to 1); the sum keeps a deep chain linear.
    """
    chain = _chain_sum(node, names)
    simplified = simplified.xreplace({s: names.adjoint(s.node) for s in simplified.atoms(Adjoint)})
    if cancels_a_quotient(chain.xreplace(dict(chosen)), simplified):
        return simplified
    size = tree_size(chain, 10**9)
    return simplified if tree_size(simplified, size) <= size else chain


def _steps_by_node(derivation: Derivation) -> dict[sp.Symbol, tuple[int, str]]:
    """For each node, the step that gives dL/dnode and the rule it applies."""
    found: dict[sp.Symbol, tuple[int, str]] = {}
    for step in derivation.steps:
        if isinstance(step, ChainRule):
            found[step.node] = (step.number, "chain rule")
        elif isinstance(step, LocalDerivatives) and step.node == derivation.model.loss:
            for equation in step.equations:
                found.setdefault(equation.wrt, (step.number, "local derivative"))
    return found


def _predictions(model: Model) -> list[sp.Symbol]:
    """What the model predicts: the definitions the loss reads that do not depend on a target."""
    targets = set(model.targets)
    return [
        parent
        for parent in model.parents(model.loss)
        if parent in model.definition_map and not ((model.ancestors(parent) | {parent}) & targets)
    ]


def _beyond_float64(expr: sp.Expr) -> sp.Number | None:
    """The first number in `expr` that a double cannot hold (as the C kernel's `_double` rounds it)."""
    for number in sorted(expr.atoms(sp.Rational, sp.Float), key=sp.default_sort_key):
        try:
            value = int(number.p) / int(number.q) if number.is_Rational else float(number)
        except OverflowError:
            return number
        if not math.isfinite(value):
            return number
    return None


def refuse_numbers_beyond_float64(derivation: Derivation) -> None:
    """A SpecError at the first definition (or else at the loss, for a derivative) with a number beyond
    float64's range: no back end can evaluate it, and each would fail differently (OverflowError, inf,
    a refusal). Every line of the program is a definition or a derivative, so this covers them all."""
    model = derivation.model
    problem = None
    for name, definition in model.definitions:
        number = _beyond_float64(definition)
        if number is not None:
            key, problem = name, f"it has the number {_short(number)}"
            break
    else:
        results = {**derivation.adjoints, **derivation.gradients}
        for (_, used), local in derivation.local_derivatives.items():
            results.setdefault(used, local)
        for node, result in results.items():
            number = _beyond_float64(result)
            if number is not None:
                key = model.loss
                problem = f"its derivative d{model.loss}/d{node} has the number {_short(number)}"
                break
    if problem is not None:
        raise SpecError(
            f"{problem}, beyond float64's range (about 1.8e308): it cannot be evaluated numerically",
            Location(source=model.source, key=f"definitions.{key}"),
        )


def _short(number: sp.Number) -> str:
    return sp.Float(number, 3).__str__() if number.is_Rational else str(number)


def find_logit(model: Model) -> sp.Expr | None:
    """u in the first log(σ(u)) or log(1 − σ(u)) of a definition (looking into σ's own definition):
    the model's class-1 score, in the model's names."""
    inside = {s: e for s, e in model.definitions if isinstance(e, sigmoid)}
    for _, definition in model.definitions:
        for node in sp.preorder_traversal(name_sigmoids(definition.xreplace(inside))):
            if not isinstance(node, sp.log):
                continue
            arg = node.args[0]
            if isinstance(arg, sigmoid):
                return arg.args[0]
            if arg.is_Add and sp.S.One in arg.args:
                inner = [-t for t in arg.args if isinstance(-t, sigmoid)]
                if inner:
                    return inner[0].args[0]
    return None
