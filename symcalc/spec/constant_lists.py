"""Vector and matrix constants (`cw = [1, 2, 5]`, `A = [[1, 0], [0, 1]]`): read and checked, no SymPy.

`read_list` takes a [constants] entry's list apart into its sizes and its numbers, row by row;
`constant_axes` gives it its axes: the dimensions its key declares ("cw[k]"), checked against
the list, or else, per axis, the dimension that alone has its length, or the length as a number.
Each problem is a ParseError of one line, with a fix where there is one.
"""

from __future__ import annotations

import math
from typing import Any

from symcalc.errors import ParseError
from symcalc.spec.shapes import MAX_SIZE, Axis

#: The most entries a vector or matrix constant may have (as many as a file may declare names).
MAX_ENTRIES = 2_000


def read_list(value: list[Any]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """A list of numbers (a vector) or of equal rows (a matrix): its sizes and its numbers, row by row."""
    rows = value if value and all(isinstance(row, list) for row in value) else [value]
    matrix = rows is value
    if not value or any(not row for row in rows):
        raise ParseError("is an empty list; a vector constant needs at least one number")
    if len({len(row) for row in rows}) > 1:
        lengths = ", ".join(str(len(row)) for row in rows)
        raise ParseError(f"has rows of different lengths ({lengths}); a matrix needs equal rows")
    sizes = (len(rows), len(rows[0])) if matrix else (len(rows[0]),)
    if max(sizes) > MAX_SIZE or math.prod(sizes) > MAX_ENTRIES:
        raise ParseError(f"has {math.prod(sizes)} entries; the limit is {MAX_ENTRIES}")
    entries: list[float] = []
    for item in (item for row in rows for item in row):
        if isinstance(item, bool) or not isinstance(item, int | float):
            kind = (
                "a list (a matrix's rows must all be lists)"
                if isinstance(item, list)
                else type(item).__name__
            )
            raise ParseError(f"must hold numbers only, not {kind}")
        if not math.isfinite(float(item)) or abs(float(item)) > 1e300:
            raise ParseError(f"must hold finite numbers, not {item!r}")
        entries.append(float(item))
    return sizes, tuple(entries)


def constant_axes(
    name: str, sizes: tuple[int, ...], declared: tuple[Axis, ...], dimensions: tuple[tuple[str, int], ...]
) -> tuple[Axis, ...]:
    """The axes of the constant `name` of these `sizes`: `declared` ones (from "cw[k]") where they fit
    the list, else per axis the dimension that alone has its length (cw goes with y[k], k = 3), or
    the length as a number."""
    known = dict(dimensions)
    if not declared:
        named = [[dim for dim, value in dimensions if value == size] for size in sizes]
        return tuple(dims[0] if len(dims) == 1 else size for dims, size in zip(named, sizes, strict=True))
    if len(declared) != len(sizes):
        given = "a vector" if len(sizes) == 1 else "a matrix"
        raise ParseError(f"declares {len(declared)} axes, and its list is {given}")
    for axis, size in zip(declared, sizes, strict=True):
        length = known.get(axis) if isinstance(axis, str) else axis
        if length is None:
            raise ParseError(
                f"dimension {axis!r} of {name!r} is not in [dimensions]",
                fix=f"add [dimensions] with {axis} = {size}",
            )
        if length != size:
            raise ParseError(f"has {size} entries along {axis}, which is {length}")
    return declared
