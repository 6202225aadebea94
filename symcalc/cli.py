"""The `symcalc` command: parse arguments, call the library, render, and turn errors into exit codes.

Exit status: 0 success, 1 a check failed (verify), 2 bad input or a limit was hit,
130 interrupted. Every error is one line on stderr; a traceback only with --debug.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rich.console import Console

from symcalc.engine import derive
from symcalc.errors import LimitError, Location, SpecErrors, SymcalcError
from symcalc.limits import DEFAULT_TIMEOUT, InternalError, run_limited
from symcalc.model import Model
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
