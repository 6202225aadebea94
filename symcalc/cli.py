"""The `symcalc` command: parse arguments, call the library, render, and turn errors into exit codes.

Exit status: 0 success, 1 a check failed (verify), 2 bad input or a limit was hit,
130 interrupted. Every error is one line on stderr; a traceback only with --debug.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rich.console import Console

from symcalc.engine import derive
from symcalc.errors import LimitError, Location, SpecErrors, SymcalcError
from symcalc.limits import DEFAULT_TIMEOUT, InternalError, run_limited
from symcalc.model import Model
from symcalc.numeric import NumericModel, Program, build_program
from symcalc.render.json import derivation_dict
from symcalc.spec import DEFAULT_MODEL
from symcalc.steps import Derivation

T = TypeVar("T")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def derive_file(target: str | None) -> Derivation:
    """Load and derive one file (or a built-in model by name); what `symcalc derive` computes."""
    return derive(Model.load(target))


def limited(function: Callable[..., T], target: str | None, *args: Any, timeout: float) -> T:
    """`function(target, *args)` under the time limit; a LimitError names the file it was working on."""
    try:
        return run_limited(function, target, *args, timeout=timeout)
    except LimitError as err:
        source = target if target is not None else f"{DEFAULT_MODEL} (built in)"
        raise err.at(Location(source=source)) from None


def _cmd_derive(args: argparse.Namespace) -> int:
    derivation = limited(derive_file, args.file, timeout=args.timeout)
    if args.json:
        print(json.dumps(derivation_dict(derivation), indent=2, ensure_ascii=False))
    else:
        Console().print(derivation)
    return EXIT_OK


def program_file(target: str | None) -> Program:
    """Derive one file and build its stable numeric program; the symbolic half of `symcalc train`."""
    return build_program(derive_file(target))


def codegen_file(target: str | None) -> str:
    """The standalone module for one file; what `symcalc codegen` computes."""
    from symcalc.codegen import generate

    return generate(derive_file(target))


def _cmd_codegen(args: argparse.Namespace) -> int:
    from symcalc.output import write_atomic

    text = limited(codegen_file, args.file, timeout=args.timeout)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.output, text)
        print(f"symcalc: wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from symcalc.data import check_finite_loss, load_builtin, load_csv
    from symcalc.descent import Stop, descend, interrupted
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

    stderr = Console(stderr=True)
    last = None
    losses: list[float] = []
    try:
        with training.progress_bar(stderr, args.epochs) as update:
            for record in descend(evaluate, start, args.lr, args.epochs, args.tol):
                last = record
                losses.append(record.loss)
                update(record)
    except KeyboardInterrupt:
        if last is None:
            raise
        last = interrupted(last, losses)
    assert last is not None
    summary = training.Summary(
        last, numeric.accuracy(last.parameters, dataset.columns), len(dataset), dataset.source
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
        "--seed", type=int, default=0, metavar="S", help="seed for the starting parameters (default 0)"
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    except InternalError as err:
        return _bug(str(err), err.trace, args.debug)
    except Exception as err:  # never a bare traceback for the user
        import traceback

        return _bug(f"{type(err).__name__}: {err}", traceback.format_exc(), args.debug)


def _error(message: str) -> None:
    print(f"symcalc: error: {message}", file=sys.stderr)


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
