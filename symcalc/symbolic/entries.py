"""How an entry of a vector or matrix is printed, and which written-out scalar is which entry.

A model with vectors and matrices is written out as scalars named as CSV columns are
(`spec.shapes.components`): W[h,n]'s entries are W1_1 … Wh_n and print as SymPy prints those
names, W₁ ₂ and W_{1 2}. A name that carries an index of its own (W1, b_2, W_in, theta0) would
run its index into the entry's, W11_2 as W₁₁ ₂; its entries are printed with the name bracketed,
(W₁)₁ ₂ and \\left(W_{1}\\right)_{1 2}, and as W1[1,2] in text. Where an index has two digits
the indices are separated by a comma, W_{11,2}, so that W[11,2] and W[1,12] differ on paper.

A scalar's name alone cannot say whose entry it is (W11_2 is W1[1,2] or W[11,2]), so the
printers ask `entry`, which answers from the model being printed: `printing(shaped)` holds it
for the time a derivation is rendered.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import sympy as sp

from symcalc.spec.shapes import bracketed
from symcalc.symbolic.expand import Shaped


class _OfAModel(Protocol):
    """A derivation, as far as `entries_named` needs one."""

    @property
    def model(self) -> Any: ...


P = ParamSpec("P")
R = TypeVar("R")
D = TypeVar("D", bound=_OfAModel)

Naming = Mapping[str, tuple[str, tuple[int, ...]]]

_NAMING: ContextVar[Naming | None] = ContextVar("symcalc_entries", default=None)
_SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@contextmanager
def printing(shaped: Shaped | None) -> Iterator[None]:
    """While in this block, the printers name the entries of `shaped` (a model's `shaped`) as entries."""
    token = _NAMING.set(shaped.naming() if shaped is not None else {})
    try:
        yield
    finally:
        _NAMING.reset(token)


def entries_named(render: Callable[Concatenate[D, P], R]) -> Callable[Concatenate[D, P], R]:
    """A renderer of a derivation (its first argument) that prints the entries of its model as entries.

    A generator's body runs in the block only while it computes each item, never while its caller
    holds it between items.
    """
    if inspect.isgeneratorfunction(render):

        @functools.wraps(render)
        def each(derivation: D, *args: P.args, **kwargs: P.kwargs) -> Any:
            items = render(derivation, *args, **kwargs)
            while True:
                with printing(derivation.model.shaped):
                    item = next(items, _DONE)
                if item is _DONE:
                    return
                yield item

        return each  # type: ignore[return-value]

    @functools.wraps(render)
    def whole(derivation: D, *args: P.args, **kwargs: P.kwargs) -> R:
        with printing(derivation.model.shaped):
            return render(derivation, *args, **kwargs)

    return whole  # type: ignore[return-value]


_DONE = object()


def entry(symbol: sp.Basic) -> tuple[str, tuple[int, ...]] | None:
    """(name, index) when `symbol` is an entry of the model being printed and SymPy would not print it
    as this module says; None otherwise (SymPy's own rendering of the name is then right)."""
    if not isinstance(symbol, sp.Symbol):
        return None
    found = (_NAMING.get() or {}).get(symbol.name)
    if found is None or not special(*found):
        return None
    return found


def special(name: str, index: Sequence[int]) -> bool:
    """Whether the entry is not printed as SymPy prints its scalar name: a bracketed name or a long index."""
    return bracketed(name) or any(i > 9 for i in index)


def _joiner(index: Sequence[int]) -> str:
    return "," if any(i > 9 for i in index) else " "


def latex_entry(name: str, base: str, index: Sequence[int]) -> str:
    """Entry `index` of `name`, whose own LaTeX is `base`: W_{1 2}, W_{11,2}, \\left(W_{1}\\right)_{1 2}."""
    shown = rf"\left({base}\right)" if bracketed(name) else base
    return f"{shown}_{{{_joiner(index).join(str(i) for i in index)}}}"


def unicode_entry(name: str, base: str, index: Sequence[int]) -> str:
    """The same in the terminal, with `base` as the name prints: W₁ ₂, W₁₁,₂, (W₁)₁ ₂."""
    shown = f"({base})" if bracketed(name) else base
    return shown + _joiner(index).join(str(i).translate(_SUBSCRIPT_DIGITS) for i in index)
