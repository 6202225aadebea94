"""isolate.run_program: an external program bounded in time, killed with everything it started."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from symcalc.isolate import ProgramTimeout, run_program


def test_output_and_status_come_back_when_captured() -> None:
    done = run_program(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=30, capture=True)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """The program's own children (cc1 under cc, say) go too: none is left writing after the timeout."""
    pid_file = tmp_path / "grandchild"
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    began = time.monotonic()
    with pytest.raises(ProgramTimeout, match=r"took over 0\.5 s"):
        run_program(["sh", "-c", script], timeout=0.5)
    assert time.monotonic() - began < 30
    grandchild = int(pid_file.read_text(encoding="utf-8"))
    for _ in range(100):  # the kill is sent; the init process reaps the orphan shortly after
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {grandchild} outlived the timeout")


def test_limits_apply_inside_the_program(tmp_path: Path) -> None:
    script = "head -c 100000 /dev/zero > big; echo $?"
    done = run_program(["sh", "-c", script], timeout=30, cwd=tmp_path, capture=True, file_size_limit=1000)
    assert (tmp_path / "big").stat().st_size <= 1000 and done.stdout.strip() != "0"
    memory = run_program(["sh", "-c", "ulimit -v"], timeout=30, capture=True, memory_limit=512 * 1024**2)
    assert memory.stdout.strip() == str(512 * 1024)  # ulimit -v counts kilobytes
