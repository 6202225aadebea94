"""A partition of the data, as a worker reads it: the files of a --data glob, the job a task gets
(what to evaluate by, pickled once: a model's `Program`, or the text of its batch module, and the
columns it reads), and each partition's columns read and checked as `symcalc.numeric.data` checks
a CSV (a CSV file is read by `load_csv` itself), then as the job selects them (--test-fraction's
rows, --standardize's scaling); and the tasks beside the loss and gradient: the statistics
--standardize combines over partitions, and Newton's Hessian. A problem is the same one-line
`DataError`, naming the partition's file.

pandas and pyarrow are imported only when a partition is read: they come with the optional extra
`symcalc-gradients[dask]` (`symcalc.numeric.distributed` runs the partitions on Dask).
"""

from __future__ import annotations

import glob
import hashlib
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from symcalc.errors import DataError, Location
from symcalc.numeric.data import Wanted, load_csv
from symcalc.numeric.program import Program
from symcalc.numeric.reader import (
    EMPTY_CELL,
    MAX_ABS_VALUE,
    NUMBER,
    missing_columns,
    not_a_class,
    not_finite,
    quoted,
    too_large,
)

Array = np.ndarray[Any, np.dtype[np.float64]]

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)


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


# -- what a task gets: the job, and the partition's columns -----------------------------------


@dataclass(frozen=True)
class Selection:
    """What a task makes of its partition's columns once read and checked, before a batch module's
    arrays are stacked: the rows it takes (--test-fraction: the training rows, or those held out),
    then each input column scaled as (x − mean)/scale (--standardize: (column, mean, scale), from
    `symcalc.numeric.distributed.Partitioned.standardize`).

    Partition k (0-based, its place in `sources`) of n rows holds out round(fraction × n) of them,
    drawn by `numpy.random.default_rng((seed, k))` as `symcalc.numeric.data.split` draws them from
    the whole file (the first of a permutation), each part in file order."""

    scaling: tuple[tuple[str, float, float], ...] = ()
    #: --test-fraction's (seed, fraction), or None: every row.
    hold_out: tuple[int, float] | None = None
    #: The rows held out rather than the training rows.
    held_out: bool = False
    #: Each partition's source, in order: a partition's number is its place here.
    sources: tuple[str, ...] = ()

    def rows(self, count: int, source: str) -> Any:
        """The numbers of the rows taken of a partition of `count` rows (sorted), or None: all; a
        DataError when --test-fraction would leave none of them to train on."""
        if self.hold_out is None:
            return None
        seed, fraction = self.hold_out
        held = round(fraction * count)
        if count and held == count:
            raise DataError(
                f"--test-fraction {fraction:g} of its {count} rows leaves no row to train on: each file "
                "holds out round(fraction × its rows)",
                Location(source=source),
                "choose a smaller fraction, or put more rows in each file",
            )
        order = np.random.default_rng((seed, self.sources.index(source))).permutation(count)
        return np.sort(order[:held] if self.held_out else order[held:])


@dataclass(frozen=True)
class Job:
    """What a worker needs to evaluate a partition: what it evaluates by (a `Program`, or a batch
    module's `BatchProgram`), pickled, and the hash that keys its cache, the --columns mapping, the
    columns the model reads (which of them are 0/1 labels) and the targets read as class numbers."""

    key: str
    payload: bytes
    mapping: tuple[tuple[str, str], ...]
    wanted: Wanted
    #: Each target read from one column of class numbers 0 … count − 1 (name, count).
    classes: tuple[tuple[str, int], ...]
    #: Each array a batch module takes (name, its columns, its shape per sample), which a partition's
    #: columns are stacked into once, as they are read; none for a `Program`, which takes the columns.
    arrays: tuple[tuple[str, tuple[str, ...], tuple[int, ...]], ...]
    #: Numeric, pickled by name (this module never imports symcalc.numeric.model, which imports it)
    factory: Callable[[Any], Numeric]
    #: What each task makes of the columns it reads: the rows it takes, its inputs scaled.
    selection: Selection = field(default_factory=Selection)

    @property
    def needed(self) -> tuple[str, ...]:
        return self.wanted.names

    @property
    def labels(self) -> tuple[str, ...]:
        return self.wanted.labels

    @staticmethod
    def of(
        numeric: Numeric, mapping: Mapping[str, str] | None = None, selection: Selection = Selection()
    ) -> Job:
        program = numeric.program
        payload = pickle.dumps(program)
        classes: tuple[tuple[str, int], ...] = ()
        arrays: tuple[tuple[str, tuple[str, ...], tuple[int, ...]], ...] = ()
        if isinstance(program, Program):
            wanted = Wanted.of(program)
        else:
            wanted, classes, arrays = program.wanted, program.classes, program.arrays
        return Job(
            hashlib.sha256(payload).hexdigest(),
            payload,
            tuple((mapping or {}).items()),
            wanted,
            classes,
            arrays,
            type(numeric),
            selection,
        )


