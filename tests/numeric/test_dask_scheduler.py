"""`train --scheduler` at an address that is not a scheduler Dask can reach: one line, exit 2.

The servers here listen on 127.0.0.1 only and answer for a few seconds at most. Each `train` runs
as the user runs it, a process of its own: in this one, a failed connection leaves Dask's IO-loop
thread running, and `train`'s forked child for the symbolic work could start with a lock that
thread held (seen under load: "stopped after 60 s" instead of the one line).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("dask", reason="needs the extra symcalc-gradients[dask]")
pytest.importorskip("distributed", reason="needs the extra symcalc-gradients[dask]")
pytest.importorskip("pyarrow", reason="needs the extra symcalc-gradients[dask]")

import pyarrow as pa
import pyarrow.parquet as pq

pytestmark = pytest.mark.dask  # run by `.ci/run`; the quick set leaves Dask out

SERVED_FOR = 30.0  # seconds each server accepts connections, at most


def _data(folder: Path) -> str:
    pq.write_table(
        pa.table({"x1": [0.5, 1.0, 2.0], "x2": [1.0, 2.0, 0.0], "y": [1.0, 2.0, 3.0]}), folder / "d.parquet"
    )
    return str(folder / "d.parquet")


def _serve(answer: bytes) -> Iterator[str]:
    """A TCP server on 127.0.0.1 that answers each connection with `answer` and closes it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        end = time.monotonic() + SERVED_FOR
        while not stop.is_set() and time.monotonic() < end:
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1.0)
                try:
                    connection.recv(65536)
                    connection.sendall(answer)
                except OSError:
                    pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.fixture
def http_server() -> Iterator[str]:
    yield from _serve(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.fixture
def garbage_server() -> Iterator[str]:
    yield from _serve(bytes(range(256)) * 16)


def _train(address: str, data: str) -> tuple[int, str, str]:
    argv = ["train", "linear_regression", "--data", data, "--scheduler", address, "--epochs", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "symcalc", *argv], capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("server", ["http_server", "garbage_server"])
def test_a_server_that_is_not_a_scheduler_is_one_line(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    address = request.getfixturevalue(server)
    began = time.monotonic()
    code, out, err = _train(address, _data(tmp_path))
    assert time.monotonic() - began < SERVED_FOR
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: --scheduler {address}: cannot reach the Dask scheduler: the server answered, but "
        "not as a Dask scheduler (start one with `dask scheduler`, or train on this machine with --dask)\n"
    )


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (
            "tls://127.0.0.1:9",
            "tls:// needs Dask's TLS settings, and there are none (set Dask's distributed.comm.tls settings: "
            "the CA file, this client's certificate and key)",
        ),
        ("ucx://127.0.0.1:9", "symcalc reaches a scheduler over tcp:// or tls://, not ucx://"),
        ("ws://127.0.0.1:9", "symcalc reaches a scheduler over tcp:// or tls://, not ws://"),
    ],
)
def test_an_address_of_another_kind_is_one_line(address: str, message: str, tmp_path: Path) -> None:
    code, out, err = _train(address, _data(tmp_path))
    assert (code, out, err) == (2, "", f"symcalc: error: --scheduler {address}: {message}\n")
