"""`symcalc train` for a model with vectors and matrices: its batch module (the text `codegen` writes)
trained on arrays at the data's sizes, whatever they are; by `symcalc.fit` in minibatches (--method
sgd | adam), or by full-batch gradient descent, Newton's method or L-BFGS. With --dask or
--scheduler, gd and lbfgs step on the sums of every partition, each evaluated by the same module on
its Dask worker (`symcalc.numeric.batch_partitions`), and sgd and adam step through each partition's
minibatches on its worker (`symcalc.numeric.fit_dask`). This module only wires the options, the
data and the report."""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from symcalc.cli import work

if TYPE_CHECKING:
    from types import ModuleType

    from symcalc.numeric.batch_data import Columns
    from symcalc.numeric.batch_fit import BatchModel
    from symcalc.numeric.data import Dataset
    from symcalc.numeric.descent import Epoch
    from symcalc.numeric.fit import Fitted
    from symcalc.render.training import Summary
    from symcalc.symbolic.graph import Model

#: The methods that train in minibatches, and each one's epochs when --epochs is not given.
MINIBATCH_EPOCHS = {"sgd": 20, "adam": 20}
#: --epochs and --lr of gd, newton and lbfgs when not given.
FULL_BATCH_EPOCHS = 5000
FULL_BATCH_LEARNING_RATE = 0.1


def array_run(
    args: argparse.Namespace, mapping: dict[str, str], batch: BatchModel
) -> tuple[Summary, Callable[[str], None], Model]:
    """Train as --method asks, on the batch module of `batch` (with --dask or --scheduler, on every
    partition where it is: `_on_dask`); the summary, and what draws the loss curve for --plot."""
    from rich.console import Console

    from symcalc.numeric.batch_data import columns_for
    from symcalc.numeric.codegen import load_module
    from symcalc.numeric.data import columns_of, renamed_header
    from symcalc.render import training

    if args.dask or args.scheduler is not None:
        return _on_dask(args, mapping, batch)
    header, source = columns_of(args.data)
    sizes = {**dict(batch.sizes), **work.data_sizes(args.file, args.data, mapping)}
    columns = columns_for(batch, sizes, renamed_header(header, mapping))
    columns.check_mapping(mapping, source)
    train, test, standardized = _datasets(args, batch, columns, mapping)
    module = load_module(batch.source, "symcalc_batch")
    data = columns.arrays(train)
    minibatches = args.method in MINIBATCH_EPOCHS
    epochs = args.epochs if args.epochs is not None else MINIBATCH_EPOCHS.get(args.method, FULL_BATCH_EPOCHS)
    with training.progress_bar(Console(stderr=True), epochs) as update:
        job = _Job(args, batch, module, data, sizes, epochs, update)
        seen: list[Epoch] = []
        if minibatches:
            final = _minibatches(job)
        else:
            final, seen = _full_batch(job)
    rows = f", minibatches of {args.batch_size or len(train)} rows" if minibatches else ""
    if args.method == "newton":
        rows = "; the batch module for the Hessian (Xᵀ S X / m)"
    run = _Run(
        len(train),
        train.source,
        f"the batch module (codegen --target numpy){rows}",
        _accuracy(batch, module, final.parameters, data),
        _test(batch, module, final.parameters, columns, test),
        standardized,
    )
    return _summary(args, job, final, seen, run)


