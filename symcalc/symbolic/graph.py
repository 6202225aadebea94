"""`Model`: a derivation as a graph of SymPy definitions, built from a file's `Spec` or from code.

Definitions are kept in order; each may use the independent names (inputs,
targets, parameters, constants) and earlier definitions. The graph's edges are
the names each definition uses, in declaration order, so every traversal is
deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from pathlib import Path

import sympy as sp

from symcalc.errors import Location, SpecError, SpecErrors, SymcalcError
from symcalc.spec.domains import Domain, DomainError
from symcalc.spec.names import NAME_PATTERN, check_name
from symcalc.spec.shapes import components
from symcalc.spec.toml import Spec, check, read
from symcalc.symbolic.forms import solve_linear
from symcalc.symbolic.functions import FUNCTIONS, calls
from symcalc.symbolic.parse import parse_expression

_NAME = r"([A-Za-z][A-Za-z0-9_]*)"
#: A total derivative through the graph, "dL/dz".
CLAIM_PATTERN = re.compile(rf"\s*d\s*{_NAME}\s*/\s*d\s*{_NAME}\s*")
#: A local partial derivative of one definition, "∂a/∂z" or in ASCII "partial a/partial z".
PARTIAL_CLAIM_PATTERN = re.compile(rf"\s*(?:∂|partial\s)\s*{_NAME}\s*/\s*(?:∂|partial\s)\s*{_NAME}\s*")
CLAIM_FORMS = "'dA/dB' (total) or '∂A/∂B' / 'partial A/partial B' (local)"


def make_symbol(name: str) -> sp.Symbol:
    """The plain real symbol for a declared name: `E`, `I`, `N`, `beta` stay themselves."""
    return sp.Symbol(check_name(name, FUNCTIONS), real=True)


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

    @property
    def name(self) -> str:
        mark = "∂" if self.local else "d"
        return f"{mark}{self.of.name}/{mark}{self.wrt.name}"


def parse_claim(
    lhs: object, rhs: str, symbols: Mapping[str, sp.Symbol], definitions: Collection[str]
) -> Claim:
    """The claim "lhs = rhs" over the declared `symbols`; SymcalcError (without a location) if it is not one.

    "dA/dB" is total; "∂A/∂B" and "partial A/partial B" are local, and A must then be a
    definition, whose expression is the one differentiated. The right-hand side goes
    through the same safe parser as every definition.
    """
    text = lhs if isinstance(lhs, str) else ""
    total, partial = CLAIM_PATTERN.fullmatch(text), PARTIAL_CLAIM_PATTERN.fullmatch(text)
    match = total or partial
    if match is None:
        raise SpecError(f"claim {lhs!r} is not of the form {CLAIM_FORMS}", fix='e.g. "dL/dw1"')
    unknown = [name for name in match.groups() if name not in symbols]
    if unknown:
        raise SpecError(f"claim is about undeclared name {unknown[0]!r}")
    of, wrt = (symbols[name] for name in match.groups())
    if partial is not None and of.name not in definitions:
        raise SpecError(
            f"{of.name!r} is not a definition, so it has no local partial derivative",
            fix=f'write the total derivative "d{of.name}/d{wrt.name}"',
        )
    return Claim(of, wrt, parse_expression(rhs, symbols), rhs, local=partial is not None)


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

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_spec(cls, spec: Spec, problems: Sequence[SymcalcError] = ()) -> Model:
        """Parse every expression of a `Spec`; raise its `problems` and any new ones together."""
        return _SpecBuilder(spec, problems).build()

    @classmethod
    def load(cls, target: str | Path | None = None) -> Model:
        """A model from a file or a built-in model's name (the seed when None), every problem reported."""
        return cls.from_spec(*check(*read(target), reserved=FUNCTIONS))

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
    ) -> Model:
        """A model from SymPy symbols and expressions, checked like a file.

        `definitions` maps each intermediate symbol to its expression, in order.
        Free symbols that are not parameters, targets, constants or definitions
        are the inputs unless `inputs` lists them.
        """
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

        Parsed exactly as a file's [claims] entry; a bad one raises SymcalcError located at `lhs`.
        """
        try:
            return parse_claim(lhs, rhs, self.symbols, self.definition_names)
        except SymcalcError as err:
            raise err.at(Location(source=self.source, key=str(lhs))) from None


# Capital Greek letters SymPy prints (upright in LaTeX, as Greek in unicode) that look like Latin ones,
# and omicron, which SymPy prints as o.
_LOOKALIKES = str.maketrans("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧο", "ABEZHIKMNOPTYXo")
_UPRIGHT = re.compile(r"\\mathrm\{([A-Za-z])\}")


def printed_forms(sym: sp.Symbol) -> tuple[str, str]:
    """How a name looks on paper and in the terminal, as a reader sees it: LaTeX and unicode, normalised.

    ``\\mathrm{A}`` (SymPy's capital Alpha) is read as A, and Greek capitals as the Latin letters
    they look like, so `Alpha` and `A` count as printing alike.
    """
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


def _not_derived_yet(spec: Spec) -> SpecError:
    """The error for a file that declares a vector or matrix: where, and its entries as scalar names."""
    name, axes = spec.shapes[0]
    sizes = dict(spec.dimensions)
    key = next(k for k in ("inputs", "targets", "parameters") if name in getattr(spec, k))
    kind = "a vector" if len(axes) == 1 else "a matrix"
    written = f"{name}[{','.join(str(a) for a in axes)}]"
    known = tuple(a if isinstance(a, int) else sizes.get(a) for a in axes)
    fix = "declare its entries as scalar names"
    if all(isinstance(size, int) for size in known):
        entries = components(name, tuple(int(s) for s in known if s is not None))
        shown = entries if len(entries) <= 4 else [*entries[:2], "…", entries[-1]]
        fix += f": {', '.join(shown)}"
    return SpecError(
        f"{written} is {kind}: the format declares it, but this version of symcalc derives scalar names only",
        spec.location(key),
        fix=fix,
    )


class _SpecBuilder:
    """Turns a Spec's text into SymPy, collecting every problem with its key."""

    def __init__(self, spec: Spec, problems: Sequence[SymcalcError]):
        self.spec = spec
        self.errors: list[SymcalcError] = list(problems)
        self.symbols: dict[str, sp.Symbol] = {}

    def fail(self, key: str, err: SymcalcError) -> None:
        self.errors.append(err.at(self.spec.location(key)))

    def parse(self, key: str, text: str, names: Mapping[str, sp.Symbol]) -> sp.Expr | None:
        try:
            return parse_expression(text, names)
        except SymcalcError as err:
            self.fail(key, err)
            return None

    def build(self) -> Model:
        spec = self.spec
        # Vectors and matrices are read and checked by the spec, not derived yet: one line saying
        # how to write the model today.
        if spec.shapes:
            self.errors.append(_not_derived_yet(spec))
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
        all_names = dict(self.symbols)
        for name, _ in spec.definitions:
            all_names[name] = make_symbol(name)
        definitions = self.definitions(all_names)
        claims = self.claims(all_names)
        assumptions = self.assumptions()
        if self.errors:
            raise self.errors[0] if len(self.errors) == 1 else SpecErrors(self.errors)
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
            expr = self.parse(key, text, all_names)
            symbol = all_names[name]
            if expr is not None:
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
            if parsed[0] is not None and parsed[1] is not None:
                difference = parsed[0] - parsed[1]
                if difference.is_number:
                    self.fail(key, SpecError(f"{text!r} has no names in it"))
                    continue
                reason = usable_assumption(difference) or self.outside_domain(text.strip(), difference)
                if reason is None:
                    result.append((text.strip(), difference))
                else:
                    self.fail(key, SpecError(f"{text.strip()!r} {reason}"))
        return result

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
                result.append(parse_claim(lhs, rhs, all_names, definitions))
            except SymcalcError as err:
                self.fail(f"claims.{lhs}", err)
        return result


MAX_ASSUMPTION_DEGREE = 8


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


_SCALARS_FIX = "vectors and matrices are not supported yet: use one Symbol per entry (w1, w2, …)"


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
