"""A model with vectors and matrices on Dask: every partition evaluated by the model's batch module,
the text `codegen --target numpy` writes, as `train` runs it in memory (`symcalc.cli.fitting`).

A task's job (`symcalc.numeric.partitions.Job`) carries a `BatchProgram`: the module's text, each
parameter's shape, and each input's and target's columns and shape at the run's sizes, pickled
with a hash of its bytes, which keys each worker's cache (a worker process loads the module once).
A worker reads its partition's columns as a CSV is read in memory (x1 … xn for x[n]; a target
y[k] from y1 … yk, or from one column of class numbers, checked there) and stacks them into the
arrays the module takes (row k of X is sample k, a class number one-hot) once, as it reads them
(`symcalc.numeric.partitions.read_partition`: a persisted partition holds X), and sends back (rows,
rows × mean loss, rows × mean gradient), every parameter's gradient flattened in parameter order
into one vector (`symcalc.numeric.distributed.partition_sums`). The client adds those in
partition order and gives each parameter's mean gradient its shape back. The module takes arrays
of any size: nothing here is written out entry by entry, so no entry limit applies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from symcalc.numeric.batch_fit import BatchModel, Scoring
from symcalc.numeric.codegen import load_module
from symcalc.numeric.data import Wanted, binary_targets
from symcalc.numeric.distributed import Partitioned

if TYPE_CHECKING:
    from symcalc.numeric.batch_data import Columns

Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class BatchProgram:
    """A batch module as a worker runs it: its text, each parameter's shape, each datum's (input's or
    target's) columns and shape per sample at the run's sizes, the targets read from one column of
    class numbers (name, count), the columns read (and which are 0/1 labels), and how predictions are
    scored (None: the model does not classify)."""

    source: str
    parameters: tuple[tuple[str, tuple[int, ...]], ...]
    arrays: tuple[tuple[str, tuple[str, ...], tuple[int, ...]], ...]
    classes: tuple[tuple[str, int], ...]
    wanted: Wanted
    scoring: Scoring | None

    @property
    def classifies(self) -> bool:
        return self.scoring is not None

    @staticmethod
    def of(batch: BatchModel, columns: Columns) -> BatchProgram:
        """The program of `batch` at the run's sizes, reading the columns `columns` names."""
        names, sizes = columns.names, columns.sizes
        data = (*batch.inputs, *batch.targets)
        labels = tuple(t.name for t in binary_targets(batch.model) if names.get(t.name) == (t.name,))
        return BatchProgram(
            batch.source,
            tuple((name, batch.shape(name, sizes)) for name in batch.parameters),
            tuple((name, names[name], batch.shape(name, sizes)) for name in data),
            tuple(columns.classes.items()),
            Wanted(
                tuple(c for name in batch.inputs for c in names[name]),
                tuple(c for name in batch.targets for c in names[name]),
                labels,
            ),
            batch.scoring,
        )

    @staticmethod
    def of_arrays(
        source: str,
        params: Mapping[str, Any],
        data: Mapping[str, Any],
        inputs: Sequence[str],
        targets: Sequence[str],
    ) -> tuple[BatchProgram, dict[str, tuple[str, ...]]]:
        """The program of the batch module `source` on (Dask) arrays by name, a row per sample, at
        their own sizes, and how each block of a vector's or matrix's array is taken apart into
        columns on the worker (by made-up names, x#0, x#1, …) to be stacked back; no scoring."""
        shapes = {name: tuple(int(size) for size in data[name].shape[1:]) for name in (*inputs, *targets)}
        split = {
            name: tuple(f"{name}#{k}" for k in range(math.prod(shape))) for name, shape in shapes.items()
        }
        columns = {name: split[name] if shape else (name,) for name, shape in shapes.items()}
        program = BatchProgram(
            source,
            tuple((name, tuple(np.shape(value))) for name, value in params.items()),
            tuple((name, columns[name], shapes[name]) for name in shapes),
            (),
            Wanted(
                tuple(c for n in inputs for c in columns[n]),
                tuple(c for n in targets for c in columns[n]),
                (),
            ),
            None,
        )
        return program, {name: split[name] for name, shape in shapes.items() if shape}


class BatchPartitions:
    """The mean loss, gradient and accuracy of a `BatchProgram`, each parameter an array of its shape:
    over one partition's columns (on a worker), or over `Partitioned` data (on the client: one pass
    over the partitions, which the workers evaluate by this class)."""

    def __init__(self, program: BatchProgram) -> None:
        self.program = program

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.program.parameters)

    @cached_property
    def module(self) -> ModuleType:
        return load_module(self.program.source, "symcalc_batch")

    def build(self) -> None:
        """Load the module now (once per worker process: `symcalc.numeric.partitions.built`)."""
        _ = self.module

    def describe(self) -> str:
        return "the batch module (codegen --target numpy)"

    def evaluate(
        self,
        params: Mapping[str, Any],
        data: Mapping[str, Any] | Partitioned,
        constants: Mapping[str, float] | None = None,
    ) -> tuple[float, dict[str, Any]]:
        """The mean loss and each parameter's mean gradient (an array of its shape) over a partition's
        arrays, or over every partition of `Partitioned` data, added in partition order."""
        if isinstance(data, Partitioned):
            loss, flat = data.summed(self, params, constants)
            return loss, self.shaped(flat)
        loss, gradients = self.module.loss_and_gradient(params, data, constants)
        return float(loss), gradients

    def second_order(
        self,
        params: Mapping[str, Any],
        data: Mapping[str, Any] | Partitioned,
        constants: Mapping[str, float] | None = None,
    ) -> tuple[float, Array, Array]:
        """The mean loss, gradient (every parameter's entries in order in one vector) and Hessian over a
        partition's arrays by the module's `loss_gradient_hessian`, or over every partition."""
        if isinstance(data, Partitioned):
            return data.second_order(self, params, constants)
        loss, gradients, hessian = self.module.loss_gradient_hessian(params, data, constants)
        flat = np.concatenate([np.ravel(gradients[name]) for name in self.parameters])
        return float(loss), flat, np.asarray(hessian, dtype=np.float64)

    def shaped(self, flat: Array) -> dict[str, Array]:
        """Every parameter's entries, in order in one vector, as arrays of their shapes."""
        result: dict[str, Array] = {}
        start = 0
        for name, shape in self.program.parameters:
            size = math.prod(shape)
            result[name] = np.array(flat[start : start + size].reshape(shape))
            start += size
        return result

    def per_sample_loss(
        self, params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
    ) -> Array:
        """Each sample's loss, by the module's forward pass over that row alone: one call a row, so only
        to name the row when a partition's loss is not finite, never in training."""
        rows = len(next(iter(data.values())))
        return np.array(
            [
                self.module.loss(params, {n: v[r : r + 1] for n, v in data.items()}, constants)
                for r in range(rows)
            ]
        )

    def accuracy(
        self,
        params: Mapping[str, Any],
        data: Mapping[str, Any] | Partitioned,
        constants: Mapping[str, float] | None = None,
    ) -> float | None:
        """The share of samples classified right (`Scoring`), over a partition's columns or every
        partition; None for a model that does not classify."""
        if isinstance(data, Partitioned):
            return data.correct(self, params, constants)
        scoring = self.program.scoring
        if scoring is None:
            return None
        predictions = self.module.predict(params, data, constants)
        return scoring.accuracy(predictions, data) if scoring.prediction in predictions else None