def _on_dask(
    args: argparse.Namespace, mapping: dict[str, str], batch: BatchModel
) -> tuple[Summary, Callable[[str], None], Model]:
    """--method gd | lbfgs | sgd | adam on the partitions of --data, each evaluated (or stepped
    through in minibatches) by the batch module on the Dask worker that holds it
    (`symcalc.numeric.batch_partitions`, `symcalc.numeric.fit_dask`), from the start in memory."""
    from rich.console import Console

    from symcalc.numeric.batch_data import columns_for
    from symcalc.numeric.batch_fit import initial_parameters
    from symcalc.numeric.batch_partitions import BatchPartitions, BatchProgram
    from symcalc.numeric.data import columns_of, renamed_header
    from symcalc.numeric.descent import Stop
    from symcalc.numeric.distributed import cluster, from_files
    from symcalc.numeric.fit_dask import fit_partitions
    from symcalc.numeric.partitions import data_files
    from symcalc.render import training
    from symcalc.render.training import TestResult

    first = data_files(args.data)[0][0]  # the first file's columns decide the sizes, as for a CSV
    header, source = columns_of(first)
    sizes = {**dict(batch.sizes), **work.data_sizes(args.file, first, mapping)}
    columns = columns_for(batch, sizes, renamed_header(header, mapping))
    columns.check_mapping(mapping, source)
    numeric = BatchPartitions(BatchProgram.of(batch, columns))
    minibatches = args.method in MINIBATCH_EPOCHS
    epochs = args.epochs if args.epochs is not None else MINIBATCH_EPOCHS.get(args.method, FULL_BATCH_EPOCHS)
    start = initial_parameters(batch, sizes, args.seed) if minibatches else _start(batch, sizes, args.seed)
    with cluster(args.scheduler, args.workers or 2, args.memory_limit or "auto", args.timeout) as client:
        partitions = from_files(args.data, client, args.timeout)
        if args.test_fraction is not None:  # each file's own share held out, drawn by --seed
            partitions.hold_out(args.test_fraction, args.seed)
        # with --standardize every task from here on scales the inputs it reads
        standardized = partitions.standardize(numeric, mapping) if args.standardize else ()
        # every partition read and checked (on the workers) before the first epoch, as a CSV is
        partitions.check(numeric, start, None, mapping)
        partitions.persist_if_it_fits(numeric)
        with training.progress_bar(Console(stderr=True), epochs) as update:
            job = _Job(args, batch, numeric.module, {}, sizes, epochs, update)
            seen: list[Epoch] = []
            if minibatches:
                final = _minibatches(
                    job,
                    lambda **options: fit_partitions(numeric, partitions, start, **options),
                    lambda params: numeric.evaluate(params, partitions),
                )
            else:
                final, seen = _full_batch(
                    job,
                    lambda params: numeric.evaluate(params, partitions),
                    lambda params: numeric.second_order(params, partitions),
                )
        # Ctrl-C reaches a local cluster's workers too: no further pass over the partitions after it
        interrupted = final.stop is Stop.INTERRUPTED
        accuracy = None if interrupted else numeric.accuracy(final.parameters, partitions)
        test = None
        if args.test_fraction is not None and not interrupted:  # one pass over the held-out rows
            held = partitions.held_out()
            assert held.rows is not None
            loss = numeric.evaluate(final.parameters, held)[0]
            test = TestResult(held.rows, loss, numeric.accuracy(final.parameters, held))
    assert partitions.rows is not None
    rows = "; the batch module for the Hessian (Xᵀ S X / m)" if args.method == "newton" else ""
    if minibatches:
        size = f"minibatches of {args.batch_size} rows in each partition" if args.batch_size else ""
        rows = f", {size or 'each partition one minibatch'}"
    # gd and lbfgs records carry the gradient at their parameters; sgd and adam's is one more pass
    evaluated = not (minibatches and interrupted)
    run = _Run(partitions.rows, args.data, partitions.where + rows, accuracy, test, standardized, evaluated)
    return _summary(args, job, final, seen, run)


@dataclasses.dataclass(frozen=True)
class _Run:
    """Where a run trained: its rows, how to name them, what computed, the accuracy on the training
    rows, the held-out rows' result and the standardization."""

    rows: int
    source: str
    computed_by: str
    accuracy: float | None
    test: Any
    standardized: tuple[tuple[str, float, float], ...]
    #: False: stopped before the gradient at the final parameters was evaluated (Ctrl-C on Dask).
    gradient_evaluated: bool = True


