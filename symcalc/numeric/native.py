"""The native back end: a program's per-sample loss and gradients as one fused C loop.

`NumericModel` evaluates a model in three ways, fastest first: this kernel, the
NumPy plan of `symcalc.numeric.plan`, and the generic lambdified program. The kernel
is printed from the same stable SymPy expressions and cse temporaries as the
others, so it computes the same formulas. The loop goes once over the samples:
each sample's inputs are read, its loss and every gradient computed in
registers, and added to per-block sums, so there is no temporary array at all
and one exp(−|u|) feeds both σ(u) and softplus(u) (the C compiler merges the
two calls). With GCC on x86-64 the loop is vectorised and exp, log1p and the
other functions come from glibc's vector math library (libmvec).

Kernels are compiled with the system C compiler (`cc`, or `$CC`) once per
program and machine and kept in a cache directory (`$SYMCALC_CACHE_DIR`, else
`$XDG_CACHE_HOME/symcalc`, else `~/.cache/symcalc`) with their C source beside
them. Nothing a user wrote reaches the C text: every name is replaced by a
generated one and every number is written as the double it rounds to. Above
`PARALLEL_MIN` samples the blocks are shared among OpenMP threads (one thread in
a process forked from this one: OpenMP's threads do not survive fork). Where
there is no compiler, or it fails, `compile_kernel` raises `NativeUnavailable`
and the NumPy paths are used; `NumericModel.backend` tells which one runs.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import grp
import hashlib
import math
import os
import platform
import pwd
import resource
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.c import C99CodePrinter

from symcalc.isolate import MEMORY_LIMIT
from symcalc.numeric.program import Program, nested_calls
from symcalc.settings import IMPORTED_IN

#: Samples per partial sum: sums stay accurate (a block's lanes, then the blocks) and a block stays in cache.
BLOCK = 1024
#: Samples from which the blocks are shared among threads (OpenMP; $OMP_NUM_THREADS caps them).
PARALLEL_MIN = 32768
#: Outputs (loss and gradients) above which no kernel is built: GCC's time grows faster than
#: linearly with the sums in the loop (0.2 s at 9 outputs, 2 s at 65, 12 s at 201).
MAX_OUTPUTS = 65
#: Characters of C above which no kernel is built (the compiler's time and memory grow with it).
MAX_SOURCE = 2_000_000
#: Seconds the compiler may take for one kernel.
COMPILE_TIMEOUT = 120.0
#: Math functions with a vector variant in glibc's libmvec on x86-64 (glibc 2.35 and later for most).
VECTOR_MATH = ("exp", "log", "log1p", "expm1", "pow", "sin", "cos", "tan", "sinh", "cosh", "tanh")

_HELPERS = """\
static inline double sc_sigmoid(double u) {
    /* one exp(-|u|) for either sign: never overflows; 1 and 0 at the extremes, NaN stays NaN */
    const double e = exp(-fabs(u));
    const double r = 1.0 / (1.0 + e);
    return u >= 0.0 ? r : e * r;
}
static inline double sc_softplus(double u) {
    /* log(1 + e^u) = max(u, 0) + log1p(e^-|u|); shares its exp with sc_sigmoid(u) */
    return (u > 0.0 ? u : 0.0) + log1p(exp(-fabs(u)));
}
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


class NativeUnavailable(Exception):
    """No native kernel for this program here: no compiler, a failed build, or a function C cannot print."""


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

    def _print_sigmoid(self, expr: sp.Expr) -> str:
        return f"sc_sigmoid({self._print(expr.args[0])})"

    def _print_softplus(self, expr: sp.Expr) -> str:
        return f"sc_softplus({self._print(expr.args[0])})"

    def _print_relu(self, expr: sp.Expr) -> str:
        return f"sc_max({self._print(expr.args[0])}, 0.0)"

    def _print_Max(self, expr: sp.Expr) -> str:
        return nested_calls("sc_max", [self._print(a) for a in expr.args])

    def _print_Min(self, expr: sp.Expr) -> str:
        return nested_calls("sc_min", [self._print(a) for a in expr.args])

    def _print_Heaviside(self, expr: sp.Expr) -> str:
        h0 = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        return f"sc_heaviside({self._print(expr.args[0])}, {self._print(h0)})"

    def _print_step(self, expr: sp.Expr) -> str:
        return f"sc_heaviside({self._print(expr.args[0])}, 0.0)"  # relu′(0) = 0, as the NumPy printer

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


