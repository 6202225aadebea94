"""`Model`: a derivation as a graph of SymPy definitions, built from a file's `Spec` (`building`) or
from code (`from_python`).

Definitions are kept in order; each may use the independent names (inputs,
targets, parameters, constants) and earlier definitions. The graph's edges are
the names each definition uses, in declaration order, so every traversal is
deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import sympy as sp

from symcalc.errors import Location, SpecError, SpecErrors, SymcalcError
from symcalc.spec.domains import Domain
from symcalc.spec.names import check_name
from symcalc.spec.shapes import component
from symcalc.spec.toml import Spec, check, read, with_constants
from symcalc.symbolic.assumptions import polynomial_roots
from symcalc.symbolic.building import RESERVED, SpecBuilder, order_error
from symcalc.symbolic.claims import Claim, claim_entries, parse_claim
from symcalc.symbolic.entries import printing
from symcalc.symbolic.expand import Shaped
from symcalc.symbolic.forms import solve_linear
from symcalc.symbolic.from_python import matrix_spec, scalars_only
from symcalc.symbolic.functions import FUNCTIONS
from symcalc.symbolic.lookalike import alike_names
from symcalc.symbolic.matrices import is_matrix_model
from symcalc.symbolic.parse import parse_shaped


def _evaluated(expr: sp.Expr) -> sp.Expr:
    """`expr` (a form as written: sums, products and powers unevaluated) rebuilt bottom-up with
    SymPy's evaluation, as the parser builds a definition; iterative, so no depth exhausts the stack."""
    done: dict[sp.Basic, sp.Basic] = {}
    stack: list[sp.Basic] = [expr]
    while stack:
        node = stack[-1]
        waiting = [a for a in node.args if a not in done]
        if waiting:
            stack.extend(waiting)
            continue
        stack.pop()
        done[node] = node.func(*(done[a] for a in node.args)) if node.args else node
    return done[expr]


_ENTRY = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z][A-Za-z0-9_]*)\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]")


def _scalar_name(found: re.Match[str], shapes: Mapping[str, tuple[object, ...]]) -> str:
    """An entry written name[i] or name[i,j] of a vector or matrix: its scalar name (W1[1,2] is W11_2)."""
    word, *given = found.groups()
    mark = "d" if word not in shapes and word[:1] == "d" else ""  # dL/dh3[1]: d, then the name
    name = word[len(mark) :]
    index = tuple(int(i) for i in given if i is not None)
    return mark + component(name, index) if len(index) == len(shapes.get(name, ())) else found.group(0)


