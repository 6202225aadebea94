"""Which parts of a derivation a document shows (`--view`): a model with vectors and matrices reads
best as its vector form and its batch form; the entries written out are hundreds of lines.

- ``vector``: each result on whole vectors and matrices (dL/dW = dL/ds⋅xᵀ);
- ``index``: the same results entry by entry (dL/dWᵢⱼ = (dL/ds)ᵢ⋅xⱼ);
- ``batch``: the vector form over a batch of m samples (what codegen computes);
- ``entries``: the model written out at small sizes, every step, update and insight on its entries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from symcalc.errors import SymcalcError

if TYPE_CHECKING:  # parsing --view must not load SymPy
    from symcalc.symbolic.steps import Derivation

VIEWS = ("vector", "index", "batch", "entries")
#: What a model with vectors shows unless asked: its vector form (whole and entry by entry) and batch form.
DEFAULT_VECTOR_VIEWS = frozenset({"vector", "index", "batch"})
EVERYTHING = frozenset(VIEWS)

Views = frozenset[str]


def parse_views(text: str) -> Views:
    """`--view`'s value: one or more of VIEWS separated by commas, or "all"; ValueError naming a bad one."""
    asked = [part.strip() for part in text.split(",")]
    if asked == ["all"]:
        return EVERYTHING
    for part in asked:
        if part not in VIEWS:
            raise ValueError(
                f"{part!r} is not a view: choose from {', '.join(VIEWS)} (or all), e.g. vector,batch"
            )
    return frozenset(asked)


def views_for(derivation: Derivation, asked: Views | None) -> Views:
    """The views to show: `asked`, else a vector model's default; a model without vectors has only its
    entries (SymcalcError when a view without them is asked of it)."""
    if derivation.model.shaped is None:
        if asked is not None and "entries" not in asked:
            wanted = ",".join(sorted(asked))
            raise SymcalcError(
                f"--view {wanted}: the model has no vectors or matrices, so it has only its entries",
                fix='declare vectors (inputs = ["x[n]"]) or leave out --view',
            )
        return frozenset({"entries"})
    if asked is not None:
        return asked
    if derivation.vector is None and derivation.batch is None:  # no vector form to show: the entries
        return EVERYTHING
    kinked = any(getattr(step, "kinks", ()) for step in derivation.steps)
    if derivation.hessian is not None and (kinked or not derivation.vector_hessian):
        # second derivatives asked for with no vector form, or with a kink said in words: the entries'
        # last step is where they are, and where the words are
        return DEFAULT_VECTOR_VIEWS | {"entries"}
    return DEFAULT_VECTOR_VIEWS
