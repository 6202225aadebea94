"""Training on Dask: the loss and gradient as sums over partitions, each evaluated where its data are.

A mean loss and its gradient are sums over samples divided by their count, so they split:
each partition (a Parquet or CSV file, a partition of a Dask dataframe, a block of Dask
arrays) is evaluated by the same `NumericModel` back end as in memory (the C kernel where it
compiles) on the worker that holds it, and sends back (rows, rows × mean loss, rows × mean
gradient); the client adds those in partition order, so the result does not depend on which
worker ran what, and divides by the total rows.

Each worker process builds the model once: the `Program` travels pickled with a hash of its
bytes, and a module-level cache keyed by that hash keeps the built model (and its compiled
kernel) for every later task. A partition is checked on the worker as `symcalc.numeric.data`
checks a CSV (a CSV file is read by `load_csv` itself), and a problem is the same one-line
`DataError`, naming the partition's file: it pickles, so the client re-raises it unchanged.

Nothing here imports Dask, its distributed scheduler, pandas or pyarrow until it is used: they
are the optional extra `symcalc-gradients[dask]`.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import math
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from symcalc.errors import DataError, Location, SymcalcError
from symcalc.numeric.data import _NUMBER, MAX_ABS_VALUE, _quote, binary_targets, load_csv
from symcalc.numeric.program import Program

if TYPE_CHECKING:
    from distributed import Client

Array = np.ndarray[Any, np.dtype[np.float64]]

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)
INSTALL = "pip install 'symcalc-gradients[dask]'"
#: Files are read into the workers' memory once (persisted) when they take at most this share of
#: the cluster's memory limit; otherwise every epoch reads them again.
PERSIST_SHARE = 0.5


class DaskMissing(SymcalcError):
    """Dask (or pyarrow, for Parquet) is asked for but not installed."""


def needs_dask() -> None:
    """A one-line DaskMissing unless Dask, its distributed scheduler and pyarrow can be imported."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as missing:
        package = (missing.name or "dask").partition(".")[0]
        raise DaskMissing(f"training on Dask needs {package}", fix=INSTALL) from None


# -- the files of a --data glob ------------------------------------------------------------------


def is_glob(text: str) -> bool:
    """A pattern of files ('data/*.parquet'), not a file's own name (a file may be called '[x].csv')."""
    return any(c in text for c in "*?[") and not Path(text).exists()


def data_files(pattern: str) -> tuple[tuple[str, ...], str]:
    """The files a --data pattern (a glob, or one file) names, sorted, and their kind ("csv" or
    "parquet"); a DataError when none matches, or they mix kinds or are neither."""
    files = tuple(sorted(glob.glob(pattern))) if is_glob(pattern) else (pattern,)
    where = Location(source=pattern)
    if not files:
        raise DataError("no file matches", where, fix="check the pattern; quote it so the shell leaves it")
    kinds = {_kind(f) for f in files}
    if None in kinds:
        odd = next(f for f in files if _kind(f) is None)
        raise DataError(f"{odd!r} is neither .parquet nor .csv", where, fix="match one kind of file")
    if len(kinds) > 1:
        raise DataError("matches both Parquet and CSV files", where, fix="match one kind of file")
    return files, str(kinds.pop())


def _kind(path: str) -> str | None:
    suffix = Path(path).suffix.lower()
    return "parquet" if suffix in PARQUET_SUFFIXES else "csv" if suffix in CSV_SUFFIXES else None


# -- what every task needs, and the worker's cache of built models ------------------------------


