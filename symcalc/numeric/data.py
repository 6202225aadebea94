"""Training data: reading a CSV for a model with one clear error per problem, and the built-in dataset.

Every problem is a `DataError` naming the file, and the line and column where
there is one: ``data.csv, line 7, column 'x2': 'abc' is not a number``. The file
itself is streamed into columns by `symcalc.numeric.reader`, within its bound of memory. The
header names the columns; the model's inputs and targets are looked up by name
(never by position) and other columns are ignored.

Rules, decided once here:

- **Labels.** A target is a *binary label* when the loss multiplies it, or one
  minus it, by the log of a sigmoid output: ``y*log(a)`` or ``(1 - y)*log(1 - a)``
  with ``a = sigmoid(z)``, i.e. binary cross-entropy. Its values must then be
  exactly 0 or 1, and both classes must occur (with one class the loss has no
  minimum: the weights grow for ever). Any other target may be any finite number;
  a row where the loss is still undefined (``log(y)`` with y ≤ 0, say) is
  reported by `check_finite_loss` once the loss can be computed.
- **Constant columns** are a warning, not an error: a constant input carries no
  information and its weight cannot be told apart from a bias, but the fit
  still runs.
- **Magnitudes** beyond 1e150 are an error: z = w·x and the gradient x·(a − y)
  are squared in the gradient norm and overflow float64 long before the data
  do; standardise such a column.
- **Column names.** A header that is not a model name (``mean radius``) is read for
  one by ``--columns x1="mean radius"`` (`parse_columns`); messages about a cell
  name the file's column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import sympy as sp

from symcalc.errors import DataError, Location
from symcalc.numeric.program import Program
from symcalc.numeric.reader import Lines, error, names_of, read_columns
from symcalc.numeric.reader import quoted as quoted  # re-exported: numeric.distributed words cells with it
from symcalc.numeric.stable import name_sigmoids
from symcalc.spec.names import suggestion
from symcalc.symbolic.functions import sigmoid
from symcalc.symbolic.graph import Model

Array = np.ndarray[Any, np.dtype[np.float64]]

BUILTIN_DATASET = "two_blobs.csv"
BUILTIN_SEED = 20241127
BUILTIN_SAMPLES = 200


@dataclass(frozen=True)
class Dataset:
    """Columns by name (float64, equal length), the file line of each row, and any warnings."""

    source: str
    columns: dict[str, Array]
    #: The file line of each row (int32: a file has fewer than 2**31 lines).
    lines: Lines
    warnings: tuple[str, ...] = ()
    #: The file's column read for a model name, where --columns mapped one (x1 → "mean radius").
    headers: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lines)

    def shown(self, name: str) -> str:
        """A model name's column as a message names it: 'mean radius' (x1), or 'x1'."""
        header = self.headers.get(name, name)
        return quoted(header) if header == name else f"{quoted(header)} ({name})"


# -- which values a target may take -----------------------------------------------------------


def _log_of_sigmoid(expr: sp.Expr) -> bool:
    """log(σ(u)) or log(1 − σ(u)): the log of a probability from a sigmoid."""
    if not isinstance(expr, sp.log):
        return False
    arg = expr.args[0]
    if isinstance(arg, sigmoid):
        return True
    return bool(arg.is_Add and sp.S.One in arg.args and any(isinstance(-t, sigmoid) for t in arg.args))


def binary_targets(model: Model) -> tuple[sp.Symbol, ...]:
    """Targets the loss treats as 0/1 labels: multiplied, or one minus them, by the log of a sigmoid output.

    Decided definition by definition, never on the loss composed into one tree (which grows
    exponentially with a deep model's layers): each definition the loss depends on is read with
    the definitions it uses looked into one level where they are a sigmoid (hand-written
    1/(1 + exp(−z)) too, rewritten to σ first) or read data only (t = 1 − y).
    """
    data = {*model.inputs, *model.targets, *(s for s, _ in model.constants)}
    inside: dict[sp.Symbol, sp.Expr] = {}
    for node, definition in model.definitions:
        named = name_sigmoids(definition)
        if isinstance(named, sigmoid) or definition.free_symbols <= data:
            inside[node] = named
    used = model.ancestors(model.loss) | {model.loss}
    found: set[sp.Symbol] = set()
    for node, definition in model.definitions:
        if node not in used:
            continue
        for part in sp.preorder_traversal(name_sigmoids(definition.xreplace(inside))):
            if not part.is_Mul or not any(_log_of_sigmoid(f) for f in part.args):
                continue
            rest = [f for f in part.args if not _log_of_sigmoid(f)]
            for target in model.targets:
                if any(target in f.free_symbols and f.is_polynomial(target) for f in rest):
                    found.add(target)
    return tuple(t for t in model.targets if t in found)


