"""`symcalc verify` and `symcalc check`: tables, JSON shape, directories, and exit codes 0, 1 and 2."""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sympy as sp

import symcalc
from symcalc.cli.main import main
from symcalc.symbolic.functions import to_elementary
from tests.conftest import SEED

WRONG_CLAIM = """
inputs = ["x1"]
targets = ["y"]
parameters = ["w1", "b"]
[definitions]
z = "w1*x1 + b"
a = "sigmoid(z)"
L = "(a - y)**2/2"
[claims]
"dL/dz" = "a - y"
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, *args, "--json")
    return code, json.loads(out)


def test_verify_defaults_to_the_seed_and_everything_holds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "verify")
    assert (code, err) == (0, "")
    assert "claim dL/dw1" in out and "step 3: dL/dz" in out and "simplified" in out  # wrapped at 80
    assert "23 checks: 23 hold (20 proved, 3 finite differences)" in out
    assert "fails" not in out


def test_verify_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "verify", str(SEED))
    assert code == 0 and data["passed"] is True
    [report] = data["files"]
    assert report["source"] == str(SEED)
    assert report["title"] == symcalc.load(str(SEED)).title
    for check in report["checks"]:
        assert {"name", "status", "method", "counterexample"} <= set(check)
        assert check["status"] == "holds" and check["counterexample"] is None
    methods = {c["method"] for c in report["checks"]}
    assert methods == {"proved", "finite differences"}


def test_verify_a_directory_verifies_every_toml(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, write_toml: Callable[[str, str], Path]
) -> None:
    shutil.copy(SEED, tmp_path / "seed.toml")
    write_toml(WRONG_CLAIM, "wrong.toml")
    (tmp_path / "notes.txt").write_text("not a derivation")
    code, data = run_json(capsys, "verify", str(tmp_path))
    assert code == 1 and data["passed"] is False
    reports = {Path(r["source"]).name: r for r in data["files"]}
    assert set(reports) == {"seed.toml", "wrong.toml"}
    assert reports["seed.toml"]["passed"] is True
    [failed] = [c for c in reports["wrong.toml"]["checks"] if c["status"] != "holds"]
    assert (failed["name"], failed["status"], failed["method"]) == ("claim dL/dz", "fails", "numerically")
    example = failed["counterexample"]
    assert set(example["point"]) == {"x1", "y", "w1", "b"}
    assert set(example["intermediates"]) == {"z", "a", "L"}
    # The point is a real counterexample: dL/dz = (a - y)·a·(1 − a), not a − y.
    point = {sp.Symbol(n, real=True): sp.Rational(v) for n, v in example["point"].items()}
    z = (
        point[sp.Symbol("w1", real=True)] * point[sp.Symbol("x1", real=True)]
        + point[sp.Symbol("b", real=True)]
    )
    a = to_elementary(symcalc.sigmoid(z)).evalf(50)
    y = point[sp.Symbol("y", real=True)]
    assert example["left"] == pytest.approx(float(a - y), rel=1e-12)
    assert example["right"] == pytest.approx(float((a - y) * a * (1 - a)), rel=1e-12)


def test_verify_table_shows_the_counterexample(
    capsys: pytest.CaptureFixture[str], write_toml: Callable[[str], Path]
) -> None:
    code, out, _ = run(capsys, "verify", str(write_toml(WRONG_CLAIM)))
    assert code == 1
    assert "✗ claim dL/dz: dL/dz = a - y" in out
    assert "  at x1=" in out and "claimed" in out and "SymPy's diff" in out and "difference" in out
    assert "1 fails" in out


def test_verify_a_directory_without_derivations_is_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "verify", str(tmp_path))
    assert code == 2 and "no *.toml files" in err


def test_one_bad_file_is_reported_and_the_others_still_verified(
    capsys: pytest.CaptureFixture[str], write_toml: Callable[[str, str], Path]
) -> None:
    bad = write_toml('parameters = ["w"]\n[definitions]\nL = "w*q"\n', "bad.toml")
    code, out, err = run(capsys, "verify", str(SEED), str(bad))
    assert code == 2
    assert "unknown name 'q'" in err and "Traceback" not in err
    assert "23 checks: 23 hold" in out


def test_check_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", str(SEED), "dL/dw1", "(a - y)*x1")[0] == 0
    code, out, _ = run(capsys, "check", str(SEED), "dL/dw1", "(y - a)*x1")
    assert code == 1 and "counterexample" in out
    assert run(capsys, "check", str(SEED), "dL/dw1", "x1*q")[0] == 2
    assert run(capsys, "check", str(SEED), "L/w1", "x1")[0] == 2
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error, also status 2
        main(["check", str(SEED), "dL/dw1", "(a - y)*x1", "--points", "0"])
    assert usage.value.code == 2


def test_check_json_is_one_report_with_one_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "check", "logistic_regression", "da/dz", "a*(1 + a)")
    assert code == 1
    [report] = data["files"]
    [check] = report["checks"]
    assert (check["name"], check["status"], check["method"]) == ("claim da/dz", "fails", "numerically")
    assert check["counterexample"]["sides"] == ["claimed", "SymPy's diff"]


# True, but past the prover: 7 kinks (|u| = max(u, −u)) are more than it splits into cases,
# and the difference is too large for simplify.
BEYOND_PROOF = "x*sin(2*w*x) + " + " + ".join(f"abs(x - {k}) - max(x - {k}, {k} - x)" for k in range(1, 8))


@pytest.mark.slow
def test_strict_turns_numeric_agreement_into_failure(
    capsys: pytest.CaptureFixture[str], write_toml: Callable[[str], Path]
) -> None:
    path = str(write_toml('inputs = ["x"]\nparameters = ["w"]\n[definitions]\nL = "sin(w*x)**2"\n'))
    code, out, _ = run(capsys, "check", path, "dL/dw", BEYOND_PROOF)
    assert code == 0 and "numerically (not proved)" in out
    code, data = run_json(capsys, "check", path, "dL/dw", BEYOND_PROOF, "--strict")
    assert code == 1
    [check] = data["files"][0]["checks"]
    assert (check["status"], check["method"], check["counterexample"]) == ("fails", "numerically", None)


@pytest.mark.parametrize(
    "hostile",
    [
        "__import__('os').system('touch {marker}')",
        "().__class__.__base__.__subclasses__()",
        'exec(\'open("{marker}", "w")\')',
        "lambda: 0",
    ],
)
def test_hostile_claims_are_bad_input_and_run_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, write_toml: Callable[[str, str], Path], hostile: str
) -> None:
    marker = tmp_path / "ran"
    text = hostile.format(marker=marker)
    code, out, err = run(capsys, "check", str(SEED), "dL/dw1", text)
    assert code == 2 and err.startswith("symcalc: error:") and out == ""
    claims = SEED.read_text().replace('"dL/db"  = "a - y"', f'"dL/db"  = {json.dumps(text)}')
    path = write_toml(claims, "hostile.toml")
    code, _, err = run(capsys, "verify", str(path))
    assert code == 2 and "claims.dL/db" in err
    assert not marker.exists()


def _runaway(*args: object) -> None:
    import time

    time.sleep(30)


@pytest.mark.slow
def test_verify_runs_under_the_time_limit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import symcalc.cli.work as cli

    monkeypatch.setattr(cli, "verify_file", _runaway)
    code, _, err = run(capsys, "verify", "--timeout", "0.5")
    assert code == 2 and "stopped after 0.5 s" in err
    monkeypatch.setattr(cli, "check_file", _runaway)
    code, _, err = run(capsys, "check", str(SEED), "dL/dw1", "x1", "--timeout", "0.5")
    assert code == 2 and "stopped after 0.5 s" in err


def test_points_has_a_documented_maximum(capsys: pytest.CaptureFixture[str]) -> None:
    from symcalc.cli.commands import MAX_POINTS
    from symcalc.cli.main import build_parser

    assert MAX_POINTS == 10_000
    assert build_parser().parse_args(["verify", "--points", "10000"]).points == 10_000
    for command in (["verify"], ["check", str(SEED), "dL/dw1", "(a - y)*x1"]):
        with pytest.raises(SystemExit) as usage:
            main([*command, "--points", "10001"])
        assert usage.value.code == 2
        [error] = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert error.endswith("argument --points: must be at most 10000, not 10001")
    limits = (
        Path(__file__).parent.parent.parent / "SECURITY.md"
    ).read_text()  # the caps' table, on the site too
    assert "--points` is at most 10 000" in limits


def test_timeout_bounds_the_whole_verify_run_not_only_each_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from symcalc.cli import work

    def slow_verify(target: str | None, *_: object) -> tuple[str, list[Any]]:
        time.sleep(2.0)  # each file alone is well inside the timeout
        return "slow", []

    monkeypatch.setattr(work, "verify_file", slow_verify)
    names = ["a.toml", "b.toml", "c.toml", "d.toml"]
    for name in names:
        (tmp_path / name).write_text("")
    started = time.monotonic()
    # 2 × 2 s and two forks fit in 4.8 s (the forks may take 0.4 s each, on a loaded machine); a third
    # file does not
    code, out, err = run(capsys, "verify", str(tmp_path), "--timeout", "4.8", "--json")
    assert time.monotonic() - started < 7.5  # not 8 s of work plus the forks
    assert code == 2
    files = json.loads(out)["files"]
    assert [f["source"] for f in files] == [str(tmp_path / n) for n in names]  # the two verified, then errors
    assert [f.get("title") for f in files[:2]] == ["slow", "slow"]
    [third], [fourth] = files[2]["errors"], files[3]["errors"]
    assert third.startswith(f"{tmp_path / 'c.toml'}: stopped after 0.")  # what was left of 4.8 s
    assert fourth == (
        f"{tmp_path / 'd.toml'}: not verified: the --timeout of 4.8 s for the whole run was used up "
        "by the files before it"
    )
    assert err.splitlines() == [f"symcalc: error: {third}", f"symcalc: error: {fourth}"]


def test_the_table_writes_what_symcalc_derived_in_its_notation_and_claims_as_their_file_does(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    code, out, _ = run(capsys, "verify", str(SEED))
    assert code == 0
    cells = [line.split("│") for line in out.splitlines() if line.startswith("│")]
    rows = {cell[1].strip(): cell[4].strip() for cell in cells}
    assert rows["step 2: ∂a/∂z simplified"] == "(1 - σ(z))⋅σ(z) = a⋅(1 - a)"
    assert rows["gradient dL/dw1"] == rows["finite differences dL/dw1"] == "dL/dw₁ = x₁⋅(a - y)"
    # a claim: its own text, from the file
    claims = tomllib.loads(SEED.read_text(encoding="utf-8"))["claims"]
    assert rows["claim dL/dw1"] == f"dL/dw1 = {claims['dL/dw1']}"
    # machines keep the file's syntax
    _, result = run_json(capsys, "verify", str(SEED))
    statements = {check["name"]: check["statement"] for check in result["files"][0]["checks"]}
    assert statements["step 2: ∂a/∂z simplified"] == "(1 - sigmoid(z))*sigmoid(z) = a*(1 - a)"
