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
The updates and the per-minibatch loop are `symcalc.numeric.minibatch`'s, which each Dask worker
runs on its partition for data partitioned where Dask runs (`symcalc.numeric.fit_dask`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from symcalc.errors import DescentError
from symcalc.numeric.minibatch import (
    BETAS,
    DEFAULT_LEARNING_RATES,
    EPS,
    Array,
    Fitted,
    LossAndGradient,
    Method,
    Progress,
    begin,
    check,
    minibatches,
    run_minibatches,
    train_epochs,
)

if TYPE_CHECKING:
    from symcalc.numeric.distributed import Partitioned
    from symcalc.symbolic.steps import Derivation

__all__ = ["BETAS", "DEFAULT_LEARNING_RATES", "EPS", "Fitted", "Method", "Progress", "fit", "minibatches"]


def fit(
    model: Derivation | ModuleType | LossAndGradient,
    data: Mapping[str, Any] | Partitioned | Any,
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

    `data` may also be partitioned where Dask runs, with a derivation for `model`: Dask arrays by
    the declared names (x an m × n Dask array), a Dask dataframe (or `from_dask` of one) or
    `Partitioned` files (columns x1 … xn and y, as `train` reads them). The data stay where they
    are: each epoch visits the partitions in an order drawn from `seed`, and the worker holding each
    one gets the parameters and the optimizer's state, steps through that partition's minibatches
    (shuffled within it; a minibatch never spans two partitions, and without `batch_size` each
    partition is one) and sends them back (`symcalc.numeric.fit_dask`). The result is that of this
    loop over the same minibatches in one process.
    """
    from symcalc.numeric.distributed import is_dask

    if is_dask(data):
        from symcalc.numeric.fit_dask import fit_on_dask

        if isinstance(model, ModuleType) or callable(model):
            raise DescentError("fit on Dask data takes a derivation: its batch module goes to the workers")
        return fit_on_dask(
            model,
            data,
            start,
            method=method,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            momentum=momentum,
            seed=seed,
            constants=constants,
            betas=betas,
            eps=eps,
            on_epoch=on_epoch,
        )
    check(method, learning_rate, epochs, batch_size, momentum)
    in_memory = cast("Mapping[str, Any]", data)  # not partitioned: is_dask said so
    if not isinstance(model, ModuleType) and not callable(model):
        model, start = _from_derivation(model, in_memory, start, seed)
    if start is None:
        raise DescentError("fit needs the starting parameters, except from a derivation")
    carried, rate = begin(start, method, learning_rate, momentum, betas, eps)
    evaluate = _evaluator(model, constants)
    loss_alone = _loss_alone(model, constants, evaluate)
    columns = {name: np.asarray(value, dtype=np.float64) for name, value in in_memory.items()}
    rows = len(next(iter(columns.values())))
    rng = np.random.default_rng(seed)
    return train_epochs(
        carried,
        lambda: loss_alone(carried.params, columns),
        lambda _, fresh: run_minibatches(evaluate, fresh, columns, minibatches(rows, batch_size, rng)),
        epochs,
        rate,
        on_epoch,
    )


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
