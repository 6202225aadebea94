"""The curves a derivation's pictures draw: each activation beside its local derivative, and the loss
against the prediction for each label, as the seed's "geometric derivatives" slide shows them; and
the points of train's plot of a model of two inputs (the data, and its score on a grid).

The curves are the model's own definitions and the derivation's own local derivatives, evaluated
with NumPy (`lambdify` of SymPy objects the parser built, never of text). `symcalc.render.figures`
draws them (inline SVG for the web page, LaTeX's picture environment for the PDF) and computes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import sympy as sp

from symcalc.numeric.descent import Epoch
from symcalc.numeric.names import code_symbol
from symcalc.numeric.stable import make_printer
from symcalc.symbolic.steps import Derivation


def _function(arguments: Sequence[sp.Symbol], expr: sp.Expr) -> Callable[..., Any]:
    """`expr` as a NumPy function of `arguments`, each under its code name (a node called numpy is numpy_)."""
    code = {a: code_symbol(a) for a in arguments}
    return sp.lambdify(list(code.values()), expr.xreplace(code), modules=["numpy"], printer=make_printer())


@dataclass(frozen=True)
class Figure:
    """Curves over the same x, with the point to mark on them: what the SVG and the LaTeX pictures draw."""

    caption: str
    x_label: str
    xs: np.ndarray
    curves: tuple[tuple[str, np.ndarray], ...]
    marks: tuple[tuple[float, float], ...] = ()

    @property
    def box(self) -> tuple[float, float, float, float]:
        """left, right, bottom, top: the x range, and the y range with 0 and a margin."""
        ys = np.concatenate([y[np.isfinite(y)] for _, y in self.curves])
        low, high = min(float(ys.min()), 0.0), max(float(ys.max()), 0.0)
        pad = 0.08 * (high - low or 1.0)
        return float(self.xs[0]), float(self.xs[-1]), low - pad, high + pad

    def finite(self, values: np.ndarray) -> list[tuple[float, float]]:
        """A curve's points (x, y) where its value is finite (log(x) is −inf at 0): what is drawn."""
        keep = np.isfinite(values)
        return list(zip(self.xs[keep], values[keep], strict=True))

    def scaled(
        self, width: float, height: float, margin: float
    ) -> Callable[[float, float], tuple[float, float]]:
        """(x, y) → the picture's coordinates, y upwards, in a width × height frame with a margin."""
        left, right, bottom, top = self.box

        def at(x: float, y: float) -> tuple[float, float]:
            return (
                margin + (x - left) / (right - left) * (width - 2 * margin),
                margin + (y - bottom) / (top - bottom) * (height - 2 * margin),
            )

        return at


def figures(derivation: Derivation) -> list[Figure]:
    """Each activation with one input beside its local derivative, then the loss (each with a finite value
    to draw)."""
    drawn = [*_activations(derivation), *_loss(derivation)]
    return [f for f in drawn if all(np.isfinite(values).sum() > 1 for _, values in f.curves)]


def _activations(derivation: Derivation) -> list[Figure]:
    """a = f(z) for a definition that is a function of one name alone, with ∂a/∂z (as derived) beside it."""
    model = derivation.model
    found = []
    xs = np.linspace(-6, 6, 241)
    seen: set[type] = set()
    for node, definition in model.definitions:
        if not (isinstance(definition, sp.Function) and len(definition.args) == 1):
            continue
        (argument,) = definition.args
        local = derivation.local_derivatives.get((node, argument))
        if not isinstance(argument, sp.Symbol) or local is None or type(definition) in seen:
            continue
        seen.add(type(definition))
        with np.errstate(all="ignore"):
            values = np.asarray(_function([argument], definition)(xs), dtype=float) * np.ones_like(xs)
            slopes = np.asarray(_function([node, argument], local)(values, xs), dtype=float) * np.ones_like(
                xs
            )
        top = int(np.argmax(slopes))
        marks = [(float(xs[top]), round(float(slopes[top]), 4))] if 0 < top < len(xs) - 1 else []
        label, derivative = (
            f"{node.name} = {sp.sstr(definition)}",
            f"∂{node.name}/∂{argument.name} = {sp.sstr(local)}",
        )
        caption = f"{label} and its local derivative {derivative}"
        found.append(
            Figure(caption, argument.name, xs, ((label, values), (derivative, slopes)), tuple(marks))
        )
    return found


