"""The C kernel: consistent with the plain lambdified program on every model and layout, or not used at all.

These are consistency tests (the kernel against `reference()` and the generic program, which share
symcalc's stable rewrites and printer); correctness is `tests/numeric/test_independent_oracle.py`'s.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import symcalc
from symcalc.errors import NativeUnavailable, NumericError
from symcalc.numeric.c import build, source
from symcalc.numeric.c.kernel import compile_kernel
from symcalc.numeric.c.source import BLOCK, kernel_source
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.model import NumericModel
from symcalc.numeric.program import build_program
from tests.conftest import REPO, Runner, WriteToml
from tests.numeric_oracle import MODELS, STEP_OF_AN_INPUT, evaluated, program_of, random_data, reference

RTOL = 1e-12

needs_compiler = pytest.mark.skipif(build.compiler() is None, reason="no C compiler on this machine")
pytestmark = needs_compiler


@pytest.fixture
def compiler_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[], int]:
    """$CC becomes the real compiler behind a script that counts its runs, and the cache an empty
    folder: how many runs the compiler had so far."""
    real = build.compiler()
    assert real is not None
    calls = tmp_path / "compiler-runs"
    counting = tmp_path / "counting-cc"
    counting.write_text(
        f'#!/bin/sh\necho run >> {shlex.quote(str(calls))}\nexec {shlex.join(real)} "$@"\n', encoding="utf-8"
    )
    counting.chmod(0o755)
    monkeypatch.setenv("CC", str(counting))
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(tmp_path / "cache"))
    return lambda: calls.read_text(encoding="utf-8").count("run") if calls.exists() else 0


def _python(script: str, env: dict[str, str], *args: str) -> str:
    """What `script` prints, run by a new Python process from the repository's root."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=True,
        timeout=300,
    )
    return done.stdout


def _pair(name: str) -> tuple[NumericModel, NumericModel]:
    program = program_of(name)
    ours = NumericModel(program)
    assert ours.backend == "c", ours.native_problem
    return ours, NumericModel(program, backend="generic")


@pytest.mark.parametrize(
    # softmax's kernel (10 outputs over a 3-way log-sum-exp) takes GCC over a second to compile
    "name",
    [pytest.param(m, marks=pytest.mark.slow) if m == "softmax_regression" else m for m in MODELS],
)
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_equals_plain_lambdify_on_random_data(name: str, scale: float) -> None:
    ours, _ = _pair(name)
    program = ours.program
    rng = np.random.default_rng(17)
    data = random_data(program, 2 * BLOCK + 123, rng, scale)  # two whole blocks and a partial one
    for _ in range(2):
        params = {p: float(rng.normal()) for p in program.parameters}
        want, size = reference(program, params, data)
        got = evaluated(ours, params, data)
        finite = np.isfinite(want)  # softmax's generic form overflows at large scale; compare where defined
        assert finite[0] or scale > 1
        assert np.all(np.isfinite(got)), got  # the kernel's σ and softplus never overflow
        assert np.allclose(got[finite], want[finite], rtol=RTOL, atol=RTOL * size[finite].max()), (got, want)


@pytest.mark.parametrize("name", ["logistic_regression", "logistic_regression_l2", "poisson_regression"])
def test_extreme_inputs_equal_the_generic_path(name: str) -> None:
    """|z| up to 1e4 (σ and softplus at their extremes) and inputs down to 1e-3."""
    ours, generic = _pair(name)
    program = ours.program
    rng = np.random.default_rng(3)
    data = random_data(program, 5000, rng)
    for x in program.inputs:
        data[x] = rng.uniform(-1, 1, 5000) * 10.0 ** rng.uniform(-3, 4 if "logistic" in name else 2, 5000)
    params = {p: 1.0 for p in program.parameters}
    got, want = evaluated(ours, params, data), evaluated(generic, params, data)
    assert np.all(np.isfinite(got))
    assert np.allclose(got, want, rtol=RTOL, atol=0), (got, want)


