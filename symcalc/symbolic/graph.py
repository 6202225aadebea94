"""`Model`: a derivation as a graph of SymPy definitions, built from a file's `Spec` or from code.

Definitions are kept in order; each may use the independent names (inputs,
targets, parameters, constants) and earlier definitions. The graph's edges are
the names each definition uses, in declaration order, so every traversal is
deterministic.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any

import sympy as sp

from symcalc.errors import Location, SpecError, SpecErrors, SymcalcError
from symcalc.spec.domains import Domain, DomainError
from symcalc.spec.names import NAME_PATTERN, check_name
from symcalc.spec.toml import MAX_NAMES, Spec, check, read, with_constants
from symcalc.symbolic.arrays import ARRAY_FUNCTIONS, Shape, ShapeError, dimension, shown
from symcalc.symbolic.entries import entry as entry_of
from symcalc.symbolic.entries import latex_entry, printing, unicode_entry
from symcalc.symbolic.expand import Shaped, concrete, entry_array, flat, resolve
from symcalc.symbolic.forms import solve_linear
from symcalc.symbolic.functions import FUNCTIONS, calls
from symcalc.symbolic.functions import text as text_of
from symcalc.symbolic.matrices import Unsupported, as_text, axes, declaration, is_matrix_model
from symcalc.symbolic.named_adjoints import named_adjoints
from symcalc.symbolic.parse import SHORTHANDS, parse_expression, parse_shaped

_NAME = r"([A-Za-z][A-Za-z0-9_]*)"
#: A total derivative through the graph, "dL/dz".
CLAIM_PATTERN = re.compile(rf"\s*d\s*{_NAME}\s*/\s*d\s*{_NAME}\s*")
#: A local partial derivative of one definition, "∂a/∂z" or in ASCII "partial a/partial z".
PARTIAL_CLAIM_PATTERN = re.compile(rf"\s*(?:∂|partial\s)\s*{_NAME}\s*/\s*(?:∂|partial\s)\s*{_NAME}\s*")
#: A second derivative through the graph, "d2L/dw1 dw2" (a space between the names) or "d2L/dw1^2".
SECOND_CLAIM_PATTERN = re.compile(rf"\s*d2\s*{_NAME}\s*/\s*d\s*{_NAME}(?:\s*\^\s*2|\s+d\s*{_NAME})\s*")
CLAIM_FORMS = "'dA/dB' (total), '∂A/∂B' / 'partial A/partial B' (local) or 'd2A/dB dC' / 'd2A/dB^2' (second)"


#: Names no declaration may take: every function an expression can call.
RESERVED = frozenset({*FUNCTIONS, *ARRAY_FUNCTIONS, *SHORTHANDS})


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


def make_symbol(name: str) -> sp.Symbol:
    """The plain real symbol for a declared name: `E`, `I`, `N`, `beta` stay themselves."""
    return sp.Symbol(check_name(name, RESERVED), real=True)


@dataclass(frozen=True)
class Claim:
    """The author's claim that d(of)/d(wrt) equals `expected`, as written in [claims].

    A `local` claim (∂a/∂z) is about the partial derivative of `of`'s own
    definition with every other name held fixed; otherwise it is about the total
    derivative through the graph (dL/dz).
    """

    of: sp.Symbol
    wrt: sp.Symbol
    expected: sp.Expr
    text: str
    local: bool = False
    #: For a second derivative d²(of)/d(wrt)d(second): the name differentiated by the second time.
    second: sp.Symbol | None = None

    @property
    def name(self) -> str:
        if self.second is not None:
            below = (
                f"{self.wrt.name}^2" if self.second == self.wrt else f"{self.wrt.name} d{self.second.name}"
            )
            return f"d2{self.of.name}/d{below}"
        mark = "∂" if self.local else "d"
        return f"{mark}{self.of.name}/{mark}{self.wrt.name}"


def parse_claim(
    lhs: object,
    rhs: str,
    symbols: Mapping[str, sp.Symbol],
    definitions: Collection[str],
    shapes: Mapping[str, Shape] | None = None,
) -> Claim:
    """The claim "lhs = rhs" over the declared `symbols`; SymcalcError (without a location) if it is not one.

    "dA/dB" is total; "∂A/∂B" and "partial A/partial B" are local, and A must then be a
    definition, whose expression is the one differentiated. The right-hand side goes
    through the same safe parser as every definition. With `shapes`, the claim may be about
    vectors and matrices: for a scalar A, dA/dB has B's shape; for vectors u and v, du/dv is
    the Jacobian, entry [i, j] = ∂uᵢ/∂vⱼ; a scalar right-hand side stands for every entry.
    """
    text = lhs if isinstance(lhs, str) else ""
    total, partial = CLAIM_PATTERN.fullmatch(text), PARTIAL_CLAIM_PATTERN.fullmatch(text)
    second = SECOND_CLAIM_PATTERN.fullmatch(text)
    match = total or partial or second
    if match is None:
        example = 'e.g. "d2L/dw1 dw2" or "d2L/dw1^2"' if text.lstrip().startswith("d2") else 'e.g. "dL/dw1"'
        raise SpecError(f"claim {lhs!r} is not of the form {CLAIM_FORMS}", fix=example)
    named = [name for name in match.groups() if name is not None]
    unknown = [name for name in named if name not in symbols]
    if unknown:
        raise SpecError(f"claim is about undeclared name {unknown[0]!r}")
    of, wrt, *rest = (symbols[name] for name in named)
    if second is not None:
        return _second_claim(of, wrt, rest[0] if rest else wrt, rhs, symbols, shapes)
    if partial is not None and of.name not in definitions:
        raise SpecError(
            f"{of.name!r} is not a definition, so it has no local partial derivative",
            fix=f'write the total derivative "d{of.name}/d{wrt.name}"',
        )
    written, adjoints = named_adjoints(rhs, symbols, shapes or {})  # dL/dq1 as derive prints it
    symbols = {**symbols, **adjoints}
    if not shapes:
        return Claim(of, wrt, parse_expression(written, symbols), rhs, local=partial is not None)
    wanted = _claim_shape(shapes.get(of.name, ()), shapes.get(wrt.name, ()), of.name, wrt.name)
    expected, shape = parse_shaped(written, symbols, shapes, square=wanted)
    if shape and shape != wanted:
        raise SpecError(
            f"d{of.name}/d{wrt.name} has the shape {shown(wanted)}; the right-hand side is {shown(shape)}"
        )
    return Claim(of, wrt, expected, rhs, local=partial is not None)


def _second_claim(
    of: sp.Symbol,
    wrt: sp.Symbol,
    second: sp.Symbol,
    rhs: str,
    symbols: Mapping[str, sp.Symbol],
    shapes: Mapping[str, Shape] | None,
) -> Claim:
    """d²(of)/d(wrt)d(second) = rhs: of a scalar, by two scalars or vectors; for vectors u and v,
    entry [i, j] is ∂²of/∂uᵢ∂vⱼ (for u = v, the Hessian)."""
    claim = Claim(of, wrt, sp.S.Zero, rhs, second=second)
    if not shapes:
        return replace(claim, expected=parse_expression(rhs, symbols))
    of_shape, first, then = (shapes.get(name.name, ()) for name in (of, wrt, second))
    if of_shape or len(first) > 1 or len(then) > 1:
        raise SpecError(
            f"{claim.name}: second-derivative claims are about a scalar by scalars or vectors; "
            f"{of.name} is {shown(of_shape)}, {wrt.name} {shown(first)} and {second.name} {shown(then)}"
        )
    wanted = (*first, *then)
    expected, shape = parse_shaped(rhs, symbols, shapes, square=wanted)
    if shape and shape != wanted:
        raise SpecError(f"{claim.name} has the shape {shown(wanted)}; the right-hand side is {shown(shape)}")
    return replace(claim, expected=expected)


def _claim_shape(of: Shape, wrt: Shape, of_name: str, wrt_name: str) -> Shape:
    """The shape of dA/dB: B's for a scalar A; the Jacobian's for two vectors."""
    if not of:
        return wrt
    if len(of) == 1 and len(wrt) == 1:
        return (of[0], wrt[0])
    raise SpecError(
        f"d{of_name}/d{wrt_name}: claims are about a scalar's derivative, or a vector's by a vector "
        f"(the Jacobian); {of_name} is {shown(of)} and {wrt_name} {shown(wrt)}"
    )


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
        return _SpecBuilder(spec, problems, sizes).build()

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
            return _from_matrices(
                definitions, parameters, inputs, targets, constants, loss, title, notes, sizes, named
            )
        _scalars_only(definitions, [*parameters, *(inputs or ()), *targets, *(constants or {})])
        defs = tuple((sym, sp.sympify(expr)) for sym, expr in definitions.items())
        if not defs:
            raise SpecError("a model needs at least one definition", Location(key="definitions"))
        const = tuple((sym, float(v)) for sym, v in (constants or {}).items())
        declared = set(parameters) | set(targets) | {s for s, _ in const} | {s for s, _ in defs}
        if inputs is None:
            free: set[sp.Symbol] = set().union(*(expr.free_symbols for _, expr in defs))
            inputs = sorted(free - declared, key=lambda s: s.name)
        model = cls(
            title=title,
            inputs=tuple(inputs),
            targets=tuple(targets),
            parameters=tuple(parameters),
            definitions=defs,
            loss=loss if loss is not None else defs[-1][0],
            constants=const,
            notes=tuple((notes or {}).items()),
        )
        model.check()
        return model

    def check(self) -> None:
        """Raise SpecError unless names are valid, declared once, and used only after definition."""
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
                problems.append(_order_error(sym.name, used.name, self.definition_names))
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
        per entry of the written-out model; SymcalcError located at `lhs` for a bad one."""
        if self.shaped is None:
            return [self.claim(lhs, rhs)]
        arrays = self.shaped.arrays()
        shapes = {symbol.name: shape for symbol, shape in self.shaped.shapes}
        names = self.symbols | {symbol.name: symbol for symbol, _ in self.shaped.shapes}
        names |= {symbol.name: symbol for symbol in self.shaped.numbers() if isinstance(symbol, sp.Symbol)}
        try:
            claim = parse_claim(lhs, rhs, names, self.definition_names + list(shapes), shapes)
        except SymcalcError as err:
            raise err.at(Location(source=self.source, key=str(lhs))) from None
        return _claim_entries(claim, arrays)


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


