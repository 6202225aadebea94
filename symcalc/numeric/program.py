"""The numeric program every back end reads: the derivation's forward and backward pass, stable in float64.

A derivation becomes a straight-line program of SymPy assignments: every
definition in file order under its own name (z = …, a = σ(z)), then every
adjoint the engine derived, in its order (dL_dz = a − y, dL_dh1 = dL_dz·v1),
then the parameter gradients. Each line is rewritten on its own into forms that
stay finite in float64 (log σ(z) → −softplus(−z), 1 − σ(z) → σ(−z),
1 − tanh(z)² → 1/cosh(z)², log(1 + u) → log1p(u), exp(u) − 1 → expm1(u)),
looking one level into the σ, tanh and exp definitions it reads; nothing is
ever composed into one tree, so size and cost grow linearly with the graph.
The lines are printed by a NumPy printer that writes σ and softplus without
overflow. `lambdify` only ever sees SymPy objects built by our parser, never a
string.
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
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.rewriting import FuncMinusOneOptim, ReplaceOptim, optimize
from sympy.printing.numpy import NumPyPrinter

from symcalc.errors import Location, SpecError
from symcalc.numeric.names import CodeNames, code_symbol
from symcalc.symbolic.forms import cancels_a_quotient, tree_size
from symcalc.symbolic.functions import sigmoid, softplus, spec_of
from symcalc.symbolic.graph import Model
from symcalc.symbolic.notation import Adjoint
from symcalc.symbolic.order import PositiveFirst
from symcalc.symbolic.steps import ChainRule, Derivation, LocalDerivatives

Array = np.ndarray[Any, np.dtype[np.float64]]

# -- stable rewriting -------------------------------------------------------------------------


def _is_sigmoid_term(term: sp.Expr, sign: int) -> bool:
    """`term` is sign·σ(u)."""
    if sign > 0:
        return isinstance(term, sigmoid)
    return term.is_Mul and len(term.args) == 2 and term.args[0] == -1 and isinstance(term.args[1], sigmoid)


def _complement_query(expr: sp.Expr) -> bool:
    """An Add holding 1 − σ(u) or σ(u) − 1 (possibly among other terms)."""
    if not expr.is_Add:
        return False
    args = expr.args
    return (sp.S.One in args and any(_is_sigmoid_term(t, -1) for t in args)) or (
        sp.S.NegativeOne in args and any(_is_sigmoid_term(t, +1) for t in args)
    )


def _complement_value(expr: sp.Expr) -> sp.Expr:
    """1 − σ(u) = σ(−u): no cancellation when σ(u) is close to 1."""
    terms = list(expr.args)
    if sp.S.One in terms:
        minus = next(t for t in terms if _is_sigmoid_term(t, -1))
        terms.remove(sp.S.One)
        terms.remove(minus)
        return sp.Add(sigmoid(-minus.args[1].args[0]), *terms)
    plus = next(t for t in terms if _is_sigmoid_term(t, +1))
    terms.remove(sp.S.NegativeOne)
    terms.remove(plus)
    return sp.Add(-sigmoid(-plus.args[0]), *terms)


def _exp_term(base: sp.Expr) -> sp.Expr | None:
    """u when `base` is 1 + exp(u), else None."""
    if base.is_Add and len(base.args) == 2 and sp.S.One in base.args:
        other = base.args[0] if base.args[1] == 1 else base.args[1]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _required(expr: sp.Expr | None) -> sp.Expr:
    assert expr is not None  # the query matched, so the value exists
    return expr


def _one_plus(arg: sp.Expr) -> sp.Expr | None:
    """u when `arg` is 1 + u, else None."""
    if arg.is_Add and sp.S.One in arg.args:
        return arg - 1
    return None


def _rational_in_sigmoid(expr: sp.Expr) -> sp.Expr:
    """Write exp(±u) beside σ(u) through s = σ(u) and cancel: the derivative of a hand-written σ.

    exp(−u) = (1 − s)/s, exp(u) = s/(1 − s) and σ(−u) = 1 − s are exact, and the
    rational function in s that results usually cancels to the short form
    (x·s − t·x rather than s²·x·((1 − t)/(1 − s) − t/s)·exp(−u), whose exp overflows).
    Kept only when it removes every exp(±u).
    """
    for atom in sorted(expr.atoms(sigmoid), key=sp.default_sort_key):
        u = atom.args[0]
        if not (expr.has(sp.exp(u)) or expr.has(sp.exp(-u))):
            continue
        s = sp.Dummy("s")
        rational = expr.xreplace(
            {sigmoid(u): s, sigmoid(-u): 1 - s, sp.exp(-u): (1 - s) / s, sp.exp(u): s / (1 - s)}
        )
        if rational.has(sp.exp(u), sp.exp(-u)):
            continue
        expr = sp.factor(sp.cancel(rational)).xreplace({s: sigmoid(u)})
    return expr


def _minus_tanh_squared(term: sp.Expr) -> sp.Expr | None:
    """u when `term` is −tanh(u)², else None."""
    if term.is_Mul and len(term.args) == 2 and term.args[0] == -1:
        power = term.args[1]
        if power.is_Pow and power.exp == 2 and isinstance(power.base, sp.tanh):
            return power.base.args[0]
    return None


def _sech_query(expr: sp.Expr) -> bool:
    """An Add holding 1 − tanh(u)² (among other terms or not)."""
    return bool(expr.is_Add and sp.S.One in expr.args and any(_minus_tanh_squared(t) for t in expr.args))


def _sech_value(expr: sp.Expr) -> sp.Expr:
    """1 − tanh(u)² = 1/cosh(u)²: no cancellation where tanh(u) is close to ±1 (|u| beyond a few)."""
    terms = list(expr.args)
    minus = next(t for t in terms if _minus_tanh_squared(t) is not None)
    terms.remove(sp.S.One)
    terms.remove(minus)
    return sp.Add(sp.cosh(_required(_minus_tanh_squared(minus))) ** -2, *terms)


def _hand_sigmoid_query(expr: sp.Expr) -> bool:
    return bool(expr.is_Pow and expr.exp.is_Integer and expr.exp < 0 and _exp_term(expr.base) is not None)


def _hand_sigmoid_value(expr: sp.Expr) -> sp.Expr:
    return sigmoid(-_required(_exp_term(expr.base))) ** (-expr.exp)


class _ExpMinusOne(FuncMinusOneOptim):
    """exp(u) − 1 → expm1(u) in a sum, as SymPy's `expm1_opt`, but not also on the factored expression:
    factoring takes minutes on a linear form of 70 weights and gigabytes on a composed tree."""

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        return ReplaceOptim.__call__(self, expr)


def _softmax_parts(expr: sp.Expr) -> tuple[sp.Expr, list[sp.Expr]] | None:
    """(u, [v₁, v₂, …]) when `expr` is exp(u)/(exp(v₁) + exp(v₂) + …), a softmax written out; else None."""
    if not expr.is_Mul or len(expr.args) != 2:
        return None
    top = next((f for f in expr.args if isinstance(f, sp.exp)), None)
    bottom = next((f for f in expr.args if f.is_Pow and f.exp == -1 and f.base.is_Add), None)
    if top is None or bottom is None or not all(isinstance(t, sp.exp) for t in bottom.base.args):
        return None
    return top.args[0], [t.args[0] for t in bottom.base.args]


def _softmax_value(expr: sp.Expr) -> sp.Expr:
    """exp(u − m)/Σ exp(vₖ − m) with m = max vₖ: every exp at most 1, the sum at least 1."""
    u, vs = _required(_softmax_parts(expr))
    m = sp.Max(*vs)
    return sp.exp(u - m) / sp.Add(*(sp.exp(v - m) for v in vs))


def _log_softmax_value(expr: sp.Expr) -> sp.Expr:
    """log(exp(u)/Σ exp(vₖ)) = u − m − log Σ exp(vₖ − m): finite where the ratio underflows to 0."""
    u, vs = _required(_softmax_parts(expr.args[0]))
    m = sp.Max(*vs)
    return u - m - sp.log(sp.Add(*(sp.exp(v - m) for v in vs)))


#: Rewrites applied in this order to every expression before it is compiled.
STABLE_REWRITES: tuple[ReplaceOptim, ...] = (
    # (written-out σ is named first, by `name_sigmoids`)
    # log of a softmax written out → u − max − log Σ exp(v − max) (log-sum-exp), before the ratio itself.
    ReplaceOptim(
        lambda e: isinstance(e, sp.log) and _softmax_parts(e.args[0]) is not None, _log_softmax_value
    ),
    # exp(u)/Σ exp(v) → exp(u − max)/Σ exp(v − max): no overflow for scores past 709.
    ReplaceOptim(lambda e: _softmax_parts(e) is not None, _softmax_value),
    # 1 − σ(u) → σ(−u).
    ReplaceOptim(_complement_query, _complement_value),
    # 1 − tanh(u)² → 1/cosh(u)² (the derivative of tanh, written through its output).
    ReplaceOptim(_sech_query, _sech_value),
    # log σ(u) = −softplus(−u): finite for every finite u.
    ReplaceOptim(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sigmoid),
        lambda e: -softplus(-e.args[0].args[0]),
    ),
    # log(1 + exp(u)) = softplus(u).
    ReplaceOptim(
        lambda e: isinstance(e, sp.log) and _exp_term(e.args[0]) is not None,
        lambda e: softplus(_exp_term(e.args[0])),
    ),
    # log(1 + u) → log1p(u), accurate for small u.
    ReplaceOptim(
        lambda e: isinstance(e, sp.log) and _one_plus(e.args[0]) is not None,
        lambda e: log1p(_one_plus(e.args[0])),
    ),
    # exp(u) − 1 → expm1(u).
    _ExpMinusOne(sp.exp, expm1),
)


#: (1 + exp(−u))^−n written by hand is σ(u)^n, which the printer computes without overflow.
_HAND_SIGMOID = ReplaceOptim(_hand_sigmoid_query, _hand_sigmoid_value)


def name_sigmoids(expr: sp.Expr) -> sp.Expr:
    """`expr` with every sigmoid written out by hand, (1 + exp(−u))^−n, named: σ(u)^n."""
    return _HAND_SIGMOID(expr)


def stable(expr: sp.Expr) -> sp.Expr:
    """`expr` rewritten into forms that stay finite and accurate in float64."""
    expr = name_sigmoids(expr)
    if expr.has(sp.exp) and expr.has(sigmoid):  # once, on the whole expression: it needs to see all of it
        expr = _rational_in_sigmoid(expr)
    return optimize(expr, STABLE_REWRITES)


def nested_calls(function: str, arguments: Sequence[str]) -> str:
    """f(a, f(b, c)): a two-argument function (max, min) over any number of printed arguments."""
    text = arguments[-1]
    for argument in reversed(arguments[:-1]):
        text = f"{function}({argument}, {text})"
    return text


class StablePrinter(PositiveFirst, NumPyPrinter):
    """NumPy code in the table's forms (σ and softplus never overflow); max and min pairwise; each
    sum in the terminal's order (yhat - y)."""

    def _print(self, expr: Any, **kwargs: Any) -> str:
        # The table first: its NumPy form wins over SymPy's own (math.erf would take scalars only).
        spec = spec_of(expr)
        if spec is not None and spec.numpy is not None:
            return spec.numpy(self, *expr.args)
        return str(super()._print(expr, **kwargs))

    def _nested(self, function: str, args: Sequence[sp.Expr]) -> str:
        # numpy.maximum pairwise: broadcasts scalars against arrays, imports nothing but numpy.
        return nested_calls(self._module_format(f"numpy.{function}"), [self._print(a) for a in args])

    def _print_And(self, expr: sp.Expr) -> str:
        # pairwise, not logical_and.reduce((…)): that fails on a mix of scalar and array conditions
        return self._nested("logical_and", expr.args)

    def _print_Or(self, expr: sp.Expr) -> str:
        return self._nested("logical_or", expr.args)

    def _print_Max(self, expr: sp.Expr) -> str:
        return self._nested("maximum", expr.args)

    def _print_Heaviside(self, expr: sp.Expr) -> str:
        # numpy.heaviside, not SymPy's select over x < 0, x == 0: that gives 1 at NaN where the
        # C kernel's sc_heaviside (and NumPy's own heaviside) give NaN
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        heaviside = self._module_format("numpy.heaviside")
        return f"{heaviside}({self._print(expr.args[0])}, {self._print(sp.Float(h0))})"

    def _print_Min(self, expr: sp.Expr) -> str:
        return self._nested("minimum", expr.args)