class Shipped(Protocol):
    """What a worker evaluates by, beside a `Program`: `symcalc.numeric.batch_partitions.BatchProgram`."""

    @property
    def wanted(self) -> Wanted: ...

    @property
    def classes(self) -> tuple[tuple[str, int], ...]: ...

    @property
    def arrays(self) -> tuple[tuple[str, tuple[str, ...], tuple[int, ...]], ...]: ...

    @property
    def classifies(self) -> bool: ...


class Numeric(Protocol):
    """What this module uses of `symcalc.numeric.model.NumericModel` (a `Program` shipped) or of
    `symcalc.numeric.batch_partitions.BatchPartitions` (a batch module's text shipped): rebuilt on
    the worker as `type(numeric)(numeric.program)`."""

    @property
    def program(self) -> Program | Shipped: ...

    @property
    def parameters(self) -> tuple[str, ...]: ...

    def build(self) -> None: ...

    def describe(self) -> str: ...

    def evaluate(
        self,
        params: Mapping[str, Any],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> tuple[float, Mapping[str, Any]]: ...

    def per_sample_loss(
        self,
        params: Mapping[str, Any],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> Array: ...

    def accuracy(
        self,
        params: Mapping[str, Any],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> float | None: ...

    def second_order(
        self,
        params: Mapping[str, Any],
        data: Mapping[str, Any],
        constants: Mapping[str, float] | None = None,
    ) -> tuple[float, Array, Array]: ...


@dataclass(frozen=True)
class Columns:
    """A partition's columns by model name, checked, or for a batch module the arrays they stack
    into (X, a row per sample): what a persisted partition holds."""

    source: str
    columns: dict[str, Array] = field(repr=False)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


# -- the worker's cache of built models ----------------------------------------------------------

_MODELS: dict[str, Numeric] = {}


def built(job: Job) -> Numeric:
    """This process's model for the job's program, built (the kernel compiled) on first use."""
    numeric = _MODELS.get(job.key)
    if numeric is None:
        numeric = job.factory(pickle.loads(job.payload))
        numeric.build()
        _MODELS[job.key] = numeric
    return numeric


# -- reading and checking one partition (on the worker) -------------------------------------------


def _cell_error(source: str, row: int, column: str, problem: str, fix: str | None = None) -> DataError:
    return DataError(problem, Location(source=source, key=f"row {row + 1}, column {quoted(column)}"), fix)


def _numbers(
    values: np.ndarray[Any, Any], nulls: np.ndarray[Any, Any] | None, source: str, column: str
) -> Array:
    """One column as float64, or the DataError of its first bad cell (rows counted from 1)."""
    if nulls is not None and nulls.any():
        row = int(np.flatnonzero(nulls)[0])
        raise _cell_error(source, row, column, *EMPTY_CELL)
    if values.dtype.kind in "fiub":
        numbers = np.asarray(values, dtype=np.float64)  # no copy of a float64 column
    else:
        numbers = np.empty(len(values), dtype=np.float64)
        for row, cell in enumerate(values):
            if cell is None:
                raise _cell_error(source, row, column, "empty cell")
            number = isinstance(cell, int | float | np.number) and not isinstance(cell, bool)
            if not (number or (isinstance(cell, str) and NUMBER.fullmatch(cell.strip()))):
                raise _cell_error(source, row, column, f"{quoted(str(cell))} is not a number")
            numbers[row] = float(cell)
    bad = np.flatnonzero(~(np.abs(numbers) <= MAX_ABS_VALUE))  # NaN too: it compares false
    if bad.size:
        row = int(bad[0])
        value = numbers[row]
        problem = not_finite(str(value)) if not np.isfinite(value) else too_large(f"{value:g}")
        raise _cell_error(source, row, column, *problem)
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
        header = [str(n) for n in names]
        problem, fix = missing_columns([wanted[n] for n in missing], job.needed, header, mapping)
        raise DataError(problem, Location(source=source), fix)
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
        _check_decoded_size(file, present, path)
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


#: Bytes a value of a column that is not of fixed width (text, say) is taken to decode to.
TEXT_VALUE_BYTES = 64
#: The share of a worker's memory limit that the columns of one Parquet partition may decode to: they
#: are held twice while they become float64, beside the worker's own memory.
DECODED_SHARE = 0.5


def decoded_bytes(file: Any, columns: Sequence[str]) -> int:
    """What reading `columns` of the Parquet `file` takes, from its metadata alone: each value as
    Arrow decodes it (its type's width; `TEXT_VALUE_BYTES` for text) and as float64 (8 bytes). A
    small file can decode to gigabytes: a constant column is a few bytes of run-length code."""
    rows = int(file.metadata.num_rows)
    total = 0
    for name in columns:
        try:
            width = max(1, file.schema_arrow.field(name).type.bit_width // 8)
        except ValueError:  # not of fixed width
            width = TEXT_VALUE_BYTES
        total += rows * (width + 8)
    return total


def _worker_memory_limit() -> int | None:
    """The memory limit of the Dask worker running this task; None outside a worker or without one."""
    try:
        from distributed import get_worker

        limit = get_worker().memory_manager.memory_limit
    except (ImportError, ValueError, AttributeError):
        return None
    return int(limit) if limit else None


def _check_decoded_size(file: Any, columns: Sequence[str], path: str) -> None:
    """A DataError, before anything is read, when the columns would not fit the worker's memory: the
    worker would be killed by Dask's nanny again and again (KilledWorker), with no word of which file."""
    limit = _worker_memory_limit()
    size = decoded_bytes(file, columns)
    if limit is not None and size > DECODED_SHARE * limit:
        raise DataError(
            f"its columns decode to {size / 1e9:.3g} GB, more than half of this worker's memory limit "
            f"({limit / 1e9:.3g} GB)",
            Location(source=path),
            "split it into smaller files, or raise --memory-limit",
        )


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
    """A partition's columns, checked, as the job selects them (its inputs scaled), a batch module's
    stacked into its arrays: `part` is what `read_columns` reads, or `Columns` already read (by a job
    that selected them alike)."""
    if isinstance(part, Columns):
        return part
    columns = read_columns(job, part, source)
    return selected(job, columns, source, job.selection.rows(_count(columns), source))


def selected(job: Job, columns: Mapping[str, Array], source: str, rows: Any) -> Columns:
    """The `rows` of a partition's `columns` (None: all), the inputs scaled as the job's selection
    says, a batch module's stacked into its arrays."""
    taken = {name: values if rows is None else values[rows] for name, values in columns.items()}
    for name, mean, scale in job.selection.scaling:
        taken[name] = (taken[name] - mean) / scale
    return Columns(source, _stacked(job, taken) if job.arrays else taken)


def _count(columns: Mapping[str, Array]) -> int:
    return len(next(iter(columns.values()))) if columns else 0


def read_columns(job: Job, part: Any, source: str) -> dict[str, Array]:
    """A partition's model columns by name, read and checked, as they are in the data (every row):
    `part` is a file's path (CSV or Parquet), a pandas dataframe, or a mapping of column names to
    arrays."""
    lines = None
    if isinstance(part, str) and _kind(part) == "csv":
        dataset = load_csv(part, job.wanted, dict(job.mapping), part=True)
        columns, lines = dict(dataset.columns), dataset.lines
    elif isinstance(part, str):
        columns = _read_parquet(job, part)
    elif isinstance(part, Mapping):
        columns = {}
        for name in job.needed:
            if name not in part:
                raise DataError(f"no data for {name!r}", Location(source=source))
            columns[name] = np.asarray(part[name], dtype=np.float64).ravel()
    else:
        columns = _read_frame(job, part, source)
    _check_classes(job, source, columns, lines)
    return columns


def partition_moments(job: Job, part: Any, source: str) -> tuple[int, Array, Array]:
    """(rows, each input column's mean, each one's sum of squared deviations from that mean) of the
    rows of a partition the job takes (the training rows), as they are in the data, the columns in
    the order of `job.wanted.inputs`."""
    columns = read_columns(job, part, source)
    taken = job.selection.rows(_count(columns), source)
    inputs = job.wanted.inputs
    values = np.column_stack([columns[name] if taken is None else columns[name][taken] for name in inputs])
    if len(values) == 0:
        return 0, np.zeros(len(inputs)), np.zeros(len(inputs))
    means = values.mean(axis=0)
    return len(values), means, np.sum(np.square(values - means), axis=0)


def combined_moments(parts: Sequence[tuple[int, Array, Array]]) -> tuple[int, Array, Array]:
    """The (rows, means, sums of squared deviations) of the partitions' rows together, from each
    partition's, added in order by the parallel formula of Chan, Golub and LeVeque: no Σx² − (Σx)²/n,
    which loses the digits of a column far from 0 with a small spread."""
    count, means, squares = parts[0]
    for rows, part_means, part_squares in parts[1:]:
        if rows == 0:
            continue
        total = count + rows
        delta = part_means - means
        means = means + delta * (rows / total)
        squares = squares + part_squares + np.square(delta) * (count * rows / total)
        count = total
    return count, means, squares


def partition_second_order(
    job: Job, part: Any, source: str, params: Mapping[str, Any], constants: Mapping[str, float]
) -> tuple[int, float, Array | None, Array | None]:
    """(rows, rows × mean loss, rows × mean gradient, rows × mean Hessian) of one partition, for
    Newton's method, by the model's back end (None for a partition of no rows)."""
    data = read_partition(job, part, source)
    rows = len(data)
    if rows == 0:
        return 0, 0.0, None, None
    loss, gradient, hessian = built(job).second_order(params, data.columns, constants)
    return rows, loss * rows, np.asarray(gradient) * rows, np.asarray(hessian) * rows


def _stacked(job: Job, columns: Mapping[str, Array]) -> dict[str, Array]:
    """Each array of `job.arrays` as the batch module takes it, a row per sample, as `train` stacks
    them in memory (`symcalc.numeric.batch_data`): a target read as class numbers one-hot."""
    from symcalc.numeric.batch_fit import one_hot

    classes = dict(job.classes)
    result: dict[str, Array] = {}
    for name, names, shape in job.arrays:
        if name in classes:
            result[name] = one_hot(columns[name], classes[name])
        elif not shape:
            result[name] = columns[names[0]]
        else:
            stacked = np.column_stack([columns[column] for column in names])
            result[name] = stacked.reshape(len(stacked), *shape)
    return result


def _check_classes(
    job: Job, source: str, columns: Mapping[str, Array], lines: np.ndarray[Any, Any] | None
) -> None:
    """A DataError for a value of a target read as class numbers that is not one of them (a CSV's by
    its line, any other partition's by its row)."""
    mapping = dict(job.mapping)
    for name, count in job.classes:
        values = columns[name]
        bad = np.flatnonzero((values != np.round(values)) | (values < 0) | (values >= count))
        if bad.size:
            row = int(bad[0])
            column = f"column {quoted(mapping.get(name, name))}"
            where = (
                Location(source, column, int(lines[row]))
                if lines is not None
                else Location(source, f"row {row + 1}, {column}")
            )
            problem, fix = not_a_class(name, count, values[row])
            raise DataError(problem, where, fix)
