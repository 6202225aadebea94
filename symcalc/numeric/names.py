"""The identifiers of generated code: its own names, and each model name's, which never collide.

Every target (the NumPy batch module, JAX, PyTorch, the lambdified program) prints a model's
names through `code_name`: the name itself, or the name with `_` appended where generated code
needs that name for itself (`INTERNAL`: the array libraries, the batch functions' sample count
`m` and sums `totals`, Python's builtins). A declared name never ends in `_`
(`symcalc.spec.names`), so no two declared names share an identifier. Names the code derives
(the adjoint dL/dz as `dL_dz`) are spelled apart from both by `CodeNames`. What a user passes and
reads back (PARAMETERS, DATA, a `--save` file) is keyed by the model's own names everywhere,
never by these.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable

import sympy as sp

#: The number of samples in a batch function (`m = X.shape[0]`), and its sums over blocks of rows.
SAMPLES = "m"
TOTALS = "totals"

#: The array libraries that generated functions read (NumPy, math's erf, JAX, PyTorch), the modules the
#: runtime imports, the batch functions' own variables, and Python's builtins (float, sum, …). Names
#: that start with `_` (`_blocks`, `_tensor`, cse's `_t0`) are not here: no declared name starts so.
INTERNAL = frozenset(
    {
        "numpy",
        "math",
        "jax",
        "jnp",
        "torch",
        "json",
        "os",
        "concurrent",
        SAMPLES,
        TOTALS,
        *dir(builtins),
    }
)


def code_name(name: str) -> str:
    """The identifier of a declared name in generated code: itself, or `name_` where the code needs it."""
    return f"{name}_" if name in INTERNAL else name


def code_symbol(symbol: sp.Symbol) -> sp.Symbol:
    """The variable that holds a declared name in generated code (see `code_name`)."""
    return sp.Symbol(code_name(symbol.name), real=True)


class CodeNames:
    """The identifiers of one module: each declared name's `code_name`, and each name the code derives
    (dL/dz, a batch's X) its spelling with `_` appended while a declared name, an internal name or an
    earlier derived name has it."""

    def __init__(self, declared: Iterable[sp.Symbol]) -> None:
        self._names: dict[sp.Symbol, str] = {s: code_name(s.name) for s in declared}
        self._taken = set(self._names.values()) | INTERNAL

    def derive(self, symbol: sp.Symbol, spelling: str) -> str:
        """The identifier of a derived name, `spelling` or that with `_` appended, the same at every call."""
        if symbol not in self._names:
            while spelling in self._taken:
                spelling += "_"
            self._taken.add(spelling)
            self._names[symbol] = spelling
        return self._names[symbol]

    def __getitem__(self, symbol: sp.Symbol) -> str:
        """The identifier of `symbol`: declared, derived before, or else derived now from its name
        (a '/' written as '_')."""
        return self._names.get(symbol) or self.derive(symbol, symbol.name.replace("/", "_"))