def _order_error(defined: str, used: str, definitions: list[str]) -> SpecError:
    key = f"definitions.{defined}"
    if used == defined:
        return SpecError(f"definition of {defined!r} uses itself", Location(key=key))
    if used in definitions:
        return SpecError(
            f"uses {used!r}, which is defined later",
            Location(key=key),
            fix="definitions may use only earlier definitions",
        )
    return SpecError(f"unknown name {used!r}", Location(key=key))


def _loose_arguments(expr: sp.Expr, constants: Collection[str]) -> list[SpecError]:
    """An error for each argument the table requires constant (leaky_relu's slope) that uses another name."""
    problems = []
    for call, spec in calls(expr):
        for k in spec.constant:
            loose = sorted(s.name for s in call.args[k].free_symbols if s.name not in constants)
            if loose:
                problems.append(
                    SpecError(
                        f"the {spec.arguments[k]} of {type(call).__name__}() must be a number or a "
                        f"declared constant, not {loose[0]!r}",
                        fix="declare it under [constants]",
                    )
                )
    return problems


class _SpecBuilder:
    """Turns a Spec's text into SymPy, collecting every problem with its key."""

    def __init__(self, spec: Spec, problems: Sequence[SymcalcError], sizes: Mapping[str, int] | None):
        self.spec = spec
        self.errors: list[SymcalcError] = list(problems)
        self.symbols: dict[str, sp.Symbol] = {}
        #: Each name with axes: the declared ones, then each definition's as it is read.
        self.shapes: dict[str, Shape] = dict(spec.shapes)
        self.sizes = {**dict(spec.dimensions), **(sizes or {})}
        #: Written out at exactly these sizes (for a run), rather than cut down for reading.
        self.exact = sizes is not None
        #: The sizes the file or the data give, where the model is written out at smaller ones.
        self.declared_sizes: dict[str, int] = {}
        #: Each declared vector or matrix → the array of its entries' symbols.
        self.values: dict[sp.Basic, Any] = {}
        self.shaped_assumptions: list[tuple[str, sp.Expr]] = []

    @property
    def numbers(self) -> dict[sp.Basic, Any]:
        """Each declared vector or matrix → its entries, and each dimension → its size, written out."""
        return {**self.values, **{dimension(name): sp.Integer(size) for name, size in self.sizes.items()}}

    def fail(self, key: str, err: SymcalcError) -> None:
        self.errors.append(err.at(self.spec.location(key)))

    def parse(self, key: str, text: str, names: Mapping[str, sp.Symbol]) -> tuple[sp.Expr, Shape] | None:
        try:
            return parse_shaped(text, names, self.shapes)
        except SymcalcError as err:
            self.errors.append(self.spec.locate(key, err, text))
            return None

    def build(self) -> Model:
        spec = self.spec
        if spec.shapes:
            # A shape's sizes must be known to write it out: with problems in the file's
            # declarations or [dimensions], those are reported first, alone.
            if not self.errors:
                self.check_size()
            if self.errors:
                raise self.errors[0] if len(self.errors) == 1 else SpecErrors(self.errors)
        for name in (
            *spec.inputs,
            *spec.targets,
            *spec.parameters,
            *(n for n, _ in spec.constants),
        ):
            self.symbols[name] = make_symbol(name)
        # A constant whose value was refused (nan, text) is declared all the same: its error is
        # already reported, and each use of it is not another "unknown name".
        for name in _refused_constants(self.errors):
            self.symbols.setdefault(name, make_symbol(name))
        if spec.shapes:  # a dimension's name is a number too: sum(s)/h, s/sqrt(d)
            self.symbols |= {name: dimension(name) for name in self.sizes}
        all_names = dict(self.symbols)
        for name, _ in spec.definitions:
            all_names[name] = make_symbol(name)
        self.values = {
            all_names[name]: entry_array(name, shape, self.sizes, make_symbol) for name, shape in spec.shapes
        }
        definitions = self.definitions(all_names)
        claims = self.claims(all_names)
        assumptions = self.assumptions()
        if self.errors:
            raise self.errors[0] if len(self.errors) == 1 else SpecErrors(self.errors)
        if spec.shapes:
            return self.written_out(definitions, claims, assumptions, all_names)
        model = Model(
            title=spec.title,
            inputs=_symbols(spec.inputs, all_names),
            targets=_symbols(spec.targets, all_names),
            parameters=_symbols(spec.parameters, all_names),
            definitions=tuple(definitions),
            loss=all_names[spec.loss],
            constants=tuple((all_names[n], v) for n, v in spec.constants),
            claims=tuple(claims),
            notes=tuple((all_names[n], text) for n, text in spec.notes),
            assumptions=tuple(assumptions),
            domains=tuple((all_names[n], d) for n, d in spec.domains),
            source=spec.source,
            spec=spec,
        )
        model.check()
        return model

    def definitions(self, all_names: dict[str, sp.Symbol]) -> list[tuple[sp.Symbol, sp.Expr]]:
        available = dict(self.symbols)
        order = [name for name, _ in self.spec.definitions]
        result: list[tuple[sp.Symbol, sp.Expr]] = []
        for name, text in self.spec.definitions:
            key = f"definitions.{name}"
            parsed = self.parse(key, text, all_names)
            symbol = all_names[name]
            if parsed is not None:
                expr, shape = parsed
                if shape:
                    self.shapes[name] = shape
                if name == self.spec.loss and shape:
                    self.fail(
                        key,
                        SpecError(
                            f"the loss {name!r} is {shown(shape)}; a loss is a scalar",
                            fix="sum(...) adds up the entries of a vector",
                        ),
                    )
                late = sorted(s.name for s in expr.free_symbols if s.name not in available)
                for used in late:
                    self.fail(key, _order_error(name, used, order))
                for problem in _loose_arguments(expr, {n for n, _ in self.spec.constants}):
                    self.fail(key, problem)
                if not late:
                    result.append((symbol, expr))
            available[name] = symbol
        return result

    def assumptions(self) -> list[tuple[str, sp.Expr]]:
        """`assume` entries "lhs = rhs" over independent names, kept as lhs − rhs (= 0)."""
        result: list[tuple[str, sp.Expr]] = []
        for index, text in enumerate(self.spec.assume):
            key = f"assume[{index}]"
            sides = _split_equation(text)
            if sides is None:
                self.fail(key, SpecError(f"{text!r} is not one equation", fix='e.g. "y1 + y2 + y3 = 1"'))
                continue
            parsed = [self.parse(key, side, self.symbols) for side in sides]
            if parsed[0] is None or parsed[1] is None:
                continue
            if parsed[0][1] and parsed[1][1] and parsed[0][1] != parsed[1][1]:
                shapes = f"{shown(parsed[0][1])} and {shown(parsed[1][1])}"
                self.fail(key, SpecError(f"{text.strip()!r} sets equal {shapes}: they need the same shape"))
                continue
            if not parsed[0][0].free_symbols and not parsed[1][0].free_symbols:
                self.fail(key, SpecError(f"{text!r} has no names in it"))
                continue
            self.shaped_assumptions.append((text.strip(), parsed[0][0] - parsed[1][0]))
            for entry, difference in self.entries_of(text.strip(), parsed[0][0], parsed[1][0]):
                reason = usable_assumption(difference) or self.outside_domain(entry, difference)
                if reason is None:
                    result.append((entry, difference))
                else:
                    self.fail(key, SpecError(f"{entry!r} {reason}"))
        return result

    def entries_of(self, text: str, lhs: sp.Expr, rhs: sp.Expr) -> list[tuple[str, sp.Expr]]:
        """An assumption "lhs = rhs" as scalar equations (lhs − rhs = 0): one per entry of a vector one."""
        if not self.values:
            return [(text, lhs - rhs)]
        left, right = concrete(lhs, self.numbers), concrete(rhs, self.numbers)
        count = max(getattr(side, "size", 1) for side in (left, right))
        pairs = list(zip(flat(left, count), flat(right, count), strict=True))
        if len(pairs) == 1:
            return [(text, sp.sympify(pairs[0][0] - pairs[0][1]))]
        return [(f"{_text(a)} = {_text(b)}", sp.sympify(a - b)) for a, b in pairs]

    def check_size(self) -> None:
        """The sizes to write the model out at: exactly the given ones, or each dimension cut to
        WRITTEN_OUT for reading; an error past MAX_NAMES entries (a literal x[5000] is not cut)."""

        def entries(sizes: Mapping[str, int]) -> int:
            return sum(math.prod(resolve(shape, sizes)) if shape else 1 for _, shape in self.spec.shapes)

        try:
            total = entries(self.sizes)
        except SymcalcError as err:
            self.fail("dimensions", err)
            return
        small = {name: min(size, WRITTEN_OUT) for name, size in self.sizes.items()}
        if not self.exact and small != self.sizes:
            self.declared_sizes, self.sizes = self.sizes, small
            total = entries(small)
        if total > MAX_NAMES:
            sizes = ", ".join(f"{k} = {v}" for k, v in self.sizes.items())
            # Sizes written as numbers (x[5000]) are never cut: only a dimension's name says where.
            fix = (
                "derive, verify, codegen and train take any sizes; what computes on the written-out model "
                "(Dask, Newton's method without a batch form of the Hessian) needs smaller ones"
                if self.sizes
                else "a size written as a number is never cut: name it in [dimensions], as x[n] with "
                "n = 5000, and derive, verify and codegen write the model out small"
            )
            self.fail(
                "dimensions",
                SpecError(
                    (f"written out at {sizes}, the" if sizes else "the")
                    + f" declared vectors and matrices have {total} entries; the limit is {MAX_NAMES}",
                    fix=fix,
                ),
            )

    def written_out(
        self,
        definitions: list[tuple[sp.Symbol, sp.Expr]],
        claims: list[Claim],
        assumptions: list[tuple[str, sp.Expr]],
        all_names: dict[str, sp.Symbol],
    ) -> Model:
        """The scalar model of a file with vectors and matrices, at this builder's sizes."""
        spec, values = self.spec, dict(self.values)
        scalars: list[tuple[sp.Symbol, sp.Expr]] = []
        numbers = self.numbers
        for symbol, expr in definitions:
            try:
                value = concrete(expr, numbers | values)
            except ShapeError as err:  # a slice past its vector's end at these sizes (s[h+1:2*h])
                at = ", ".join(f"{name} = {size}" for name, size in self.sizes.items())
                key = f"definitions.{symbol.name}"
                raise SpecError(f"{err}, written out at {at}").at(self.spec.location(key)) from None
            shape = self.shapes.get(symbol.name, ())
            if not shape:
                scalars.append((symbol, sp.sympify(value)))
                continue
            values[symbol] = entry_array(symbol.name, shape, self.sizes, make_symbol)
            entries = values[symbol].flat
            scalars += zip(entries, map(sp.sympify, flat(value, values[symbol].size)), strict=True)
        self.check_entries(values, all_names)

        def names(name: str) -> list[sp.Symbol]:
            return flat(values.get(all_names[name], all_names[name]), 1)

        used = {axis for _, shape in self.shapes.items() for axis in shape if isinstance(axis, str)}
        stated = [expr for _, expr in definitions] + [claim.expected for claim in claims]
        used |= {name for name in self.sizes if any(expr.has(dimension(name)) for expr in stated)}
        shaped = Shaped(
            shapes=tuple((all_names[name], shape) for name, shape in self.shapes.items()),
            definitions=tuple(definitions),
            sizes=tuple((k, v) for k, v in self.sizes.items() if k in used),
            declared=tuple((k, v) for k, v in self.declared_sizes.items() if k in used),
            entries=tuple((sym, tuple(array.flat)) for sym, array in values.items()),
            assumptions=tuple(self.shaped_assumptions),
            parameters=_symbols(spec.parameters, all_names),
            data=_symbols((*spec.inputs, *spec.targets), all_names),
        )
        model = Model(
            title=f"{spec.title} (at {shaped.describe()})",
            inputs=tuple(e for n in spec.inputs for e in names(n)),
            targets=tuple(e for n in spec.targets for e in names(n)),
            parameters=tuple(e for n in spec.parameters for e in names(n)),
            definitions=tuple(scalars),
            loss=all_names[spec.loss],
            constants=tuple((all_names[n], v) for n, v in spec.constants),
            claims=tuple(entry for claim in claims for entry in _claim_entries(claim, numbers | values)),
            notes=tuple((e, note) for n, note in spec.notes for e in names(n)),
            assumptions=tuple(assumptions),
            domains=tuple((e, d) for n, d in spec.domains for e in names(n)),
            source=spec.source,
            spec=spec,
            shaped=shaped,
        )
        model.check()
        return model

    def check_entries(self, values: Mapping[sp.Basic, Any], all_names: Mapping[str, sp.Symbol]) -> None:
        """SpecError when an entry's name (x1 of x[n]) is declared as a name of its own too, or is an
        entry's of another vector or matrix too (W11_2 of W[11,2] and of W1[h,n])."""
        owners: dict[str, sp.Basic] = {}
        for symbol, array in values.items():
            key = next(
                (k for k in ("inputs", "targets", "parameters") if symbol.name in getattr(self.spec, k)),
                f"definitions.{symbol.name}",
            )
            for entry in array.flat:
                other = owners.setdefault(entry.name, symbol)
                if other != symbol:
                    both = " and ".join(f"{s}{shown(self.shapes[str(s)])}" for s in (other, symbol))
                    raise SpecError(
                        f"the entries of {both} are both named {entry.name!r}",
                        self.spec.location(key),
                        fix="rename one of them",
                    )
                if entry.name in all_names:
                    raise SpecError(
                        f"the entries of {symbol.name}{shown(self.shapes[symbol.name])} are named "
                        f"{array.flat[0].name} … {array.flat[-1].name}, and {entry.name!r} is declared too",
                        self.spec.location(key),
                        fix="rename one of them",
                    )

    def outside_domain(self, text: str, equation: sp.Expr) -> str | None:
        """Why a polynomial assumption contradicts its name's stated domain; None if a root lies in it."""
        roots = polynomial_roots(equation)
        if roots is None:
            return None
        name = str(next(iter(equation.free_symbols)))
        stated = dict(self.spec.domains).get(name)
        if stated is None or any(root in stated for root in roots):
            return None
        return f"has no root in the domain {stated.text} of {name}"

    def claims(self, all_names: dict[str, sp.Symbol]) -> list[Claim]:
        result: list[Claim] = []
        definitions = {name for name, _ in self.spec.definitions}
        for lhs, rhs in self.spec.claims:
            try:
                result.append(parse_claim(lhs, rhs, all_names, definitions, self.shapes))
            except SymcalcError as err:
                self.errors.append(self.spec.locate(f"claims.{lhs}", err, rhs))
        return result


