"""`symcalc train` for a model with vectors and matrices: its batch module (the text `codegen` writes)
trained on arrays at the data's sizes, whatever they are; by `symcalc.fit` in minibatches (--method
sgd | adam), or by full-batch gradient descent, Newton's method or L-BFGS. This module only wires
the options, the data and the report."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from symcalc.cli import work

if TYPE_CHECKING:
    from types import ModuleType

    from symcalc.numeric.batch_data import Columns
    from symcalc.numeric.batch_fit import BatchModel
    from symcalc.numeric.data import Dataset
    from symcalc.numeric.descent import Epoch
    from symcalc.render.training import Summary
    from symcalc.symbolic.graph import Model

#: The methods that train in minibatches, and each one's epochs when --epochs is not given.
MINIBATCH_EPOCHS = {"sgd": 20, "adam": 20}
#: --epochs and --lr of gd, newton and lbfgs when not given.
FULL_BATCH_EPOCHS = 5000
FULL_BATCH_LEARNING_RATE = 0.1


def array_run(
    args: argparse.Namespace, mapping: dict[str, str], constants: dict[str, float], batch: BatchModel
) -> tuple[Summary, Callable[[str], None], Model]:
    """Train as --method asks, on the batch module of `batch`; the summary, and what draws the loss
    curve for --plot."""
    from rich.console import Console

    from symcalc.numeric.batch_data import columns_for
    from symcalc.numeric.codegen import load_module
    from symcalc.numeric.data import columns_of, renamed_header
    from symcalc.render import training

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
        job = _Job(args, batch, module, data, sizes, constants, epochs, update)
        if minibatches:
            final = _minibatches(job)
        else:
            final, seen = _full_batch(job)
    shapes = tuple((name, batch.shape(name, sizes)) for name in batch.parameters)
    params = final.parameters
    last = dataclasses.replace(
        final, parameters=_flat(params, shapes), gradient=_flat(final.gradient, shapes)
    )
    rows = f", minibatches of {args.batch_size or len(train)} rows" if minibatches else ""
    if args.method == "newton":
        rows = "; the batch module for the Hessian (Xᵀ S X / m)"
    summary = training.Summary(
        last,
        _accuracy(batch, module, params, data, constants),
        len(train),
        train.source,
        f"the batch module (codegen --target numpy){rows}",
        tuple((name, shape) for name, shape in shapes if shape),
        args.method,
        ()
        if args.method in ("gd", *MINIBATCH_EPOCHS)
        else tuple((r.epoch, r.loss, r.gradient_norm) for r in seen),
        tuple({**module.CONSTANTS, **constants}.items()),
        _test(batch, module, params, columns, test, constants),
        standardized,
        tuple((name, shape) for name in batch.inputs if (shape := batch.shape(name, sizes))),
    )

    def plot(path: str) -> None:
        training.plot(path, last, {}, (), None, lambda *_: None, args.plot_format, args.method)

    return summary, plot, batch.model


@dataclasses.dataclass(frozen=True)
class _Job:
    """What a method trains: the options, the model and its module, the training arrays at their
    sizes, the constants, how many epochs, and what shows each epoch's record."""

    args: argparse.Namespace
    batch: BatchModel
    module: ModuleType
    data: dict[str, Any]
    sizes: Mapping[str, int]
    constants: dict[str, float]
    epochs: int
    update: Callable[[Epoch], None]


def _minibatches(job: _Job) -> Epoch:
    """--method sgd | adam by `symcalc.fit`, from the start that suits the activation; the last record."""
    from symcalc.numeric.batch_fit import initial_parameters
    from symcalc.numeric.descent import Epoch
    from symcalc.numeric.fit import fit

    fitted = fit(
        job.module,
        job.data,
        initial_parameters(job.batch, job.sizes, job.args.seed),
        method=job.args.method,
        learning_rate=job.args.lr,
        epochs=job.epochs,
        batch_size=job.args.batch_size,
        momentum=job.args.momentum,
        seed=job.args.seed,
        constants=job.constants,
        on_epoch=lambda record: job.update(Epoch(record.epoch, {}, record.loss, {}, record.elapsed)),
    )
    params = fitted.parameters
    loss, gradients = job.module.loss_and_gradient(params, job.data, job.constants)
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


def _full_batch(job: _Job) -> tuple[Epoch, list[Epoch]]:
    """--method gd | newton | lbfgs on the arrays, from small normal values drawn from --seed as for a
    model of scalars (the same numbers, in the written-out order); the last record and all of them."""
    import numpy as np

    from symcalc.numeric.batch_fit import small_start
    from symcalc.numeric.descent import descend, run
    from symcalc.numeric.lbfgs import lbfgs
    from symcalc.numeric.newton import newton

    def evaluate(params: Mapping[str, Any]) -> tuple[float, dict[str, Any]]:
        loss, gradients = job.module.loss_and_gradient(params, job.data, job.constants)
        return float(loss), gradients

    start = small_start(job.batch, job.sizes, job.args.seed)
    tol = job.args.tol
    if job.args.method == "newton":

        def second(params: Mapping[str, Any]) -> tuple[float, Any, Any]:
            loss, gradients, hessian = job.module.loss_gradient_hessian(params, job.data, job.constants)
            return (
                float(loss),
                np.concatenate([np.ravel(gradients[n]) for n in job.batch.parameters]),
                hessian,
            )

        records = newton(
            second,
            lambda params: float(job.module.loss(params, job.data, job.constants)),
            start,
            job.epochs,
            tol,
        )
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
    constants: Mapping[str, float],
) -> float | None:
    from symcalc.numeric.batch_fit import accuracy

    if batch.scoring is None:
        return None
    return accuracy(batch, module.predict(params, data, constants), data)


def _test(
    batch: BatchModel,
    module: ModuleType,
    params: Mapping[str, Any],
    columns: Columns,
    test: Dataset | None,
    constants: Mapping[str, float],
) -> Any:
    from symcalc.render.training import TestResult

    if test is None:
        return None
    data = columns.arrays(test)
    loss = module.loss(params, data, constants)
    return TestResult(len(test), loss, _accuracy(batch, module, params, data, constants))
