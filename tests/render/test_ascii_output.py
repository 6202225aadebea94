"""A console that cannot encode the maths (Windows' cp1252, or ASCII): ASCII output, never a crash.

Each command runs in this process as `symcalc` runs it, its standard output and error streams in the
given encoding (what PYTHONIOENCODING gives a process) and COLUMNS the terminal's width, so the
command sees the console it would: the streams' encoding, reconfigured by `plain`, and Rich's width.
One test runs a real process with PYTHONIOENCODING, so that the real streams are covered too.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from symcalc.cli.main import main
from symcalc.render.pretty import set_ascii

Console = Callable[..., tuple[int, bytes, bytes]]

COMMANDS = [
    pytest.param(["derive"]),
    pytest.param(["derive", "two_layer_network_vector"], marks=pytest.mark.slow),
    pytest.param(["derive", "--json"], marks=pytest.mark.slow),
    pytest.param(["verify"], marks=pytest.mark.slow),
    pytest.param(["verify", "softmax_regression_vector"], marks=pytest.mark.slow),
    pytest.param(["check", "logistic_regression", "dL/dw1", "(a - y)*x2"], marks=pytest.mark.slow),
    pytest.param(["train", "--epochs", "20"], marks=pytest.mark.slow),
    pytest.param(["latex"], marks=pytest.mark.slow),
    pytest.param(["markdown", "two_layer_network_vector"], marks=pytest.mark.slow),
]


@pytest.fixture
def console(monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    """Runs `symcalc ARGUMENTS` on a console of an encoding and a width: (exit status, stdout, stderr)."""

    def run(arguments: list[str], encoding: str, width: int = 80) -> tuple[int, bytes, bytes]:
        out, err = io.BytesIO(), io.BytesIO()
        streams = [io.TextIOWrapper(stream, encoding=encoding, write_through=True) for stream in (out, err)]
        with monkeypatch.context() as patch:
            patch.setenv("COLUMNS", str(width))
            patch.setattr(sys, "stdout", streams[0])
            patch.setattr(sys, "stderr", streams[1])
            code = main(arguments)
        written = out.getvalue(), err.getvalue()
        for stream in streams:
            stream.detach()  # the bytes stay readable: a wrapper closes its buffer when it goes
        return code, *written

    yield run
    set_ascii(False)  # the maths switch the command set for its console, back as the next test expects


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
@pytest.mark.parametrize("arguments", COMMANDS, ids=" ".join)
def test_every_command_writes_what_the_console_can_encode(
    console: Console, arguments: list[str], encoding: str
) -> None:
    code, out, err = console(arguments, encoding)
    assert b"internal error" not in err, err.decode(encoding, "replace")
    assert code == (1 if arguments[0] == "check" else 0), err
    text = out.decode(encoding)  # raises if the stream received anything it cannot hold
    assert text.strip()
    # every character spelled out: no "?" beyond those the UTF-8 output has itself ("dL/dw1 = ?")
    assert text.count("?") == console(arguments, "utf-8")[1].decode("utf-8").count("?")


def test_the_seed_reads_in_ascii(console: Console) -> None:
    out = console(["derive"], "ascii")[1].decode("ascii")
    assert "a = sigmoid(z)" in out and "dL   dL partial a" in out and "+- Step 1 of 5" in out


@pytest.mark.slow
def test_a_process_whose_streams_are_ascii_reads_the_seed_in_ascii() -> None:
    environment = {**os.environ, "PYTHONIOENCODING": "ascii", "COLUMNS": "80"}
    result = subprocess.run(
        [sys.executable, "-m", "symcalc", "derive"], capture_output=True, env=environment, timeout=300
    )
    out = result.stdout.decode("ascii")
    assert result.returncode == 0 and "a = sigmoid(z)" in out and "+- Step 1 of 5" in out


@pytest.mark.parametrize(
    "width", [40, pytest.param(60, marks=pytest.mark.slow), pytest.param(80, marks=pytest.mark.slow)]
)
@pytest.mark.parametrize("command", ["derive", pytest.param("verify", marks=pytest.mark.slow)])
@pytest.mark.parametrize(
    "model", ["logistic_regression", pytest.param("two_layer_network_vector", marks=pytest.mark.slow)]
)
def test_spelled_in_ascii_the_output_still_fits_the_terminal(
    console: Console, command: str, model: str, width: int
) -> None:
    # σ spelled "sigmoid" and … as "..." lengthen a line after it was laid out: it is laid out again
    out = console([command, model], "ascii", width)[1].decode("ascii")
    wide = [line for line in out.splitlines() if len(line) > width]
    assert not wide, wide
    assert "sigmoid" in out and "?" not in out


def test_json_escapes_what_the_console_cannot_encode(console: Console) -> None:
    document = json.loads(console(["derive", "two_layer_network_vector", "--json"], "cp1252")[1])
    assert document["vector_form"][0]["name"] == "dL/da" and document["sizes"] == {"n": 2, "h": 3}