def test_every_layout_numpy_accepts_gives_the_same_numbers() -> None:
    ours, generic = _pair("logistic_regression_4")
    program = ours.program
    rng = np.random.default_rng(5)
    separate = random_data(program, 777, rng)
    matrix = np.column_stack([separate[x] for x in program.inputs])
    params = {p: float(rng.normal()) for p in program.parameters}
    want = evaluated(generic, params, separate)
    layouts: dict[str, dict[str, Any]] = {
        "separate": separate,
        "row-major views": separate | {x: matrix[:, k] for k, x in enumerate(program.inputs)},
        "column-major views": separate
        | {x: np.asfortranarray(matrix)[:, k] for k, x in enumerate(program.inputs)},
        "lists": {k: list(v) for k, v in separate.items()},
        "float32": {k: v.astype(np.float32) for k, v in separate.items()},
    }
    for label, data in layouts.items():
        tolerance = (
            1e-6 if label == "float32" else RTOL
        )  # float32 data are rounded before either path sees them
        want_here = evaluated(generic, params, data)
        assert np.allclose(evaluated(ours, params, data), want_here, rtol=tolerance, atol=0), label
        assert np.allclose(want_here, want, rtol=tolerance, atol=0), label
    reversed_data = {k: v[::-1] for k, v in separate.items()}  # negative strides: a sum in another order
    assert np.allclose(evaluated(ours, params, reversed_data), want, rtol=RTOL, atol=0)


def test_numbers_and_length_one_arrays_broadcast_as_in_numpy() -> None:
    ours, generic = _pair("logistic_regression")
    params = {"w1": 0.3, "w2": -0.2, "b": 0.1}
    for data in (
        {"x1": 0.5, "x2": -1.0, "y": 1.0},
        {"x1": np.array([0.5, 2.0, -1.0]), "x2": -1.0, "y": np.array([1.0])},
        {"x1": np.float64(0.5), "x2": np.array(-1.0), "y": 0.0},
    ):
        got, want = evaluated(ours, params, data), evaluated(generic, params, data)
        assert np.allclose(got, want, rtol=RTOL, atol=0), data


def test_data_the_kernel_cannot_take_goes_where_it_went_before() -> None:
    ours, generic = _pair("logistic_regression")
    params = {"w1": 0.3, "w2": -0.2, "b": 0.1}
    kernel = compile_kernel(ours.program)
    grid = np.ones((3, 4))  # 2-D: NumPy broadcasts it, the kernel declines
    two_d = {"x1": grid, "x2": grid, "y": grid}
    assert kernel.evaluate([0.3, -0.2, 0.1], [grid, grid, grid], []) is None
    assert evaluated(ours, params, two_d) == pytest.approx(evaluated(generic, params, two_d), rel=RTOL)
    ragged = {"x1": np.ones(3), "x2": np.ones(2), "y": np.ones(3)}
    with pytest.raises(ValueError, match="broadcast"):
        generic.evaluate(params, ragged)
    with pytest.raises(ValueError, match="broadcast"):
        ours.evaluate(params, ragged)
    empty = {"x1": np.ones(0), "x2": np.ones(0), "y": np.ones(0)}
    assert kernel.evaluate([0.3, -0.2, 0.1], list(empty.values()), []) is None


def test_nan_and_infinity_propagate_as_in_numpy() -> None:
    ours, generic = _pair("logistic_regression")
    params = {"w1": 0.3, "w2": -0.2, "b": 0.1}
    for bad in (np.nan, np.inf, -np.inf):
        data = {"x1": np.array([0.5, bad, 1.0]), "x2": np.ones(3), "y": np.array([1.0, 0.0, 1.0])}
        got, want = evaluated(ours, params, data), evaluated(generic, params, data)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        finite = np.isfinite(want)
        assert np.allclose(got[finite], want[finite], rtol=RTOL, atol=0)


