"""Child processes bounded in time and memory: forked Python work, and external programs.

SymPy cannot be interrupted from inside (a timed-out thread keeps running, and
``signal.alarm`` waits for the C code it is in), so `run_limited` forks a child,
waits for its answer, and kills it when the time is up. `run_program` runs an
external program (the C compiler, pdflatex) in its own process group, so a
timeout kills it with everything it started (cc1 and the assembler, say).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TypeVar

from symcalc.errors import InternalError, LimitError, ProgramTimeout, SymcalcError

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0  # seconds; the largest shipped model derives and verifies in a few
MAX_TIMEOUT = 1_000_000.0  # seconds (11 days); longer waits overflow the operating system's timers
MEMORY_LIMIT = 8 * 1024**3  # bytes of address space for the child


def run_limited(function: Callable[..., T], *args: Any, timeout: float = DEFAULT_TIMEOUT) -> T:
    """`function(*args)` in a forked child, killed after `timeout` seconds (LimitError)."""
    check_timeout(timeout)
    if "fork" not in multiprocessing.get_all_start_methods():
        return function(*args)  # no fork here (Windows, macOS spawn): run unbounded
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, function, args), daemon=True)
    try:
        try:
            child.start()
        finally:
            sender.close()  # the child has its own copy; ours must go so EOF is seen if it dies
        status, payload, _ = _receive(receiver, timeout)
    finally:
        # Every path, including an exception or Ctrl-C in the parent: no child, no open pipe left.
        if child.is_alive():
            child.kill()
        if child.pid is not None:
            child.join()
            child.close()
        receiver.close()
    if status == "ok":
        return payload
    if status == "error":
        raise payload
    raise InternalError(*payload)


def run_limited_each(
    function: Callable[..., T], calls: Sequence[tuple[Any, ...]], *, timeout: float, jobs: int
) -> list[T | SymcalcError]:
    """`function(*args)` for each `args` of `calls`, each in its own forked child limited as
    `run_limited`'s is (`timeout` seconds each, the same memory), `jobs` at a time; in `calls`' order,
    each result or the SymcalcError (a LimitError for a child killed or crashed) that call ended with.

    The children are forked with `os.fork`, not `multiprocessing`, so that a `run_limited` child can
    start them (multiprocessing lets no daemonic process have children): each inherits what this
    process has loaded (SymPy, a model), so a call costs a fork, not an import.
    """
    check_timeout(timeout)
    if "fork" not in multiprocessing.get_all_start_methods():
        return [_unforked(function, args) for args in calls]
    results: list[T | SymcalcError | None] = [None] * len(calls)
    waiting = list(range(len(calls)))[::-1]
    running: dict[Connection, tuple[int, int, float]] = {}  # receiver → (call, pid, deadline)
    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                index = waiting.pop()
                receiver, sender = multiprocessing.Pipe(duplex=False)
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child
                    receiver.close()
                    try:
                        _child(sender, function, calls[index])
                    finally:
                        os._exit(0)
                sender.close()
                running[receiver] = (index, pid, time.monotonic() + timeout)
            soonest = min(deadline for _, _, deadline in running.values())
            ready = wait(list(running), timeout=max(0.0, soonest - time.monotonic()))
            now = time.monotonic()
            for receiver in list(running):
                index, pid, deadline = running[receiver]
                if receiver in ready:
                    results[index] = _answer(receiver, timeout, deadline)
                elif now >= deadline:
                    results[index] = _stopped(timeout)
                else:
                    continue
                del running[receiver]
                _end(receiver, pid)
    finally:
        for receiver, (_, pid, _) in running.items():  # an exception or Ctrl-C here: no child left
            _end(receiver, pid)
    return [result for result in results if result is not None]


def _unforked(function: Callable[..., T], args: tuple[Any, ...]) -> T | SymcalcError:
    try:
        return function(*args)
    except SymcalcError as err:
        return err


def _answer(receiver: Connection, timeout: float, deadline: float) -> Any:
    """What a child of `run_limited_each` sent: its result, or its error as a value; stopped where it
    finished after its deadline (this process, busy or descheduled, may see an answer late)."""
    try:
        status, payload, finished = _receive(receiver, timeout)
    except LimitError as err:
        return err
    if finished > deadline:
        return _stopped(timeout)
    if status == "ok":
        return payload
    if status == "error":
        return payload
    return LimitError(f"an internal error: {payload[0]}")


def _stopped(timeout: float) -> LimitError:
    return LimitError(f"stopped after {timeout:g} s: the symbolic work did not finish")


def _end(receiver: Connection, pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    receiver.close()


def check_timeout(timeout: float) -> None:
    """LimitError unless `timeout` is a usable number of seconds (nan, inf and 0 are not)."""
    if not 0 < timeout <= MAX_TIMEOUT:  # also false for nan
        raise LimitError(
            f"timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, not {timeout:g}"
        )


def _receive(receiver: Connection, timeout: float) -> tuple[str, Any, float]:
    """(status, payload, when the child finished, on the monotonic clock a fork shares) from a child."""
    if not receiver.poll(timeout):
        raise LimitError(
            f"stopped after {timeout:g} s: the symbolic work did not finish",
            fix="simplify the model or raise --timeout",
        )
    try:
        message: tuple[str, Any, float] = receiver.recv()
    except EOFError:
        raise LimitError("the symbolic work ran out of memory or crashed", fix="simplify the model") from None
    return message


def _child(sender: Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    # The work runs in a thread whose stack holds RECURSION_LIMIT frames of SymPy's recursion.
    threading.stack_size(STACK_BYTES)
    thread = threading.Thread(target=_work, args=(sender, function, args))
    thread.start()
    thread.join()


#: Python frames the symbolic work may nest: SymPy recurses through an expression's depth (diff,
#: free_symbols, the printers, several frames a level), and verify's oracle differentiates the
#: composed loss, whose depth grows with the chain: 39 sigmoid layers, composed, needed about
#: 2000 frames where derive, walking the graph, needs a few hundred (Python's default is 1000).
RECURSION_LIMIT = 20_000
#: The stack of the thread the work runs in: room for RECURSION_LIMIT frames that pass through C (a
#: few kilobytes each), reserved, not touched, so that a deeper expression is a RecursionError
#: ("too deeply nested"), never a crash of the child.
STACK_BYTES = 1024**3


def _work(sender: Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        result: tuple[str, Any] = ("ok", function(*args))
    except SymcalcError as err:
        result = ("error", err)
    except MemoryError:
        result = (
            "error",
            LimitError("the symbolic work ran out of memory", fix="simplify the model"),
        )
    except RecursionError:
        result = ("error", LimitError("the expression is too deeply nested to process"))
    except BaseException as err:  # reported to the user as a bug, with the traceback on --debug
        result = ("bug", (f"{type(err).__name__}: {err}", traceback.format_exc()))
    if result[0] == "error":  # only the problem travels: no traceback, no exception it arose from
        result = ("error", _bare(result[1]))
    finished = time.monotonic()
    try:
        sender.send((*result, finished))
    except Exception as err:  # the result itself could not be pickled
        sender.send(("bug", (f"cannot return the result: {err}", traceback.format_exc()), finished))
    finally:
        sender.close()


def _bare(err: SymcalcError) -> SymcalcError:
    """`err` without its traceback and the exception it was raised from. Pickled, an error is its
    problem, location and fix; but with tblib's pickling installed (Dask's distributed does that on
    import) exceptions pickle their tracebacks and chains, and "TOML nested too deeply" carries a
    RecursionError a thousand frames deep, which cannot be pickled."""
    err.__traceback__ = None
    err.__context__ = None
    err.__cause__ = None
    return err


@dataclass(frozen=True)
class Finished:
    """How an external program ended: its exit status, and its output when it was captured."""

    returncode: int
    stdout: str = ""
    stderr: str = ""


def run_program(
    command: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    memory_limit: int | None = None,
    file_size_limit: int | None = None,
    remove_if_killed: Sequence[Path] = (),
) -> Finished:
    """`command` in its own process group, killed with the whole group after `timeout` seconds
    (`ProgramTimeout`), when the caller is interrupted, or when this process is killed (a watcher,
    `_WATCHER`, does it then, and removes the files or folders `remove_if_killed`, which a `finally`
    of the caller's can no longer); its standard input is empty.

    With `capture` its output is read through pipes (for a program whose output is short, like a
    compiler's); without, it is discarded (a looping TeX document could fill memory through a pipe).
    `memory_limit` caps its address space (never above a hard limit already set), `file_size_limit`
    the size of any file it writes.
    """
    output = subprocess.PIPE if capture else subprocess.DEVNULL

    def limit() -> None:  # pragma: no cover - runs in the child between fork and exec
        if memory_limit is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            soft = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        if file_size_limit is not None:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        text=True,
        start_new_session=True,
        preexec_fn=limit,
    )
    try:
        watcher = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHER, str(process.pid), *map(str, remove_if_killed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not stopped by the Ctrl-C or the kill that stops this process group
        )
    except BaseException:
        _kill_group(process)
        raise
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProgramTimeout(f"{command[0]} took over {timeout:g} s") from None
    finally:
        if process.returncode is None:  # a timeout, or Ctrl-C in the parent: the whole group goes
            _kill_group(process)
        assert watcher.stdin is not None
        with contextlib.suppress(OSError):
            watcher.stdin.write(b"ended")  # the watcher's signal to leave things be
        with contextlib.suppress(OSError):
            watcher.stdin.close()
        watcher.wait()
    return Finished(process.returncode, out or "", err or "")


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


#: Run by a new interpreter beside each external program, with the program's process group and the
#: paths to remove: standard input closed with nothing written means that the process that started
#: the program died (killed, SIGKILL included) before it ended, so the program's group is killed,
#: the compiler's cc1 with it, and what it was writing removed.
_WATCHER = """
import os, shutil, signal, sys
if not sys.stdin.buffer.read(1):
    try:
        os.killpg(int(sys.argv[1]), signal.SIGKILL)
    except OSError:
        pass
    for path in sys.argv[2:]:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass
"""
