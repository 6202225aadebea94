"""A wall-clock and memory limit that really stops symbolic work: the work runs in a child process.

SymPy cannot be interrupted from inside (a timed-out thread keeps running, and
``signal.alarm`` waits for the C code it is in), so the CLI forks a child,
waits for its answer, and kills it when the time is up.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import resource
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from symcalc.errors import LimitError, SymcalcError

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0  # seconds; the largest shipped model derives and verifies in a few
MAX_TIMEOUT = 1_000_000.0  # seconds (11 days); longer waits overflow the operating system's timers
MEMORY_LIMIT = 8 * 1024**3  # bytes of address space for the child


class InternalError(Exception):
    """An exception nobody foresaw, raised in the child; carries its traceback text."""

    def __init__(self, summary: str, trace: str):
        super().__init__(summary)
        self.trace = trace


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
        status, payload = _receive(receiver, timeout)
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


def check_timeout(timeout: float) -> None:
    """LimitError unless `timeout` is a usable number of seconds (nan, inf and 0 are not)."""
    if not 0 < timeout <= MAX_TIMEOUT:  # also false for nan
        raise LimitError(
            f"timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, not {timeout:g}"
        )


def _receive(receiver: Connection, timeout: float) -> tuple[str, Any]:
    if not receiver.poll(timeout):
        raise LimitError(
            f"stopped after {timeout:g} s: the symbolic work did not finish",
            fix="simplify the model or raise --timeout",
        )
    try:
        message: tuple[str, Any] = receiver.recv()
    except EOFError:
        raise LimitError("the symbolic work ran out of memory or crashed", fix="simplify the model") from None
    return message


def _child(sender: Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
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
    try:
        sender.send(result)
    except Exception as err:  # the result itself could not be pickled
        sender.send(("bug", (f"cannot return the result: {err}", traceback.format_exc())))
    finally:
        sender.close()