def labels_of(program: Program) -> tuple[str, ...]:
    """The names of the targets `program`'s loss treats as 0/1 labels: as decided where it was built
    (`train` decides them in the limited child), else now."""
    if program.labels is not None:
        return program.labels
    return tuple(t.name for t in binary_targets(program.model))


@dataclass(frozen=True)
class Wanted:
    """What data must hold for a model: its inputs' and targets' columns, and which targets are 0/1
    labels; from the model itself, or from its program (whose labels were decided where it was built)."""

    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    labels: tuple[str, ...]

    @staticmethod
    def of(model: Model | Program | Wanted) -> Wanted:
        if isinstance(model, Wanted):
            return model
        if isinstance(model, Program):
            return Wanted(model.inputs, model.targets, labels_of(model))
        labels = tuple(t.name for t in binary_targets(model))
        return Wanted(tuple(s.name for s in model.inputs), tuple(s.name for s in model.targets), labels)

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.inputs, *self.targets)


# -- --columns NAME=COLUMN ------------------------------------------------------------------------

# A comma starts the next pair only where NAME= follows it: a column's own commas stay in it.
_NEXT_PAIR = re.compile(r",(?=\s*[A-Za-z_][A-Za-z0-9_]*\s*=)")
COLUMNS_EXAMPLE = 'e.g. --columns x1="mean radius",y=diagnosis'


def parse_columns(options: Sequence[str]) -> dict[str, str]:
    """--columns NAME=COLUMN[,NAME=COLUMN...], each option given: the file's column for each model name.

    One DataError, naming the pair, for a pair without NAME, = or COLUMN, a name mapped twice,
    or a column mapped to two names.
    """
    mapping: dict[str, str] = {}
    for option in options:
        for pair in _NEXT_PAIR.split(option):
            name, equals, column = (part.strip() for part in pair.partition("="))
            where = Location(key=f"--columns {pair.strip()}")
            if not (equals and name and column):
                raise DataError("is not NAME=COLUMN", where, fix=COLUMNS_EXAMPLE)
            if name in mapping:
                raise DataError(
                    f"{name!r} is mapped twice, to {mapping[name]!r} and {column!r}",
                    where,
                    fix="map each name once",
                )
            taken = next((other for other, used in mapping.items() if used == column), None)
            if taken is not None:
                raise DataError(
                    f"column {column!r} is mapped to both {taken!r} and {name!r}",
                    where,
                    fix="map each column to one name",
                )
            mapping[name] = column
    return mapping


def check_mapped_names(mapping: Mapping[str, str], model: Model) -> None:
    """A DataError for a --columns NAME that is not one of the model's inputs or targets."""
    known = [s.name for s in (*model.inputs, *model.targets)]
    for name, column in mapping.items():
        if name not in known:
            where = Location(source=model.source, key=f"--columns {name}={column}")
            fix = suggestion(name, known, f"the model's inputs and targets: {names_of(known)}")
            raise DataError(f"{name!r} is not an input or target of the model", where, fix)


def renamed_header(header: Sequence[str], mapping: Mapping[str, str]) -> list[str]:
    """The names a header gives the model once --columns is applied: a mapped column is its name."""
    mapped = set(mapping.values())
    return [*(h for h in header if h.strip() not in mapped), *mapping]


# -- reading ------------------------------------------------------------------------------------


