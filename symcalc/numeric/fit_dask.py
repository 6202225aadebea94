"""`fit` on data partitioned where Dask runs, as dask-ml's Incremental trains: the data stay where
they are, and the parameters with the optimizer's state travel to them.

Each epoch visits the partitions in an order drawn from the seed (`numpy.random.default_rng(seed)`,
one permutation of the partition numbers per epoch). The task of each partition
(`partition_minibatches`) runs on a worker, gets the parameters, the optimizer's state (SGD's
momentum buffers; Adam's moments and step count) and the epoch's tallies so far (`Carried`),
deals that partition's rows into minibatches shuffled by `numpy.random.default_rng((seed, epoch,
k))` for partition k (0-based, in file order; epochs from 1), takes one step per minibatch by
`symcalc.numeric.minibatch.run_minibatches`, the loop `fit` runs in memory, and hands all of it
to the next partition's task; Dask runs the epoch's tasks as one chain, worker to worker. A
minibatch never spans two partitions; without a batch size each partition is one. So the result
is that loop over the same minibatches in one process, to the last bit of each step. An epoch's
loss is the mean over its samples of the minibatches' losses, as in memory; the loss at the start
(epoch 0) and at the end are one pass over every partition (`Partitioned.summed`).

Nothing here imports Dask until it runs (`symcalc.numeric.distributed`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from symcalc.errors import DescentError
from symcalc.numeric.distributed import Partitioned, from_dask, partitioned
from symcalc.numeric.minibatch import (
    BETAS,
    EPS,
    Array,
    Carried,
    Fitted,
    Method,
    Progress,
    begin,
    check,
    minibatches,
    run_minibatches,
    train_epochs,
)
from symcalc.numeric.partitions import Job, Numeric, built, read_partition

if TYPE_CHECKING:
    from symcalc.symbolic.steps import Derivation


def partition_minibatches(
    job: Job,
    part: Any,
    source: str,
    carried: Carried,
    batch_size: int | None,
    generator: tuple[int, int, int],
    constants: Mapping[str, float],
) -> Carried:
    """A worker's task: `carried` stepped through one partition's minibatches (its rows shuffled by
    `numpy.random.default_rng(generator)`), by the model the job ships, as `fit` steps in memory; a
    copy (Dask may hand a task the very object another task returned)."""
    carried = copy.deepcopy(carried)
    if carried.problem:
        return carried
    data = read_partition(job, part, source)
    if len(data) == 0:
        return carried
    numeric = built(job)

    def evaluate(params: Mapping[str, Array], rows: Mapping[str, Array]) -> tuple[float, Mapping[str, Any]]:
        loss, grads = numeric.evaluate(params, rows, constants)
        return float(loss), grads

    batches = minibatches(len(data), batch_size, np.random.default_rng(generator))
    return run_minibatches(evaluate, carried, data.columns, batches)


def partition_orders(seed: int, partitions: int) -> Callable[[], list[int]]:
    """Each call, the next epoch's order of the partitions (their numbers, 0-based), from `seed`."""
    rng = np.random.default_rng(seed)
    return lambda: [int(k) for k in rng.permutation(partitions)]


def fit_partitions(
    numeric: Numeric,
    data: Partitioned,
    start: Mapping[str, Any],
    *,
    method: Method = "adam",
    learning_rate: float | None = None,
    epochs: int = 10,
    batch_size: int | None = None,
    momentum: float = 0.0,
    seed: int = 0,
    constants: Mapping[str, float] | None = None,
    betas: tuple[float, float] = BETAS,
    eps: float = EPS,
    on_epoch: Callable[[Progress], None] | None = None,
) -> Fitted:
    """`fit` by `numeric` (a `BatchPartitions`, whose job the workers run) on the partitions of
    `data`, as the module's docstring says; stops as `fit` does (Ctrl-C: the last epoch's parameters)."""
    check(method, learning_rate, epochs, batch_size, momentum)
    carried, rate = begin(start, method, learning_rate, momentum, betas, eps)
    job = data.job(numeric)
    count = len(data.parts)
    order = partition_orders(seed, count)
    fixed = dict(constants or {})

    def epoch(number: int, fresh: Carried) -> Carried:
        """One pass: the partitions' tasks chained, in this epoch's order, worker to worker."""
        generators = [(seed, number, k) for k in range(count)]
        passed: Carried = data.chain(
            partition_minibatches, job, order(), fresh, [batch_size] * count, generators, [fixed] * count
        )
        return passed

    def first() -> float:
        return data.summed(numeric, carried.params, fixed)[0]

    return train_epochs(carried, first, epoch, epochs, rate, on_epoch)


def fit_on_dask(derivation: Derivation, data: Any, start: Mapping[str, Any] | None, **options: Any) -> Fitted:
    """`fit` of a derivation's batch module on Dask data (`symcalc.fit` with such data): Dask arrays
    by the declared names, a Dask dataframe (or `from_dask` of one), or `Partitioned` files (columns
    x1 … xn, y1 … yk or one column of class numbers, as `train` reads them); the start as `fit`'s in
    memory."""
    from symcalc.numeric.batch_data import columns_for
    from symcalc.numeric.batch_fit import batch_model, initial_parameters
    from symcalc.numeric.batch_partitions import BatchPartitions, BatchProgram
    from symcalc.numeric.data import columns_of
    from symcalc.spec.shapes import sizes_from_columns

    batch = batch_model(derivation)
    if isinstance(data, Mapping):  # Dask arrays by name, a row per sample
        sizes = batch.run_sizes(data)
        params = start if start is not None else initial_parameters(batch, sizes, options["seed"])
        names = (*batch.inputs, *batch.targets)
        program, split = BatchProgram.of_arrays(batch.source, params, data, batch.inputs, batch.targets)
        partitions = from_dask({name: data[name] for name in names}, split)
    else:
        partitions = partitioned(data)
        if partitions.header:  # a Dask dataframe's, or from_dask's of one
            header = list(partitions.header)
        elif partitions.sources and partitions.sources[0] == partitions.parts[0]:  # files
            header = columns_of(partitions.sources[0])[0]
        else:
            raise DescentError("fit takes Dask arrays by name, a Dask dataframe, or the files of from_files")
        shapes = dict(batch.shapes)
        declared = [(name, shapes[name]) for name in (*batch.inputs, *batch.targets) if shapes.get(name)]
        sizes = {**dict(batch.sizes), **sizes_from_columns(declared, header, partitions.source)}
        program = BatchProgram.of(batch, columns_for(batch, sizes, header))
        params = start if start is not None else initial_parameters(batch, sizes, options["seed"])
    return fit_partitions(BatchPartitions(program), partitions, params, **options)
