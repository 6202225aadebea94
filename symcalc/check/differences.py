"""The practitioner's check of a gradient: central differences of the loss in float64 at random points.

A central difference is evidence only where its own error is small beside the tolerance. At
each point that error is measured, not guessed: the rounding of the float64 loss at x ± h
against its 50-digit value (divided by 2h, as the difference divides it), and the truncation
by Richardson's comparison of the exact differences at h and h/2. Where the two come to more
than a tenth of the tolerance (a Gaussian likelihood whose loss is 6e37 while one parameter
moves it by 1), one step scaled to the function is tried (the h that balances the two), and
failing that the point is inconclusive and another is drawn: such a point never refutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mpmath
import sympy as sp

from symcalc.check.evaluate import DIGITS, Evaluator, kinks
from symcalc.check.ladder import Ladder
from symcalc.check.records import Check, check_maker
from symcalc.check.sample import Point
from symcalc.errors import EvaluationUnsupported, Undefined
from symcalc.symbolic.notation import Total

FD_POINTS = 5  # points per finite-difference check
FD_STEP = 1e-5  # relative step; central differences in float64 are most accurate near it
FD_ATOL, FD_RTOL = 1e-5, 1e-3  # torch.autograd.gradcheck's tolerances
NOISE_SHARE = 0.1  # a point counts when the difference's own error is at most this share of the tolerance
STEP_RANGE = 1e3  # a step scaled to the function stays within this factor of FD_STEP's
EPSILON = 2.0**-52


class _Inconclusive(Exception):
    """At this point and step, a central difference is not evidence either way."""


@dataclass(frozen=True)
class _Difference:
    """A float64 central difference at one step, and what it is in error by at most (measured)."""

    estimate: float
    rounding: float  # the float64 losses' rounding at x ± h, divided by 2h
    truncation: float  # Richardson: |D(h) − D(h/2)|·4/3 with exact losses

    @property
    def noise(self) -> float:
        return self.rounding + self.truncation + 4 * EPSILON * abs(self.estimate)


def finite_differences(
    ladder: Ladder, parameter: sp.Symbol, gradient: sp.Expr, of: tuple[sp.Expr, sp.Expr] | None = None
) -> Check:
    """The gradient against (L(p + h) − L(p − h)) / 2h in float64, h = 1e-5·max(1, |p|), at points where
    that difference is accurate to a tenth of the tolerance (see the module docstring).

    `of` = (what, f) differences f instead of the loss: (d²L/(dw₁ dw₂), dL/dw1) checks a
    second derivative against central differences of a gradient.
    """
    model = ladder.model
    label, function = of or (Total(model.loss, parameter), model.loss)
    name = str(label)  # the claim's form: dL/dw1, d2L/dw1 dw2
    statement = f"{name} = {gradient}"
    make = check_maker(f"finite differences {name}", "finite differences", statement, shown=(label, gradient))
    differ = _Differ(parameter, function, gradient, model.definitions)
    wanted, agreed = min(ladder.points, FD_POINTS), 0
    for point in ladder.sampler.points():
        try:
            derived, difference = differ.at(point)
        except (Undefined, _Inconclusive):
            continue
        except EvaluationUnsupported as err:
            return make("undecided", "finite differences", str(err))
        if abs(derived - difference.estimate) > FD_ATOL + FD_RTOL * abs(difference.estimate):
            sides = ("derived", "central difference")
            example = point.counterexample(derived, difference.estimate, derived - difference.estimate, sides)
            detail = f"differs from the central difference beyond atol {FD_ATOL:g}, rtol {FD_RTOL:g}"
            return make("fails", "finite differences", detail, example)
        agreed += 1
        if agreed == wanted:
            break
    if agreed == 0:
        detail = "no point where the loss is defined, smooth and resolved by float64 differences"
        return make("undecided", "finite differences", detail)
    return make(
        "holds",
        "finite differences",
        f"agrees with central differences in float64 at {agreed} points (h = {FD_STEP:g}·max(1, |p|), "
        "or scaled to the function where its measured error asks)",
    )


class _Differ:
    """Central differences of one function by one parameter, with their measured error."""

    def __init__(self, parameter: sp.Symbol, function: sp.Expr, gradient: sp.Expr, definitions: Any):
        self.parameter = parameter
        self.function = function
        self.gradient = gradient
        self.suspects = kinks(gradient) + kinks(function) + [k for _, d in definitions for k in kinks(d)]

    def at(self, point: Point) -> tuple[float, _Difference]:
        """The derived value and a central difference accurate to a tenth of the tolerance, or raise."""
        derived = point.float64()(self.gradient)
        tolerance = FD_ATOL + FD_RTOL * abs(derived)
        x = point.raw[self.parameter]
        h = FD_STEP * max(1.0, abs(x))
        first = self.difference(point, x, h)
        if first.noise <= NOISE_SHARE * tolerance:
            return derived, first
        scaled = _balanced(h, first)  # the step where rounding and truncation balance
        if scaled is not None:
            second = self.difference(point, x, scaled)
            if second.noise <= NOISE_SHARE * tolerance:
                return derived, second
        raise _Inconclusive

    def difference(self, point: Point, x: float, h: float) -> _Difference:
        f = self.function
        plus, minus = point.float64({self.parameter: x + h}), point.float64({self.parameter: x - h})
        if any(_crosses(k, (point.float64(), plus, minus)) for k in self.suspects):
            raise _Inconclusive
        width = (x + h) - (x - h)  # the step float64 really took
        estimate = (plus(f) - minus(f)) / width
        exact = {s: point.moved({self.parameter: x + s * h}).at(f) for s in (1, -1, 0.5, -0.5)}
        with mpmath.workdps(DIGITS):
            rounding = (abs(plus(f) - exact[1]) + abs(minus(f) - exact[-1])) / width
            wide = (exact[1] - exact[-1]) / width
            narrow = (exact[0.5] - exact[-0.5]) / ((x + h / 2) - (x - h / 2))
            truncation = abs(wide - narrow) * 4 / 3
        return _Difference(float(estimate), float(rounding), float(truncation))


def _balanced(h: float, measured: _Difference) -> float | None:
    """The step minimising rounding·h/s + truncation·(s/h)², within STEP_RANGE of h; None if it is h."""
    if measured.truncation == 0:
        scaled = h * STEP_RANGE
    elif measured.rounding == 0:
        scaled = h / STEP_RANGE
    else:
        ratio = (measured.rounding / (2 * measured.truncation)) ** (1 / 3)
        scaled = h * min(max(ratio, 1 / STEP_RANGE), STEP_RANGE)
    return None if 0.5 <= scaled / h <= 2 else scaled


def _crosses(kink: sp.Expr, evaluators: tuple[Evaluator, ...]) -> bool:
    """True when a kink's argument is 0, or changes sign, between the points of a central difference."""
    signs = set()
    for evaluate in evaluators:
        value = evaluate(kink)
        if abs(value) <= 1e-12:
            return True
        signs.add(value > 0)
    return len(signs) > 1
