"""The curves a derivation's pictures draw: each activation beside its local derivative, and the loss
against the prediction for each label, as the seed's "geometric derivatives" slide shows them.

The curves are the model's own definitions and the derivation's own local derivatives, evaluated
with NumPy (`lambdify` of SymPy objects the parser built, never of text). `symcalc.render.figures`
draws them (inline SVG for the web page, LaTeX's picture environment for the PDF) and computes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from symcalc.numeric.names import code_symbol
from symcalc.numeric.program import make_printer
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
