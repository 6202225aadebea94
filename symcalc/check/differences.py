"""The practitioner's check of a gradient: central differences of the loss in float64 at random points."""

from __future__ import annotations

import sympy as sp

from symcalc.check.evaluate import Evaluator, Undefined, Unsupported, kinks
from symcalc.check.ladder import Ladder
from symcalc.check.records import Check, check_maker
from symcalc.symbolic.notation import Total

FD_POINTS = 5  # points per finite-difference check
FD_STEP = 1e-5  # relative step; central differences in float64 are most accurate near it
FD_ATOL, FD_RTOL = 1e-5, 1e-3  # torch.autograd.gradcheck's tolerances


def finite_differences(
    ladder: Ladder, parameter: sp.Symbol, gradient: sp.Expr, of: tuple[sp.Expr, sp.Expr] | None = None
) -> Check:
    """The gradient against (L(p + h) − L(p − h)) / 2h in float64, h = 1e-5·max(1, |p|).

    `of` = (what, f) differences f instead of the loss: (d²L/(dw₁ dw₂), dL/dw1) checks a
    second derivative against central differences of a gradient.
    """
    model = ladder.model
    label, function = of or (Total(model.loss, parameter), model.loss)
    name = str(label)  # the claim's form: dL/dw1, d2L/dw1 dw2
    statement = f"{name} = {gradient}"
    make = check_maker(f"finite differences {name}", "finite differences", statement, shown=(label, gradient))
    suspects = kinks(gradient) + kinks(function) + [k for _, d in model.definitions for k in kinks(d)]
    wanted, agreed = min(ladder.points, FD_POINTS), 0
    for point in ladder.sampler.points():
        x = point.raw[parameter]
        h = FD_STEP * max(1.0, abs(x))
        try:
            base = point.float64()
            derived = base(gradient)
            plus, minus = point.float64({parameter: x + h}), point.float64({parameter: x - h})
            if any(_crosses(k, (base, plus, minus)) for k in suspects):
                continue
            # Where float64 cannot evaluate the loss much finer than the step resolves
            # (log(1 − σ(z)) at z ≈ 30), a difference quotient is noise: another point.
            rounding = abs(base(function) - float(point.at(function)))
            if rounding > 0.1 * h * (FD_ATOL + FD_RTOL * abs(derived)):
                continue
            estimate = (plus(function) - minus(function)) / ((x + h) - (x - h))
        except Undefined:
            continue
        except Unsupported as err:
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


def _crosses(kink: sp.Expr, evaluators: tuple[Evaluator, ...]) -> bool:
    """True when a kink's argument is 0, or changes sign, between the points of a central difference."""
    signs = set()
    for evaluate in evaluators:
        value = evaluate(kink)
        if abs(value) <= 1e-12:
            return True
        signs.add(value > 0)
    return len(signs) > 1
