"""Points of a model's domain where its loss is defined: exact, deterministic, drawn once and shared."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

import mpmath
import sympy as sp

from symcalc.check.evaluate import CONFIRM_DIGITS, DIGITS, Evaluator, evaluator_at
from symcalc.check.records import Counterexample
from symcalc.spec.domains import moderate, real_line
from symcalc.symbolic.graph import Model

GRID = 128  # points are multiples of 1/GRID: exact in float64, short to print
ATTEMPTS_PER_POINT = 25  # candidates drawn per point wanted, for domains with holes


class Point:
    """One random point of the model's domain, its exact values, and evaluators at two precisions."""

    def __init__(self, model: Model, raw: dict[sp.Symbol, float]):
        self.model = model
        self.raw = raw
        self.at = evaluator_at(model, self.exact(), mpmath.mp, DIGITS)

    def exact(self) -> dict[sp.Symbol, Any]:
        return {sym: mpmath.mpf(value) for sym, value in self.raw.items()}  # floats convert exactly

    @cached_property
    def confirmed(self) -> Evaluator:
        return evaluator_at(self.model, self.exact(), mpmath.mp, CONFIRM_DIGITS)

    def moved(self, changes: Mapping[sp.Symbol, float]) -> Point:
        """The point with some names moved (exactly to these floats), evaluated afresh."""
        return Point(self.model, {**self.raw, **changes})

    def float64(self, changes: Mapping[sp.Symbol, float] | None = None) -> Evaluator:
        return evaluator_at(self.model, {**self.raw, **(changes or {})}, mpmath.fp, None)

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


class Sampler:
    """Deterministic random points where the loss is defined, drawn once and shared by every check."""

    def __init__(self, model: Model, seed: int, limit: int):
        self.model = model
        self.rng = random.Random(seed)
        self.limit = limit
        self.drawn: list[Point | None] = []
        self.domains = model.domain_map
        self.defaults = model.constant_values()

    def points(self) -> Iterator[Point]:
        for i in range(self.limit):
            if i == len(self.drawn):
                self.drawn.append(self.draw())
            point = self.drawn[i]
            if point is not None:
                yield point

    def draw(self) -> Point | None:
        model = self.model
        raw = {sym: self.value(sym) for sym in model.independents}
        for sym, solution in model.assumption_solutions.items():  # meet the assumptions exactly
            raw[sym] = float(solution.xreplace(raw))
        point = Point(model, raw)
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
