"""Whether a rational function of opaque atoms is 0 or a number: over one denominator, multiplied out.

`prove.canonical` writes a difference as a rational function of atoms. Here it is put over one
denominator as `sympy.together` does (a sum's denominator is the least common multiple of its
terms' denominators, factor by factor as they are written; the numbers' denominators are one
integer), and its numerator multiplied out with integer coefficients (`check.polynomial`). No
polynomial gcd is ever taken and every product is bounded, so the cost stays bounded. A float
is read as the exact binary fraction it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy as sp

from symcalc.check.polynomial import FIELD, Poly, exponent, generators_in
from symcalc.errors import TooLarge
from symcalc.symbolic.shared import nodes

MAX_ROUNDS = 4  # rounds of r^q = b, for roots inside roots
_UNDEFINED = frozenset((sp.zoo, sp.nan, sp.oo, -sp.oo))


@dataclass
class _Fraction:
    """numerator / (scale · Π factor^power): the denominator kept as the product the expression wrote."""

    numerator: Poly
    factors: dict[Poly, int] = field(default_factory=dict)
    scale: int = 1  # the numbers' denominators, > 0


def _opaque(expr: sp.Basic) -> bool:
    """A node read as one generator: a name, an atom, or a number that is not rational."""
    if expr.is_Rational or expr.is_Float or expr.is_Add or expr.is_Mul:
        return False
    return not (expr.is_Pow and expr.exp.is_Integer)


class _Reader:
    """SymPy expressions (sums, products and integer powers of generators) as fractions of polynomials."""

    def __init__(self, generators: Mapping[sp.Basic, int]):
        self.generators = generators
        self.memo: dict[sp.Basic, _Fraction] = {}
        #: (b, s) → r^q for each root r = (b/s)^(1/q): a sum or power that is b/s is read as r^q,
        #: so var + eps under sqrt(var + eps) stays one monomial instead of 46 terms.
        self.powers_of_roots: dict[tuple[Poly, int], _Fraction] = {}

    def __call__(self, expr: sp.Basic) -> _Fraction:
        if expr not in self.memo:
            fraction = self.read(expr)
            if not fraction.factors and len(fraction.numerator) > 1:
                fraction = self.powers_of_roots.get((fraction.numerator, fraction.scale), fraction)
            self.memo[expr] = fraction
        return self.memo[expr]

    def read(self, expr: sp.Basic) -> _Fraction:
        if expr.is_Rational or expr.is_Float:
            value = sp.Rational(expr)  # a float's exact value
            return _Fraction(Poly.constant(int(value.p)), scale=int(value.q))
        if expr in self.generators:
            return _Fraction(Poly.generator(self.generators[expr]))
        if expr.is_Add:
            return self.sum([self(arg) for arg in expr.args])
        if expr.is_Mul:
            result = _Fraction(Poly.constant(1))
            for arg in expr.args:
                result = self.times(result, self(arg))
            return result
        base, power = self(expr.base), int(expr.exp)
        if power >= 0:
            factors = {f: p * power for f, p in base.factors.items()}
            return _Fraction(base.numerator**power, factors, base.scale**power)
        power = -power
        if not base.numerator:
            raise ZeroDivisionError
        numerator = Poly.constant(base.scale**power)
        for factor, times in base.factors.items():
            numerator = numerator * factor ** (times * power)
        if base.numerator.is_constant:  # a number: its value joins the scale
            value = base.numerator.value() ** power
            return _Fraction(numerator.scaled(1 if value > 0 else -1), scale=abs(value))
        return _Fraction(numerator, {base.numerator: power})

    def times(self, left: _Fraction, right: _Fraction) -> _Fraction:
        factors = dict(left.factors)
        for factor, power in right.factors.items():
            factors[factor] = factors.get(factor, 0) + power
        return _Fraction(left.numerator * right.numerator, factors, left.scale * right.scale)

    def sum(self, parts: list[_Fraction]) -> _Fraction:
        """Σ parts over their least common denominator (factor by factor, as written)."""
        common: dict[Poly, int] = {}
        for part in parts:
            for factor, power in part.factors.items():
                common[factor] = max(common.get(factor, 0), power)
        scale = math.lcm(*(part.scale for part in parts))
        total = Poly.constant(0)
        for part in parts:
            term = part.numerator.scaled(scale // part.scale)
            for factor, power in common.items():
                missing = power - part.factors.get(factor, 0)
                if missing:
                    term = term * factor**missing
            total = total + term
        return _Fraction(total, common, scale)


def _generators(expr: sp.Expr, roots: Mapping[sp.Symbol, tuple[int, sp.Expr]]) -> list[sp.Basic]:
    """The opaque nodes of `expr` and of the bases of the roots it uses, in a fixed order."""
    found: dict[sp.Basic, None] = {}
    pending = [expr]
    seen: set[sp.Basic] = set()
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        if _opaque(node):
            found.setdefault(node)
            if node in roots:
                pending.append(roots[node][1])
        else:
            pending.extend(node.args)
    return sorted(found, key=sp.default_sort_key)


def _reduce(polynomial: Poly, roots: Mapping[int, tuple[int, Poly, int]]) -> tuple[Poly, int]:
    """s^W times the polynomial with every power r^e, e >= q, of a root r = (b/s)^(1/q) (generator
    index → q, b, s) written r^(e mod q)·(b/s)^(e div q), and that factor s^W (all roots').

    Where the atoms take their values r^q = b/s, so the value is only multiplied by s^W.
    """
    multiplier = 1
    for _ in range(MAX_ROUNDS):
        changed = False
        for index, (q, base, scale) in roots.items():
            wholes = {m: exponent(m, index) // q for m, _ in polynomial.items()}
            most = max(wholes.values(), default=0)
            if not most:
                continue
            changed = True
            terms: dict[int, int] = {}
            degree = polynomial.degree
            powers = {whole: base**whole for whole in set(wholes.values()) if whole}
            for monomial, coefficient in polynomial.items():
                whole = wholes[monomial]
                lowered = monomial - (whole * q << (FIELD * index))
                term = Poly({lowered: coefficient * scale ** (most - whole)}, polynomial.degree)
                if whole:
                    term = term * powers[whole]
                    degree = max(degree, term.degree)
                for m, c in term.items():
                    terms[m] = terms.get(m, 0) + c
            polynomial = Poly({m: c for m, c in terms.items() if c}, degree)
            multiplier *= scale**most
        if not changed:
            break
    return polynomial, multiplier


def cancel(expr: sp.Expr, roots: Mapping[sp.Symbol, tuple[int, sp.Expr]]) -> sp.Expr | None:
    """0, or the number `expr` equals, when its numerator over one denominator shows it; else None.

    `roots`: each root atom r = b^(1/q) with q and b (a polynomial in the other atoms), whose
    relation r^q = b is used.
    """
    if any(node in _UNDEFINED for node in nodes(expr)):  # expr.has(...), each shared node once
        return None
    names = _generators(expr, roots)
    if not names:
        return sp.Rational(expr) if expr.is_Rational or expr.is_Float else None
    generators = {name: index for index, name in enumerate(names)}
    read = _Reader(generators)
    try:
        relations = {}
        for atom, (q, base) in roots.items():
            if atom in generators:
                value = read(base)
                if not value.factors:
                    relations[generators[atom]] = (q, value.numerator, value.scale)
        for index, (q, base, scale) in relations.items():
            solved = _solvable(base, names)
            if solved is not None:  # b = c·g + rest with a name g: g = (s·r^q − rest)/c, and r is free
                name, c, rest = solved
                value = (scale * names[index] ** q - rest) / c
                atom = names[index]
                others = {r: (k, b.xreplace({name: value})) for r, (k, b) in roots.items() if r != atom}
                return cancel(expr.xreplace({name: value}), others)
        read.memo.clear()  # read again, with each root's base as a power of the root
        read.powers_of_roots = {
            (base, scale): _Fraction(Poly.generator(index) ** q)
            for index, (q, base, scale) in relations.items()
        }
        fraction = read(expr)
        numerator, raised = _reduce(fraction.numerator, relations)
        if not numerator:
            return sp.S.Zero
        denominator = Poly.constant(fraction.scale)
        for factor, power in fraction.factors.items():
            denominator = denominator * factor**power
        denominator, lowered = _reduce(denominator, relations)
        ratio = _ratio(numerator, denominator, names)
        return None if ratio is None else ratio * sp.Rational(lowered, raised)
    except (TooLarge, ZeroDivisionError, RecursionError):
        return None


def _solvable(base: Poly, names: list[sp.Basic]) -> tuple[sp.Symbol, int, sp.Expr] | None:
    """(g, c, rest) when base = c·g + rest for a name g that occurs nowhere else in it (eps in
    eps + var), so that r^q = base/s can be solved for g: the relation then needs no reduction."""
    for monomial, coefficient in base.items():
        indices = list(generators_in(monomial))
        if len(indices) != 1 or exponent(monomial, indices[0]) != 1:
            continue
        (index,) = indices
        name = names[index]
        if not isinstance(name, sp.Symbol) or isinstance(name, sp.Dummy):
            continue
        if any(m != monomial and exponent(m, index) for m, _ in base.items()):
            continue
        rest = Poly({m: c for m, c in base.items() if m != monomial}, base.degree)
        return name, coefficient, _as_expr(rest, names)
    return None


def _ratio(numerator: Poly, denominator: Poly, names: list[sp.Basic]) -> sp.Expr | None:
    """c when numerator = c · denominator for a number c, else None (numbers such as π count as numbers)."""
    if not denominator:
        return None
    monomial, top = next(numerator.items())
    bottom = denominator.terms.get(monomial)
    if bottom is not None and numerator.scaled(bottom) == denominator.scaled(top):
        return sp.Rational(top, bottom)
    # a name that is not a number ends the search at once: a numerator of millions of terms is
    # not walked to the end (it was, 600 million times over, in one batch-form check)
    terms = (*numerator.items(), *denominator.items())
    if any(not names[i].is_number for m, _ in terms for i in generators_in(m)):
        return None
    return _as_expr(numerator, names) / _as_expr(denominator, names)


def _as_expr(polynomial: Poly, names: list[sp.Basic]) -> sp.Expr:
    return sp.Add(
        *(
            coefficient * sp.Mul(*(names[i] ** exponent(m, i) for i in generators_in(m)))
            for m, coefficient in polynomial.items()
        )
    )
