"""The kernel's C text: the C printer for stable expressions and the fused loop over the samples."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.printing.c import C99CodePrinter

from symcalc.errors import NativeUnavailable
from symcalc.numeric.program import Program
from symcalc.numeric.stable import nested_calls
from symcalc.symbolic.functions import FUNCTIONS, spec_of

#: Samples per partial sum: sums stay accurate (a block's lanes, then the blocks) and a block stays in cache.
BLOCK = 1024
#: Samples from which the blocks are shared among threads (OpenMP; $OMP_NUM_THREADS caps them).
PARALLEL_MIN = 32768
#: Outputs (loss and gradients) above which no kernel is built: GCC's time grows faster than
#: linearly with the sums in the loop (0.2 s at 9 outputs, 2 s at 65, 12 s at 201).
MAX_OUTPUTS = 65
#: Characters of C above which no kernel is built (the compiler's time and memory grow with it).
MAX_SOURCE = 2_000_000
#: Math functions with a vector variant in glibc's libmvec on x86-64 (glibc 2.35 and later for most).
VECTOR_MATH = ("exp", "log", "log1p", "expm1", "pow", "sin", "cos", "tan", "sinh", "cosh", "tanh")

_GENERAL_HELPERS = """\
static inline double sc_max(double a, double b) { return (a > b || a != a) ? a : b; }
static inline double sc_min(double a, double b) { return (a < b || a != a) ? a : b; }
static inline double sc_heaviside(double u, double h0) {
    return u > 0.0 ? 1.0 : (u < 0.0 ? 0.0 : (u == 0.0 ? h0 : u));
}
static inline double sc_sign(double u) { return u > 0.0 ? 1.0 : (u < 0.0 ? -1.0 : u); }
static inline double sc_powi(double x, int n) {
    /* x^n by squaring; n is a constant where it is called, so the loop unrolls away */
    double result = 1.0;
    for (; n > 0; n >>= 1, x *= x)
        if (n & 1) result *= x;
    return result;
}
static inline void sc_add(double *total, double *lost, double value) {
    /* Neumaier's compensated sum of the block sums: the rounding of each addition is kept in lost
       (NaN once the total is infinite, and then not used) */
    const double t = *total + value;
    *lost += fabs(*total) >= fabs(value) ? (*total - t) + value : (value - t) + *total;
    *total = t;
}
"""


def _helper_name(helper: str) -> str:
    """The name of the C function a table entry's helper defines."""
    found = re.search(r"double (\w+)\(", helper)
    assert found is not None, helper
    return found.group(1)


#: The table's helpers, each once and in the table's order, then those of the kernel itself.
_HELPERS = (
    "".join(dict.fromkeys(spec.c_helper for spec in FUNCTIONS.values() if spec.c_helper)) + _GENERAL_HELPERS
)


