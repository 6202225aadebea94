"""A class's submissions graded against one model: each checked by `check_work` in its own child.

The model is loaded and the rubric checked against it once, here; then each submission is checked in
a child forked from this process (`symcalc.isolate.run_limited_each`), which inherits both, under
its own time and memory limit, a few at a time. A submission that cannot be read, or that hits a
limit, is its own row's verdict and nobody else's.

A required result of the rubric ("dL/dz reaches a - y") is reached by a chain of `=` whose first
side is that derivative alone, whose every `=` holds, and whose last side has no derivative left:
since each `=` holds and the rubric's result is checked true of the model, that last side is the
rubric's result, in whatever form the person wrote it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence

from symcalc.check.checks import DEFAULT_POINTS, check_claim
from symcalc.check.graded import Graded, Submission, Test, Verdict
from symcalc.check.records import Check
from symcalc.check.work import Chain, work_chains
from symcalc.errors import LimitError, Location, SpecError, SymcalcError
from symcalc.isolate import run_limited_each
from symcalc.spec.rubric import DEFAULT_RUBRIC, Required, Rubric, read_rubric
from symcalc.symbolic.claims import CLAIM_PATTERN
from symcalc.symbolic.engine import derive
from symcalc.symbolic.graph import Model

EVERY_STEP = "every = holds"


def grade_all(
    target: str,
    submissions: Sequence[Submission],
    rubric_path: str | None,
    *,
    points: int,
    seed: int,
    timeout: float,
    jobs: int,
    constants: Mapping[str, float] | None = None,
) -> list[Graded]:
    """Every submission graded, in order; SymcalcError (bad input) for the model or the rubric."""
    model = Model.load(target, constants=constants)
    rubric = checked_rubric(model, read_rubric(rubric_path)) if rubric_path is not None else DEFAULT_RUBRIC
    readable = [s for s in submissions if not s.problem]
    if len(readable) > 1:
        _warm(model)
    results = run_limited_each(
        grade_one, [(model, rubric, s, points, seed) for s in readable], timeout=timeout, jobs=jobs
    )
    by_file = {s.file: r for s, r in zip(readable, results, strict=True)}
    return [_graded(s, by_file.get(s.file), rubric) for s in submissions]


def _warm(model: Model) -> None:
    """The model's own gradients checked once here, before the children are forked: SymPy's caches
    then hold the derivatives through the model that every submission needs, and each child inherits
    them (a third less processor time per submission on the seed)."""
    derivation = derive(model)
    loss = derivation.loss.name
    text = "\n".join(f"d{loss}/d{p.name} = {g}" for p, g in derivation.gradients.items())
    with contextlib.suppress(SymcalcError):  # a gradient the reader does not take: no warming, no harm
        work_chains(model, text, "the model's gradients", "txt", points=DEFAULT_POINTS, seed=0)


def _graded(submission: Submission, result: Graded | SymcalcError | None, rubric: Rubric) -> Graded:
    if isinstance(result, Graded):
        return result
    if result is None:  # not read: its problem is its verdict
        return unreadable(submission.file, submission.problem, rubric)
    if isinstance(result, LimitError):
        return _nothing(submission.file, "stopped", result.problem, rubric)
    return unreadable(submission.file, result, rubric)


def unreadable(file: str, problem: str | SymcalcError, rubric: Rubric) -> Graded:
    """The row of a file that is not a derivation that can be read: why, and where when known."""
    if isinstance(problem, str):
        return _nothing(file, "unreadable", _short(problem), rubric)
    where = problem.location
    fix = f" ({problem.fix})" if problem.fix else ""
    return _nothing(file, "unreadable", _short(problem.problem + fix), rubric, where.line, where.column)


def _nothing(
    file: str,
    verdict: Verdict,
    problem: str,
    rubric: Rubric,
    line: int | None = None,
    column: int | None = None,
) -> Graded:
    tests = tuple(Test(name, 0.0, points, problem) for name, points in _parts(rubric))
    return Graded(file, verdict, line=line, column=column, problem=problem, tests=tests)


def _parts(rubric: Rubric) -> list[tuple[str, float]]:
    every = [(EVERY_STEP, rubric.every_step)] if rubric.every_step else []
    return every + [(r.name, r.points) for r in rubric.results]


def grade_one(model: Model, rubric: Rubric, submission: Submission, points: int, seed: int) -> Graded:
    """One submission checked line by line and scored by the rubric (in its own child)."""
    try:
        lines, chains = work_chains(
            model, submission.text, submission.file, submission.kind, points=points, seed=seed
        )
    except SymcalcError as err:
        if isinstance(err, LimitError):
            raise
        return unreadable(submission.file, err, rubric)
    checks = [check for chain in chains for check in chain.checks]
    holding = sum(check.holds for check in checks)
    first = next((c for c in checks if c.status == "fails"), None) or next(
        (c for c in checks if not c.holds), None
    )
    verdict: Verdict = "holds" if first is None else first.status
    line, column = _place(first.name) if first is not None else (None, None)
    problem = _why(first) if first is not None else ""
    tests = []
    if rubric.every_step:
        output = f"{holding} of {len(checks)} = hold" + (
            f"; the first that does not: {problem}" if first else ""
        )
        tests.append(Test(EVERY_STEP, rubric.every_step if first is None else 0.0, rubric.every_step, output))
    tests += [_required(result, chains) for result in rubric.results]
    return Graded(
        submission.file,
        verdict,
        lines,
        len(checks),
        holding,
        line,
        column,
        problem,
        tuple(tests),
    )


def _required(result: Required, chains: Sequence[Chain]) -> Test:
    of, wrt = _names(result.derivative)
    reaching = [c for c in chains if c.derivative == (of, wrt)]
    if any(c.closed and c.checks and all(check.holds for check in c.checks) for c in reaching):
        return Test(
            result.name, result.points, result.points, f"{result.derivative} = {result.equals}: reached"
        )
    if not reaching:
        why = f"no line starts with {result.derivative}"
    elif not any(c.closed for c in reaching):
        why = f"no line starting with {result.derivative} ends without a derivative"
    else:
        why = f"a line starting with {result.derivative} has an = that does not hold"
    return Test(
        result.name, 0.0, result.points, f"{result.derivative} = {result.equals}: not reached ({why})"
    )


def _names(derivative: str) -> tuple[str, str]:
    match = CLAIM_PATTERN.fullmatch(derivative)
    assert match is not None  # checked_rubric has read it
    return match.group(1), match.group(2)


def checked_rubric(model: Model, rubric: Rubric) -> Rubric:
    """`rubric` with each required result read against the model and proved or shown true of it;
    SpecError naming the rubric's file and key otherwise (a rubric's mistake is bad input)."""
    for result in rubric.results:
        key = f"{result.key}.derivative"
        match = CLAIM_PATTERN.fullmatch(result.derivative)
        if match is None:
            raise SpecError("must be a derivative written dA/dB", Location(rubric.source, key=key))
        for name in match.groups():
            if name not in model.symbols:
                raise SpecError(
                    f"{name!r} is not one of the model's scalar names", Location(rubric.source, key=key)
                )
        try:
            check = check_claim(model, result.derivative, result.equals)
        except SymcalcError as err:
            raise SpecError(err.problem, Location(rubric.source, key=f"{result.key}.equals")) from None
        if not check.holds:
            raise SpecError(
                f"{result.derivative} = {result.equals} is not true of the model: {check.detail}",
                Location(rubric.source, key=f"{result.key}.equals"),
            )
    return rubric


_PLACE = re.compile(r"line (\d+), column (\d+)")


def _place(name: str) -> tuple[int | None, int | None]:
    match = _PLACE.search(name)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def _why(check: Check) -> str:
    """One line: the `=` as written (its first MAX_SHOWN characters), and the ladder's verdict on it."""
    return f"{_short(check.statement)}: {check.status}, {_short(check.detail)}"


MAX_SHOWN = 300  # characters of a person's line, or of a problem, in a row or a results file


def _short(text: str) -> str:
    """`text` on one line, cut to MAX_SHOWN characters: a line of maths may be a million long."""
    flat = " ".join(text[: MAX_SHOWN * 4].split())
    return flat if len(flat) <= MAX_SHOWN else flat[: MAX_SHOWN - 1] + "…"
