"""Bad derivation files: each gets one clear line naming the file, the key and the problem, and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

import symcalc
from symcalc.cli.main import main
from tests.conftest import WriteToml

GOOD = """
title = "t"
inputs = ["x"]
targets = ["y"]
parameters = ["w"]
[definitions]
z = "w*x"
L = "(z - y)**2"
"""


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title = 'x'\ninputs = [\n", "TOML syntax error"),
        ('inputs = ["x"]\n[definitions]\nL = "x"\n', "parameters: missing required key"),
        ('parameters = ["w"]\n', "definitions: missing required table"),
        ('parameters = ["w", "w"]\n[definitions]\nL = "w"\n', "declared twice"),
        ('parameters = ["w"]\ninputs = ["w"]\n[definitions]\nL = "w"\n', "declared twice"),
        ('parameters = ["w"]\n[definitions]\nL = "w*q"\n', "definitions.L: unknown name 'q'"),
        ('parameters = ["w"]\n[definitions]\nL = "L*w"\n', "uses itself"),
        ('parameters = ["w"]\n[definitions]\nz = "a*w"\na = "w"\n', "defined later"),
        ('parameters = ["w"]\n[definitions]\nL = "foo(w)"\n', "unknown function 'foo'"),
        (
            'parameters = ["w"]\n[definitions]\nL = "w"\n[claims]\n"dL/dq" = "1"\n',
            "undeclared name 'q'",
        ),
        (
            'parameters = ["w"]\n[definitions]\nL = "w"\n[claims]\n"L by w" = "1"\n',
            "not of the form 'dA/dB'",
        ),
        ('parameters = ["lambda"]\n[definitions]\nL = "lambda"\n', "write 'lamda' instead"),
        ('parameters = ["wé"]\n[definitions]\nL = "1"\n', "not ASCII"),
        ('parameters = ["exp"]\n[definitions]\nL = "1"\n', "is a function in the table"),
        ('parameters = ["w"]\nloss = "Q"\n[definitions]\nL = "w"\n', "loss 'Q' is not one"),
        ('parameters = ["w"]\nfoo = 1\n[definitions]\nL = "w"\n', "unknown key 'foo'"),
        ('parameters = "w"\n[definitions]\nL = "1"\n', "must be a list of names"),
        (
            'parameters = ["w"]\n[constants]\nc = "big"\n[definitions]\nL = "w*c"\n',
            "constants.c: must be a number",
        ),
        ('parameters = ["w"]\n[definitions]\nL = 3\n', "definitions.L: must be a string"),
        ('parameters = ["w"]\n[definitions]\nL = "__import__(\'os\')"\n', "unknown function"),
    ],
)
def test_bad_file_one_clear_line(
    capsys: pytest.CaptureFixture[str],
    write_toml: WriteToml,
    text: str,
    expected: str,
) -> None:
    path = write_toml(text)
    code, out, err = run_cli(capsys, "derive", str(path))
    assert code == 2
    assert out == ""
    assert expected in err
    assert str(path) in err
    assert "Traceback" not in err
    assert all(line.startswith("symcalc: error: ") for line in err.splitlines())


def test_toml_error_gives_line(capsys: pytest.CaptureFixture[str], write_toml: WriteToml) -> None:
    path = write_toml('parameters = ["w"]\n[definitions]\nL = "w\n')
    code, _, err = run_cli(capsys, "derive", str(path))
    assert code == 2 and "line 3" in err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "derive", str(tmp_path / "absent.toml"))
    assert code == 2
    assert "absent.toml: no such file" in err
    assert "logistic_regression" in err  # the fix lists the built-in models


def test_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('title = "café"\n'.encode("latin-1"))
    code, _, err = run_cli(capsys, "derive", str(path))
    assert code == 2 and "not UTF-8" in err


def test_every_problem_reported_in_one_run(capsys: pytest.CaptureFixture[str], write_toml: WriteToml) -> None:
    path = write_toml(
        'parameters = ["w", "w"]\n[definitions]\nz = "q*w"\nL = "foo(z)"\n[claims]\n"dL/dv" = "1"\n'
    )
    code, _, err = run_cli(capsys, "derive", str(path))
    lines = err.splitlines()
    assert code == 2
    assert len(lines) == 4, err
    assert any("declared twice" in line for line in lines)
    assert any("definitions.z" in line and "unknown name 'q'" in line for line in lines)
    assert any("definitions.L" in line and "unknown function 'foo'" in line for line in lines)
    assert any("undeclared name 'v'" in line for line in lines)


def test_error_names_line_of_key(capsys: pytest.CaptureFixture[str], write_toml: WriteToml) -> None:
    path = write_toml('parameters = ["w"]\n\n[definitions]\nz = "w"\nL = "z + q"\n')
    _, _, err = run_cli(capsys, "derive", str(path))
    assert "line 5" in err and "definitions.L" in err


def test_good_file_loads(write_toml: WriteToml) -> None:
    model = symcalc.load(str(write_toml(GOOD)))
    assert [s.name for s, _ in model.definitions] == ["z", "L"]
    assert model.loss.name == "L"  # the last definition by default


def test_builtin_models_include_the_seed() -> None:
    assert "logistic_regression" in symcalc.builtin_models()
    assert symcalc.load("logistic_regression").loss.name == "L"
