"""The table of functions an expression may call: one entry per function holds all it is.

Each `FunctionSpec` in `FUNCTIONS` carries the SymPy class a call builds, its
arity, the written-out form the independent oracle differentiates, a float
evaluator (constant folding), an mpmath evaluator (verification), and how the
NumPy and C back ends print it; parsers, checkers and printers look calls up
here (`spec_of`) instead of naming functions, so adding a function is one entry
(plus its SymPy class in `function_classes` if SymPy has none).

The classes, `text`, `to_elementary` and `heaviside_as_step` are importable from here too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sympy as sp

from symcalc.symbolic.function_classes import CUSTOM_FUNCTIONS as CUSTOM_FUNCTIONS
from symcalc.symbolic.function_classes import TextPrinter as TextPrinter
from symcalc.symbolic.function_classes import expm1 as expm1
from symcalc.symbolic.function_classes import gelu as gelu
from symcalc.symbolic.function_classes import heaviside_as_step as heaviside_as_step
from symcalc.symbolic.function_classes import leaky_relu as leaky_relu
from symcalc.symbolic.function_classes import log1p as log1p
from symcalc.symbolic.function_classes import relu as relu
from symcalc.symbolic.function_classes import sigmoid as sigmoid
from symcalc.symbolic.function_classes import softplus as softplus
from symcalc.symbolic.function_classes import step as step
from symcalc.symbolic.function_classes import text as text
from symcalc.symbolic.function_classes import to_elementary as to_elementary
from symcalc.symbolic.shared import replace

# -- the table: everything other modules need to know about each function ----------------------

#: How a back end writes a call: (the SymPy printer, the call's arguments) → code.
Printing = Callable[..., str]


@dataclass(frozen=True)
class FunctionSpec:
    """One entry of the table: the SymPy object a call builds and every other form of the function.

    `function` is the SymPy class the call builds (None when it builds something else: sqrt is a
    power); `arguments` name the arguments in messages, and `constant` lists those that must be a
    number or a declared constant. `written_out` is the form the independent oracle differentiates
    (None: SymPy's own function, differentiated as it is); `real` folds constants in floats and
    `mp` evaluates with an mpmath context (raising ValueError where undefined). `numpy` and `c`
    print a call for the NumPy and C back ends (None: the printer's own form), `c_helper` is the C
    it calls and `c_libm` the math functions that helper uses; `ufunc` is the NumPy ufunc computing
    it in place; `kinks` lists expressions that are 0 where it has a kink or a jump.
    """

    build: Callable[..., sp.Expr]
    min_args: int = 1
    max_args: int = 1
    function: type[sp.Basic] | None = None
    arguments: tuple[str, ...] = ("x",)
    constant: tuple[int, ...] = ()
    written_out: Callable[..., sp.Expr] | None = None
    real: Callable[..., float] | None = None
    mp: Callable[..., Any] | None = None
    numpy: Printing | None = None
    c: Printing | None = None
    c_helper: str = ""
    c_libm: tuple[str, ...] = ()
    ufunc: str | None = None
    kinks: Callable[..., list[sp.Expr]] | None = None


def _clip(x: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    """clip(x, lo, hi) = min(max(x, lo), hi): its derivative in x is 1 strictly between the bounds
    and 0 at and past them (as relu′(0) = 0, and PyTorch's hardtanh and relu6)."""
    return sp.Min(sp.Max(x, lo), hi)


def _max(*args: sp.Expr) -> sp.Expr:
    return sp.Max(*args)


def _min(*args: sp.Expr) -> sp.Expr:
    return sp.Min(*args)


#: leaky_relu's slope when a call gives none, as PyTorch's default.
LEAKY_SLOPE = sp.Rational(1, 100)


def _leaky_relu(x: sp.Expr, slope: sp.Expr = LEAKY_SLOPE) -> sp.Expr:
    return leaky_relu(x, slope)


def _mp_log(ctx: Any, x: Any) -> Any:
    if x <= 0:
        raise ValueError("log of a number that is not positive")
    return ctx.log(x)


def _mp_step(ctx: Any, x: Any) -> Any:
    if x == 0:
        raise ValueError("a kink: no derivative there")
    return ctx.mpf(1) if x > 0 else ctx.mpf(0)


def _sign(x: float) -> float:
    return math.copysign(1.0, x) if x else 0.0


def _at_argument(*args: sp.Expr) -> list[sp.Expr]:
    return [args[0]]


def _pairwise(*args: sp.Expr) -> list[sp.Expr]:
    return [a - b for i, a in enumerate(args) for b in args[i + 1 :]]


def _logaddexp0(printer: Any, arg: sp.Expr) -> str:
    return f"{printer._module_format('numpy.logaddexp')}(0, {printer._print(arg)})"


def _call(name: str) -> Printing:
    """Code that calls `name` on the printed arguments."""
    return lambda printer, *args: f"{name}({', '.join(printer._print(a) for a in args)})"


def _vectorized(fqn: str) -> Printing:
    """NumPy code applying a scalar function of Python's math module elementwise (NumPy has no erf)."""

    def printing(printer: Any, x: sp.Expr) -> str:
        vectorize, double = printer._module_format("numpy.vectorize"), printer._module_format("numpy.float64")
        return f"{vectorize}({printer._module_format(fqn)}, otypes=[{double}])({printer._print(x)})"

    return printing


def _numpy_sigmoid(printer: Any, x: sp.Expr) -> str:
    # exp(−log(1 + e^(−u))): relative error a few ulp everywhere, 0 and 1 at the extremes.
    return f"{printer._module_format('numpy.exp')}(-{_logaddexp0(printer, -x)})"


def _numpy_gelu(printer: Any, x: sp.Expr) -> str:
    # x/2·erfc(−x/√2): no cancellation in 1 + erf(x/√2) for large negative x
    return f"(0.5*{printer._print(x)}*{_vectorized('math.erfc')(printer, -x / sp.sqrt(2))})"


def _numpy_leaky_relu(printer: Any, x: sp.Expr, slope: sp.Expr) -> str:
    maximum, minimum = printer._module_format("numpy.maximum"), printer._module_format("numpy.minimum")
    u = printer._print(x)
    return f"({maximum}({u}, 0) + ({printer._print(slope)})*{minimum}({u}, 0))"


_C_SIGMOID = """\
static inline double sc_sigmoid(double u) {
    /* one exp(-|u|) for either sign: never overflows; 1 and 0 at the extremes, NaN stays NaN */
    const double e = exp(-fabs(u));
    const double r = 1.0 / (1.0 + e);
    return u >= 0.0 ? r : e * r;
}
"""
_C_SOFTPLUS = """\
static inline double sc_softplus(double u) {
    /* log(1 + e^u) = max(u, 0) + log1p(e^-|u|); shares its exp with sc_sigmoid(u) */
    return (u > 0.0 ? u : 0.0) + log1p(exp(-fabs(u)));
}
"""
_C_GELU = """\
static inline double sc_gelu(double u) {
    /* u/2 erfc(-u/sqrt 2): no cancellation in 1 + erf(u/sqrt 2) for large negative u */
    return 0.5 * u * erfc(-u * 0.70710678118654752440);
}
"""
_C_LEAKY_RELU = """\
static inline double sc_leaky_relu(double u, double s) {
    /* s u at 0 and below (the derivative's convention: s at 0), NaN stays NaN */
    return u > 0.0 ? u : (u <= 0.0 ? s * u : u);
}
"""


#: The only functions an expression may call, by the name used in files.
FUNCTIONS: dict[str, FunctionSpec] = {
    "sigmoid": FunctionSpec(
        sigmoid,
        function=sigmoid,
        written_out=lambda x: 1 / (1 + sp.exp(-x)),
        real=lambda x: 1 / (1 + math.exp(-x)) if x > -700 else 0.0,
        mp=lambda ctx, x: 1 / (1 + ctx.exp(-x)),
        numpy=_numpy_sigmoid,
        c=_call("sc_sigmoid"),
        c_helper=_C_SIGMOID,
        c_libm=("exp", "log1p"),
    ),
    "exp": FunctionSpec(sp.exp, function=sp.exp, real=math.exp, mp=lambda ctx, x: ctx.exp(x), ufunc="exp"),
    "log": FunctionSpec(sp.log, function=sp.log, real=math.log, mp=_mp_log, ufunc="log"),
    "ln": FunctionSpec(sp.log, function=sp.log, real=math.log, mp=_mp_log, ufunc="log"),
    "sqrt": FunctionSpec(sp.sqrt, real=math.sqrt),
    "tanh": FunctionSpec(sp.tanh, function=sp.tanh, real=math.tanh, mp=lambda c, x: c.tanh(x), ufunc="tanh"),
    "sinh": FunctionSpec(sp.sinh, function=sp.sinh, real=math.sinh, mp=lambda c, x: c.sinh(x), ufunc="sinh"),
    "cosh": FunctionSpec(sp.cosh, function=sp.cosh, real=math.cosh, mp=lambda c, x: c.cosh(x), ufunc="cosh"),
    "sin": FunctionSpec(sp.sin, function=sp.sin, real=math.sin, mp=lambda c, x: c.sin(x), ufunc="sin"),
    "cos": FunctionSpec(sp.cos, function=sp.cos, real=math.cos, mp=lambda c, x: c.cos(x), ufunc="cos"),
    "tan": FunctionSpec(sp.tan, function=sp.tan, real=math.tan, mp=lambda c, x: c.tan(x), ufunc="tan"),
    "abs": FunctionSpec(
        sp.Abs, function=sp.Abs, real=abs, mp=lambda ctx, x: abs(x), ufunc="absolute", kinks=_at_argument
    ),
    "sign": FunctionSpec(
        sp.sign, function=sp.sign, real=_sign, mp=lambda c, x: c.sign(x), kinks=_at_argument
    ),
    "step": FunctionSpec(
        step,
        function=step,
        written_out=lambda x: sp.Heaviside(x),  # equal but at 0, a kink where no value is compared
        real=lambda x: 1.0 if x > 0 else 0.0,
        mp=_mp_step,
        # relu′ and the derivative of max: 0 at 0, as PyTorch and JAX take it; NaN stays NaN
        numpy=lambda printer, x: f"{printer._module_format('numpy.heaviside')}({printer._print(x)}, 0.0)",
        c=lambda printer, x: f"sc_heaviside({printer._print(x)}, 0.0)",
        kinks=_at_argument,
    ),
    "softplus": FunctionSpec(
        softplus,
        function=softplus,
        written_out=lambda x: sp.log(1 + sp.exp(x)),
        real=lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))),
        mp=lambda ctx, x: ctx.log(1 + ctx.exp(x)),
        numpy=lambda printer, x: _logaddexp0(printer, x),
        c=_call("sc_softplus"),
        c_helper=_C_SOFTPLUS,
        c_libm=("exp", "log1p"),
    ),
    "relu": FunctionSpec(
        relu,
        function=relu,
        written_out=lambda x: sp.Max(0, x),
        real=lambda x: max(x, 0.0),
        mp=lambda ctx, x: max(ctx.mpf(0), x),
        numpy=lambda printer, x: f"{printer._module_format('numpy.maximum')}({printer._print(x)}, 0)",
        c=lambda printer, x: f"sc_max({printer._print(x)}, 0.0)",
        kinks=_at_argument,
    ),
    "erf": FunctionSpec(
        sp.erf, function=sp.erf, real=math.erf, mp=lambda c, x: c.erf(x), numpy=_vectorized("math.erf")
    ),
    "gelu": FunctionSpec(
        gelu,
        function=gelu,
        written_out=lambda x: x * (1 + sp.erf(x / sp.sqrt(2))) / 2,
        real=lambda x: x * math.erfc(-x / math.sqrt(2)) / 2,
        mp=lambda ctx, x: x * ctx.erfc(-x / ctx.sqrt(2)) / 2,
        numpy=_numpy_gelu,
        c=_call("sc_gelu"),
        c_helper=_C_GELU,
    ),
    "leaky_relu": FunctionSpec(
        _leaky_relu,
        max_args=2,
        function=leaky_relu,
        arguments=("x", "slope"),
        constant=(1,),
        written_out=lambda x, slope: sp.Max(0, x) + slope * sp.Min(0, x),
        real=lambda x, slope=float(LEAKY_SLOPE): max(x, 0.0) + slope * min(x, 0.0),
        mp=lambda ctx, x, slope: max(ctx.mpf(0), x) + slope * min(ctx.mpf(0), x),
        numpy=_numpy_leaky_relu,
        c=_call("sc_leaky_relu"),
        c_helper=_C_LEAKY_RELU,
        kinks=_at_argument,
    ),
    "log1p": FunctionSpec(
        log1p,
        function=log1p,
        written_out=lambda x: sp.log(1 + x),
        real=math.log1p,
        mp=lambda ctx, x: _mp_log(ctx, 1 + x),
        ufunc="log1p",
    ),
    "expm1": FunctionSpec(
        expm1,
        function=expm1,
        written_out=lambda x: sp.exp(x) - 1,
        real=math.expm1,
        mp=lambda c, x: c.expm1(x),
    ),
    "clip": FunctionSpec(
        _clip,
        min_args=3,
        max_args=3,
        arguments=("x", "lo", "hi"),
        real=lambda x, lo, hi: min(max(x, lo), hi),
        mp=lambda c, x, lo, hi: min(max(x, lo), hi),
    ),
    "max": FunctionSpec(
        _max, min_args=2, max_args=8, function=sp.Max, real=max, mp=lambda c, *v: max(v), kinks=_pairwise
    ),
    "min": FunctionSpec(
        _min, min_args=2, max_args=8, function=sp.Min, real=min, mp=lambda c, *v: min(v), kinks=_pairwise
    ),
}


