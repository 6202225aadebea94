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
    numbers = {name: (sizes, values) for name, sizes, values in model.spec.arrays} if model.spec else {}
    for sym, _ in shaped.fixed:
        size = " × ".join(str(axis) for axis in shapes[sym])
        said = " ".join(part for part in ("= " + listed(*numbers[sym.name]), model.note(sym) or "") if part)
        rows.append((sym, "constant", size, said))
    return rows


#: The most numbers a vector or matrix constant shows in the names table before "…".
SHOWN = 12


def listed(sizes: tuple[int, ...], values: tuple[float, ...]) -> str:
    """A constant's numbers as the file writes them, [1, 2, 5] or [[1, 0], [0, 1]]; a long one cut
    after SHOWN numbers with "…" and its count."""
    if len(values) > SHOWN:
        return "[" + ", ".join(f"{v:g}" for v in values[:SHOWN]) + f", …] ({len(values)} numbers)"
    if len(sizes) == 1:
        return "[" + ", ".join(f"{v:g}" for v in values) + "]"
    width = sizes[1]
    rows = (values[i : i + width] for i in range(0, len(values), width))
    return "[" + ", ".join("[" + ", ".join(f"{v:g}" for v in row) + "]" for row in rows) + "]"