class KernelPrinter(C99CodePrinter):
    """C for the stable expressions: our functions through the inline helpers, NaN-propagating max/min.

    Symbols are printed through `names` (generated C identifiers), so the expressions keep their
    own symbols and SymPy orders every sum and product as it does for the NumPy printer.
    """

    def __init__(self, names: dict[sp.Symbol, str]) -> None:
        super().__init__()
        self.names = names

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return self.names[expr]  # a KeyError here is a bug: every symbol of a program has a C name

    def _print(self, expr: Any, **kwargs: Any) -> str:
        # The table first: our functions through their inline helpers (the step convention included).
        spec = spec_of(expr)
        if spec is not None and spec.c is not None:
            return spec.c(self, *expr.args)
        return str(super()._print(expr, **kwargs))

    def _print_Max(self, expr: sp.Expr) -> str:
        return nested_calls("sc_max", [self._print(a) for a in expr.args])

    def _print_Min(self, expr: sp.Expr) -> str:
        return nested_calls("sc_min", [self._print(a) for a in expr.args])

    def _print_Heaviside(self, expr: sp.Expr) -> str:
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        return f"sc_heaviside({self._print(expr.args[0])}, {self._print(h0)})"

    def _print_sign(self, expr: sp.Expr) -> str:
        return f"sc_sign({self._print(expr.args[0])})"

    def _print_Pow(self, expr: sp.Expr) -> str:
        base, exponent = expr.args
        if exponent.is_Integer and abs(int(exponent)) <= 64:
            # the base once (its text may be long), the product unrolled by the compiler
            power = f"sc_powi({self._print(base)}, {abs(int(exponent))})"
            return power if exponent >= 0 else f"(1.0/{power})"
        if exponent == sp.S.Half:
            return f"sqrt({self._print(base)})"
        # pow for every other exponent: cbrt would give real roots of negatives where NumPy gives NaN
        return f"pow({self._print(base)}, {self._print(exponent)})"

    def _double(self, expr: sp.Expr) -> str:
        """A number as the correctly rounded double: 99**200/100**200 is 1.34e-1, not inf/inf."""
        try:
            value = float(int(expr.p) / int(expr.q)) if expr.is_Rational else float(expr)
        except OverflowError:
            raise NativeUnavailable(f"the number {expr} is beyond the range of a double") from None
        if not math.isfinite(value):
            raise NativeUnavailable(f"the number {expr} is beyond the range of a double")
        return f"({value!r})"

    def _print_Integer(self, expr: sp.Expr) -> str:
        return self._double(expr)  # never C integer arithmetic: 1/2 must not be 0

    def _print_Rational(self, expr: sp.Expr) -> str:
        return self._double(expr)

    def _print_Float(self, expr: sp.Expr) -> str:
        return self._double(expr)

    def _print_Function(self, expr: sp.Expr) -> str:
        if type(expr).__name__ not in self.known_functions:
            raise NativeUnavailable(f"no C form for {type(expr).__name__}")
        return str(super()._print_Function(expr))


@dataclass(frozen=True)
class Source:
    """The C text of one program's kernel and the sizes of the arrays it reads and writes."""

    text: str
    scalars: int  # parameters then constants
    columns: int  # inputs then targets
    outputs: int  # the loss then one gradient per parameter


