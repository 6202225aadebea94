"""Threat: tiny inputs that hang or exhaust SymPy (bad-inputs.md §2), each through the CLI and on time.

Static caps refuse most of them before SymPy sees anything; what passes every
cap (the runaway exp/log below) is stopped by the wall-clock limit on the child
that does the symbolic work, for every command that does symbolic work.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from symcalc.cli.main import main
from symcalc.errors import LimitError
from symcalc.isolate import run_limited
from symcalc.spec.toml import MAX_FILE_BYTES, MAX_NAMES
from symcalc.symbolic.caps import MAX_DEPTH, MAX_LENGTH
from tests.conftest import WriteToml

Runner = Callable[[list[str]], tuple[int, str, str, float]]

# Passes every static cap (small constants, shallow), yet SymPy rewrites exp(k*log(u)) as u**k
# and builds a number with millions of digits. bad-inputs.md §2; issue 8 names it.
RUNAWAY = "exp(1000000*log(exp(1000000*log(999999/(x+y)))))"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Runner:
    def invoke(argv: list[str]) -> tuple[int, str, str, float]:
        started = time.monotonic()
        code = main(argv)
        elapsed = time.monotonic() - started
        captured = capsys.readouterr()
        return code, captured.out, captured.err, elapsed

    return invoke


def model(expression: str) -> str:
    return f'inputs = ["x", "y"]\nparameters = ["w"]\n[definitions]\nL = "w*{expression}"\n'


def assert_one_line(code: int, err: str) -> None:
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("symcalc: error: ") and "internal error" not in err


# -- static caps: refused before SymPy sees anything, so in well under a second -----------------

STATIC = {
    "9**9**8": "too large",
    "9**9**9": "too large",
    "(13/10)**6472416997": "too large",
    "factorial(10**10)": "unknown function 'factorial'",
    "((9**9)**9999)**9999": "too large",
    "1e999999": "too large",
    "exp(10**15*log(10**15))": "too large",
    "tanh(exp(1e300))": "too large",
    "x**1000001": "exponent",
    "(x+y)**(10**6)": "exponent",
    "10**400 - 10**400": "too large",  # cancels to 0, but 10**400 alone is beyond the cap
}


@pytest.mark.parametrize("text", sorted(STATIC))
def test_each_hostile_constant_is_refused_fast(run: Runner, write_toml: WriteToml, text: str) -> None:
    code, _, err, elapsed = run(["derive", str(write_toml(model(f"({text})"))), "--timeout", "5"])
    assert_one_line(code, err)
    assert STATIC[text] in err
    assert elapsed < 2


def test_200_kilobytes_of_x_plus_x_is_refused_by_length(run: Runner, write_toml: WriteToml) -> None:
    code, _, err, elapsed = run(["derive", str(write_toml(model("(" + "x+" * 100_000 + "x)")))])
    assert_one_line(code, err)
    assert f"the limit is {MAX_LENGTH}" in err
    assert elapsed < 2


def test_a_long_flat_sum_within_the_cap_is_no_recursion_error(run: Runner, write_toml: WriteToml) -> None:
    # 2 000 terms: past Python's recursion limit if our code walked the chain recursively.
    text = "(" + "x+" * 2_000 + "y)"
    code, _, err, elapsed = run(["derive", str(write_toml(model(text))), "--json", "--timeout", "20"])
    assert code == 0, err
    assert elapsed < 20


@pytest.mark.parametrize("count", [100_000, 40_000, 5_000])
def test_a_run_of_unary_minus_signs_is_refused(run: Runner, write_toml: WriteToml, count: int) -> None:
    code, _, err, elapsed = run(["derive", str(write_toml(model("(" + "-" * count + "x)")))])
    assert_one_line(code, err)
    assert "limit" in err or "nested more than" in err  # the length cap, or the nesting cap
    assert elapsed < 2


def test_a_chain_past_the_parts_cap_is_one_clear_line(run: Runner, write_toml: WriteToml) -> None:
    """Python's parser takes the chain (the child gives recursion room: it refused about 2 500 terms
    of x+x+... before); the cap on an expression's parts refuses it."""
    code, _, err, _ = run(["derive", str(write_toml(model("(" + "x+" * 12_000 + "y)")))])
    assert_one_line(code, err)
    assert "expression has more than 20000 parts" in err


def test_deep_nesting_is_refused_by_depth(run: Runner, write_toml: WriteToml) -> None:
    depth = MAX_DEPTH + 5
    code, _, err, _ = run(["derive", str(write_toml(model("sin(" * depth + "x" + ")" * depth)))])
    assert_one_line(code, err)
    assert f"nested more than {MAX_DEPTH} levels" in err


def test_deeply_nested_toml_is_one_line(run: Runner, write_toml: WriteToml) -> None:
    code, _, err, elapsed = run(["derive", str(write_toml("x = " + "[" * 100_000 + "]" * 100_000 + "\n"))])
    assert_one_line(code, err)
    assert elapsed < 5


