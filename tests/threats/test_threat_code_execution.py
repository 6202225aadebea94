"""Threat: code from a file, a claim, a CSV or a name runs (bad-inputs.md §1) — tried against every command.

Every attack below would create a marker file if anything evaluated it (SymPy's
`sympify`, `parse_expr` and `lambdify` all would). Each test runs the real CLI
in-process and checks three things: the marker never appears, the exit status
is 2 (or 0 where the text is free text that is only shown), and stderr is one
line with no traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from symcalc.cli.main import main

Runner = Callable[[list[str]], tuple[int, str, str]]

CSV_HEADER = "x1,x2,y\n"
CSV_ROWS = "0.5,1.0,1\n-1.2,0.3,0\n2.0,-0.5,1\n-0.4,-1.1,0\n"


def attacks(marker: Path) -> dict[str, str]:
    """Each attack class of bad-inputs.md §1 as expression text that would touch `marker` if run."""
    touch = f"touch {marker}"
    return {
        "import": f"__import__('os').system('{touch}')",
        "dunder chain": "().__class__.__base__.__subclasses__()[0].__init__.__globals__['system']"
        f"('{touch}')",
        "sympy globals": f"Integer.__new__.__globals__['__builtins__']['__import__']('os').system('{touch}')",
        "concatenation": f"getattr(__builtins__, '__imp'+'ort__')('os').system('{touch}')",
        "lambda": f"(lambda: __import__('os').system('{touch}'))()",
        "string": f"'{touch}'",
        "eval": f"eval(\"__import__('os').system('{touch}')\")",
        "f-string": f'f\'{{__import__("os").system("{touch}")}}\'',
        "open": f"open('{marker}', 'w')",
        "walrus": f"(q := __import__('os')).system('{touch}')",
    }


ATTACK_NAMES = sorted(attacks(Path("m")))

# Every command that reads a derivation file, with the options that keep it fast.
FILE_COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "derive": lambda f, _: ["derive", str(f)],
    "derive --json": lambda f, _: ["derive", str(f), "--json"],
    "verify": lambda f, _: ["verify", str(f)],
    "check": lambda f, _: ["check", str(f), "dL/dw", "x"],
    "latex": lambda f, out: ["latex", str(f), "-o", str(out / "o.tex")],
    "markdown": lambda f, out: ["markdown", str(f), "-o", str(out / "o.md")],
    "codegen": lambda f, out: ["codegen", str(f), "-o", str(out / "o.py")],
    "train": lambda f, out: ["train", str(f), "--data", str(out / "d.csv"), "--epochs", "1"],
}


#: The commands the quick set runs each attack through: the file is read (and refused) by one loader
#: for every command, so derive and train (which also reads data) stand for all; `.ci/run` runs the
#: rest (marked slow) too.
QUICK_COMMANDS = ("derive", "train")


def command_params() -> list[object]:
    """FILE_COMMANDS' names, all but QUICK_COMMANDS marked slow."""
    return [
        pytest.param(command, marks=() if command in QUICK_COMMANDS else pytest.mark.slow)
        for command in sorted(FILE_COMMANDS)
    ]


def toml_string(text: str) -> str:
    """`text` as a TOML literal string (no escapes are processed inside ''' ... ''')."""
    assert "'''" not in text
    return f"'''{text}'''"


def model_with(expression: str, where: str) -> str:
    """A small valid model with `expression` placed in one of the file's text positions."""
    definition = toml_string(expression) if where == "definition" else '"w*x"'
    claim = toml_string(expression) if where == "claim" else '"x"'
    assume = f"assume = [{toml_string(expression)}]\n" if where == "assume" else ""
    return (
        f'inputs = ["x"]\nparameters = ["w"]\n{assume}'
        f"[definitions]\nL = {definition}\n"
        f'[claims]\n"dL/dw" = {claim}\n'
    )


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Runner:
    def invoke(argv: list[str]) -> tuple[int, str, str]:
        code = main([*argv, "--timeout", "10"] if argv[0] != "--debug" else argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def assert_refused(code: int, err: str, marker: Path, one_line: bool = True) -> None:
    """Nothing ran; exit 2; one line per problem (exactly one unless the text holds several)."""
    assert not marker.exists(), "the attack ran"
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 if one_line else 1 <= len(lines) <= 2, err
    assert all(line.startswith("symcalc: error: ") for line in lines), err
    assert "Traceback" not in err and "internal error" not in err


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "d.csv").write_text(CSV_HEADER.replace("x1,x2", "x,x2") + CSV_ROWS)
    return tmp_path


# Where in the file each attack goes, as the error names that place.
PLACE = {"definition": "definitions.L", "claim": "claims.dL/dw", "assume": "assume[0]"}


@pytest.mark.parametrize("where", sorted(PLACE))
@pytest.mark.parametrize("command", command_params())
def test_attacks_in_a_file_run_nothing(run: Runner, workdir: Path, command: str, where: str) -> None:
    marker = workdir / "PWNED"
    for name, attack in attacks(marker).items():
        path = workdir / "model.toml"
        path.write_text(model_with(attack, where))
        code, _, err = run(FILE_COMMANDS[command](path, workdir))
        # An assumption is split at '=' and each side parsed, so an attack with '=' is two problems.
        assert_refused(code, err, marker, one_line=where != "assume")
        assert PLACE[where] in err, (name, err)
    assert not any(workdir.glob("o.*")), "a failed run wrote output"


