"""The ladder that decides whether two expressions are equal, strongest rung first, and which rung decided.

1. ``proved``: the difference, with definitions substituted one level at a time
   down to the independent names, cancels to 0 in canonical form (`symcalc.check.prove`);
   a difference that cancels to a non-zero number fails at once, with a point.
   Once the random points below agree (so a wrong claim never pays): proof by
   cases (signs of kinks, members of finite domains), then a size-bounded
   thorough ``cancel`` and ``simplify`` (`ProofLimits`);
2. ``numerically``: both sides evaluated with mpmath at 50 digits at random
   points, each name over its domain (`symcalc.spec.domains`); a point where they
   differ is a counterexample (confirmed at 100 digits, and only where each side
   is stable between 50 and 100 digits) and the check ``fails``; agreement everywhere
   without a proof ``holds`` but is flagged as not proved.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mpmath
import sympy as sp

from symcalc.check.clearest import SEARCH_POINTS, activations, clearest, saturated
from symcalc.check.evaluate import CONFIRM_DIGITS, DIGITS, kinks
from symcalc.check.oracle import elementary, independent_derivative
from symcalc.check.prove import Canonical, by_cases, by_members, cancelled, known_signs, piecewise_atoms
from symcalc.check.records import Check, Counterexample, check_maker
from symcalc.check.sample import ATTEMPTS_PER_POINT, Point, Sampler
from symcalc.errors import EvaluationUnsupported, Undefined
from symcalc.symbolic.graph import Model
from symcalc.symbolic.shared import free_symbols, xreplace

SCREEN_POINTS = 2  # points compared before any proof is tried: most wrong claims fail here
RELATIVE_TOLERANCE = 1e-30  # far below any honest mistake (1e-12), far above 50-digit round-off
ABSOLUTE_TOLERANCE = 1e-40  # below it, a value may be round-off: 1 − σ(1400) is 0 at 50 and 100 digits
STABLE_RTOL = 1e-20  # a mismatch counts only where each side's 50- and 100-digit values agree this far
KINK_MARGIN = 1e-20  # points this close to a kink (relu, max, abs at 0) are skipped


@dataclass(frozen=True)
class ProofLimits:
    """How much symbolic work a comparison may spend on a proof before it settles for numeric agreement.

    The defaults keep every check of a shipped model within seconds. With `prove` off only
    the numeric rung decides: a quick screen in which nothing is reported proved.
    """

    prove: bool = True
    thorough_cancel_max_ops: int = 300  # cancel inside exp took 25 s on a 423-operation difference
    simplify_max_ops: int = 100  # simplify took 8 s on a 132-operation difference: beyond this, go numeric


DEFAULT_LIMITS = ProofLimits()


class Ladder:
    """Decides comparisons for one model, sharing its random points between checks."""

    def __init__(self, model: Model, *, points: int, seed: int, limits: ProofLimits):
        if points < 1:
            raise ValueError("points must be at least 1")
        self.model = model
        self.points = points
        self.limits = limits
        self.sampler = Sampler(model, seed, limit=points * ATTEMPTS_PER_POINT)
        # The file's assumptions (one-hot targets: y3 = 1 − y1 − y2) are substituted into
        # both sides of every comparison, and every random point meets them.
        self.solved = model.assumption_solutions
        self.definitions = {sym: d.xreplace(self.solved) for sym, d in model.definition_map.items()}
        self.assuming = "; ".join(text for text, _ in model.assumptions)
        self.signs = known_signs(_signs_of(model))
        self._through: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr] = {}
        self._composed: dict[sp.Symbol, sp.Expr] = {}
        self._activations: tuple[tuple[sp.Expr, tuple[int, ...]], ...] | None = None
        #: One rewriting for every proof: the definitions substituted recur in every comparison.
        self.rewrite = Canonical()

    def through(self, of: sp.Symbol, wrt: sp.Symbol) -> sp.Expr:
        """SymPy's d(of)/d(wrt) through the graph (`oracle.independent_derivative`), worked out once:
        a step, a vector-form entry and a claim of the same derivative share it."""
        if (of, wrt) not in self._through:
            self._through[of, wrt] = independent_derivative(self.model, of, wrt)
        return self._through[of, wrt]

    def composed(self, name: sp.Symbol) -> sp.Expr:
        """A definition with every definition it uses substituted, down to the independent names."""
        if name not in self._composed:
            definition = self.definitions[name]
            used = free_symbols(definition) & self.definitions.keys()
            self._composed[name] = xreplace(definition, {sym: self.composed(sym) for sym in used})
        return self._composed[name]

    def decide(
        self,
        name: str,
        kind: str,
        statement: str,
        left: sp.Expr,
        right: sp.Expr,
        sides: tuple[str, str],
        shown: tuple[object, ...] = (),
    ) -> Check:
        """Whether left = right, decided by the strongest rung that can: proved, refuted or numerically.
        `shown`: the statement's sides for the terminal (`Check.shown`)."""
        make = check_maker(name, kind, statement, self.assuming, shown)
        left, right = xreplace(left, self.solved), xreplace(right, self.solved)
        # A few points first: a wrong claim is refuted there, before any symbolic work it cannot win.
        failed, _ = self.compare_at_points(make, left, right, sides, min(SCREEN_POINTS, self.points))
        if failed is not None:
            return failed
        composed = left - right
        if self.limits.prove:
            proved, composed = self.prove_cheaply(left, right)
            if proved:
                return make("holds", "proved", "the difference simplifies to 0")
            if composed.is_number and composed != 0:
                return self.refute_by_constant(make, left, right, composed, sides)
        failed, agreed = self.compare_at_points(make, left, right, sides, self.points)
        if failed is not None:
            return failed
        if agreed == 0:
            return make("undecided", "numerically", "not proved, and no point where both sides are defined")
        # Only now the costly rungs: a counterexample, when there is one, is found far sooner.
        if self.limits.prove and self.prove_by_cases(left, right):
            return make("holds", "proved", "the difference is 0 in every case (away from the kinks)")
        if self.limits.prove and self.prove_costly(composed):
            return make("holds", "proved", "the difference simplifies to 0")
        return make(
            "holds",
            "numerically",
            f"not proved; agrees to {DIGITS} digits at {agreed} random points",
        )

    def compare_at_points(
        self, make: Callable[..., Check], left: sp.Expr, right: sp.Expr, sides: tuple[str, str], wanted: int
    ) -> tuple[Check | None, int]:
        """Both sides at up to `wanted` points: a failed (or undecided) check, or None and how many agreed."""
        suspects = kinks(left) + kinks(right)
        agreed = 0
        for point in self.sampler.points():
            if agreed == wanted:
                break
            try:
                if any(abs(point.at(k)) <= KINK_MARGIN for k in suspects):
                    continue
                lhs, rhs = point.at(left), point.at(right)
                if _negligible(lhs, rhs):
                    continue  # no evidence either way here: another point
                if not _close(lhs, rhs):
                    confirm = point.confirmed
                    lhs_100, rhs_100 = confirm(left), confirm(right)
                    if not (_stable(lhs, lhs_100) and _stable(rhs, rhs_100)):
                        continue  # ill-conditioned here (1 − σ(200) is 0 at 50 digits): another point
                    if not _close(lhs_100, rhs_100):
                        example = self.clearest(left, right, sides, (point, lhs_100, rhs_100))
                        detail = f"differs by {_shown(example.difference)} at a point ({DIGITS}+ digits)"
                        return make("fails", "numerically", detail, example), agreed
            except Undefined:
                continue  # a side is undefined here: another point, not a mismatch
            except EvaluationUnsupported as err:
                return make("undecided", "numerically", f"not proved, and {err}"), agreed
            agreed += 1
        return None, agreed

    def clearest(
        self, left: sp.Expr, right: sp.Expr, sides: tuple[str, str], first: tuple[Point, Any, Any]
    ) -> Counterexample:
        """Where to show a mismatch found at `first`: of the first SEARCH_POINTS points, where the two
        sides differ most in relative terms with no activation saturated (`symcalc.check.clearest`)."""
        if self._activations is None:
            self._activations = activations(self.model)
        found = self._activations
        suspects = kinks(left) + kinks(right)
        candidates = [(*first, saturated(first[0].confirmed, found))]
        for point in itertools.islice(self.sampler.points(), SEARCH_POINTS):
            if point is first[0]:
                continue
            try:
                if any(abs(point.at(k)) <= KINK_MARGIN for k in suspects):
                    continue
                lhs, rhs = point.at(left), point.at(right)
                if _negligible(lhs, rhs) or _close(lhs, rhs):
                    continue
                lhs_100, rhs_100 = point.confirmed(left), point.confirmed(right)
                if _stable(lhs, lhs_100) and _stable(rhs, rhs_100) and not _close(lhs_100, rhs_100):
                    candidates.append((point, lhs_100, rhs_100, saturated(point.at, found)))
            except (Undefined, EvaluationUnsupported):
                continue
        point, lhs, rhs, _ = candidates[clearest(candidates)]
        with mpmath.workdps(CONFIRM_DIGITS):
            return point.counterexample(lhs, rhs, lhs - rhs, sides)

    def refute_by_constant(
        self,
        make: Callable[..., Check],
        left: sp.Expr,
        right: sp.Expr,
        constant: sp.Expr,
        sides: tuple[str, str],
    ) -> Check:
        """A difference equal to a non-zero number fails, shown at the first point where both sides exist."""
        shown = mpmath.nstr(mpmath.mpf(sp.Float(constant, CONFIRM_DIGITS)), 3)
        detail = f"the difference simplifies to the constant {shown}, not 0"
        if self._activations is None:
            self._activations = activations(self.model)
        candidates = []
        for point in itertools.islice(self.sampler.points(), SEARCH_POINTS):
            try:
                lhs, rhs = point.confirmed(left), point.confirmed(right)
            except Undefined:
                continue
            except EvaluationUnsupported:
                break
            candidates.append((point, lhs, rhs, saturated(point.confirmed, self._activations)))
        if not candidates:
            return make("fails", "numerically", detail)
        point, lhs, rhs, _ = candidates[clearest(candidates)]
        example = point.counterexample(lhs, rhs, sp.Float(constant, CONFIRM_DIGITS), sides)
        return make("fails", "numerically", detail, example)

    def prove_cheaply(self, left: sp.Expr, right: sp.Expr) -> tuple[bool, sp.Expr]:
        """Whether left − right cancels to 0 cheaply, and the difference in independent names.

        Intermediates are kept as symbols while both sides use them (if the
        difference is 0 with them free, it is 0 whatever they are); a name only
        one side uses is substituted first, since the other side is written
        without it; then the rest, one definition at a time, latest first, so the
        large composed expression is reached only when nothing shorter works.
        False means only "no proof found"; the difference returned is then a
        non-zero number when it cancels to one (a refutation).
        """
        while True:
            left_names = free_symbols(left) & self.definitions.keys()
            right_names = free_symbols(right) & self.definitions.keys()
            if not left_names or not right_names:  # every name one-sided: all substituted, at once
                left, right = (self.compose(side) for side in (left, right))
                left_names = right_names = set()
            one_sided = left_names ^ right_names
            if one_sided:
                left, right = self.substitute(max(one_sided, key=self.model.order.__getitem__), left, right)
                continue
            result = cancelled(elementary(left - right), self.rewrite)
            if result is not None and result == 0:
                return True, left - right
            if result is not None and result.is_number and result.is_real:
                return False, result
            pending = (free_symbols(left) | free_symbols(right)) & self.definitions.keys()
            if not pending:
                return False, left - right
            left, right = self.substitute(max(pending, key=self.model.order.__getitem__), left, right)

    def prove_by_cases(self, left: sp.Expr, right: sp.Expr) -> bool:
        """Whether left − right is 0 in every case: each member of a finite domain, each sign of each kink.

        Definitions are substituted as in `prove_cheaply`, trying the cases at each level,
        since a piecewise atom may appear only once a definition is written out.
        """
        members = {
            sym: tuple(sp.Rational(m.numerator, m.denominator) for m in domain.members)
            for sym, domain in self.model.domain_map.items()
            if domain.members is not None
        }
        while True:
            one_sided = (free_symbols(left) ^ free_symbols(right)) & self.definitions.keys()
            if one_sided:
                left, right = self.substitute(max(one_sided, key=self.model.order.__getitem__), left, right)
                continue
            difference = elementary(left - right)
            splits = piecewise_atoms(difference) or members.keys() & free_symbols(difference)
            if splits and by_members(difference, members, lambda leaf: by_cases(leaf, self.signs)):
                return True
            pending = (free_symbols(left) | free_symbols(right)) & self.definitions.keys()
            if not pending:
                return False
            left, right = self.substitute(max(pending, key=self.model.order.__getitem__), left, right)

    def compose(self, expr: sp.Expr) -> sp.Expr:
        used = free_symbols(expr) & self.definitions.keys()
        return xreplace(expr, {sym: self.composed(sym) for sym in used}) if used else expr

    def substitute(self, name: sp.Symbol, *exprs: sp.Expr) -> tuple[sp.Expr, ...]:
        return tuple(xreplace(expr, {name: self.definitions[name]}) for expr in exprs)

    def prove_costly(self, difference: sp.Expr) -> bool:
        """cancel looking inside exp and powers, then simplify, each only below a size that finishes soon."""
        composed = elementary(difference)
        if _cancels_thoroughly(composed, self.limits.thorough_cancel_max_ops):
            return True
        if sp.count_ops(composed) > self.limits.simplify_max_ops:
            return False
        try:
            return bool(sp.simplify(composed) == 0)
        except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
            return False


