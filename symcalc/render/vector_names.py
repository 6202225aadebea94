"""A model's names as its file declares them, for the vector views' opening: whole vectors and
matrices with their sizes (W, h × n), not one row per entry."""

from __future__ import annotations

import sympy as sp

from symcalc.symbolic.steps import Derivation


def declared_names(derivation: Derivation) -> list[tuple[sp.Symbol, str, str, str]]:
    """Each declared input, target, parameter and constant: (symbol, role, size, the file's note)."""
    model, shaped = derivation.model, derivation.model.shaped
    assert shaped is not None
    shapes, entries = dict(shaped.shapes), dict(shaped.entries)
    rows = []
    for sym in (*shaped.data, *shaped.parameters):
        first = entries.get(sym, (sym,))[0]
        role = "input" if first in model.inputs else "target" if first in model.targets else "parameter"
        size = " × ".join(str(axis) for axis in shapes.get(sym, ())) or "scalar"
        rows.append((sym, role, size, model.note(sym) or model.note(first) or ""))
    rows += [(sym, "constant", "scalar", model.note(sym) or "") for sym, _ in model.constants]
    return rows