def test_a_million_equal_samples_sum_to_their_mean() -> None:
    """A million copies of one sample average to that sample to 3e-14 (a running sum: off by 1e-11).

    Each SIMD lane adds at most BLOCK / 8 = 128 values before its block is summed with compensation.
    """
    ours, generic = _pair("logistic_regression_l2")
    params = {"w1": 0.7, "w2": -1.1, "b": 0.2}
    n = 1_000_003
    many = {"x1": np.full(n, 0.3), "x2": np.full(n, -2.0), "y": np.ones(n)}
    one = {k: v[:1] for k, v in many.items()}
    got, want = evaluated(ours, params, many), evaluated(generic, params, one)
    assert np.allclose(got, want, rtol=3e-14, atol=0), (got, want)


def test_constants_reach_the_kernel() -> None:
    ours, generic = _pair("logistic_regression_l2")
    rng = np.random.default_rng(2)
    data = random_data(ours.program, 300, rng)
    params = {"w1": 0.7, "w2": -1.1, "b": 0.2}
    results = []
    for lam in (0.0, 0.5, 3.0):
        got = ours.evaluate(params, data, {"lamda": lam})[1]
        want = generic.evaluate(params, data, {"lamda": lam})[1]
        assert got == pytest.approx(want, rel=RTOL)
        results.append(got["w1"])
    assert len(set(results)) == 3  # the constant changed the result


HOSTILE = """
title = 'int main() { system("id"); } /* */'
inputs = ["double", "main", "i", "n", "s0"]
targets = ["c0"]
parameters = ["t0", "start", "stop", "out"]
[definitions]
z = "t0*double + start*main + stop*i + out*n + s0"
a = "sigmoid(z)"
L = "-(c0*log(a) + (1 - c0)*log(1 - a))"
"""


def test_no_name_from_the_file_reaches_the_c_source(write_toml: Callable[[str], Path]) -> None:
    """Names that are C keywords or clash with the kernel's own variables are renamed before printing."""
    path = write_toml(HOSTILE)
    program = numeric_program(symcalc.derive(symcalc.load(str(path))))
    text = kernel_source(program).text
    assert "system" not in text and "main" not in text and "double double" not in text
    ours, generic = NumericModel(program), NumericModel(program, backend="generic")
    assert ours.backend == "c", ours.native_problem
    rng = np.random.default_rng(1)
    data = random_data(program, 500, rng)
    params = {p: float(rng.normal()) for p in program.parameters}
    assert np.allclose(evaluated(ours, params, data), evaluated(generic, params, data), rtol=RTOL, atol=0)


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and platform.machine() == "x86_64"),
    reason="libmvec's vector math is for x86-64 Linux",
)
def test_the_loop_is_vectorised_with_vector_math() -> None:
    """The kernel calls glibc's vector exp and log1p (names starting _ZGV), not one exp per sample."""
    kernel = compile_kernel(program_of("logistic_regression"))
    symbols = kernel.path.read_bytes()
    assert b"_ZGV" in symbols and b"log1p" in symbols
    assert kernel.path.with_suffix(".c").read_text(encoding="utf-8") == kernel.source.text


def test_a_second_build_comes_from_the_cache(compiler_runs: Callable[[], int]) -> None:
    program = program_of("tanh_unit")
    first = compile_kernel(program)
    assert compiler_runs() == 1
    assert compile_kernel(program).path == first.path
    assert compiler_runs() == 1  # not compiled again
    assert stat.S_IMODE(first.path.parent.stat().st_mode) & 0o077 == 0


def test_a_cache_others_can_write_to_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_cache: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(shared))
    kernel = compile_kernel(program_of("linear_regression"))
    assert kernel.path.parent != shared and not list(shared.iterdir())
    assert kernel.path.parent.stat().st_uid == os.getuid()


def test_without_a_compiler_the_numpy_paths_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-here")
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(tmp_path))  # nothing cached: it would have to compile
    program = program_of("logistic_regression")
    numeric = NumericModel(program)
    assert numeric.backend == "numpy"
    assert numeric.native_problem is not None and "no C compiler" in numeric.native_problem
    with pytest.raises(NativeUnavailable, match="no C compiler"):
        compile_kernel(program)
    params, data = {"w1": 0.3, "w2": -0.2, "b": 0.1}, random_data(program, 50, np.random.default_rng(0))
    assert numeric.evaluate(params, data) == NumericModel(program, backend="numpy").evaluate(params, data)


