"""An adjoint named in a claim as derive prints it: dL/dq1 in "dL/dWq1_1 = dL/dq1*x1".

Past a size the engine writes a result with the symbol dL/dc (`notation.Adjoint`) instead of its
value, as a lecture does; so that every printed result reads back as a claim, a claim's
right-hand side may name one too. It means what the left-hand side's notation means: the
derivative of the loss by c through the graph, which the checks take from SymPy's diff (the
oracle), never from the engine. Only where the text cannot mean anything else: `d{A}` is not a
declared name and A and c are (a quotient dL/dq1 of two declared names stays a quotient).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sympy as sp

from symcalc.symbolic.notation import Adjoint

_ADJOINT = re.compile(r"(?<![A-Za-z0-9_])d([A-Za-z][A-Za-z0-9_]*)\s*/\s*d([A-Za-z][A-Za-z0-9_]*)")


def named_adjoints(
    text: str, symbols: Mapping[str, sp.Symbol], shapes: Mapping[str, object]
) -> tuple[str, dict[str, sp.Symbol]]:
    """`text` with each adjoint dA/dc of scalars A and c written as a placeholder name, and each
    placeholder's `Adjoint` symbol (to be added to the names the text is parsed with)."""
    found: dict[tuple[str, str], str] = {}

    def swap(match: re.Match[str]) -> str:
        of, wrt = match.groups()
        declared = of in symbols and wrt in symbols and f"d{of}" not in symbols
        if not declared or shapes.get(of) or shapes.get(wrt):
            return match.group(0)
        return found.setdefault((of, wrt), f"_adjoint{len(found)}")

    written = _ADJOINT.sub(swap, text)
    placeholders = {name: Adjoint.of(symbols[of], symbols[wrt]) for (of, wrt), name in found.items()}
    return written, placeholders


def adjoints_in(expr: sp.Expr) -> list[Adjoint]:
    """The adjoints an expression names, in a fixed order."""
    return sorted((s for s in expr.free_symbols if isinstance(s, Adjoint)), key=sp.default_sort_key)