def _cancels_thoroughly(expr: sp.Expr, max_ops: int) -> bool:
    """Whether `expr` cancels to 0 with cancel looking inside exp and powers (only below a size bound)."""
    if expr == 0:
        return True
    if sp.count_ops(expr) > max_ops:
        return False
    try:
        return bool(sp.cancel(sp.together(expr)) == 0)
    except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
        return False


def _signs_of(model: Model) -> dict[sp.Symbol, int]:
    """Names of one sign throughout: a domain on one side of 0, or a constant (its default's sign).

    0 itself, where allowed, is a kink: proofs by cases hold away from kinks.
    """
    signs = {sym: 1 if value > 0 else -1 for sym, value in model.constants if value != 0}
    for sym, domain in model.domain_map.items():
        low = min(domain.members) if domain.members else domain.low
        high = max(domain.members) if domain.members else domain.high
        if low is not None and low >= 0:
            signs[sym] = 1
        elif high is not None and high <= 0:
            signs[sym] = -1
    return signs


def _shown(value: float) -> str:
    return mpmath.nstr(mpmath.mpf(value), 3)


def _close(left: Any, right: Any) -> bool:
    return bool(abs(left - right) <= max(RELATIVE_TOLERANCE * max(abs(left), abs(right)), ABSOLUTE_TOLERANCE))


def _negligible(left: Any, right: Any) -> bool:
    """Both sides below ABSOLUTE_TOLERANCE, and not both 0: nothing to compare there. A saturated
    softmax makes a gradient 1e-600, and a claim off by a factor √2 agrees at such a point, while
    a correct one may come out as 0 on one side, the cancellation 1 − p₁ lost at any precision."""
    return bool(max(abs(left), abs(right)) <= ABSOLUTE_TOLERANCE and (left != 0 or right != 0))


def _stable(working: Any, confirmed: Any) -> bool:
    """Whether a value computed at 50 digits agrees with its 100-digit value to STABLE_RTOL."""
    with mpmath.workdps(CONFIRM_DIGITS):
        return bool(abs(working - confirmed) <= STABLE_RTOL * abs(confirmed))
