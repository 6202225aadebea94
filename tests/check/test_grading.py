"""`symcalc grade`: a folder of submissions graded, each in its own limited child.

Which submission holds and which fails is decided first by the independent oracle (`oracle_holds`:
SymPy's diff of the composed loss at mpmath points), never by symcalc. The CSV and the results
files are then checked field by field against the formats' documentation: Gradescope's
"Autograder Specifications" (results.json) and PrairieLearn's "External Grading" (results.json).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sympy as sp

import symcalc
from symcalc.errors import LimitError
from symcalc.isolate import run_limited_each
from tests.check.test_check_work import SEED_CLAIMS, SEED_TEX, oracle_holds
from tests.conftest import Runner

y, a, x1 = sp.symbols("y a x1")
WRONG_TEX = SEED_TEX.replace(r"= (a - y)\, x_1", r"= (y - a)\, x_1")  # a sign slip on line 11
RUBRIC = """every_step = 1

[[result]]
name = "dL/dz reaches a - y"
derivative = "dL/dz"
equals = "a - y"
points = 2

[[result]]
name = "dL/dw1 reaches (a - y) x1"
derivative = "dL/dw1"
equals = "(a - y)*x1"
points = 3
"""

#: The fields each format documents (anything else is refused by this test).
GRADESCOPE_TOP = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
}
GRADESCOPE_TOP |= {"visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format"}
GRADESCOPE_TEST |= {"tags", "visibility", "extra_data"}
PRAIRIELEARN_TOP = {"gradable", "score", "message", "output", "images", "tests", "format_errors"}
PRAIRIELEARN_TEST = {"name", "description", "points", "max_points", "message", "output", "images"}


def class_folder(root: Path) -> Path:
    """Right, wrong and hostile submissions, one file each."""
    folder = root / "class"
    folder.mkdir()
    (folder / "right.tex").write_text(SEED_TEX, encoding="utf-8")
    (folder / "wrong.tex").write_text(WRONG_TEX, encoding="utf-8")
    (folder / "macro.tex").write_text("$$ \\def\\x{1} \\x = 1 $$\n", encoding="utf-8")
    (folder / "binary.md").write_bytes(bytes(range(256)) * 8)
    (folder / "huge.txt").write_text("a" * 1_000_001, encoding="utf-8")
    (folder / "essay.pdf").write_text("not a derivation", encoding="utf-8")
    secret = root / "secret.txt"
    secret.write_text("dL/dz = a - y\n", encoding="utf-8")
    (folder / "link.txt").symlink_to(secret)
    return folder


def rows_of(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", encoding="utf-8", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def check_gradescope(data: dict[str, Any]) -> None:
    """results.json as Gradescope documents it: the top-level score is the tests' sum, each test has a
    name, a score up to its max_score, a status that agrees, and text output."""
    assert set(data) <= GRADESCOPE_TOP
    assert isinstance(data["score"], int | float) and isinstance(data["output"], str)
    assert data["tests"], "a score made of tests"
    for test in data["tests"]:
        assert set(test) <= GRADESCOPE_TEST
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["output"], str)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")
    assert data["score"] == sum(test["score"] for test in data["tests"])


def check_prairielearn(data: dict[str, Any]) -> None:
    """results.json as PrairieLearn documents it: a gradable result has a score in [0, 1], the tests'
    points over their max_points; one that is not has its format_errors."""
    assert set(data) <= PRAIRIELEARN_TOP
    if not data["gradable"]:
        assert data["format_errors"] and all(isinstance(e, str) for e in data["format_errors"])
        return
    assert 0.0 <= data["score"] <= 1.0
    for test in data["tests"]:
        assert set(test) <= PRAIRIELEARN_TEST
        assert 0 <= test["points"] <= test["max_points"]
    total = sum(t["max_points"] for t in data["tests"])
    assert data["score"] == pytest.approx(sum(t["points"] for t in data["tests"]) / total)


@pytest.mark.slow
def test_a_class_is_graded_one_row_each_with_the_oracles_verdicts(tmp_path: Path, run: Runner) -> None:
    seed = symcalc.load("logistic_regression")
    assert all(oracle_holds(seed, of, wrt, claimed) for of, wrt, claimed in SEED_CLAIMS)
    assert not oracle_holds(seed, "L", "w1", (y - a) * x1)  # the wrong file's line 11
    folder = class_folder(tmp_path)
    out = tmp_path / "grades"
    code, stdout, err = run(
        ["grade", "logistic_regression", str(folder), "-o", str(out), "--rubric", rubric(tmp_path)]
    )
    assert code == 0, err
    rows = rows_of(out)
    assert sorted(rows) == sorted(os.listdir(folder))
    assert rows["right.tex"]["verdict"] == "holds"
    assert rows["right.tex"]["holding"] == rows["right.tex"]["equals"] == "9"
    assert rows["right.tex"]["lines"] == "6" and rows["right.tex"]["first_failure"] == ""
    assert (rows["right.tex"]["score"], rows["right.tex"]["max_score"]) == ("6", "6")
    wrong = rows["wrong.tex"]
    assert wrong["verdict"] == "fails" and wrong["holding"] == "8"
    assert (wrong["first_failure_line"], wrong["first_failure_column"]) == ("11", "3")
    assert "(y - a)" in wrong["first_failure"]
    assert wrong["score"] == "2"  # dL/dz reaches a - y; dL/dw1 and every step do not
    expected = {
        "macro.tex": "\\def",
        "binary.md": "not UTF-8",
        "huge.txt": "more than 1000000 characters",
        "essay.pdf": ".tex, .md or .txt",
        "link.txt": "symbolic link",
    }
    for file, problem in expected.items():
        assert rows[file]["verdict"] == "unreadable", file
        assert problem in rows[file]["first_failure"], rows[file]
        assert rows[file]["score"] == "0"
    for file in rows:
        gradescope = json.loads((out / "gradescope" / f"{file}.json").read_text(encoding="utf-8"))
        check_gradescope(gradescope)
        assert gradescope["score"] == float(rows[file]["score"])
        prairielearn = json.loads((out / "prairielearn" / f"{file}.json").read_text(encoding="utf-8"))
        check_prairielearn(prairielearn)
        assert prairielearn["gradable"] == (rows[file]["verdict"] != "unreadable")
    tests = json.loads((out / "gradescope" / "wrong.tex.json").read_text(encoding="utf-8"))["tests"]
    assert [(t["name"], t["score"], t["max_score"]) for t in tests] == [
        ("every = holds", 0, 1),
        ("dL/dz reaches a - y", 2, 2),
        ("dL/dw1 reaches (a - y) x1", 0, 3),
    ]
    assert "wrong.tex: fails at line 11, column 3, 2 of 6" in stdout


def rubric(root: Path, text: str = RUBRIC) -> str:
    path = root / "rubric.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_without_a_rubric_a_submission_scores_one_point_when_every_equals_holds(
    tmp_path: Path, run: Runner
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "one.txt").write_text("dL/dz = a - y\n", encoding="utf-8")
    (folder / "two.txt").write_text("dL/dz = y - a\n", encoding="utf-8")
    seed = symcalc.load("logistic_regression")
    assert oracle_holds(seed, "L", "z", a - y) and not oracle_holds(seed, "L", "z", y - a)
    code, _, err = run(["grade", "logistic_regression", str(folder), "-o", str(tmp_path / "out")])
    assert code == 0, err
    rows = rows_of(tmp_path / "out")
    assert [(r["verdict"], r["score"], r["max_score"]) for r in rows.values()] == [
        ("holds", "1", "1"),
        ("fails", "0", "1"),
    ]


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("every_step = 1\ncolour = 2\n", "colour", "unknown key"),
        (
            '[[result]]\nname = "x"\nderivative = "dL/dz"\nequals = "a - y"\npoints = -2\n',
            "result[1].points",
            "above 0",
        ),
        ('[[result]]\nname = "x"\nderivative = "dL/dz"\npoints = 2\n', "result[1].equals", "missing"),
        (
            '[[result]]\nname = "x"\nderivative = "dL/dz"\nequals = "a - y"\npoints = 2\nbonus = 1\n',
            "result[1].bonus",
            "unknown key",
        ),
        (
            '[[result]]\nname = "x"\nderivative = "dQ/dz"\nequals = "a - y"\npoints = 2\n',
            "result[1].derivative",
            "'Q'",
        ),
        (
            '[[result]]\nname = "x"\nderivative = "dL/dz"\nequals = "y - a"\npoints = 2\n',
            "result[1].equals",
            "not true",
        ),
        ("every_step = [1\n", "", "TOML syntax error"),
    ],
)
def test_a_bad_rubric_is_one_line_naming_the_file_and_key(
    tmp_path: Path, run: Runner, text: str, key: str, problem: str
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "one.txt").write_text("dL/dz = a - y\n", encoding="utf-8")
    path = rubric(tmp_path, text)
    out = tmp_path / "out"
    code, _, err = run(["grade", "logistic_regression", str(folder), "-o", str(out), "--rubric", path])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and path in lines[0] and key in lines[0] and problem in lines[0], err
    assert "Traceback" not in err and not (out / "grades.csv").exists()


def test_grades_are_not_written_over_without_force(tmp_path: Path, run: Runner) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "one.txt").write_text("dL/dz = a - y\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "grades.csv").write_text("keep me\n", encoding="utf-8")
    code, _, err = run(["grade", "logistic_regression", str(folder), "-o", str(out)])
    assert code == 2 and "exists and will not be overwritten" in err and "grades.csv" in err
    assert (out / "grades.csv").read_text(encoding="utf-8") == "keep me\n"
    assert not (out / "gradescope").exists()
    code, _, err = run(["grade", "logistic_regression", str(folder), "-o", str(out), "--force"])
    assert code == 0, err
    assert rows_of(out)["one.txt"]["verdict"] == "holds"


@pytest.mark.slow
def test_a_submission_past_the_time_limit_is_stopped_in_its_own_row(tmp_path: Path, run: Runner) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "one.txt").write_text("dL/dz = a - y\n", encoding="utf-8")
    (folder / "two.txt").write_text("$$ \\def $$\n", encoding="utf-8")
    (folder / "three.doc").write_text("x", encoding="utf-8")
    code, _, err = run(
        ["grade", "logistic_regression", str(folder), "-o", str(tmp_path / "out"), "--timeout", "0.001"]
    )
    assert code == 0, err
    rows = rows_of(tmp_path / "out")
    assert (
        rows["one.txt"]["verdict"] == "stopped"
        and "stopped after 0.001 s" in rows["one.txt"]["first_failure"]
    )
    assert rows["three.doc"]["verdict"] == "unreadable"  # refused before any checking


def _sleep_or_return(value: int) -> int:
    if value < 0:
        time.sleep(3600)
    if value == 0:
        os._exit(3)  # a crash: no answer at all
    return value * 2


@pytest.mark.slow
def test_each_call_is_its_own_child_and_a_hung_or_crashed_one_is_only_its_own_error() -> None:
    start = time.monotonic()
    results = run_limited_each(_sleep_or_return, [(1,), (-1,), (0,), (4,), (5,)], timeout=2.0, jobs=2)
    assert time.monotonic() - start < 30
    assert results[0] == 2 and results[3] == 8 and results[4] == 10
    assert isinstance(results[1], LimitError) and "stopped after 2 s" in results[1].problem
    assert isinstance(results[2], LimitError) and "crashed" in results[2].problem


def _sleep_then_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pytest.mark.slow
def test_an_answer_that_came_after_its_deadline_is_stopped_however_late_the_parent_looks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a loaded machine the parent may look at its children long after a deadline: a child that
    answered after it was stopped all the same (CI saw a 0.001 s grade hold), one that answered before
    it is its answer."""
    import multiprocessing.connection

    import symcalc.isolate

    real = multiprocessing.connection.wait

    def late(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.0)  # a parent descheduled past every deadline
        return real(*args, **kwargs)

    monkeypatch.setattr(symcalc.isolate, "wait", late)
    results = run_limited_each(_sleep_then_return, [(0.5,), (0.0,)], timeout=0.3, jobs=2)
    assert isinstance(results[0], LimitError) and "stopped after 0.3 s" in results[0].problem
    assert results[1] == 0.0


@pytest.mark.slow
def test_grades_written_inside_the_folder_are_not_a_submission_and_sympy_stays_in_the_children(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "one.txt").write_text("dL/dz = a - y\n", encoding="utf-8")
    script = (
        "import sys\n"
        "from symcalc.cli.main import main\n"
        f"words = ['grade', 'logistic_regression', {str(folder)!r}, '-o', {str(folder / 'grades')!r}]\n"
        "codes = [main(words + more) for more in ([], ['--force'])]\n"
        "print(codes, 'sympy' in sys.modules)\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert finished.stdout.strip().splitlines()[-1] == "[0, 0] False", finished.stderr
    assert list(rows_of(folder / "grades")) == ["one.txt"]
