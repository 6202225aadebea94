"""Training on Dask: the loss and gradient as sums over partitions, each evaluated where its data are.

A mean loss and its gradient are sums over samples divided by their count, so they split:
each partition (a Parquet or CSV file, a partition of a Dask dataframe, a block of Dask
arrays) is evaluated on the worker that holds it by what evaluates it in memory: a model of
scalars by the same `NumericModel` back end (the C kernel where it compiles), a model with
vectors and matrices by its batch module (`symcalc.numeric.batch_partitions`). Each sends back
(rows, rows × mean loss, rows × mean gradient, every parameter's entries in one vector); the
client adds those in partition order, so the result does not depend on which worker ran what,
and divides by the total rows.

Each worker process builds the model once (`symcalc.numeric.partitions`: the `Program`, or the
batch module's text, travels pickled with a hash of its bytes, which keys a cache of built models,
loaded modules and compiled kernels), and reads and checks each partition there; a problem is
the one-line `DataError` of a CSV, naming the partition's file: it pickles, so the client
re-raises it unchanged.

Nothing here imports Dask, its distributed scheduler, pandas or pyarrow until it is used: they
are the optional extra `symcalc-gradients[dask]`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from symcalc.errors import DaskMissing, DataError, Location, SymcalcError
from symcalc.numeric.data import Standardization, quoted
from symcalc.numeric.partitions import (
    Columns,
    Job,
    Numeric,
    Selection,
    Shipped,
    built,
    combined_moments,
    data_files,
    partition_moments,
    partition_second_order,
    read_columns,
    read_partition,
    selected,
)
from symcalc.numeric.program import Program

if TYPE_CHECKING:
    from distributed import Client

Array = np.ndarray[Any, np.dtype[np.float64]]
T = TypeVar("T")

INSTALL = "pip install 'symcalc-gradients[dask]'"
#: Files are read into the workers' memory once (persisted) when they take at most this share of
#: the cluster's memory limit; otherwise every epoch reads them again.
PERSIST_SHARE = 0.5


def needs_dask() -> None:
    """A one-line DaskMissing unless Dask, its distributed scheduler and pyarrow can be imported."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as missing:
        package = (missing.name or "dask").partition(".")[0]
        raise DaskMissing(f"training on Dask needs {package}", fix=INSTALL) from None


# -- the tasks --------------------------------------------------------------------------------


def partition_sums(
    job: Job, part: Any, source: str, params: Mapping[str, Any], constants: Mapping[str, float]
) -> tuple[int, float, Array | None]:
    """(rows, rows × mean loss, rows × mean gradient) of one partition, by the model's back end; the
    gradient is every parameter's entries in order in one vector (None for a partition of no rows)."""
    data = read_partition(job, part, source)
    rows = len(data)
    if rows == 0:
        return 0, 0.0, None
    numeric = built(job)
    loss, gradient = numeric.evaluate(params, data.columns, constants)
    return rows, loss * rows, np.concatenate([np.ravel(gradient[p]) for p in numeric.parameters]) * rows


def partition_check(
    job: Job, part: Any, source: str, params: Mapping[str, Any], constants: Mapping[str, float]
) -> tuple[int, dict[str, tuple[float, ...]], str, int]:
    """A partition's rows the job takes, the values each 0/1 label takes in them, the back end in
    words, and the rows the selection leaves out (held out for the test); a DataError naming the
    first row whose loss is not finite at `params` (the starting ones) by its row in the data."""
    if isinstance(part, Columns):  # already read and selected
        data, taken, count = part, None, len(part)
    else:
        columns = read_columns(job, part, source)
        count = len(next(iter(columns.values()))) if columns else 0
        taken = job.selection.rows(count, source)
        data = selected(job, columns, source, taken)
    numeric = built(job)
    # the per-sample losses (by the NumPy program, slower than the kernel) only to name a bad row
    if len(data) and not math.isfinite(numeric.evaluate(params, data.columns, constants)[0]):
        losses = np.broadcast_to(numeric.per_sample_loss(params, data.columns, constants), (len(data),))
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            row = int(bad[0])
            in_data = row if taken is None else int(taken[row])
            raise DataError(
                f"the loss is {losses[row]} for this row at the starting parameters: "
                "a value outside the loss's domain",
                Location(source=source, key=f"row {in_data + 1}"),
            )
    seen = {name: tuple(float(v) for v in np.unique(data.columns[name])) for name in job.labels}
    return len(data), seen, numeric.describe(), count - len(data)


