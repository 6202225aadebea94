"""Reading printed vector forms back, and the oracle they are held to (helpers for the tests).

`read_back` parses a printed result with symcalc's own parser, as a claim's right-hand side
would be, and evaluates it entry by entry at a point. `oracle_entries` differentiates the
model written out at its sizes with SymPy's `diff`, one entry at a time, every definition
put in except the entry's own: it never reads the derivation, its vector form or a printer.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

import mpmath
import numpy as np
import sympy as sp

import symcalc
from symcalc.symbolic.arrays import dimension
from symcalc.symbolic.expand import concrete, flat
from symcalc.symbolic.functions import step, to_elementary
from symcalc.symbolic.parse import parse_shaped
from tests.oracle import sample_point

DIGITS = 40
#: How close a printed form's entry must be to the oracle's (both at 40 digits).
TOLERANCE = mpmath.mpf("1e-25")


def _plain(expr: sp.Expr) -> sp.Expr:
    """`expr` in SymPy's own functions: σ and the like written out, step(u) as a Piecewise."""
    return to_elementary(sp.sympify(expr)).replace(
        lambda e: isinstance(e, step), lambda e: sp.Piecewise((1, e.args[0] > 0), (0, True))
    )


class Point:
    """A random point of a model with vectors: every written-out name's value (40 digits)."""

    def __init__(self, model: symcalc.Model, seed: int = 0):
        self.model = model
        rng = random.Random(seed)
        raw = sample_point(model, rng)
        self.values: dict[sp.Symbol, Any] = {s: mpmath.mpf(v) for s, v in raw.items()}
        for symbol, definition in model.definitions:
            self.values[symbol] = self.at(definition)

    def at(self, expr: sp.Expr) -> Any:
        """`expr`'s value at this point, by SymPy's own evaluation at 40 digits."""
        plain = _plain(expr)
        numbers = {n: sp.Float(self.values[n], DIGITS + 5) for n in plain.free_symbols}
        value = sp.N(plain.xreplace(numbers), DIGITS)
        with mpmath.workdps(DIGITS):
            return mpmath.mpf(str(value)) if value.is_real is not False else mpmath.nan


def oracle_entries(model: symcalc.Model, loss: sp.Symbol, targets: list[sp.Symbol]) -> list[sp.Expr]:
    """d(loss)/d(target) for each entry of one name, by SymPy's diff of the written-out model with every
    definition but the entries' own put in (the derivative through the graph, as a claim means it)."""
    composed: sp.Expr = loss
    for symbol, definition in reversed(model.definitions):
        if symbol not in targets:
            composed = composed.xreplace({symbol: definition})
    elementary = to_elementary(composed)
    return [sp.diff(elementary, target) for target in targets]


def adjoint_names(text: str) -> tuple[str, dict[str, str]]:
    """`text` with each adjoint dL/ds written as a name ADJ__s, and those names → the node's name."""
    found: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        found[f"ADJ__{match.group(2)}"] = match.group(2)
        return f"ADJ__{match.group(2)}"

    return re.sub(r"\bd([A-Za-z]\w*)/d([A-Za-z]\w*)\b", name, text), found


def read_back(
    model: symcalc.Model, text: str, point: Point, adjoints: Mapping[str, list[Any]] | None = None
) -> list[Any]:
    """A printed vector result parsed by symcalc's parser and evaluated entry by entry at `point`; an
    adjoint dL/ds in it stands for the entries given in `adjoints` (by the node's name)."""
    assert model.shaped is not None
    shapes = {symbol.name: shape for symbol, shape in model.shaped.shapes}
    names = model.symbols | {symbol.name: symbol for symbol, _ in model.shaped.shapes}
    names |= {name: dimension(name) for name, _ in model.shaped.sizes if name not in names}  # sqrt(d)
    written, placeholders = adjoint_names(text)
    arrays = written_out(model.shaped) | model.shaped.numbers()
    values = dict(point.values)
    for dim, size in model.shaped.numbers().items():  # sum(s)/h: a dimension as a number
        assert isinstance(dim, sp.Symbol)
        values[dim] = size
    for placeholder, node in placeholders.items():
        symbol = sp.Symbol(placeholder)
        names[placeholder] = symbol
        entries = (adjoints or {})[node]
        shape = shapes.get(node, ())
        if shape:
            shapes[placeholder] = shape
            stand_ins = np.array([sp.Symbol(f"{placeholder}_{k}") for k in range(len(entries))], dtype=object)
            arrays[symbol] = stand_ins.reshape(arrays[names[node]].shape)
            values |= dict(zip(stand_ins.flat, entries, strict=True))
        else:
            values[symbol] = entries[0]
    expr, _ = parse_shaped(written, names, shapes)
    count = 1
    result = concrete(expr, arrays)
    if hasattr(result, "size"):
        count = result.size
    entries = flat(result, count)
    evaluated = Point.__new__(Point)
    evaluated.values = values
    return [evaluated.at(entry) for entry in entries]


def close(left: Any, right: Any) -> bool:
    return bool(abs(left - right) <= TOLERANCE * max(1, abs(right)))


def written_out(shaped: Any) -> dict[Any, Any]:
    """Each vector's and matrix's entries (`Shaped.arrays` also maps each dimension's name, used as a
    number, to its size)."""
    return {symbol: array for symbol, array in shaped.arrays().items() if isinstance(array, np.ndarray)}
