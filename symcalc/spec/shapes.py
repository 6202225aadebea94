"""Shaped declarations (`x[n]`, `W[h,n]`) and sizes ([dimensions]): read and checked, no SymPy.

A declaration in `inputs`, `targets` or `parameters` is a name, or a name with one
axis (a vector) or two (a matrix); each axis is a dimension named in `[dimensions]`
or a positive integer. `split_declaration` takes one apart and says what is wrong
with it in one line, with a fix.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from symcalc.errors import DataError, Location, ParseError
from symcalc.spec.names import check_name

#: The most axes a declared name may have: a scalar, a vector or a matrix.
MAX_AXES = 2
#: The largest size a dimension (or an integer axis) may take.
MAX_SIZE = 100_000

Axis = str | int

_DECLARATION = re.compile(r"([^\[\]]*)\[([^\[\]]*)\]")
_EXAMPLE = "e.g. 'x[n]' or 'W[h,n]', with n and h in [dimensions], or 'x[3]'"


def split_declaration(text: str) -> tuple[str, tuple[Axis, ...]]:
    """("W", ("h", "n")) for "W[h,n]", ("b", ()) for "b"; ParseError (one line, a fix) otherwise.

    The name itself is not checked here: the caller checks it as every name is checked.
    """
    if "[" not in text and "]" not in text:
        return text, ()
    found = _DECLARATION.fullmatch(text)
    if found is None or not found.group(1):
        raise ParseError(f"{text!r} is not a declaration of a vector or matrix", fix=_EXAMPLE)
    name, inside = found.group(1), found.group(2)
    parts = [part.strip() for part in inside.split(",")]
    if any(not part for part in parts):
        raise ParseError(f"{text!r} has an empty axis", fix=_EXAMPLE)
    if len(parts) > MAX_AXES:
        raise ParseError(
            f"{text!r} has {len(parts)} axes; a name is a scalar, a vector (one axis) or a matrix (two)"
        )
    return name, tuple(_axis(text, part) for part in parts)


def _axis(text: str, part: str) -> Axis:
    if part.isascii() and part.isdigit():
        size = int(part)
        if not 1 <= size <= MAX_SIZE:
            raise ParseError(f"{text!r} has the size {size}; a size is from 1 to {MAX_SIZE}")
        return size
    try:
        return check_name(part)
    except ParseError as err:
        raise ParseError(
            f"{text!r}: axis {part!r} is not a dimension's name or a size", fix=err.fix
        ) from None


def check_size(name: str, value: object) -> int:
    """A [dimensions] entry's value: an integer from 1 to MAX_SIZE (ParseError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError(
            f"dimension {name!r} must be a whole number, not {type(value).__name__}", fix="e.g. n = 3"
        )
    if not 1 <= value <= MAX_SIZE:
        raise ParseError(f"dimension {name!r} is {value}; a size is from 1 to {MAX_SIZE}")
    return value


def components(name: str, axes: tuple[int, ...]) -> list[str]:
    """The scalar names of a vector's or matrix's entries: x1 … xn, W1_1 … Wh_n (1-based, as CSV columns)."""
    return [component(name, index) for index in indices(axes)]


def indices(axes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every entry's index, 1-based, row by row: (1,), (2,) … or (1, 1), (1, 2) … (h, n)."""
    if len(axes) == 1:
        return [(i,) for i in range(1, axes[0] + 1)]
    return [(i, j) for i in range(1, axes[0] + 1) for j in range(1, axes[1] + 1)]


def component(name: str, index: tuple[int, ...]) -> str:
    """An entry's scalar name: the name, the row, and for a matrix '_' and the column (W1 [1, 2] is W11_2)."""
    return name + "_".join(str(i) for i in index)


def bracketed(name: str) -> bool:
    """Whether an entry of `name` is printed with the name bracketed, (W₁)₁ ₂, or as W1[1,2] in text.

    So it is for every name that carries an index of its own (W1, b_2, W_in, theta0): its entry
    would otherwise print as one name with both indices run together, W₁₁ ₂, which W[11,2] or
    a scalar W11_2 could print as too.
    """
    return not name.isalpha()


def entry_label(name: str, index: tuple[int, ...]) -> str:
    """An entry as text: its scalar name (W1_2, x3, as CSV columns) for a name of letters only, else in
    the file's index syntax, W1[1,2] or b_2[3], which no other entry or name can be."""
    if bracketed(name):
        return f"{name}[{','.join(str(i) for i in index)}]"
    return component(name, index)


def sizes_from_columns(
    declared: Sequence[tuple[str, tuple[Axis, ...]]], columns: Collection[str], source: str
) -> dict[str, int]:
    """The sizes a data file decides: columns x1 … x30 for `x[n]` make n = 30 (rows first for a matrix).

    A name without its first column decides nothing (reading the data reports the missing
    column). DataError when two names give one dimension different sizes.
    """
    found: dict[str, tuple[int, str]] = {}
    present = set(columns)
    for name, axes in declared:
        for axis, count in zip(axes, _counts(name, len(axes), present), strict=True):
            if isinstance(axis, int) or count == 0:
                continue
            if axis in found and found[axis][0] != count:
                size, other = found[axis]
                raise DataError(
                    f"the columns make {axis} = {size} for {other} but {axis} = {count} for {name}",
                    Location(source=source),
                    fix=f"give {other} and {name} columns for the same {axis}",
                )
            found[axis] = (count, name)
    return {axis: count for axis, (count, _) in found.items()}


def _counts(name: str, axes: int, present: Collection[str]) -> tuple[int, ...]:
    """How many entries of `name` the columns hold along each axis, counting from 1 while they are there."""

    def run(column: str) -> int:
        count = 0
        while count < MAX_SIZE and column.format(count + 1) in present:
            count += 1
        return count

    if axes == 1:
        return (run(name + "{}"),)
    return (run(name + "{}_1"), run(name + "1_{}"))


def batch_inputs(
    inputs: Sequence[str], targets: Sequence[str], shapes: Sequence[tuple[str, tuple[Axis, ...]]]
) -> tuple[str, ...]:
    """The inputs that are a whole batch: a matrix `X[m,n]` whose first axis, a dimension's name,
    is also a target's first axis (`T[m,n]`, `t[m]`). A model with one is batch-level: its loss is
    over the m samples of that batch, nothing is averaged for it, and dL/dX is derived too.
    """
    axes = dict(shapes)
    firsts = {axes[t][0] for t in targets if axes.get(t) and isinstance(axes[t][0], str)}
    return tuple(x for x in inputs if len(axes.get(x, ())) == MAX_AXES and axes[x][0] in firsts)