def test_a_failing_compiler_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "broken-cc"
    broken.write_text(
        "#!/bin/sh\necho 'fatal error: this compiler is broken' >&2\nexit 1\n", encoding="utf-8"
    )
    broken.chmod(0o755)
    monkeypatch.setenv("CC", str(broken))
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(tmp_path / "cache"))
    numeric = NumericModel(program_of("logistic_regression"))
    assert numeric.backend == "numpy"
    assert numeric.native_problem == "the C compiler failed: fatal error: this compiler is broken"
    assert not [p for p in (tmp_path / "cache").iterdir()]  # no half-built files left behind


def test_each_back_end_can_be_asked_for_by_name(write_toml: WriteToml) -> None:
    program = program_of("logistic_regression")
    assert NumericModel(program, backend="c").backend == "c"
    assert NumericModel(program, backend="numpy").backend == "numpy"
    assert NumericModel(program, backend="generic").backend == "generic"
    outside = numeric_program(symcalc.derive(symcalc.load(str(write_toml(STEP_OF_AN_INPUT)))))
    assert NumericModel(outside).backend == "c"
    assert NumericModel(outside, backend="numpy").backend == "numpy"
    bare = build_program(symcalc.derive(symcalc.load("logistic_regression")))  # no batch module
    with pytest.raises(NumericError, match="no batch module: the program was built without"):
        NumericModel(bare, backend="numpy").describe()
    assert "lambdify" in NumericModel(bare, backend="generic").describe()
    with pytest.raises(NumericError, match="no back end 'fast'"):
        NumericModel(program, backend="fast")  # type: ignore[arg-type]


def test_asking_for_c_without_a_compiler_is_an_error_not_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with pytest.raises(NumericError, match="needs a C compiler"):
        NumericModel(program_of("logistic_regression"), backend="c")


@pytest.mark.slow
def test_asking_for_c_where_the_kernel_cannot_be_built_is_an_error(write_toml: Callable[[str], Path]) -> None:
    numeric = NumericModel(_wide(write_toml, 70), backend="c")
    with pytest.raises(NumericError, match="no C kernel for this model: 72 outputs"):
        numeric.describe()


def test_constructing_compiles_nothing(compiler_runs: Callable[[], int]) -> None:
    """The kernel is compiled on first use (or `build()`), once: constructing costs no compiler run."""
    program = program_of("linear_regression")
    numeric = NumericModel(program, backend="c")
    assert compiler_runs() == 0
    data = random_data(program, 10, np.random.default_rng(0))
    numeric.evaluate(numeric.start(), data)
    numeric.evaluate(numeric.start(), data)
    assert compiler_runs() == 1 and numeric.backend == "c"
    ahead = NumericModel(program_of("tanh_unit"))
    ahead.build()  # what train does before its first epoch, so that its timing leaves the compile out
    assert compiler_runs() == 2
    ahead.evaluate(ahead.start(), random_data(ahead.program, 10, np.random.default_rng(0)))
    assert compiler_runs() == 2


def test_train_says_what_computed_it(run: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, out, _ = run(["train", "--json", "--epochs", "5"])
    assert code == 0 and json.loads(out)["backend"] == "C kernel"
    monkeypatch.setenv("CC", "no-such-compiler-here")
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(tmp_path))
    code, out, _ = run(["train", "--json", "--epochs", "5"])
    assert code == 0
    backend = json.loads(out)["backend"]
    assert backend.startswith("NumPy, the batch module (codegen --target numpy); no C kernel: no C compiler")