def partition_correct(
    job: Job, part: Any, source: str, params: Mapping[str, Any], constants: Mapping[str, float]
) -> float:
    """How many samples of a partition the model classifies right (0 for a model with no classes)."""
    data = read_partition(job, part, source)
    accuracy = built(job).accuracy(params, data.columns, constants) if len(data) else None
    # a count: the share times the rows, rounded off, so that the sum is the count in memory
    return 0.0 if accuracy is None else float(round(accuracy * len(data)))


# -- the client's side ------------------------------------------------------------------------


@dataclass
class Partitioned:
    """Data in partitions, where Dask runs: the files of a --data glob (one partition each), the
    partitions of a Dask dataframe or the blocks of Dask arrays. `NumericModel.evaluate` and
    `BatchPartitions.evaluate` take it wherever they take NumPy columns; each evaluation is one pass
    over the partitions."""

    parts: list[Any]
    sources: list[str]
    source: str
    client: Client | None = None
    rows: int | None = None
    where: str = ""
    #: Seconds each wait on the cluster may take (`train --timeout`); None: as long as it takes.
    timeout: float | None = None
    #: What every task makes of its partition's columns: the rows (`hold_out`), the inputs' scaling
    #: (`standardize`).
    selection: Selection = field(default_factory=Selection)
    #: The rows the selection leaves out of every partition (`check` counts them): held out.
    held: int = 0
    #: A Dask dataframe's column names (`from_dask`); () for files, which name theirs, and arrays.
    header: tuple[str, ...] = ()
    _job: Job | None = field(default=None, repr=False)
    _program: Program | Shipped | None = field(default=None, repr=False)
    #: The partitions as given, before `persist_if_it_fits` read the training rows into memory.
    _given: list[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._given = list(self.parts)

    def hold_out(self, fraction: float, seed: int) -> None:
        """--test-fraction: every task from now on takes the training rows of its partition, round(
        fraction × its rows) held out as `Selection` draws them (before `check` and `standardize`)."""
        self.selection = dataclasses.replace(
            self.selection, hold_out=(seed, fraction), sources=tuple(self.sources)
        )

    def held_out(self) -> Partitioned:
        """The rows `hold_out` held out of every partition, scaled as the training rows are: read again
        from the partitions as given (`check` counted them)."""
        return Partitioned(
            list(self._given),
            list(self.sources),
            self.source,
            self.client,
            self.held,
            self.where,
            self.timeout,
            dataclasses.replace(self.selection, held_out=True),
            _job=self._job,  # its --columns mapping
            _program=self._program,
        )

    def job(self, numeric: Numeric, mapping: Mapping[str, str] | None = None) -> Job:
        """The job of `numeric`'s program (and --columns `mapping`, once given) and the selection,
        pickled once."""
        mapping = dict(self._job.mapping) if mapping is None and self._job is not None else mapping
        if (
            self._job is None
            or self._program is not numeric.program
            or dict(self._job.mapping) != mapping
            or self._job.selection != self.selection
        ):
            self._job = Job.of(numeric, mapping, self.selection)
            self._program = numeric.program
        return self._job

    def _run(
        self, task: Any, job: Job, params: Mapping[str, Any], constants: Mapping[str, float]
    ) -> list[Any]:
        """`task` on every partition, the results in partition order (a worker's DataError re-raised);
        each parameter a float, or a float64 array of its shape."""
        import dask

        plain = {
            p: float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=np.float64) for p, v in params.items()
        }
        tasks = [
            dask.delayed(task, pure=True)(job, part, source, plain, dict(constants))
            for part, source in zip(self.parts, self.sources, strict=True)
        ]
        return list(self._compute(tasks))

    def chain(self, task: Any, job: Job, order: Sequence[int], carried: Any, *extra: Sequence[Any]) -> Any:
        """`task(job, part, source, carried, *each extra's k-th item)` on partition k for each k in
        `order`, each task taking the one before's result as `carried` (the first, this `carried`),
        scheduled as one graph: the result passes from worker to worker, not through the client,
        as dask-ml's Incremental passes its model. The last task's result."""
        import dask

        for k in order:
            extras = [values[k] for values in extra]
            carried = dask.delayed(task, pure=False)(job, self.parts[k], self.sources[k], carried, *extras)
        return self._compute([carried])[0]

    def _compute(self, tasks: list[Any]) -> Sequence[Any]:
        """The delayed `tasks` computed on the client (each wait bounded by `timeout`), or on Dask's
        default scheduler without one; a worker's DataError re-raised, dying workers one line."""
        import dask
        from distributed import KilledWorker

        try:
            if self.client is not None:
                client = self.client
                return within(
                    self.timeout,
                    "the Dask cluster did not finish a pass over the partitions",
                    lambda: client.compute(tasks, sync=True),
                    Location(source=self.source),
                )
            return dask.compute(*tasks)
        except KilledWorker:
            raise DataError(
                "a Dask worker died reading or evaluating a partition, most likely out of memory",
                Location(source=self.source),
                "split the data into smaller files, or raise --memory-limit",
            ) from None

    def sums(
        self, numeric: Numeric, params: Mapping[str, float], constants: Mapping[str, float] | None
    ) -> tuple[float, dict[str, float]]:
        """Mean loss and mean gradient of a model of scalars over every partition: one distributed pass."""
        loss, gradient = self.summed(numeric, params, constants)
        return loss, {p: float(g) for p, g in zip(numeric.parameters, gradient, strict=True)}

    def summed(
        self, numeric: Numeric, params: Mapping[str, Any], constants: Mapping[str, float] | None
    ) -> tuple[float, Array]:
        """Mean loss and mean gradient over every partition, the gradient every parameter's entries
        in order in one vector: one distributed pass, the partitions' sums added in their order."""
        loss, gradient = self._means(partition_sums, numeric, params, constants)
        return loss, gradient

    def second_order(
        self, numeric: Numeric, params: Mapping[str, Any], constants: Mapping[str, float] | None
    ) -> tuple[float, Array, Array]:
        """Mean loss, gradient and Hessian over every partition (Newton's method), as `summed`."""
        loss, gradient, hessian = self._means(partition_second_order, numeric, params, constants)
        return loss, gradient, hessian

    def _means(
        self, task: Any, numeric: Numeric, params: Mapping[str, Any], constants: Mapping[str, float] | None
    ) -> tuple[Any, ...]:
        """`task`'s (rows, rows × mean loss, rows × each mean array) of every partition, added in
        partition order and divided by the rows: (mean loss, each mean array)."""
        results = self._run(task, self.job(numeric), params, constants or {})
        rows = sum(r[0] for r in results)
        if rows == 0:
            raise DataError("has no data rows", Location(source=self.source))
        kept = [r for r in results if r[0]]
        arrays = (np.sum(np.stack([r[k] for r in kept]), axis=0) / rows for k in range(2, len(kept[0])))
        return math.fsum(r[1] for r in kept) / rows, *arrays

    def check(
        self,
        numeric: Numeric,
        params: Mapping[str, Any],
        constants: Mapping[str, float] | None,
        mapping: Mapping[str, str] | None = None,
    ) -> None:
        """Read and check every partition (the first bad one's DataError), count the rows, check that
        each 0/1 label has both classes and that the loss is finite at `params`; `where` says what ran."""
        job = self.job(numeric, mapping)
        results = self._run(partition_check, job, params, constants or {})
        self.rows = sum(r[0] for r in results)
        self.held = sum(r[3] for r in results)
        if self.rows == 0:
            raise DataError("has a header but no data rows", Location(source=self.source))
        if self.selection.hold_out is not None and self.held == 0:
            raise DataError(
                f"--test-fraction {self.selection.hold_out[1]:g} holds out no row: each file holds out "
                "round(fraction × its rows), 0 in every one",
                Location(source=self.source),
                "choose a larger fraction",
            )
        for name in job.labels:
            classes = {v for r in results for v in r[1][name]}
            if len(classes) == 1:
                shown = dict(job.mapping).get(name, name)
                raise DataError(
                    f"every label is {classes.pop():g}: one class only, so the loss has no minimum "
                    "and the weights would grow for ever",
                    Location(source=self.source, key=f"column {quoted(shown)}"),
                    "the data need samples of both classes 0 and 1",
                )
        backends = sorted({r[2] for r in results})
        workers = len(self._workers()) if self.client is not None else 0
        on = f" on {workers} Dask worker{'s' if workers != 1 else ''}" if self.client else " on Dask"
        self.where = "; ".join(backends) + on

    def standardize(
        self, numeric: Numeric, mapping: Mapping[str, str] | None = None
    ) -> tuple[tuple[str, float, float], ...]:
        """Each input column's (name, mean, scale) over the rows of every partition, in one pass on
        the workers (`partition_moments`, `combined_moments`): the population statistics
        `symcalc.numeric.data.standardization` takes in memory (NumPy's std; 1 for a constant column).
        Every task from then on takes its inputs as (x − mean)/scale."""
        import dask

        job = self.job(numeric, mapping)
        if not job.wanted.inputs:  # nothing to scale
            return ()
        tasks = [
            dask.delayed(partition_moments, pure=True)(job, part, source)
            for part, source in zip(self.parts, self.sources, strict=True)
        ]
        rows, means, squares = combined_moments(list(self._compute(tasks)))
        if rows == 0:
            raise DataError("has a header but no data rows", Location(source=self.source))
        inputs = job.wanted.inputs
        deviations = np.sqrt(squares / rows)
        scaling = Standardization.of(
            dict(zip(inputs, means, strict=True)), dict(zip(inputs, deviations, strict=True))
        ).shown
        self.selection = dataclasses.replace(self.selection, scaling=scaling)
        return scaling

    def correct(
        self, numeric: Numeric, params: Mapping[str, Any], constants: Mapping[str, float] | None
    ) -> float | None:
        """The share of samples classified right, for a model that classifies; None otherwise."""
        program = numeric.program
        if isinstance(program, Program):
            if program.logit is None or not program.targets:
                return None
        elif not program.classifies:
            return None
        results = self._run(partition_correct, self.job(numeric), params, constants or {})
        rows = self.rows if self.rows is not None else None
        return math.fsum(results) / rows if rows else None

    def persist_if_it_fits(self, numeric: Numeric) -> bool:
        """Read the partitions into the workers' memory once when they take at most `PERSIST_SHARE`
        of the cluster's memory limit (after `check` counted the rows); else every pass reads them."""
        if self.client is None or self.rows is None:
            return False
        workers = self._workers().values()
        limit = sum(int(w.get("memory_limit") or 0) for w in workers)
        size = self.rows * len(self.job(numeric).needed) * 8
        if not limit or size > PERSIST_SHARE * limit:
            return False
        import dask

        job = self.job(numeric)
        reads = [
            dask.delayed(read_partition, pure=True)(job, part, source)
            for part, source in zip(self.parts, self.sources, strict=True)
        ]
        self.parts = list(self.client.persist(reads))
        return True

    def _workers(self) -> dict[str, Any]:
        client = self.client
        assert client is not None
        problem = "the Dask scheduler did not list its workers"
        return dict(within(self.timeout, problem, lambda: client.scheduler_info()["workers"]))