def kernel_source(program: Program) -> Source:
    """The kernel of `program` as C: one loop over the samples that sums every output per block."""
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
        if size > MAX_SOURCE:
            raise NativeUnavailable(f"the kernel's C text is over {MAX_SOURCE} characters")
        body.append(line)
    used = {name for name in VECTOR_MATH if f"{name}(" in "\n".join(body)}
    if any(n in "\n".join(body) for n in ("sc_sigmoid", "sc_softplus")):
        used |= {"exp", "log1p"}
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


# -- compiling, with a cache ------------------------------------------------------------------


@dataclass(frozen=True)
class Toolchain:
    """One way to build a kernel: the compiler's flags, then the libraries to link."""

    flags: tuple[str, ...]
    libraries: tuple[str, ...]


def toolchains() -> tuple[Toolchain, ...]:
    """Ways to build, best first: with libmvec's vector math (glibc on x86-64), then without; each with
    OpenMP threads, then without; last, portable C with no machine-specific instructions."""
    # -ffp-contract=off: no fused multiply-adds, so each sum rounds as NumPy's does, term by term.
    common = (
        "-O3",
        "-fPIC",
        "-shared",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-ffp-contract=off",
        "-march=native",
    )
    # On Linux an unresolved symbol (libmvec too old for a function, say) fails the build, not a later call.
    strict = ("-Wl,-z,defs", "-Wl,-z,now") if sys.platform.startswith("linux") else ()
    maths = [(("-DSC_VECTOR_MATH",), ("-lmvec", "-lm")), ((), ("-lm",))]
    if not (sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64")):
        maths = maths[1:]
    chains = [
        Toolchain((*common, *defines, threads, *strict), libraries)
        for defines, libraries in maths
        for threads in ("-fopenmp", "-fopenmp-simd")
    ]
    chains.append(Toolchain(("-O2", "-fPIC", "-shared", "-ffp-contract=off", *strict), ("-lm",)))
    return tuple(chains)


def cache_directory() -> Path:
    """Where kernels are kept: `$SYMCALC_CACHE_DIR`, else `$XDG_CACHE_HOME/symcalc`, else ~/.cache/symcalc."""
    explicit = os.environ.get("SYMCALC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "symcalc" / "kernels"


@cache
def compiler() -> tuple[str, ...] | None:
    """The C compiler's command: `$CC` (a program on PATH, with any arguments), else `cc`; None if none."""
    try:
        words = shlex.split(os.environ.get("CC", "")) or ["cc"]
    except ValueError:  # unbalanced quotes in $CC
        return None
    program = shutil.which(words[0])
    return (program, *words[1:]) if program else None


@cache
def _machine() -> str:
    """What a -march=native build depends on: the architecture and, on Linux, the CPU's model and flags."""
    parts = [platform.machine(), platform.system()]
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("model name", "flags", "Features")):
                    parts.append(line.strip())
                if len(parts) >= 4:
                    break
    except OSError:
        pass
    return "\n".join(parts)


def _others_can_write(info: os.stat_result) -> bool:
    """Someone else may create, rename or remove entries: world-writable, or writable by a group that
    is not the user's own private group (Debian's umask 002 makes ~/.cache 0775 with group = user)."""
    if info.st_mode & 0o002:
        return True
    if info.st_mode & 0o020:
        try:
            group = grp.getgrgid(info.st_gid)
            return bool(group.gr_mem) or group.gr_name != pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            return True
    return False


def _private(directory: Path) -> bool:
    """Nobody else can put or swap a file in `directory`, so what we load from it is what we built.

    `directory` is a resolved path (no symbolic link in it). It must be ours and writable by
    nobody else; every folder above it must belong to us or to root and be writable by nobody
    else, or be sticky (like /tmp), where others cannot rename or remove what is ours.
    """
    try:
        info = directory.stat()
        if (
            info.st_uid != os.getuid()
            or _others_can_write(info)
            or not os.access(directory, os.W_OK | os.X_OK)
        ):
            return False
        for parent in directory.parents:
            above = parent.stat()
            if above.st_uid not in (0, os.getuid()):
                return False
            if _others_can_write(above) and not above.st_mode & stat.S_ISVTX:
                return False
    except OSError:
        return False
    return True


@cache
def _temporary() -> Path:
    """This process's own kernel folder, when the cache cannot be used; removed when the process ends."""
    directory = tempfile.mkdtemp(prefix="symcalc-kernels-")
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # not from a forked child that exits: the folder is the parent's
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
    return Path(directory)


def _workspace() -> Path:
    """The cache directory when it can be made private to this user, else this process's temporary one.

    Missing folders are made one by one with mode 0700 (whatever the umask), and the path is
    resolved once, so a symbolic link swapped after the check cannot redirect what is loaded.
    """
    directory = cache_directory().absolute()
    with contextlib.suppress(OSError):  # a read-only home: the check below sends us to a temporary one
        for folder in [*reversed(directory.parents), directory]:
            if not folder.exists():
                folder.mkdir(mode=0o700)
    with contextlib.suppress(OSError):
        directory = directory.resolve(strict=True)
        if _private(directory):
            return directory
    return _temporary()


def _key(source: Source, chain: Toolchain, cc: tuple[str, ...]) -> str:
    info = os.stat(cc[0])
    identity = [source.text, *chain.flags, *chain.libraries, os.path.realpath(cc[0]), *cc[1:]]
    identity += [str(info.st_mtime_ns), str(info.st_size), _machine()]
    return hashlib.sha256("\0".join(identity).encode()).hexdigest()[:32]


class _CompilerTimeout(Exception):
    """The compiler ran out of time: no other toolchain is tried, the time would only double."""


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """The compiler in its own process group, so a timeout stops cc1 and the assembler too."""
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_limit_memory,
    ) as process:
        try:
            out, err = process.communicate(timeout=COMPILE_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise _CompilerTimeout(f"the C compiler took over {COMPILE_TIMEOUT:.0f} s") from None
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _compile(source: Source, chain: Toolchain, cc: tuple[str, ...], target: Path) -> str | None:
    """Build `target` from `source`; None on success, else why not (the compiler's first error line)."""
    handle, c_path = tempfile.mkstemp(suffix=".c", prefix=".build-", dir=target.parent)
    built = c_path[:-2] + ".so"
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as c_file:
            c_file.write(source.text)
        done = _run([*cc, *chain.flags, "-o", built, c_path, *chain.libraries])
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if "error" in line.lower()] or ["(no message)"]
            return f"the C compiler failed: {lines[0].strip()}"
        if not os.path.isfile(built):
            return "the C compiler wrote no library"
        os.replace(built, target)
        os.replace(c_path, target.with_suffix(".c"))  # kept beside the kernel, for a reader
        return None
    finally:
        for leftover in (c_path, built):
            with contextlib.suppress(OSError):
                os.unlink(leftover)


