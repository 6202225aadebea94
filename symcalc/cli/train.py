"""`symcalc train`: the model derived and compiled in the limited child, the data read (in memory,
or partitioned on Dask), the chosen method run epoch by epoch with a progress bar, and the result
printed, plotted and saved."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from symcalc.cli import work
from symcalc.cli.commands import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    limited,
    parse_settings,
    say_wrote,
    source_name,
)
from symcalc.errors import Location, SymcalcError
from symcalc.files import check_output, write_atomic

if TYPE_CHECKING:
    from collections.abc import Callable

    from symcalc.numeric.data import Dataset
    from symcalc.numeric.distributed import Partitioned
    from symcalc.numeric.model import NumericModel
    from symcalc.numeric.program import Program
    from symcalc.render.training import Summary, TestResult
    from symcalc.symbolic.graph import Model


def cmd_train(args: argparse.Namespace) -> int:
    from symcalc.numeric.data import check_finite_loss, check_mapped_names, parse_columns
    from symcalc.numeric.model import NumericModel
    from symcalc.numeric.partitions import data_files, is_glob

    on_dask = args.dask or args.scheduler is not None
    work.refuse_batch_level(args.file)
    _check_cluster_options(args)
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
        _check_save(args.save, args.force)
    mapping = parse_columns(args.columns)
    # the data decide a vector's size for this run: from a pattern's first file
    first = data_files(args.data)[0][0] if on_dask else args.data
    sizes = work.data_sizes(args.file, first, mapping)
    # --set's values, checked against the file's constants and their domains where the model is loaded
    constants = parse_settings(args.set, source_name(args.file))
    _check_method_options(args)
    newton = args.method == "newton"
    minibatches = args.method in MINIBATCH_METHODS
    if newton:
        _check_newton_size(args.file, sizes)
    # a model with vectors trains on its batch module, in memory or on Dask (the partitions' sums)
    if minibatches or work.declares_shapes(args.file):
        from symcalc.cli.fitting import array_run

        batch = limited(work.batch_file, args.file, constants, newton, minibatches, timeout=args.timeout)
        if batch is not None:
            summary, draw, model = array_run(args, mapping, batch)
            return _report(args, summary, model, draw)
    program = limited(work.program_file, args.file, sizes, newton, constants, timeout=args.timeout)
    numeric = NumericModel(program)
    model = program.model
    check_mapped_names(mapping, model)
    start = numeric.start(args.seed)
    zero = [p for p, g in zip(program.parameters, program.gradients, strict=True) if g == 0]
    if on_dask:
        from symcalc.numeric.distributed import cluster, from_files

        for warning in work.unused_parameters(model.loss.name, program.parameters, zero):
            print(f"symcalc: warning: {warning}", file=sys.stderr)
        memory = args.memory_limit or "auto"
        with cluster(args.scheduler, args.workers or 2, memory, args.timeout) as client:
            partitions = from_files(args.data, client, args.timeout)
            if args.test_fraction is not None:  # each file's own share held out, drawn by --seed
                partitions.hold_out(args.test_fraction, args.seed)
            # with --standardize every task from here on scales the inputs it reads
            standardized = partitions.standardize(numeric, mapping) if args.standardize else ()
            # every partition read and checked (on the workers) before the first epoch, as a CSV is
            partitions.check(numeric, start, None, mapping)
            partitions.persist_if_it_fits(numeric)
            assert partitions.rows is not None
            test = partitions.held_out() if args.test_fraction is not None else None
            where = Run(partitions, partitions.rows, args.data, partitions.where, test, standardized)
            return _train(args, numeric, where, start)
    data = _training_data(args, program, mapping)
    for warning in [*work.unused_parameters(model.loss.name, program.parameters, zero), *data.warnings]:
        print(f"symcalc: warning: {warning}", file=sys.stderr)
    dataset = data.train
    check_finite_loss(dataset, numeric.per_sample_loss(start, dataset.columns))
    numeric.build()  # the kernel is compiled here, not in the first epoch: `time taken` is training's
    where = Run(
        dataset.columns, len(dataset), dataset.source, numeric.describe(), data.test, data.standardized
    )
    return _train(args, numeric, where, start)


@dataclass(frozen=True)
class Run:
    """Where `train` runs: the data (NumPy columns, or partitions on Dask), their rows, how to name
    them, what computes the loss and gradients; the held-out rows and the standardization."""

    data: Any
    rows: int
    source: str
    computed_by: str
    test: Dataset | Partitioned | None = None
    standardized: tuple[tuple[str, float, float], ...] = ()


#: The methods that train in minibatches (`symcalc.cli.fitting`), on the model's batch module.
MINIBATCH_METHODS = ("sgd", "adam")
#: The most entries of all the parameters Newton's method takes on arrays: its Hessian has the square.
MAX_NEWTON_ENTRIES = 4096


def _check_method_options(args: argparse.Namespace) -> None:
    """--batch-size is for sgd and adam, --momentum for sgd: with another method they would do nothing."""
    for option, given, methods in (
        ("--batch-size", args.batch_size is not None, MINIBATCH_METHODS),
        ("--momentum", args.momentum != 0, ("sgd",)),
    ):
        if given and args.method not in methods:
            raise SymcalcError(
                f"{option} is for --method {' or '.join(methods)}, not {args.method}",
                fix=f"drop {option}, or train with --method {methods[0]}",
            )


def _check_cluster_options(args: argparse.Namespace) -> None:
    """--workers and --memory-limit shape the cluster --dask starts: anywhere else they would do nothing."""
    given = [
        option
        for option, value in (("--workers", args.workers), ("--memory-limit", args.memory_limit))
        if value is not None
    ]
    if given and not args.dask:
        where = (
            f"the cluster at {args.scheduler} has its own workers"
            if args.scheduler is not None
            else "without --dask the data are in this process"
        )
        raise SymcalcError(
            f"{given[0]} is for the cluster that --dask starts on this machine: {where}",
            fix=f"drop {given[0]}" if args.scheduler is not None else f"add --dask, or drop {given[0]}",
        )


def _check_dask_options(args: argparse.Namespace) -> None:
    """--dask and --scheduler need --data, and are not given together."""
    mode = "--dask" if args.dask else "--scheduler"
    if args.dask and args.scheduler is not None:
        raise SymcalcError(
            "--dask and --scheduler both given", fix="--dask starts a cluster here; --scheduler uses one"
        )
    if args.data is None:
        raise SymcalcError(f"{mode} needs --data", fix="e.g. --data 'data/*.parquet'")


def _train(
    args: argparse.Namespace,
    numeric: NumericModel,
    where: Run,
    start: dict[str, float],
) -> int:
    """The epochs, with the progress bar, then the summary (table or --json), the plot and --save."""
    from rich.console import Console

    from symcalc.cli.fitting import FULL_BATCH_EPOCHS, FULL_BATCH_LEARNING_RATE
    from symcalc.numeric.data import parse_columns
    from symcalc.numeric.descent import Epoch, Stop, run
    from symcalc.render import training

    program = numeric.program
    model = program.model
    second_order = args.method == "newton"
    epochs = FULL_BATCH_EPOCHS if args.epochs is None else args.epochs
    learning_rate = FULL_BATCH_LEARNING_RATE if args.lr is None else args.lr
    records = work.method_records(args.method, numeric, where.data, start, learning_rate, epochs, args.tol)
    seen: list[Epoch] = []
    with training.progress_bar(Console(stderr=True), epochs) as update:

        def on_epoch(record: Epoch) -> None:
            seen.append(record)
            update(record)

        last = run(records, on_epoch)
    shapes = model.shaped.sizes_of if model.shaped and model.spec else None
    # Ctrl-C reaches a local cluster's workers too: no further pass over partitions after it
    interrupted = last.stop is Stop.INTERRUPTED and not isinstance(where.data, dict)
    summary = training.Summary(
        last,
        None if interrupted else numeric.accuracy(last.parameters, where.data),
        where.rows,
        where.source,
        where.computed_by + (f"; {numeric.second_order_by}" if second_order else ""),
        shapes(model.spec.parameters) if shapes and model.spec else (),
        args.method,
        tuple((r.epoch, r.loss, r.gradient_norm) for r in seen) if args.method != "gd" else (),
        tuple(numeric.constants.items()),
        None if interrupted else _test_result(numeric, last.parameters, where.test),
        where.standardized,
        shapes(model.spec.inputs) if shapes and model.spec else (),
    )

    def draw(path: str) -> None:
        from symcalc.files import write_atomic
        from symcalc.numeric.curves import boundary_of

        target = program.targets[0] if program.targets else None
        columns = parse_columns(args.columns)
        # on Dask the rows stay on the workers: the loss curve alone, no decision boundary
        boundary = (
            None
            if not isinstance(where.data, dict)
            else boundary_of(
                last, where.data, program.inputs, target, numeric.logit, where.standardized, columns
            )
        )
        write_atomic(path, training.plot(last, boundary, args.plot_format, args.method))

    return _report(args, summary, model, draw)


def _report(args: argparse.Namespace, summary: Summary, model: Model, draw: Callable[[str], None]) -> int:
    """The summary (table or --json), the plot (`draw`) and --save; the exit status for how it stopped."""
    from rich.console import Console

    from symcalc.numeric.data import parse_columns
    from symcalc.numeric.descent import Stop
    from symcalc.render import training

    if args.json:
        print(json.dumps(training.summary_dict(summary), indent=2, allow_nan=False))
    else:
        training.print_summary(Console(), summary)
    if args.plot is not None:
        draw(args.plot)
        say_wrote(args.plot)
    if args.save is not None:
        columns = parse_columns(args.columns)
        saved = training.saved_dict(summary, model.title, _model_name(model.source), columns)
        write_atomic(args.save, json.dumps(saved, indent=2, allow_nan=False) + "\n", replace=args.force)
        say_wrote(args.save)
    stop = summary.final.stop
    if stop is Stop.INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if stop in (Stop.NON_FINITE, Stop.DIVERGING) else EXIT_OK


def _check_save(path: str, force: bool) -> None:
    """--save PARAMS.json names a new JSON file in a folder that exists (or, with --force, an existing
    file to replace): checked before training."""
    check_output(path, {".json": "json"}, "--save")
    if Path(path).exists() and not (force and Path(path).is_file()):
        raise SymcalcError(
            "already exists: --save writes over a file only with --force",
            Location(source=path),
            fix="add --force, or choose another name",
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


def _training_data(args: argparse.Namespace, program: Program, mapping: dict[str, str]) -> _TrainingData:
    """The data read (--data, else the built-in), split (--test-fraction) and standardized (--standardize,
    by the training rows' statistics); the scale warning when the inputs differ widely and are not.
    Which targets are 0/1 labels was decided with the program, in the limited child."""
    from symcalc.numeric.data import labels_of, load_builtin, load_csv, scale_warning, split, standardization

    data = args.data
    dataset = load_csv(data, program, mapping) if data is not None else load_builtin(program, mapping)
    train, test = dataset, None
    if args.test_fraction is not None:
        train, test = split(dataset, args.test_fraction, args.seed, labels_of(program))
    inputs = list(program.inputs)
    if not args.standardize:
        warning = scale_warning(train, inputs)
        return _TrainingData(train, test, (), (*dataset.warnings, *([warning] if warning else [])))
    scaling = standardization(train, inputs)
    standardized = scaling.shown
    held = None if test is None else scaling.apply(test)
    return _TrainingData(scaling.apply(train), held, standardized, dataset.warnings)


def _test_result(
    numeric: NumericModel, params: dict[str, float], test: Dataset | Partitioned | None
) -> TestResult | None:
    """The mean loss on the held-out rows (in memory, or on Dask one pass over every partition's), by
    the back end that trained; the accuracy where the model predicts a 0/1 label (a = σ(u): class 1
    where u ≥ 0, i.e. a ≥ 0.5)."""
    from symcalc.numeric.distributed import Partitioned
    from symcalc.render.training import TestResult

    if test is None:
        return None
    if isinstance(test, Partitioned):
        assert test.rows is not None
        return TestResult(test.rows, numeric.loss(params, test), numeric.accuracy(params, test))
    loss = numeric.loss(params, test.columns)
    return TestResult(len(test), loss, numeric.accuracy(params, test.columns))


def _check_newton_size(target: str | None, sizes: dict[str, int]) -> None:
    """Refuse Newton's method for parameters too many for one Hessian, before anything is derived (a
    Hessian derived at those sizes first could take longer than --timeout to end in the refusal)."""
    entries, dimensions = work.parameter_entries(target, sizes)
    if entries > MAX_NEWTON_ENTRIES:
        shown = ", ".join(f"{name} = {size}" for name, size in dimensions.items())
        at = f" at {shown}" if shown else ""
        raise SymcalcError(
            f"Newton's method solves with the Hessian of every parameter entry: {entries} entries{at}; "
            f"the limit is {MAX_NEWTON_ENTRIES}",
            fix="train with --method lbfgs or gd",
        )
