"""Full-batch gradient descent as a generator of per-epoch records, and the reasons it stops.

`descend` yields one `Epoch` per evaluation: epoch 0 is the starting point, and
epoch k holds the parameters after k updates with their loss and gradient. The
last record says why it stopped (`Stop`): the epoch budget, a gradient norm
below `tol`, a non-finite loss or gradient (the record then keeps the last
finite parameters and names the step that failed), or a loss that kept rising.
`run` takes any method's records to the end (this module's `descend`, `symcalc.numeric.newton`,
`symcalc.numeric.lbfgs`) for the library and the CLI alike: interrupted by Ctrl-C, it returns
the last record it received, which is where training got to; `train` runs `descend`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from symcalc.errors import DescentError

#: Consecutive rising epochs after which descent is called diverging.
RISING_PATIENCE = 10
#: A rise smaller than this fraction of the loss is rounding, not divergence.
RISE_TOLERANCE = 1e-12

#: Parameters by name: each a number, or an array of its shape (W an h × n array).
Params = dict[str, Any]
Evaluate = Callable[[Mapping[str, Any]], tuple[float, Mapping[str, Any]]]


class Stop(Enum):
    """Why descent stopped."""

    EPOCHS = "epochs"
    CONVERGED = "converged"
    NON_FINITE = "non-finite"
    DIVERGING = "diverging"
    INTERRUPTED = "interrupted"
    STALLED = "stalled"  # a second-order method found no step that lowers the loss


@dataclass(frozen=True)
class Epoch:
    """Parameters after `epoch` updates, their mean loss and gradient; `stop` is set on the last record.
    Each parameter and its gradient is a number, or an array of the parameter's shape."""

    epoch: int
    parameters: Params
    loss: float
    gradient: Params
    elapsed: float
    stop: Stop | None = None
    message: str = ""
    history: tuple[float, ...] = field(default=(), repr=False)
    #: The gradient norm at the start (set by `descend` on its last record): how far the run got.
    start_norm: float = math.nan

    @property
    def gradient_norm(self) -> float:
        return math.sqrt(math.fsum(float(np.sum(np.square(g))) for g in self.gradient.values()))

    @property
    def converged(self) -> bool:
        return self.stop is Stop.CONVERGED


def _finite(loss: float, gradient: Mapping[str, Any]) -> bool:
    return math.isfinite(loss) and all(np.isfinite(g).all() for g in gradient.values())


def _bad_value(loss: float, gradient: Mapping[str, Any]) -> str:
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    name, value = next((p, g) for p, g in gradient.items() if not np.isfinite(g).all())
    if np.ndim(value):
        return f"the gradient of {name} became non-finite"
    return f"the gradient of {name} became {float(value)}"


@dataclass(frozen=True)
class Flat:
    """Parameters as one vector and back, in their order, each array's entries row by row: what
    Newton's method and L-BFGS step in."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @staticmethod
    def of(params: Mapping[str, Any]) -> Flat:
        return Flat(tuple(params), tuple(np.shape(v) for v in params.values()))

    def vector(self, values: Mapping[str, Any]) -> np.ndarray:
        return np.concatenate([np.ravel(np.asarray(values[n], dtype=np.float64)) for n in self.names])

    def named(self, vector: np.ndarray) -> Params:
        """Each parameter's number (a float) or array (a copy) from `vector`."""
        result: Params = {}
        start = 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            size = math.prod(shape)
            part = vector[start : start + size]
            result[name] = float(part[0]) if not shape else np.array(part, dtype=np.float64).reshape(shape)
            start += size
        return result


def check_settings(epochs: int, tol: float) -> None:
    """DescentError for an epoch budget below 0 or a tolerance that is not a number of 0 or more."""
    if epochs < 0:
        raise DescentError(f"the number of epochs must be 0 or more, not {epochs}")
    if not (tol >= 0):
        raise DescentError(f"the tolerance must be 0 or more, not {tol}")


def non_finite(
    previous: Epoch | None,
    params: Params,
    loss: float,
    gradient: Mapping[str, Any],
    elapsed: float,
    history: Sequence[float],
    epoch: int,
    hint: str,
) -> Epoch:
    """The last record when the loss or gradient at `params` (epoch `epoch`) is not finite: the last
    finite parameters, or the starting ones when there are none; `hint` is appended to the message."""
    what = _bad_value(loss, gradient) if not _finite(loss, gradient) else "the Hessian became non-finite"
    if previous is None:
        message = f"{what} at the starting parameters"
        return Epoch(0, params, loss, dict(gradient), elapsed, Stop.NON_FINITE, message, tuple(history))
    message = (
        f"{what} at step {epoch}; kept the parameters of step {previous.epoch}, the last finite ones{hint}"
    )
    return Epoch(
        previous.epoch,
        previous.parameters,
        previous.loss,
        previous.gradient,
        elapsed,
        Stop.NON_FINITE,
        message,
        tuple(history),
    )


def stopping(
    record: Epoch, epoch: int, epochs: int, tol: float, unit: str = "epoch"
) -> tuple[Stop | None, str]:
    """Whether to stop at `record`: converged (gradient norm below `tol`) or out of epochs (or of
    iterations: `unit` words them)."""
    norm = record.gradient_norm
    if norm < tol:
        plural = "" if epoch == 1 else "s"
        return Stop.CONVERGED, f"converged: gradient norm {norm:.3g} < {tol:g} after {epoch} {unit}{plural}"
    if epoch == epochs:
        plural = "" if epochs == 1 else "s"
        return (
            Stop.EPOCHS,
            f"stopped after {epochs} {unit}{plural} with gradient norm {norm:.3g} (tolerance {tol:g})",
        )
    return None, ""