def _limit_memory() -> None:
    """In the compiler's process, before it starts: the address-space limit of the symbolic work
    (or the process's own hard limit, when that is lower: it cannot be raised)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def build(source: Source, *, rebuild: bool = False) -> Path:
    """A shared library holding `source`'s kernel: from the cache when there (unless `rebuild`), else
    compiled now with the first toolchain that works."""
    cc = compiler()
    if cc is None:
        raise NativeUnavailable("no C compiler: set CC or install one (cc)")
    try:
        directory = _workspace()
        chains = toolchains()
        targets = [directory / f"kernel-{_key(source, chain, cc)}.so" for chain in chains]
        for target in targets:
            if target.is_file() and not rebuild:
                return target
        problem = "no toolchain"
        for chain, target in zip(chains, targets, strict=True):
            failure = _compile(source, chain, cc, target)
            if failure is None:
                return target
            problem = failure
    except _CompilerTimeout as timeout:
        raise NativeUnavailable(str(timeout)) from None
    except (
        OSError,
        subprocess.SubprocessError,
    ) as error:  # a cache we cannot write, a compiler that vanished
        raise NativeUnavailable(f"the kernel could not be built: {error}") from None
    raise NativeUnavailable(problem)


# -- calling --------------------------------------------------------------------------------

_SIGNATURE = (
    ctypes.c_int64,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int,
)


def _gomp_loaded() -> bool:
    """GNU OpenMP is already in this process (another library brought it), as far as Linux tells."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any("/libgomp.so" in line for line in maps)
    except OSError:
        return False