def make_printer() -> StablePrinter:
    return StablePrinter({"fully_qualified_modules": True, "inline": True})


# -- the program: the derivation's forward and backward pass, as SymPy objects ------------------


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
    batch_problem: str = "the program was built without its batch module"
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

#: Functions whose definitions a value's rewriting looks into: log(a) with a = σ(z) is −softplus(−z)
#: (and log(aₖ) with aₖ a softmax written out is a log-sum-exp).
_LOOK_INTO = (sigmoid, sp.tanh, sp.exp)


def build_program(derivation: Derivation) -> Program:
    """The forward pass (every definition) and backward pass (every adjoint, then the gradients)."""
    model = derivation.model
    refuse_numbers_beyond_float64(derivation)  # before `stable`, which is slow on such numbers
    names = _Names(derivation)
    rename = names.rename
    inside = {s: e for s, e in model.definitions if isinstance(e, _LOOK_INTO) or _softmax_parts(e)}
    forward = []
    defined: set[sp.Symbol] = set()
    for node, definition in model.definitions:
        value = _stable_line(definition, inside, defined)
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
        line = _stable_line(value, inside, defined).xreplace(rename)
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
        line = _stable_line(value, inside, defined).xreplace(rename)
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
        tuple(_stable_line(value, inside, defined).xreplace(rename) for value in second),
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


def _stable_line(value: sp.Expr, inside: dict[sp.Symbol, sp.Expr], defined: set[sp.Symbol]) -> sp.Expr:
    """`value` rewritten for float64, seeing through the σ, tanh and exp definitions it reads.

    log(a) with a = σ(z) is rewritten as −softplus(−z); what is left of σ(z) is read
    from a again, so nothing is computed twice.
    """
    logged = {a.args[0] for a in value.atoms(sp.log)}
    look = {
        s: inside[s]
        for s in value.free_symbols
        # a softmax only where its log is taken: log-sum-exp there, the output itself elsewhere
        if s in inside and s in defined and (_softmax_parts(inside[s]) is None or s in logged)
    }
    if not look:
        return stable(value)
    rewritten = stable(value.xreplace(look))
    return rewritten.xreplace({e: s for s, e in look.items()})


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
