"""Every line of a numeric program rewritten to stay finite in float64, on its own, and the printer
that writes it for NumPy.

log σ(z) → −softplus(−z), 1 − σ(z) → σ(−z), 1 − tanh(z)² → 1/cosh(z)², log(1 + u) → log1p(u),
exp(u) − 1 → expm1(u), the log of a softmax as a log-sum-exp; `stable_line` looks one level into
the σ, tanh and exp definitions a line reads. `StablePrinter` writes σ and softplus without
overflow, each function by its entry in the function table (`symcalc.symbolic.functions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.codegen.rewriting import FuncMinusOneOptim, ReplaceOptim, optimize
from sympy.printing.numpy import NumPyPrinter

from symcalc.symbolic.functions import sigmoid, softplus, spec_of
from symcalc.symbolic.order import PositiveFirst


def _is_sigmoid_term(term: sp.Expr, sign: int) -> bool:
    """`term` is sign·σ(u)."""
    if sign > 0:
        return isinstance(term, sigmoid)
    return term.is_Mul and len(term.args) == 2 and term.args[0] == -1 and isinstance(term.args[1], sigmoid)


def _complement_query(expr: sp.Expr) -> bool:
    """An Add holding 1 − σ(u) or σ(u) − 1 (possibly among other terms)."""
    if not expr.is_Add:
        return False
    args = expr.args
    return (sp.S.One in args and any(_is_sigmoid_term(t, -1) for t in args)) or (
        sp.S.NegativeOne in args and any(_is_sigmoid_term(t, +1) for t in args)
    )


def _complement_value(expr: sp.Expr) -> sp.Expr:
    """1 − σ(u) = σ(−u): no cancellation when σ(u) is close to 1."""
    terms = list(expr.args)
    if sp.S.One in terms:
        minus = next(t for t in terms if _is_sigmoid_term(t, -1))
        terms.remove(sp.S.One)
        terms.remove(minus)
        return sp.Add(sigmoid(-minus.args[1].args[0]), *terms)
    plus = next(t for t in terms if _is_sigmoid_term(t, +1))
    terms.remove(sp.S.NegativeOne)
    terms.remove(plus)
    return sp.Add(-sigmoid(-plus.args[0]), *terms)


def _exp_term(base: sp.Expr) -> sp.Expr | None:
    """u when `base` is 1 + exp(u), else None."""
    if base.is_Add and len(base.args) == 2 and sp.S.One in base.args:
        other = base.args[0] if base.args[1] == 1 else base.args[1]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _required(expr: sp.Expr | None) -> sp.Expr:
    assert expr is not None  # the query matched, so the value exists
    return expr


def _one_plus(arg: sp.Expr) -> sp.Expr | None:
    """u when `arg` is 1 + u, else None."""
    if arg.is_Add and sp.S.One in arg.args:
        return arg - 1
    return None


def _rational_in_sigmoid(expr: sp.Expr) -> sp.Expr:
    """Write exp(±u) beside σ(u) through s = σ(u) and cancel: the derivative of a hand-written σ.

    exp(−u) = (1 − s)/s, exp(u) = s/(1 − s) and σ(−u) = 1 − s are exact, and the
    rational function in s that results usually cancels to the short form
    (x·s − t·x rather than s²·x·((1 − t)/(1 − s) − t/s)·exp(−u), whose exp overflows).
    Kept only when it removes every exp(±u).
    """
    for atom in sorted(expr.atoms(sigmoid), key=sp.default_sort_key):
        u = atom.args[0]
        if not (expr.has(sp.exp(u)) or expr.has(sp.exp(-u))):
            continue
        s = sp.Dummy("s")
        rational = expr.xreplace(
            {sigmoid(u): s, sigmoid(-u): 1 - s, sp.exp(-u): (1 - s) / s, sp.exp(u): s / (1 - s)}
        )
        if rational.has(sp.exp(u), sp.exp(-u)):
            continue
        expr = sp.factor(sp.cancel(rational)).xreplace({s: sigmoid(u)})
    return expr


def _minus_tanh_squared(term: sp.Expr) -> sp.Expr | None:
    """u when `term` is −tanh(u)², else None."""
    if term.is_Mul and len(term.args) == 2 and term.args[0] == -1:
        power = term.args[1]
        if power.is_Pow and power.exp == 2 and isinstance(power.base, sp.tanh):
            return power.base.args[0]
    return None


def _sech_query(expr: sp.Expr) -> bool:
    """An Add holding 1 − tanh(u)² (among other terms or not)."""
    return bool(expr.is_Add and sp.S.One in expr.args and any(_minus_tanh_squared(t) for t in expr.args))


def _sech_value(expr: sp.Expr) -> sp.Expr:
    """1 − tanh(u)² = 1/cosh(u)²: no cancellation where tanh(u) is close to ±1 (|u| beyond a few)."""
    terms = list(expr.args)
    minus = next(t for t in terms if _minus_tanh_squared(t) is not None)
    terms.remove(sp.S.One)
    terms.remove(minus)
    return sp.Add(sp.cosh(_required(_minus_tanh_squared(minus))) ** -2, *terms)


def _hand_sigmoid_query(expr: sp.Expr) -> bool:
    return bool(expr.is_Pow and expr.exp.is_Integer and expr.exp < 0 and _exp_term(expr.base) is not None)


def _hand_sigmoid_value(expr: sp.Expr) -> sp.Expr:
    return sigmoid(-_required(_exp_term(expr.base))) ** (-expr.exp)


class _ExpMinusOne(FuncMinusOneOptim):
    """exp(u) − 1 → expm1(u) in a sum, as SymPy's `expm1_opt`, but not also on the factored expression:
    factoring takes minutes on a linear form of 70 weights and gigabytes on a composed tree."""

    def __call__(self, expr: sp.Expr) -> sp.Expr:
        return ReplaceOptim.__call__(self, expr)


def softmax_parts(expr: sp.Expr) -> tuple[sp.Expr, list[sp.Expr]] | None:
    """(u, [v₁, v₂, …]) when `expr` is exp(u)/(exp(v₁) + exp(v₂) + …), a softmax written out; else None."""
    if not expr.is_Mul or len(expr.args) != 2:
        return None
    top = next((f for f in expr.args if isinstance(f, sp.exp)), None)
    bottom = next((f for f in expr.args if f.is_Pow and f.exp == -1 and f.base.is_Add), None)
    if top is None or bottom is None or not all(isinstance(t, sp.exp) for t in bottom.base.args):
        return None
    return top.args[0], [t.args[0] for t in bottom.base.args]


def _softmax_value(expr: sp.Expr) -> sp.Expr:
    """exp(u − m)/Σ exp(vₖ − m) with m = max vₖ: every exp at most 1, the sum at least 1."""
    u, vs = _required(softmax_parts(expr))
    m = sp.Max(*vs)
    return sp.exp(u - m) / sp.Add(*(sp.exp(v - m) for v in vs))


def _log_softmax_value(expr: sp.Expr) -> sp.Expr:
    """log(exp(u)/Σ exp(vₖ)) = u − m − log Σ exp(vₖ − m): finite where the ratio underflows to 0."""
    u, vs = _required(softmax_parts(expr.args[0]))
    m = sp.Max(*vs)
    return u - m - sp.log(sp.Add(*(sp.exp(v - m) for v in vs)))


#: Rewrites applied in this order to every expression before it is compiled.
STABLE_REWRITES: tuple[ReplaceOptim, ...] = (
    # (written-out σ is named first, by `name_sigmoids`)
    # log of a softmax written out → u − max − log Σ exp(v − max) (log-sum-exp), before the ratio itself.
    ReplaceOptim(
        lambda e: isinstance(e, sp.log) and softmax_parts(e.args[0]) is not None, _log_softmax_value
    ),
    # exp(u)/Σ exp(v) → exp(u − max)/Σ exp(v − max): no overflow for scores past 709.
    ReplaceOptim(lambda e: softmax_parts(e) is not None, _softmax_value),
    # 1 − σ(u) → σ(−u).
    ReplaceOptim(_complement_query, _complement_value),
    # 1 − tanh(u)² → 1/cosh(u)² (the derivative of tanh, written through its output).
    ReplaceOptim(_sech_query, _sech_value),
    # log σ(u) = −softplus(−u): finite for every finite u.
    ReplaceOptim(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sigmoid),
        lambda e: -softplus(-e.args[0].args[0]),
    ),
    # log(1 + exp(u)) = softplus(u).
    ReplaceOptim(
        lambda e: isinstance(e, sp.log) and _exp_term(e.args[0]) is not None,
        lambda e: softplus(_exp_term(e.args[0])),
    ),
    # log(1 + u) → log1p(u), accurate for small u.
    ReplaceOptim(
        lambda e: isinstance(e, sp.log) and _one_plus(e.args[0]) is not None,
        lambda e: log1p(_one_plus(e.args[0])),
    ),
    # exp(u) − 1 → expm1(u).
    _ExpMinusOne(sp.exp, expm1),
)


#: (1 + exp(−u))^−n written by hand is σ(u)^n, which the printer computes without overflow.
_HAND_SIGMOID = ReplaceOptim(_hand_sigmoid_query, _hand_sigmoid_value)


def name_sigmoids(expr: sp.Expr) -> sp.Expr:
    """`expr` with every sigmoid written out by hand, (1 + exp(−u))^−n, named: σ(u)^n."""
    return _HAND_SIGMOID(expr)


def stable(expr: sp.Expr) -> sp.Expr:
    """`expr` rewritten into forms that stay finite and accurate in float64."""
    expr = name_sigmoids(expr)
    if expr.has(sp.exp) and expr.has(sigmoid):  # once, on the whole expression: it needs to see all of it
        expr = _rational_in_sigmoid(expr)
    return optimize(expr, STABLE_REWRITES)


def nested_calls(function: str, arguments: Sequence[str]) -> str:
    """f(a, f(b, c)): a two-argument function (max, min) over any number of printed arguments."""
    text = arguments[-1]
    for argument in reversed(arguments[:-1]):
        text = f"{function}({argument}, {text})"
    return text


class StablePrinter(PositiveFirst, NumPyPrinter):
    """NumPy code in the table's forms (σ and softplus never overflow); max and min pairwise; each
    sum in the terminal's order (yhat - y)."""

    def _print(self, expr: Any, **kwargs: Any) -> str:
        # The table first: its NumPy form wins over SymPy's own (math.erf would take scalars only).
        spec = spec_of(expr)
        if spec is not None and spec.numpy is not None:
            return spec.numpy(self, *expr.args)
        return str(super()._print(expr, **kwargs))

    def _nested(self, function: str, args: Sequence[sp.Expr]) -> str:
        # numpy.maximum pairwise: broadcasts scalars against arrays, imports nothing but numpy.
        return nested_calls(self._module_format(f"numpy.{function}"), [self._print(a) for a in args])

    def _print_And(self, expr: sp.Expr) -> str:
        # pairwise, not logical_and.reduce((…)): that fails on a mix of scalar and array conditions
        return self._nested("logical_and", expr.args)

    def _print_Or(self, expr: sp.Expr) -> str:
        return self._nested("logical_or", expr.args)

    def _print_Max(self, expr: sp.Expr) -> str:
        return self._nested("maximum", expr.args)

    def _print_Heaviside(self, expr: sp.Expr) -> str:
        # numpy.heaviside, not SymPy's select over x < 0, x == 0: that gives 1 at NaN where the
        # C kernel's sc_heaviside (and NumPy's own heaviside) give NaN
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        heaviside = self._module_format("numpy.heaviside")
        return f"{heaviside}({self._print(expr.args[0])}, {self._print(sp.Float(h0))})"

    def _print_Min(self, expr: sp.Expr) -> str:
        return self._nested("minimum", expr.args)


def make_printer() -> StablePrinter:
    return StablePrinter({"fully_qualified_modules": True, "inline": True})


#: Functions whose definitions a value's rewriting looks into: log(a) with a = σ(z) is −softplus(−z)
#: (and log(aₖ) with aₖ a softmax written out is a log-sum-exp).
LOOK_INTO = (sigmoid, sp.tanh, sp.exp)


def stable_line(value: sp.Expr, inside: dict[sp.Symbol, sp.Expr], defined: set[sp.Symbol]) -> sp.Expr:
    """`value` rewritten for float64, seeing through the σ, tanh and exp definitions it reads.

    log(a) with a = σ(z) is rewritten as −softplus(−z); what is left of σ(z) is read
    from a again, so nothing is computed twice.
    """
    logged = {a.args[0] for a in value.atoms(sp.log)}
    look = {
        s: inside[s]
        for s in value.free_symbols
        # a softmax only where its log is taken: log-sum-exp there, the output itself elsewhere
        if s in inside and s in defined and (softmax_parts(inside[s]) is None or s in logged)
    }
    if not look:
        return stable(value)
    rewritten = stable(value.xreplace(look))
    return rewritten.xreplace({e: s for s, e in look.items()})