_THREADED = """
import json, sys
import numpy as np
from tests.numeric_oracle import evaluated, program_of, random_data
from symcalc.numeric.model import NumericModel
program = program_of(sys.argv[1])
numeric = NumericModel(program)
rng = np.random.default_rng(23)
data = random_data(program, int(sys.argv[2]), rng)
params = {p: float(rng.normal()) for p in program.parameters}
twice = [evaluated(numeric, params, data).tolist() for _ in range(2)]
print(json.dumps([numeric.backend, *twice]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", ["logistic_regression", "softmax_regression"])
def test_threads_share_the_blocks_and_agree(name: str, kernel_cache: Path) -> None:
    """Above PARALLEL_MIN samples the blocks are split among OpenMP threads: same sums to 1e-13,
    the same bits on every run with one thread count, and the plain lambdify's numbers."""
    n = 2 * source.PARALLEL_MIN + 5
    results = {}
    for threads in (1, 2):
        env = os.environ | {"OMP_NUM_THREADS": str(threads), "SYMCALC_CACHE_DIR": str(kernel_cache)}
        backend, first, second = json.loads(_python(_THREADED, env, name, str(n)))
        assert backend == "c" and first == second  # deterministic for a thread count
        results[threads] = np.array(first)
    program = program_of(name)
    rng = np.random.default_rng(23)
    data = random_data(program, n, rng)
    params = {p: float(rng.normal()) for p in program.parameters}
    want, size = reference(program, params, data)
    assert np.allclose(results[1], results[2], rtol=1e-13, atol=1e-13 * size.max())
    assert np.allclose(results[2], want, rtol=RTOL, atol=RTOL * size.max())


def _wide(write_toml: Callable[[str], Path], n: int) -> symcalc.Program:
    xs, ws = [f"x{i}" for i in range(1, n + 1)], [f"w{i}" for i in range(1, n + 1)]
    z = " + ".join(f"{w}*{x}" for w, x in zip(ws, xs, strict=True)) + " + b"
    text = (
        f"inputs = {xs!r}\ntargets = ['y']\nparameters = {[*ws, 'b']!r}\n"
        f'[definitions]\nz = "{z}"\na = "sigmoid(z)"\nL = "-(y*log(a) + (1 - y)*log(1 - a))"\n'
    )
    return numeric_program(symcalc.derive(symcalc.load(str(write_toml(text)))))


@pytest.mark.slow
def test_wide_linear_models_keep_to_the_batch_module(write_toml: Callable[[str], Path]) -> None:
    """70 weights: the batch module, not a kernel that would take seconds to compile."""
    numeric = NumericModel(_wide(write_toml, 70))
    assert numeric.backend == "numpy"
    assert numeric.native_problem is not None and "72 outputs; above 65" in numeric.native_problem


def test_an_oversized_kernel_is_not_compiled() -> None:
    with pytest.raises(NativeUnavailable, match="C text is over 100 characters"):
        compile_kernel(program_of("logistic_regression"), max_source=100)


def _model(write_toml: Callable[[str], Path], loss: str, inputs: str = '["x"]') -> symcalc.Program:
    text = f'inputs = {inputs}\ntargets = ["y"]\nparameters = ["w", "b"]\n[definitions]\nL = "{loss}"\n'
    return numeric_program(symcalc.derive(symcalc.load(str(write_toml(text)))))


def _agree(program: symcalc.Program, data: dict[str, np.ndarray]) -> None:
    ours, generic = NumericModel(program), NumericModel(program, backend="generic")
    assert ours.backend == "c", ours.native_problem
    params = {"w": 0.7, "b": 0.2}
    got, want = evaluated(ours, params, data), evaluated(generic, params, data)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    assert np.allclose(got[finite], want[finite], rtol=RTOL, atol=0), (got, want)


@pytest.mark.slow
def test_exact_fractions_print_as_rounded_doubles(write_toml: Callable[[str], Path]) -> None:
    """0.99^200 is 99^200/100^200 to SymPy: both halves overflow a double, their quotient does not."""
    rng = np.random.default_rng(4)
    data = {"x": rng.standard_normal(64), "y": rng.standard_normal(64)}
    for factor in ("0.99^200", "(4/3)^1000/10^124", "1/3"):
        _agree(_model(write_toml, f"{factor} * (w*x + b - y)^2"), data)