def _claim_entries(claim: Claim, values: Mapping[sp.Basic, Any]) -> list[Claim]:
    """A claim about vectors or matrices as one claim per entry: dL/dW1_2, or ∂a2/∂z1 of a Jacobian."""
    names = (claim.of, claim.wrt) if claim.second is None else (claim.of, claim.wrt, claim.second)
    if not any(name in values for name in names):
        # dL/dq of a scalar q may still be stated with vectors, (sum(s) - y)*sum(w): written out too
        if not any(name in values for name in claim.expected.free_symbols):
            return [claim]
        return [replace(claim, expected=sp.sympify(concrete(claim.expected, values)))]
    entries = [flat(values.get(name, name), 1) for name in names]
    tuples = list(itertools.product(*entries))
    expected = flat(concrete(claim.expected, values), len(tuples))
    fields = ("of", "wrt", "second")
    return [
        replace(
            claim, **dict(zip(fields, names_of, strict=False)), expected=sp.sympify(entry), text=_text(entry)
        )
        for names_of, entry in zip(tuples, expected, strict=True)
    ]


def _text(expr: Any) -> str:
    return text_of(sp.sympify(expr))


MAX_ASSUMPTION_DEGREE = 8
#: The size each dimension is cut to when a model is written out for reading (not for a run).
WRITTEN_OUT = 3


