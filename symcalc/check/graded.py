"""One graded submission as plain data: what `symcalc grade` writes for it (a CSV row, a results file).

Plain strings and numbers only: a `Graded` comes back from the child that checked the submission,
and the process the user started writes it without loading SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: holds: every = holds; fails: one is refuted; undecided: none refuted, one not decided; unreadable:
#: the file is not a derivation that can be read (its row says why); stopped: it hit the time or
#: memory limit.
Verdict = Literal["holds", "fails", "undecided", "unreadable", "stopped"]


@dataclass(frozen=True)
class Submission:
    """One file of the folder: its text and kind, or why it could not be read (`problem`)."""

    file: str
    text: str = ""
    kind: str = ""
    problem: str = ""


@dataclass(frozen=True)
class Test:
    """One part of the score: a required result of the rubric, or every = holding."""

    name: str
    score: float
    max_score: float
    output: str


@dataclass(frozen=True)
class Graded:
    file: str
    verdict: Verdict
    #: Lines of maths read, `=` checked, and those that hold.
    lines: int = 0
    equals: int = 0
    holding: int = 0
    #: The first `=` that does not hold (or the place of what could not be read), and why.
    line: int | None = None
    column: int | None = None
    problem: str = ""
    tests: tuple[Test, ...] = ()

    @property
    def score(self) -> float:
        return sum(test.score for test in self.tests)

    @property
    def max_score(self) -> float:
        return sum(test.max_score for test in self.tests)

    @property
    def gradable(self) -> bool:
        """Whether the file was read as a derivation (PrairieLearn's "gradable")."""
        return self.verdict not in ("unreadable",)
