"""Misspellings get the nearest known word as the fix: keys, functions, names, models, commands (issue 16)."""

from __future__ import annotations

import pytest

from symcalc.spec.names import nearest
from tests.conftest import DERIVATIONS, Runner, WriteToml

MODEL = """
{title} = "typos"
inputs = ["x"]
targets = ["y"]
parameters = ["w"]
[definitions]
z = "{function}(w*x)"
L = "(z - {target})^2"
"""


@pytest.mark.parametrize(
    ("title", "function", "target", "expected"),
    [
        ("titel", "sigmoid", "y", "titel: unknown key 'titel' (did you mean 'title'?)"),
        ("title", "sigmiod", "y", "unknown function 'sigmiod' (did you mean 'sigmoid'?)"),
        ("title", "Relu", "y", "unknown function 'Relu' (did you mean 'relu'?)"),
        ("title", "sigmoid", "yy", "unknown name 'yy' (did you mean 'y'?)"),
    ],
)
def test_a_misspelt_word_in_a_file_gets_the_nearest_known_one(
    title: str, function: str, target: str, expected: str, run: Runner, write_toml: WriteToml
) -> None:
    path = write_toml(MODEL.format(title=title, function=function, target=target))
    code, out, err = run(["derive", str(path)])
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and expected in err


def test_nothing_near_keeps_the_list_of_known_words(run: Runner, write_toml: WriteToml) -> None:
    path = write_toml(MODEL.format(title="title", function="frobnicate", target="y"))
    code, _, err = run(["derive", str(path)])
    assert code == 2 and "unknown function 'frobnicate' (known: abs, " in err and "did you mean" not in err


def test_a_misspelt_model_or_command_gets_the_nearest(run: Runner) -> None:
    code, out, err = run(["derive", "logistc_regression"])
    assert code == 2 and out == "" and "no such file (did you mean 'logistic_regression'?)" in err
    code, out, err = run(["derviv"])
    assert (
        code == 2
        and out == ""
        and err == "symcalc: error: unknown command 'derviv' (did you mean 'derive'?)\n"
    )
    code, _, err = run(["--debug", "frobnicate"])
    assert code == 2 and "unknown command 'frobnicate' (commands: derive, verify, check, " in err


def test_nearest_prefers_the_same_word_in_another_case_then_the_closest() -> None:
    assert nearest("Relu", ["relu", "gelu"]) == "relu"
    assert nearest("input", ["inputs", "targets"]) == "inputs"
    assert nearest("zzz", ["inputs", "targets"]) is None


@pytest.mark.parametrize(
    ("arguments", "usage", "message"),
    [
        (
            ["train", "--lrate", "0.1"],
            "usage: symcalc train",
            "train: unknown option '--lrate' (did you mean '--lr'?)",
        ),
        (
            ["derive", "--jsn"],
            "usage: symcalc derive",
            "derive: unknown option '--jsn' (did you mean '--json'?)",
        ),
        (
            ["verify", "--pionts", "3"],
            "usage: symcalc verify",
            "verify: unknown option '--pionts' (did you mean '--points'?)",
        ),
        (["derive", "a.toml", "b.toml"], "usage: symcalc derive", "derive: unexpected argument 'b.toml'"),
    ],
)
def test_a_bad_option_shows_its_commands_usage_and_the_nearest_option(
    arguments: list[str], usage: str, message: str, run: Runner
) -> None:
    code, out, err = run(arguments)
    assert code == 2 and out == ""
    assert err.startswith(usage) and "usage: symcalc [-h]" not in err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize(
    "after", [["--timeout", "200"], ["--json", "--timeout=200"], ["--points", "3", "--json"]]
)
def test_the_commands_options_after_a_separator_are_options(after: list[str], run: Runner) -> None:
    # `--` lets the claimed expression start with "-"; the command's options may still follow it.
    code, out, err = run(["check", "logistic_regression", "dL/dz", "--", "-(y - a)", *after])
    assert code == 0 and err == "", err
    assert "holds" in out


@pytest.mark.slow
def test_a_derive_option_after_a_separator_is_an_option(run: Runner) -> None:
    code, out, err = run(["derive", "--", "logistic_regression", "--json"])
    assert code == 0 and err == "" and out.startswith("{")


@pytest.mark.parametrize(
    ("written", "misspelt", "line", "meant"),
    [
        ("[definitions]", "[definitons]", 10, "definitions"),
        ("parameters = ", "paramters = ", 7, "parameters"),
        ("[claims]", "[claim]", 15, "claims"),
    ],
)
@pytest.mark.parametrize("command", ["derive", "verify"])
def test_a_misspelt_key_is_one_line_not_a_cascade_of_unknown_names(
    written: str, misspelt: str, line: int, meant: str, command: str, run: Runner, write_toml: WriteToml
) -> None:
    text = (DERIVATIONS / "logistic_regression.toml").read_text(encoding="utf-8")
    assert text.count(written) == 1
    path = write_toml(text.replace(written, misspelt))
    code, out, err = run([command, str(path)])
    key = misspelt.strip("[] =")
    assert (code, out) == (2, "")
    assert (
        err == f"symcalc: error: {path}, line {line}, {key}: unknown key {key!r} (did you mean {meant!r}?)\n"
    )


def test_a_misspelt_key_beside_the_right_one_still_reports_the_rest(
    run: Runner, write_toml: WriteToml
) -> None:
    # 'claim' beside [claims] does not stand for a missing key: the other problems are reported too
    path = write_toml(
        'claim = "x"\n' + MODEL.format(title="title", function="sigmoid", target="yy") + "[claims]\n"
    )
    code, _, err = run(["derive", str(path)])
    assert code == 2 and "unknown key 'claim'" in err and "unknown name 'yy'" in err