@dataclass(frozen=True)
class Model:
    """Named definitions over independent names, with the loss and the parameters to train."""

    title: str
    inputs: tuple[sp.Symbol, ...]
    targets: tuple[sp.Symbol, ...]
    parameters: tuple[sp.Symbol, ...]
    definitions: tuple[tuple[sp.Symbol, sp.Expr], ...]
    loss: sp.Symbol
    constants: tuple[tuple[sp.Symbol, float], ...] = ()
    claims: tuple[Claim, ...] = ()
    notes: tuple[tuple[sp.Symbol, str], ...] = ()
    assumptions: tuple[tuple[str, sp.Expr], ...] = ()  # (text, lhs − rhs), each assumed = 0
    domains: tuple[tuple[sp.Symbol, Domain], ...] = ()  # the [domains] table: where each name lies
    source: str = "<model>"
    spec: Spec | None = field(default=None, compare=False, repr=False)
    #: For a file with vectors and matrices: the model as written, which this one writes out in scalars.
    shaped: Shaped | None = field(default=None, compare=False, repr=False)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_spec(
        cls, spec: Spec, problems: Sequence[SymcalcError] = (), sizes: Mapping[str, int] | None = None
    ) -> Model:
        """Parse every expression of a `Spec`; raise its `problems` and any new ones together.

        A model with vectors or matrices is written out in scalars. With `sizes` (the data's, for
        a run; missing ones from [dimensions]) it is written out at exactly those, which must give
        at most MAX_NAMES entries. Without, it is written out for reading: each dimension cut to
        WRITTEN_OUT, so that the steps are the same whatever the sizes (the vector and batch
        forms, which do not depend on them, are the derivation at every size).
        """
        return cls(**SpecBuilder(spec, problems, sizes).build())

    @classmethod
    def load(
        cls,
        target: str | Path | None = None,
        sizes: Mapping[str, int] | None = None,
        constants: Mapping[str, float] | None = None,
    ) -> Model:
        """A model from a file or a built-in model's name (the seed when None), every problem reported;
        `sizes` as for `from_spec`; `constants` set some constants' values (`--set`)."""
        spec, problems = check(*read(target), reserved=RESERVED)
        if constants and not problems:
            spec = with_constants(spec, constants)
        return cls.from_spec(spec, problems, sizes=sizes)

    @classmethod
    def build(
        cls,
        definitions: Mapping[sp.Symbol, sp.Expr],
        parameters: Sequence[sp.Symbol],
        inputs: Sequence[sp.Symbol] | None = None,
        targets: Sequence[sp.Symbol] = (),
        constants: Mapping[sp.Symbol, float] | None = None,
        loss: sp.Symbol | None = None,
        title: str = "Model built in Python",
        notes: Mapping[sp.Symbol, str] | None = None,
        sizes: Mapping[sp.Symbol | str, int] | None = None,
    ) -> Model:
        """A model from SymPy symbols and expressions, checked like a file.

        `definitions` maps each intermediate symbol to its expression, in order.
        Free symbols that are not parameters, targets, constants or definitions
        are the inputs unless `inputs` lists them. Names may be `MatrixSymbol`s and
        expressions SymPy's matrix expressions (`symbolic.matrices`); `sizes` then gives
        each symbolic dimension's size, as [dimensions] does.
        """
        arguments = [*definitions, *definitions.values(), *parameters, *(inputs or ()), *targets]
        if is_matrix_model(*arguments):
            named = [*parameters, *(inputs or ()), *targets, *(constants or {}), *definitions]
            return cls.from_spec(
                *matrix_spec(
                    definitions, parameters, inputs, targets, constants, loss, title, notes, sizes, named
                )
            )
        scalars_only(definitions, [*parameters, *(inputs or ()), *targets, *(constants or {})])
        defs = tuple((sym, sp.sympify(expr)) for sym, expr in definitions.items())
        if not defs:
            raise SpecError("a model needs at least one definition", Location(key="definitions"))
        const = tuple((sym, float(v)) for sym, v in (constants or {}).items())
        declared = set(parameters) | set(targets) | {s for s, _ in const} | {s for s, _ in defs}
        if inputs is None:
            free: set[sp.Symbol] = set().union(*(expr.free_symbols for _, expr in defs))
            inputs = sorted(free - declared, key=lambda s: s.name)
        return cls(
            title=title,
            inputs=tuple(inputs),
            targets=tuple(targets),
            parameters=tuple(parameters),
            definitions=defs,
            loss=loss if loss is not None else defs[-1][0],
            constants=const,
            notes=tuple((notes or {}).items()),
        )

    def __post_init__(self) -> None:
        """A model checks itself: SpecError unless its names are valid, declared once, and used only
        after their definition (so `dataclasses.replace` cannot make an invalid one either)."""
        problems: list[SymcalcError] = []
        seen: set[sp.Symbol] = set()
        for sym in self.independents + tuple(s for s, _ in self.definitions):
            try:
                check_name(sym.name, FUNCTIONS)
            except SymcalcError as err:
                problems.append(SpecError(err.problem, Location(key=sym.name), err.fix))
            if sym in seen:
                problems.append(SpecError(f"name {sym.name!r} is declared twice"))
            seen.add(sym)
        available = set(self.independents)
        for sym, expr in self.definitions:
            for used in sorted(expr.free_symbols - available, key=str):
                problems.append(order_error(sym.name, used.name, self.definition_names))
            available.add(sym)
        if self.loss not in self.definition_map:
            problems.append(SpecError(f"loss {self.loss.name!r} is not a definition"))
        source = None if self.source == "<model>" else self.source
        with printing(self.shaped):  # an entry as it prints: (b₁)₁ is not the scalar b_11's b₁₁
            problems += alike_names(self.independents + tuple(s for s, _ in self.definitions), source)
        if problems:
            raise problems[0] if len(problems) == 1 else SpecErrors(problems)

    # -- the graph ------------------------------------------------------------------------

    @property
    def independents(self) -> tuple[sp.Symbol, ...]:
        """Inputs, targets, parameters and constants: the names held fixed or trained."""
        return self.inputs + self.targets + self.parameters + tuple(s for s, _ in self.constants)

    @cached_property
    def definition_map(self) -> dict[sp.Symbol, sp.Expr]:
        return dict(self.definitions)

    @property
    def definition_names(self) -> list[str]:
        return [s.name for s, _ in self.definitions]

    @cached_property
    def symbols(self) -> dict[str, sp.Symbol]:
        """Every declared name → its symbol."""
        return {s.name: s for s in self.independents + tuple(s for s, _ in self.definitions)}

    @cached_property
    def order(self) -> dict[sp.Symbol, int]:
        """Declaration order of every name: the tie-breaker that keeps traversals deterministic."""
        return {sym: i for i, sym in enumerate(self.symbols.values())}

    @cached_property
    def parent_map(self) -> dict[sp.Symbol, tuple[sp.Symbol, ...]]:
        """For each definition, the names it uses, in declaration order."""
        declared = set(self.order)
        return {
            sym: tuple(sorted(expr.free_symbols & declared, key=self.order.__getitem__))
            for sym, expr in self.definitions
        }

    def parents(self, node: sp.Symbol) -> tuple[sp.Symbol, ...]:
        """The names a definition uses, in declaration order."""
        return self.parent_map[node]

    def ancestors(self, node: sp.Symbol) -> set[sp.Symbol]:
        """Every name `node` depends on, directly or through definitions."""
        found: set[sp.Symbol] = set()
        stack = [node]
        while stack:
            current = stack.pop()
            if current not in self.definition_map:
                continue
            for parent in self.parents(current):
                if parent not in found:
                    found.add(parent)
                    stack.append(parent)
        return found

    def expand(self, expr: sp.Expr) -> sp.Expr:
        """`expr` with every definition substituted, down to the independent names."""
        for sym, definition in reversed(self.definitions):
            if sym in expr.free_symbols:
                expr = expr.xreplace({sym: definition})
        return expr

    @cached_property
    def written(self) -> dict[sp.Symbol, sp.Expr]:
        """Each definition as the file writes it, for display (print with order="none"): its terms
        in the file's order, w1*x1 + w2*x2 + b, not SymPy's b + w1*x1 + w2*x2. Only where it equals
        the definition, which is checked by building the form as SymPy evaluates it, the way the
        definition was built: never by multiplying anything out, which for (x1 + w + y)^1000 takes
        longer than any time limit. None for a model built in Python or written out from vectors."""
        if self.spec is None or self.shaped is not None:
            return {}
        forms: dict[sp.Symbol, sp.Expr] = {}
        definitions = self.definition_map
        for name, text in self.spec.definitions:
            symbol = self.symbols.get(name)
            if symbol in definitions:
                form, _ = parse_shaped(text, self.symbols, {}, written=True)
                if _evaluated(form) == definitions[symbol]:
                    forms[symbol] = form
        return forms

    @cached_property
    def composed(self) -> dict[sp.Symbol, sp.Expr]:
        """Each definition written in independent names only."""
        result: dict[sp.Symbol, sp.Expr] = {}
        for sym, expr in self.definitions:
            result[sym] = expr.xreplace(result)
        return result

    def outputs_near(self, node: sp.Symbol) -> list[tuple[sp.Symbol, sp.Expr]]:
        """`node`'s definition and those of its siblings (same inputs): outputs to write derivatives in."""
        group = self._sibling_groups[frozenset(self.parents(node))]
        return [(node, self.definition_map[node])] + [(s, self.definition_map[s]) for s in group if s != node]

    @cached_property
    def _sibling_groups(self) -> dict[frozenset[sp.Symbol], list[sp.Symbol]]:
        groups: dict[frozenset[sp.Symbol], list[sp.Symbol]] = {}
        for sym, _ in self.definitions:
            groups.setdefault(frozenset(self.parents(sym)), []).append(sym)
        return groups

    @cached_property
    def assumption_solutions(self) -> dict[sp.Symbol, sp.Expr]:
        """Each assumption solved for its latest-declared name it is linear in: y3 = 1 − y1 − y2.

        Substituting these (after differentiating) makes any expression hold
        exactly where the assumptions do; sampling the other names and computing
        these from them gives points that meet the assumptions.
        """
        solutions: dict[sp.Symbol, sp.Expr] = {}
        for _, assumption in self.assumptions:
            equation = assumption.xreplace(solutions)
            for name in sorted(equation.free_symbols, key=lambda s: self.order.get(s, -1), reverse=True):
                solved = solve_linear(equation, name)
                if solved is not None:
                    solutions = {k: v.xreplace({name: solved}) for k, v in solutions.items()}
                    solutions[name] = solved
                    break
        return solutions

    @cached_property
    def domain_map(self) -> dict[sp.Symbol, Domain]:
        """Each restricted name's domain: the [domains] entry, narrowed to the real roots of a
        polynomial assumption in that name alone (y^2 = y makes y one of {0, 1})."""
        result = dict(self.domains)
        for text, assumption in self.assumptions:
            roots = polynomial_roots(assumption)
            if roots is None:
                continue
            (name,) = assumption.free_symbols
            stated = result.get(name, Domain(text="the real line"))
            result[name] = stated.intersect_members(roots, repr(text))
        return result

    def note(self, sym: sp.Symbol) -> str | None:
        return dict(self.notes).get(sym)

    def constant_values(self) -> dict[sp.Symbol, float]:
        return dict(self.constants)

    def claim(self, lhs: str, rhs: str) -> Claim:
        """A claim about this model given as text, e.g. ``model.claim("dL/dw1", "(y - a)*x1")``.

        Parsed exactly as a file's [claims] entry, about the written-out scalar names; a bad one
        raises SymcalcError located at `lhs`.
        """
        try:
            return parse_claim(lhs, rhs, self.symbols, self.definition_names)
        except SymcalcError as err:
            raise err.at(Location(source=self.source, key=str(lhs))) from None

    def claims_of(self, lhs: str, rhs: str) -> list[Claim]:
        """A claim given as text, about vectors and matrices too ("dL/dW" = "outer(d, x)"): one claim
        per entry of the written-out model; SymcalcError located at `lhs` for a bad one. In a file with
        a recurrence, steps read as in its [claims] (`dL/dh[T]`, `sum_t(...)`)."""
        if self.spec is not None and self.spec.steps is not None:
            try:
                lhs, rhs = self.spec.steps(lhs, lhs), self.spec.steps(lhs, rhs)
            except SymcalcError as err:
                raise SpecError(err.problem, Location(source=self.source, key=str(lhs)), err.fix) from None
        if self.shaped is None:
            return [self.claim(lhs, rhs)]
        arrays = self.shaped.arrays()
        shapes = {symbol.name: shape for symbol, shape in self.shaped.shapes}
        names = self.symbols | {symbol.name: symbol for symbol, _ in self.shaped.shapes}
        names |= {symbol.name: symbol for symbol in self.shaped.numbers() if isinstance(symbol, sp.Symbol)}
        # an entry as --json and the tables print it, dL/dh3[1] (h3's entry 1): its scalar name, h31
        lhs = _ENTRY.sub(lambda m: _scalar_name(m, shapes), lhs)
        try:
            claim = parse_claim(lhs, rhs, names, self.definition_names + list(shapes), shapes)
        except SymcalcError as err:
            raise err.at(Location(source=self.source, key=str(lhs))) from None
        return claim_entries(claim, arrays)
