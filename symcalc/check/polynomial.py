"""Sparse polynomials with integer coefficients, each monomial packed into one integer (the prover's).

A monomial x₀^e₀·x₁^e₁·… is the integer Σ eᵢ·2^(16·i), so multiplying two monomials is adding
two integers. Multiplying out a layer norm's gradient this way took 0.5 s where SymPy's
polynomial ring (a tuple of exponents per monomial) took 8 s and `expand` longer still. An
exponent stays below 2^16 because a polynomial's total degree does (else `TooLarge`), and every
product is bounded by its number of term pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from symcalc.errors import TooLarge

FIELD = 16  # bits per exponent
MASK = (1 << FIELD) - 1
MAX_DEGREE = MASK  # a total degree at most this keeps every exponent inside its field
MAX_PRODUCT = 4_000_000  # term pairs in one product (about a second); past it, no decision

#: The term operations (pairs multiplied, terms added) left inside `spending`; None outside it.
_LEFT: ContextVar[list[int] | None] = ContextVar("polynomial_work_left", default=None)


@contextmanager
def spending(work: int) -> Iterator[list[int]]:
    """Every polynomial sum and product inside shares `work` term operations; past them, `TooLarge`
    (so a caller that makes many decisions bounds them all together). Yields [what is left]."""
    left = [work]
    token = _LEFT.set(left)
    try:
        yield left
    finally:
        _LEFT.reset(token)


def _spend(work: int) -> None:
    left = _LEFT.get()
    if left is not None:
        left[0] -= work
        if left[0] < 0:
            raise TooLarge


class Poly:
    """An immutable polynomial: packed monomial → non-zero integer coefficient, and a bound on its degree."""

    __slots__ = ("_hash", "degree", "terms")

    def __init__(self, terms: dict[int, int], degree: int):
        self.terms = terms
        self.degree = degree  # an upper bound on the total degree
        self._hash: int | None = None

    @staticmethod
    def constant(value: int) -> Poly:
        return Poly({0: value} if value else {}, 0)

    @staticmethod
    def generator(index: int) -> Poly:
        return Poly({1 << (FIELD * index): 1}, 1)

    def __len__(self) -> int:
        return len(self.terms)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Poly) and self.terms == other.terms

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self.terms.items()))
        return self._hash

    @property
    def is_constant(self) -> bool:
        return not self.terms or (len(self.terms) == 1 and 0 in self.terms)

    def value(self) -> int:
        """The number a constant polynomial is."""
        return self.terms.get(0, 0)

    def __add__(self, other: Poly) -> Poly:
        _spend(len(self.terms) + len(other.terms))
        terms = dict(self.terms)
        for monomial, coefficient in other.terms.items():
            total = terms.get(monomial, 0) + coefficient
            if total:
                terms[monomial] = total
            else:
                del terms[monomial]
        return Poly(terms, max(self.degree, other.degree))

    def scaled(self, factor: int) -> Poly:
        if factor == 0:
            return Poly({}, 0)
        return Poly({m: c * factor for m, c in self.terms.items()}, self.degree)

    def __mul__(self, other: Poly) -> Poly:
        if len(self.terms) * len(other.terms) > MAX_PRODUCT or self.degree + other.degree > MAX_DEGREE:
            raise TooLarge
        _spend(len(self.terms) * len(other.terms))
        if len(other.terms) > len(self.terms):
            self, other = other, self
        result: dict[int, int] = {}
        get = result.get
        for m, c in other.terms.items():
            for n, d in self.terms.items():
                key = m + n
                result[key] = get(key, 0) + c * d
        return Poly({k: v for k, v in result.items() if v}, self.degree + other.degree)

    def __pow__(self, exponent: int) -> Poly:
        result = Poly.constant(1)
        for _ in range(exponent):
            result = result * self
        return result

    def items(self) -> Iterator[tuple[int, int]]:
        return iter(self.terms.items())


def exponent(monomial: int, index: int) -> int:
    """The exponent of generator `index` in a packed monomial."""
    return (monomial >> (FIELD * index)) & MASK


def generators_in(monomial: int) -> Iterator[int]:
    """The indices of the generators with a non-zero exponent in a packed monomial."""
    index = 0
    while monomial:
        if monomial & MASK:
            yield index
        monomial >>= FIELD
        index += 1
