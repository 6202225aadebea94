"""isolate.run_program: an external program bounded in time, killed with everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symcalc.errors import ProgramTimeout
from symcalc.isolate import run_program


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


_STARTS = """
import sys
from pathlib import Path
from symcalc.isolate import run_program
run_program(["sh", "-c", sys.argv[1]], timeout=600, remove_if_killed=[Path(sys.argv[2])])
"""


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_caller_leaves_no_program_and_no_files(tmp_path: Path, signal_number: int) -> None:
    """The caller killed (no `finally` of its runs with SIGKILL): the program and its children are
    killed all the same, and the folder it was writing into removed."""
    pid_file, work = tmp_path / "pids", tmp_path / "work"
    work.mkdir()
    (work / "part.o").write_text("half written")
    script = f"sleep 60 & echo $$ $! > {pid_file}.part; mv {pid_file}.part {pid_file}; wait"
    caller = subprocess.Popen(
        [sys.executable, "-c", _STARTS, script, str(work)], cwd=Path(__file__).parent.parent
    )
    try:
        for _ in range(600):
            if pid_file.exists():
                break
            time.sleep(0.05)
        pids = [int(p) for p in pid_file.read_text(encoding="utf-8").split()]
        caller.send_signal(signal_number)
        caller.wait(timeout=30)
        for _ in range(200):
            alive = [pid for pid in pids if _alive(pid)]
            if not alive and not work.exists():
                return
            time.sleep(0.05)
        raise AssertionError(f"left behind: processes {alive}, folder {work.exists()}")
    finally:
        if caller.poll() is None:
            caller.kill()
        for pid in [int(p) for p in pid_file.read_text().split()] if pid_file.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
