"""One handler per command: run its work under the limits, print or write the result, return the exit code."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from symcalc.cli import work
from symcalc.errors import LimitError, Location, SpecError, SpecErrors, SymcalcError
from symcalc.files import check_output, write_atomic
from symcalc.isolate import check_timeout, run_limited
from symcalc.render.pdf import compile_pdf
from symcalc.render.text import json_escaped, printable
from symcalc.spec.toml import builtin_models
from symcalc.spec.toml import load as load_spec
from symcalc.spec.work import read_work

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from symcalc.check.records import Check

# Copies of symcalc.spec.toml.DEFAULT_MODEL and symcalc.check.checks' defaults, for the help texts
# (importing those modules loads SymPy); tests/cli/test_startup.py holds them equal.
DEFAULT_MODEL = "logistic_regression"
DEFAULT_POINTS = 20
DEFAULT_SEED = 0
MAX_POINTS = 10_000  # --points above this would only make a run slow: each point is 50-digit mpmath work

T = TypeVar("T")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output closed it


def limited(function: Callable[..., T], target: str | None, *args: Any, timeout: float) -> T:
    """`function(target, *args)` under the time limit; a LimitError names the file it was working on."""
    try:
        return run_limited(function, target, *args, timeout=timeout)
    except LimitError as err:
        raise err.at(Location(source=source_name(target))) from None


def _cmd_derive(args: argparse.Namespace) -> int:
    text, warnings = limited(
        work.derive_output, args.file, args.json, args.hessian, args.compact, args.view, timeout=args.timeout
    )
    for warning in warnings:
        print(f"symcalc: warning: {printable(warning)}", file=sys.stderr)
    sys.stdout.write(text)
    sys.stdout.flush()  # a closed pipe is reported here (exit 141), not at exit
    return EXIT_OK


def source_name(target: str | None) -> str:
    return target if target is not None else f"{DEFAULT_MODEL} (built in)"


def _verify_targets(paths: Sequence[str]) -> list[str | None]:
    """Each argument as a file to verify; a directory means every *.toml in it."""
    if not paths:
        return [None]
    targets: list[str | None] = []
    for path in paths:
        folder = Path(path)
        if folder.is_dir():
            found = sorted(str(p) for p in folder.glob("*.toml") if p.is_file())
            if not found:
                raise SpecError("no *.toml files in this directory", Location(source=path))
            targets += found
        else:
            targets.append(path)
    return targets


def _report(reports: list[tuple[str, str, list[Check]]], errors: list[dict[str, Any]], as_json: bool) -> None:
    from rich.console import Console

    from symcalc.check.records import all_hold
    from symcalc.render.ascii import encodes
    from symcalc.render.checks import in_ascii, render_checks, report_dict

    if as_json:
        files = [report_dict(*report) for report in reports] + errors
        passed = not errors and all(all_hold(checks) for _, _, checks in reports)
        print(json_escaped(json.dumps({"passed": passed, "files": files}, indent=2, ensure_ascii=False)))
        return
    console = Console()
    for source, title, checks in reports:
        shown = checks if encodes(console.file) else in_ascii(checks)
        _print_fitted(console, render_checks(source, title, shown))
    if len(reports) + len(errors) > 1:
        failing = sum(not all_hold(checks) for _, _, checks in reports)
        console.print(
            f"{len(reports) + len(errors)} files: {len(reports) - failing} verified, "
            f"{failing} with failures, {len(errors)} unreadable"
        )


def _print_fitted(console: Console, renderable: RenderableType) -> None:
    """`renderable` on the terminal; on one that cannot encode symcalc's characters, spelled in ASCII
    and laid out narrower where that lengthened a line (`render.ascii.fitted`)."""
    from symcalc.render.ascii import encodes, fitted

    if encodes(console.file):
        console.print(renderable)
        return

    from rich.console import Console

    def drawn(width: int) -> str:
        narrow = Console(width=width, file=console.file)
        with narrow.capture() as capture:
            narrow.print(renderable)
        return capture.get()

    console.file.write(fitted(drawn, console.width))


def _exit_code(reports: list[tuple[str, str, list[Check]]], errors: list[dict[str, Any]]) -> int:
    from symcalc.check.records import all_hold

    if errors:
        return EXIT_BAD_INPUT
    return EXIT_OK if all(all_hold(checks) for _, _, checks in reports) else EXIT_FAILED


def _cmd_verify(args: argparse.Namespace) -> int:
    reports: list[tuple[str, str, list[Check]]] = []
    errors: list[dict[str, Any]] = []
    # --timeout bounds the whole run: each file gets what the files before it left.
    check_timeout(args.timeout)  # an unusable --timeout is one error, not one per file
    started = time.monotonic()
    for target in _verify_targets(args.files):
        # The first file gets exactly --timeout, so its message names the value given.
        remaining = args.timeout - (time.monotonic() - started) if reports or errors else args.timeout
        try:
            if remaining <= 0:
                raise LimitError(
                    f"not verified: the --timeout of {args.timeout:g} s for the whole run was used up "
                    "by the files before it",
                    Location(source=source_name(target)),
                )
            title, checks = limited(
                work.verify_file,
                target,
                args.strict,
                args.points,
                args.seed,
                args.hessian,
                parse_settings(args.set, source_name(target)),
                not args.json,
                timeout=remaining,
            )
        except SymcalcError as err:  # this file is bad input; the others are still verified
            lines = err.lines if isinstance(err, SpecErrors) else [err.message]
            for line in lines:
                print_error(line)
            errors.append({"source": source_name(target), "errors": lines})
            continue
        reports.append((source_name(target), title, checks))
    _report(reports, errors, args.json)
    return _exit_code(reports, errors)


def _cmd_models(args: argparse.Namespace) -> int:
    """The built-in models, one per line: name, then title (read from the shipped files)."""
    rows = [(name, load_spec(name).title) for name in builtin_models()]
    width = max(len(name) for name, _ in rows)
    for name, title in rows:
        print(f"{name:<{width}}  {title}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    title, checks = limited(
        work.check_file,
        args.file,
        args.claim,
        args.expression,
        args.strict,
        args.points,
        args.seed,
        parse_settings(args.set, source_name(args.file)),
        not args.json,
        timeout=args.timeout,
    )
    reports = [(source_name(args.file), title, checks)]
    _report(reports, [], args.json)
    return _exit_code(reports, [])


def _cmd_check_work(args: argparse.Namespace) -> int:
    if args.html is not None:
        check_output(args.html, {".html": "html", ".htm": "html"}, "check-work --html")
    text, source, kind = read_work(args.work)
    constants = parse_settings(args.set, source_name(args.file))
    title, checks = limited(
        work.check_work_file,
        args.file,
        text,
        source,
        kind,
        args.strict,
        args.points,
        args.seed,
        constants,
        not args.json,
        timeout=args.timeout,
    )
    if args.html is not None:
        from symcalc.render.work_page import render_work_page

        write_atomic(args.html, render_work_page(source, title, checks))
        say_wrote(Path(args.html))
    reports = [(source, title, checks)]
    _report(reports, [], args.json)
    return _exit_code(reports, [])


def _cmd_latex(args: argparse.Namespace) -> int:
    # Files the user named are theirs to replace; MODEL.tex and MODEL.pdf, named by us, only with --force.
    named = args.output is not None or not args.pdf
    if args.pdf and args.output is None and not args.body and args.file != "-":
        args.output = _default_tex(args.file, args.force)
    if args.output is not None:
        hint = ", and add --pdf for the PDF beside it"
        check_output(args.output, {".tex": "latex", ".ltx": "latex"}, "latex -o", hint)
    pdf_path = _pdf_path(args) if args.pdf else None
    text = limited(
        work.latex_file, args.file, args.body, args.hessian, args.compact, args.view, timeout=args.timeout
    )
    # Compile before writing anything, so that a failed run leaves no output at all.
    pdf = compile_pdf(text, timeout=args.timeout) if pdf_path is not None else None
    _emit(text, args.output, replace=named or args.force)
    if pdf_path is not None and pdf is not None:
        # OUT.pdf beside the named OUT.tex counts as named
        write_atomic(pdf_path, pdf, replace=named or args.force)
        say_wrote(pdf_path)
    return EXIT_OK


def _default_tex(file: str | None, force: bool) -> str:
    """`latex --pdf` without -o: MODEL.tex (and MODEL.pdf) in this folder, after the model's name;
    neither may be a file already there unless `force`."""
    name = Path(file).name.removesuffix(".toml") if file is not None else DEFAULT_MODEL
    tex = Path(f"{name}.tex")
    for path in (tex, tex.with_suffix(".pdf")):
        if path.exists() and not force:
            raise SymcalcError(
                f"already exists: latex --pdf without -o writes {tex} and {tex.with_suffix('.pdf')} "
                "here, over a file only with --force",
                Location(source=str(path)),
                fix="add --force, or name the file with -o OUT.tex",
            )
    return str(tex)


def _pdf_path(args: argparse.Namespace) -> Path:
    if args.body:
        raise SymcalcError("--pdf compiles a whole document", fix="drop --body")
    if args.output is None:
        raise SymcalcError(
            "--pdf of a model read from standard input needs -o OUT.tex: the PDF is written beside it"
        )
    # OUT.tex itself was checked by check_output (an OUT.pdf there is refused by its extension);
    # the PDF beside it is checked now, not after compiling, so that neither file is written.
    pdf = Path(args.output).with_suffix(".pdf")
    if pdf.exists() and not pdf.is_file():
        raise SymcalcError(f"{pdf}: exists and is not a file", fix="name another file")
    return pdf


def _cmd_markdown(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output(args.output, {".md": "markdown", ".markdown": "markdown"}, "markdown -o")
    _emit(
        limited(work.markdown_file, args.file, args.hessian, args.compact, args.view, timeout=args.timeout),
        args.output,
    )
    return EXIT_OK


def _cmd_html(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output(args.output, {".html": "html", ".htm": "html"}, "html -o")
    _emit(limited(work.html_file, args.file, args.compact, args.view, timeout=args.timeout), args.output)
    return EXIT_OK


def _cmd_new(args: argparse.Namespace) -> int:
    """Write the commented template model to NAME(.toml); never over an existing file."""
    from importlib import resources

    target = Path(args.name if args.name.endswith(".toml") else f"{args.name}.toml")
    check_output(target, {".toml": "toml"}, "new")
    if target.exists():
        where = Location(source=str(target))
        raise SymcalcError(
            "already exists: symcalc new never writes over a file", where, fix="name another file"
        )
    template = resources.files("symcalc").joinpath("templates", "new_model.toml").read_text(encoding="utf-8")
    write_atomic(target, template)
    print(f"symcalc: wrote {target}; try: symcalc derive {target}", file=sys.stderr)
    return EXIT_OK


def _emit(text: str, output: str | None, replace: bool = True) -> None:
    """`text` to the file the user named (replacing it unless not to `replace`, and saying so on
    stderr), or to stdout."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text, replace=replace)
        say_wrote(output)