def descend(
    evaluate: Evaluate,
    start: Mapping[str, Any],
    learning_rate: float,
    epochs: int,
    tol: float = 0.0,
) -> Iterator[Epoch]:
    """Yield an `Epoch` per evaluation of `evaluate(params) -> (mean loss, mean gradient)`.

    p := p − learning_rate · ∂L/∂p for every parameter at once (a number, or an array of its
    shape), until one of the stopping rules in the module docstring holds; the final record has
    `stop`.
    """
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise DescentError(f"the learning rate must be a positive number, not {learning_rate}")
    check_settings(epochs, tol)
    began = time.perf_counter()
    params: Params = {
        p: float(v) if np.ndim(v) == 0 else np.array(v, dtype=np.float64) for p, v in start.items()
    }
    history: list[float] = []
    previous: Epoch | None = None
    rising = 0
    start_norm = math.nan
    for epoch in range(epochs + 1):
        loss, given = evaluate(params)
        gradient = dict(given)
        elapsed = time.perf_counter() - began
        if not _finite(loss, gradient):
            hint = f" (try a smaller learning rate than {learning_rate:g})"
            yield non_finite(previous, params, loss, gradient, elapsed, history, epoch, hint)
            return
        if previous is not None and loss > previous.loss + RISE_TOLERANCE * abs(previous.loss):
            rising += 1
        else:
            rising = 0
        history.append(loss)
        record = Epoch(epoch, params, loss, gradient, elapsed)
        stop, message = stopping(record, epoch, epochs, tol)
        if stop is None and rising >= RISING_PATIENCE:
            stop = Stop.DIVERGING
            message = (
                f"the loss rose for {rising} epochs in a row (to {loss:.6g} at epoch {epoch}); "
                f"try a smaller learning rate than {learning_rate:g}"
            )
        if epoch == 0:
            start_norm = record.gradient_norm
        if stop is not None:
            yield Epoch(epoch, params, loss, gradient, elapsed, stop, message, tuple(history), start_norm)
            return
        yield record
        previous = record
        params = {
            p: v - learning_rate * gradient[p] if np.ndim(v) else float(v - learning_rate * gradient[p])
            for p, v in params.items()
        }


#: Descent that ran out of epochs is far from a minimum when its gradient norm is still this fraction
#: of the start's, or when its loss fell by this fraction over its last tenth of epochs.
FAR_NORM_RATIO = 1e-2
STILL_FALLING = 1e-3


@dataclass(frozen=True)
class Unfinished:
    """Descent that ran out of epochs far from a minimum: its gradient norm at the end and the start,
    and how much its loss fell (relative) over its last `tail` epochs."""

    norm: float
    start_norm: float
    fall: float
    tail: int

    @property
    def far(self) -> bool:
        return self.norm >= FAR_NORM_RATIO * self.start_norm

    @property
    def falling(self) -> bool:
        return self.fall > STILL_FALLING


def unfinished(record: Epoch) -> Unfinished | None:
    """For the last record of `descend` that ran out of epochs: how it ended, if far from a minimum
    (the gradient still large against the start's, or the loss still falling); else None."""
    if record.stop is not Stop.EPOCHS or not math.isfinite(record.start_norm) or len(record.history) < 10:
        return None
    tail = max(1, len(record.history) // 10)
    before, after = record.history[-1 - tail], record.history[-1]
    fall = (before - after) / abs(before) if before else 0.0
    found = Unfinished(record.gradient_norm, record.start_norm, fall, tail)
    return found if found.far or found.falling else None


def train(
    evaluate: Evaluate,
    start: Mapping[str, Any],
    learning_rate: float,
    epochs: int,
    tol: float = 0.0,
    on_epoch: Callable[[Epoch], None] | None = None,
) -> Epoch:
    """Descend to the end and return the last record (`run` of `descend`)."""
    return run(descend(evaluate, start, learning_rate, epochs, tol), on_epoch)


def run(records: Iterator[Epoch], on_epoch: Callable[[Epoch], None] | None = None) -> Epoch:
    """Run a method's records (`descend`, `newton`, `lbfgs`) to the end and return the last, handing
    each to `on_epoch` (a progress display) as it comes; Ctrl-C returns where it got to, with
    `Stop.INTERRUPTED`."""
    last: Epoch | None = None
    losses: list[float] = []
    try:
        for record in records:
            last = record
            losses.append(record.loss)
            if on_epoch is not None:
                on_epoch(record)
    except KeyboardInterrupt:
        if last is None:
            raise
        return _interrupted(last, losses)
    assert last is not None  # descend always yields at least the starting point
    return last


def _interrupted(last: Epoch, losses: Sequence[float]) -> Epoch:
    """The record to report when Ctrl-C arrived after `last`; `losses` are the losses seen so far."""
    return Epoch(
        last.epoch,
        last.parameters,
        last.loss,
        last.gradient,
        last.elapsed,
        Stop.INTERRUPTED,
        f"interrupted at epoch {last.epoch}",
        tuple(losses) or last.history,
    )
