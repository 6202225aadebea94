"""`fit`: training as people train networks — minibatches, SGD with momentum or Adam — on a model's
batch module, the module `symcalc codegen` writes, with each parameter an array of its shape.

The loop is PyTorch's: each epoch deals the rows, shuffled by NumPy's generator from `seed`
(`numpy.random.default_rng(seed)`, one permutation per epoch), into minibatches of
`batch_size` rows (the last one shorter; no shuffle for the full batch), and takes one step per
minibatch from its mean loss and gradients. The updates are `torch.optim.SGD`'s
(buf := momentum·buf + g, p := p − lr·buf; buf = g at the first step) and `torch.optim.Adam`'s
(its defaults: betas (0.9, 0.999), eps 1e-8), written in the order PyTorch computes them, so the
parameters agree with a PyTorch loop over the same minibatches to rounding. An epoch's loss is
the mean over its samples of the minibatches' losses, at the parameters each minibatch saw.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from symcalc.errors import DescentError
from symcalc.numeric.descent import Stop

if TYPE_CHECKING:
    from symcalc.symbolic.steps import Derivation

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


class _SGD:
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


class _Adam:
    """torch.optim.Adam (not AMSGrad, no weight decay): its single-tensor update, step by step, each
    operation in PyTorch's order into arrays made once (a fresh 784 × 128 temporary per operation
    cost a third of the update's time)."""

    def __init__(
        self, params: Mapping[str, Array], learning_rate: float, betas: tuple[float, float], eps: float
    ) -> None:
        self.learning_rate, self.betas, self.eps = learning_rate, betas, eps
        self.means = {name: np.zeros_like(value) for name, value in params.items()}
        self.squares = {name: np.zeros_like(value) for name, value in params.items()}
        self.scratch = {name: (np.empty_like(value), np.empty_like(value)) for name, value in params.items()}
        self.steps = 0

    def update(self, params: dict[str, Array], grads: Mapping[str, Array]) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        step_size = self.learning_rate / (1 - beta1**self.steps)
        root = math.sqrt(1 - beta2**self.steps)
        for name, value in params.items():
            grad, mean, square = np.asarray(grads[name]), self.means[name], self.squares[name]
            change, denominator = self.scratch[name]
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


def minibatches(rows: int, batch_size: int | None, rng: np.random.Generator) -> Iterator[Rows]:
    """The row numbers of each minibatch of one epoch: a fresh permutation dealt into runs of
    `batch_size` (the last shorter); every row in order when one batch holds them all."""
    if batch_size is None or batch_size >= rows:
        yield np.arange(rows)
        return
    order = rng.permutation(rows)
    for start in range(0, rows, batch_size):
        yield order[start : start + batch_size]


