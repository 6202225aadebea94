"""The look-alike lint: different names that print the same (x1 and x_1 are both x₁)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import sympy as sp

from symcalc.errors import Location, SpecError, SymcalcError
from symcalc.spec.names import NAME_PATTERN
from symcalc.symbolic.entries import entry as entry_of
from symcalc.symbolic.entries import latex_entry, unicode_entry

# Capital Greek letters SymPy prints (upright in LaTeX, as Greek in unicode) that look like Latin ones,
# and omicron, which SymPy prints as o.
_LOOKALIKES = str.maketrans("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧο", "ABEZHIKMNOPTYXo")
_UPRIGHT = re.compile(r"\\mathrm\{([A-Za-z])\}")


def printed_forms(sym: sp.Symbol) -> tuple[str, str]:
    """How a name looks on paper and in the terminal, as a reader sees it: LaTeX and unicode, normalised.

    ``\\mathrm{A}`` (SymPy's capital Alpha) is read as A, and Greek capitals as the Latin letters
    they look like, so `Alpha` and `A` count as printing alike.
    """
    found = entry_of(sym)
    if found is not None:
        tex, pretty = printed_forms(sp.Symbol(found[0]))
        return latex_entry(found[0], tex, found[1]), unicode_entry(found[0], pretty, found[1])
    plain = sp.Symbol(sym.name)
    tex = _UPRIGHT.sub(r"\1", sp.latex(plain)).translate(_LOOKALIKES)
    pretty = sp.pretty(plain, use_unicode=True).translate(_LOOKALIKES)
    return tex, pretty


def alike_names(symbols: Iterable[sp.Symbol], source: str | None = None) -> list[SymcalcError]:
    """One error for every pair of different names that print the same (x1 and x_1 are both x₁)."""
    seen: dict[tuple[int, str], str] = {}
    pairs: dict[tuple[str, str], str] = {}
    for sym in symbols:
        if not NAME_PATTERN.fullmatch(sym.name):
            continue  # reported as an invalid name already
        tex, pretty = printed_forms(sym)
        for kind, form in ((0, pretty), (1, tex)):
            other = seen.setdefault((kind, form), sym.name)
            if other != sym.name:
                shown = form if kind == 0 else f"{form} in LaTeX"
                pairs.setdefault((other, sym.name), shown)
    return [
        SpecError(
            f"names {first!r} and {second!r} both print as {shown}",
            Location(source=source, key=second),
            fix="rename one of them so that they print differently",
        )
        for (first, second), shown in pairs.items()
    ]