def _summary(
    args: argparse.Namespace, job: _Job, final: Epoch, seen: list[Epoch], run: _Run
) -> tuple[Summary, Callable[[str], None], Model]:
    """The summary of a run (each parameter's entries by their written-out names), and what draws
    the loss curve for --plot."""
    from symcalc.render import training

    batch, sizes = job.batch, job.sizes
    shapes = tuple((name, batch.shape(name, sizes)) for name in batch.parameters)
    gradient = _flat(final.gradient, shapes) if run.gradient_evaluated else {}
    last = dataclasses.replace(final, parameters=_flat(final.parameters, shapes), gradient=gradient)
    summary = training.Summary(
        last,
        run.accuracy,
        run.rows,
        run.source,
        run.computed_by,
        tuple((name, shape) for name, shape in shapes if shape),
        args.method,
        ()
        if args.method in ("gd", *MINIBATCH_EPOCHS)
        else tuple((r.epoch, r.loss, r.gradient_norm) for r in seen),
        tuple(job.module.CONSTANTS.items()),
        run.test,
        run.standardized,
        tuple((name, shape) for name in batch.inputs if (shape := batch.shape(name, sizes))),
        run.gradient_evaluated,
    )

    def plot(path: str) -> None:
        from symcalc.files import write_atomic

        write_atomic(path, training.plot(last, None, args.plot_format, args.method))

    return summary, plot, batch.model


@dataclasses.dataclass(frozen=True)
class _Job:
    """What a method trains: the options, the model and its module, the training arrays at their
    sizes (none on Dask: the workers hold them), how many epochs, and what shows
    each epoch's record."""

    args: argparse.Namespace
    batch: BatchModel
    module: ModuleType
    data: dict[str, Any]
    sizes: Mapping[str, int]
    epochs: int
    update: Callable[[Epoch], None]


def _minibatches(
    job: _Job,
    fitting: Callable[..., Fitted] | None = None,
    evaluate: Callable[[Mapping[str, Any]], tuple[float, Mapping[str, Any]]] | None = None,
) -> Epoch:
    """--method sgd | adam by `symcalc.fit` on the arrays in memory, from the start that suits the
    activation, or by `fitting` (on Dask: the loss and gradient at the end by `evaluate`, none after
    Ctrl-C, which reaches a local cluster's workers too); the last record."""
    from symcalc.numeric.batch_fit import initial_parameters
    from symcalc.numeric.descent import Epoch, Stop
    from symcalc.numeric.fit import fit

    if fitting is None:
        start = initial_parameters(job.batch, job.sizes, job.args.seed)
        fitting = partial(fit, job.module, job.data, start)
    fitted = fitting(
        method=job.args.method,
        learning_rate=job.args.lr,
        epochs=job.epochs,
        batch_size=job.args.batch_size,
        momentum=job.args.momentum,
        seed=job.args.seed,
        on_epoch=lambda record: job.update(Epoch(record.epoch, {}, record.loss, {}, record.elapsed)),
    )
    params = fitted.parameters
    if evaluate is None:
        loss, gradients = job.module.loss_and_gradient(params, job.data)
    elif fitted.stop is Stop.INTERRUPTED:  # no pass for the gradient: the summary says it is not evaluated
        loss = fitted.history[-1].loss if fitted.history else math.nan
        gradients = {}
    else:
        loss, gradients = evaluate(params)
    return Epoch(
        fitted.history[-1].epoch if fitted.history else 0,
        params,
        loss,
        gradients,
        fitted.elapsed,
        fitted.stop,
        fitted.message,
        tuple(record.loss for record in fitted.history),
    )


def _start(batch: BatchModel, sizes: Mapping[str, int], seed: int) -> dict[str, Any]:
    """Where gd, newton and lbfgs start: small normal values drawn from --seed as for a model of
    scalars (the same numbers, in the written-out order)."""
    from symcalc.numeric.batch_fit import small_start

    return small_start(batch, sizes, seed)