def from_files(pattern: str, client: Client | None = None, timeout: float | None = None) -> Partitioned:
    """The files a --data pattern names, one partition each, read on the workers; each pass over them
    bounded by `timeout` seconds."""
    files, _ = data_files(pattern)
    return Partitioned(list(files), list(files), pattern, client, timeout=timeout)


def from_dask(data: Any, split: Mapping[str, Sequence[str]] | None = None) -> Partitioned:
    """A Dask dataframe's partitions, or the blocks of a mapping of names to Dask arrays, as
    `Partitioned`. A name in `split` is a vector input given as one m × n Dask array: each block's
    columns are the entries `split` names (x1 … xn), taken apart on the worker."""
    import dask

    if hasattr(data, "__dask_graph__"):  # a Dask dataframe
        parts = list(data.to_delayed())
        sources = [f"partition {k + 1}" for k in range(len(parts))]
        return Partitioned(parts, sources, "the Dask dataframe", header=tuple(str(c) for c in data.columns))
    names = list(data)
    lazy = [n for n in names if hasattr(data[n], "__dask_graph__")]
    first = data[lazy[0]]
    chunks = first.chunks[0]
    blocks: dict[str, list[Any]] = {}
    for name in names:
        value = data[name]
        if not hasattr(value, "__dask_graph__"):
            raise DataError(f"{name!r} is not a Dask array, but {lazy[0]!r} is: give all the data alike")
        if value.shape[:1] != first.shape[:1]:
            raise DataError(f"{name!r} has {value.shape[0]} rows, but {lazy[0]!r} has {first.shape[0]}")
        value = value.rechunk({0: chunks, **{axis: -1 for axis in range(1, value.ndim)}})
        blocks[name] = list(value.to_delayed().ravel())
    columns = {name: tuple(split[name]) for name in names if split and name in split}
    parts = [
        dask.delayed(_block, pure=True)(names, columns, *row) for row in zip(*blocks.values(), strict=True)
    ]
    return Partitioned(parts, [f"block {k + 1}" for k in range(len(parts))], "the Dask arrays")


