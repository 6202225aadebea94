"""Ctrl-C during `symcalc train`, typed at a terminal: the progress line is left once, then the result."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
import time

import pytest

from tests.conftest import REPO

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _typed_ctrl_c(width: int) -> str:
    """What a terminal `width` wide receives when Ctrl-C is typed 6 s into a long training."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: symcalc on the terminal
        os.environ.update({"COLUMNS": str(width), "LINES": "24", "PYTHONPATH": str(REPO), "TERM": "xterm"})
        argv = [sys.executable, "-m", "symcalc", "train", "--epochs", "100000000", "--tol", "0"]
        os.execv(sys.executable, argv)
    received, start, typed = b"", time.monotonic(), False
    while time.monotonic() - start < 60:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child has closed the terminal
                break
            if not chunk:
                break
            received += chunk
        if not typed and b"epoch" in received and time.monotonic() - start > 6:
            os.write(fd, b"\x03")  # the terminal's line discipline echoes ^C and sends SIGINT
            typed = True
    os.waitpid(pid, 0)
    return received.decode("utf-8", "replace")


@pytest.mark.slow
@pytest.mark.parametrize("width", [60, 80])
def test_ctrl_c_leaves_the_last_progress_line_once(width: int) -> None:
    text = _typed_ctrl_c(width)
    assert "interrupted at epoch" in text
    drawings = [_ESCAPES.sub("", part) for part in re.split(r"\r\x1b\[2K", text.split("Training result")[0])]
    bars = [part.split("\r")[0].replace("^C", "") for part in drawings if part.startswith("training")]
    assert bars
    # the echoed ^C fits after every drawing of the bar, so it never wraps onto a line of its own that
    # the bar's last drawing would then clear instead of the bar's own line (which stayed: twice)
    assert all(len(bar) + 2 <= width for bar in bars), max(len(bar) for bar in bars)
    assert "^C" in text
