"""The `symcalc` command's entry point: every command's arguments, and every error as one line and a code.

Exit status: 0 success, 1 a check failed (verify), 2 bad input or a limit was hit,
130 interrupted, 141 the reader closed our output. Every error is one line on stderr;
a traceback only with --debug.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from symcalc.cli.commands import (
    DEFAULT_MODEL,
    DEFAULT_POINTS,
    DEFAULT_SEED,
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    MAX_POINTS,
    _cmd_check,
    _cmd_check_work,
    _cmd_codegen,
    _cmd_derive,
    _cmd_html,
    _cmd_latex,
    _cmd_markdown,
    _cmd_models,
    _cmd_new,
    _cmd_verify,
    print_error,
)
from symcalc.cli.grading import DEFAULT_GRADE_TIMEOUT, add_grade_parser, cmd_grade
from symcalc.cli.option_types import count, fraction, momentum, points, positive, positive_count
from symcalc.cli.train import cmd_train
from symcalc.errors import InternalError, SpecErrors, SymcalcError
from symcalc.isolate import DEFAULT_TIMEOUT
from symcalc.render.ascii import plain
from symcalc.settings import MAX_SECOND_ORDER_PARAMETERS
from symcalc.spec.names import suggestion
from symcalc.spec.toml import read as read_spec

# The process the user started parses the arguments, waits for the child that does the
# symbolic work (symcalc.isolate) and prints the text it sends back. Everything that loads SymPy
# or rich is imported inside the functions that need it (symcalc.cli.work): for `symcalc derive`
# SymPy is then loaded once, in the child, which ends with os._exit and so skips tearing SymPy down.


def _add_verify_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--json", action="store_true", help="print the checks as JSON")
    sub.add_argument(
        "--strict", action="store_true", help="count a result that holds only numerically as a failure"
    )
    sub.add_argument(
        "--points",
        type=points,
        default=DEFAULT_POINTS,
        metavar="N",
        help=f"random points per numeric comparison (default {DEFAULT_POINTS}, at most {MAX_POINTS})",
    )
    sub.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed of the random points (default {DEFAULT_SEED})"
    )
    _set_option(sub)


def _compact_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--compact",
        action="store_true",
        help="leave out the notes under each step (the model's names and notes are listed once)",
    )
    sub.add_argument(
        "--view",
        type=_views,
        metavar="VIEW[,...]",
        help="for a model with vectors, which forms to show: vector, index, batch, entries or all "
        "(default: vector,index,batch; entries writes every step out at small sizes)",
    )


def _views(text: str) -> frozenset[str]:
    from symcalc.render.views import parse_views

    try:
        return parse_views(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _set_option(sub: argparse.ArgumentParser) -> None:
    """--set NAME=VALUE, on every command that evaluates the model."""
    sub.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a constant of the model for this run (e.g. --set lamda=0.5); may be repeated",
    )


def _version() -> str:
    from importlib import metadata  # here, not at the top: it takes 20–40 ms of every command's start

    try:
        return metadata.version("symcalc-gradients")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


class _VersionAction(argparse.Action):
    """--version: argparse's, but the version is read only when it is asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, help: str | None = None):
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"symcalc {_version()}")
        parser.exit()