def _opened(path: Path, source: str) -> BinaryIO:
    """The file open for reading, once it is known to be a regular file (/dev/zero would fill memory, a
    named pipe would wait for ever)."""
    if not path.exists():
        raise error(source, "no such file")
    if path.is_dir():
        raise error(source, "is a folder, not a CSV file")
    if not path.is_file():
        raise error(source, "is not a regular file")
    try:
        return path.open("rb")
    except OSError as err:
        raise error(source, f"cannot read: {err.strerror}") from None


def _check_labels(
    labels: Sequence[str],
    columns: Mapping[str, Array],
    lines: Lines,
    source: str,
    mapping: Mapping[str, str],
    whole: bool = True,
) -> None:
    """Every 0/1 label 0 or 1, and (of `whole` data, not of one part of them) both classes there."""
    for name in labels:
        column = columns[name]
        bad = np.flatnonzero((column != 0) & (column != 1))
        if bad.size:
            row = int(bad[0])
            raise error(
                source,
                f"{column[row]:g} is not a label: the loss takes log(a) and log(1 - a) of a sigmoid "
                f"output, so {name!r} must be 0 or 1",
                line=int(lines[row]),
                column=mapping.get(name, name),
            )
        if whole and np.all(column == column[0]):
            raise error(
                source,
                f"every label is {column[0]:g}: one class only, so the loss has no minimum "
                "and the weights would grow for ever",
                column=mapping.get(name, name),
                fix="the data need samples of both classes 0 and 1",
            )


def _constant_warnings(
    inputs: Sequence[str], columns: Mapping[str, Array], source: str, mapping: Mapping[str, str]
) -> tuple[str, ...]:
    warnings = []
    for name in inputs:
        column = columns[name]
        if len(column) > 1 and np.all(column == column[0]):
            header = quoted(mapping.get(name, name))
            warnings.append(
                f"{source}, column {header}: every value is {column[0]:g}; a constant column carries "
                "no information and its weight cannot be told apart from a bias"
            )
    return tuple(warnings)


def _dataset(
    wanted: Wanted, handle: BinaryIO, source: str, mapping: Mapping[str, str], whole: bool = True
) -> Dataset:
    with handle:
        columns, lines = read_columns(handle, source, wanted.names, mapping)
    _check_labels(wanted.labels, columns, lines, source, mapping, whole)
    warnings = _constant_warnings(wanted.inputs, columns, source, mapping)
    return Dataset(source, columns, lines, warnings, dict(mapping))


def columns_of(path: str | Path | None) -> tuple[list[str], str]:
    """The header of a CSV file (the built-in dataset's when None), or a Parquet file's column names,
    and how to name the file.

    A file that cannot be read gives no columns: reading its data reports the problem.
    """
    if path is None:
        text = resources.files("symcalc").joinpath("datasets", BUILTIN_DATASET).read_text(encoding="utf-8")
        return text.partition("\n")[0].split(","), f"{BUILTIN_DATASET} (built in)"
    if Path(path).suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names), str(path)
        except Exception:  # pyarrow missing, or a file it cannot read: reading the data reports it
            return [], str(path)
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            first = handle.readline(1024**2)
        return next(csv.reader([first]), []), str(path)
    except (OSError, UnicodeDecodeError, csv.Error):
        return [], str(path)


def load_csv(
    path: str | Path,
    model: Model | Program | Wanted,
    mapping: Mapping[str, str] | None = None,
    part: bool = False,
) -> Dataset:
    """The model's inputs and targets from a CSV file, checked; DataError on the first problem.

    `model` may be the model's program, whose 0/1 labels were decided where it was built, or the
    columns to read themselves (`Wanted`: a batch module's, on a Dask worker). `mapping`
    (--columns) names the file's column for a model name that is not itself a column. A `part` of
    the data (a partition on a Dask worker) may hold one class of a label only: whether the data
    hold both is decided over every part (`Partitioned.check`).
    """
    source = str(path)
    return _dataset(Wanted.of(model), _opened(Path(path), source), source, mapping or {}, whole=not part)


