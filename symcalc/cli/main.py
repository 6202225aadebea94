"""The `symcalc` command: parse arguments, call the library, render, and turn errors into exit codes.

Exit status: 0 success, 1 a check failed (verify), 2 bad input or a limit was hit,
130 interrupted, 141 the reader closed our output. Every error is one line on stderr;
a traceback only with --debug.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from symcalc.errors import LimitError, Location, SpecError, SpecErrors, SymcalcError
from symcalc.files import write_atomic
from symcalc.isolate import DEFAULT_TIMEOUT, InternalError, run_limited
from symcalc.render.pdf import compile_pdf

# The process the user started parses the arguments, waits for the child that does the
# symbolic work (symcalc.isolate) and prints the text it sends back. Everything that loads SymPy
# or rich is imported inside the functions that need it: for `symcalc derive` SymPy is then
# loaded once, in the child, which ends with os._exit and so skips tearing SymPy down (~60 ms).
if TYPE_CHECKING:
    from symcalc.check.records import Check
    from symcalc.numeric.program import Program
    from symcalc.symbolic.steps import Derivation

# Copies of symcalc.spec.toml.DEFAULT_MODEL and symcalc.check.checks' defaults, for the help texts
# (importing those modules loads SymPy); tests/test_startup.py holds them equal.
DEFAULT_MODEL = "logistic_regression"
DEFAULT_POINTS = 20
DEFAULT_SEED = 0

T = TypeVar("T")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of our output closed it


def derive_file(target: str | None) -> Derivation:
    """Load and derive one file (or a built-in model by name); what `symcalc derive` computes."""
    from symcalc.symbolic.engine import derive
    from symcalc.symbolic.graph import Model

    return derive(Model.load(target))


def derive_text(target: str | None, as_json: bool) -> str:
    """What `symcalc derive` prints: the derivation for this terminal (rich), or as JSON.

    Rendered where it is derived, as LaTeX and Markdown are: printing is bounded by the time
    limit too, and the result sent back is text, which the parent prints without SymPy.
    """
    derivation = derive_file(target)
    if as_json:
        from symcalc.render.json import derivation_dict

        return json.dumps(derivation_dict(derivation), indent=2, ensure_ascii=False) + "\n"
    from rich.console import Console

    console = Console()  # sees the same stdout, terminal and environment as the parent
    with console.capture() as capture:
        console.print(derivation)
    return capture.get()


def latex_file(target: str | None, body_only: bool) -> str:
    """The LaTeX of one file's derivation; what `symcalc latex` computes (printing can be slow too)."""
    from symcalc.render.latex import render_latex

    return render_latex(derive_file(target), body_only=body_only)


def markdown_file(target: str | None) -> str:
    """The Markdown of one file's derivation; what `symcalc markdown` computes."""
    from symcalc.render.markdown import render_markdown

    return render_markdown(derive_file(target))


def limited(function: Callable[..., T], target: str | None, *args: Any, timeout: float) -> T:
    """`function(target, *args)` under the time limit; a LimitError names the file it was working on."""
    try:
        return run_limited(function, target, *args, timeout=timeout)
    except LimitError as err:
        source = target if target is not None else f"{DEFAULT_MODEL} (built in)"
        raise err.at(Location(source=source)) from None


def _cmd_derive(args: argparse.Namespace) -> int:
    sys.stdout.write(limited(derive_text, args.file, args.json, timeout=args.timeout))
    sys.stdout.flush()  # a closed pipe is reported here (exit 141), not at exit
    return EXIT_OK


def verify_file(target: str | None, strict: bool, points: int, seed: int) -> tuple[str, list[Check]]:
    """Load, derive and verify one file; what `symcalc verify` computes for each file."""
    from symcalc.check.checks import verify
    from symcalc.symbolic.engine import derive
    from symcalc.symbolic.graph import Model

    model = Model.load(target)
    return model.title, verify(derive(model), strict=strict, points=points, seed=seed)


def check_file(
    target: str, lhs: str, rhs: str, strict: bool, points: int, seed: int
) -> tuple[str, list[Check]]:
    """Load one file and check one claim given on the command line; what `symcalc check` computes."""
    from symcalc.check.checks import check_claim
    from symcalc.symbolic.graph import Model

    model = Model.load(target)
    return model.title, [check_claim(model, lhs, rhs, strict=strict, points=points, seed=seed)]


