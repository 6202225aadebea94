"""The order a sum's terms are written in: as a teacher writes them, not as SymPy sorts names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy as sp


def positive_first(terms: Sequence[sp.Expr]) -> list[sp.Expr]:
    """`terms` with the first one that carries no minus sign moved to the front, the rest in their
    order: z − y, not −y + z (SymPy sorts y before z); all-negative sums are left as they are."""
    lead = next((i for i, term in enumerate(terms) if not term.could_extract_minus_sign()), 0)
    return [terms[lead], *terms[:lead], *terms[lead + 1 :]]


class PositiveFirst:
    """A SymPy printer mixin: every sum written by `positive_first`, except in the order given
    (`order="none"`, a file's expression as written)."""

    _settings: dict[str, Any]

    def _as_ordered_terms(self, expr: sp.Expr, order: str | None = None) -> list[sp.Expr]:
        terms: list[sp.Expr] = super()._as_ordered_terms(expr, order=order)  # type: ignore[misc]
        if (order or self._settings.get("order")) == "none":
            return terms
        return positive_first(terms)