def fit(
    model: Derivation | ModuleType | LossAndGradient,
    data: Mapping[str, Any],
    start: Mapping[str, Any] | None = None,
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
    """Train from `start` (each parameter's array) on `data` (each input and target by its declared
    name, a row per sample: x as an m × n array, a vector target one-hot) and return the fitted
    parameters with each epoch's loss.

    `model` is a derivation (trained by its batch module, the text `symcalc.codegen` writes, which
    for a model of scalars takes each datum as a column of m values; without `start`, the
    parameters start as `train`'s do, drawn from `seed` at the data's sizes), a batch module (loaded
    by `symcalc.load_module`), or any function (params, rows) -> (mean loss, {name: mean gradient}).
    Training stops after `epochs` epochs, at the first non-finite loss or gradient (keeping the
    parameters before that step), or on Ctrl-C (keeping those it got to).
    """
    _check(method, learning_rate, epochs, batch_size, momentum)
    rate = DEFAULT_LEARNING_RATES[method] if learning_rate is None else learning_rate
    if not isinstance(model, ModuleType) and not callable(model):
        model, start = _from_derivation(model, data, start, seed)
    if start is None:
        raise DescentError("fit needs the starting parameters, except from a derivation")
    evaluate = _evaluator(model, constants)
    arrays = {name: np.array(value, dtype=np.float64) for name, value in start.items()}  # copies
    columns = {name: np.asarray(value, dtype=np.float64) for name, value in data.items()}
    rows = len(next(iter(columns.values())))
    optimizer = _SGD(arrays, rate, momentum) if method == "sgd" else _Adam(arrays, rate, betas, eps)
    rng = np.random.default_rng(seed)
    began = time.perf_counter()
    history: list[Progress] = []

    def record(epoch: int, loss: float) -> None:
        history.append(Progress(epoch, loss, time.perf_counter() - began))
        if on_epoch is not None:
            on_epoch(history[-1])

    hint = f" (try a smaller learning rate than {rate:g})"
    try:
        first = _loss_alone(model, constants, evaluate)(arrays, columns)
        if not math.isfinite(first):
            return Fitted(arrays, tuple(history), Stop.NON_FINITE, f"the loss is {first} at the start")
        record(0, first)
        for epoch in range(1, epochs + 1):
            total = 0.0
            for step, chosen in enumerate(minibatches(rows, batch_size, rng), start=1):
                batch = columns if len(chosen) == rows else {n: v[chosen] for n, v in columns.items()}
                loss, grads = evaluate(arrays, batch)
                bad = _non_finite(loss, grads)
                if bad:
                    message = f"{bad} at epoch {epoch}, step {step}; kept the parameters before it{hint}"
                    return Fitted(arrays, tuple(history), Stop.NON_FINITE, message)
                optimizer.update(arrays, grads)
                total += loss * len(chosen)
            record(epoch, total / rows)
    except KeyboardInterrupt:
        reached = history[-1].epoch if history else 0
        return Fitted(arrays, tuple(history), Stop.INTERRUPTED, f"interrupted at epoch {reached}")
    plural = "" if epochs == 1 else "s"
    return Fitted(arrays, tuple(history), Stop.EPOCHS, f"stopped after {epochs} epoch{plural}")


def _from_derivation(
    derivation: Derivation, data: Mapping[str, Any], start: Mapping[str, Any] | None, seed: int
) -> tuple[ModuleType, Mapping[str, Any]]:
    """The batch module of `derivation`, and `start` or the parameters `train` would start from."""
    from symcalc.numeric.batch_fit import batch_model, initial_parameters
    from symcalc.numeric.codegen import load_module

    batch = batch_model(derivation)
    module = load_module(batch.source, "symcalc_batch")
    return module, start if start is not None else initial_parameters(batch, batch.run_sizes(data), seed)


def _evaluator(model: ModuleType | LossAndGradient, constants: Mapping[str, float] | None) -> LossAndGradient:
    if not isinstance(model, ModuleType):
        return model
    module = model

    def evaluate(params: Mapping[str, Array], rows: Mapping[str, Array]) -> tuple[float, Mapping[str, Any]]:
        loss, grads = module.loss_and_gradient(params, rows, constants)
        return float(loss), grads

    return evaluate


def _loss_alone(
    model: ModuleType | LossAndGradient, constants: Mapping[str, float] | None, evaluate: LossAndGradient
) -> Callable[[Mapping[str, Array], Mapping[str, Array]], float]:
    """The mean loss over some rows: a module's forward pass alone (over every row at the start it
    took a third of an epoch of a 784-128-10 network with its gradients), else `evaluate`'s loss."""
    if isinstance(model, ModuleType):
        module = model
        return lambda params, rows: float(module.loss(params, rows, constants))
    return lambda params, rows: evaluate(params, rows)[0]


def _non_finite(loss: float, grads: Mapping[str, Any]) -> str:
    """What became non-finite, in words, or "" (a gradient is checked by its sum: one pass, and a
    finite gradient whose sum overflows float64 has diverged anyway)."""
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    for name, grad in grads.items():
        if not math.isfinite(float(np.sum(grad))):
            return f"the gradient of {name} became non-finite"
    return ""


def _check(
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
