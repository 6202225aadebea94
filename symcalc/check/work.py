"""A person's derivation checked line by line: each `=` of each line against the model, by the ladder.

Each line of maths (`symcalc.spec.work`) is read by the LaTeX reader (`symcalc.spec.latex`) and
each side parsed by symcalc's own parser; a derivative in it is the model's, SymPy's diff through
the graph (`Ladder.through`). People write ∂ for every derivative, so where a ∂J/∂w could also be
a local step (the derivative of J's definition alone, which differs) and only that reading holds,
the verdict uses it; either way it says which reading it used. Each `=` is then one check of the
ladder, as a claim is: proved, refuted with a point, or undecided, never guessed. A line starting
with `=` continues the previous line's left-hand side.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from symcalc.check.ladder import DEFAULT_LIMITS, Ladder, ProofLimits
from symcalc.check.oracle import elementary, second_derivative
from symcalc.check.records import Check, check_maker
from symcalc.errors import LatexError, Location, ParseError, SpecError
from symcalc.spec.latex import Reading, read_latex
from symcalc.spec.latex_cursor import Derivative
from symcalc.spec.work import WorkLine, place, work_lines
from symcalc.symbolic.claims import Claim
from symcalc.symbolic.engine import derive
from symcalc.symbolic.expand import concrete, flat
from symcalc.symbolic.graph import Model
from symcalc.symbolic.parse import parse_shaped
from symcalc.symbolic.parting import parting
from symcalc.symbolic.steps import Derivation

KIND = "work"


def check_work(
    model: Model,
    text: str,
    source: str,
    kind: str,
    *,
    points: int,
    seed: int,
    limits: ProofLimits = DEFAULT_LIMITS,
) -> list[Check]:
    """One check per `=` of the derivation `text` (a .tex, .md or .txt file's, by `kind`) read from
    `source`; SymcalcError (one line, with the file's line and column) for what cannot be read."""
    return [
        check
        for chain in _checked(model, text, source, kind, points, seed, limits)[1]
        for check in chain.checks
    ]


@dataclass
class Chain:
    """One chain of `=` (a line, and the lines starting with `=` that continue it): the derivative
    d(of)/d(wrt) its first side is alone (names, else None), its checks, and whether its last side
    is written without a derivative (a result, not a step on the way)."""

    derivative: tuple[str, str] | None
    checks: list[Check]
    closed: bool


def work_chains(
    model: Model,
    text: str,
    source: str,
    kind: str,
    *,
    points: int,
    seed: int,
    limits: ProofLimits = DEFAULT_LIMITS,
) -> tuple[int, list[Chain]]:
    """The derivation's lines of maths counted, and its chains checked (as `check_work` checks them)."""
    return _checked(model, text, source, kind, points, seed, limits)


def _checked(
    model: Model, text: str, source: str, kind: str, points: int, seed: int, limits: ProofLimits
) -> tuple[int, list[Chain]]:
    lines = work_lines(text, source, kind)
    if not lines:
        where = "no display maths ($$ … $$, \\[ … \\], align, equation)" if kind != "txt" else "no lines"
        raise SpecError(f"{where} to check", Location(source))
    checker = _Checker(model, Ladder(model, points=points, seed=seed, limits=limits), text, source)
    for line in lines:
        checker.line(line)
    return len(lines), checker.chains


@dataclass(frozen=True)
class _Side:
    """One side of an `=`: as written, read through the model, and with each ∂ that could be a local
    step read as one (`ambiguous` names them)."""

    written: str
    total: tuple[sp.Expr, ...]  # entry by entry, row by row: one for a scalar
    local: tuple[sp.Expr, ...]
    ambiguous: tuple[str, ...] = ()
    shape: tuple[object, ...] = ()
    #: The side is one derivative of scalars alone, d(of)/d(wrt): a line about it is a claim.
    alone: tuple[sp.Symbol, sp.Symbol] | None = None
    #: The side holds no derivative.
    closed: bool = True


class _Checker:
    def __init__(self, model: Model, ladder: Ladder, text: str, source: str):
        self.model, self.ladder, self.text, self.source = model, ladder, text, source
        shaped = model.shaped
        self.symbols = dict(model.symbols)
        self.shapes: dict[str, tuple[object, ...]] = {}
        self.arrays: dict[sp.Basic, Any] = {}
        self.sizes: dict[str, int] = {}
        if shaped is not None:
            self.symbols |= {symbol.name: symbol for symbol, _ in shaped.shapes}
            self.symbols |= {
                symbol.name: symbol for symbol in shaped.numbers() if isinstance(symbol, sp.Symbol)
            }
            self.shapes = {symbol.name: shape for symbol, shape in shaped.shapes}
            self.arrays, self.sizes = shaped.arrays(), dict(shaped.sizes)
        self.names = dict.fromkeys(self.symbols, 0) | {
            name: len(shape) for name, shape in self.shapes.items()
        }
        self.derivation: Derivation | None = None  # derived only to explain a failed line
        #: The left side a line starting with '=' continues.
        self.previous: _Side | None = None
        self.chains: list[Chain] = []

    def line(self, line: WorkLine) -> list[Check]:
        original = body = line.text
        stripped = body.lstrip(" &\t")
        continued = stripped.startswith("=")
        if continued:
            if self.previous is None:
                raise self.located(LatexError("a line starts with '=' but no line comes before it"), line, 1)
            cut = len(body) - len(stripped) + 1
            body = " " * cut + body[cut:]
        try:
            sides = read_latex(body, self.names, source=self.source, sizes=self.sizes)
        except LatexError as err:
            raise self.located(err, line, err.location.column or 1) from None
        parts = [self.previous] if continued and self.previous is not None else []
        for k, side in enumerate(sides):
            written = original[side.column - 1 : _end(original, sides, k)]
            parts.append(self.value(" ".join(written.replace("&", " ").split()), side, line))
        if not continued:
            self.previous = parts[0]
        equals = [original.rfind("=", 0, side.column - 1) for side in sides[0 if continued else 1 :]]
        checks = []
        for k, at in enumerate(equals):
            at_line, at_column = place(self.text, line.at + max(at, 0))
            check = self.decide(f"line {at_line}, column {at_column}", parts[k], parts[k + 1])
            checks.append(self.explained(check, parts[k], parts[k + 1]))
        if continued and self.chains:
            self.chains[-1].checks += checks
            self.chains[-1].closed = parts[-1].closed
        else:
            alone = parts[0].alone
            named = (alone[0].name, alone[1].name) if alone is not None else None
            self.chains.append(Chain(named, checks, parts[-1].closed))
        return checks

    def decide(self, name: str, left: _Side, right: _Side) -> Check:
        """One `=`, read through the model; where a ∂ could also be read as a local step and only that
        reading holds, that one, said in the verdict."""
        statement = f"{left.written} = {right.written}"
        if len(left.total) != len(right.total) or (left.shape and right.shape and left.shape != right.shape):
            make = check_maker(name, KIND, statement, self.ladder.assuming)
            shapes = f"{_shown(left.shape)} on the left, {_shown(right.shape)} on the right"
            return make("fails", "proved", f"the two sides have different shapes: {shapes}")
        check = self.entries(name, statement, left.total, right.total)
        marks = ", ".join(left.ambiguous + right.ambiguous)
        if not marks:
            return check
        if not check.holds:
            local = self.entries(name, statement, left.local, right.local)
            if local.holds:
                note = f"{marks} read as the derivative of a definition alone (a local step)"
                return dataclasses.replace(local, detail=f"{local.detail}; {note}")
        note = f"{marks} read as the derivative through the model"
        return dataclasses.replace(check, detail=f"{check.detail}; {note}")

    def explained(self, check: Check, left: _Side, right: _Side) -> Check:
        """A failed d(of)/d(wrt) = … with the engine's result and where the two part, as a failed claim
        is explained (`symbolic.parting`); the verdict itself never reads the derivation."""
        if check.status != "fails" or left.alone is None or len(right.total) != 1:
            return check
        if self.derivation is None:
            self.derivation = derive(self.model)
        claim = Claim(*left.alone, right.total[0], right.written)
        return dataclasses.replace(check, parting=parting(self.derivation, claim))

    def entries(self, name: str, statement: str, left: Sequence[sp.Expr], right: Sequence[sp.Expr]) -> Check:
        """Both sides entry by entry: the first entry that fails, else the first not proved, else the
        first."""
        checks = []
        for k, (one, other) in enumerate(zip(left, right, strict=True)):
            check = self.ladder.decide(name, KIND, statement, one, other, ("left side", "right side"))
            if len(left) > 1 and not check.proved:
                check = dataclasses.replace(check, detail=f"entry {k + 1} of {len(left)}: {check.detail}")
            if not check.holds:
                return check
            checks.append(check)
        return next((c for c in checks if not c.proved), checks[0])

    def value(self, written: str, side: Reading, line: WorkLine) -> _Side:
        """The side entry by entry: each derivative the model's through the graph, and (where it
        differs) a ∂ of scalars as the derivative of its definition alone."""
        symbols, shapes = dict(self.symbols), dict(self.shapes)
        total: dict[sp.Basic, Any] = dict(self.arrays)
        local: dict[sp.Basic, Any] = dict(self.arrays)
        ambiguous = []
        for d in side.derivatives:
            of, wrt = self.symbol(d.of, d, line), self.symbol(d.wrt, d, line)
            symbols[d.name] = stand_in = sp.Symbol(d.name)
            if d.second is not None:
                total[stand_in] = local[stand_in] = self.second(
                    of, wrt, self.symbol(d.second, d, line), d, line
                )
                continue
            if of in self.arrays:
                shapes[d.name], jacobian = self.jacobian(of, wrt, d, line)
                total[stand_in] = local[stand_in] = jacobian
                continue
            if wrt in self.arrays:
                shapes[d.name] = self.shapes[wrt.name]
                by_entry = _each(self.arrays[wrt], functools.partial(self.ladder.through, of))
                total[stand_in] = local[stand_in] = by_entry
                continue
            total[stand_in] = local[stand_in] = self.ladder.through(of, wrt)
            own = self.own(of, wrt) if d.partial else None
            if own is not None:
                local[stand_in] = own
                ambiguous.append(f"∂{of.name}/∂{wrt.name}")
        try:
            expr, shape = parse_shaped(side.text, symbols, shapes)  # type: ignore[arg-type]
        except ParseError as err:  # read, but not an expression of the model (a shape, a function)
            raise self.located(LatexError(err.problem, fix=err.fix), line, side.column) from None
        alone = None
        first = len(side.derivatives) == 1 and side.derivatives[0].second is None
        if first and side.text == side.derivatives[0].name and not shape:
            d = side.derivatives[0]
            alone = (self.symbols[d.of], self.symbols[d.wrt])
        closed = not side.derivatives
        return _Side(
            written, _entries(expr, total), _entries(expr, local), tuple(ambiguous), shape, alone, closed
        )

    def jacobian(
        self, of: sp.Symbol, wrt: sp.Symbol, d: Derivative, line: WorkLine
    ) -> tuple[tuple[object, ...], Any]:
        """d(of)/d(wrt) of two vectors: the Jacobian, entry (i, j) the derivative of of's entry i by
        wrt's entry j through the model (as a claim about dg/ds reads it)."""
        import numpy as np

        of_shape, wrt_shape = self.shapes[of.name], self.shapes.get(wrt.name, ())
        if len(of_shape) != 1 or len(wrt_shape) != 1:
            problem = (
                f"d{d.of}/d{d.wrt}: a derivative of a vector is read by a vector (the Jacobian); "
                f"{d.of} is {_shown(of_shape)} and {d.wrt} {_shown(wrt_shape)}"
            )
            raise self.located(LatexError(problem), line, d.column)
        rows, columns = self.arrays[of], self.arrays[wrt]
        table = np.empty((len(rows), len(columns)), dtype=object)
        for i, entry in enumerate(rows):
            for j, by in enumerate(columns):
                table[i, j] = self.ladder.through(entry, by)
        return (of_shape[0], wrt_shape[0]), table

    def second(self, of: sp.Symbol, wrt: sp.Symbol, by: sp.Symbol, d: Derivative, line: WorkLine) -> sp.Expr:
        """d²(of)/d(wrt)d(by) of scalars through the model: SymPy's diff of d(of)/d(wrt), once more."""
        if any(name in self.arrays for name in (of, wrt, by)):
            problem = f"d²{d.of}/d{d.wrt}d{d.second}: second derivatives are read of scalars by scalars"
            raise self.located(LatexError(problem), line, d.column)
        return second_derivative(self.model, of, wrt, by, self.ladder.through(of, wrt))

    def own(self, of: sp.Symbol, wrt: sp.Symbol) -> sp.Expr | None:
        """∂(of)/∂(wrt) of `of`'s definition alone, where it differs from the derivative through the model."""
        definition = self.model.definition_map.get(of)
        if definition is None or wrt not in definition.free_symbols:
            return None
        own = sp.diff(elementary(definition), wrt)
        differ, _ = self.ladder.compare_at_points(
            check_maker("reading", KIND, ""), own, self.ladder.through(of, wrt), ("local", "total"), 2
        )
        return own if differ is not None else None

    def symbol(self, name: str, d: Derivative, line: WorkLine) -> sp.Symbol:
        found = self.symbols.get(name)
        if found is None:
            raise self.located(LatexError(f"unknown name '{name}' in a derivative"), line, d.column)
        return found

    def located(self, err: LatexError, line: WorkLine, column: int) -> LatexError:
        at_line, at_column = place(self.text, line.at + column - 1)
        return LatexError(err.problem, Location(self.source, line=at_line, column=at_column), err.fix)


def _shown(shape: tuple[object, ...]) -> str:
    return " × ".join(str(axis) for axis in shape) if shape else "a scalar"


def _each(array: Any, function: Callable[[sp.Expr], sp.Expr]) -> Any:
    """`function` of each entry of a NumPy array of SymPy expressions, in its shape."""
    import numpy as np

    result = np.empty(array.shape, dtype=object)
    for index, entry in np.ndenumerate(array):
        result[index] = function(entry)
    return result


def _entries(expr: sp.Expr, values: dict[sp.Basic, Any]) -> tuple[sp.Expr, ...]:
    """`expr` at the model's sizes, entry by entry (a scalar's one), each stand-in put in."""
    scalars = {k: v for k, v in values.items() if isinstance(v, sp.Basic)}
    if not any(k in expr.free_symbols for k, v in values.items() if not isinstance(v, sp.Basic)):
        return (expr.xreplace(scalars),)
    arrays = {k: v for k, v in values.items() if not isinstance(v, sp.Basic)}
    return tuple(sp.sympify(e).xreplace(scalars) for e in flat(concrete(expr, arrays | _numbers(values)), 1))


def _numbers(values: dict[sp.Basic, Any]) -> dict[sp.Basic, Any]:
    return {k: v for k, v in values.items() if isinstance(v, sp.Integer)}


def _end(body: str, sides: Sequence[Reading], k: int) -> int:
    """Where side `k` ends in `body`: before the `=` that starts the next side."""
    if k + 1 == len(sides):
        notes = body.find("&&", sides[k].column - 1)
        return notes if notes >= 0 else len(body)
    return body.rfind("=", 0, sides[k + 1].column - 1)