@dataclass(frozen=True)
class Job:
    """What a worker needs to evaluate a partition: the program (pickled) and the hash that keys its
    cache, the --columns mapping, the names the model reads and which of them are 0/1 labels."""

    key: str
    payload: bytes
    mapping: tuple[tuple[str, str], ...]
    needed: tuple[str, ...]
    labels: tuple[str, ...]
    #: Numeric, pickled by name (this module never imports symcalc.numeric.model, which imports it)
    factory: Callable[[Program], Numeric]

    @staticmethod
    def of(numeric: Numeric, mapping: Mapping[str, str] | None = None) -> Job:
        program = numeric.program
        payload = pickle.dumps(program)
        return Job(
            hashlib.sha256(payload).hexdigest(),
            payload,
            tuple((mapping or {}).items()),
            (*program.inputs, *program.targets),
            tuple(t.name for t in binary_targets(program.model)),
            type(numeric),
        )


class Numeric(Protocol):
    """What this module uses of `symcalc.numeric.model.NumericModel`."""

    program: Program

    @property
    def parameters(self) -> tuple[str, ...]: ...

    def build(self) -> None: ...

    def describe(self) -> str: ...

    def evaluate(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> tuple[float, dict[str, float]]: ...

    def per_sample_loss(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> Array: ...

    def accuracy(
        self,
        params: Mapping[str, float],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> float | None: ...


_MODELS: dict[str, Numeric] = {}


def _model(job: Job) -> Numeric:
    """This process's model for the job's program, built (the kernel compiled) on first use."""
    numeric = _MODELS.get(job.key)
    if numeric is None:
        numeric = job.factory(pickle.loads(job.payload))
        numeric.build()
        _MODELS[job.key] = numeric
    return numeric


@dataclass(frozen=True)
class Columns:
    """A partition's columns by model name, checked: what a persisted partition holds."""

    source: str
    columns: dict[str, Array] = field(repr=False)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


# -- reading and checking one partition (on the worker) -------------------------------------------


def _cell_error(source: str, row: int, column: str, problem: str, fix: str | None = None) -> DataError:
    return DataError(problem, Location(source=source, key=f"row {row + 1}, column {_quote(column)}"), fix)


def _numbers(
    values: np.ndarray[Any, Any], nulls: np.ndarray[Any, Any] | None, source: str, column: str
) -> Array:
    """One column as float64, or the DataError of its first bad cell (rows counted from 1)."""
    if nulls is not None and nulls.any():
        row = int(np.flatnonzero(nulls)[0])
        raise _cell_error(
            source, row, column, "empty cell", "every row needs a value in every column the model uses"
        )
    if values.dtype.kind in "fiub":
        numbers = np.asarray(values, dtype=np.float64)  # no copy of a float64 column
    else:
        numbers = np.empty(len(values), dtype=np.float64)
        for row, cell in enumerate(values):
            if cell is None:
                raise _cell_error(source, row, column, "empty cell")
            number = isinstance(cell, int | float | np.number) and not isinstance(cell, bool)
            if not (number or (isinstance(cell, str) and _NUMBER.fullmatch(cell.strip()))):
                raise _cell_error(source, row, column, f"{_quote(str(cell))} is not a number")
            numbers[row] = float(cell)
    bad = np.flatnonzero(~(np.abs(numbers) <= MAX_ABS_VALUE))  # NaN too: it compares false
    if bad.size:
        row = int(bad[0])
        value = numbers[row]
        if not np.isfinite(value):
            raise _cell_error(
                source,
                row,
                column,
                f"{_quote(str(value))} is not a finite number",
                "remove or fill in the row",
            )
        raise _cell_error(
            source,
            row,
            column,
            f"{value:g} is too large: beyond {MAX_ABS_VALUE:g}, z and the gradient overflow float64",
            "standardise the column",
        )
    return numbers


#: A table's column by name: (values, which are missing, or None when none can be).
ColumnReader = Callable[[str], tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]]


def _checked(job: Job, source: str, names: Sequence[str], column: ColumnReader) -> dict[str, Array]:
    """The model's columns of a table whose column names are `names`; `column(name)` gives (values,
    nulls) of one. A DataError for a missing column, a cell that is not a finite number, or a label
    that is not 0 or 1."""
    mapping = dict(job.mapping)
    wanted = {name: mapping.get(name, name) for name in job.needed}
    missing = [name for name in job.needed if wanted[name] not in names]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        shown = ", ".join(_quote(wanted[n]) for n in missing)
        has = ", ".join(_quote(str(n)) for n in names) or "(none)"
        raise DataError(
            f"no column{plural} {shown}: the model needs {', '.join(job.needed)}; the file has {has}",
            Location(source=source),
            "map a column to each with --columns NAME=COLUMN" if mapping else None,
        )
    columns = {}
    for name in job.needed:
        values, nulls = column(wanted[name])
        columns[name] = _numbers(values, nulls, source, wanted[name])
    for name in job.labels:
        bad = np.flatnonzero((columns[name] != 0) & (columns[name] != 1))
        if bad.size:
            row = int(bad[0])
            raise _cell_error(
                source,
                row,
                wanted[name],
                f"{columns[name][row]:g} is not a label: the loss takes log(a) and log(1 - a) of a "
                f"sigmoid output, so {name!r} must be 0 or 1",
            )
    return columns


def _read_parquet(job: Job, path: str) -> dict[str, Array]:
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        names = list(file.schema_arrow.names)
        mapping = dict(job.mapping)
        present = [c for c in dict.fromkeys(mapping.get(n, n) for n in job.needed) if c in names]
        table = file.read(columns=present)
    except FileNotFoundError:
        raise DataError("no such file", Location(source=path)) from None
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        reason = " ".join(str(err).split())[:200]
        raise DataError(f"cannot be read as Parquet ({reason})", Location(source=path)) from None

    def column(name: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        chunked = table.column(name)
        nulls = chunked.is_null().to_numpy(zero_copy_only=False) if chunked.null_count else None
        return chunked.to_numpy(), nulls

    return _checked(job, path, names, column)


def _read_frame(job: Job, frame: Any, source: str) -> dict[str, Array]:
    names = [str(c) for c in frame.columns]

    def column(name: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        series = frame[name]
        numeric = series.dtype.kind in "fiub"
        # NaN in a NumPy float column is a value ('nan' is not a finite number); a missing cell is
        # pandas' NA (nullable and text columns) or None
        nulls = None if numeric and isinstance(series.dtype, np.dtype) else series.isna().to_numpy()
        if numeric:
            return series.to_numpy(dtype=np.float64, na_value=np.nan), nulls
        return series.to_numpy(dtype=object), nulls

    return _checked(job, source, names, column)


def read_partition(job: Job, part: Any, source: str) -> Columns:
    """A partition's columns, checked: `part` is a file's path (CSV or Parquet), a pandas dataframe,
    a mapping of column names to arrays, or `Columns` already read."""
    if isinstance(part, Columns):
        return part
    if isinstance(part, str):
        if _kind(part) == "csv":
            numeric = _model(job)
            return Columns(source, load_csv(part, numeric.program.model, dict(job.mapping)).columns)
        return Columns(source, _read_parquet(job, part))
    if isinstance(part, Mapping):
        columns = {}
        for name in job.needed:
            if name not in part:
                raise DataError(f"no data for {name!r}", Location(source=source))
            columns[name] = np.asarray(part[name], dtype=np.float64).ravel()
        return Columns(source, columns)
    return Columns(source, _read_frame(job, part, source))


# -- the tasks --------------------------------------------------------------------------------


def partition_sums(
    job: Job, part: Any, source: str, params: Mapping[str, float], constants: Mapping[str, float]
) -> tuple[int, float, Array]:
    """(rows, rows × mean loss, rows × mean gradient) of one partition, by the model's back end."""
    data = read_partition(job, part, source)
    rows = len(data)
    numeric = _model(job)
    if rows == 0:
        return 0, 0.0, np.zeros(len(numeric.parameters))
    loss, gradient = numeric.evaluate(params, data.columns, constants)
    return rows, loss * rows, np.array([gradient[p] for p in numeric.parameters]) * rows


def partition_check(
    job: Job, part: Any, source: str, params: Mapping[str, float], constants: Mapping[str, float]
) -> tuple[int, dict[str, tuple[float, ...]], str]:
    """A partition's rows, the values each 0/1 label takes in it, and the back end in words; a
    DataError naming the first row whose loss is not finite at `params` (the starting ones)."""
    data = read_partition(job, part, source)
    numeric = _model(job)
    # the per-sample losses (by the NumPy program, slower than the kernel) only to name a bad row
    if len(data) and not math.isfinite(numeric.evaluate(params, data.columns, constants)[0]):
        losses = np.broadcast_to(numeric.per_sample_loss(params, data.columns, constants), (len(data),))
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            row = int(bad[0])
            raise DataError(
                f"the loss is {losses[row]} for this row at the starting parameters: "
                "a value outside the loss's domain",
                Location(source=source, key=f"row {row + 1}"),
            )
    seen = {name: tuple(float(v) for v in np.unique(data.columns[name])) for name in job.labels}
    return len(data), seen, numeric.describe()


def partition_correct(
    job: Job, part: Any, source: str, params: Mapping[str, float], constants: Mapping[str, float]
) -> float:
    """How many samples of a partition the model classifies right (0 for a model with no classes)."""
    data = read_partition(job, part, source)
    accuracy = _model(job).accuracy(params, data.columns, constants) if len(data) else None
    return 0.0 if accuracy is None else accuracy * len(data)


# -- the client's side ------------------------------------------------------------------------


@dataclass
class Partitioned:
    """Data in partitions, where Dask runs: the files of a --data glob (one partition each), the
    partitions of a Dask dataframe or the blocks of Dask arrays. `NumericModel.evaluate` takes it
    wherever it takes NumPy columns; each evaluation is one pass over the partitions."""

    parts: list[Any]
    sources: list[str]
    source: str
    client: Client | None = None
    rows: int | None = None
    where: str = ""
    _job: Job | None = field(default=None, repr=False)
    _program: Program | None = field(default=None, repr=False)

    def job(self, numeric: Numeric, mapping: Mapping[str, str] | None = None) -> Job:
        """The job of `numeric`'s program (and --columns `mapping`, once given), pickled once."""
        mapping = dict(self._job.mapping) if mapping is None and self._job is not None else mapping
        if self._job is None or self._program is not numeric.program or dict(self._job.mapping) != mapping:
            self._job = Job.of(numeric, mapping)
            self._program = numeric.program
        return self._job

    def _run(
        self, task: Any, job: Job, params: Mapping[str, float], constants: Mapping[str, float]
    ) -> list[Any]:
        """`task` on every partition, the results in partition order (a worker's DataError re-raised)."""
        import dask

        plain = {p: float(v) for p, v in params.items()}
        tasks = [
            dask.delayed(task, pure=True)(job, part, source, plain, dict(constants))
            for part, source in zip(self.parts, self.sources, strict=True)
        ]
        if self.client is not None:
            return list(self.client.compute(tasks, sync=True))
        return list(dask.compute(*tasks))

    def sums(
        self, numeric: Numeric, params: Mapping[str, float], constants: Mapping[str, float] | None
    ) -> tuple[float, dict[str, float]]:
        """Mean loss and mean gradient over every partition: one distributed pass."""
        results = self._run(partition_sums, self.job(numeric), params, constants or {})
        rows = sum(r[0] for r in results)
        if rows == 0:
            raise DataError("has no data rows", Location(source=self.source))
        loss = math.fsum(r[1] for r in results) / rows
        gradient = np.sum(np.stack([r[2] for r in results]), axis=0) / rows
        return loss, {p: float(g) for p, g in zip(numeric.parameters, gradient, strict=True)}

    def check(
        self,
        numeric: Numeric,
        params: Mapping[str, float],
        constants: Mapping[str, float] | None,
        mapping: Mapping[str, str] | None = None,
    ) -> None:
        """Read and check every partition (the first bad one's DataError), count the rows, check that
        each 0/1 label has both classes and that the loss is finite at `params`; `where` says what ran."""
        job = self.job(numeric, mapping)
        results = self._run(partition_check, job, params, constants or {})
        self.rows = sum(r[0] for r in results)
        if self.rows == 0:
            raise DataError("has a header but no data rows", Location(source=self.source))
        for name in job.labels:
            classes = {v for r in results for v in r[1][name]}
            if len(classes) == 1:
                shown = dict(job.mapping).get(name, name)
                raise DataError(
                    f"every label is {classes.pop():g}: one class only, so the loss has no minimum "
                    "and the weights would grow for ever",
                    Location(source=self.source, key=f"column {_quote(shown)}"),
                    "the data need samples of both classes 0 and 1",
                )
        backends = sorted({r[2] for r in results})
        workers = len(self.client.scheduler_info()["workers"]) if self.client is not None else 0
        on = f" on {workers} Dask worker{'s' if workers != 1 else ''}" if self.client else " on Dask"
        self.where = "; ".join(backends) + on

    def correct(
        self, numeric: Numeric, params: Mapping[str, float], constants: Mapping[str, float] | None
    ) -> float | None:
        """The share of samples classified right, for a binary model; None otherwise."""
        if numeric.program.logit is None or not numeric.program.targets:
            return None
        results = self._run(partition_correct, self.job(numeric), params, constants or {})
        rows = self.rows if self.rows is not None else None
        return math.fsum(results) / rows if rows else None

    def persist_if_it_fits(self, numeric: Numeric) -> bool:
        """Read the partitions into the workers' memory once when they take at most `PERSIST_SHARE`
        of the cluster's memory limit (after `check` counted the rows); else every pass reads them."""
        if self.client is None or self.rows is None:
            return False
        workers = self.client.scheduler_info()["workers"].values()
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


def from_files(pattern: str, client: Client | None = None) -> Partitioned:
    """The files a --data pattern names, one partition each, read on the workers."""
    files, _ = data_files(pattern)
    return Partitioned(list(files), list(files), pattern, client)


def from_dask(data: Any, split: Mapping[str, Sequence[str]] | None = None) -> Partitioned:
    """A Dask dataframe's partitions, or the blocks of a mapping of names to Dask arrays, as
    `Partitioned`. A name in `split` is a vector input given as one m × n Dask array: each block's
    columns are the entries `split` names (x1 … xn), taken apart on the worker."""
    import dask

    if hasattr(data, "__dask_graph__"):  # a Dask dataframe
        parts = list(data.to_delayed())
        return Partitioned(parts, [f"partition {k + 1}" for k in range(len(parts))], "the Dask dataframe")
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


@contextmanager
def cluster(scheduler: str | None, workers: int, memory_limit: str) -> Iterator[Client]:
    """A client of the scheduler at `scheduler`, or of a `LocalCluster` of `workers` processes of
    one thread each, each limited to `memory_limit` ("2GB", or "auto" to share this machine's);
    closed (the local cluster's workers ended) when the block ends, Ctrl-C included."""
    needs_dask()
    # Ctrl-C during a pass leaves the client's gather tasks unfinished: asyncio would log each one,
    # with a traceback, as the client closes; train has reported where it got to.
    quiet = logging.getLogger("asyncio")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with _cluster(scheduler, workers, memory_limit) as client:
            yield client
    finally:
        quiet.setLevel(level)


@contextmanager
def _cluster(scheduler: str | None, workers: int, memory_limit: str) -> Iterator[Client]:
    from dask.utils import parse_bytes
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as err:
            reason = " ".join(str(err).split())[:200]
            raise SymcalcError(
                f"cannot reach the Dask scheduler: {reason}",
                Location(key=f"--scheduler {scheduler}"),
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
        dashboard_address=None,
        # a bad partition is one line from the client, not the workers' tracebacks on the terminal
        silence_logs=logging.CRITICAL,
        preload=[__name__],  # `dask_setup`: Ctrl-C is the client's to handle
    )
    with local, Client(local) as client:
        yield client
