"""Conveniences (issue 16): --version, `models`, expressions across lines, hints for keywords and e."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest

import symcalc
from symcalc.cli.main import main
from tests.conftest import DERIVATIONS, Runner, WriteToml


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """The distribution is symcalc-gradients (PyPI's "symcalc" is another project); the command and
    the import name are symcalc. The oracle is pyproject.toml."""
    from importlib import metadata

    project = tomllib.loads((DERIVATIONS.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "symcalc-gradients"
    assert metadata.version(project["name"]) == project["version"]
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"symcalc {project['version']}\n"


def test_models_lists_every_built_in_model_with_its_title(run: Runner) -> None:
    code, out, err = run(["models"])
    assert code == 0 and err == ""
    # the oracle: the shipped files read with tomllib, not through symcalc
    expected = {
        p.stem: tomllib.loads(p.read_text(encoding="utf-8"))["title"] for p in DERIVATIONS.glob("*.toml")
    }
    listed = dict(line.split(None, 1) for line in out.splitlines())
    assert listed == expected


def test_an_expression_may_run_over_several_lines(write_toml: WriteToml) -> None:
    one_line = 'inputs = ["x1", "x2"]\ntargets = ["y"]\nparameters = ["w1", "w2", "b"]\n[definitions]\n'
    wrapped = one_line + 'z = """w1*x1\n    + w2*x2\n    + b"""\nL = "(z - y)^2"\n'
    flat = one_line + 'z = "w1*x1 + w2*x2 + b"\nL = "(z - y)^2"\n'
    first = symcalc.derive(symcalc.load(str(write_toml(wrapped, "wrapped.toml"))))
    second = symcalc.derive(symcalc.load(str(write_toml(flat, "flat.toml"))))
    assert first.gradients == second.gradients


@pytest.mark.parametrize(
    ("definition", "hint"),
    [
        ('"lambda*w1"', "('lambda' is a Python keyword and cannot be a name: write 'lamda')"),
        ('"w1 + if"', "('if' is a Python keyword and cannot be a name: rename it, e.g. 'my_if')"),
        ('"e^w1"', "(Euler's number is exp(1), and e^z is written exp(z); or declare it"),
    ],
)
def test_a_keyword_or_e_in_an_expression_gets_a_hint(
    definition: str, hint: str, run: Runner, write_toml: WriteToml
) -> None:
    text = f'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w1"]\n[definitions]\nL = {definition}\n'
    code, out, err = run(["derive", str(write_toml(text))])
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert hint in err


UNUSED = """
inputs = ["x"]
targets = ["y"]
parameters = ["w1", "w2", "b"]
[definitions]
z = "w1*x + b"
L = "(z - y)^2"
"""


def test_a_parameter_that_does_not_affect_the_loss_is_a_warning_not_an_error(
    run: Runner, write_toml: WriteToml, tmp_path: Path
) -> None:
    path = write_toml(UNUSED)
    code, out, err = run(["derive", str(path)])
    assert code == 0 and "Derivatives of L" in out
    assert err == "symcalc: warning: parameter 'w2' does not affect the loss L: its gradient is 0 (a typo?)\n"
    data = tmp_path / "data.csv"
    data.write_text("x,y\n" + "".join(f"{i / 10},{i / 5 + 1}\n" for i in range(20)), encoding="utf-8")
    code, out, err = run(["train", str(path), "--data", str(data), "--epochs", "3", "--json"])
    assert code == 0 and "parameter 'w2' does not affect the loss L" in err


def test_a_constant_loss_is_one_warning(run: Runner, write_toml: WriteToml) -> None:
    path = write_toml(
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w1"]\n[definitions]\nL = "(x - y)^2"\n'
    )
    code, _, err = run(["derive", str(path)])
    assert (
        code == 0
        and err == "symcalc: warning: the loss L depends on no parameter: every gradient is 0 (a typo?)\n"
    )


def test_a_model_whose_parameters_all_matter_prints_no_warning(run: Runner) -> None:
    code, _, err = run(["derive"])
    assert code == 0 and err == ""


def test_new_writes_a_commented_template_that_derives_and_verifies(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["new", "my_model"])
    assert code == 0 and out == "" and "wrote my_model.toml" in err
    text = (tmp_path / "my_model.toml").read_text(encoding="utf-8")
    assert text.startswith("# A derivation for symcalc") and '"d2L/dw1 dw2"' in text
    checks = symcalc.verify(symcalc.derive(symcalc.load(str(tmp_path / "my_model.toml"))))
    assert all(check.holds for check in checks) and any(c.name == "claim d2L/dw1 dw2" for c in checks)


def test_new_never_writes_over_a_file(run: Runner, tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text("title = 'mine'\n", encoding="utf-8")
    code, out, err = run(["new", str(mine)])
    assert code == 2 and out == "" and err.count("\n") == 1 and "already exists" in err
    assert mine.read_text(encoding="utf-8") == "title = 'mine'\n"
    code, _, err = run(["new", str(tmp_path / "no_such_folder" / "x")])
    assert code == 2 and "folder does not exist" in err


def test_rich_prints_a_step_as_its_panel(seed: symcalc.Derivation) -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=80)
    console.print(seed.steps[2])
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert text.startswith("╭─ Step 3: Derivative of L with respect to z")
    assert "= a - y" in text


def test_a_notebook_shows_checks_as_a_table(seed: symcalc.Derivation) -> None:
    checks = symcalc.verify(seed)
    html = checks._repr_html_()
    assert html.count("<tr>") == len(checks) + 1 and "✓ holds" in html
    markdown = checks._repr_markdown_()
    assert markdown.startswith(f"**Verification: {len(checks)} checks: ")
    assert "\n| check | result | decided by | statement |\n" in markdown
    assert markdown.count("\n| ") == len(checks) + 1
    single = symcalc.check_claim(seed.model, "dL/dz", "a - y")
    assert "| claim dL/dz | ✓ holds | proved | dL/dz = a - y |" in single._repr_markdown_()


def test_derive_reads_a_model_from_standard_input(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    import symcalc.spec.toml as toml

    for text, code, expected in (
        ((DERIVATIONS / "linear_regression.toml").read_bytes(), 0, "Linear regression with squared error"),
        (b'parameters = ["w"]\n[definitions]\nL = "w^2 +"\n', 2, "<stdin>, line 3, column 11, definitions.L"),
    ):
        monkeypatch.setattr(toml, "_STDIN", [])  # one command per process: each reads its own input
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text)))
        status, out, err = run(["derive", "-"])
        assert status == code and expected in (out if code == 0 else err)


@pytest.mark.slow
def test_the_python_api_gives_the_documents_and_trains_as_the_commands_do(run: Runner) -> None:
    """docs/python-api.md: symcalc.latex / markdown / html give the commands' text, and descend on
    compile_model converges where `symcalc train` does (the same parameters)."""
    import json

    from symcalc.numeric.descent import Stop
    from symcalc.numeric.descent import run as run_records

    derivation = symcalc.derive(symcalc.load())
    for command, text in (("latex", symcalc.latex(derivation)), ("markdown", symcalc.markdown(derivation))):
        code, out, _ = run([command])
        assert code == 0 and out == text
    assert symcalc.html(derivation, symcalc.verify(derivation)).startswith("<!DOCTYPE html>")
    numeric = symcalc.compile_model(derivation)
    data = symcalc.load_builtin(derivation.model)
    records = symcalc.descend(lambda p: numeric.evaluate(p, data.columns), numeric.start(0), 0.1, 5000, 1e-6)
    last = run_records(records)
    assert last.stop is Stop.CONVERGED
    code, out, _ = run(["train", "--json"])
    trained = json.loads(out)["parameters"]
    assert last.parameters == pytest.approx(trained, rel=1e-9)
