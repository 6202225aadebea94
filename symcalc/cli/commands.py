"""One handler per command: run its work under the limits, print or write the result, return the exit code."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from symcalc.cli import work
from symcalc.errors import LimitError, Location, SpecError, SpecErrors, SymcalcError
from symcalc.files import check_output, write_atomic
from symcalc.isolate import check_timeout, run_limited
from symcalc.render.pdf import compile_pdf
from symcalc.spec.toml import builtin_models
from symcalc.spec.toml import load as load_spec

if TYPE_CHECKING:
    from symcalc.check.records import Check
    from symcalc.numeric.data import Dataset
    from symcalc.numeric.model import NumericModel
    from symcalc.render.training import TestResult
    from symcalc.symbolic.graph import Model

# Copies of symcalc.spec.toml.DEFAULT_MODEL and symcalc.check.checks' defaults, for the help texts
# (importing those modules loads SymPy); tests/test_startup.py holds them equal.
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
        raise err.at(Location(source=_source(target))) from None


def _cmd_derive(args: argparse.Namespace) -> int:
    text, warnings = limited(
        work.derive_output, args.file, args.json, args.hessian, args.compact, timeout=args.timeout
    )
    for warning in warnings:
        print(f"symcalc: warning: {warning}", file=sys.stderr)
    sys.stdout.write(text)
    sys.stdout.flush()  # a closed pipe is reported here (exit 141), not at exit
    return EXIT_OK


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
                    Location(source=_source(target)),
                )
            title, checks = limited(
                work.verify_file,
                target,
                args.strict,
                args.points,
                args.seed,
                args.hessian,
                _settings(args.set, _source(target)),
                timeout=remaining,
            )
        except SymcalcError as err:  # this file is bad input; the others are still verified
            lines = err.lines if isinstance(err, SpecErrors) else [err.message]
            for line in lines:
                print_error(line)
            errors.append({"source": _source(target), "errors": lines})
            continue
        reports.append((_source(target), title, checks))
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
        _settings(args.set, _source(args.file)),
        timeout=args.timeout,
    )
    reports = [(_source(args.file), title, checks)]
    _report(reports, [], args.json)
    return _exit_code(reports, [])


def _cmd_latex(args: argparse.Namespace) -> int:
    if args.output is not None:
        hint = ", and add --pdf for the PDF beside it"
        check_output(args.output, {".tex": "latex", ".ltx": "latex"}, "latex -o", hint)
    pdf_path = _pdf_path(args) if args.pdf else None
    text = limited(work.latex_file, args.file, args.body, args.hessian, args.compact, timeout=args.timeout)
    # Compile before writing anything, so that a failed run leaves no output at all.
    pdf = compile_pdf(text, timeout=args.timeout) if pdf_path is not None else None
    _emit(text, args.output)
    if pdf_path is not None and pdf is not None:
        write_atomic(pdf_path, pdf)  # OUT.pdf beside the named OUT.tex counts as named
        _wrote(pdf_path)
    return EXIT_OK


def _pdf_path(args: argparse.Namespace) -> Path:
    if args.output is None:
        raise SymcalcError("--pdf needs -o OUT.tex: the PDF is written beside it")
    if args.body:
        raise SymcalcError("--pdf compiles a whole document", fix="drop --body")
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
        limited(work.markdown_file, args.file, args.hessian, args.compact, timeout=args.timeout), args.output
    )
    return EXIT_OK


def _cmd_html(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output(args.output, {".html": "html", ".htm": "html"}, "html -o")
    _emit(limited(work.html_file, args.file, args.compact, timeout=args.timeout), args.output)
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


def _emit(text: str, output: str | None) -> None:
    """`text` to the file the user named (replacing it, and saying so on stderr), or to stdout."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomic(output, text)
        _wrote(output)


def _wrote(path: str | Path) -> None:
    """Every command that writes a file says so, in one line on stderr (stdout stays the output)."""
    print(f"symcalc: wrote {path}", file=sys.stderr)


