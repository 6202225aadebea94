"""`symcalc grade MODEL FOLDER`: every submission in a folder checked, and the grades written.

The folder is read here, without SymPy and without following links: each entry is a submission
(its own row), read up to the derivation reader's limit, or refused (a link, a folder, a device, a
file of another kind) in its row. The checking runs in one limited child that loads the model once
and forks one child per submission (`symcalc.check.grading`). Nothing is written over an existing
file unless --force says so, and nothing at all is written before every target has been checked.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path

from symcalc.check.graded import Graded, Submission
from symcalc.cli import work
from symcalc.cli.commands import EXIT_OK, limited, parse_settings, say_wrote, source_name
from symcalc.errors import Location, OutputError, SpecError, SymcalcError
from symcalc.files import write_atomic
from symcalc.isolate import MAX_TIMEOUT, check_timeout
from symcalc.render.grades import grades_csv, gradescope, prairielearn, results_json
from symcalc.spec.work import MAX_WORK, decoded, work_kind

MAX_SUBMISSIONS = 10_000
DEFAULT_GRADE_TIMEOUT = 20.0  # seconds for one submission


def add_grade_parser(command: argparse.ArgumentParser) -> None:
    command.add_argument("file", metavar="MODEL", help="a derivation file or a built-in model's name")
    command.add_argument(
        "folder", metavar="FOLDER", help="a folder of submissions: one .tex, .md or .txt each"
    )
    command.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        default="grades",
        help="write grades.csv, gradescope/FILE.json and prairielearn/FILE.json here (default: grades)",
    )
    command.add_argument("--rubric", metavar="RUBRIC.toml", help="points per required result")
    command.add_argument("--force", action="store_true", help="replace grade files that already exist")
    command.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, metavar="N", help="submissions checked at once"
    )


def cmd_grade(args: argparse.Namespace) -> int:
    check_timeout(args.timeout)
    if not 1 <= args.jobs <= 256:
        raise SymcalcError(f"--jobs must be from 1 to 256, not {args.jobs}")
    constants = parse_settings(args.set, source_name(args.file))
    out = Path(args.output)
    submissions = read_folder(args.folder, skip=out)
    targets = _targets(out, [s.file for s in submissions], args.force)
    total = min(MAX_TIMEOUT, 60.0 + args.timeout * (len(submissions) // args.jobs + 1))
    rows: list[Graded] = limited(
        work.grade_folder,
        args.file,
        submissions,
        args.rubric,
        args.points,
        args.seed,
        args.timeout,
        args.jobs,
        constants,
        timeout=total,
    )
    _write(out, targets, rows, args.force)
    for row in rows:
        where = f" at line {row.line}, column {row.column}" if row.line is not None else ""
        print(f"{row.file}: {row.verdict}{where}, {row.score:g} of {row.max_score:g}")
    scored = sum(row.score for row in rows)
    print(f"{len(rows)} submissions graded, {scored:g} points in all")
    return EXIT_OK


def read_folder(folder: str, skip: Path | None = None) -> list[Submission]:
    """Each entry of `folder`, sorted by name, read or refused (but names starting with '.', and the
    folder `skip`, where the grades go, when it is inside); SpecError when it is not a folder."""
    where = Location(source=folder)
    try:
        names = sorted(os.listdir(folder))
    except NotADirectoryError:
        raise SpecError("not a folder", where) from None
    except OSError as err:
        raise SpecError(f"cannot read the folder: {err.strerror or err}", where) from None
    names = [name for name in names if not name.startswith(".")]
    if skip is not None and skip.resolve().parent == Path(folder).resolve():
        names = [name for name in names if name != skip.name]
    if not names:
        raise SpecError("no submissions in the folder", where)
    if len(names) > MAX_SUBMISSIONS:
        raise SpecError(f"{len(names)} files, more than {MAX_SUBMISSIONS}", where)
    return [_submission(folder, name) for name in names]


def _submission(folder: str, name: str) -> Submission:
    make = Submission
    path = os.path.join(folder, name)
    try:
        kind = work_kind(name)
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except SpecError as err:
        return make(name, problem=err.problem)
    except OSError as err:
        link = os.path.islink(path)
        problem = "a symbolic link: not followed" if link else f"cannot read it: {err.strerror or err}"
        return make(name, problem=problem)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return make(name, problem="not a regular file")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            raw = handle.read(MAX_WORK + 1)
        text = decoded(raw, name)
        if len(text) > MAX_WORK:
            return make(name, problem=f"more than {MAX_WORK} characters")
        return make(name, text=text, kind=kind)
    except SpecError as err:
        return make(name, problem=err.problem)
    except OSError as err:
        return make(name, problem=f"cannot read it: {err.strerror or err}")
    finally:
        os.close(descriptor)


def _targets(out: Path, files: list[str], force: bool) -> dict[str, Path]:
    """Every file the grades go to, checked before any work: none exists unless `force`."""
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", Location(str(out)), fix="name another folder")
    targets = {"": out / "grades.csv"}
    for file in files:
        targets[f"gradescope/{file}"] = out / "gradescope" / f"{file}.json"
        targets[f"prairielearn/{file}"] = out / "prairielearn" / f"{file}.json"
    if not force:
        for path in targets.values():
            if path.exists() or path.is_symlink():
                raise OutputError(
                    "exists and will not be overwritten",
                    Location(str(path)),
                    fix="add --force, or name another -o",
                )
    return targets


def _write(out: Path, targets: dict[str, Path], rows: list[Graded], force: bool) -> None:
    for sub in ("gradescope", "prairielearn"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    write_atomic(targets[""], grades_csv(rows), replace=force)
    for row in rows:
        write_atomic(targets[f"gradescope/{row.file}"], results_json(gradescope(row)), replace=force)
        write_atomic(targets[f"prairielearn/{row.file}"], results_json(prairielearn(row)), replace=force)
    say_wrote(targets[""])
    print(
        f"symcalc: wrote {len(rows)} results each to {out / 'gradescope'} and {out / 'prairielearn'}",
        file=sys.stderr,
    )
