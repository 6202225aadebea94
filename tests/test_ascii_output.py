"""A console that cannot encode the maths (Windows' cp1252, or ASCII): ASCII output, never a crash.

Each command runs as the user runs it, in its own process with PYTHONIOENCODING set, so the
real streams (and the child process that renders) see that encoding.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

COMMANDS = [
    ["derive"],
    ["derive", "two_layer_network_vector"],
    ["derive", "--json"],
    ["verify"],
    ["verify", "softmax_regression_vector"],
    ["check", "logistic_regression", "dL/dw1", "(a - y)*x2"],
    ["train", "--epochs", "20"],
    ["latex"],
    ["markdown", "two_layer_network_vector"],
]


def _run(arguments: list[str], encoding: str, width: int = 80) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "PYTHONIOENCODING": encoding, "COLUMNS": str(width)}
    return subprocess.run(
        [sys.executable, "-m", "symcalc", *arguments], capture_output=True, env=environment, timeout=300
    )


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
@pytest.mark.parametrize("arguments", COMMANDS, ids=" ".join)
def test_every_command_writes_what_the_console_can_encode(arguments: list[str], encoding: str) -> None:
    result = _run(arguments, encoding)
    assert b"internal error" not in result.stderr, result.stderr.decode(encoding, "replace")
    assert result.returncode == (1 if arguments[0] == "check" else 0), result.stderr
    text = result.stdout.decode(encoding)  # raises if the stream received anything it cannot hold
    # every character spelled out: no "?" beyond those the UTF-8 output has itself ("dL/dw1 = ?")
    assert text.count("?") == _run(arguments, "utf-8").stdout.decode("utf-8").count("?")


def test_the_seed_reads_in_ascii() -> None:
    out = _run(["derive"], "ascii").stdout.decode("ascii")
    assert "a = sigmoid(z)" in out and "dL   dL partial a" in out and "+- Step 1 of 5" in out


@pytest.mark.parametrize("width", [40, 60, 80])
@pytest.mark.parametrize("command", ["derive", "verify"])
@pytest.mark.parametrize("model", ["logistic_regression", "two_layer_network_vector"])
def test_spelled_in_ascii_the_output_still_fits_the_terminal(command: str, model: str, width: int) -> None:
    # σ spelled "sigmoid" and … as "..." lengthen a line after it was laid out: it is laid out again
    out = _run([command, model], "ascii", width).stdout.decode("ascii")
    wide = [line for line in out.splitlines() if len(line) > width]
    assert not wide, wide
    assert "sigmoid" in out and "?" not in out


def test_json_escapes_what_the_console_cannot_encode() -> None:
    document = json.loads(_run(["derive", "two_layer_network_vector", "--json"], "cp1252").stdout)
    assert document["vector_form"][0]["name"] == "dL/da" and document["sizes"] == {"n": 2, "h": 3}
