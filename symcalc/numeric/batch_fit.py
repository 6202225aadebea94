"""A model as `fit` trains it, by its batch form (a model of scalars by its scalar batch form, each
name a column): the batch module's text (the bytes `codegen` writes), each parameter's and datum's
shape at a run's sizes, how each parameter starts, and how its predictions are scored.

`BatchModel` is built from the derivation at reading sizes (the batch form does not depend on
the sizes) where SymPy is loaded, and holds only text, names and numbers, so the process that
trains never derives. Starting values suit the activation: a parameter that enters a matrix
product (W in W @ x, v in v @ g) is drawn normal with standard deviation √(1/fan-in) (Glorot's
scale by fan-in; tanh, σ, softmax, a linear output) or √(2/fan-in) (He's, where the product
feeds relu), its fan-in the size of the axis the product sums over; every other parameter (the
biases) starts at 0. A model of scalars starts where gd, newton and lbfgs start it (`small_start`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import sympy as sp

from symcalc.errors import Location, SpecError
from symcalc.numeric.codegen import codegen
from symcalc.numeric.data import binary_targets
from symcalc.symbolic.arrays import Shape, matmul, softmax
from symcalc.symbolic.batch import BatchForm
from symcalc.symbolic.batch_of import batch_form_of
from symcalc.symbolic.expand import Shaped, resolve
from symcalc.symbolic.functions import relu, sigmoid
from symcalc.symbolic.graph import Model
from symcalc.symbolic.steps import Derivation

Array = np.ndarray[Any, np.dtype[np.float64]]
#: How a parameter starts: normal by Glorot's or He's scale of its fan-in, or 0; a model of scalars,
#: which has no matrix products to read a fan-in from, starts "small" as gd, newton and lbfgs do.
Start = Literal["glorot", "he", "zero", "small"]
#: The standard deviation of a "small" start (`small_start`, a model of scalars).
SMALL = 0.01


@dataclass(frozen=True)
class Scoring:
    """How accuracy is read from the module's predictions: `prediction` (a PREDICTIONS name) against
    `target`; "classes" takes the largest entry of a softmax output as the class, "binary" class 1
    where the prediction is at least `threshold` (0.5 for σ's probability, 0 for its score)."""

    kind: Literal["classes", "binary"]
    prediction: str
    target: str
    threshold: float = 0.5

    def accuracy(self, predictions: Mapping[str, Any], data: Mapping[str, Any]) -> float:
        """The share of samples whose predicted class is the target's (a one-hot or 0/1 target)."""
        predicted = np.asarray(predictions[self.prediction], dtype=np.float64)
        target = np.asarray(data[self.target], dtype=np.float64)
        if self.kind == "classes":
            return float(np.mean(np.argmax(predicted, axis=-1) == np.argmax(target, axis=-1)))
        return float(np.mean((predicted >= self.threshold) == (target == 1)))


@dataclass(frozen=True)
class BatchModel:
    """Everything training needs from a derivation with a batch form, as plain data.

    `source` is the batch module's text; `shapes` each parameter's and datum's axes as declared,
    `sizes` each dimension's size from the file (the data decide some for a run: `run_sizes`).
    """

    source: str
    model: Model
    parameters: tuple[str, ...]
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    shapes: tuple[tuple[str, Shape], ...]
    sizes: tuple[tuple[str, int], ...]
    starts: tuple[tuple[str, Start, int], ...]  # (parameter, how it starts, the axis its fan-in is)
    scoring: Scoring | None

    def shape(self, name: str, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The integer shape of a parameter, input or target (per sample) at `sizes`."""
        return resolve(dict(self.shapes).get(name, ()), sizes)

    def run_sizes(self, data: Mapping[str, Any]) -> dict[str, int]:
        """The file's sizes with those the data decide (an m × 64 array for x[n] makes n = 64)."""
        sizes = dict(self.sizes)
        decided: dict[str, tuple[int, str]] = {}
        shapes = dict(self.shapes)
        for name in (*self.inputs, *self.targets):
            if name not in data:
                continue
            given = np.shape(data[name])[1:]
            axes = shapes.get(name, ())
            if len(given) != len(axes):
                raise SpecError(f"data[{name!r}] has {len(given)} axes per sample; {name} has {len(axes)}")
            for axis, size in zip(axes, given, strict=True):
                if isinstance(axis, int):
                    continue
                if axis in decided and decided[axis][0] != size:
                    raise SpecError(
                        f"the data make {axis} = {decided[axis][0]} for {decided[axis][1]} "
                        f"but {axis} = {size} for {name}"
                    )
                decided[axis] = (size, name)
        return sizes | {axis: size for axis, (size, _) in decided.items()}


def batch_model(derivation: Derivation) -> BatchModel:
    """The `BatchModel` of a derivation: a model with vectors by its own batch form, a model of
    scalars by its scalar batch form (every name a column); SpecError for a model with vectors that
    has no batch form."""
    model = derivation.model
    if model.shaped is not None and derivation.batch is None:
        raise SpecError(
            f"sgd and adam train a model by its batch form; this one has none: {derivation.batch_problem}",
            Location(source=model.source),
            fix="train it with --method gd, newton or lbfgs",
        )
    shaped, batch = batch_form_of(derivation)
    spec = model.spec
    assert spec is not None
    sizes = {**dict(shaped.sizes), **dict(shaped.declared)}
    return BatchModel(
        source=codegen(derivation, "numpy"),
        model=model,
        parameters=tuple(p.name for p in shaped.parameters),
        inputs=tuple(spec.inputs),
        targets=tuple(spec.targets),
        shapes=tuple((s.name, shape) for s, shape in shaped.shapes),
        sizes=tuple(sizes.items()),
        starts=tuple(_starts(shaped) if model.shaped else ((p.name, "small", 0) for p in shaped.parameters)),
        scoring=_scoring(derivation, shaped, batch, spec.targets),
    )


def _starts(shaped: Shaped) -> Iterable[tuple[str, Start, int]]:
    """How each parameter starts: weights (in a matrix product) by their fan-in, the rest at 0."""
    shapes = dict(shaped.shapes)
    feeds_relu = {
        symbol
        for symbol, value in shaped.definitions
        for call in value.atoms(relu)
        for symbol in call.args[0].free_symbols
    }
    for parameter in shaped.parameters:
        found: tuple[Start, int] | None = None
        for symbol, value in shaped.definitions:
            for product in value.atoms(matmul):
                left, right = product.args
                if parameter in (left, right):
                    axis = len(shapes.get(parameter, ())) - 1 if parameter == left else 0
                    found = ("he" if symbol in feeds_relu else "glorot", max(axis, 0))
                    break
            if found:
                break
        yield (parameter.name, *found) if found else (parameter.name, "zero", 0)


def _scoring(
    derivation: Derivation, shaped: Shaped, batch: BatchForm, targets: Sequence[str]
) -> Scoring | None:
    """Classes where a vector target meets a softmax output; 0/1 where the loss is binary cross-entropy."""
    from symcalc.numeric.batch_code import predictions_of

    lines = {line.target: line.value for line in batch.forward}
    predictions = [p for p in predictions_of(batch, derivation, shaped) if isinstance(p, sp.Symbol)]
    shapes = {s.name: shape for s, shape in shaped.shapes}
    vector_targets = [t for t in targets if len(shapes.get(t, ())) == 1]
    # PREDICTIONS holds the model's names (p), not the batch form's (P)
    per_sample = {batched: name for name, batched in batch.names}
    for prediction in predictions:
        if vector_targets and isinstance(lines.get(prediction), softmax):
            return Scoring("classes", per_sample.get(prediction, prediction).name, vector_targets[0])
    binary = binary_targets(derivation.model)
    if binary and predictions and binary[0].name in targets:
        value = lines.get(predictions[0])
        threshold = 0.5 if isinstance(value, sigmoid) else 0.0
        name = per_sample.get(predictions[0], predictions[0]).name
        return Scoring("binary", name, binary[0].name, threshold)
    return None


def initial_parameters(batch: BatchModel, sizes: Mapping[str, int], seed: int = 0) -> dict[str, Array]:
    """Each parameter's starting array at `sizes`, drawn by `numpy.random.default_rng(seed)` in
    parameter order (see the module docstring for the scales)."""
    rng = np.random.default_rng(seed)
    result: dict[str, Array] = {}
    for name, start, axis in batch.starts:
        shape = batch.shape(name, sizes)
        if start == "zero":
            result[name] = np.zeros(shape)
            continue
        fan_in = shape[axis] if shape else 1
        scale = SMALL if start == "small" else np.sqrt((2.0 if start == "he" else 1.0) / fan_in)
        result[name] = scale * rng.standard_normal(shape)
    return result


def small_start(
    batch: BatchModel, sizes: Mapping[str, int], seed: int = 0, scale: float = SMALL
) -> dict[str, Any]:
    """Each parameter drawn normal with standard deviation `scale` from `numpy.random.default_rng(seed)`,
    entry by entry in parameter order: the numbers `NumericModel.start` gives the written-out model, where
    gradient descent, Newton's method and L-BFGS start."""
    rng = np.random.default_rng(seed)
    result: dict[str, Any] = {}
    for name in batch.parameters:
        shape = batch.shape(name, sizes)
        result[name] = scale * rng.standard_normal(shape) if shape else float(scale * rng.standard_normal())
    return result


def accuracy(batch: BatchModel, predictions: Mapping[str, Any], data: Mapping[str, Any]) -> float | None:
    """The share of samples whose predicted class is the target's (None without a `Scoring`)."""
    scoring = batch.scoring
    if scoring is None or scoring.prediction not in predictions:
        return None
    return scoring.accuracy(predictions, data)


def one_hot(labels: Array, classes: int) -> Array:
    """Class numbers 0 … classes − 1 as rows of 0s with a 1 at the class."""
    result = np.zeros((len(labels), classes))
    result[np.arange(len(labels)), labels.astype(np.intp)] = 1.0
    return result
