"""The project's exceptions: every problem a user can cause is a `SymcalcError`, with a one-line message.

Below those, every other exception symcalc raises and catches: a form it cannot write, a point
with no value, a back end that is not there here, a child process that failed.
"""

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


# -- Reading files and expressions -----------------------------------------------------------------------


class DomainError(ValueError):
    """The text of a domain is not a set or interval symcalc can read; the message says why."""


class ShapeError(ValueError):
    """Shapes that do not fit an operation; the message names the operation and the shapes."""


# -- Forms the symbolic work cannot write (the message says where): the derivation goes on without them


class MatrixUnsupported(ValueError):
    """A matrix expression the vector syntax has no word for; the message names it."""


class NoVectorForm(ValueError):
    """A call whose vector-Jacobian product the file's syntax cannot write; the message says why."""


class VectorUnsupported(ValueError):
    """A model whose adjoints the vector syntax cannot write; the message says where."""


class BatchUnsupported(ValueError):
    """The model has no batch form (a sample would carry a matrix); the message says where."""


class VectorHessianUnsupported(ValueError):
    """The model's second derivatives have no vector form here; the message says why."""


class SecondOrderUnsupported(Exception):
    """The model's second derivatives cannot be derived entry by entry; the message says why."""


# -- Verification's evaluators: no value at a point, nothing to compute with, too large to multiply out


class Undefined(Exception):
    """A side has no real value at this point (log of a negative, division by zero, a kink)."""


class EvaluationUnsupported(Exception):
    """An expression contains something this evaluator does not know how to compute."""


class TooLarge(Exception):
    """Multiplying out would pass a bound: the question is left undecided."""


# -- Numbers and training --------------------------------------------------------------------------------


class NumericError(SymcalcError):
    """Parameters or data passed to the numeric functions do not fit the model, or a back end asked
    for cannot run it."""


class DescentError(SymcalcError):
    """Settings for gradient descent that cannot work."""


class NativeUnavailable(Exception):
    """No native kernel for this program here: no compiler, a failed build, or a function C cannot print."""


class DaskMissing(SymcalcError):
    """Dask (or pyarrow, for Parquet) is asked for but not installed."""


# -- Output ----------------------------------------------------------------------------------------------


class PlotError(SymcalcError):
    """A plot was asked for and cannot be drawn."""


class PdfError(SymcalcError):
    """pdflatex is missing, failed, or produced no PDF."""


class OutputError(SymcalcError):
    """An output file cannot be written."""


# -- Running work in a bounded child process or an external program --------------------------------------


class InternalError(Exception):
    """An exception nobody foresaw, raised in the child; carries its traceback text."""

    def __init__(self, summary: str, trace: str):
        super().__init__(summary)
        self.trace = trace


class ProgramTimeout(Exception):
    """An external program ran out of time; it and every process it started were killed."""
