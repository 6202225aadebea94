"""A model's vectors and matrices written out as scalars at given sizes: x[n] at n = 3 is x1, x2, x3.

The entries are named as CSV columns are (`spec.shapes.components`): x1 … xn, and
W1_1 … Wh_n row by row. `concrete` evaluates a shaped expression on arrays of such
entries using only what each operation means (`arrays.ArrayFunction.value`, and
arithmetic and the function table elementwise), never a derivative: the written-out
model is what symcalc derives and computes with at those sizes, and the independent
oracle any vector form is checked against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import sympy as sp

from symcalc.errors import SpecError
from symcalc.spec.shapes import components, indices
from symcalc.symbolic.arrays import BY_CLASS, Shape, Value, dimension


@dataclass(frozen=True)
class Shaped:
    """What a model with vectors and matrices was written out from, and at which sizes.

    `shapes` gives every name with axes (declared or defined) in file order, `definitions`
    the definitions as the file writes them, and `entries` each shaped name's scalar
    symbols, row by row.
    """

    shapes: tuple[tuple[sp.Symbol, Shape], ...]
    definitions: tuple[tuple[sp.Symbol, sp.Expr], ...]
    sizes: tuple[tuple[str, int], ...]
    entries: tuple[tuple[sp.Symbol, tuple[sp.Symbol, ...]], ...]
    #: The `assume` entries as written (text, lhs − rhs), before they are written out.
    assumptions: tuple[tuple[str, sp.Expr], ...] = ()
    #: The declared parameters, and the inputs and targets (the data), as themselves (not their entries).
    parameters: tuple[sp.Symbol, ...] = ()
    data: tuple[sp.Symbol, ...] = ()
    #: The sizes of the file (or the data) where they were too large to write out at: `sizes` are
    #: then smaller ones, and the written-out steps illustrate rather than compute the model.
    declared: tuple[tuple[str, int], ...] = ()
    #: Each vector or matrix constant (`cw = [1, 2, 5]`) and its numbers, row by row, at `sizes`.
    fixed: tuple[tuple[sp.Symbol, tuple[sp.Expr, ...]], ...] = ()
    #: The inputs that are a whole batch (`spec.shapes.batch_inputs`): the model is batch-level.
    batch: tuple[sp.Symbol, ...] = ()

    def describe(self) -> str:
        """The sizes for a reader: 'n = 2, h = 3', or 'n = 784, h = 128; written out at n = 3, h = 3'."""
        written = ", ".join(f"{name} = {size}" for name, size in self.sizes)
        if not self.declared:
            return written
        return ", ".join(f"{name} = {size}" for name, size in self.declared) + f"; written out at {written}"

    def written_out(self) -> str:
        """The sentence's end about the sizes the steps write the model out at: 'at n = 2, h = 3', or
        'at n = 3, h = 3 (the file's are n = 784, h = 128)' — each set of sizes once, saying which."""
        written = "at " + ", ".join(f"{name} = {size}" for name, size in self.sizes)
        if not self.declared:
            return written
        return written + " (the model's are " + ", ".join(f"{n} = {size}" for n, size in self.declared) + ")"

    def arrays(self) -> dict[sp.Basic, Value]:
        """Each shaped name → the array of its entries' symbols, in its shape; each dimension → its size."""
        import numpy as np  # only for models with vectors: a scalar model's derive never loads NumPy

        sizes = dict(self.sizes)
        shapes = dict(self.shapes)
        result: dict[sp.Basic, Value] = {}
        for symbol, entries in self.entries:
            array = np.empty(len(entries), dtype=object)
            array[:] = entries
            result[symbol] = array.reshape(resolve(shapes[symbol], sizes))
        return result | self.numbers()

    def numbers(self) -> dict[sp.Basic, Value]:
        """Each dimension's name, as a number in an expression (sum(s)/n), → its size; each vector or
        matrix constant → the array of its numbers."""
        sizes, shapes = dict(self.sizes), dict(self.shapes)
        result: dict[sp.Basic, Value] = {}
        for symbol, numbers in self.fixed:
            import numpy as np  # only where a constant is a list

            array = np.empty(len(numbers), dtype=object)
            array[:] = numbers
            result[symbol] = array.reshape(resolve(shapes[symbol], sizes))
        return result | {dimension(name): sp.Integer(size) for name, size in self.sizes}

    def naming(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        """Each entry's scalar name → its vector's or matrix's name and its index: W11_2 → ("W1", (1, 2))."""
        sizes, shapes = dict(self.sizes), dict(self.shapes)
        return {
            entry.name: (symbol.name, index)
            for symbol, entries in self.entries
            for entry, index in zip(entries, indices(resolve(shapes[symbol], sizes)), strict=True)
        }

    def sizes_of(self, names: Iterable[str]) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Each of `names` that has axes, with its integer sizes: (("W", (3, 2)), ("c", (3,)))."""
        shapes, sizes = {sym.name: shape for sym, shape in self.shapes}, dict(self.sizes)
        return tuple((name, resolve(shapes[name], sizes)) for name in names if name in shapes)


def resolve(shape: Shape, sizes: Mapping[str, int]) -> tuple[int, ...]:
    """The integer sizes of a shape's axes (SpecError for a dimension without a size)."""
    resolved = []
    for axis in shape:
        size = 1
        for part in str(axis).split("*"):  # a product of axes, "h*n" (kron)
            if part.isdigit():
                size *= int(part)
            elif part in sizes:
                size *= sizes[part]
            else:
                raise SpecError(
                    f"dimension {part!r} has no size", fix=f"add [dimensions] with {part} = its size"
                )
        resolved.append(size)
    return tuple(resolved)


def entry_array(name: str, shape: Shape, sizes: Mapping[str, int], make: Callable[[str], sp.Symbol]) -> Value:
    """The array of a shaped name's entries as symbols: x1 … xn, or W1_1 … Wh_n (rows first)."""
    import numpy as np

    axes = resolve(shape, sizes)
    symbols = [make(entry) for entry in components(name, axes)]
    array = np.empty(len(symbols), dtype=object)
    array[:] = symbols
    return array.reshape(axes)


def concrete(
    expr: sp.Expr,
    values: Mapping[sp.Basic, Value],
    table: Mapping[type[sp.Basic], Callable[..., Value]] | None = None,
) -> Value:
    """`expr` at concrete sizes: each shaped name replaced by its array (`values`), every operation done.

    The result is a SymPy scalar, or an array of them. Elementwise operations broadcast (a
    scalar over an array, NumPy's rules between arrays). `table` gives the value of other
    classes of call, or other values for those of `arrays.BY_CLASS`.
    """
    import numpy as np

    meanings = {cls: entry.value for cls, entry in BY_CLASS.items()} | dict(table or {})
    done: dict[sp.Basic, Value] = {}

    def walk(node: sp.Basic) -> Value:
        if node in values:
            return values[node]
        if not node.args:
            return node
        if node in done:
            return done[node]
        args = [walk(arg) for arg in node.args]
        meaning = meanings.get(type(node))
        if meaning is not None:
            result = meaning(*args)
        elif any(isinstance(arg, np.ndarray) for arg in args):
            # SymPy's own float heuristics may overflow inside the loop, setting the FPU flag that
            # NumPy reports after it: nothing NumPy computed overflowed.
            with np.errstate(all="ignore"):
                result = np.frompyfunc(lambda *xs: node.func(*xs), len(args), 1)(*args)
        else:
            result = node.func(*args)
        done[node] = result
        return result

    return walk(expr)


def flat(value: Value, count: int) -> list[sp.Expr]:
    """A concrete value's entries row by row; a scalar repeated `count` times (it broadcasts)."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return list(value.flat)
    return [value] * count
