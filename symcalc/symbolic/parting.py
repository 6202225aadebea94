"""Where a wrong claim leaves the derivation: the engine's own result, and the one factor of its chain
that, changed to what the claim implies, gives the claim exactly.

This explains a failed claim; it never decides one. The verdict comes from `symcalc.check`,
which compares the claim with SymPy's diff and never reads the derivation.

For a total derivative dL/dv whose chain runs through one definition at a time,
dL/dv = ∂L/∂a ⋅ ∂a/∂z ⋅ ∂z/∂v, a claim c implies for each factor f the value c⋅f / (dL/dv): the
chain with that one factor replaced is c, exactly. The simplest implied factor (a student's slip is
usually one step) is reported with the step that derived the engine's, when it is about as
simple as the engine's factor; otherwise only the engine's result is.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symcalc.symbolic.claims import Claim
from symcalc.symbolic.forms import as_teacher_writes, expands_cheaply, size, tidy
from symcalc.symbolic.notation import Partial, Total
from symcalc.symbolic.steps import Derivation

#: An implied factor counts as a plausible slip when it has at most this many operations more than
#: the engine's factor (x₂ for x₁ has none more; a sign or a factor of 2, one or two).
SLACK_OPS = 2


@dataclass(frozen=True)
class Factor:
    """One factor of the engine's chain for a total derivative, and the step that derived it."""

    symbol: Partial | Total  # ∂z/∂w1 (a local derivative) or dL/dc (an upstream gradient, whole)
    value: sp.Expr
    number: int  # of the step that derived it


@dataclass(frozen=True)
class Parting:
    """A failed claim beside the derivation: the engine's result for the same derivative (in the
    model's names), and the one factor of its chain where the claim leaves it, if one accounts for it."""

    claimed: Partial | Total  # what the claim is about, as it writes it: dL/dw1, ∂a/∂z
    engine: sp.Expr
    number: int  # of the step that derives the engine's result
    chain: tuple[Factor, ...] = ()
    factor: Factor | None = None
    implied: sp.Expr | None = None  # what the claim takes `factor` to be
    #: When the claim is a number times the engine's result (−1: a sign slip), that number: no one
    #: factor is to blame then, any of them could carry it.
    scale: sp.Expr | None = None


def parting(derivation: Derivation, claim: Claim) -> Parting | None:
    """Where `claim` leaves `derivation`, or None when the derivation has no result to set beside it
    (a second derivative derived without --hessian, an entry of a vector claim beyond the steps)."""
    if claim.second is not None:
        return None
    local = claim.local
    found = _equation_step(derivation, claim.of, claim.wrt, local)
    if found is None and _users(derivation).get(claim.wrt) == [claim.of]:
        local = True  # da/dz is ∂a/∂z where only a uses z
        found = _equation_step(derivation, claim.of, claim.wrt, local)
    if found is None:
        return None
    step, engine = found
    claimed = Partial(claim.of, claim.wrt) if claim.local else Total(claim.of, claim.wrt)
    if local or not _comparable(derivation, claim.expected, engine):
        return Parting(claimed, engine, step)
    if engine != 0 and (scale := sp.cancel(claim.expected / engine)).is_number:
        return Parting(claimed, engine, step, scale=scale)
    chain = _chain(derivation, claim.of, claim.wrt)
    if len(chain) < 2 or engine == 0 or sp.simplify(sp.Mul(*(f.value for f in chain)) - engine) != 0:
        return Parting(claimed, engine, step, chain)
    best: tuple[int, Factor, sp.Expr] | None = None
    for factor in chain:
        implied = tidy(claim.expected * factor.value / engine)
        extra = size(implied)[0] - size(tidy(factor.value))[0]
        plausible = implied.free_symbols <= _readable(derivation, factor) and extra <= SLACK_OPS
        if plausible and (best is None or extra < best[0]):
            best = (extra, factor, implied)
    if best is None:
        return Parting(claimed, engine, step, chain)
    definitions = derivation.model.definition_map
    return Parting(claimed, engine, step, chain, best[1], as_teacher_writes(best[2], definitions))


def _comparable(derivation: Derivation, claimed: sp.Expr, engine: sp.Expr) -> bool:
    """Whether the claim can be divided by the engine's result cheaply and meaningfully: both small
    enough to cancel (no high power of a sum), and the claim written in the model's names where the
    result is (a claim written out in the inputs and parameters is not read factor by factor, and
    cancelling it against a result in names can take minutes)."""
    if not (expands_cheaply(claimed) and expands_cheaply(engine)):
        return False
    named = set(derivation.model.definition_map)
    return bool(claimed.free_symbols & named) or not engine.free_symbols & named


def _readable(derivation: Derivation, factor: Factor) -> set[sp.Basic]:
    """The names a factor's value may read: for ∂c/∂v, those of c's definition and c itself (a local
    derivative sees nothing else); for an upstream dL/dc, those of the engine's value."""
    if not isinstance(factor.symbol, Total):
        of = factor.symbol.of
        return {of, *derivation.model.definition_map[of].free_symbols}
    return set(factor.value.free_symbols)


def _equation_step(
    derivation: Derivation, of: sp.Symbol, wrt: sp.Symbol, local: bool
) -> tuple[int, sp.Expr] | None:
    """The step deriving d(of)/d(wrt) (∂ when `local`) and its result in the model's names."""
    for step in derivation.steps:
        for equation in step.equations:
            if (equation.of, equation.wrt, equation.local, equation.second) == (of, wrt, local, None):
                return step.number, derivation.in_names(equation.result)
    return None


def _chain(derivation: Derivation, loss: sp.Symbol, wrt: sp.Symbol) -> tuple[Factor, ...]:
    """dL/d(wrt) as a product of factors, following the one definition that uses each name: local
    derivatives, ending at the loss or at an upstream dL/dc where c is used by several definitions.
    Empty where `wrt` itself is used by several (its gradient is a sum, not one product)."""
    users = _users(derivation)
    factors: list[Factor] = []
    node = wrt
    while node != loss:
        above = users.get(node, [])
        if len(above) != 1:
            if node == wrt:
                return ()
            found = _equation_step(derivation, loss, node, local=False)
            if found is None:
                return ()
            factors.append(Factor(Total(loss, node), found[1], found[0]))
            break
        user = above[0]
        found = _equation_step(derivation, user, node, local=True)
        if found is None:
            return ()
        factors.append(Factor(Partial(user, node), found[1], found[0]))
        node = user
    return tuple(reversed(factors))  # in the order the steps derive them: from the loss down


def _users(derivation: Derivation) -> dict[sp.Symbol, list[sp.Symbol]]:
    """Each name → the definitions that use it."""
    users: dict[sp.Symbol, list[sp.Symbol]] = {}
    for user, used in derivation.local_derivatives:
        users.setdefault(used, []).append(user)
    return users