def polynomial_roots(equation: sp.Expr) -> tuple[Fraction, ...] | None:
    """The real roots of `equation` = 0 when it is a polynomial in one name of degree 2 or more.

    None when it is not (a linear equation is solved by `Model.assumption_solutions`).
    DomainError when it is one but its roots cannot be used: none real, or not rational.
    """
    names = equation.free_symbols
    if len(names) != 1:
        return None
    (name,) = names
    if not equation.is_polynomial(name):
        return None
    poly = sp.Poly(equation, name)
    if poly.degree() < 2:
        return None
    if poly.degree() > MAX_ASSUMPTION_DEGREE:
        raise DomainError(f"has degree {poly.degree()}; the limit is {MAX_ASSUMPTION_DEGREE}")
    if not all(c.is_Rational for c in poly.all_coeffs()):
        raise DomainError("has coefficients that are not exact rational numbers")
    roots = sorted(set(sp.real_roots(poly)), key=lambda r: float(r))
    if not roots:
        raise DomainError(f"has no real solution for {name}")
    if not all(root.is_Rational for root in roots):
        raise DomainError(f"has a root that is not a rational number ({roots[0]}...)")
    return tuple(Fraction(int(root.p), int(root.q)) for root in roots)


def usable_assumption(equation: sp.Expr) -> str | None:
    """Why symcalc cannot use an assumption (None when it can): it must be linear in one of its
    names (solved for it) or a polynomial in a single name (its real roots are that name's values)."""
    try:
        if polynomial_roots(equation) is not None:
            return None
    except DomainError as err:
        return str(err)
    if any(solve_linear(equation, name) is not None for name in equation.free_symbols):
        return None
    return "is neither linear in one of its names nor a polynomial in a single name, so it cannot be used"


