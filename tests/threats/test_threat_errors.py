"""Threat: an error we did not foresee — every command turns it into one line, exit 2, and --debug shows why.

A bug must not become a traceback a user has to read, nor a crash that hides
which file was bad; but whoever reports it needs the traceback, so `--debug`
(before or after the command) prints it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import symcalc.cli.work as cli
from symcalc.cli.main import main
from tests.conftest import Runner, WriteToml

# Each command and the library function it calls (in the time-limited child or in the CLI itself).
COMMANDS: dict[str, tuple[list[str], str]] = {
    "derive": (["derive"], "derive_file"),
    "verify": (["verify"], "verify_file"),
    "check": (["check", "logistic_regression", "dL/dz", "a - y"], "check_file"),
    "latex": (["latex"], "latex_file"),
    "markdown": (["markdown"], "markdown_file"),
    "html": (["html"], "html_file"),
    "codegen": (["codegen"], "codegen_file"),
    "train": (["train", "--epochs", "1"], "program_file"),
}


def _explode(*_: object, **__: object) -> object:
    raise ZeroDivisionError("an unforeseen bug")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_unforeseen_exception_is_one_line_with_a_hint(
    run: Runner, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    argv, function = COMMANDS[command]
    monkeypatch.setattr(cli, function, _explode)
    code, out, err = run(argv)
    assert code == 2
    assert out == ""
    assert err == (
        "symcalc: error: internal error (ZeroDivisionError: an unforeseen bug); this is a bug in symcalc, "
        "please report it with the output of --debug\n"
    )
    for debug in (["--debug", *argv], [argv[0], "--debug", *argv[1:]]):
        code, _, err = run(debug)
        assert code == 2
        assert "Traceback" in err and "ZeroDivisionError: an unforeseen bug" in err
        assert err.splitlines()[-1].startswith("symcalc: error: internal error")


def test_an_unforeseen_exception_outside_the_child_is_one_line(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import symcalc.numeric.data

    monkeypatch.setattr(symcalc.numeric.data, "load_builtin", _explode)  # train reads data in the CLI process
    code, _, err = run(["train", "--epochs", "1"])
    assert code == 2
    assert len(err.splitlines()) == 1 and "internal error (ZeroDivisionError" in err


def test_a_key_with_a_newline_is_still_one_line_per_problem(run: Runner, write_toml: WriteToml) -> None:
    path: Path = write_toml('inputs = ["x"]\nparameters = ["w"]\n[definitions]\n"a\\nb" = "x"\nL = "w*x"\n')
    code, _, err = run(["derive", str(path)])
    assert code == 2
    assert err.splitlines() == [
        f"symcalc: error: {path}, definitions.a\\nb: name 'a\\nb' is not a valid name "
        "(a letter, then up to 31 letters, digits or '_')"
    ]


def test_every_problem_in_a_file_is_reported_in_one_run(run: Runner, write_toml: WriteToml) -> None:
    path = write_toml(
        'inputs = ["x", "lambda", "α"]\nparameters = ["w"]\nbogus = 1\n'
        '[definitions]\nz = "w*x + q"\nL = "z**100000 + 2x"\n[claims]\n"dL/dv" = "1"\n'
    )
    code, _, err = run(["derive", str(path)])
    assert code == 2
    lines = err.splitlines()
    expected = ("unknown key 'bogus'", "'lambda'", "'α' is not ASCII", "unknown name 'q'", "2*x", "'v'")
    for fragment in expected:
        assert sum(fragment in line for line in lines) == 1, (fragment, lines)
    assert all(line.startswith(f"symcalc: error: {path}") for line in lines)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--seed", "-1", "--epochs", "1"],  # NumPy refuses negative seeds: was an internal error
        ["train", "--lr", "nan"],
        ["train", "--epochs", "-3"],
        ["verify", "--points", "0"],
    ],
)
def test_bad_option_values_are_usage_errors_not_bugs(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and f"error: argument {argv[1]}" in err


@pytest.mark.parametrize("command", ["markdown", "derive"])
def test_a_reader_that_closes_the_pipe_is_not_reported_as_a_bug(command: str) -> None:
    import subprocess
    import sys

    # symcalc markdown | head -1: the reader leaves before the output is written (exit 141, no message;
    # derive's text comes back from the child and is written by the parent).
    process = subprocess.Popen(
        [sys.executable, "-m", "symcalc", command, "two_layer_network"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 141
    assert err == ""
