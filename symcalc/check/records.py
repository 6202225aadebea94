"""The verifier's results as data: each `Check` (what, whether it holds, which rung decided it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import sympy as sp

    from symcalc.symbolic.parting import Parting

Status = Literal["holds", "fails", "undecided"]
Method = Literal["proved", "numerically", "finite differences"]


@dataclass(frozen=True)
class Counterexample:
    """A point where two sides differ: every independent name's value and both sides' values.

    The values of independent names are float64 numbers used exactly (multiples
    of 1/128; constants near their defaults), so evaluating both sides at exactly
    these numbers reproduces the mismatch.
    """

    point: tuple[tuple[str, float], ...]
    left: float
    right: float
    difference: float  # left − right, computed at high precision (not the difference of the floats)
    sides: tuple[str, str]  # what the left and right values are, e.g. ("claimed", "SymPy's diff")
    intermediates: tuple[tuple[str, float], ...] = ()  # each definition's value there, for reading

    @property
    def relative(self) -> float:
        """The difference relative to the larger side: 1 when one side is 0, 2 for opposite signs."""
        larger = max(abs(self.left), abs(self.right))
        return abs(self.difference) / larger if larger else 0.0


@dataclass(frozen=True)
class Meant:
    """A failed ∂-claim whose d-claim holds: what the local derivative is and which total derivative
    the claim states (most courses write ∂L/∂w for the gradient)."""

    of: sp.Symbol
    wrt: sp.Symbol
    local: sp.Expr  # ∂of/∂wrt of `of`'s own definition, every other name held fixed
    claimed: sp.Expr  # the claim's right-hand side, which d(of)/d(wrt) equals


@dataclass(frozen=True)
class Check:
    """One verified statement: what was checked, whether it holds, and which rung decided it."""

    name: str
    kind: str  # "step", "gradient", "claim", "second", "vector", "batch" or "finite differences"
    statement: str
    status: Status
    method: Method
    detail: str
    counterexample: Counterexample | None = None
    #: For a failed claim: the engine's own result and where the two part (explains, never decides).
    parting: Parting | None = None
    #: The statement's sides for the terminal's notation (σ(z), x₁, ⋅): SymPy expressions, or text
    #: shown as it is. Empty (a claim: as its file wrote it): the statement as it is.
    shown: tuple[object, ...] = ()
    #: For a failed ∂-claim: the total derivative it does state, when that holds.
    meant: Meant | None = None

    @property
    def holds(self) -> bool:
        return self.status == "holds"

    @property
    def proved(self) -> bool:
        return self.status == "holds" and self.method == "proved"

    def _repr_html_(self) -> str:  # a notebook shows a check as a one-row table
        return Checks([self])._repr_html_()

    def _repr_markdown_(self) -> str:
        return Checks([self])._repr_markdown_()


class Checks(list[Check]):
    """What `verify` returns: a list of checks that a notebook shows as the verification table."""

    def _repr_html_(self) -> str:
        from symcalc.render.html import verification_table

        return verification_table(self)

    def _repr_markdown_(self) -> str:
        from symcalc.render.checks import checks_markdown

        return checks_markdown(self)


def all_hold(checks: list[Check]) -> bool:
    """True when every check holds (a strict run has already turned unproved ones into failures)."""
    return all(check.holds for check in checks)


def strictly(check: Check) -> Check:
    """The check as `--strict` reads it: agreement without a proof is a failure."""
    if check.status == "holds" and check.method == "numerically":
        return replace(check, status="fails", detail=check.detail + "; --strict requires a proof")
    return check


def check_maker(
    name: str, kind: str, statement: str, assuming: str = "", shown: tuple[object, ...] = ()
) -> Callable[..., Check]:
    """A function making checks of one statement from a verdict: its status, method, detail and point."""

    def make(status: Status, method: Method, detail: str, example: Counterexample | None = None) -> Check:
        if assuming:
            detail = f"{detail} (assuming {assuming})"
        return Check(name, kind, statement, status, method, detail, example, shown=shown)

    return make