def _block(names: Sequence[str], split: Mapping[str, Sequence[str]], *arrays: Any) -> dict[str, Any]:
    """One block of each Dask array, by name, an m × n block of a vector input taken apart into its
    entries' columns: a partition."""
    block: dict[str, Any] = {}
    for name, array in zip(names, arrays, strict=True):
        if name in split:
            rows = np.asarray(array, dtype=np.float64).reshape(len(array), -1)
            block |= {entry: rows[:, k] for k, entry in enumerate(split[name])}
        else:
            block[name] = array
    return block


def is_dask(data: Any) -> bool:
    """Whether `data` are partitioned: `Partitioned`, a Dask collection, or a mapping holding one."""
    if isinstance(data, Partitioned) or hasattr(data, "__dask_graph__"):
        return True
    return isinstance(data, Mapping) and any(hasattr(v, "__dask_graph__") for v in data.values())


def partitioned(data: Any) -> Partitioned:
    return data if isinstance(data, Partitioned) else from_dask(data)


# -- the cluster ------------------------------------------------------------------------------


def dask_setup(worker: object) -> None:
    """Run by each worker process of `cluster`'s LocalCluster as it starts (and by each replacement):
    Ctrl-C at the terminal reaches the whole process group, and it is the client's to handle
    (train reports where it got to, then closes the cluster); a worker would die with a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def within(timeout: float | None, problem: str, call: Callable[[], T], where: Location | None = None) -> T:
    """`call()`, a wait on the cluster, or a SymcalcError when it has not returned after `timeout`
    seconds (None: no bound). Dask's own timeouts do not bound every wait (a scheduler that accepts
    the connection and never answers holds `Client` for minutes), so the call runs on a daemon thread
    that is left behind, and ends with the process, when the time is up."""
    if timeout is None:
        return call()
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as err:  # re-raised in the caller's thread
            outcome.append((False, err))

    thread = threading.Thread(target=run, name="symcalc-dask-wait", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise SymcalcError(
            f"{problem} within {timeout:g} s",
            where,
            fix="check the scheduler and its workers, or raise --timeout",
        )
    done, value = outcome[0]
    if not done:
        raise value
    return value


@contextmanager
def cluster(
    scheduler: str | None, workers: int, memory_limit: str, timeout: float | None = None
) -> Iterator[Client]:
    """A client of the scheduler at `scheduler`, or of a `LocalCluster` of `workers` processes of
    one thread each, each limited to `memory_limit` ("2GB", or "auto" to share this machine's);
    closed (the local cluster's workers ended) when the block ends, Ctrl-C included. Connecting to the
    scheduler waits at most `timeout` seconds (None: Dask's own 10 s, which does not bound every wait)."""
    needs_dask()
    # Ctrl-C during a pass leaves the client's gather tasks unfinished: asyncio would log each one,
    # with a traceback, as the client closes; train has reported where it got to.
    quiet = logging.getLogger("asyncio")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with _cluster(scheduler, workers, memory_limit, timeout) as client:
            yield client
    finally:
        quiet.setLevel(level)


#: The address schemes `--scheduler` takes: Dask's others need packages or settings of their own
#: (ucx:// UCX-Py, ws:// websockets) or mean this process (inproc://).
SCHEMES = ("tcp", "tls")


@contextmanager
def _cluster(
    scheduler: str | None, workers: int, memory_limit: str, timeout: float | None
) -> Iterator[Client]:
    from dask.utils import parse_bytes
    from distributed import Client, LocalCluster

    if scheduler is not None:
        where = Location(key=f"--scheduler {scheduler}")
        scheme = scheduler.partition("://")[0] if "://" in scheduler else "tcp"
        if scheme not in SCHEMES:
            raise SymcalcError(f"symcalc reaches a scheduler over tcp:// or tls://, not {scheme}://", where)
        try:
            wait = f"{timeout if timeout is not None else 10:g}s"
            client = within(
                timeout,
                "the Dask scheduler accepted the connection but did not answer",
                lambda: Client(scheduler, timeout=wait),
                Location(key=f"--scheduler {scheduler}"),
            )
        except TypeError:
            if scheme != "tls":
                raise
            raise SymcalcError(
                "tls:// needs Dask's TLS settings, and there are none",
                where,
                "set Dask's distributed.comm.tls settings: the CA file, this client's certificate and key",
            ) from None
        except (OSError, TimeoutError, ValueError, MemoryError) as err:
            # A server that is not a scheduler (an HTTP server, say) answers with bytes that Dask
            # reads as the length of a message: MemoryError, or NumPy's ValueError, for exabytes.
            reason = (
                "the server answered, but not as a Dask scheduler"
                if isinstance(err, MemoryError) or "dimension" in str(err)
                else " ".join(str(err).split())[:200]
            )
            raise SymcalcError(
                f"cannot reach the Dask scheduler: {reason}",
                where,
                "start one with `dask scheduler`, or train on this machine with --dask",
            ) from None
        with client:
            yield client
        return
    if memory_limit != "auto":
        try:
            parse_bytes(memory_limit)
        except ValueError:
            raise SymcalcError(
                "is not an amount of memory",
                Location(key=f"--memory-limit {memory_limit}"),
                "e.g. 2GB or 500MiB",
            ) from None
    local = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        memory_limit=memory_limit,
        processes=True,
        # no dashboard (it would import bokeh where installed), and the HTTP server that stays on a free
        # port: 8787, its default, may be another cluster's (Dask would warn)
        dashboard_address=":0",
        scheduler_kwargs={"dashboard": False},
        # a bad partition is one line from the client, not the workers' tracebacks on the terminal
        silence_logs=logging.CRITICAL,
        preload=[__name__],  # `dask_setup`: Ctrl-C is the client's to handle
    )
    with local, Client(local) as client:
        yield client