def test_odd_roots_of_negatives_are_nan_as_in_numpy(write_toml: Callable[[str], Path]) -> None:
    data = {"x": np.array([-8.0, 8.0, 2.0]), "y": np.zeros(3)}
    _agree(_model(write_toml, "((w*x)^(1/3) - y)^2 + b^2"), data)  # C's cbrt(-8) would be -2


def test_powers_print_their_base_once(write_toml: Callable[[str], Path]) -> None:
    """sin(…sin(x)^16…)^16 seven deep: a few kB of C, not 16^7 copies of the innermost base."""
    nested = "x"
    for _ in range(7):
        nested = f"sin({nested})^16"
    program = _model(write_toml, f"w*{nested} + b - y")
    assert len(kernel_source(program).text) < 20_000
    _agree(program, {"x": np.linspace(-2, 2, 50), "y": np.zeros(50)})


def test_a_forked_child_runs_its_kernels_on_one_thread() -> None:
    """libgomp's threads do not survive fork: a child that asked for them would wait forever."""
    import multiprocessing

    ours, _ = _pair("logistic_regression")
    rng = np.random.default_rng(6)
    data = random_data(ours.program, 2 * source.PARALLEL_MIN, rng)
    params = {"w1": 0.1, "w2": 0.2, "b": 0.3}
    here = ours.evaluate(params, data)  # the parent's threads now exist
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=lambda: queue.put(ours.evaluate(params, data)))
    child.start()
    child.join(120)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung
    there = queue.get(timeout=10)
    assert there[0] == pytest.approx(here[0], rel=1e-13)


def test_cc_may_carry_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "cc -DSYMCALC_UNUSED=1")
    command = build.compiler()
    assert command is not None and command[1:] == ("-DSYMCALC_UNUSED=1",)
    assert NumericModel(program_of("linear_regression")).backend == "c"


@pytest.mark.slow
def test_a_compiler_that_hangs_is_stopped_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    slow = tmp_path / "slow-cc"
    slow.write_text(f"#!/bin/sh\necho run >> {calls}\nsleep 60\n", encoding="utf-8")
    slow.chmod(0o755)
    monkeypatch.setenv("CC", str(slow))
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(NativeUnavailable, match=r"^the C compiler took over 1 s$"):
        compile_kernel(program_of("logistic_regression"), timeout=1.0)
    assert calls.read_text(encoding="utf-8").count("run") == 1  # no second toolchain after a timeout


def test_a_compiler_that_writes_nothing_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CC", "true")
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(tmp_path))
    numeric = NumericModel(program_of("logistic_regression"))
    assert numeric.backend == "numpy" and numeric.native_problem == "the C compiler wrote no library"


def test_a_cache_under_a_folder_others_can_write_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user could swap the cache folder itself; /tmp's sticky bit is what makes it safe there."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # no sticky bit
    cache = shared / "kernels"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(cache))
    first = compile_kernel(program_of("linear_regression"))
    second = compile_kernel(program_of("tanh_unit"))
    assert first.path.parent != cache and not list(cache.iterdir())
    assert second.path.parent == first.path.parent  # one temporary folder per process, not one per model
    os.chmod(shared, 0o777 | stat.S_ISVTX)  # sticky, as /tmp is: the cache itself is used now
    assert compile_kernel(program_of("linear_regression")).path.parent == cache.resolve()


_LOAD = """
import numpy as np
from symcalc.numeric.c.kernel import compile_kernel
from tests.numeric_oracle import program_of
kernel = compile_kernel(program_of("poisson_regression"))
print(kernel.path, kernel.evaluate([0.1, 0.2, 0.3], [np.ones(3)] * 3, []) is not None)
"""