def columns_dataset(
    path: str | Path | None, needed: Sequence[str], mapping: Mapping[str, str] | None = None
) -> Dataset:
    """The `needed` columns of a CSV file (the built-in dataset's when None), checked as `load_csv`
    checks a cell; what a model with vectors reads, its columns named for the run's sizes."""
    mapping = mapping or {}
    if path is None:
        source = f"{BUILTIN_DATASET} (built in)"
        _check_builtin_has(needed, source)
        data = resources.files("symcalc").joinpath("datasets", BUILTIN_DATASET).read_bytes()
        handle: BinaryIO = io.BytesIO(data)
    else:
        source = str(path)
        handle = _opened(Path(path), source)
    with handle:
        columns, lines = read_columns(handle, source, needed, mapping)
    return Dataset(source, columns, lines, (), dict(mapping))


def load_builtin(model: Model | Program, mapping: Mapping[str, str] | None = None) -> Dataset:
    """The dataset shipped with the package (see `two_blobs`), checked against `model` (or its program)."""
    mapping = mapping or {}
    source = f"{BUILTIN_DATASET} (built in)"
    text = resources.files("symcalc").joinpath("datasets", BUILTIN_DATASET).read_text(encoding="utf-8")
    wanted = Wanted.of(model)
    _check_builtin_has([mapping.get(name, name) for name in wanted.names], source)
    return _dataset(wanted, io.BytesIO(text.encode("utf-8")), source, mapping)


def _check_builtin_has(needed: Sequence[str], source: str) -> None:
    """A DataError unless the built-in dataset has every column a model needs (its sizes are the file's:
    the built-in data never decide them)."""
    available = {"x1", "x2", "y"}
    if not set(needed) <= available:
        wanted = list(dict.fromkeys(needed))
        shown = wanted if len(wanted) <= 8 else [*wanted[:3], "…", *wanted[-2:]]
        raise error(
            source,
            f"the built-in dataset has columns x1, x2, y; this model needs {names_of(shown)}",
            fix="give the data with --data FILE.csv",
        )


def check_finite_loss(dataset: Dataset, per_sample_loss: Array) -> None:
    """A DataError naming the first row whose loss is not finite: a value outside the loss's domain."""
    values = np.broadcast_to(np.asarray(per_sample_loss, dtype=np.float64), (len(dataset),))
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise error(
            dataset.source,
            f"the loss is {values[row]} for this row at the starting parameters: "
            "a value outside the loss's domain",
            line=int(dataset.lines[row]),
        )


# -- the built-in dataset -------------------------------------------------------------------------


def two_blobs(samples: int = BUILTIN_SAMPLES, seed: int = BUILTIN_SEED) -> str:
    """The built-in dataset's CSV text, generated deterministically.

    Two overlapping Gaussian classes with unit variance, centred at (−1, −0.5)
    (y = 0) and (1, 0.5) (y = 1), `samples // 2` each, drawn with NumPy's
    PCG64 generator from `seed` and written to 6 decimals. The classes
    overlap, so unpenalised logistic regression has a finite optimum.
    """
    rng = np.random.default_rng(seed)
    half = samples // 2
    rows: list[tuple[float, float, int]] = []
    for label, centre in ((0, (-1.0, -0.5)), (1, (1.0, 0.5))):
        points = rng.standard_normal((half, 2)) + np.array(centre)
        rows.extend((float(p[0]), float(p[1]), label) for p in points)
    order = rng.permutation(len(rows))
    lines = ["x1,x2,y", *(f"{rows[i][0]:.6f},{rows[i][1]:.6f},{rows[i][2]}" for i in order)]
    return "\n".join(lines) + "\n"


# -- held-out rows and standardized inputs --------------------------------------------------------

#: Input columns whose spreads differ by this factor or more get the --standardize warning.
SCALE_RATIO = 100.0


def rows(dataset: Dataset, chosen: Sequence[int] | np.ndarray[Any, Any]) -> Dataset:
    """The rows `chosen` of `dataset` (indices, in that order), with their file lines."""
    index = np.asarray(chosen, dtype=np.intp)
    columns = {name: values[index] for name, values in dataset.columns.items()}
    lines = dataset.lines[index]
    return Dataset(dataset.source, columns, lines, dataset.warnings, dataset.headers)


