"""Domains of independent names (the `[domains]` table): parsing the text safely, membership, sampling.

A domain is a finite set of numbers (``"{-1, 1}"``) or an interval
(``"(0, 1)"``, ``"[0, inf)"``). The text is read by a small hand parser with
caps on length and member count: nothing is evaluated. Sampling draws exact
float64 values (multiples of 1/128 wherever the domain allows) so that a
reported point reproduces exactly.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from fractions import Fraction

from symcalc.errors import DomainError

MAX_TEXT = 200  # characters in one domain's text
MAX_MEMBERS = 64  # members of a finite set
GRID = 128  # sampled values are multiples of 1/GRID where the domain allows
LARGE = 64  # unbounded names are sampled up to this magnitude

_NUMBER = re.compile(r"[+-]?(?:\d{1,40}(?:\.\d{0,40})?|\.\d{1,40})(?:[eE][+-]?\d{1,3})?")
_INTERVAL = re.compile(r"([(\[])\s*([^,]*?)\s*,\s*([^,]*?)\s*([)\]])")


@dataclass(frozen=True)
class Domain:
    """A finite set of exact numbers (`members`), or an interval between `low` and `high`."""

    members: tuple[Fraction, ...] | None = None
    low: Fraction | None = None  # None: unbounded below
    high: Fraction | None = None  # None: unbounded above
    low_closed: bool = False
    high_closed: bool = False
    text: str = ""

    @property
    def finite(self) -> bool:
        return self.members is not None

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int | float | Fraction) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            return False
        x = Fraction(value)
        if self.members is not None:
            return x in self.members
        if self.low is not None and (x < self.low or (x == self.low and not self.low_closed)):
            return False
        return not (self.high is not None and (x > self.high or (x == self.high and not self.high_closed)))

    def intersect_members(self, values: tuple[Fraction, ...], text: str) -> Domain:
        """The finite domain of those `values` that lie in this domain."""
        kept = tuple(v for v in values if v in self)
        if not kept:
            raise DomainError(f"no value of {text} lies in {self.text}")
        return Domain(members=kept, text="{" + ", ".join(_show(v) for v in kept) + "}")

    def sample(self, rng: random.Random) -> float:
        """One exact float64 value in the domain, over its whole range (both signs, all magnitudes)."""
        if self.members is not None:
            return float(rng.choice(self.members))
        if self.low is not None and self.high is not None:
            return self._sample_bounded(rng, self.low, self.high)
        for _ in range(50):
            value = real_line(rng)
            if value in self:
                return value
        anchor = self.low if self.low is not None else self.high
        assert anchor is not None
        offset = abs(real_line(rng)) + Fraction(1, GRID)
        edge = _grid_inside(anchor, up=self.low is not None)
        return float(edge + offset if self.low is not None else edge - offset)

    def _sample_bounded(self, rng: random.Random, low: Fraction, high: Fraction) -> float:
        grid = GRID
        while grid <= 2**40:
            first, last = math.ceil(low * grid), math.floor(high * grid)
            if Fraction(first, grid) == low and not self.low_closed:
                first += 1
            if Fraction(last, grid) == high and not self.high_closed:
                last -= 1
            if first <= last:
                return rng.randint(first, last) / grid
            grid *= 16
        return float((low + high) / 2)


def real_line(rng: random.Random) -> float:
    """A value anywhere on the real line: −1, 0, 1; moderate; small; and large magnitudes, both signs."""
    kind = rng.random()
    if kind < 0.15:
        return float(rng.choice((-1, 0, 1)))
    if kind < 0.55:
        return rng.randint(-2 * GRID, 2 * GRID) / GRID
    sign = rng.choice((-1, 1))
    if kind < 0.75:
        return sign * rng.randint(1, GRID // 8) / GRID
    return sign * rng.randint(2 * GRID, LARGE * GRID) / GRID


def moderate(rng: random.Random) -> float:
    """A parameter's value: both signs, magnitudes up to 2."""
    return rng.randint(-2 * GRID, 2 * GRID) / GRID


def _grid_inside(anchor: Fraction, up: bool) -> Fraction:
    scaled = anchor * GRID
    return Fraction(math.ceil(scaled) if up else math.floor(scaled), GRID)


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else repr(float(value))


def parse_domain(text: str) -> Domain:
    """A domain from its text; DomainError with a one-line reason when it is not one."""
    if len(text) > MAX_TEXT:
        raise DomainError(f"is {len(text)} characters; the limit is {MAX_TEXT}")
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        return _finite_set(body[1:-1], text)
    match = _INTERVAL.fullmatch(body)
    if match is None:
        raise DomainError(f'{text!r} is neither a set like "{{0, 1}}" nor an interval like "(0, 1)"')
    opening, low_text, high_text, closing = match.groups()
    low = _endpoint(low_text, infinite="-inf")
    high = _endpoint(high_text, infinite="inf")
    if (low is None and opening == "[") or (high is None and closing == "]"):
        raise DomainError(f'{text!r}: an infinite end must be open, e.g. "[0, inf)"')
    if (
        low is not None
        and high is not None
        and (low > high or (low == high and (opening, closing) != ("[", "]")))
    ):
        raise DomainError(f"{text!r} is an empty interval")
    return Domain(low=low, high=high, low_closed=opening == "[", high_closed=closing == "]", text=body)


def _finite_set(inner: str, text: str) -> Domain:
    items = [item.strip() for item in inner.split(",")]
    if items == [""]:
        raise DomainError(f"{text!r} is an empty set")
    if len(items) > MAX_MEMBERS:
        raise DomainError(f"{text!r} has {len(items)} members; the limit is {MAX_MEMBERS}")
    members: list[Fraction] = []
    for item in items:
        value = _number(item)
        if value is None:
            raise DomainError(f"set member {item!r} is not a finite number")
        if value not in members:
            members.append(value)
    return Domain(members=tuple(sorted(members)), text="{" + inner.strip() + "}")


def _endpoint(item: str, infinite: str) -> Fraction | None:
    if item.lower() in {infinite, "+inf" if infinite == "inf" else infinite}:
        return None
    value = _number(item)
    if value is None:
        raise DomainError(f"interval end {item!r} is not a finite number or {infinite}")
    return value


def _number(item: str) -> Fraction | None:
    """A finite decimal number written plainly (no names, no expressions), exactly; None otherwise."""
    if not _NUMBER.fullmatch(item):
        return None
    value = float(item)
    if not math.isfinite(value) or abs(value) > 1e300:
        return None
    return Fraction(item)
