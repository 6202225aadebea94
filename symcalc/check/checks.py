"""Independent checks of a derivation (every step, gradient and claim) returned as data, never printed.

Each step's result, each gradient and each claim is compared with SymPy's diff of the
definitions (`symcalc.check.oracle`) by the ladder (`symcalc.check.ladder`); each
gradient is also compared with central differences (`symcalc.check.differences`).
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from symcalc.check.batch import batch_checks
from symcalc.check.differences import finite_differences
from symcalc.check.ladder import DEFAULT_LIMITS, Ladder, ProofLimits
from symcalc.check.oracle import elementary, independent_derivative, second_derivative, value_of
from symcalc.check.records import Check, Checks, Meant, strictly
from symcalc.symbolic.claimed_adjoints import put_in
from symcalc.symbolic.claims import Claim
from symcalc.symbolic.engine import derive
from symcalc.symbolic.expand import concrete, flat
from symcalc.symbolic.functions import text
from symcalc.symbolic.graph import Model
from symcalc.symbolic.notation import Partial, Total
from symcalc.symbolic.parting import parting
from symcalc.symbolic.steps import (
    Derivation,
    Equation,
    LocalDerivatives,
    ParameterGradients,
    Recognition,
    SecondDerivatives,
)
from symcalc.symbolic.vector import VectorResult
from symcalc.symbolic.vector_hessian import VectorSecond, identity, identity_value

DEFAULT_POINTS = 20  # random points per numeric comparison
DEFAULT_SEED = 0  # fixed, so two runs report the same points


def verify(
    derivation: Derivation,
    *,
    strict: bool = False,
    points: int = DEFAULT_POINTS,
    seed: int = DEFAULT_SEED,
    limits: ProofLimits = DEFAULT_LIMITS,
) -> Checks:
    """Check every step, every gradient (symbolically and by finite differences) and every claim.

    With `strict`, a result that agrees numerically but is not proved is a failure.
    """
    ladder = Ladder(derivation.model, points=points, seed=seed, limits=limits)
    checks: list[Check] = []
    names = derivation.in_names  # a result that reads dL/dc (a deep network's) is checked with its value
    for step in derivation.steps:
        if isinstance(step, SecondDerivatives):
            oracle = _OracleGradients(ladder.model)
            checks += [c for eq in step.equations for c in _second_order(ladder, step.number, eq, oracle)]
            continue
        if isinstance(step, Recognition):  # a written-out form replaced by a named function: an identity
            statement = f"{step.node} = {step.written} = {step.named}"
            name = f"step {step.number}: {step.node} is {step.named}"
            sides = ("written", "named")
            chain = (step.node, step.written, step.named)
            checks.append(ladder.decide(name, "step", statement, step.written, step.named, sides, chain))
        for shown in step.equations:
            equation = dataclasses.replace(
                shown,
                result=names(shown.result),
                unsimplified=None if shown.unsimplified is None else names(shown.unsimplified),
            )
            checks += _step(ladder, step.number, equation, local=isinstance(step, LocalDerivatives))
            if not isinstance(step, LocalDerivatives | ParameterGradients):
                checks.append(_chain_result(ladder, step.number, equation))
    gradients = {parameter: names(gradient) for parameter, gradient in derivation.gradients.items()}
    for parameter, gradient in gradients.items():
        checks.append(_gradient(ladder, parameter, gradient))
    for parameter, gradient in gradients.items():
        checks.append(finite_differences(ladder, parameter, gradient))
    for claim in derivation.model.claims:
        checks.append(_explained(_claim(ladder, claim), claim, derivation))
    if derivation.vector is not None:
        for result in derivation.vector.results:
            checks.append(_vector(ladder, result))
    for second in derivation.vector_hessian:
        checks.append(_vector_second(ladder, second))
    checks += batch_checks(derivation, seed)
    return Checks(strictly(check) for check in checks) if strict else Checks(checks)


def check_claim(
    model: Model,
    lhs: str,
    rhs: str,
    *,
    strict: bool = False,
    points: int = DEFAULT_POINTS,
    seed: int = DEFAULT_SEED,
    limits: ProofLimits = DEFAULT_LIMITS,
) -> Check:
    """Check one claim given as text, e.g. ``check_claim(model, "dL/dw1", "(y - a)*x1")``.

    The claim is parsed as a file's [claims] entry (`Model.claim`); an unknown name or
    function raises SymcalcError (bad input), it is not a failed check.
    """
    ladder = Ladder(model, points=points, seed=seed, limits=limits)
    claims = model.claims_of(lhs, rhs)
    checks = [_claim(ladder, claim) for claim in claims]
    if not all(check.holds for check in checks):  # the engine's result beside a failed claim
        derivation = derive(model)
        checks = [_explained(check, claim, derivation) for check, claim in zip(checks, claims, strict=True)]
    check = (
        _weakest(checks, f"claim {lhs.strip()}", f"{lhs.strip()} = {rhs}") if len(checks) > 1 else checks[0]
    )
    return strictly(check) if strict else check


def _weakest(checks: list[Check], name: str, statement: str) -> Check:
    """One check for a claim about a whole vector or matrix: its first failing entry (named), else
    its first entry that is not proved, else the first, under the whole claim's name."""
    failed = next((c for c in checks if not c.holds), None)
    weakest = failed or next((c for c in checks if not c.proved), None)
    if weakest is not None:
        return weakest
    return dataclasses.replace(checks[0], name=name, statement=statement)


