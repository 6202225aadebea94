"""The interface of a module whose formulas are a model's written-out entries: its whole arrays.

A model with vectors whose batch form is that of its written-out scalars (skip-gram, batch
normalisation: `symcalc.symbolic.batch_of.batch_form_of`) computes with the entries U1_1, U1_2,
… of each vector or matrix. Its module still takes and gives every vector and matrix whole, as
every other model's module does: PARAMETERS and DATA name U and N with their shapes at the sizes
the model was written out at, each function opens by reading the entries it uses
(`U1_1 = U[0, 0]`, a datum's column `N1_1 = N[:, 0, 0]`), and each gradient (each Hessian
block) is its entries stacked in the parameter's shape by the runtime's `_stack`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp


class stacked(sp.Function):
    """Entries (the arguments after the shape) in a shape, row by row: printed `_stack((3, 2), …)`."""

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


@dataclass(frozen=True)
class Entries:
    """Each vector or matrix at the module's interface → the array of its entries' symbols (in its
    shape); empty where the module's formulas are the model's own arrays."""

    arrays: Mapping[sp.Symbol, Any]

    @classmethod
    def of(cls, model_arrays: Mapping[sp.Basic, Any], names: Sequence[sp.Symbol]) -> Entries:
        """The `names` (the declared parameters and data) that `model_arrays` writes out."""
        return cls({s: model_arrays[s] for s in names if s in model_arrays})

    def interface(self, symbols: Sequence[sp.Symbol], written: Sequence[sp.Symbol]) -> list[sp.Symbol]:
        """`symbols` (declared) as the module takes them: where the module computes the `written`
        entries, each whole array in place of its entries; else `written` itself."""
        return list(symbols) if self.arrays else list(written)

    def shape(self, symbol: sp.Symbol) -> tuple[int, ...] | None:
        """The sizes a whole array is written out at, or None for a name that is not one."""
        array = self.arrays.get(symbol)
        return None if array is None else tuple(array.shape)

    def reads(self, names: Mapping[sp.Symbol, str] | Any, data: Sequence[sp.Symbol]) -> dict[sp.Symbol, str]:
        """Each entry → the code that reads it from its array (`U[0, 0]`; a datum's `N[:, 0, 0]`)."""
        import numpy as np

        reads: dict[sp.Symbol, str] = {}
        for symbol, array in self.arrays.items():
            rows = ":, " if symbol in data else ""
            for index, entry in np.ndenumerate(array):
                reads[entry] = f"{names[symbol]}[{rows}{', '.join(map(str, index))}]"
        return reads

    def gradients(self, parameters: Sequence[sp.Symbol], by_entry: Mapping[sp.Symbol, sp.Expr]) -> list[Any]:
        """Each declared parameter's gradient: its entries' `by_entry` values stacked in its shape."""
        return [self._stacked(p, lambda e: by_entry[e]) for p in parameters]

    @staticmethod
    def zeroed(values: Sequence[Any]) -> list[Any]:
        """`values` with 0 for entries stacked that are all 0 (a part the same for every row that
        the module leaves out)."""
        return [sp.S.Zero if isinstance(v, stacked) and not any(v.args[1:]) else v for v in values]

    def hessian(
        self, parameters: Sequence[sp.Symbol], written: Sequence[sp.Symbol], blocks: Sequence[sp.Expr]
    ) -> list[Any]:
        """Each block d²/dp dq (p at or before q) over the declared parameters, its entries' values
        stacked in the block's shape, from `blocks` over the `written` entries (i at or before j)."""
        import numpy as np

        pairs = [(a, b) for i, a in enumerate(written) for b in written[i:]]
        value = dict(zip(pairs, blocks, strict=True))

        def second(a: sp.Symbol, b: sp.Symbol) -> sp.Expr:
            return value[(a, b)] if (a, b) in value else value[(b, a)]

        def entries(p: sp.Symbol) -> list[sp.Symbol]:
            array = self.arrays.get(p)
            return [p] if array is None else list(np.ravel(array))

        result: list[Any] = []
        for i, p in enumerate(parameters):
            for q in parameters[i:]:
                rows, columns = entries(p), entries(q)
                items = [second(a, b) for a in rows for b in columns]
                single = len(items) == 1
                result.append(items[0] if single else stacked(sp.Tuple(len(rows), len(columns)), *items))
        return result

    def _stacked(self, parameter: sp.Symbol, value: Any) -> Any:
        import numpy as np

        array = self.arrays.get(parameter)
        if array is None:
            return value(parameter)
        return stacked(sp.Tuple(*array.shape), *(value(e) for e in np.ravel(array)))