def split(dataset: Dataset, fraction: float, seed: int, labels: Sequence[str]) -> tuple[Dataset, Dataset]:
    """(training, test): round(fraction × rows) rows drawn for the test by NumPy's generator from
    `seed`, each part in file order. DataError when a part would be empty, or when the training
    part has one class only of one of the 0/1 `labels`."""
    count = len(dataset)
    held = round(fraction * count)
    flag = f"--test-fraction {fraction:g}"
    if held == 0 or held == count:
        problem = "holds out no row" if held == 0 else "leaves no row to train on"
        raise DataError(
            f"{flag} of {count} rows {problem}", Location(source=dataset.source), "choose another fraction"
        )
    order = np.random.default_rng(seed).permutation(count)
    train, test = rows(dataset, np.sort(order[held:])), rows(dataset, np.sort(order[:held]))
    for name in labels:
        column = train.columns[name]
        if np.all(column == column[0]):
            raise DataError(
                f"after {flag} every label left to train on is {column[0]:g}: one class only",
                Location(source=dataset.source, key=f"column {dataset.shown(name)}"),
                "hold out a smaller fraction, or draw other rows with --seed",
            )
    return train, test


def spread(column: Array) -> tuple[float, str]:
    """How widely a column's values spread: the standard deviation, or the largest |value| when
    that is 0 (a constant column)."""
    deviation = float(np.std(column))
    if deviation > 0:
        return deviation, "standard deviation"
    return float(np.max(np.abs(column))), "largest |value|"


def scale_warning(dataset: Dataset, inputs: Sequence[str]) -> str | None:
    """One warning when the inputs' spreads differ by `SCALE_RATIO` or more, naming the widest and the
    narrowest column; None otherwise (columns of zeros have no spread and are left out)."""
    spreads = {name: spread(dataset.columns[name]) for name in inputs}
    spreads = {name: found for name, found in spreads.items() if found[0] > 0}
    if len(spreads) < 2:
        return None
    widest = max(spreads, key=lambda name: spreads[name][0])
    narrowest = min(spreads, key=lambda name: spreads[name][0])
    ratio = spreads[widest][0] / spreads[narrowest][0]
    if ratio < SCALE_RATIO:
        return None
    described = [
        f"{dataset.shown(name)} has {spreads[name][1]} {spreads[name][0]:.3g}" for name in (widest, narrowest)
    ]
    return (
        f"{dataset.source}: the input columns differ in scale by a factor of {ratio:.3g}: "
        f"{described[0]}, {described[1]}; one learning rate cannot suit both "
        "(train with --standardize)"
    )


@dataclass(frozen=True)
class Standardization:
    """x ↦ (x − mean)/scale per input column; scale is the standard deviation (1 for a constant column)."""

    means: dict[str, float]
    scales: dict[str, float]

    @staticmethod
    def of(means: Mapping[str, float], deviations: Mapping[str, float]) -> Standardization:
        """From each input's mean and standard deviation (a constant column's scale is 1)."""
        return Standardization(
            {name: float(m) for name, m in means.items()},
            {name: float(d) if d > 0 else 1.0 for name, d in deviations.items()},
        )

    @property
    def shown(self) -> tuple[tuple[str, float, float], ...]:
        """Each input's (name, mean, scale), as the summary and --save report them."""
        return tuple((name, mean, self.scales[name]) for name, mean in self.means.items())

    def apply(self, dataset: Dataset) -> Dataset:
        columns = dict(dataset.columns)
        for name, mean in self.means.items():
            columns[name] = (columns[name] - mean) / self.scales[name]
        return Dataset(dataset.source, columns, dataset.lines, dataset.warnings, dataset.headers)


def standardization(dataset: Dataset, inputs: Sequence[str]) -> Standardization:
    """The means and standard deviations (NumPy's, ddof 0) of `dataset`'s input columns."""
    means = {name: float(np.mean(dataset.columns[name])) for name in inputs}
    deviations = {name: float(np.std(dataset.columns[name])) for name in inputs}
    return Standardization.of(means, deviations)
