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
from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from symcalc.check.ladder import DEFAULT_LIMITS, Ladder, ProofLimits
from symcalc.check.oracle import elementary
from symcalc.check.records import Check, check_maker
from symcalc.errors import LatexError, Location, ParseError, SpecError
from symcalc.spec.latex import Reading, read_latex
from symcalc.spec.latex_cursor import Derivative
from symcalc.spec.work import WorkLine, place, work_lines
from symcalc.symbolic.graph import Model
from symcalc.symbolic.parse import parse_expression

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
    lines = work_lines(text, source, kind)
    if not lines:
        where = "no display maths ($$ … $$, \\[ … \\], align, equation)" if kind != "txt" else "no lines"
        raise SpecError(f"{where} to check", Location(source))
    checker = _Checker(model, Ladder(model, points=points, seed=seed, limits=limits), text, source)
    checks: list[Check] = []
    for line in lines:
        checks += checker.line(line)
    return checks


@dataclass(frozen=True)
class _Side:
    """One side of an `=`: as written, read through the model, and with each ∂ that could be a local
    step read as one (`ambiguous` names them)."""

    written: str
    total: sp.Expr
    local: sp.Expr
    ambiguous: tuple[str, ...] = ()


class _Checker:
    def __init__(self, model: Model, ladder: Ladder, text: str, source: str):
        self.model, self.ladder, self.text, self.source = model, ladder, text, source
        self.names = dict.fromkeys(model.symbols, 0)
        #: The left side a line starting with '=' continues.
        self.previous: _Side | None = None

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
            sides = read_latex(body, self.names, source=self.source)
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
            checks.append(self.decide(f"line {at_line}, column {at_column}", parts[k], parts[k + 1]))
        return checks

    def decide(self, name: str, left: _Side, right: _Side) -> Check:
        """One `=`, read through the model; where a ∂ could also be read as a local step and only that
        reading holds, that one, said in the verdict."""
        statement = f"{left.written} = {right.written}"
        sides = ("left side", "right side")
        check = self.ladder.decide(name, KIND, statement, left.total, right.total, sides)
        marks = ", ".join(left.ambiguous + right.ambiguous)
        if not marks:
            return check
        if not check.holds:
            local = self.ladder.decide(name, KIND, statement, left.local, right.local, sides)
            if local.holds:
                note = f"{marks} read as the derivative of a definition alone (a local step)"
                return dataclasses.replace(local, detail=f"{local.detail}; {note}")
        return dataclasses.replace(
            check, detail=f"{check.detail}; {marks} read as the derivative through the model"
        )

    def value(self, written: str, side: Reading, line: WorkLine) -> _Side:
        """The side as SymPy expressions: each derivative the model's through the graph, and (where it
        differs) a ∂ as the derivative of its definition alone."""
        symbols = dict(self.model.symbols)
        total: dict[sp.Symbol, sp.Expr] = {}
        local: dict[sp.Symbol, sp.Expr] = {}
        ambiguous = []
        for d in side.derivatives:
            of, wrt = self.symbol(d.of, d, line), self.symbol(d.wrt, d, line)
            symbols[d.name] = stand_in = sp.Symbol(d.name)
            total[stand_in] = local[stand_in] = self.ladder.through(of, wrt)
            own = self.own(of, wrt) if d.partial else None
            if own is not None:
                local[stand_in] = own
                ambiguous.append(f"∂{of.name}/∂{wrt.name}")
        try:
            expr = parse_expression(side.text, symbols)
        except ParseError as err:  # read, but not an expression of the model (a shape, a function)
            raise self.located(LatexError(err.problem, fix=err.fix), line, side.column) from None
        return _Side(written, expr.xreplace(total), expr.xreplace(local), tuple(ambiguous))

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
        found = self.model.symbols.get(name)
        if found is None:
            raise self.located(LatexError(f"unknown name '{name}' in a derivative"), line, d.column)
        return found

    def located(self, err: LatexError, line: WorkLine, column: int) -> LatexError:
        at_line, at_column = place(self.text, line.at + column - 1)
        return LatexError(err.problem, Location(self.source, line=at_line, column=at_column), err.fix)


def _end(body: str, sides: Sequence[Reading], k: int) -> int:
    """Where side `k` ends in `body`: before the `=` that starts the next side."""
    if k + 1 == len(sides):
        notes = body.find("&&", sides[k].column - 1)
        return notes if notes >= 0 else len(body)
    return body.rfind("=", 0, sides[k + 1].column - 1)