def _source(target: str | None) -> str:
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
    from symcalc.render.checks import render_checks, report_dict

    if as_json:
        files = [report_dict(*report) for report in reports] + errors
        passed = not errors and all(all_hold(checks) for _, _, checks in reports)
        print(json.dumps({"passed": passed, "files": files}, indent=2, ensure_ascii=False))
        return
    console = Console()
    for source, title, checks in reports:
        console.print(render_checks(source, title, checks))
    if len(reports) + len(errors) > 1:
        failing = sum(not all_hold(checks) for _, _, checks in reports)
        console.print(
            f"{len(reports) + len(errors)} files: {len(reports) - failing} verified, "
            f"{failing} with failures, {len(errors)} unreadable"
        )


def _exit_code(reports: list[tuple[str, str, list[Check]]], errors: list[dict[str, Any]]) -> int:
    from symcalc.check.records import all_hold

    if errors:
        return EXIT_BAD_INPUT
    return EXIT_OK if all(all_hold(checks) for _, _, checks in reports) else EXIT_FAILED


def _cmd_verify(args: argparse.Namespace) -> int:
    reports: list[tuple[str, str, list[Check]]] = []
    errors: list[dict[str, Any]] = []
    for target in _verify_targets(args.files):
        try:
            title, checks = limited(
                verify_file, target, args.strict, args.points, args.seed, timeout=args.timeout
            )
        except SymcalcError as err:  # this file is bad input; the others are still verified
            lines = err.lines if isinstance(err, SpecErrors) else [err.message]
            for line in lines:
                _error(line)
            errors.append({"source": _source(target), "errors": lines})
            continue
        reports.append((_source(target), title, checks))
    _report(reports, errors, args.json)
    return _exit_code(reports, errors)


def _cmd_check(args: argparse.Namespace) -> int:
    title, checks = limited(
        check_file,
        args.file,
        args.claim,
        args.expression,
        args.strict,
        args.points,
        args.seed,
        timeout=args.timeout,
    )
    reports = [(_source(args.file), title, checks)]
    _report(reports, [], args.json)
    return _exit_code(reports, [])


def _add_verify_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--json", action="store_true", help="print the checks as JSON")
    sub.add_argument(
        "--strict", action="store_true", help="count a result that holds only numerically as a failure"
    )
    sub.add_argument(
        "--points",
        type=_positive_int,
        default=DEFAULT_POINTS,
        metavar="N",
        help=f"random points per numeric comparison (default {DEFAULT_POINTS})",
    )
    sub.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed of the random points (default {DEFAULT_SEED})"
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _cmd_latex(args: argparse.Namespace) -> int:
    pdf_path = _pdf_path(args) if args.pdf else None
    text = limited(latex_file, args.file, args.body, timeout=args.timeout)
    # Compile before writing anything, so that a failed run leaves no output at all.
    pdf = compile_pdf(text, timeout=args.timeout) if pdf_path is not None else None
    _emit(text, args.output)
    if pdf_path is not None and pdf is not None:
        write_atomic(pdf_path, pdf)  # OUT.pdf beside the named OUT.tex counts as named
    return EXIT_OK


def _pdf_path(args: argparse.Namespace) -> Path:
    if args.output is None:
        raise SymcalcError("--pdf needs -o OUT.tex: the PDF is written beside it")
    if args.body:
        raise SymcalcError("--pdf compiles a whole document", fix="drop --body")
    tex = Path(args.output)
    pdf = tex.with_suffix(".pdf")
    if pdf == tex:
        raise SymcalcError(f"{tex}: the LaTeX would be written over its own PDF", fix="name it OUT.tex")
    # Checked now, not after compiling, so that neither file is written when one cannot be.
    for path in (tex, pdf):
        if path.exists() and not path.is_file():
            raise SymcalcError(f"{path}: exists and is not a file", fix="name another file")
    return pdf


def _cmd_markdown(args: argparse.Namespace) -> int:
    _emit(limited(markdown_file, args.file, timeout=args.timeout), args.output)
    return EXIT_OK