def kernel_source(program: Program, *, max_source: int = MAX_SOURCE) -> Source:
    """The kernel of `program` as C: one loop over the samples that sums every output per block.

    NativeUnavailable once the loop's text passes `max_source` characters (checked while printing).
    """
    model = program.model
    n_params, n_columns = len(model.parameters), len(model.inputs) + len(model.targets)
    if len(program.outputs) > MAX_OUTPUTS:
        raise NativeUnavailable(
            f"{len(program.outputs)} outputs; above {MAX_OUTPUTS} the kernel would take seconds to compile"
        )
    arguments = program.arguments
    scalar_args = (*arguments[:n_params], *arguments[n_params + n_columns :])
    column_args = arguments[n_params : n_params + n_columns]
    names: dict[sp.Symbol, str] = {}
    names |= {s: f"s{k}" for k, s in enumerate(scalar_args)}
    names |= {s: f"c{k}" for k, s in enumerate(column_args)}
    names |= {t: f"t{k}" for k, (t, _) in enumerate(program.shared)}
    printer = KernelPrinter(names)
    body: list[str] = []
    size = 0
    for line in (
        *(f"double {names[t]} = {printer.doprint(e)};" for t, e in program.shared),
        *(f"a{k} += {printer.doprint(e)};" for k, e in enumerate(program.outputs)),
    ):
        size += len(line)
        if size > max_source:
            raise NativeUnavailable(f"the kernel's C text is over {max_source} characters")
        body.append(line)
    used = {name for name in VECTOR_MATH if f"{name}(" in "\n".join(body)}
    for spec in FUNCTIONS.values():
        if spec.c_libm and f"{_helper_name(spec.c_helper)}(" in "\n".join(body):
            used |= set(spec.c_libm)
    n_out = len(program.outputs)
    sums = ", ".join(f"a{k}" for k in range(n_out))

    def loop(load: str) -> list[str]:
        reads = [f"const double c{k} = {load.format(k=k)};" for k in range(n_columns)]
        return [
            f"#pragma omp simd reduction(+:{sums})",
            "for (int64_t i = start; i < stop; i++) {",
            *(f"    {line}" for line in reads + body),
            "}",
        ]

    lines = [
        "/* generated by symcalc from a derivation: the per-sample loss and gradients, summed */",
        "#include <math.h>",
        "#include <stdint.h>",
        "#include <stdlib.h>",
        "#ifdef _OPENMP",
        "#include <omp.h>",
        "#endif",
        "#ifdef SC_VECTOR_MATH",
        *(
            f"double {name}(double{', double' if name == 'pow' else ''}) "
            '__attribute__((__simd__("notinbranch")));'
            for name in sorted(used)
        ),
        "#endif",
        _HELPERS,
        "/* out[k] = the sum over the n samples of output k; sample i of column j is",
        "   columns[j][i * strides[j]].",
        "   The blocks are split into `parts` runs of consecutive blocks, one per thread, each summed with",
        "   compensation and the runs added in order, so a given thread count always gives the same sums.",
        "   threads > 0 caps the threads (1 in a forked child: OpenMP's pool does not survive fork).",
        "   Returns 0, or -1 when there is no memory for the partial sums. */",
        "int symcalc_kernel(int64_t n, const double *scalars, const double *const *columns,",
        "                   const int64_t *strides, double *out, int threads) {",
        *(f"    const double s{k} = scalars[{k}];" for k in range(len(scalar_args))),
        *(f"    const double *restrict p{k} = columns[{k}];" for k in range(n_columns)),
        *(f"    const int64_t d{k} = strides[{k}];" for k in range(n_columns)),
        "    const int unit = " + " && ".join([f"d{k} == 1" for k in range(n_columns)] or ["1"]) + ";",
        f"    const int64_t blocks = (n + {BLOCK} - 1) / {BLOCK};",
        "    int64_t parts = 1;",
        "#ifdef _OPENMP",
        f"    if (n >= {PARALLEL_MIN}) parts = threads > 0 ? threads : omp_get_max_threads();",
        "    if (parts > blocks) parts = blocks;",
        "#endif",
        f"    double *partial = malloc(sizeof(double) * 2 * {n_out} * (size_t)(parts > 0 ? parts : 1));",
        "    if (partial == NULL) return -1;",
        "    #pragma omp parallel for schedule(static, 1) num_threads(parts) if(parts > 1)",
        "    for (int64_t part = 0; part < parts; part++) {",
        *(f"        double total{k} = 0.0, lost{k} = 0.0;" for k in range(n_out)),
        "        for (int64_t block = blocks * part / parts; block < blocks * (part + 1) / parts; block++) {",
        f"            const int64_t start = block * {BLOCK};",
        f"            const int64_t stop = n - start < {BLOCK} ? n : start + {BLOCK};",
        *(f"            double a{k} = 0.0;" for k in range(n_out)),
        "            if (unit) {",
        *(f"                {line}" for line in loop("p{k}[i]")),
        "            } else {",
        *(f"                {line}" for line in loop("p{k}[i * d{k}]")),
        "            }",
        *(f"            sc_add(&total{k}, &lost{k}, a{k});" for k in range(n_out)),
        "        }",
        *(f"        partial[{2 * n_out} * part + {2 * k}] = total{k};" for k in range(n_out)),
        *(f"        partial[{2 * n_out} * part + {2 * k + 1}] = lost{k};" for k in range(n_out)),
        "    }",
        *(f"    double total{k} = 0.0, lost{k} = 0.0;" for k in range(n_out)),
        "    for (int64_t part = 0; part < parts; part++) {",
        *(
            f"        sc_add(&total{k}, &lost{k}, partial[{2 * n_out} * part + {2 * k}]);"
            for k in range(n_out)
        ),
        *(f"        lost{k} += partial[{2 * n_out} * part + {2 * k + 1}];" for k in range(n_out)),
        "    }",
        "    free(partial);",
        *(f"    out[{k}] = isfinite(lost{k}) ? total{k} + lost{k} : total{k};" for k in range(n_out)),
        "    return 0;",
        "}",
        "",
    ]
    return Source("\n".join(lines), len(scalar_args), n_columns, n_out)