def _by_class() -> dict[type[sp.Basic], FunctionSpec]:
    table: dict[type[sp.Basic], FunctionSpec] = {}
    for spec in FUNCTIONS.values():
        if spec.function is not None:
            table.setdefault(spec.function, spec)  # "log" before its alias "ln"
    return table


#: The table's entries by the SymPy class a call builds: how printers and evaluators look a call up.
SPECS: dict[type[sp.Basic], FunctionSpec] = _by_class()


def spec_of(expr: sp.Basic) -> FunctionSpec | None:
    """The table's entry for a call of one of its functions, else None."""
    return SPECS.get(type(expr))


def calls(expr: sp.Basic) -> list[tuple[sp.Basic, FunctionSpec]]:
    """Every call of a function of the table in `expr`, with its entry, in a fixed order."""
    found = sorted(expr.atoms(*SPECS), key=sp.default_sort_key)
    return [(call, SPECS[type(call)]) for call in found]


def written_out(expr: sp.Expr) -> sp.Expr:
    """Our functions replaced by their written-out forms (exp, log, erf, Max), their arguments as written.

    Unlike `to_elementary` (which uses SymPy's recursive ``rewrite`` and so also turns a tanh
    inside σ's argument into exponentials), this keeps every other function as written.
    """

    def is_ours(e: sp.Basic) -> bool:
        spec = spec_of(e)
        return spec is not None and spec.written_out is not None

    return replace(expr, is_ours, lambda e: SPECS[type(e)].written_out(*e.args))  # type: ignore[misc]


def fold(name: str, values: list[float]) -> float | None:
    """A call of `name` on constants in floats, or None when undefined, out of range or not foldable."""
    real = FUNCTIONS[name].real
    if real is None:
        return None
    try:
        return float(real(*values))
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