def _emit(text: str, output: str | None) -> None:
    """`text` to the file the user named (replacing it), or to stdout."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)


def program_file(target: str | None) -> Program:
    """Derive one file and build its stable numeric program; the symbolic half of `symcalc train`."""
    from symcalc.numeric.program import build_program

    return build_program(derive_file(target))


def codegen_file(target: str | None) -> str:
    """The standalone module for one file; what `symcalc codegen` computes."""
    from symcalc.numeric.codegen import generate

    return generate(derive_file(target))


def _cmd_codegen(args: argparse.Namespace) -> int:
    from symcalc.files import write_atomic

    text = limited(codegen_file, args.file, timeout=args.timeout)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.output, text)
        print(f"symcalc: wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from rich.console import Console

    from symcalc.numeric.data import check_finite_loss, load_builtin, load_csv
    from symcalc.numeric.descent import Stop, train
    from symcalc.numeric.model import NumericModel
    from symcalc.render import training

    if args.plot is not None:
        training.check_plotting()
    program = limited(program_file, args.file, timeout=args.timeout)
    numeric = NumericModel(program)
    model = program.model
    dataset = load_csv(args.data, model) if args.data is not None else load_builtin(model)
    for warning in dataset.warnings:
        print(f"symcalc: warning: {warning}", file=sys.stderr)
    start = numeric.start(args.seed)
    check_finite_loss(dataset, numeric.per_sample_loss(start, dataset.columns))

    def evaluate(params: Any) -> tuple[float, dict[str, float]]:
        return numeric.evaluate(params, dataset.columns)

    numeric.build()  # the kernel is compiled here, not in the first epoch: `time taken` is descent's
    with training.progress_bar(Console(stderr=True), args.epochs) as update:
        last = train(evaluate, start, args.lr, args.epochs, args.tol, on_epoch=update)
    summary = training.Summary(
        last,
        numeric.accuracy(last.parameters, dataset.columns),
        len(dataset),
        dataset.source,
        numeric.describe(),
    )
    if args.json:
        print(json.dumps(training.summary_dict(summary), indent=2, allow_nan=False))
    else:
        training.print_summary(Console(), summary)
    if args.plot is not None:
        target = program.targets[0] if program.targets else None
        training.plot(args.plot, last, dataset.columns, program.inputs, target, numeric.logit)
        print(f"symcalc: wrote {args.plot}", file=sys.stderr)
    if last.stop is Stop.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if last.stop in (Stop.NON_FINITE, Stop.DIVERGING) else EXIT_OK


def _positive(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symcalc",
        description="Symbolic, step-by-step, verified gradients of machine-learning models.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], text: str) -> Any:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(handler=handler)
        # Also after the command (symcalc derive --debug); SUPPRESS keeps a --debug given before it.
        sub.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show tracebacks of internal errors",
        )
        sub.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            metavar="SECONDS",
            help=f"stop the symbolic work after this long (default {DEFAULT_TIMEOUT:g})",
        )
        return sub

    derive_parser = command("derive", _cmd_derive, "derive a model's gradients step by step")
    derive_parser.add_argument(
        "file",
        nargs="?",
        help=f"a derivation file, or a built-in model's name (default: {DEFAULT_MODEL})",
    )
    derive_parser.add_argument("--json", action="store_true", help="print the derivation as JSON")

    verify_parser = command("verify", _cmd_verify, "verify every step, gradient and claim of derivations")
    verify_parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE|DIR",
        help=f"derivation files, built-in model names or directories of *.toml (default: {DEFAULT_MODEL})",
    )
    _add_verify_options(verify_parser)

    check_parser = command("check", _cmd_check, "check one claim, e.g. check FILE dL/dw1 '(a - y)*x1'")
    check_parser.add_argument("file", metavar="FILE", help="a derivation file or a built-in model's name")
    check_parser.add_argument("claim", metavar="CLAIM", help="the derivative claimed, as dA/dB")
    check_parser.add_argument("expression", metavar="EXPRESSION", help="what it is claimed to equal")
    _add_verify_options(check_parser)
    latex_parser = command("latex", _cmd_latex, "write the derivation as a LaTeX document")
    _file_argument(latex_parser)
    latex_parser.add_argument("-o", "--output", metavar="OUT.tex", help="write here instead of stdout")
    latex_parser.add_argument(
        "--body", action="store_true", help="only the part that goes inside an existing document"
    )
    latex_parser.add_argument(
        "--pdf",
        action="store_true",
        help="also run pdflatex and write OUT.pdf beside OUT.tex (needs -o; --timeout bounds it too)",
    )

    markdown_parser = command("markdown", _cmd_markdown, "write the derivation as Markdown with maths")
    _file_argument(markdown_parser)
    markdown_parser.add_argument("-o", "--output", metavar="OUT.md", help="write here instead of stdout")
    file_help = f"a derivation file, or a built-in model's name (default: {DEFAULT_MODEL})"
    train = command("train", _cmd_train, "train a model's parameters by full-batch gradient descent")
    train.add_argument("file", nargs="?", help=file_help)
    train.add_argument(
        "--data",
        metavar="CSV",
        help="a CSV whose header names the inputs and targets (default: built-in data)",
    )
    train.add_argument("--lr", type=_positive, default=0.1, help="learning rate (default 0.1)")
    train.add_argument(
        "--epochs", type=_count, default=5000, metavar="N", help="at most N updates (default 5000)"
    )
    train.add_argument(
        "--tol",
        type=float,
        default=1e-6,
        metavar="T",
        help="stop when the gradient norm is below T (default 1e-6)",
    )
    train.add_argument(
        # NumPy's generator takes only seeds >= 0: a negative one was an internal error.
        "--seed",
        type=_count,
        default=0,
        metavar="S",
        help="seed for the starting parameters (default 0)",
    )
    train.add_argument(
        "--plot", metavar="OUT.png", help="write the loss curve (and the boundary, for two inputs)"
    )
    train.add_argument("--json", action="store_true", help="print the result as JSON")

    codegen = command(
        "codegen", _cmd_codegen, "write a standalone numpy module with the loss, gradient and step"
    )
    codegen.add_argument("file", nargs="?", help=file_help)
    codegen.add_argument(
        "-o", "--output", metavar="OUT.py", help="write the module here (default: standard output)"
    )
    return parser


def _file_argument(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "file",
        nargs="?",
        help=f"a derivation file, or a built-in model's name (default: {DEFAULT_MODEL})",
    )


def dashed_expressions_last(argv: Sequence[str]) -> list[str]:
    """`argv` with each expression of `check` that starts with "-" moved after a "--".

    argparse would read ``symcalc check FILE dL/dz -2*y*m`` as an unknown option. After
    the command `check`, a word that starts with a single "-" and is neither ``-h`` nor a
    number (argparse takes those as they are) can only be the claim's expression: the
    command's own options all start with "--". Words after a "--" are left alone.
    """
    words = list(argv)
    command = next((i for i, word in enumerate(words) if not word.startswith("-")), None)
    if command is None or words[command] != "check" or "--" in words:
        return words
    moved = [word for word in words[command + 1 :] if _is_dashed_expression(word)]
    if not moved:
        return words
    kept = [word for word in words[command + 1 :] if not _is_dashed_expression(word)]
    return [*words[: command + 1], *kept, "--", *moved]


def _is_dashed_expression(word: str) -> bool:
    if not word.startswith("-") or word.startswith("--") or word == "-h":
        return False
    try:
        float(word)
    except ValueError:
        return True
    return False  # a negative number: argparse already takes it as a positional argument


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(dashed_expressions_last(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.handler(args))
    except SpecErrors as err:
        for line in err.lines:
            _error(line)
        return EXIT_BAD_INPUT
    except SymcalcError as err:
        _error(err.message)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (symcalc ... | head): not a bug. Point stdout at /dev/null so the
        # interpreter's final flush does not fail again, and exit as a shell reports SIGPIPE.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    except InternalError as err:
        return _bug(str(err), err.trace, args.debug)
    except Exception as err:  # never a bare traceback for the user
        import traceback

        return _bug(f"{type(err).__name__}: {err}", traceback.format_exc(), args.debug)


def _error(message: str) -> None:
    # One line per problem, whatever a message quotes from a file or an exception.
    one_line = " ".join(message.splitlines())
    print(f"symcalc: error: {one_line}", file=sys.stderr)


def _bug(summary: str, trace: str, debug: bool) -> int:
    if debug:
        print(trace, file=sys.stderr, end="")
    _error(
        f"internal error ({summary}); this is a bug in symcalc, please report it"
        + ("" if debug else " with the output of --debug")
    )
    return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
