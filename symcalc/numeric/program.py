"""The numeric program every back end reads: a derivation's loss and gradients in forms stable in float64.

The path is SymPy objects all the way: the loss and the engine's simplified
gradients are written in independent names, rewritten into forms that stay
finite in float64 (log σ(z) → −softplus(−z), 1 − σ(z) → σ(−z), 1 − tanh(z)² →
1/cosh(z)², log(1 + u) → log1p(u), exp(u) − 1 → expm1(u)), shared work is
factored out once with `sympy.cse`, and the result is printed by a NumPy printer
that writes σ and softplus without overflow. `lambdify` only ever sees SymPy
objects built by our parser, never a string; `symcalc.numeric.codegen` prints the very
same program to a file. `Program` is the seam between the
derivation and the back ends (`symcalc.numeric.c`, `symcalc.numeric.plan`,
`symcalc.numeric.generic`), which `symcalc.numeric.model` chooses among.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.codegen.rewriting import ReplaceOptim, expm1_opt, optimize
from sympy.printing.numpy import NumPyPrinter

from symcalc.errors import Location, SpecError
from symcalc.symbolic.functions import sigmoid, softplus, spec_of
from symcalc.symbolic.graph import Model
from symcalc.symbolic.steps import Derivation

Array = np.ndarray[Any, np.dtype[np.float64]]

# -- stable rewriting -------------------------------------------------------------------------


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


#: Rewrites applied in this order to every expression before it is compiled.
STABLE_REWRITES: tuple[ReplaceOptim, ...] = (
    # (1 + exp(−u))^−n written by hand is σ(u)^n, which the printer computes without overflow.
    ReplaceOptim(_hand_sigmoid_query, _hand_sigmoid_value),
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
    expm1_opt,
)


def name_sigmoids(expr: sp.Expr) -> sp.Expr:
    """`expr` with every sigmoid written out by hand, (1 + exp(−u))^−n, named: σ(u)^n."""
    return STABLE_REWRITES[0](expr)


def stable(expr: sp.Expr) -> sp.Expr:
    """`expr` rewritten into forms that stay finite and accurate in float64."""
    expr = name_sigmoids(expr)
    if expr.has(sp.exp) and expr.has(sigmoid):  # once, on the whole expression: it needs to see all of it
        expr = _rational_in_sigmoid(expr)
    return optimize(expr, STABLE_REWRITES[1:])


def nested_calls(function: str, arguments: Sequence[str]) -> str:
    """f(a, f(b, c)): a two-argument function (max, min) over any number of printed arguments."""
    text = arguments[-1]
    for argument in reversed(arguments[:-1]):
        text = f"{function}({argument}, {text})"
    return text


class StablePrinter(NumPyPrinter):
    """NumPy code in the table's forms (σ and softplus never overflow); max and min pairwise."""

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


# -- the program: what is computed, as SymPy objects -----------------------------------------


def code_symbol(sym: sp.Symbol) -> sp.Symbol:
    """The variable that holds a declared name in generated code.

    A trailing '_' is never part of a declared name, so `np_`, `data_`, `x0_`
    cannot collide with numpy, the function's own arguments or cse temporaries.
    """
    return sp.Symbol(f"{sym.name}_", real=True)


@dataclass(frozen=True)
class Program:
    """The per-sample loss and gradients in stable form, with their shared sub-expressions.

    `arguments` are the code symbols of parameters, inputs, targets and constants,
    in that order; `shared` are cse's (temporary, expression) pairs and `outputs`
    the loss followed by one gradient per parameter, all per sample. `logit`
    is u when the loss takes the log of a probability σ(u) (binary
    cross-entropy), in code symbols: the model predicts class 1 where u ≥ 0.
    """

    model: Model
    loss: sp.Expr
    gradients: tuple[sp.Expr, ...]
    shared: tuple[tuple[sp.Symbol, sp.Expr], ...]
    outputs: tuple[sp.Expr, ...]
    logit: sp.Expr | None = None

    @cached_property
    def parameters(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.model.parameters)

    @cached_property
    def inputs(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.model.inputs)

    @cached_property
    def targets(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.model.targets)

    @property
    def constants(self) -> dict[str, float]:
        return {s.name: v for s, v in self.model.constants}

    @property
    def arguments(self) -> tuple[sp.Symbol, ...]:
        names = (*self.model.parameters, *self.model.inputs, *self.model.targets)
        return tuple(code_symbol(s) for s in (*names, *(s for s, _ in self.model.constants)))


def build_program(derivation: Derivation) -> Program:
    """Compose the loss and the engine's simplified gradients, make them stable, and share their work."""
    model = derivation.model
    rename = {s: code_symbol(s) for s in model.independents}
    expanded = [model.expand(derivation.gradients[p]) for p in model.parameters]
    _refuse_numbers_beyond_float64(model, expanded)  # before `stable`, which is slow on such numbers
    loss = stable(model.composed[model.loss])
    gradients = tuple(stable(gradient) for gradient in expanded)
    outputs = [e.xreplace(rename) for e in (loss, *gradients)]
    temporaries = sp.numbered_symbols("_t", real=True)
    shared, reduced = sp.cse(outputs, symbols=temporaries)
    logit = find_logit(model)
    coded = logit.xreplace(rename) if logit is not None else None
    return Program(model, loss, gradients, tuple(shared), tuple(reduced), coded)


def _beyond_float64(expr: sp.Expr) -> sp.Number | None:
    """The first number in `expr` that a double cannot hold (as the C kernel's `_double` rounds it)."""
    for number in sorted(expr.atoms(sp.Rational, sp.Float), key=sp.default_sort_key):
        try:
            value = int(number.p) / int(number.q) if number.is_Rational else float(number)
        except OverflowError:
            return number
        if not math.isfinite(value):
            return number
    return None


def _refuse_numbers_beyond_float64(model: Model, gradients: Sequence[sp.Expr]) -> None:
    """A SpecError, at the first definition whose composed form (or else at the loss, whose derivative)
    has a number beyond float64's range: folding constants (10**300*(10**300*w)) can make one that no
    back end can evaluate, and each would fail differently (OverflowError, inf, a refusal)."""
    problem = None
    for name, _ in model.definitions:
        number = _beyond_float64(model.composed[name])
        if number is not None:
            key, problem = name, f"its composed form has the number {_short(number)}"
            break
    else:
        for parameter, gradient in zip(model.parameters, gradients, strict=True):
            number = _beyond_float64(gradient)
            if number is not None:
                key = model.loss
                problem = f"its derivative d{model.loss}/d{parameter} has the number {_short(number)}"
                break
    if problem is not None:
        raise SpecError(
            f"{problem}, beyond float64's range (about 1.8e308): it cannot be evaluated numerically",
            Location(source=model.source, key=f"definitions.{key}"),
        )


def _short(number: sp.Number) -> str:
    return sp.Float(number, 3).__str__() if number.is_Rational else str(number)


def find_logit(model: Model) -> sp.Expr | None:
    """u in the first log(σ(u)) or log(1 − σ(u)) of the composed loss: the model's class-1 score."""
    loss = name_sigmoids(model.composed[model.loss])
    for node in sp.preorder_traversal(loss):
        if not isinstance(node, sp.log):
            continue
        arg = node.args[0]
        if isinstance(arg, sigmoid):
            return arg.args[0]
        if arg.is_Add and sp.S.One in arg.args:
            inner = [-t for t in arg.args if isinstance(-t, sigmoid)]
            if inner:
                return inner[0].args[0]
    return None