def _hessian_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hessian",
        action="store_true",
        help="add the second derivatives d2L/dA dB of every pair of parameters (the Hessian)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symcalc",
        description="Symbolic, step-by-step, verified gradients of machine-learning models.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
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
    _hessian_option(derive_parser)
    _compact_option(derive_parser)

    verify_parser = command("verify", _cmd_verify, "verify every step, gradient and claim of derivations")
    verify_parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE|DIR",
        help=f"derivation files, built-in model names or directories of *.toml (default: {DEFAULT_MODEL})",
    )
    _add_verify_options(verify_parser)
    _hessian_option(verify_parser)

    check_parser = command("check", _cmd_check, "check one claim, e.g. check FILE dL/dw1 '(a - y)*x1'")
    check_parser.add_argument("file", metavar="FILE", help="a derivation file or a built-in model's name")
    check_parser.add_argument("claim", metavar="CLAIM", help="the derivative claimed, as dA/dB")
    check_parser.add_argument("expression", metavar="EXPRESSION", help="what it is claimed to equal")
    _add_verify_options(check_parser)
    work_parser = command(
        "check-work", _cmd_check_work, "check each = of a derivation in LaTeX, Markdown or text"
    )
    work_parser.add_argument("file", metavar="MODEL", help="a derivation file or a built-in model's name")
    work_parser.add_argument("work", metavar="WORK", help="a .tex, .md or .txt file, or - for standard input")
    _add_verify_options(work_parser)
    work_parser.add_argument(
        "--html", metavar="OUT.html", help="also write a page with each = typeset and marked"
    )
    grade_parser = command("grade", cmd_grade, "check every submission in a folder and write the grades")
    grade_parser.set_defaults(timeout=DEFAULT_GRADE_TIMEOUT)
    _timeout_help(
        grade_parser, f"stop one submission's checking after this long (default {DEFAULT_GRADE_TIMEOUT:g})"
    )
    add_grade_parser(grade_parser)
    grade_parser.add_argument(
        "--points",
        type=points,
        default=DEFAULT_POINTS,
        metavar="N",
        help=f"random points per numeric comparison (default {DEFAULT_POINTS}, at most {MAX_POINTS})",
    )
    grade_parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed of the random points (default {DEFAULT_SEED})"
    )
    _set_option(grade_parser)
    latex_parser = command("latex", _cmd_latex, "write the derivation as a LaTeX document")
    _file_argument(latex_parser)
    latex_parser.add_argument("-o", "--output", metavar="OUT.tex", help="write here instead of stdout")
    latex_parser.add_argument(
        "--body", action="store_true", help="only the part that goes inside an existing document"
    )
    latex_parser.add_argument(
        "--pdf",
        action="store_true",
        help="also run pdflatex and write OUT.pdf beside OUT.tex (without -o: MODEL.tex and MODEL.pdf "
        "in this folder); --timeout bounds it too",
    )
    latex_parser.add_argument(
        "--force", action="store_true", help="let --pdf without -o write over MODEL.tex and MODEL.pdf"
    )
    _hessian_option(latex_parser)
    _compact_option(latex_parser)

    html_parser = command("html", _cmd_html, "write the derivation as a self-contained web page")
    _file_argument(html_parser)
    html_parser.add_argument("-o", "--output", metavar="OUT.html", help="write here instead of stdout")
    _compact_option(html_parser)

    markdown_parser = command("markdown", _cmd_markdown, "write the derivation as Markdown with maths")
    _file_argument(markdown_parser)
    markdown_parser.add_argument("-o", "--output", metavar="OUT.md", help="write here instead of stdout")
    _hessian_option(markdown_parser)
    _compact_option(markdown_parser)
    file_help = f"a derivation file, or a built-in model's name (default: {DEFAULT_MODEL})"
    train = command(
        "train",
        cmd_train,
        "train a model's parameters on data: gradient descent (default), Newton's method, L-BFGS, "
        "or SGD and Adam in minibatches",
    )
    train.add_argument("file", nargs="?", help=file_help)
    train.add_argument(
        "--data",
        metavar="CSV",
        help="a CSV whose header names the inputs and targets (default: built-in data); with --dask or "
        "--scheduler, Parquet or CSV files, one partition each: a pattern such as 'data/*.parquet'",
    )
    train.add_argument(
        "--method",
        choices=("gd", "newton", "lbfgs", "sgd", "adam"),
        default="gd",
        help="gradient descent (default); damped Newton with a line search (its Hessian from the batch "
        f"module, or entry by entry for up to {MAX_SECOND_ORDER_PARAMETERS} parameters); SciPy's L-BFGS-B "
        "(needs symcalc-gradients[fit]); or, for a model with vectors and matrices, SGD or Adam in "
        "minibatches on its batch module",
    )
    train.add_argument(
        "--lr",
        "--learning-rate",
        dest="lr",
        type=positive,
        default=None,
        help="learning rate of gd and sgd (default 0.1) and adam (default 0.001)",
    )
    train.add_argument(
        "--epochs",
        type=count,
        default=None,
        metavar="N",
        help="at most N updates of gd, or iterations of newton and lbfgs (default 5000); "
        "N passes over the data of sgd and adam (default 20)",
    )
    train.add_argument(
        "--batch-size",
        type=positive_count,
        default=None,
        metavar="B",
        help="sgd and adam: B rows per step, shuffled by --seed each epoch (default: all rows)",
    )
    train.add_argument(
        "--momentum",
        type=momentum,
        default=0.0,
        metavar="M",
        help="sgd: the momentum, from 0 (default) to below 1",
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
        type=count,
        default=0,
        metavar="S",
        help="seed for the starting parameters, the held-out rows and sgd's and adam's shuffles (default 0)",
    )
    train.add_argument(
        "--plot", metavar="OUT.png", help="write the loss curve (and the boundary, for two inputs)"
    )
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    _set_option(train)
    train.add_argument(
        "--test-fraction",
        type=fraction,
        metavar="F",
        help="hold out this fraction of the rows (drawn by --seed) and report the test loss and accuracy",
    )
    train.add_argument(
        "--standardize",
        action="store_true",
        help="train on (x - mean)/std of each input column, from the training rows; targets stay as they are",
    )
    train.add_argument(
        "--save",
        metavar="PARAMS.json",
        help="write the fitted parameters (with the constants, any standardization and --columns' "
        "mapping) for codegen's load_parameters; not over a file without --force",
    )
    train.add_argument("--force", action="store_true", help="let --save write over an existing file")
    dask = train.add_argument_group(
        "on Dask", "train on data beyond one machine's memory (needs symcalc-gradients[dask])"
    )
    dask.add_argument(
        "--dask",
        action="store_true",
        help="evaluate each partition of --data on a Dask cluster of worker processes on this machine",
    )
    dask.add_argument(
        "--scheduler", metavar="ADDRESS", help="... on the existing Dask cluster whose scheduler is ADDRESS"
    )
    dask.add_argument(
        "--workers",
        type=positive_count,
        metavar="N",
        help="--dask's worker processes (default 2)",
    )
    dask.add_argument(
        "--memory-limit",
        metavar="BYTES",
        help="--dask's memory limit per worker, e.g. 2GB (default auto: this machine's memory shared out)",
    )
    train.add_argument(
        "--columns",
        action="append",
        default=[],
        metavar="NAME=COLUMN[,...]",
        help='read a model name from a CSV column of another name (--columns x1="mean radius"); '
        "may be repeated",
    )

    commands.add_parser(
        "models", help="list the built-in models with their titles", description="list the built-in models"
    ).set_defaults(handler=_cmd_models)

    new_parser = commands.add_parser(
        "new",
        help="write a commented template model file, NAME.toml, to start from",
        description="write a commented template model file, NAME.toml, to start from",
    )
    new_parser.add_argument("name", metavar="NAME", help="the file to write (.toml is added if missing)")
    new_parser.set_defaults(handler=_cmd_new)

    codegen = command(
        "codegen",
        _cmd_codegen,
        "write a module (NumPy, JAX or PyTorch) with the loss, gradient and step",
    )
    codegen.add_argument("file", nargs="?", help=file_help)
    codegen.add_argument(
        "-o", "--output", metavar="OUT.py", help="write the module here (default: standard output)"
    )
    codegen.add_argument(
        "--target",
        choices=("numpy", "jax", "torch"),
        default="numpy",
        help="the array library the module uses (default numpy; jax and torch need that library to run)",
    )
    codegen.add_argument(
        "--standalone",
        action="store_true",
        help="copy the runtime into a NumPy module, so that it runs where symcalc is not installed "
        "(without it the module imports symcalc's; JAX and PyTorch modules always hold theirs)",
    )
    _set_option(codegen)
    return parser


