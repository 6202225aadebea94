"""Recognising textbook functions written out with exp and log: a = 1/(1 + e^(−z)) is σ(z).

Students copy σ, tanh and softplus from their notes in elementary form. Deriving
the written-out form gives a true but unrecognisable answer (∂a/∂z = a²e^(−z));
deriving the named function gives the textbook one (a(1 − a), and ∂L/∂z = a − y).
A definition is replaced by a named function only after an exact check that the
two are the same function: every e^(c·u) becomes t^c for a fresh t = e^u > 0 and
the difference must cancel to 0 as a rational function (logs compared by their
arguments). Nothing is recognised on a numeric or sampled agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sympy as sp

from symcalc.symbolic.functions import sigmoid, softplus, to_elementary

# Definitions larger than this are not searched: recognition is for the short forms of notes.
MAX_OPS = 40

_T = sp.Symbol("t_exp", positive=True)


@dataclass(frozen=True)
class Recognised:
    """`node`'s definition `written` is the named function `named`, checked exactly."""

    node: sp.Symbol
    written: sp.Expr
    named: sp.Expr
    function: str


# Each named function with the arguments to try, given the argument v of an exp(v) in the definition.
_Arguments = Callable[[sp.Expr], tuple[sp.Expr, ...]]
_CANDIDATES: tuple[tuple[str, Callable[[sp.Expr], sp.Expr], _Arguments], ...] = (
    ("σ", sigmoid, lambda v: (v, -v)),
    ("tanh", sp.tanh, lambda v: (v / 2, -v / 2, v, -v)),
    ("softplus", softplus, lambda v: (v, -v)),
)


def recognise(node: sp.Symbol, definition: sp.Expr) -> Recognised | None:
    """The named function `definition` is, if it is one of σ, tanh, softplus written out.

    A softmax of two scores, e^u/(e^u + e^v), is σ(u − v).
    """
    elementary = to_elementary(definition)  # 2σ(2u) − 1 is tanh(u) too
    if not elementary.has(sp.exp) or sp.count_ops(elementary) > MAX_OPS:
        return None
    for name, function, arguments in _CANDIDATES:
        for u in _arguments(elementary, arguments):
            named = function(u)
            if named.has(sp.exp) or named == definition:
                continue  # u itself holds an exp, or the definition already names it
            if same_function(to_elementary(named).rewrite(sp.exp), elementary, u):
                return Recognised(node, definition, named, name)
    for u in _differences(elementary):
        named = sigmoid(u)
        if same_in_exps(to_elementary(named), elementary):
            return Recognised(node, definition, named, "σ")
    return None


def _differences(definition: sp.Expr) -> Iterator[sp.Expr]:
    """u − v for every two exps e^u, e^v in the definition: the argument of a two-score softmax."""
    arguments = sorted({e.args[0] for e in definition.atoms(sp.exp)}, key=sp.default_sort_key)
    for u in arguments:
        for v in arguments:
            if u != v:
                yield u - v


def same_in_exps(left: sp.Expr, right: sp.Expr) -> bool:
    """Whether `left` and `right` are exactly equal, proved with each e^m (m a term) as a variable.

    e^(u − v) is written e^u·e^(−v) first (e^(a + b) = e^a·e^b), so σ(u − v) and
    e^u/(e^u + e^v) become the same rational function of t_u = e^u and t_v = e^v.
    """
    variables: dict[sp.Expr, sp.Symbol] = {}

    def split(e: sp.exp) -> sp.Expr:
        result: sp.Expr = sp.S.One
        for term in sp.Add.make_args(sp.expand(e.args[0])):
            coefficient, rest = term.as_coeff_Mul()
            if not coefficient.is_Rational or rest == 1:
                coefficient, rest = sp.S.One, term
            result *= variables.setdefault(rest, sp.Dummy(positive=True)) ** coefficient
        return result

    a, b = (side.replace(lambda e: isinstance(e, sp.exp), split) for side in (left, right))
    return _equal_as_rational_functions(a, b)


def _arguments(definition: sp.Expr, arguments: _Arguments) -> Iterator[sp.Expr]:
    seen: set[sp.Expr] = set()
    for power in sorted(definition.atoms(sp.exp), key=sp.default_sort_key):
        for u in arguments(power.args[0]):
            if u not in seen:
                seen.add(u)
                yield u


def same_function(left: sp.Expr, right: sp.Expr, u: sp.Expr) -> bool:
    """Whether `left` and `right` are exactly equal, proved with e^u as a rational variable."""
    a, b = _rational_in_exp(left, u), _rational_in_exp(right, u)
    if isinstance(a, sp.log) and isinstance(b, sp.log):
        a, b = a.args[0], b.args[0]
    return _equal_as_rational_functions(a, b)


def _equal_as_rational_functions(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether a − b cancels to 0, once no exp or log is left in either (else no proof: False)."""
    if a.has(sp.exp, sp.log) or b.has(sp.exp, sp.log):
        return False
    try:
        return bool(sp.cancel(a - b) == 0)
    except sp.PolynomialError:
        return False


def _rational_in_exp(expr: sp.Expr, u: sp.Expr) -> sp.Expr:
    """`expr` with each e^(c·u), c rational, written t^c; other exps are left as they are."""

    def power(e: sp.exp) -> sp.Expr:
        ratio = sp.cancel(e.args[0] / u)
        return _T**ratio if ratio.is_Rational else e

    return expr.replace(lambda e: isinstance(e, sp.exp), power)


def recognise_all(definitions: tuple[tuple[sp.Symbol, sp.Expr], ...]) -> list[Recognised]:
    """Every definition that is a named function written out, in file order."""
    found = (recognise(node, definition) for node, definition in definitions)
    return [r for r in found if r is not None]