# -- each kind of check: the derived side against SymPy's diff ----------------------------------


def _step(ladder: Ladder, number: int, equation: Equation, *, local: bool) -> list[Check]:
    """A step's simplification (before = after) and, for a local derivative, its result."""
    checks = []
    if equation.unsimplified is not None and not equation.unsimplified.has(Partial):
        before = value_of(equation.unsimplified)
        checks.append(
            ladder.decide(
                f"step {number}: {equation.name} simplified",
                "step",
                f"{equation.unsimplified} = {equation.result}",
                before,
                equation.result,
                ("before", "after"),
                (equation.unsimplified, equation.result),
            )
        )
    if local:
        definition = ladder.model.definition_map[equation.of]
        checks.append(_step_result(ladder, number, equation, sp.diff(elementary(definition), equation.wrt)))
    return checks


def _chain_result(ladder: Ladder, number: int, equation: Equation) -> Check:
    return _step_result(ladder, number, equation, ladder.through(equation.of, equation.wrt))


def _step_result(ladder: Ladder, number: int, equation: Equation, oracle: sp.Expr) -> Check:
    """A step's result against SymPy's diff: of the definition (local) or through the graph (total)."""
    return ladder.decide(
        f"step {number}: {equation.name}",
        "step",
        f"{equation.name} = {equation.result}",
        equation.result,
        oracle,
        ("derived", "SymPy's diff"),
        (equation.lhs, equation.result),
    )


def _gradient(ladder: Ladder, parameter: sp.Symbol, gradient: sp.Expr) -> Check:
    """A gradient against SymPy's diff of the loss with every definition that depends on the
    parameter substituted (the rest held fixed: composing those too only made it slower)."""
    model = ladder.model
    name = f"d{model.loss.name}/d{parameter.name}"
    return ladder.decide(
        f"gradient {name}",
        "gradient",
        f"{name} = {gradient}",
        gradient,
        ladder.through(model.loss, parameter),
        ("derived", "SymPy's diff"),
        (Total(model.loss, parameter), gradient),
    )


class _OracleGradients:
    """SymPy's dL/dθ for each parameter θ, each worked out once for the whole Hessian: through the
    graph (`through`, what `second_derivative` differentiates again) and of the composed loss
    (`composed`, what central differences difference)."""

    def __init__(self, model: Model):
        self.model = model
        self._through: dict[sp.Symbol, sp.Expr] = {}
        self._composed: dict[sp.Symbol, sp.Expr] = {}

    def through(self, parameter: sp.Symbol) -> sp.Expr:
        if parameter not in self._through:
            self._through[parameter] = independent_derivative(self.model, self.model.loss, parameter)
        return self._through[parameter]

    def composed(self, parameter: sp.Symbol) -> sp.Expr:
        if parameter not in self._composed:
            loss = elementary(self.model.composed[self.model.loss])
            self._composed[parameter] = sp.diff(loss, parameter)
        return self._composed[parameter]