def _timeout_help(sub: argparse.ArgumentParser, text: str) -> None:
    for action in sub._actions:
        if action.dest == "timeout":
            action.help = text


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


def options_before_separator(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """`argv` with the command's own options that follow a "--" moved before it, with their values.

    ``symcalc check FILE dL/dz -- RHS --timeout 200``: the "--" is there so that RHS may start
    with "-"; argparse would take every word after it as an argument, and the option would be
    refused as unknown. No expression is spelled like an option (``--timeout`` is no expression
    a file could mean), so a word after the "--" that is exactly one of the command's options is one.
    """
    words = list(argv)
    if "--" not in words:
        return words
    separator = words.index("--")
    command = next((word for word in words[:separator] if not word.startswith("-")), None)
    sub = _subparser(parser, command)
    if sub is None:
        return words
    takes_value = {option: action.nargs != 0 for action in sub._actions for option in action.option_strings}
    before, after, moved = words[:separator], words[separator + 1 :], []
    rest: list[str] = []
    index = 0
    while index < len(after):
        word = after[index]
        option = word.split("=", 1)[0]
        if option.startswith("--") and option in takes_value:
            count = 1 if "=" in word or not takes_value[option] else 2
            moved += after[index : index + count]
            index += count
        else:
            rest.append(word)
            index += 1
    return [*before, *moved, "--", *rest]


def _is_dashed_expression(word: str) -> bool:
    if not word.startswith("-") or word.startswith("--") or word == "-h":
        return False
    try:
        float(word)
    except ValueError:
        return True
    return False  # a negative number: argparse already takes it as a positional argument


def unknown_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """The error for a first word that is not a command (`derviv`), with the nearest command, or None."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    # argparse has no public accessor for its subcommands: read them from its actions
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    names = [name for action in subcommands for name in action.choices]
    if word is None or word in names:
        return None
    fix = suggestion(word, names, f"commands: {', '.join(names)}")
    return f"unknown command {word!r} ({fix})"


def main(argv: Sequence[str] | None = None) -> int:
    # A console that cannot encode the maths (cp1252) gets ASCII spellings, not a UnicodeEncodeError.
    plain(sys.stdout)
    plain(sys.stderr)
    parser = build_parser()
    words = sys.argv[1:] if argv is None else list(argv)
    problem = unknown_command(parser, words)
    if problem is not None:
        print_error(problem)
        return EXIT_BAD_INPUT
    args, unknown = parser.parse_known_args(options_before_separator(parser, dashed_expressions_last(words)))
    if unknown:
        return _unknown_arguments(parser, args.command, unknown)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        if getattr(args, "file", None) == "-":
            # Read here: the time-limited child's standard input is not the terminal's. The text is
            # kept (spec.toml) and the child, a fork, has it too.
            read_spec("-")
        return int(args.handler(args))
    except SpecErrors as err:
        for line in err.lines:
            print_error(line)
        return EXIT_BAD_INPUT
    except SymcalcError as err:
        print_error(err.message)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print_error("interrupted")
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


def _unknown_arguments(parser: argparse.ArgumentParser, command: str | None, unknown: list[str]) -> int:
    """The usage of the command given (not the top level's), then one line naming the first unknown
    argument and, for an option, the command's nearest one: `--lrate` → did you mean '--lr'?"""
    sub = _subparser(parser, command) or parser
    sys.stderr.write(sub.format_usage())
    word = unknown[0]
    where = f"{command}: " if command else ""
    if word.startswith("-"):
        options = [o for action in sub._actions for o in action.option_strings if o.startswith("--")]
        fix = suggestion(word.split("=")[0], options, f"{command or 'symcalc'} --help lists the options")
        print_error(f"{where}unknown option {word!r} ({fix})")
    else:
        print_error(f"{where}unexpected argument {word!r} (symcalc {command or ''} --help shows the usage)")
    return EXIT_BAD_INPUT


def _subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return None


def _bug(summary: str, trace: str, debug: bool) -> int:
    if debug:
        print(trace, file=sys.stderr, end="")
    print_error(
        f"internal error ({summary}); this is a bug in symcalc, please report it"
        + ("" if debug else " with the output of --debug")
    )
    return EXIT_BAD_INPUT
