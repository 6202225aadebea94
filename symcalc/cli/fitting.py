"""`symcalc train --method sgd | adam`: the model's batch module (the text `codegen` writes) trained in
minibatches by `symcalc.fit`, on arrays at the data's sizes; this module only wires the options,
the data and the report."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from symcalc.cli import work
from symcalc.cli.commands import limited

if TYPE_CHECKING:
    from types import ModuleType

    from symcalc.numeric.batch_data import Columns
    from symcalc.numeric.batch_fit import BatchModel
    from symcalc.numeric.data import Dataset
    from symcalc.render.training import Summary
    from symcalc.symbolic.graph import Model

#: The methods that train in minibatches, and each one's epochs when --epochs is not given.
MINIBATCH_EPOCHS = {"sgd": 20, "adam": 20}


def minibatch_run(
    args: argparse.Namespace, mapping: dict[str, str], constants: dict[str, float]
) -> tuple[Summary, Callable[[str], None], Model]:
    """Train as --method sgd or adam asks; the summary, and what draws the loss curve for --plot."""
    from rich.console import Console

    from symcalc.numeric.batch_data import columns_for
    from symcalc.numeric.batch_fit import initial_parameters
    from symcalc.numeric.codegen import load_module
    from symcalc.numeric.data import columns_of, renamed_header
    from symcalc.numeric.descent import Epoch
    from symcalc.numeric.fit import fit
    from symcalc.render import training

    batch = limited(work.batch_file, args.file, constants, timeout=args.timeout)
    header, source = columns_of(args.data)
    sizes = {**dict(batch.sizes), **work.data_sizes(args.file, args.data, mapping)}
    columns = columns_for(batch, sizes, renamed_header(header, mapping))
    columns.check_mapping(mapping, source)
    train, test, standardized = _datasets(args, batch, columns, mapping)
    module = load_module(batch.source, "symcalc_batch")
    data = columns.arrays(train)
    epochs = args.epochs if args.epochs is not None else MINIBATCH_EPOCHS[args.method]
    with training.progress_bar(Console(stderr=True), epochs) as update:
        fitted = fit(
            module,
            data,
            initial_parameters(batch, sizes, args.seed),
            method=args.method,
            learning_rate=args.lr,
            epochs=epochs,
            batch_size=args.batch_size,
            momentum=args.momentum,
            seed=args.seed,
            constants=constants,
            on_epoch=lambda record: update(Epoch(record.epoch, {}, record.loss, {}, record.elapsed)),
        )
    params = fitted.parameters
    loss, gradients = module.loss_and_gradient(params, data, constants)
    shapes = tuple((name, batch.shape(name, sizes)) for name in batch.parameters)
    last = fitted.history[-1].epoch if fitted.history else 0
    final = Epoch(
        last,
        _flat(params, shapes),
        loss,
        _flat(gradients, shapes),
        fitted.elapsed,
        fitted.stop,
        fitted.message,
        tuple(record.loss for record in fitted.history),
    )
    summary = training.Summary(
        final,
        _accuracy(batch, module, params, data, constants),
        len(train),
        train.source,
        f"the batch module (codegen --target numpy), minibatches of {args.batch_size or len(train)} rows",
        tuple((name, shape) for name, shape in shapes if shape),
        args.method,
        (),
        tuple({**module.CONSTANTS, **constants}.items()),
        _test(batch, module, params, columns, test, constants),
        standardized,
        tuple((name, shape) for name in batch.inputs if (shape := batch.shape(name, sizes))),
    )

    def plot(path: str) -> None:
        training.plot(path, final, {}, (), None, lambda *_: None, args.plot_format, args.method)

    return summary, plot, batch.model


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