def _cmd_codegen(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output(args.output, {".py": "python"}, "codegen -o")
    constants = _settings(args.set, _source(args.file))
    _emit(limited(work.codegen_file, args.file, args.target, constants, timeout=args.timeout), args.output)
    return EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    from symcalc.numeric.data import check_finite_loss, check_mapped_names, parse_columns
    from symcalc.numeric.model import NumericModel
    from symcalc.numeric.partitions import data_files, is_glob

    on_dask = args.dask or args.scheduler is not None
    if on_dask:
        _check_dask_options(args)
    elif args.data is not None and is_glob(args.data):
        raise SymcalcError(
            "a pattern of files is read on Dask",
            Location(key=f"--data {args.data}"),
            fix="add --dask (a cluster on this machine) or --scheduler ADDRESS; "
            "needs symcalc-gradients[dask]",
        )
    if args.plot is not None:
        args.plot_format = check_output(args.plot, {".png": "png", ".svg": "svg", ".pdf": "pdf"}, "--plot")
        from symcalc.render import training

        training.check_plotting()
    if args.save is not None:
        _check_save(args.save)
    mapping = parse_columns(args.columns)
    # the data decide a vector's size for this run: from a pattern's first file
    first = data_files(args.data)[0][0] if on_dask else args.data
    sizes = work.data_sizes(args.file, first, mapping)
    program = limited(work.program_file, args.file, sizes, args.method == "newton", timeout=args.timeout)
    numeric = NumericModel(program)
    model = program.model
    check_mapped_names(mapping, model)
    constants = _constants(args.set, numeric.constants, _source(args.file))
    start = numeric.start(args.seed)
    zero = [p for p, g in zip(program.parameters, program.gradients, strict=True) if g == 0]
    if on_dask:
        from symcalc.numeric.distributed import cluster, from_files

        for warning in work.unused_parameters(model.loss.name, program.parameters, zero):
            print(f"symcalc: warning: {warning}", file=sys.stderr)
        with cluster(args.scheduler, args.workers, args.memory_limit) as client:
            partitions = from_files(args.data, client)
            # every partition read and checked (on the workers) before the first epoch, as a CSV is
            partitions.check(numeric, start, constants, mapping)
            partitions.persist_if_it_fits(numeric)
            assert partitions.rows is not None
            where = Run(partitions, partitions.rows, args.data, partitions.where)
            return _train(args, numeric, where, start, constants)
    data = _training_data(args, model, mapping)
    for warning in [*work.unused_parameters(model.loss.name, program.parameters, zero), *data.warnings]:
        print(f"symcalc: warning: {warning}", file=sys.stderr)
    dataset = data.train
    check_finite_loss(dataset, numeric.per_sample_loss(start, dataset.columns, constants))
    numeric.build()  # the kernel is compiled here, not in the first epoch: `time taken` is training's
    where = Run(
        dataset.columns, len(dataset), dataset.source, numeric.describe(), data.test, data.standardized
    )
    return _train(args, numeric, where, start, constants)


@dataclass(frozen=True)
class Run:
    """Where `train` runs: the data (NumPy columns, or partitions on Dask), their rows, how to name
    them, what computes the loss and gradients; the held-out rows and the standardization."""

    data: Any
    rows: int
    source: str
    computed_by: str
    test: Dataset | None = None
    standardized: tuple[tuple[str, float, float], ...] = ()


def _check_dask_options(args: argparse.Namespace) -> None:
    """--dask and --scheduler need --data, and the options that need all the rows in memory are refused."""
    mode = "--dask" if args.dask else "--scheduler"
    if args.dask and args.scheduler is not None:
        raise SymcalcError(
            "--dask and --scheduler both given", fix="--dask starts a cluster here; --scheduler uses one"
        )
    if args.data is None:
        raise SymcalcError(f"{mode} needs --data", fix="e.g. --data 'data/*.parquet'")
    refused = {
        "--method newton": args.method == "newton",
        "--test-fraction": args.test_fraction is not None,
        "--standardize": args.standardize,
        "--plot": args.plot is not None,
    }
    for option, given in refused.items():
        if given:
            raise SymcalcError(
                f"{option} is not available with {mode}: it needs every row in one process",
                fix="train in memory from a CSV file, without " + mode,
            )


def _train(
    args: argparse.Namespace,
    numeric: NumericModel,
    where: Run,
    start: dict[str, float],
    constants: dict[str, float],
) -> int:
    """The epochs, with the progress bar, then the summary (table or --json), the plot and --save."""
    from rich.console import Console

    from symcalc.numeric.descent import Epoch, Stop, run
    from symcalc.render import training

    program = numeric.program
    model = program.model
    second_order = args.method == "newton"
    records = work.method_records(
        args.method, numeric, where.data, start, args.lr, args.epochs, args.tol, constants
    )
    seen: list[Epoch] = []
    with training.progress_bar(Console(stderr=True), args.epochs) as update:

        def on_epoch(record: Epoch) -> None:
            seen.append(record)
            update(record)

        last = run(records, on_epoch)
    shapes = model.shaped.sizes_of if model.shaped and model.spec else None
    # Ctrl-C reaches a local cluster's workers too: no further pass over partitions after it
    interrupted = last.stop is Stop.INTERRUPTED and not isinstance(where.data, dict)
    summary = training.Summary(
        last,
        None if interrupted else numeric.accuracy(last.parameters, where.data, constants),
        where.rows,
        where.source,
        where.computed_by + (f"; {numeric.second_order_by}" if second_order else ""),
        shapes(model.spec.parameters) if shapes and model.spec else (),
        args.method,
        tuple((r.epoch, r.loss, r.gradient_norm) for r in seen) if args.method != "gd" else (),
        tuple({**numeric.constants, **constants}.items()),
        _test_result(numeric, last.parameters, where.test, constants),
        where.standardized,
        shapes(model.spec.inputs) if shapes and model.spec else (),
    )
    if args.json:
        print(json.dumps(training.summary_dict(summary), indent=2, allow_nan=False))
    else:
        training.print_summary(Console(), summary)
    if args.plot is not None:
        target = program.targets[0] if program.targets else None
        training.plot(
            args.plot, last, where.data, program.inputs, target, numeric.logit, args.plot_format, args.method
        )
        print(f"symcalc: wrote {args.plot}", file=sys.stderr)
    if args.save is not None:
        saved = training.saved_dict(summary, model.title, _model_name(model.source))
        write_atomic(args.save, json.dumps(saved, indent=2, allow_nan=False) + "\n", replace=False)
        print(f"symcalc: wrote {args.save}", file=sys.stderr)
    if last.stop is Stop.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if last.stop in (Stop.NON_FINITE, Stop.DIVERGING) else EXIT_OK


def _check_save(path: str) -> None:
    """--save PARAMS.json names a new JSON file in a folder that exists: checked before training."""
    check_output(path, {".json": "json"}, "--save")
    if Path(path).exists():
        raise SymcalcError(
            "already exists: --save never writes over a file",
            Location(source=path),
            fix="remove it, or choose another name",
        )


def _model_name(source: str) -> str:
    """A model as `train` was given it: a built-in's name, or its file's name without .toml."""
    return Path(source.removesuffix(" (built in)")).name.removesuffix(".toml")


@dataclass(frozen=True)
class _TrainingData:
    """What `train` fits and tests on: the training rows (standardized with --standardize), the rows
    --test-fraction held out (standardized alike) or None, each input's (name, mean, scale), warnings."""

    train: Dataset
    test: Dataset | None
    standardized: tuple[tuple[str, float, float], ...]
    warnings: tuple[str, ...]


def _training_data(args: argparse.Namespace, model: Model, mapping: dict[str, str]) -> _TrainingData:
    """The data read (--data, else the built-in), split (--test-fraction) and standardized (--standardize,
    by the training rows' statistics); the scale warning when the inputs differ widely and are not."""
    from symcalc.numeric.data import load_builtin, load_csv, scale_warning, split, standardization

    dataset = load_csv(args.data, model, mapping) if args.data is not None else load_builtin(model, mapping)
    train, test = dataset, None
    if args.test_fraction is not None:
        train, test = split(dataset, args.test_fraction, args.seed, model)
    inputs = [s.name for s in model.inputs]
    if not args.standardize:
        warning = scale_warning(train, inputs)
        return _TrainingData(train, test, (), (*dataset.warnings, *([warning] if warning else [])))
    scaling = standardization(train, inputs)
    standardized = tuple((name, scaling.means[name], scaling.scales[name]) for name in inputs)
    held = None if test is None else scaling.apply(test)
    return _TrainingData(scaling.apply(train), held, standardized, dataset.warnings)


def _test_result(
    numeric: NumericModel, params: dict[str, float], test: Dataset | None, constants: dict[str, float]
) -> TestResult | None:
    """The mean loss on the held-out rows, by the back end that trained; the accuracy where the model
    predicts a 0/1 label (a = σ(u): class 1 where u ≥ 0, i.e. a ≥ 0.5)."""
    from symcalc.render.training import TestResult

    if test is None:
        return None
    loss = numeric.loss(params, test.columns, constants)
    return TestResult(len(test), loss, numeric.accuracy(params, test.columns, constants))


def _constants(settings: Sequence[str], known: dict[str, float], source: str) -> dict[str, float]:
    """--set NAME=VALUE, each a constant of the model and a finite number; one line naming the bad one."""
    from symcalc.spec.names import suggestion

    values = _settings(settings, source)
    for name, value in values.items():
        if name not in known:
            listed = ", ".join(known) or "none"
            fix = suggestion(name, known, f"the model's constants: {listed}")
            where = Location(source=source, key=f"--set {name}={value:g}")
            raise SymcalcError(f"{name!r} is not a constant of the model", where, fix=fix)
    return values


def _settings(settings: Sequence[str], source: str) -> dict[str, float]:
    """--set NAME=VALUE as names and finite numbers (loading the model checks the names)."""
    values: dict[str, float] = {}
    for setting in settings:
        name, equals, text = setting.partition("=")
        name = name.strip()
        where = Location(source=source, key=f"--set {setting}")
        if not equals:
            raise SymcalcError("is not NAME=VALUE", where, fix="e.g. --set lamda=0.5")
        try:
            value = float(text)
        except ValueError:
            raise SymcalcError(f"{text.strip()!r} is not a number", where) from None
        if not math.isfinite(value):
            raise SymcalcError(f"{text.strip()!r} is not a finite number", where)
        values[name] = value
    return values


def print_error(message: str) -> None:
    # One line per problem, whatever a message quotes from a file or an exception.
    one_line = " ".join(message.splitlines())
    print(f"symcalc: error: {one_line}", file=sys.stderr)