@pytest.mark.slow
def test_a_damaged_cached_kernel_is_built_again(tmp_path: Path) -> None:
    """In a new process (a process that has loaded a library gets the same one back by name)."""

    def load() -> list[str]:
        return _python(_LOAD, os.environ | {"SYMCALC_CACHE_DIR": str(tmp_path)}).split()

    path, works = load()
    assert works == "True"
    Path(path).write_bytes(b"not a shared library")
    assert load() == [path, "True"]
    assert Path(path).read_bytes().startswith(b"\x7fELF")


def test_the_kernel_refuses_arguments_of_the_wrong_count() -> None:
    """C would read past the end of its arrays: the counts are checked before the call."""
    kernel = compile_kernel(program_of("logistic_regression"))
    with pytest.raises(ValueError, match="takes 3 columns and 3 numbers, not 2 and 3"):
        kernel.evaluate([0.1, 0.2, 0.3], [np.ones(3)] * 2, [])
    with pytest.raises(ValueError, match="not 3 and 2"):
        kernel.evaluate([0.1, 0.2], [np.ones(3)] * 3, [])


KINKS = """
inputs = ["x", "u"]
targets = ["y"]
parameters = ["w", "b", "c"]
[definitions]
z = "w*x + b"
h = "relu(z) + abs(c*u) + max(z, c, u, 0) - min(z, u*c, 1) + sqrt(abs(z)) + abs(z)^(3/2)"
L = "(h - y)^2 + relu(c - u)*tanh(z)"
"""


@pytest.mark.slow
def test_kinks_whose_conditions_mix_parameters_and_data(write_toml: Callable[[str], Path]) -> None:
    """max/min of three gives Heaviside conditions on parameters (numbers) and data (arrays) together;
    NumPy's logical_and.reduce((…)) failed on that mix, in the generic program and its codegen."""
    program = numeric_program(symcalc.derive(symcalc.load(str(write_toml(KINKS)))))
    ours, generic = NumericModel(program), NumericModel(program, backend="generic")
    assert ours.backend == "c", ours.native_problem
    rng = np.random.default_rng(9)
    data = {"x": rng.standard_normal(500), "u": rng.standard_normal(500), "y": rng.standard_normal(500)}
    for _ in range(3):
        params = {p: float(rng.normal()) for p in program.parameters}
        got, want = evaluated(ours, params, data), evaluated(generic, params, data)
        assert np.allclose(got, want, rtol=RTOL, atol=RTOL * np.abs(want).max()), (got, want)