def _scalars_only(definitions: Mapping[sp.Symbol, sp.Expr], names: Iterable[object]) -> None:
    """SpecError unless every name is a SymPy Symbol and every definition a scalar expression of them.

    A MatrixSymbol parameter (or one inside a definition) would otherwise be held as a
    constant and get the gradient 0.
    """
    for name in [*definitions, *names]:
        if not isinstance(name, sp.Symbol):
            raise SpecError(
                f"{name!s} is a {type(name).__name__}, not a SymPy Symbol",
                Location(key=str(name)),
                fix=_SCALARS_FIX,
            )
    for sym, expr in definitions.items():
        if isinstance(expr, int | float):
            continue
        if not isinstance(expr, sp.Expr) or isinstance(expr, sp.MatrixExpr):
            raise SpecError(
                f"the definition is a {type(expr).__name__}, not a scalar expression",
                Location(key=f"definitions.{sym.name}"),
                fix=_SCALARS_FIX,
            )
        others = [s for s in expr.free_symbols if not isinstance(s, sp.Symbol)]
        if others or expr.has(sp.MatrixExpr):
            shown = others[0] if others else next(iter(expr.atoms(sp.MatrixSymbol)), expr)
            raise SpecError(
                f"uses {shown!s}, a {type(shown).__name__}: only scalar Symbols are supported",
                Location(key=f"definitions.{sym.name}"),
                fix=_SCALARS_FIX,
            )