def test_an_oversized_file_is_refused_before_it_is_read(run: Runner, tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * MAX_FILE_BYTES + "\n")
    code, _, err, _ = run(["verify", str(path)])
    assert code == 2
    assert f"the limit is {MAX_FILE_BYTES}" in err


def test_too_many_names_is_refused(run: Runner, write_toml: WriteToml) -> None:
    names = ", ".join(f'"x{i}"' for i in range(MAX_NAMES + 1))
    text = f'inputs = [{names}]\nparameters = ["w"]\n[definitions]\nL = "w*x1"\n'
    code, _, err, _ = run(["derive", str(write_toml(text))])
    assert code == 2
    assert f"the limit is {MAX_NAMES}" in err


def test_a_five_deep_sigmoid_chain_derives_quickly(run: Runner, write_toml: WriteToml) -> None:
    # Composed, SymPy's simplify takes 13-18 s on this; named intermediates keep it fast.
    text = (
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w", "b"]\n[definitions]\n'
        'a1 = "sigmoid(w*x + b)"\na2 = "sigmoid(w*a1 + b)"\na3 = "sigmoid(w*a2 + b)"\n'
        'a4 = "sigmoid(w*a3 + b)"\na5 = "sigmoid(w*a4 + b)"\nL = "(a5 - y)**2"\n'
    )
    code, _, err, elapsed = run(["derive", str(write_toml(text)), "--json", "--timeout", "20"])
    assert code == 0, err
    assert elapsed < 10


# -- the wall-clock limit: what passes every cap is stopped on time, in every command ------------

SYMBOLIC_COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "derive": lambda f: ["derive", str(f)],
    "verify": lambda f: ["verify", str(f)],
    "check": lambda f: ["check", str(f), "dL/dw", "x"],
    "latex": lambda f: ["latex", str(f)],
    "markdown": lambda f: ["markdown", str(f)],
    "train": lambda f: ["train", str(f), "--epochs", "1"],
    "codegen": lambda f: ["codegen", str(f)],
}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(SYMBOLIC_COMMANDS))
def test_the_runaway_expression_is_stopped_on_time(run: Runner, write_toml: WriteToml, command: str) -> None:
    path = write_toml(model(RUNAWAY))
    code, out, err, elapsed = run([*SYMBOLIC_COMMANDS[command](path), "--timeout", "1"])
    assert_one_line(code, err)
    assert f"{path}: stopped after 1 s" in err and "--timeout" in err
    assert elapsed < 4
    assert out == ""


def test_every_command_takes_timeout_and_refuses_unusable_values(run: Runner) -> None:
    for command in ("derive", "verify", "latex", "markdown", "train", "codegen"):
        for value in ("0", "-1", "nan", "inf", "1e300"):
            code, _, err, _ = run([command, "--timeout", value])
            assert_one_line(code, err)
            assert "timeout must be a number of seconds" in err
    code, _, err, _ = run(["check", "logistic_regression", "dL/dz", "a - y", "--timeout", "nan"])
    assert_one_line(code, err)


def _allocate_forever() -> bytes:
    return b"x" * (64 * 1024**3)  # beyond the child's 8 GiB address space


def test_memory_is_bounded_in_the_child() -> None:
    started = time.monotonic()
    with pytest.raises(LimitError, match="ran out of memory"):
        run_limited(_allocate_forever, timeout=20)
    assert time.monotonic() - started < 20


def _sleep() -> None:
    time.sleep(60)


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_the_child_and_its_pipe_are_cleaned_up_on_every_path() -> None:
    before = _open_descriptors()
    with pytest.raises(LimitError):
        run_limited(_sleep, timeout=0.2)
    assert multiprocessing.active_children() == []

    # Ctrl-C in the parent while it waits still kills and reaps the child. The alarm interrupts
    # only this process: a fork does not inherit a timer.
    previous = signal.signal(signal.SIGALRM, _interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_limited(_sleep, timeout=30)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 10  # interrupted while waiting, not stopped by the timeout
    assert multiprocessing.active_children() == []
    assert _open_descriptors() == before


def test_deeply_nested_toml_is_one_line_with_tblib_pickling(run: Runner, write_toml: WriteToml) -> None:
    """Dask's distributed installs tblib's pickling on import: exceptions then pickle their traceback
    and the exception they arose from, and the error from a deep TOML carried a RecursionError a
    thousand frames deep, which could not be sent back ("internal error"). The error goes bare."""
    pickling_support = pytest.importorskip(
        "tblib.pickling_support", reason="tblib comes with the [dask] extra (.ci/run installs it)"
    )
    pickling_support.install()
    code, _, err, _ = run(["derive", str(write_toml("x = " + "[" * 100_000 + "]" * 100_000 + "\n"))])
    assert_one_line(code, err)
    assert "TOML is nested too deeply" in err