#: libgomp was in this process before this module, brought by another library: this process may be
#: a child forked after that library used OpenMP's threads, which do not survive fork, so its
#: kernels keep to one thread. (A child forked after symcalc was imported is told by its pid.)
_GOMP_BEFORE_US = _gomp_loaded()


@dataclass
class Kernel:
    """A compiled kernel: mean loss and mean gradients of one program over a batch, in one pass."""

    source: Source
    path: Path
    _function: Any = field(repr=False)

    def evaluate(
        self, params: Sequence[float], columns: Sequence[Any], constants: Sequence[float]
    ) -> tuple[float, list[float]] | None:
        """Means over the batch; None when the columns are not 1-D float64 arrays (or numbers) of one length.

        A number or a length-1 array is used for every sample, as NumPy would broadcast it.
        """
        if len(columns) != self.source.columns or len(params) + len(constants) != self.source.scalars:
            raise ValueError(
                f"the kernel takes {self.source.columns} columns and {self.source.scalars} numbers, "
                f"not {len(columns)} and {len(params) + len(constants)}"
            )
        n = 1
        arrays = []
        for column in columns:
            array = np.asarray(column, dtype=np.float64)
            if array.ndim > 1 or not array.flags.aligned or (array.ndim == 1 and array.strides[0] % 8):
                return None
            length = array.shape[0] if array.ndim == 1 else 1
            if length != 1:
                if n not in (1, length):
                    return None
                n = length
            arrays.append(array)
        if any(a.size == 0 for a in arrays):
            return None
        pointers = np.array([a.ctypes.data for a in arrays], dtype=np.uintp)
        strides = np.array(
            [a.strides[0] // 8 if a.ndim == 1 and a.shape[0] != 1 else 0 for a in arrays], dtype=np.int64
        )
        scalars = np.array([*params, *constants], dtype=np.float64)
        out = np.empty(self.source.outputs)
        threads = 1 if _GOMP_BEFORE_US or os.getpid() != IMPORTED_IN else 0  # 0: as many as allowed
        if self._function(
            n, scalars.ctypes.data, pointers.ctypes.data, strides.ctypes.data, out.ctypes.data, threads
        ):
            raise MemoryError("no memory for the native kernel's partial sums")
        out /= n
        return float(out[0]), out[1:].tolist()


def compile_kernel(program: Program) -> Kernel:
    """The native kernel of `program` (compiled, or loaded from the cache); NativeUnavailable if none."""
    source = kernel_source(program)
    path = build(source)
    try:
        library = ctypes.CDLL(str(path))
    except OSError:  # a damaged file in the cache: built again, once
        path = build(source, rebuild=True)
        try:
            library = ctypes.CDLL(str(path))
        except OSError as error:
            raise NativeUnavailable(f"the compiled kernel did not load: {error}") from None
    function = library.symcalc_kernel
    function.argtypes = _SIGNATURE
    function.restype = ctypes.c_int
    return Kernel(source, path, function)
