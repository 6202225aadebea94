"""A CSV's columns for a `BatchModel`: which columns a run reads, the targets checked, and the
columns stacked into the arrays its batch module takes (row k of X is sample k).

A vector input x[n] reads x1 … xn. A vector target y[k] reads y1 … yk, or, where the file has
a single column named y instead, class numbers 0 … k − 1, one-hot inside (k from the file's
[dimensions]). A 0/1 label (binary cross-entropy) must be 0 or 1 with both classes present, as
for every model.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from symcalc.errors import DataError, Location
from symcalc.numeric.batch_fit import BatchModel, one_hot
from symcalc.numeric.data import Dataset, binary_targets
from symcalc.numeric.reader import not_a_class
from symcalc.spec.names import suggestion
from symcalc.spec.shapes import components

Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Columns:
    """The columns a run of `batch` reads at `sizes`: each datum's column names, in order, and the
    vector targets given as one column of class numbers (name → the number of classes)."""

    batch: BatchModel
    sizes: dict[str, int]
    names: dict[str, tuple[str, ...]]
    classes: dict[str, int]

    @property
    def needed(self) -> list[str]:
        return [column for names in self.names.values() for column in names]

    @property
    def inputs(self) -> list[str]:
        return [column for name in self.batch.inputs for column in self.names[name]]

    def check_mapping(self, mapping: Mapping[str, str], source: str) -> None:
        """A DataError for a --columns NAME the run does not read."""
        known = self.needed
        for name, column in mapping.items():
            if name not in known:
                where = Location(source=source, key=f"--columns {name}={column}")
                listed = ", ".join(known[:8]) + (" …" if len(known) > 8 else "")
                fix = suggestion(name, known, f"the run reads {listed}")
                raise DataError(f"{name!r} is not an input or target of the model at these sizes", where, fix)

    def check(self, dataset: Dataset) -> None:
        """DataError for a class number that is not one, or a 0/1 label that is not 0 or 1 (or one class)."""
        for name, count in self.classes.items():
            values = dataset.columns[name]
            bad = np.flatnonzero((values != np.round(values)) | (values < 0) | (values >= count))
            if bad.size:
                row = int(bad[0])
                where = Location(dataset.source, f"column {dataset.shown(name)}", dataset.lines[row])
                problem, fix = not_a_class(name, count, values[row])
                raise DataError(problem, where, fix)
        for target in binary_targets(self.batch.model):
            if target.name not in self.names:
                continue
            values = dataset.columns[target.name]
            where = Location(source=dataset.source, key=f"column {dataset.shown(target.name)}")
            bad = np.flatnonzero((values != 0) & (values != 1))
            if bad.size:
                row = int(bad[0])
                raise DataError(
                    f"{values[row]:g} is not a label: the loss takes log(a) and log(1 - a) of a sigmoid "
                    f"output, so {target.name!r} must be 0 or 1",
                    Location(source=dataset.source, line=dataset.lines[row], key=where.key),
                )
            if np.all(values == values[0]):
                raise DataError(
                    f"every label is {values[0]:g}: one class only, so the loss has no minimum",
                    where,
                    fix="the data need samples of both classes 0 and 1",
                )

    def arrays(self, dataset: Dataset) -> dict[str, Array]:
        """Each input and target as its batch module takes it: a row per sample."""
        result: dict[str, Array] = {}
        for name, columns in self.names.items():
            if name in self.classes:
                result[name] = one_hot(dataset.columns[name], self.classes[name])
                continue
            shape = self.batch.shape(name, self.sizes)
            if not shape:
                result[name] = dataset.columns[name]
                continue
            stacked = np.column_stack([dataset.columns[c] for c in columns])
            result[name] = stacked.reshape(len(dataset), *shape)
        return result


def columns_for(batch: BatchModel, sizes: Mapping[str, int], header: Collection[str]) -> Columns:
    """The columns a run reads at `sizes` (the file's, with those the data decide), given the file's
    `header` as --columns renames it."""
    names: dict[str, tuple[str, ...]] = {}
    classes: dict[str, int] = {}
    present = set(header)
    for name in (*batch.inputs, *batch.targets):
        shape = batch.shape(name, sizes)
        if name in batch.targets and len(shape) == 1 and f"{name}1" not in present and name in present:
            names[name], classes[name] = (name,), shape[0]
        else:
            names[name] = tuple(components(name, shape)) if shape else (name,)
    return Columns(batch, dict(sizes), names, classes)
