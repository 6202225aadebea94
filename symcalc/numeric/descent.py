"""Full-batch gradient descent as a generator of per-epoch records, and the reasons it stops.

`descend` yields one `Epoch` per evaluation: epoch 0 is the starting point, and
epoch k holds the parameters after k updates with their loss and gradient. The
last record says why it stopped (`Stop`): the epoch budget, a gradient norm
below `tol`, a non-finite loss or gradient (the record then keeps the last
finite parameters and names the step that failed), or a loss that kept rising.
`train` runs it to the end for the library and the CLI alike: interrupted
by Ctrl-C, it returns the last record it received, which is where training got to.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from symcalc.errors import SymcalcError

#: Consecutive rising epochs after which descent is called diverging.
RISING_PATIENCE = 10
#: A rise smaller than this fraction of the loss is rounding, not divergence.
RISE_TOLERANCE = 1e-12

Evaluate = Callable[[Mapping[str, float]], tuple[float, dict[str, float]]]


class Stop(Enum):
    """Why descent stopped."""

    EPOCHS = "epochs"
    CONVERGED = "converged"
    NON_FINITE = "non-finite"
    DIVERGING = "diverging"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Epoch:
    """Parameters after `epoch` updates, their mean loss and gradient; `stop` is set on the last record."""

    epoch: int
    parameters: dict[str, float]
    loss: float
    gradient: dict[str, float]
    elapsed: float
    stop: Stop | None = None
    message: str = ""
    history: tuple[float, ...] = field(default=(), repr=False)

    @property
    def gradient_norm(self) -> float:
        return math.sqrt(sum(g * g for g in self.gradient.values()))

    @property
    def converged(self) -> bool:
        return self.stop is Stop.CONVERGED


class DescentError(SymcalcError):
    """Settings for gradient descent that cannot work."""


def _finite(loss: float, gradient: Mapping[str, float]) -> bool:
    return math.isfinite(loss) and all(math.isfinite(g) for g in gradient.values())


def _bad_value(loss: float, gradient: Mapping[str, float]) -> str:
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    name, value = next((p, g) for p, g in gradient.items() if not math.isfinite(g))
    return f"the gradient of {name} became {value}"


def descend(
    evaluate: Evaluate,
    start: Mapping[str, float],
    learning_rate: float,
    epochs: int,
    tol: float = 0.0,
) -> Iterator[Epoch]:
    """Yield an `Epoch` per evaluation of `evaluate(params) -> (mean loss, mean gradient)`.

    p := p − learning_rate · ∂L/∂p for every parameter at once, until one of the
    stopping rules in the module docstring holds; the final record has `stop`.
    """
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise DescentError(f"the learning rate must be a positive number, not {learning_rate}")
    if epochs < 0:
        raise DescentError(f"the number of epochs must be 0 or more, not {epochs}")
    if not (tol >= 0):
        raise DescentError(f"the tolerance must be 0 or more, not {tol}")
    began = time.perf_counter()
    params = {p: float(v) for p, v in start.items()}
    history: list[float] = []
    previous: Epoch | None = None
    rising = 0
    for epoch in range(epochs + 1):
        loss, gradient = evaluate(params)
        elapsed = time.perf_counter() - began
        if not _finite(loss, gradient):
            what = _bad_value(loss, gradient)
            if previous is None:
                yield Epoch(
                    0,
                    params,
                    loss,
                    gradient,
                    elapsed,
                    Stop.NON_FINITE,
                    f"{what} at the starting parameters",
                    tuple(history),
                )
                return
            yield Epoch(
                previous.epoch,
                previous.parameters,
                previous.loss,
                previous.gradient,
                elapsed,
                Stop.NON_FINITE,
                f"{what} at step {epoch}; kept the parameters of step {previous.epoch}, the last finite ones "
                f"(try a smaller learning rate than {learning_rate:g})",
                tuple(history),
            )
            return
        if previous is not None and loss > previous.loss + RISE_TOLERANCE * abs(previous.loss):
            rising += 1
        else:
            rising = 0
        history.append(loss)
        record = Epoch(epoch, params, loss, gradient, elapsed)
        norm = record.gradient_norm
        stop, message = None, ""
        if norm < tol:
            stop, message = (
                Stop.CONVERGED,
                f"converged: gradient norm {norm:.3g} < {tol:g} after {epoch} epochs",
            )
        elif rising >= RISING_PATIENCE:
            stop = Stop.DIVERGING
            message = (
                f"the loss rose for {rising} epochs in a row (to {loss:.6g} at epoch {epoch}); "
                f"try a smaller learning rate than {learning_rate:g}"
            )
        elif epoch == epochs:
            stop = Stop.EPOCHS
            plural = "" if epochs == 1 else "s"
            message = (
                f"stopped after {epochs} epoch{plural} with gradient norm {norm:.3g} (tolerance {tol:g})"
            )
        if stop is not None:
            yield Epoch(epoch, params, loss, gradient, elapsed, stop, message, tuple(history))
            return
        yield record
        previous = record
        params = {p: v - learning_rate * gradient[p] for p, v in params.items()}


def train(
    evaluate: Evaluate,
    start: Mapping[str, float],
    learning_rate: float,
    epochs: int,
    tol: float = 0.0,
    on_epoch: Callable[[Epoch], None] | None = None,
) -> Epoch:
    """Descend to the end and return the last record, handing each record to `on_epoch` (a progress
    display) as it comes; Ctrl-C returns where it got to, with `Stop.INTERRUPTED`."""
    last: Epoch | None = None
    losses: list[float] = []
    try:
        for record in descend(evaluate, start, learning_rate, epochs, tol):
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