def _second_order(
    ladder: Ladder, number: int, equation: Equation, gradients: _OracleGradients
) -> list[Check]:
    """A second derivative: its simplification, against SymPy's diff twice through the graph, and
    against central differences of SymPy's own gradient (of the composed loss)."""
    assert equation.second is not None
    model, first, second = ladder.model, equation.wrt, equation.second
    derived = ladder.decide(
        f"step {number}: {equation.name}",
        "second",
        f"{equation.name} = {equation.result}",
        equation.result,
        second_derivative(model, equation.of, first, second, gradients.through(first)),
        ("derived", "SymPy's diff, twice"),
        (equation.lhs, equation.result),
    )
    gradient = gradients.composed(first)
    differences = finite_differences(ladder, second, equation.result, (equation.lhs, gradient))
    return [*_step(ladder, number, equation, local=False), derived, differences]


def _vector(ladder: Ladder, result: VectorResult) -> Check:
    """A result in vector form, entry by entry at the written-out sizes, against SymPy's diff there.

    One check for the whole result: the first entry that fails (or is not proved), named, else
    the first entry's proof.
    """
    model = ladder.model
    assert model.shaped is not None
    arrays = model.shaped.arrays()
    targets = flat(arrays.get(result.node, result.node), 1)
    entries = flat(concrete(result.result, arrays), len(targets))
    statement = f"{result.name} = {text(result.result)}"
    checks = [
        ladder.decide(
            f"vector form {result.name} (entry {target})",
            "vector",
            statement,
            sp.sympify(entry),
            ladder.through(result.loss, target),
            ("vector form", "SymPy's diff"),
        )
        for target, entry in zip(targets, entries, strict=True)
    ]
    return _weakest(checks, f"vector form {result.name}", statement)


def _vector_second(ladder: Ladder, second: VectorSecond) -> Check:
    """A second derivative in vector form, entry by entry at the written-out sizes, against SymPy's
    diff twice there; one check, named by its first failing (or unproved) entry."""
    model = ladder.model
    assert model.shaped is not None
    arrays = model.shaped.arrays()
    pairs = [
        (first, then)
        for first in flat(arrays.get(second.first, second.first), 1)
        for then in flat(arrays.get(second.second, second.second), 1)
    ]
    entries = flat(concrete(second.result, arrays, {identity: identity_value}), len(pairs))
    statement = f"{second.name} = {text(second.result)}"
    checks = [
        ladder.decide(
            f"vector form {second.name} (entry {first}, {then})",
            "vector",
            statement,
            sp.sympify(entry),
            second_derivative(model, model.loss, first, then),
            ("vector form", "SymPy's diff, twice"),
        )
        for (first, then), entry in zip(pairs, entries, strict=True)
    ]
    return _weakest(checks, f"vector form {second.name}", statement)


def _explained(check: Check, claim: Claim, derivation: Derivation) -> Check:
    """A failed claim with the engine's result and where the two part (`symbolic.parting`), which
    explains the verdict; the verdict itself never reads the derivation."""
    if check.status != "fails":
        return check
    return dataclasses.replace(check, parting=parting(derivation, claim))


def _claim(ladder: Ladder, claim: Claim) -> Check:
    """A claim against SymPy's diff; a failed ∂-claim whose d-claim holds says so (`Meant`)."""
    check = _claim_alone(ladder, claim)
    if check.status != "fails" or not claim.local or claim.second is not None:
        return check
    total = dataclasses.replace(claim, local=False)
    if not _claim_alone(ladder, total).holds:
        return check
    local = sp.diff(elementary(ladder.model.definition_map[claim.of]), claim.wrt)
    return dataclasses.replace(check, meant=Meant(claim.of, claim.wrt, local, claim.expected))


def _claim_alone(ladder: Ladder, claim: Claim) -> Check:
    if claim.second is not None:  # d2L/dA dB: SymPy's diff through the graph, twice
        oracle = second_derivative(ladder.model, claim.of, claim.wrt, claim.second)
    elif claim.local:  # ∂a/∂z: SymPy's diff of that one definition, every other name held fixed
        oracle = sp.diff(elementary(ladder.model.definition_map[claim.of]), claim.wrt)
    else:
        oracle = ladder.through(claim.of, claim.wrt)
    # a dL/dc the claim names is SymPy's derivative through the graph too, never the engine's
    expected = put_in(claim.expected, ladder.model.symbols, ladder.through)
    # no `shown`: a claim is shown as its file wrote it
    return ladder.decide(
        f"claim {claim.name}",
        "claim",
        f"{claim.name} = {claim.text}",
        expected,
        oracle,
        ("claimed", "SymPy's diff"),
    )