def test_a_new_cache_is_private_whatever_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under umask 002 (Debian's default for users with their own group) each new folder is 0700."""
    cache = tmp_path / "home" / ".cache" / "symcalc" / "kernels"
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(cache))
    old = os.umask(0o002)
    try:
        kernel = compile_kernel(program_of("linear_regression"))
    finally:
        os.umask(old)
    assert kernel.path.parent == cache.resolve()
    for folder in (cache, cache.parent, cache.parent.parent, cache.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_the_cache_is_used_through_its_resolved_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A symbolic link in $SYMCALC_CACHE_DIR is followed once, at the check: what is loaded is that folder."""
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    monkeypatch.setenv("SYMCALC_CACHE_DIR", str(tmp_path / "link"))
    assert compile_kernel(program_of("linear_regression")).path.parent == real.resolve()


@pytest.mark.slow
def test_a_forked_child_leaves_the_parents_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _python(_FORK_EXIT, os.environ | {"SYMCALC_CACHE_DIR": str(tmp_path / "shared" / "kernels")})
    assert out.split() == ["True", "c"]


_FORK_EXIT = """
import os, sys
from pathlib import Path
os.makedirs(os.environ["SYMCALC_CACHE_DIR"], mode=0o700)
os.chmod(Path(os.environ["SYMCALC_CACHE_DIR"]).parent, 0o777)  # not private: a temporary folder is used
from symcalc.numeric.c.kernel import compile_kernel
from symcalc.numeric.model import NumericModel
from tests.numeric_oracle import program_of
folder = compile_kernel(program_of("linear_regression")).path.parent
pid = os.fork()
if pid == 0:
    sys.exit(0)  # runs the child's atexit handlers
os.waitpid(pid, 0)
print(folder.is_dir(), NumericModel(program_of("tanh_unit")).backend)
"""


def test_a_lower_tier_in_the_cache_does_not_stop_a_better_build(
    compiler_runs: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lower tier cached after a transient failure of the best one: the best is built next time, and
    the cached lower tier is used only while the best keeps failing."""
    source_text = kernel_source(program_of("tanh_unit"))
    chains = build.toolchains()
    assert len(chains) > 1
    real_compile = build._compile
    failing = {chains[0]}

    def flaky(source: Any, chain: build.Toolchain, *args: Any) -> str | None:
        if chain in failing:
            return "the C compiler failed: a transient error"
        return real_compile(source, chain, *args)

    monkeypatch.setattr(build, "_compile", flaky)
    lower = build.build(source_text)  # the best tier failed: the next one is built and cached
    assert compiler_runs() == 1 and lower.is_file()
    failing.clear()
    assert build.build(source_text) != lower  # the failure has passed: the best tier is built
    assert compiler_runs() == 2
    best = build.build(source_text)
    assert compiler_runs() == 2  # and now comes from the cache
    assert best != lower
    failing.add(chains[0])
    best.unlink()  # the best tier gone and failing again: the cached lower tier, without a compiler run
    assert build.build(source_text) == lower and compiler_runs() == 2


@pytest.mark.slow
def test_a_cached_library_without_the_kernel_is_built_again(tmp_path: Path) -> None:
    """A valid shared library under the kernel's name that lacks its function (another library,
    or one cut short): rebuilt, as docs/performance.md promises, not an internal error."""
    path, works = _python(_LOAD, os.environ | {"SYMCALC_CACHE_DIR": str(tmp_path)}).split()
    assert works == "True"
    other = tmp_path / "other.c"
    other.write_text("int not_the_kernel(void) { return 0; }\n")
    cc = build.compiler()
    assert cc is not None
    subprocess.run([*cc, "-shared", "-fPIC", "-o", path, str(other)], check=True)
    assert _python(_LOAD, os.environ | {"SYMCALC_CACHE_DIR": str(tmp_path)}).split() == [path, "True"]


_BUILDS = """
from symcalc.numeric.c.build import build
from symcalc.numeric.c.source import kernel_source
from tests.numeric_oracle import program_of
build(kernel_source(program_of("linear_regression")))
"""


@pytest.mark.slow
def test_a_killed_build_leaves_no_compiler_and_no_build_files(tmp_path: Path) -> None:
    """The process compiling killed outright (SIGKILL: none of its `finally` runs): the compiler and
    what it started are killed, and its `.build-*` folder removed."""
    pids, cache = tmp_path / "pids", tmp_path / "cache"
    slow_cc = tmp_path / "slow-cc"
    slow_cc.write_text(f"#!/bin/sh\nsleep 60 &\necho $$ $! > {pids}.part\nmv {pids}.part {pids}\nwait\n")
    slow_cc.chmod(0o755)
    env = os.environ | {"CC": str(slow_cc), "SYMCALC_CACHE_DIR": str(cache)}
    caller = subprocess.Popen([sys.executable, "-c", _BUILDS], env=env, cwd=REPO)
    try:
        for _ in range(1200):
            if pids.exists():
                break
            time.sleep(0.05)
        assert list(cache.glob(".build-*")), "the build's folder is there while it compiles"
        caller.kill()
        caller.wait(timeout=30)
        compiler = [int(pid) for pid in pids.read_text().split()]
        for _ in range(200):
            alive = [pid for pid in compiler if _alive(pid)]
            if not alive and not list(cache.glob(".build-*")):
                return
            time.sleep(0.05)
        raise AssertionError(f"left behind: processes {alive}, {list(cache.glob('.build-*'))}")
    finally:
        if caller.poll() is None:
            caller.kill()
        for pid in [int(pid) for pid in pids.read_text().split()] if pids.exists() else []:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