def _loss(derivation: Derivation) -> list[Figure]:
    """The loss against a prediction in (0, 1) or the real line, for the target 0 and 1, where it reads one
    definition and one target alone."""
    model = derivation.model
    loss = model.definition_map.get(model.loss)
    if loss is None or len(model.targets) != 1:
        return []
    (target,) = model.targets
    predictions = [s for s in loss.free_symbols if s in model.definition_map]
    if len(predictions) != 1 or loss.free_symbols != {predictions[0], target}:
        return []
    (prediction,) = predictions
    xs = (
        np.linspace(0.005, 0.995, 199)
        if _probability(model.definition_map[prediction])
        else np.linspace(-2, 3, 201)
    )
    function = _function([prediction, target], loss)
    with np.errstate(all="ignore"):
        curves = [
            (f"{model.loss.name} at {target.name} = {y}", np.asarray(function(xs, float(y)), dtype=float))
            for y in (0, 1)
        ]
    caption = (
        f"{model.loss.name} against {prediction.name} for {target.name} = 0 and 1: the gradient "
        f"d{model.loss.name}/d{prediction.name} is the slope, positive where the curve rises"
    )
    return [Figure(caption, prediction.name, xs, tuple(curves))]


def _probability(definition: sp.Expr) -> bool:
    """A function of one name whose values over −30 … 30 all lie in [0, 1] (σ): plotted over (0, 1)."""
    if len(definition.free_symbols) != 1:
        return False
    (name,) = definition.free_symbols
    with np.errstate(all="ignore"):
        values = np.asarray(_function([name], definition)(np.linspace(-30, 30, 121)), dtype=float)
    return bool(np.all(np.isfinite(values)) and values.min() >= 0 and values.max() <= 1)


# -- the decision boundary of a model of two inputs ------------------------------------------------


class Scores(Protocol):
    """u(params, data) per sample, the class-1 score of a binary model (None when it has none)."""

    def __call__(
        self, params: Mapping[str, float], data: Mapping[str, Any]
    ) -> np.ndarray[Any, Any] | None: ...


@dataclass(frozen=True)
class BoundaryPoints:
    """What the boundary panel draws: the data's two inputs in their own units, each sample's label,
    and the model's score u on a grid over them (the boundary is u = 0)."""

    names: tuple[str, str]
    first: np.ndarray[Any, Any]
    second: np.ndarray[Any, Any]
    target: str
    labels: np.ndarray[Any, Any]
    grid: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]
    scores: np.ndarray[Any, Any] | None


def boundary_points(
    final: Epoch,
    columns: Mapping[str, np.ndarray[Any, Any]],
    inputs: tuple[str, ...],
    target: str,
    scores: Scores,
    standardized: Sequence[tuple[str, float, float]] = (),
    labels: Mapping[str, str] | None = None,
) -> BoundaryPoints:
    """The data of two inputs (back in their own units when the model trained on them standardized)
    and the score on a 200 × 200 grid over them, evaluated where the model reads them: standardized;
    each named as its column of the data (`labels`, by model name; else its own name)."""
    shift = {name: (mean, scale) for name, mean, scale in standardized}
    mean_1, scale_1 = shift.get(inputs[0], (0.0, 1.0))
    mean_2, scale_2 = shift.get(inputs[1], (0.0, 1.0))
    first = columns[inputs[0]] * scale_1 + mean_1
    second = columns[inputs[1]] * scale_2 + mean_2
    pad = 0.05
    xs = np.linspace(first.min() - pad * np.ptp(first), first.max() + pad * np.ptp(first), 200)
    ys = np.linspace(second.min() - pad * np.ptp(second), second.max() + pad * np.ptp(second), 200)
    gx, gy = np.meshgrid(xs, ys)
    read = {
        inputs[0]: (gx.ravel() - mean_1) / scale_1,
        inputs[1]: (gy.ravel() - mean_2) / scale_2,
        target: np.zeros(gx.size),
    }
    u = scores(final.parameters, read)
    values = None if u is None else np.broadcast_to(u, (gx.size,)).reshape(gx.shape)
    named = dict(labels or {})
    shown = (named.get(inputs[0], inputs[0]), named.get(inputs[1], inputs[1]))
    return BoundaryPoints(shown, first, second, named.get(target, target), columns[target], (gx, gy), values)


def boundary_of(
    final: Epoch,
    columns: Mapping[str, np.ndarray[Any, Any]],
    inputs: tuple[str, ...],
    target: str | None,
    scores: Scores,
    standardized: Sequence[tuple[str, float, float]] = (),
    labels: Mapping[str, str] | None = None,
) -> BoundaryPoints | None:
    """`boundary_points` for a model of two inputs and a target that scores its samples; else None."""
    if len(inputs) != 2 or target is None or scores(final.parameters, columns) is None:
        return None
    return boundary_points(final, columns, inputs, target, scores, standardized, labels)
