"""A total derivative dA/dB named inside a claim's right-hand side, as symcalc prints one.

Past a size, a result reads an upstream derivative as the symbol dL/dc (`Adjoint`) rather than
its value (a network's results would grow by its width at every layer), and symcalc prints it
so: "dL/ds1 = (dL/dmu + …)/3". For that line to be a claim, the right-hand side may name
dA/dB too: it stands for the derivative of A with respect to B through the graph, whatever
its value, and a check puts in SymPy's own (never the engine's).

`dA/dB` is read so only where it cannot be a division: A is a definition, B is declared, and
neither `dA` nor `dB` is a declared name (`dx/dy` with both declared stays a quotient).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import sympy as sp

from symcalc.symbolic.arrays import Shape
from symcalc.symbolic.notation import Adjoint

_DERIVATIVE = re.compile(r"(?<![\w.])d([A-Za-z]\w*)\s*/\s*d([A-Za-z]\w*)(?![\w(\[])")


def read_adjoints(
    rhs: str,
    symbols: Mapping[str, sp.Symbol],
    definitions: Collection[str],
    shapes: Mapping[str, Shape] | None = None,
) -> tuple[str, dict[str, sp.Symbol], dict[str, Shape]]:
    """`rhs` with each dA/dB in it written as one name, those names → their `Adjoint` symbol, and
    (with `shapes`) each such name's shape: B's, for a scalar A; a vector A's Jacobian is not read."""
    found: dict[str, sp.Symbol] = {}
    found_shapes: dict[str, Shape] = {}

    def name(match: re.Match[str]) -> str:
        of, wrt = match.group(1), match.group(2)
        if of not in definitions or wrt not in symbols or f"d{of}" in symbols or f"d{wrt}" in symbols:
            return match.group(0)
        if shapes is not None and shapes.get(of, ()):
            return match.group(0)
        placeholder = f"d{of}_d{wrt}"
        while placeholder in symbols:
            placeholder += "_"
        found[placeholder] = adjoint = Adjoint.of(symbols[of], symbols[wrt])
        if shapes is not None and shapes.get(wrt, ()):
            # under the symbol's own name too: the parser looks a shape up by either
            found_shapes[placeholder] = found_shapes[adjoint.name] = shapes[wrt]
        return placeholder

    return _DERIVATIVE.sub(name, rhs), found, found_shapes


def adjoint_arrays(expr: sp.Expr, arrays: Mapping[sp.Basic, Any]) -> dict[sp.Basic, Any]:
    """For each dA/dB in `expr` with B a vector or matrix: the array of its entries' dA/dBᵢ."""
    found: dict[sp.Basic, Any] = {}
    adjoints = expr.atoms(Adjoint)
    if not adjoints:
        return found
    import numpy as np  # only a model with vectors has arrays: a scalar model never loads NumPy

    by_name = {symbol.name: array for symbol, array in arrays.items() if isinstance(symbol, sp.Symbol)}
    for adjoint in adjoints:
        array = by_name.get(adjoint.node.name)
        if isinstance(array, np.ndarray):
            entries = [Adjoint.of(adjoint.loss, entry) for entry in array.flat]
            found[adjoint] = np.array(entries, dtype=object).reshape(array.shape)
    return found


def put_in(expr: sp.Expr, symbols: Mapping[str, sp.Symbol], derivative: Any) -> sp.Expr:
    """`expr` with each dA/dB it names replaced by `derivative(A, B)` (the model's own symbols)."""
    held = expr.atoms(Adjoint)
    if not held:
        return expr
    return expr.xreplace({a: derivative(symbols[a.loss.name], symbols[a.node.name]) for a in held})
