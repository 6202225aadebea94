"""Graded submissions → what `symcalc grade` writes: a CSV, Gradescope's and PrairieLearn's results.

Gradescope's autograder reads `results.json` with a top-level `score`, `output` and `tests`, each
test with `name`, `score`, `max_score`, `status` ("passed" or "failed") and `output`
(gradescope-autograders.readthedocs.io, "Autograder Specifications"). PrairieLearn's external grader
reads `results.json` with `gradable`, `score` as a fraction in [0, 1], `message`, `output` and
`tests`, each with `name`, `description`, `points`, `max_points`, `message` and `output`, and
`format_errors` when the submission is not gradable (prairielearn's "External Grading" page). Both
are one file per submission.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from symcalc.check.graded import Graded

CSV_COLUMNS = (
    "file",
    "verdict",
    "lines",
    "equals",
    "holding",
    "first_failure_line",
    "first_failure_column",
    "first_failure",
    "score",
    "max_score",
)


def grades_csv(rows: Sequence[Graded]) -> str:
    """One row per submission, in CSV_COLUMNS' order (a cell starting with = + - @ is quoted with ' so a
    spreadsheet shows it rather than computing it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _cell(row.file),
                row.verdict,
                row.lines,
                row.equals,
                row.holding,
                "" if row.line is None else row.line,
                "" if row.column is None else row.column,
                _cell(row.problem),
                _number(row.score),
                _number(row.max_score),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 6)


def _summary(row: Graded) -> str:
    if row.verdict in ("unreadable", "stopped"):
        where = f" (line {row.line}, column {row.column})" if row.line is not None else ""
        return f"{row.file}: {row.verdict}{where}: {row.problem}"
    text = f"{row.file}: {row.lines} lines of maths, {row.holding} of {row.equals} = hold"
    if row.line is not None:
        text += f"; the first that does not is at line {row.line}, column {row.column}: {row.problem}"
    return text


def gradescope(row: Graded) -> dict[str, Any]:
    """Gradescope's results.json for one submission."""
    return {
        "score": _number(row.score),
        "output": _summary(row),
        "tests": [
            {
                "name": test.name,
                "score": _number(test.score),
                "max_score": _number(test.max_score),
                "status": "passed" if test.score >= test.max_score else "failed",
                "output": test.output,
            }
            for test in row.tests
        ],
    }


def prairielearn(row: Graded) -> dict[str, Any]:
    """PrairieLearn's external grader results.json for one submission."""
    if not row.gradable:
        return {"gradable": False, "format_errors": [_summary(row)], "message": _summary(row)}
    fraction = row.score / row.max_score if row.max_score else 0.0
    return {
        "gradable": True,
        "score": round(fraction, 6),
        "message": _summary(row),
        "output": _summary(row),
        "tests": [
            {
                "name": test.name,
                "description": test.name,
                "points": _number(test.score),
                "max_points": _number(test.max_score),
                "message": test.output,
                "output": test.output,
            }
            for test in row.tests
        ],
    }


def results_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
