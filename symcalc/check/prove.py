"""The verifier's symbolic rungs: deciding that a difference is 0 (proved) or a non-zero number (refuted).

`canonical` writes an expression as a rational function of opaque atoms, each
function of the same argument written one way: tanh, sinh and cosh through
exp; exp(a + b) as exp(a)·exp(b); exp(c·u) for every number c met as a power
of one atom exp(g·u) (exp(u/2)^2 for exp(u)); b^(p/q) through one root atom
b^(1/q), whose q-th power is b;
odd and even functions with the sign of their argument pulled out. If that
rational function cancels to 0, the difference is 0 for any values of the
atoms, so for theirs: a proof. If it cancels to a non-zero number, the
difference is that number wherever it is defined: a refutation.

`by_cases` proves piecewise identities (max, min, abs, relu, step) by
splitting on the signs of their kinks, a bounded number of leaves.
Every costly operation is bounded by the expression's size, so nothing runs away.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sympy as sp

from symcalc.check.rational import cancel
from symcalc.symbolic.functions import relu, step
from symcalc.symbolic.shared import atoms, free_symbols, xreplace

EXPAND_MAX_OPS = 200  # an exponent is expanded into its terms only below this size
MAX_KINKS = 6  # at most 2^6 leaves when proving by cases
MAX_ROUNDS = 3  # substitution rounds in which new kinks may appear

_ODD = (sp.sin, sp.tan, sp.sign, sp.asinh, sp.atan, sp.atanh)
_EVEN = (sp.cos, sp.Abs)
_HYPERBOLIC = (sp.sinh, sp.cosh, sp.tanh)


class Canonical:
    """Bottom-up rewriting into a rational function of `sp.Dummy` atoms, one per canonical function.

    One rewriting may serve many expressions (`cancelled`'s `rewrite`): a subexpression met again
    is rewritten once, into the same atoms, and each expression's form is what a fresh one gives
    (with other names for the atoms).
    """

    def __init__(self) -> None:
        self.atoms: dict[sp.Basic, sp.Dummy] = {}
        self.memo: dict[sp.Basic, sp.Expr] = {}
        #: Each root atom r = b^(1/q) with its q and b (canonical): r^q = b, the one relation kept.
        self.roots: dict[sp.Dummy, tuple[int, sp.Expr]] = {}
        #: exp(t) for each term t met in an exponent, until `whole` picks the power they share.
        self.exponentials: dict[sp.Expr, sp.Dummy] = {}

    def whole(self, expr: sp.Basic) -> sp.Expr:
        """`expr` rewritten, each exp(c·t) (c a number) a power of one atom exp(g·t) shared by every c."""
        result = self(expr)
        placeholders = {placeholder: term for term, placeholder in self.exponentials.items()}
        powers = [p for p in atoms(result, sp.Pow) if p.base in placeholders]
        bare = free_symbols(xreplace(result, {p: sp.S.One for p in powers}))
        raised: dict[sp.Basic, set[sp.Expr]] = {}
        for p in powers:
            raised.setdefault(p.base, set()).add(p.exp)
        changes: dict[sp.Expr, sp.Expr] = {}
        for placeholder, term in placeholders.items():
            exponents = raised.get(placeholder, set())
            if placeholder in bare:
                exponents.add(sp.S.One)
            if not exponents:
                continue
            step = _common_step(exponents)
            for power in exponents:
                shared = step if step is not None else power
                key = sp.Pow(placeholder, power) if power != 1 else placeholder
                changes[key] = self.atom(sp.exp(shared * term)) ** (sp.Rational(power) / sp.Rational(shared))
        return xreplace(result, changes)

    def atom(self, key: sp.Basic) -> sp.Dummy:
        return self.atoms.setdefault(key, sp.Dummy())

    def __call__(self, expr: sp.Basic) -> sp.Expr:
        if expr in self.memo:
            return self.memo[expr]
        result = self.rewrite(expr)
        self.memo[expr] = result
        return result

    def rewrite(self, expr: sp.Basic) -> sp.Expr:
        if expr.is_Atom:
            return expr
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
            return self(expr.base) ** expr.exp
        if isinstance(expr, sp.Pow) and expr.exp.is_Rational:
            return self.root(expr.base, expr.exp)
        if expr.is_Add or expr.is_Mul:
            return expr.func(*(self(arg) for arg in expr.args))
        if isinstance(expr, sp.exp):
            return self.exp(expr.args[0])
        if isinstance(expr, sp.Pow) and not expr.exp.is_number:
            return self.power(expr.base, expr.exp)
        if isinstance(expr, _HYPERBOLIC):
            e = self.exp(expr.args[0])
            if isinstance(expr, sp.sinh):
                return (e - 1 / e) / 2
            if isinstance(expr, sp.cosh):
                return (e + 1 / e) / 2
            return (e**2 - 1) / (e**2 + 1)
        args = tuple(sp.expand(self.inside(arg)) for arg in expr.args)
        if len(args) == 1 and isinstance(expr, _ODD + _EVEN) and args[0].could_extract_minus_sign():
            flipped = self.atom(expr.func(-args[0]))
            return -flipped if isinstance(expr, _ODD) else flipped
        return self.atom(expr.func(*args))

    def inside(self, arg: sp.Basic) -> sp.Expr:
        """An argument of an opaque function, canonical too, so equal arguments give one atom."""
        return self(arg)

    def root(self, base: sp.Expr, exponent: sp.Rational) -> sp.Expr:
        """b^(p/q) as b^m·r^k with r = b^(1/q) an atom, p = m·q + k, 0 <= k < q.

        (b^(1/q))^p = b^(p/q) for principal powers of every b != 0, so (eps + var)^(3/2),
        sqrt(eps + var)·(eps + var) and (eps + var)^2/sqrt(eps + var) meet in one atom; r^q = b
        is applied again once a numerator is multiplied out (`_reduce_roots`).
        """
        inner = self.inside(base)
        if sp.count_ops(inner) <= EXPAND_MAX_OPS:
            inner = sp.expand(inner)
        q = int(exponent.q)
        whole, remainder = divmod(int(exponent.p), q)
        key = sp.Pow(inner, sp.Rational(1, q), evaluate=False)
        atom = self.atom(key)
        self.roots[atom] = (q, inner)
        return inner**whole * atom**remainder

    def exp(self, argument: sp.Expr) -> sp.Expr:
        """exp(u) as a product of atoms exp(t)^k: one per term t of u, with k its integer coefficient."""
        inner = self.inside(argument)
        if sp.count_ops(inner) <= EXPAND_MAX_OPS:
            inner = sp.expand(inner)
        result: sp.Expr = sp.S.One
        for term in sp.Add.make_args(inner):
            coefficient, rest = term.as_coeff_Mul()
            if rest == 1 or not (coefficient.is_Rational or coefficient.is_Float):
                coefficient, rest = sp.S.One, term
            if rest.could_extract_minus_sign():
                coefficient, rest = -coefficient, -rest
            if rest.is_number:
                result *= sp.exp(term)
            else:
                result *= self.exponentials.setdefault(rest, sp.Dummy()) ** coefficient
        return result

    def power(self, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        """b^(γ − 1) as atom(b^γ)·b^(−1), b^(2γ) as atom(b^γ)^2.

        b^(s + t) = b^s·b^t holds for every b ≠ 0 with principal powers, so this is sound.
        """
        base, inner = self(base), self.inside(exponent)
        if sp.count_ops(inner) <= EXPAND_MAX_OPS:
            inner = sp.expand(inner)
        result: sp.Expr = sp.S.One
        for term in sp.Add.make_args(inner):
            coefficient, rest = term.as_coeff_Mul()
            if term.is_Integer:
                result *= base**term
                continue
            if not coefficient.is_Integer or rest == 1:
                coefficient, rest = sp.S.One, term
            result *= self.atom(sp.Pow(base, rest)) ** coefficient
        return result


def _common_step(exponents: set[sp.Expr]) -> sp.Expr | None:
    """The largest g > 0 of which every exponent is an integer multiple (exp(x/2) and exp(x) share
    exp(x/2); 0.25 and 0.75 share 0.25), or None when there is none to find (0.3 and 0.7)."""
    if all(e.is_Rational for e in exponents):
        numerators = [abs(int(e.p)) for e in exponents]
        denominators = [int(e.q) for e in exponents]
        return sp.Rational(math.gcd(*numerators), math.lcm(*denominators))
    if not all(e.is_Float for e in exponents):
        return None
    step = min((abs(e) for e in exponents), key=float)
    exact = sp.Rational(step)  # a float is an exact binary fraction: multiples are tested exactly
    return step if all((sp.Rational(e) / exact).is_Integer for e in exponents) else None


def canonical(expr: sp.Expr) -> sp.Expr:
    """`expr` as a rational function of opaque atoms (see the module docstring)."""
    return Canonical().whole(expr)


def cancelled(expr: sp.Expr, rewrite: Canonical | None = None) -> sp.Expr | None:
    """0, or the non-zero number `expr` equals, from its canonical form; None when neither is shown.

    The canonical form is put over one denominator and its numerator multiplied out
    (`rational.cancel`): the rational function is 0 exactly when that numerator is 0, and a
    number c exactly when it is c times the denominator. No polynomial gcd is taken (SymPy's
    `cancel` ran for minutes on wrong claims of depth three) and every product is bounded,
    so the cost stays bounded. `rewrite`: a rewriting shared with other calls (a fresh one if None).
    """
    if expr == 0:
        return sp.S.Zero
    if rewrite is None:
        rewrite = Canonical()
    try:
        written = rewrite.whole(expr)
    except (sp.PolynomialError, TypeError, ValueError, NotImplementedError, RecursionError):
        return None
    return cancel(written, rewrite.roots)


def is_zero(expr: sp.Expr, rewrite: Canonical | None = None) -> bool:
    result = cancelled(expr, rewrite)
    return result is not None and result == 0


def nonzero_constant(expr: sp.Expr) -> sp.Expr | None:
    """The number `expr` equals wherever it is defined, when that is a real number other than 0."""
    result = cancelled(expr)
    if result is not None and result.is_number and result != 0 and result.is_real:
        return result
    return None


# -- proof by cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Branch:
    """How one piecewise function reads when the sign of its kink is known."""

    kinks: Callable[[sp.Expr], list[sp.Expr]]  # expressions whose sign picks the branch
    choose: Callable[[sp.Expr, dict[sp.Expr, int]], sp.Expr | None]  # the branch, given the signs


def _sign_of(signs: dict[sp.Expr, int], u: sp.Expr) -> int | None:
    """+1 or −1 for u > 0 or u < 0 under the case's signs (u and −u share one case variable)."""
    key, flip = _case_variable(u)
    if key.is_number:
        return None if key == 0 else int(sp.sign(key)) * flip
    sign = signs.get(key)
    return None if sign is None else sign * flip


def _case_variable(u: sp.Expr) -> tuple[sp.Expr, int]:
    """u as (v, ±1) with u = ±c·v for a number c > 0: u, −u and 2u share one case variable v."""
    u = sp.expand(u) if sp.count_ops(u) <= EXPAND_MAX_OPS else u
    content, primitive = u.as_content_primitive()
    if content.is_positive and not primitive.is_number:
        u = primitive
    return (-u, -1) if u.could_extract_minus_sign() else (u, 1)


def _max_min(f: sp.Expr, signs: dict[sp.Expr, int]) -> sp.Expr | None:
    """The argument of Max (Min) that is greater (smaller) than every other under the signs."""
    want = 1 if isinstance(f, sp.Max) else -1
    for a in f.args:
        if all(b == a or _sign_of(signs, a - b) == want for b in f.args):
            return a
    return None


def _pairwise(f: sp.Expr) -> list[sp.Expr]:
    return [a - b for i, a in enumerate(f.args) for b in f.args[i + 1 :]]


_UNIT_STEP = Branch(  # Heaviside and step differ only at the kink itself, where no case is proved
    lambda f: [f.args[0]], lambda f, s: _signed(f.args[0], s, lambda u, k: sp.Integer(int(k > 0)))
)

# Keyed by function class, so a new piecewise function is one entry.
BRANCHES: dict[type, Branch] = {
    sp.Abs: Branch(lambda f: [f.args[0]], lambda f, s: _signed(f.args[0], s, lambda u, k: u * k)),
    sp.sign: Branch(lambda f: [f.args[0]], lambda f, s: _signed(f.args[0], s, lambda u, k: sp.Integer(k))),
    sp.Heaviside: _UNIT_STEP,
    step: _UNIT_STEP,
    relu: Branch(
        lambda f: [f.args[0]], lambda f, s: _signed(f.args[0], s, lambda u, k: u if k > 0 else sp.S.Zero)
    ),
    sp.Max: Branch(_pairwise, _max_min),
    sp.Min: Branch(_pairwise, _max_min),
}


def _signed(
    u: sp.Expr, signs: dict[sp.Expr, int], value: Callable[[sp.Expr, int], sp.Expr]
) -> sp.Expr | None:
    sign = _sign_of(signs, u)
    return None if sign is None else value(u, sign)


def piecewise_atoms(expr: sp.Expr) -> list[sp.Expr]:
    return sorted(expr.atoms(*BRANCHES), key=sp.default_sort_key)


def kinks_of(expr: sp.Expr) -> list[sp.Expr]:
    """The case variables of every piecewise atom in `expr`: u and −u counted once."""
    found: dict[sp.Expr, None] = {}
    for f in piecewise_atoms(expr):
        for kink in BRANCHES[type(f)].kinks(f):
            key, _ = _case_variable(kink)
            if not key.is_number:
                found.setdefault(key)
    return list(found)


def on_branch(expr: sp.Expr, signs: dict[sp.Expr, int]) -> sp.Expr:
    """`expr` with every piecewise atom whose kinks' signs are known replaced by its branch."""

    def pick(f: sp.Expr) -> sp.Expr:
        branch = BRANCHES[type(f)].choose(f, signs)
        return f if branch is None else branch

    return expr.replace(lambda e: type(e) in BRANCHES, pick)


def sign_cases(kinks: list[sp.Expr]) -> Iterator[dict[sp.Expr, int]]:
    """Every assignment of signs (+1, −1) to the kinks (at a kink itself, = 0, a side is undefined)."""
    for signs in itertools.product((1, -1), repeat=len(kinks)):
        yield dict(zip(kinks, signs, strict=True))


def known_signs(signs: dict[sp.Symbol, int]) -> dict[sp.Expr, int]:
    """Signs known in advance (a name whose domain is positive), keyed by case variable."""
    return {_case_variable(sym)[0]: sign * _case_variable(sym)[1] for sym, sign in signs.items()}


def by_cases(difference: sp.Expr, signs: dict[sp.Expr, int] | None = None, splits: int = 0) -> bool:
    """Whether `difference` is 0 away from its kinks: split on one kink's sign at a time, at most
    MAX_KINKS deep (2^MAX_KINKS leaves), each leaf with every piecewise atom replaced by its branch.

    Branches are chosen bottom-up, so a kink inside another's argument (min(d^2/2, δ(|d| − δ/2)))
    is split first and the outer kink is read on each branch. A leaf that does not cancel: no proof.
    """
    signs = signs or {}
    if not feasible(signs):
        return True  # no point has these signs: e > 0, ε > 0 and e + ε < 0 is no case at all
    reduced = on_branch(difference, signs)
    pending = [kink for kink in kinks_of(reduced) if kink not in signs]
    pending.sort(key=lambda kink: bool(piecewise_atoms(kink)))  # innermost kinks first
    if not pending:
        return is_zero(reduced)
    if splits >= MAX_KINKS:
        return False
    kink = pending[0]
    return all(by_cases(difference, {**signs, kink: sign}, splits + 1) for sign in (1, -1))


def feasible(signs: dict[sp.Expr, int]) -> bool:
    """False when the signs cannot all hold at once: the case variables that are polynomials in
    names, read as linear in their monomials (w1·x1 one unknown), each strictly of its sign, have no
    common solution (Fourier–Motzkin elimination, exact for strict inequalities). Treating the
    monomials as independent only adds solutions, and other case variables are left out, so False
    is only said where it is certain."""
    rows: list[tuple[dict[sp.Expr, sp.Rational], sp.Rational]] = []
    for variable, sign in signs.items():
        names = sorted(variable.free_symbols, key=sp.default_sort_key)
        try:
            poly = sp.Poly(sign * variable, *names) if names else None
        except sp.PolynomialError:
            continue
        if poly is None or not (poly.domain.is_QQ or poly.domain.is_ZZ):
            continue
        terms = {sp.Mul(*(n**k for n, k in zip(names, m, strict=True))): c for m, c in poly.terms()}
        constant = sp.Rational(terms.pop(sp.S.One, 0))
        rows.append(({monomial: sp.Rational(c) for monomial, c in terms.items()}, constant))
    return _solvable_strictly(rows)


def _solvable_strictly(rows: list[tuple[dict[sp.Expr, sp.Rational], sp.Rational]]) -> bool:
    """Whether Σ a·v + c > 0 holds for every row at some v: eliminate one name at a time, pairing each
    row where it has a positive coefficient with each where it has a negative one."""
    for _ in range(MAX_KINKS * 2):
        names = {name for coefficients, _ in rows for name in coefficients}
        if not names or len(rows) > 4 * MAX_KINKS**2:
            break
        name = min(names, key=sp.default_sort_key)
        upper = [r for r in rows if r[0].get(name, 0) > 0]
        lower = [r for r in rows if r[0].get(name, 0) < 0]
        kept = [r for r in rows if name not in r[0]]
        for (a, c), (b, d) in itertools.product(upper, lower):
            p, q = a[name], -b[name]  # q·(a·v + c) + p·(b·v + d) > 0 no longer has `name`
            combined = {n: q * a.get(n, 0) + p * b.get(n, 0) for n in a.keys() | b.keys() if n != name}
            kept.append(({n: k for n, k in combined.items() if k}, q * c + p * d))
        rows = kept
    return all(coefficients or constant > 0 for coefficients, constant in rows)


def by_members(
    difference: sp.Expr, members: dict[sp.Symbol, tuple[sp.Expr, ...]], prove: Callable[[sp.Expr], bool]
) -> bool:
    """Whether `prove` holds for `difference` with each finite-domain name replaced by each of its values."""
    names = sorted(members.keys() & difference.free_symbols, key=sp.default_sort_key)
    choices = [members[name] for name in names]
    count = 1
    for values in choices:
        count *= len(values)
    if count > 2**MAX_KINKS:
        return False
    return all(
        prove(difference.xreplace(dict(zip(names, values, strict=True))))
        for values in itertools.product(*choices)
    )