def _full_batch(
    job: _Job,
    evaluate: Callable[[Mapping[str, Any]], tuple[float, Mapping[str, Any]]] | None = None,
    second: Callable[[Mapping[str, Any]], tuple[float, Any, Any]] | None = None,
) -> tuple[Epoch, list[Epoch]]:
    """--method gd | newton | lbfgs on the arrays (`evaluate`, and for newton `second`, the loss,
    gradient and Hessian; else the module on `job.data`), from `_start`; the last record and all
    of them."""
    import numpy as np

    from symcalc.numeric.descent import descend, run
    from symcalc.numeric.lbfgs import lbfgs
    from symcalc.numeric.newton import newton

    def in_memory(params: Mapping[str, Any]) -> tuple[float, Mapping[str, Any]]:
        loss, gradients = job.module.loss_and_gradient(params, job.data)
        return float(loss), gradients

    evaluate = evaluate or in_memory
    start = _start(job.batch, job.sizes, job.args.seed)
    tol = job.args.tol
    if job.args.method == "newton":

        def in_memory_second(params: Mapping[str, Any]) -> tuple[float, Any, Any]:
            loss, gradients, hessian = job.module.loss_gradient_hessian(params, job.data)
            return (
                float(loss),
                np.concatenate([np.ravel(gradients[n]) for n in job.batch.parameters]),
                hessian,
            )

        def loss_at(params: Mapping[str, Any]) -> float:
            # on Dask the line search's loss comes with its gradient: one pass either way
            return float(job.module.loss(params, job.data)) if second is None else evaluate(params)[0]

        records = newton(second or in_memory_second, loss_at, start, job.epochs, tol)
    elif job.args.method == "lbfgs":
        records = lbfgs(evaluate, start, job.epochs, tol)
    else:
        learning_rate = FULL_BATCH_LEARNING_RATE if job.args.lr is None else job.args.lr
        records = descend(evaluate, start, learning_rate, job.epochs, tol)
    seen: list[Epoch] = []

    def on_epoch(record: Epoch) -> None:
        seen.append(record)
        job.update(record)

    return run(records, on_epoch), seen


def _datasets(
    args: argparse.Namespace, batch: BatchModel, columns: Columns, mapping: Mapping[str, str]
) -> tuple[Dataset, Dataset | None, tuple[tuple[str, float, float], ...]]:
    """The rows read (--data, else the built-in), checked, split (--test-fraction) and standardized
    (--standardize, by the training rows' statistics): (train, test, each input column's scaling)."""
    from symcalc.numeric.data import columns_dataset, split, standardization

    dataset = columns_dataset(args.data, columns.needed, mapping)
    columns.check(dataset)
    train, test = dataset, None
    if args.test_fraction is not None:
        scoring = batch.scoring  # each part must hold both classes of a 0/1 target
        labels = (scoring.target,) if scoring is not None and scoring.kind == "binary" else ()
        train, test = split(dataset, args.test_fraction, args.seed, labels)
    if not args.standardize:
        return train, test, ()
    scaling = standardization(train, columns.inputs)
    standardized = tuple((name, scaling.means[name], scaling.scales[name]) for name in columns.inputs)
    return scaling.apply(train), None if test is None else scaling.apply(test), standardized


def _flat(arrays: Mapping[str, Any], shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> dict[str, float]:
    """Each parameter's entries by their written-out names (W1_1 … Wh_n), as the report names them."""
    import numpy as np

    from symcalc.spec.shapes import components

    flat: dict[str, float] = {}
    for name, shape in shapes:
        values = np.asarray(arrays[name], dtype=np.float64)
        if not shape:
            flat[name] = float(values)
            continue
        flat |= dict(zip(components(name, shape), values.ravel().tolist(), strict=True))
    return flat


def _accuracy(
    batch: BatchModel,
    module: ModuleType,
    params: Mapping[str, Any],
    data: Mapping[str, Any],
) -> float | None:
    from symcalc.numeric.batch_fit import accuracy

    if batch.scoring is None:
        return None
    return accuracy(batch, module.predict(params, data), data)


def _test(
    batch: BatchModel,
    module: ModuleType,
    params: Mapping[str, Any],
    columns: Columns,
    test: Dataset | None,
) -> Any:
    from symcalc.render.training import TestResult

    if test is None:
        return None
    data = columns.arrays(test)
    loss = module.loss(params, data)
    return TestResult(len(test), loss, _accuracy(batch, module, params, data))
