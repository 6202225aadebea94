"""What `fit` runs in one process and on each Dask worker alike: the minibatches of an epoch, the
updates of `torch.optim.SGD` and `torch.optim.Adam`, and the loop that takes one step per minibatch
(`run_minibatches`), carrying the parameters, the optimizer's state and the epoch's tallies
(`Carried`) from one minibatch, or one partition, to the next.

The updates are `torch.optim.SGD`'s (buf := momentum·buf + g, p := p − lr·buf; buf = g at the
first step) and `torch.optim.Adam`'s (its defaults: betas (0.9, 0.999), eps 1e-8), written in the
order PyTorch computes them. An optimizer pickles with its state (momentum buffers; Adam's moments
and step count), without its scratch arrays: it travels to the worker that holds a partition and back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from symcalc.errors import DescentError
from symcalc.numeric.descent import Stop

Array = np.ndarray[Any, np.dtype[np.float64]]
Rows = np.ndarray[Any, np.dtype[np.intp]]
#: The mean loss and each mean gradient (an array of its parameter's shape) over some rows.
LossAndGradient = Callable[[Mapping[str, Array], Mapping[str, Array]], tuple[float, Mapping[str, Any]]]
#: The methods `fit` runs.
Method = Literal["sgd", "adam"]
#: Each method's learning rate when none is given: PyTorch's Adam default, and 0.1 for SGD.
DEFAULT_LEARNING_RATES: dict[str, float] = {"sgd": 0.1, "adam": 0.001}
#: Adam's decay rates of the mean and the mean square of the gradients, and the term added to the
#: root of the latter: PyTorch's defaults.
BETAS = (0.9, 0.999)
EPS = 1e-8


@dataclass(frozen=True)
class Progress:
    """One epoch: its mean minibatch loss (epoch 0: the loss at the start, over every row) and the
    seconds since training began."""

    epoch: int
    loss: float
    elapsed: float


@dataclass(frozen=True)
class Fitted:
    """What `fit` returns: the parameters (arrays of their shapes), each epoch's `Progress`, and why
    it stopped (the epochs were used, a non-finite value, or Ctrl-C) in words."""

    parameters: dict[str, Array]
    history: tuple[Progress, ...]
    stop: Stop
    message: str

    @property
    def elapsed(self) -> float:
        return self.history[-1].elapsed if self.history else 0.0


class SGD:
    """torch.optim.SGD without dampening, weight decay or Nesterov."""

    def __init__(self, params: Mapping[str, Array], learning_rate: float, momentum: float) -> None:
        self.learning_rate, self.momentum = learning_rate, momentum
        self.buffers = {name: np.zeros_like(value) for name, value in params.items()} if momentum else {}

    def update(self, params: dict[str, Array], grads: Mapping[str, Array]) -> None:
        for name, value in params.items():
            step = grads[name]
            if self.momentum:
                buffer = self.buffers[name]
                buffer *= self.momentum
                buffer += step  # the first step: 0·momentum + g, PyTorch's buf = g
                step = buffer
            value -= self.learning_rate * step


class Adam:
    """torch.optim.Adam (not AMSGrad, no weight decay): its single-tensor update, step by step, each
    operation in PyTorch's order into arrays made once (a fresh 784 × 128 temporary per operation
    cost a third of the update's time)."""

    def __init__(
        self, params: Mapping[str, Array], learning_rate: float, betas: tuple[float, float], eps: float
    ) -> None:
        self.learning_rate, self.betas, self.eps = learning_rate, betas, eps
        self.means = {name: np.zeros_like(value) for name, value in params.items()}
        self.squares = {name: np.zeros_like(value) for name, value in params.items()}
        self.steps = 0
        self._scratch: dict[str, tuple[Array, Array]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != "_scratch"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _scratch={})

    def update(self, params: dict[str, Array], grads: Mapping[str, Array]) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        step_size = self.learning_rate / (1 - beta1**self.steps)
        root = math.sqrt(1 - beta2**self.steps)
        for name, value in params.items():
            grad, mean, square = np.asarray(grads[name]), self.means[name], self.squares[name]
            scratch = self._scratch.get(name)
            if scratch is None:
                scratch = self._scratch[name] = (np.empty_like(value), np.empty_like(value))
            change, denominator = scratch
            np.subtract(grad, mean, out=change)
            change *= 1 - beta1
            mean += change  # PyTorch's lerp(grad, 1 - beta1), weight below 0.5
            square *= beta2
            np.multiply(grad, 1 - beta2, out=change)
            change *= grad
            square += change  # PyTorch's addcmul(grad, grad, value=1 - beta2)
            np.sqrt(square, out=denominator)
            denominator /= root
            denominator += self.eps
            np.divide(mean, denominator, out=change)
            change *= step_size
            value -= change


Optimizer = SGD | Adam


def optimizer(
    method: Method,
    params: Mapping[str, Array],
    learning_rate: float,
    momentum: float,
    betas: tuple[float, float] = BETAS,
    eps: float = EPS,
) -> Optimizer:
    if method == "sgd":
        return SGD(params, learning_rate, momentum)
    return Adam(params, learning_rate, betas, eps)


def minibatches(rows: int, batch_size: int | None, rng: np.random.Generator) -> Iterator[Rows]:
    """The row numbers of each minibatch of one epoch: a fresh permutation dealt into runs of
    `batch_size` (the last shorter); every row in order when one batch holds them all."""
    if batch_size is None or batch_size >= rows:
        yield np.arange(rows)
        return
    order = rng.permutation(rows)
    for start in range(0, rows, batch_size):
        yield order[start : start + batch_size]


