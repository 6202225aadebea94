"""The project's exceptions: every problem a user can cause is one of these, with a one-line message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file, a key inside it, and a line and column when known."""

    source: str | None = None
    key: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.source:
            parts.append(self.source)
        if self.line is not None:
            parts.append(f"line {self.line}")
            if self.column is not None:
                parts.append(f"column {self.column}")
        if self.key:
            parts.append(self.key)
        return ", ".join(parts)


class SymcalcError(Exception):
    """Base class: a problem with the user's input or request, reported as one line."""

    def __init__(self, problem: str, location: Location | None = None, fix: str | None = None):
        self.problem = problem
        self.location = location or Location()
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = str(self.location)
        text = f"{where}: {self.problem}" if where else self.problem
        return f"{text} ({self.fix})" if self.fix else text

    def __reduce__(self) -> tuple[object, ...]:  # pickled across the process that enforces limits
        return (type(self), (self.problem, self.location, self.fix))

    def at(self, location: Location) -> SymcalcError:
        """The same problem, located (fields already set win)."""
        merged = Location(
            source=self.location.source or location.source,
            key=self.location.key or location.key,
            line=self.location.line if self.location.line is not None else location.line,
            column=self.location.column if self.location.column is not None else location.column,
        )
        return type(self)(self.problem, merged, self.fix)


class ParseError(SymcalcError):
    """An expression is not in the documented grammar or breaks a size cap."""


class LatexError(ParseError):
    """LaTeX maths the reader does not take: a macro, an unknown control word, a size cap."""


class SpecError(SymcalcError):
    """A derivation file is unreadable or breaks the format's rules."""


class DataError(SymcalcError):
    """A data file (CSV) cannot be used for training."""


class LimitError(SymcalcError):
    """Work was stopped because it exceeded a time or size limit."""


class SpecErrors(SymcalcError):
    """Several problems found in one file; each is reported on its own line."""

    def __init__(self, errors: list[SymcalcError]):
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.errors,))

    @property
    def lines(self) -> list[str]:
        return [e.message for e in self.errors]