@pytest.mark.parametrize("attack", ATTACK_NAMES)
@pytest.mark.parametrize("argument", ["claim", "expression"])
def test_attacks_on_the_check_command_line_run_nothing(
    run: Runner, tmp_path: Path, attack: str, argument: str
) -> None:
    marker = tmp_path / "PWNED"
    text = attacks(marker)[attack]
    claim, expression = (text, "a - y") if argument == "claim" else ("dL/dz", text)
    code, out, err = run(["check", "logistic_regression", claim, expression])
    assert_refused(code, err, marker)
    assert out == ""


# -- code hidden in a name: lambdify would run it, so a name is checked before any symbol exists ---


def name_attacks(marker: Path) -> list[str]:
    return [
        f"__import__('os').system('touch {marker}')",
        f"x;__import__('os').system('touch {marker}')",
        "__class__",
        "__builtins__",
        "_x",
        "x.y",
        "lambda",
        "import",
    ]


@pytest.mark.parametrize("place", ["inputs", "parameters", "definition", "constant", "note"])
@pytest.mark.parametrize("command", command_params())
def test_code_hidden_in_a_name_runs_nothing(run: Runner, workdir: Path, command: str, place: str) -> None:
    marker = workdir / "PWNED"
    for name in name_attacks(marker):
        quoted = toml_string(name)
        inputs = f'[{quoted}, "x"]' if place == "inputs" else '["x"]'
        params = f'[{quoted}, "w"]' if place == "parameters" else '["w"]'
        extra_def = f'{quoted} = "x"\n' if place == "definition" else ""
        constants = f"[constants]\n{quoted} = 1.0\n" if place == "constant" else ""
        notes = f'[notes]\n{quoted} = "a note"\n' if place == "note" else ""
        path = workdir / "model.toml"
        path.write_text(
            f"inputs = {inputs}\nparameters = {params}\n{constants}"
            f'[definitions]\n{extra_def}L = "w*x"\n{notes}'
        )
        code, _, err = run(FILE_COMMANDS[command](path, workdir))
        assert_refused(code, err, marker)


@pytest.mark.slow
def test_a_function_name_outside_the_table_is_never_built(run: Runner, workdir: Path) -> None:
    # sympy.Function("__import__('os').system(...)") would carry code into lambdify; we never build one.
    marker = workdir / "PWNED"
    for call in ("evil(x)", "Function(x)", "Symbol(x)", "lambdify(x)", "sympify(x)", "exec(x)", "S(x)"):
        path = workdir / "model.toml"
        path.write_text(f'inputs = ["x"]\nparameters = ["w"]\n[definitions]\nL = "w*{call}"\n')
        for command in ("derive", "train", "codegen"):
            code, _, err = run(FILE_COMMANDS[command](path, workdir))
            assert_refused(code, err, marker)
            assert "unknown function" in err


# -- free text is shown, never run --------------------------------------------------------------


@pytest.mark.parametrize("command", ["derive", "derive --json", "verify", "latex", "markdown", "codegen"])
def test_attacks_in_titles_and_notes_are_text(run: Runner, workdir: Path, command: str) -> None:
    marker = workdir / "PWNED"
    texts = list(attacks(marker).values())
    notes = "".join(f"{n} = {toml_string(t)}\n" for n, t in zip(("x", "w", "L"), texts, strict=False))
    path = workdir / "model.toml"
    path.write_text(
        f"title = {toml_string(texts[0])}\n"
        f'inputs = ["x"]\nparameters = ["w"]\n[definitions]\nL = "(w*x - 1)**2"\n[notes]\n{notes}'
    )
    code, out, err = run(FILE_COMMANDS[command](path, workdir))
    assert not marker.exists()
    assert code == 0, err
    written = "".join(p.read_text() for p in workdir.glob("o.*"))
    if command == "codegen":
        assert "__import__" not in written  # nothing the user typed is copied into code
    else:
        assert "import" in out + written and "system" in out + written  # shown as (escaped) text


@pytest.mark.slow
def test_attacks_in_csv_headers_and_cells_run_nothing(run: Runner, workdir: Path) -> None:
    marker = workdir / "PWNED"
    data = workdir / "evil.csv"
    for attack in attacks(marker).values():
        cell = '"' + attack.replace('"', '""') + '"'
        # In a cell the model reads: refused as not a number, with line and column.
        data.write_text(CSV_HEADER + f"{cell},1.0,1\n" + CSV_ROWS)
        code, _, err = run(["train", "--data", str(data), "--epochs", "1"])
        assert_refused(code, err, marker)
        assert "line 2, column 'x1'" in err and "is not a number" in err
        # As the header of a column the model does not use: ignored, and training runs.
        data.write_text(f"x1,x2,y,{cell}\n" + "".join(r + ",0\n" for r in CSV_ROWS.splitlines()))
        code, _, err = run(["train", "--data", str(data), "--epochs", "1", "--json"])
        assert not marker.exists()
        assert code == 0, err
        # As the header of a column the model needs: reported, quoted, never looked up by position.
        data.write_text(f"{cell},x2,y\n" + CSV_ROWS)
        code, _, err = run(["train", "--data", str(data), "--epochs", "1"])
        assert_refused(code, err, marker)
        assert "no column 'x1'" in err


def test_a_python_built_model_with_a_hostile_symbol_name_is_refused(tmp_path: Path) -> None:
    import sympy as sp

    import symcalc

    marker = tmp_path / "PWNED"
    evil = sp.Symbol(f"__import__('os').system('touch {marker}')")
    w, L = sp.symbols("w L")
    with pytest.raises(symcalc.SpecError, match="not a valid name"):
        symcalc.Model.build({L: w * evil}, parameters=[w])
    assert not marker.exists()