def say_wrote(path: str | Path) -> None:
    """Every command that writes a file says so, in one line on stderr (stdout stays the output)."""
    print(f"symcalc: wrote {path}", file=sys.stderr)


def _cmd_codegen(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output(args.output, {".py": "python"}, "codegen -o")
    constants = parse_settings(args.set, source_name(args.file))
    text = limited(
        work.codegen_file, args.file, args.target, constants, args.standalone, timeout=args.timeout
    )
    _emit(text, args.output)
    return EXIT_OK


def parse_settings(settings: Sequence[str], source: str) -> dict[str, float]:
    """--set NAME=VALUE as names and finite numbers (loading the model checks the names)."""
    values: dict[str, float] = {}
    for setting in settings:
        name, equals, text = setting.partition("=")
        name = name.strip()
        where = Location(source=source, key=f"--set {setting}")
        if not equals:
            raise SymcalcError("is not NAME=VALUE", where, fix="e.g. --set lamda=0.5")
        if text.strip().startswith("["):
            raise SymcalcError(
                "--set takes one number; a vector or matrix constant is set in the file",
                where,
                fix=f"change {name} = [...] under [constants]",
            )
        try:
            value = float(text)
        except ValueError:
            value = None
        # float() also reads 1_0 as 10, and digits of other scripts (fullwidth １, Arabic-Indic ٣),
        # which a CSV cell may not hold: ASCII without '_' leaves what the CSV reader's NUMBER reads
        # (numeric.data, not imported here: it loads NumPy), and inf and nan, refused below.
        if value is None or not text.isascii() or "_" in text:
            raise SymcalcError(
                f"{text.strip()!r} is not a number", where, fix="ASCII decimal notation, e.g. 0.5, -2 or 1e-3"
            )
        if not math.isfinite(value):
            raise SymcalcError(f"{text.strip()!r} is not a finite number", where)
        values[name] = value
    return values


def print_error(message: str) -> None:
    # One line per problem, whatever a message quotes from a file or an exception, and no control
    # sequence for the terminal.
    print(f"symcalc: error: {printable(message)}", file=sys.stderr)
