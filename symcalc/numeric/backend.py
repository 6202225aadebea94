"""`Backend`: what every way of evaluating a `Program` over a batch offers `NumericModel`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Backend(Protocol):
    """Mean loss and mean gradients of one program over 1-D columns, by one method of computing them."""

    @property
    def name(self) -> str:
        """What `NumericModel.backend` reports: "c", "numpy" or "generic", the names `backend=` takes."""
        ...

    def evaluate(
        self, params: Sequence[float], columns: Sequence[Any], constants: Sequence[float]
    ) -> tuple[float, list[float]] | None:
        """Means over the batch (`columns` are the inputs, then the targets); None when this back end
        does not take these columns (not 1-D, of unequal lengths, empty), so the next one in line does."""
        ...

    def describe(self) -> str:
        """The back end in words, for the `computed by` row of `train`."""
        ...