_SCALARS_FIX = "a name is a Symbol, or a MatrixSymbol for a vector or matrix"


def _from_matrices(
    definitions: Mapping[sp.Basic, sp.Expr],
    parameters: Sequence[sp.Basic],
    inputs: Sequence[sp.Basic] | None,
    targets: Sequence[sp.Basic],
    constants: Mapping[sp.Symbol, float] | None,
    loss: sp.Basic | None,
    title: str,
    notes: Mapping[sp.Basic, str] | None,
    sizes: Mapping[sp.Symbol | str, int] | None,
    named: Sequence[sp.Basic],
) -> Model:
    """`Model.build` for matrix symbols: the model written as a file's text, then read as a file."""
    given = {str(k): v for k, v in (sizes or {}).items()}
    dimensions = sorted(
        {str(a) for symbol in _matrix_symbols(definitions, named) for a in axes(symbol) if not a.is_Integer}
    )
    missing = [d for d in dimensions if d not in given]
    if missing:
        raise SpecError(
            f"dimension {missing[0]!r} has no size",
            Location(key="sizes"),
            fix=f"Model.build(..., sizes={{{missing[0]!r}: 3}})",
        )
    declared = {str(s) for s in (*parameters, *targets, *(constants or {}), *definitions)}
    if inputs is None:
        free = _matrix_symbols(definitions, ()) | {
            s for e in definitions.values() for s in sp.sympify(e).free_symbols if str(s) not in dimensions
        }
        inputs = sorted((s for s in free if str(s) not in declared), key=str)
    try:
        written = {str(symbol): as_text(sp.sympify(expr)) for symbol, expr in definitions.items()}
    except Unsupported as err:
        raise SpecError(str(err), Location(key="definitions"), fix=_SCALARS_FIX) from None
    last = list(definitions)[-1] if definitions else None
    lines = [
        f"title = {json.dumps(title)}",
        f"inputs = {json.dumps([declaration(s) for s in inputs])}",
        f"targets = {json.dumps([declaration(s) for s in targets])}",
        f"parameters = {json.dumps([declaration(s) for s in parameters])}",
        f"loss = {json.dumps(str(loss if loss is not None else last))}",
        "[dimensions]",
        *(f"{d} = {int(given[d])}" for d in dimensions),
        "[constants]",
        *(f"{s} = {float(v)!r}" for s, v in (constants or {}).items()),
        "[definitions]",
        *(f"{name} = {json.dumps(value)}" for name, value in written.items()),
        "[notes]",
        *(f"{s} = {json.dumps(note)}" for s, note in (notes or {}).items()),
    ]
    return Model.from_spec(*check("\n".join(lines) + "\n", "<model>", reserved=RESERVED))


def _matrix_symbols(definitions: Mapping[sp.Basic, sp.Expr], named: Sequence[sp.Basic]) -> set[sp.Basic]:
    found: set[sp.Basic] = {s for s in named if isinstance(s, sp.MatrixSymbol)}
    for symbol, expr in definitions.items():
        if isinstance(symbol, sp.MatrixSymbol):
            found.add(symbol)
        found |= sp.sympify(expr).atoms(sp.MatrixSymbol)
    return found


def _refused_constants(problems: Iterable[SymcalcError]) -> list[str]:
    """The names of [constants] entries with a reported problem: declared, though without a value."""
    names = []
    for problem in problems:
        key = problem.location.key if problem.location is not None else None
        name = key.removeprefix("constants.") if key and key.startswith("constants.") else None
        if name is not None and NAME_PATTERN.fullmatch(name):
            names.append(name)
    return names


def _split_equation(text: str) -> tuple[str, str] | None:
    parts = text.split("=")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[0], parts[1]


def _symbols(names: Iterable[str], table: Mapping[str, sp.Symbol]) -> tuple[sp.Symbol, ...]:
    return tuple(table[n] for n in names)
