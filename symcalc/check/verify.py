"""Independent checks of a derivation (every step, gradient and claim) returned as data, never printed.

Each check compares two expressions by a ladder, strongest rung first, and
records which rung decided it:

1. ``proved``: the difference, with definitions substituted one level at a time
   down to the independent names, cancels to 0 in canonical form (`symcalc.check.prove`);
   a difference that cancels to a non-zero number fails at once, with a point.
   Once the random points below agree (so a wrong claim never pays): proof by
   cases (signs of kinks, members of finite domains), then a size-bounded
   thorough ``cancel`` and ``simplify``;
2. ``numerically``: both sides evaluated with mpmath at 50 digits at random
   points, each name over its domain (`symcalc.spec.domains`); a point where they
   differ is a counterexample (confirmed at 100 digits, and only where each side
   is stable between 50 and 100 digits) and the check ``fails``; agreement everywhere
   without a proof ``holds`` but is flagged as not proved;
3. ``finite differences``: each gradient against central differences of the
   loss in float64, the check a practitioner runs by hand.

The other side of every comparison is computed independently of the engine:
SymPy's own ``diff`` of the definitions written with exp/log/Max
(`elementary`), never the engine's local derivatives or chain rule.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

import mpmath
import sympy as sp

from symcalc.check.prove import by_cases, by_members, cancelled, known_signs, piecewise_atoms
from symcalc.spec.domains import moderate, real_line
from symcalc.symbolic.functions import relu, sigmoid, softplus
from symcalc.symbolic.functions import step as step_function
from symcalc.symbolic.graph import Claim, Model
from symcalc.symbolic.notation import Partial, Product, Sum
from symcalc.symbolic.steps import Derivation, Equation, LocalDerivatives, ParameterGradients, Recognition

Status = Literal["holds", "fails", "undecided"]
Method = Literal["proved", "numerically", "finite differences"]

DEFAULT_POINTS = 20  # random points per numeric comparison
SCREEN_POINTS = 2  # points compared before any proof is tried: most wrong claims fail here
DEFAULT_SEED = 0  # fixed, so two runs report the same points
FD_POINTS = 5  # points per finite-difference check
DIGITS = 50  # working precision of the numeric rung
CONFIRM_DIGITS = 100  # a mismatch must survive this precision to count
RELATIVE_TOLERANCE = 1e-30  # far below any honest mistake (1e-12), far above 50-digit round-off
ABSOLUTE_TOLERANCE = 1e-40
STABLE_RTOL = 1e-20  # a mismatch counts only where each side's 50- and 100-digit values agree this far
FD_STEP = 1e-5  # relative step; central differences in float64 are most accurate near it
FD_ATOL, FD_RTOL = 1e-5, 1e-3  # torch.autograd.gradcheck's tolerances
KINK_MARGIN = 1e-20  # points this close to a kink (relu, max, abs at 0) are skipped
THOROUGH_CANCEL_MAX_OPS = 300  # cancel inside exp took 25 s on a 423-operation difference
SIMPLIFY_MAX_OPS = 100  # simplify took 8 s on a 132-operation difference: beyond this, go numeric
GRID = 128  # points are multiples of 1/GRID: exact in float64, short to print
ATTEMPTS_PER_POINT = 25  # candidates drawn per point wanted, for domains with holes


@dataclass(frozen=True)
class Counterexample:
    """A point where two sides differ: every independent name's value and both sides' values.

    The values of independent names are float64 numbers used exactly (multiples
    of 1/128; constants near their defaults), so evaluating both sides at exactly
    these numbers reproduces the mismatch.
    """

    point: tuple[tuple[str, float], ...]
    left: float
    right: float
    difference: float  # left − right, computed at high precision (not the difference of the floats)
    sides: tuple[str, str]  # what the left and right values are, e.g. ("claimed", "SymPy's diff")
    intermediates: tuple[tuple[str, float], ...] = ()  # each definition's value there, for reading


@dataclass(frozen=True)
class Check:
    """One verified statement: what was checked, whether it holds, and which rung decided it."""

    name: str
    kind: str  # "step", "gradient", "claim" or "finite differences"
    statement: str
    status: Status
    method: Method
    detail: str
    counterexample: Counterexample | None = None

    @property
    def holds(self) -> bool:
        return self.status == "holds"

    @property
    def proved(self) -> bool:
        return self.status == "holds" and self.method == "proved"


def all_hold(checks: list[Check]) -> bool:
    """True when every check holds (a strict run has already turned unproved ones into failures)."""
    return all(check.holds for check in checks)


def verify(
    derivation: Derivation,
    *,
    strict: bool = False,
    points: int = DEFAULT_POINTS,
    seed: int = DEFAULT_SEED,
) -> list[Check]:
    """Check every step, every gradient (symbolically and by finite differences) and every claim.

    With `strict`, a result that agrees numerically but is not proved is a failure.
    """
    checker = _Checker(derivation.model, points=points, seed=seed)
    checks: list[Check] = []
    for step in derivation.steps:
        if isinstance(step, Recognition):  # a written-out form replaced by a named function: an identity
            statement = f"{step.node} = {step.written} = {step.named}"
            name = f"step {step.number}: {step.node} is {step.named}"
            sides = ("written", "named")
            checks.append(checker.decide(name, "step", statement, step.written, step.named, sides))
        for equation in step.equations:
            checks += checker.step(step.number, equation, local=isinstance(step, LocalDerivatives))
            if not isinstance(step, LocalDerivatives | ParameterGradients):
                checks.append(checker.chain_result(step.number, equation))
    for parameter, gradient in derivation.gradients.items():
        checks.append(checker.gradient(parameter, gradient))
    for parameter, gradient in derivation.gradients.items():
        checks.append(checker.finite_differences(parameter, gradient))
    for claim in derivation.model.claims:
        checks.append(checker.claim(claim))
    return [_strict(check) for check in checks] if strict else checks


def check_claim(
    model: Model,
    lhs: str,
    rhs: str,
    *,
    strict: bool = False,
    points: int = DEFAULT_POINTS,
    seed: int = DEFAULT_SEED,
) -> Check:
    """Check one claim given as text, e.g. ``check_claim(model, "dL/dw1", "(y - a)*x1")``.

    The right-hand side goes through the same safe parser as a file; an unknown
    name or function raises SymcalcError (bad input), it is not a failed check.
    """
    check = _Checker(model, points=points, seed=seed).claim(model.claim(lhs, rhs))
    return _strict(check) if strict else check


def _strict(check: Check) -> Check:
    if check.status == "holds" and check.method == "numerically":
        return replace(check, status="fails", detail=check.detail + "; --strict requires a proof")
    return check


# -- the independent results ----------------------------------------------------------------


def independent_derivative(model: Model, of: sp.Symbol, wrt: sp.Symbol) -> sp.Expr:
    """d(of)/d(wrt) through the graph by SymPy's diff, not by the engine's chain rule.

    Every definition that depends on `wrt` is substituted into `of` (written with
    exp/log/Max), then SymPy differentiates once with respect to `wrt`; names that
    do not depend on `wrt` stay as they are, held fixed, as "dA/dB" means.
    """
    if of == wrt:
        return sp.S.One
    downstream: dict[sp.Symbol, sp.Expr] = {}
    for sym, definition in model.definitions:
        if sym == wrt:
            continue
        if wrt in definition.free_symbols or definition.free_symbols & downstream.keys():
            downstream[sym] = definition.xreplace(downstream)
    if of not in downstream:
        return sp.S.Zero
    return sp.diff(elementary(downstream[of]), wrt)


def value_of(expr: sp.Expr) -> sp.Expr:
    """A displayed product or sum (`notation.Product`, `Sum`) as the ordinary SymPy value it shows."""

    def plain(node: sp.Expr) -> sp.Expr:
        return sp.Mul(*node.args) if isinstance(node, Product) else sp.Add(*node.args)

    return expr.replace(lambda e: isinstance(e, Product | Sum), plain)


def elementary(expr: sp.Expr) -> sp.Expr:
    """σ, softplus and relu replaced by their definitions (exp, log, Max), their arguments left as they are.

    Unlike `functions.to_elementary` (which uses SymPy's recursive ``rewrite`` and
    so also turns a tanh inside σ's argument into exponentials), this keeps every
    other function as written, so the two sides of a comparison keep the same
    building blocks and ``cancel`` can see that they agree.
    """
    return expr.replace(lambda e: type(e) in _DEFINITIONS_OF, lambda e: _DEFINITIONS_OF[type(e)](e.args[0]))


_DEFINITIONS_OF: dict[type, Callable[[sp.Expr], sp.Expr]] = {
    sigmoid: lambda x: 1 / (1 + sp.exp(-x)),
    softplus: lambda x: sp.log(1 + sp.exp(x)),
    relu: lambda x: sp.Max(0, x),
    step_function: lambda x: sp.Heaviside(x),  # equal but at 0, a kink where no value is compared
}


# -- numeric evaluation ---------------------------------------------------------------------


class _Undefined(Exception):
    """A side has no real value at this point (log of a negative, division by zero, a kink)."""


class _Unsupported(Exception):
    """An expression contains something this evaluator does not know how to compute."""


_FUNCTIONS: dict[type, str] = {
    sp.exp: "exp",
    sp.log: "log",
    sp.tanh: "tanh",
    sp.sinh: "sinh",
    sp.cosh: "cosh",
    sp.sin: "sin",
    sp.cos: "cos",
    sp.tan: "tan",
}


class _Evaluator:
    """Evaluates SymPy expressions with an mpmath context (mp at given digits, or fp = float64).

    Written out rather than lambdified so that nothing is generated or executed
    from expression text, and so that every undefined value is caught, never
    returned as a complex number or nan.
    """

    def __init__(self, ctx: Any, values: Mapping[sp.Symbol, Any], digits: int | None = None):
        self.ctx = ctx
        self.values = values
        self.digits = digits
        self.memo: dict[sp.Basic, Any] = {}

    def __call__(self, expr: sp.Basic) -> Any:
        if self.digits is None:
            return self.eval(expr)
        with mpmath.workdps(self.digits):
            return self.eval(expr)

    def eval(self, expr: sp.Basic) -> Any:
        if expr in self.memo:
            return self.memo[expr]
        try:
            value = self.real(self.compute(expr))
        except (ZeroDivisionError, OverflowError, ValueError):
            raise _Undefined from None
        except RecursionError:
            raise _Unsupported("an expression too deeply nested to evaluate") from None
        self.memo[expr] = value
        return value

    def real(self, value: Any) -> Any:
        ctx = self.ctx
        if isinstance(value, complex | mpmath.mpc):
            if value.imag != 0:
                raise _Undefined
            value = ctx.mpf(value.real)
        if ctx.isnan(value) or ctx.isinf(value):
            raise _Undefined
        return value

    def compute(self, expr: sp.Basic) -> Any:
        ctx, ev = self.ctx, self.eval
        if expr.is_Symbol:
            if expr not in self.values:
                raise _Undefined
            return self.values[expr]
        if expr.is_Integer:
            return ctx.mpf(int(expr))
        if expr.is_Rational:
            return ctx.mpf(int(expr.p)) / ctx.mpf(int(expr.q))
        if expr.is_Float:
            return ctx.mpf(str(expr))
        if expr is sp.pi:
            return ctx.pi
        if expr is sp.E:
            return ctx.e
        if expr.is_Add:
            total = ctx.mpf(0)
            for term in expr.args:
                total += ev(term)
            return total
        if expr.is_Mul:
            result = ctx.mpf(1)
            for factor in expr.args:
                result *= ev(factor)
            return result
        if expr.is_Pow:
            base, exponent = expr.args
            b = ev(base)
            if exponent.is_Integer:
                if b == 0 and exponent < 0:
                    raise _Undefined
                return b ** int(exponent)
            if b < 0 or (b == 0 and ev(exponent) <= 0):
                raise _Undefined
            return ctx.power(b, ev(exponent))
        name = _FUNCTIONS.get(type(expr))
        if name is not None:
            x = ev(expr.args[0])
            if name == "log" and x <= 0:
                raise _Undefined
            return getattr(ctx, name)(x)
        if isinstance(expr, sp.Abs):
            return abs(ev(expr.args[0]))
        if isinstance(expr, sp.sign):
            return ctx.sign(ev(expr.args[0]))
        if isinstance(expr, sp.Heaviside | sp.DiracDelta):
            x = ev(expr.args[0])
            if x == 0:
                raise _Undefined  # a kink: no derivative there
            if isinstance(expr, sp.DiracDelta):
                return ctx.mpf(0)
            return ctx.mpf(1) if x > 0 else ctx.mpf(0)
        if isinstance(expr, sp.Max | sp.Min):
            values = [ev(arg) for arg in expr.args]
            return max(values) if isinstance(expr, sp.Max) else min(values)
        if isinstance(expr, sigmoid):
            return 1 / (1 + ctx.exp(-ev(expr.args[0])))
        if isinstance(expr, softplus):
            return ctx.log(1 + ctx.exp(ev(expr.args[0])))
        if isinstance(expr, relu):
            return max(ctx.mpf(0), ev(expr.args[0]))
        if isinstance(expr, step_function):
            x = ev(expr.args[0])
            if x == 0:
                raise _Undefined  # a kink: no derivative there
            return ctx.mpf(1) if x > 0 else ctx.mpf(0)
        raise _Unsupported(f"cannot evaluate {type(expr).__name__} numerically")


def _kinks(expr: sp.Expr) -> list[sp.Expr]:
    """Expressions that are 0 exactly where `expr` has a kink or a jump (relu, max, abs, step)."""
    found = [f.args[0] for f in expr.atoms(sp.Heaviside, sp.Abs, sp.sign, sp.DiracDelta, relu, step_function)]
    for f in expr.atoms(sp.Max, sp.Min):
        found += [a - b for i, a in enumerate(f.args) for b in f.args[i + 1 :]]
    return found


def _model_values(model: Model, raw: Mapping[sp.Symbol, Any], ctx: Any, digits: int | None) -> _Evaluator:
    """An evaluator with the point's independent values and every definition computed from them."""
    values: dict[sp.Symbol, Any] = dict(raw)
    evaluator = _Evaluator(ctx, values, digits)
    for sym, definition in model.definitions:
        with contextlib.suppress(_Undefined):  # left out: whatever uses it is undefined here
            values[sym] = evaluator(definition)
    return evaluator


class _Point:
    """One random point of the model's domain, its exact values, and evaluators at two precisions."""

    def __init__(self, model: Model, raw: dict[sp.Symbol, float]):
        self.model = model
        self.raw = raw
        self.at = _model_values(model, self.exact(), mpmath.mp, DIGITS)

    def exact(self) -> dict[sp.Symbol, Any]:
        return {sym: mpmath.mpf(value) for sym, value in self.raw.items()}  # floats convert exactly

    @cached_property
    def confirmed(self) -> _Evaluator:
        return _model_values(self.model, self.exact(), mpmath.mp, CONFIRM_DIGITS)

    def confirm(self) -> _Evaluator:
        return self.confirmed

    def float64(self, changes: Mapping[sp.Symbol, float] | None = None) -> _Evaluator:
        return _model_values(self.model, {**self.raw, **(changes or {})}, mpmath.fp, None)

    def counterexample(
        self, left: Any, right: Any, difference: Any, sides: tuple[str, str]
    ) -> Counterexample:
        intermediates = tuple(
            (sym.name, float(self.at.values[sym]))
            for sym, _ in self.model.definitions
            if sym in self.at.values
        )
        return Counterexample(
            point=tuple((sym.name, value) for sym, value in self.raw.items()),
            left=float(left),
            right=float(right),
            difference=float(difference),
            sides=sides,
            intermediates=intermediates,
        )


class _Sampler:
    """Deterministic random points where the loss is defined, drawn once and shared by every check."""

    def __init__(self, model: Model, seed: int, limit: int):
        self.model = model
        self.rng = random.Random(seed)
        self.limit = limit
        self.drawn: list[_Point | None] = []
        self.domains = model.domain_map
        self.defaults = model.constant_values()

    def points(self) -> Iterator[_Point]:
        for i in range(self.limit):
            if i == len(self.drawn):
                self.drawn.append(self.draw())
            point = self.drawn[i]
            if point is not None:
                yield point

    def draw(self) -> _Point | None:
        model = self.model
        raw = {sym: self.value(sym) for sym in model.independents}
        for sym, solution in model.assumption_solutions.items():  # meet the assumptions exactly
            raw[sym] = float(solution.xreplace(raw))
        point = _Point(model, raw)
        return point if model.loss in point.at.values else None

    def value(self, sym: sp.Symbol) -> float:
        """One name's value: inside its domain; else a parameter moderate, a constant near its
        default (same sign), an input or target anywhere on the real line."""
        domain = self.domains.get(sym)
        if sym in self.defaults and (domain is None or not domain.finite):
            default = self.defaults[sym]
            scale = self.rng.randint(GRID // 2, 2 * GRID) / GRID
            value = float(default * scale) if default else self.rng.randint(1, GRID) / GRID
            if domain is None or value in domain:
                return value
        if domain is not None:
            return domain.sample(self.rng)
        if sym in self.model.parameters:
            return moderate(self.rng)
        return real_line(self.rng)


# -- the checks -----------------------------------------------------------------------------


class _Checker:
    """Decides comparisons for one model, sharing its random points between checks."""

    def __init__(self, model: Model, *, points: int, seed: int):
        if points < 1:
            raise ValueError("points must be at least 1")
        self.model = model
        self.points = points
        self.sampler = _Sampler(model, seed, limit=points * ATTEMPTS_PER_POINT)
        # The file's assumptions (one-hot targets: y3 = 1 − y1 − y2) are substituted into
        # both sides of every comparison, and every random point meets them.
        self.solved = model.assumption_solutions
        self.definitions = {sym: d.xreplace(self.solved) for sym, d in model.definition_map.items()}
        self.assuming = "; ".join(text for text, _ in model.assumptions)
        self.signs = known_signs(_signs_of(model))

    # each kind of check -------------------------------------------------------------------

    def step(self, number: int, equation: Equation, *, local: bool) -> list[Check]:
        checks = []
        if equation.unsimplified is not None and not equation.unsimplified.has(Partial):
            before = value_of(equation.unsimplified)
            checks.append(
                self.decide(
                    f"step {number}: {equation.name} simplified",
                    "step",
                    f"{equation.unsimplified} = {equation.result}",
                    before,
                    equation.result,
                    ("before", "after"),
                )
            )
        if local:
            definition = self.model.definition_map[equation.of]
            oracle = sp.diff(elementary(definition), equation.wrt)
            checks.append(
                self.decide(
                    f"step {number}: {equation.name}",
                    "step",
                    f"{equation.name} = {equation.result}",
                    equation.result,
                    oracle,
                    ("derived", "SymPy's diff"),
                )
            )
        return checks

    def chain_result(self, number: int, equation: Equation) -> Check:
        oracle = independent_derivative(self.model, equation.of, equation.wrt)
        return self.decide(
            f"step {number}: {equation.name}",
            "step",
            f"{equation.name} = {equation.result}",
            equation.result,
            oracle,
            ("derived", "SymPy's diff"),
        )

    def gradient(self, parameter: sp.Symbol, gradient: sp.Expr) -> Check:
        model = self.model
        oracle = sp.diff(elementary(model.composed[model.loss]), parameter)
        name = f"d{model.loss.name}/d{parameter.name}"
        return self.decide(
            f"gradient {name}",
            "gradient",
            f"{name} = {gradient}",
            gradient,
            oracle,
            ("derived", "SymPy's diff of the composed loss"),
        )

    def claim(self, claim: Claim) -> Check:
        if claim.local:  # ∂a/∂z: SymPy's diff of that one definition, every other name held fixed
            oracle = sp.diff(elementary(self.model.definition_map[claim.of]), claim.wrt)
        else:
            oracle = independent_derivative(self.model, claim.of, claim.wrt)
        return self.decide(
            f"claim {claim.name}",
            "claim",
            f"{claim.name} = {claim.text}",
            claim.expected,
            oracle,
            ("claimed", "SymPy's diff"),
        )

    def finite_differences(self, parameter: sp.Symbol, gradient: sp.Expr) -> Check:
        """The gradient against (L(p + h) − L(p − h)) / 2h in float64, h = 1e-5·max(1, |p|)."""
        model = self.model
        name = f"d{model.loss.name}/d{parameter.name}"
        make = _check_maker(f"finite differences {name}", "finite differences", f"{name} = {gradient}")
        kinks = _kinks(gradient) + [k for _, d in model.definitions for k in _kinks(d)]
        wanted, agreed = min(self.points, FD_POINTS), 0
        for point in self.sampler.points():
            x = point.raw[parameter]
            h = FD_STEP * max(1.0, abs(x))
            try:
                base = point.float64()
                derived = base(gradient)
                plus, minus = point.float64({parameter: x + h}), point.float64({parameter: x - h})
                if any(_crosses(k, (base, plus, minus)) for k in kinks):
                    continue
                # Where float64 cannot evaluate the loss much finer than the step resolves
                # (log(1 − σ(z)) at z ≈ 30), a difference quotient is noise: another point.
                rounding = abs(base(model.loss) - float(point.at(model.loss)))
                if rounding > 0.1 * h * (FD_ATOL + FD_RTOL * abs(derived)):
                    continue
                estimate = (plus(model.loss) - minus(model.loss)) / ((x + h) - (x - h))
            except _Undefined:
                continue
            except _Unsupported as err:
                return make("undecided", "finite differences", str(err))
            if abs(derived - estimate) > FD_ATOL + FD_RTOL * abs(estimate):
                sides = ("derived", "central difference")
                example = point.counterexample(derived, estimate, derived - estimate, sides)
                detail = f"differs from the central difference beyond atol {FD_ATOL:g}, rtol {FD_RTOL:g}"
                return make("fails", "finite differences", detail, example)
            agreed += 1
            if agreed == wanted:
                break
        if agreed == 0:
            return make("undecided", "finite differences", "no point where the loss is defined and smooth")
        return make(
            "holds",
            "finite differences",
            f"agrees with central differences in float64 at {agreed} points (h = {FD_STEP:g}·max(1, |p|))",
        )

    # the ladder ---------------------------------------------------------------------------

    def decide(
        self, name: str, kind: str, statement: str, left: sp.Expr, right: sp.Expr, sides: tuple[str, str]
    ) -> Check:
        make = _check_maker(name, kind, statement, self.assuming)
        left, right = left.xreplace(self.solved), right.xreplace(self.solved)
        # A few points first: a wrong claim is refuted there, before any symbolic work it cannot win.
        failed, _ = self.compare_at_points(make, left, right, sides, min(SCREEN_POINTS, self.points))
        if failed is not None:
            return failed
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
        if self.prove_by_cases(left, right):
            return make("holds", "proved", "the difference is 0 in every case (away from the kinks)")
        if self.prove_costly(composed):
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
        kinks = _kinks(left) + _kinks(right)
        agreed = 0
        for point in self.sampler.points():
            if agreed == wanted:
                break
            try:
                if any(abs(point.at(k)) <= KINK_MARGIN for k in kinks):
                    continue
                lhs, rhs = point.at(left), point.at(right)
                if not _close(lhs, rhs):
                    confirm = point.confirm()
                    lhs_100, rhs_100 = confirm(left), confirm(right)
                    if not (_stable(lhs, lhs_100) and _stable(rhs, rhs_100)):
                        continue  # ill-conditioned here (1 − σ(200) is 0 at 50 digits): another point
                    lhs, rhs = lhs_100, rhs_100
                    if not _close(lhs, rhs):
                        with mpmath.workdps(CONFIRM_DIGITS):
                            difference = lhs - rhs
                        example = point.counterexample(lhs, rhs, difference, sides)
                        detail = f"differs by {mpmath.nstr(difference, 3)} at a point ({DIGITS}+ digits)"
                        return make("fails", "numerically", detail, example), agreed
            except _Undefined:
                continue  # a side is undefined here: another point, not a mismatch
            except _Unsupported as err:
                return make("undecided", "numerically", f"not proved, and {err}"), agreed
            agreed += 1
        return None, agreed

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
        for point in self.sampler.points():
            try:
                lhs, rhs = point.confirmed(left), point.confirmed(right)
            except _Undefined:
                continue
            except _Unsupported:
                break
            example = point.counterexample(lhs, rhs, sp.Float(constant, CONFIRM_DIGITS), sides)
            return make("fails", "numerically", detail, example)
        return make("fails", "numerically", detail)

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
            one_sided = (left.free_symbols ^ right.free_symbols) & self.definitions.keys()
            if one_sided:
                left, right = self.substitute(max(one_sided, key=self.model.order.__getitem__), left, right)
                continue
            result = cancelled(elementary(left - right))
            if result is not None and result == 0:
                return True, left - right
            if result is not None and result.is_number and result.is_real:
                return False, result
            pending = (left.free_symbols | right.free_symbols) & self.definitions.keys()
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
            one_sided = (left.free_symbols ^ right.free_symbols) & self.definitions.keys()
            if one_sided:
                left, right = self.substitute(max(one_sided, key=self.model.order.__getitem__), left, right)
                continue
            difference = elementary(left - right)
            splits = piecewise_atoms(difference) or members.keys() & difference.free_symbols
            if splits and by_members(difference, members, lambda leaf: by_cases(leaf, self.signs)):
                return True
            pending = (left.free_symbols | right.free_symbols) & self.definitions.keys()
            if not pending:
                return False
            left, right = self.substitute(max(pending, key=self.model.order.__getitem__), left, right)

    def substitute(self, name: sp.Symbol, *exprs: sp.Expr) -> tuple[sp.Expr, ...]:
        return tuple(expr.xreplace({name: self.definitions[name]}) for expr in exprs)

    def prove_costly(self, difference: sp.Expr) -> bool:
        """cancel looking inside exp and powers, then simplify, each only below a size that finishes soon."""
        composed = elementary(difference)
        if _cancels_thoroughly(composed):
            return True
        if sp.count_ops(composed) > SIMPLIFY_MAX_OPS:
            return False
        try:
            return bool(sp.simplify(composed) == 0)
        except (sp.PolynomialError, TypeError, ValueError, NotImplementedError):
            return False


def _cancels_thoroughly(expr: sp.Expr) -> bool:
    """Whether `expr` cancels to 0 with cancel looking inside exp and powers (only below a size bound)."""
    if expr == 0:
        return True
    if sp.count_ops(expr) > THOROUGH_CANCEL_MAX_OPS:
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


def _close(left: Any, right: Any) -> bool:
    return bool(abs(left - right) <= max(RELATIVE_TOLERANCE * max(abs(left), abs(right)), ABSOLUTE_TOLERANCE))


def _stable(working: Any, confirmed: Any) -> bool:
    """Whether a value computed at 50 digits agrees with its 100-digit value to STABLE_RTOL."""
    with mpmath.workdps(CONFIRM_DIGITS):
        return bool(abs(working - confirmed) <= STABLE_RTOL * abs(confirmed))


def _crosses(kink: sp.Expr, evaluators: tuple[_Evaluator, ...]) -> bool:
    """True when a kink's argument is 0, or changes sign, between the points of a central difference."""
    signs = set()
    for evaluate in evaluators:
        value = evaluate(kink)
        if abs(value) <= 1e-12:
            return True
        signs.add(value > 0)
    return len(signs) > 1


def _check_maker(name: str, kind: str, statement: str, assuming: str = "") -> Callable[..., Check]:
    def make(status: Status, method: Method, detail: str, example: Counterexample | None = None) -> Check:
        if assuming:
            detail = f"{detail} (assuming {assuming})"
        return Check(name, kind, statement, status, method, detail, example)

    return make