@dataclass
class Carried:
    """What one minibatch hands the next within an epoch: the parameters, the optimizer with its
    state, the epoch's Σ rows × minibatch loss and its rows and steps so far, and what became
    non-finite at the step after those ("" while all is well: the parameters are those before it)."""

    params: dict[str, Array]
    optimizer: Optimizer
    loss: float = 0.0
    rows: int = 0
    steps: int = 0
    problem: str = ""


def run_minibatches(
    evaluate: LossAndGradient, carried: Carried, columns: Mapping[str, Array], batches: Iterable[Rows]
) -> Carried:
    """One step per minibatch of `columns` (the row numbers `batches` gives), from its mean loss and
    gradients, updating `carried` in place; stops at the first non-finite loss or gradient."""
    if carried.problem:
        return carried
    rows = len(next(iter(columns.values())))
    for chosen in batches:
        batch = columns if len(chosen) == rows else {n: v[chosen] for n, v in columns.items()}
        loss, grads = evaluate(carried.params, batch)
        bad = non_finite(loss, grads)
        if bad:
            carried.problem = bad
            return carried
        carried.optimizer.update(carried.params, grads)
        carried.loss += loss * len(chosen)
        carried.rows += len(chosen)
        carried.steps += 1
    return carried


def non_finite(loss: float, grads: Mapping[str, Any]) -> str:
    """What became non-finite, in words, or "" (a gradient is checked by its sum: one pass, and a
    finite gradient whose sum overflows float64 has diverged anyway)."""
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    for name, grad in grads.items():
        if not math.isfinite(float(np.sum(grad))):
            return f"the gradient of {name} became non-finite"
    return ""


def check(
    method: str, learning_rate: float | None, epochs: int, batch_size: int | None, momentum: float
) -> None:
    if method not in get_args(Method):
        raise DescentError(f"no method {method!r} for fit: the methods are {', '.join(get_args(Method))}")
    if learning_rate is not None and not (math.isfinite(learning_rate) and learning_rate > 0):
        raise DescentError(f"the learning rate must be a positive number, not {learning_rate}")
    if epochs < 0:
        raise DescentError(f"the number of epochs must be 0 or more, not {epochs}")
    if batch_size is not None and batch_size < 1:
        raise DescentError(f"the batch size must be 1 or more, not {batch_size}")
    if not (0 <= momentum < 1):
        raise DescentError(f"the momentum must be at least 0 and below 1, not {momentum}")


def begin(
    start: Mapping[str, Any],
    method: Method,
    learning_rate: float | None,
    momentum: float,
    betas: tuple[float, float],
    eps: float,
) -> tuple[Carried, float]:
    """What the first epoch starts from (options that `check` passed): a copy of `start` with a new
    optimizer for it; and the learning rate (the method's default when None)."""
    rate = DEFAULT_LEARNING_RATES[method] if learning_rate is None else learning_rate
    arrays = {name: np.array(value, dtype=np.float64) for name, value in start.items()}  # copies
    return Carried(arrays, optimizer(method, arrays, rate, momentum, betas, eps)), rate


def train_epochs(
    carried: Carried,
    first: Callable[[], float],
    epoch: Callable[[int, Carried], Carried],
    epochs: int,
    learning_rate: float,
    on_epoch: Callable[[Progress], None] | None,
) -> Fitted:
    """The epochs of `fit`, in memory and on Dask alike: the loss at the start (`first`), then each
    epoch's pass (`epoch`: its number, and the parameters and optimizer `carried` hands it with the
    tallies from 0), each recorded and shown (`on_epoch`). Stops after `epochs`, at the first
    non-finite value (the parameters before that step), or on Ctrl-C (those it got to)."""
    began = time.perf_counter()
    history: list[Progress] = []

    def record(number: int, loss: float) -> None:
        history.append(Progress(number, loss, time.perf_counter() - began))
        if on_epoch is not None:
            on_epoch(history[-1])

    try:
        loss = first()
        if not math.isfinite(loss):
            return Fitted(carried.params, (), Stop.NON_FINITE, f"the loss is {loss} at the start")
        record(0, loss)
        for number in range(1, epochs + 1):
            passed = epoch(number, Carried(carried.params, carried.optimizer))
            if passed.problem:
                message = stopped_at(passed, number, learning_rate)
                return Fitted(passed.params, tuple(history), Stop.NON_FINITE, message)
            carried = passed
            record(number, carried.loss / carried.rows)
    except KeyboardInterrupt:
        return interrupted(carried.params, history)
    return finished(carried.params, history, epochs)


def stopped_at(carried: Carried, epoch: int, learning_rate: float) -> str:
    """Why training stopped at a non-finite value, in words: where, and what to try."""
    return (
        f"{carried.problem} at epoch {epoch}, step {carried.steps + 1}; kept the parameters before it "
        f"(try a smaller learning rate than {learning_rate:g})"
    )


def interrupted(params: dict[str, Array], history: list[Progress]) -> Fitted:
    reached = history[-1].epoch if history else 0
    return Fitted(params, tuple(history), Stop.INTERRUPTED, f"interrupted at epoch {reached}")


def finished(params: dict[str, Array], history: list[Progress], epochs: int) -> Fitted:
    plural = "" if epochs == 1 else "s"
    return Fitted(params, tuple(history), Stop.EPOCHS, f"stopped after {epochs} epoch{plural}")
