"""Free text (a title, a note) is text in every output: never Rich markup, never a control sequence.

A terminal obeys ESC sequences in what it is sent (clear the screen, set the window title, write
the clipboard, make a link, move up and erase a line) and bidirectional controls reorder what it
shows. Each output of a hostile file is read as bytes: no ESC, no C1 control, no bidi control, and
the markup the file wrote is shown as written.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

import symcalc
from symcalc.render.console import render_derivation
from symcalc.render.text import BIDI, json_escaped, printable
from tests.conftest import REPO

# Clear the screen; set the window title; write the clipboard (OSC 52); a link (OSC 8); then move up
# a line, erase it and print a verdict of our own.
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;aGVsbG8=\x07\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\"
FAKE = "\x1b[1A\x1b[2K3 checks: 3 hold"
# Rich markup: an unmatched closing tag (an error once), a link, hidden and restyled text.
MARKUP = "[/] [/bold] [link=http://evil]here[/link] [conceal]secret[/conceal] [red]red[/red]"
BIDI_TEXT = "\u202eevil\u202c \u2066iso\u2069 \u200f"
C1 = "\x9b2J\x85"  # CSI and NEL as C1 controls
TITLE = "Model " + ESCAPES + BIDI_TEXT + MARKUP + C1 + FAKE


def _toml(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is a JSON string for these characters


HOSTILE = f"""
title = {_toml(TITLE)}
inputs = ["x"]
targets = ["y"]
parameters = ["w"]
loss = "L"

[definitions]
z = "w*x"
L = "(z - y)^2"

[notes]
w = {_toml("weight " + MARKUP + ESCAPES + BIDI_TEXT + C1 + FAKE)}
z = {_toml("sum " + MARKUP)}
"""


def _assert_shown_as_text(out: bytes) -> None:
    text = out.decode("utf-8")
    assert "\x1b" not in text
    assert not any(0x80 <= ord(c) < 0xA0 for c in text)
    assert not any(c in BIDI for c in text)
    # The markup is shown as the file wrote it, not obeyed.
    assert "[conceal]secret[/conceal]" in text
    assert "[red]red[/red]" in text


def test_printable_drops_controls_and_keeps_text() -> None:
    assert printable("a\x1b[2Jb\u202ec\x9b\td\n\ne") == "a[2Jbc d e"
    assert printable("[red]σ ∂ é[/red]") == "[red]σ ∂ é[/red]"


def test_json_escaped_means_the_same_json() -> None:
    value = {"t": "a\u202eb\x85c\x1bd é"}
    text = json_escaped(json.dumps(value, indent=2, ensure_ascii=False))
    assert "\u202e" not in text and "\x85" not in text
    assert json.loads(text) == value


def test_the_console_shows_notes_and_title_as_text(tmp_path: Path) -> None:
    path = tmp_path / "hostile.toml"
    path.write_text(HOSTILE, encoding="utf-8")
    derivation = symcalc.derive(symcalc.load(str(path)))
    console = Console(file=io.StringIO(), width=200, color_system=None, force_terminal=False)
    console.print(*render_derivation(derivation, 196, compact=False))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    _assert_shown_as_text(out.encode())
    assert "[link=http://evil]here[/link]" in out
    assert "sum [/] [/bold]" in out


def _run(arguments: list[str], tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    path = tmp_path / "hostile.toml"
    path.write_text(HOSTILE, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "symcalc", arguments[0], str(path), *arguments[1:]],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "300"},
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["derive"],
        ["verify"],
        ["check", "dL/dw", "2*(z - y)*x"],
        ["markdown"],
        ["latex", "-o"],
        ["html", "-o"],
    ],
)
def test_no_output_carries_a_control_sequence(command: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run(command + ([str(out)] if command[-1] == "-o" else []), tmp_path)
    assert result.returncode == 0, result.stderr
    shown = out.read_bytes() if command[-1] == "-o" else result.stdout
    text = shown.decode("utf-8")
    assert "\x1b" not in text and not any(c in BIDI for c in text)
    assert not any(0x80 <= ord(c) < 0xA0 for c in text)
    assert "\x1b" not in result.stderr.decode("utf-8")
    if command[0] in ("derive", "verify", "check"):
        _assert_shown_as_text(shown)
        # The verdict the title carried stays on the title's line.
        assert not any(line.strip(" │").startswith("3 checks") for line in text.splitlines())


@pytest.mark.slow
@pytest.mark.parametrize("command", ["derive", "verify"])
def test_json_keeps_the_text_escaped(command: str, tmp_path: Path) -> None:
    result = _run([command, "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode("utf-8")
    assert "\x1b" not in text and not any(c in BIDI for c in text)
    assert not any(0x80 <= ord(c) < 0xA0 for c in text)
    data = json.loads(text)
    assert (data["title"] if command == "derive" else data["files"][0]["title"]) == TITLE
