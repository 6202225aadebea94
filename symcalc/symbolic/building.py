"""Building a model from a file's `Spec`: every expression parsed, every problem collected with its key,
and a model with vectors and matrices written out in scalars at the given sizes."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import sympy as sp

from symcalc.errors import Location, ShapeError, SpecError, SpecErrors, SymcalcError
from symcalc.spec.names import NAME_PATTERN, check_name
from symcalc.spec.shapes import batch_inputs
from symcalc.spec.toml import MAX_NAMES, Spec
from symcalc.symbolic.arrays import ARRAY_FUNCTIONS, Shape, dimension, shown
from symcalc.symbolic.assumptions import polynomial_roots, split_equation, usable_assumption
from symcalc.symbolic.claims import Claim, claim_entries, entry_text, parse_claim
from symcalc.symbolic.expand import Shaped, concrete, entry_array, flat, resolve
from symcalc.symbolic.functions import FUNCTIONS, calls
from symcalc.symbolic.parse import SHORTHANDS, parse_shaped

#: Names no declaration may take: every function an expression can call.
RESERVED = frozenset({*FUNCTIONS, *ARRAY_FUNCTIONS, *SHORTHANDS})


def make_symbol(name: str) -> sp.Symbol:
    """The plain real symbol for a declared name: `E`, `I`, `N`, `beta` stay themselves."""
    return sp.Symbol(check_name(name, RESERVED), real=True)


#: The size each dimension is cut to when a model is written out for reading (not for a run).
WRITTEN_OUT = 3


def order_error(defined: str, used: str, definitions: list[str]) -> SpecError:
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


class SpecBuilder:
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
        #: Each vector or matrix constant → the array of its numbers, at this builder's sizes.
        self.fixed: dict[sp.Basic, Any] = {}
        #: The definitions refused: a definition or claim that uses one is refused without a word of its own.
        self.failed: set[str] = set()

    @property
    def numbers(self) -> dict[sp.Basic, Any]:
        """Each declared vector or matrix → its entries, and each dimension → its size, written out."""
        sizes = {dimension(name): sp.Integer(size) for name, size in self.sizes.items()}
        return {**self.values, **self.fixed, **sizes}

    def fail(self, key: str, err: SymcalcError) -> None:
        self.errors.append(err.at(self.spec.location(key)))

    def parse(self, key: str, text: str, names: Mapping[str, sp.Symbol]) -> tuple[sp.Expr, Shape] | None:
        try:
            return parse_shaped(text, names, self.shapes)
        except SymcalcError as err:
            self.report(key, err, text)
            return None

    def readable(self, names: Mapping[str, sp.Symbol], keep: str = "") -> dict[str, sp.Symbol]:
        """The names a definition or claim may use: all but the definitions refused (`failed`; but
        `keep`), so that one that uses them fails naming them, and `report` leaves that unsaid."""
        return {name: symbol for name, symbol in names.items() if name not in self.failed or name == keep}

    def report(self, key: str, err: SymcalcError, text: str) -> None:
        """`err` among the problems, unless it names a refused definition ('h0', whose problem is said)."""
        if not any(f"'{name}'" in str(err) for name in self.failed):
            self.errors.append(self.spec.locate(key, err, text))

    def build(self) -> dict[str, Any]:
        """The fields of the model (`Model(**fields)`, which then checks itself); SpecErrors for every
        problem found on the way."""
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
            *(n for n, _, _ in spec.arrays),
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
        arrays = {name for name, _, _ in spec.arrays}
        self.values = {
            all_names[name]: entry_array(name, shape, self.sizes, make_symbol)
            for name, shape in spec.shapes
            if name not in arrays
        }
        self.fixed = {
            all_names[name]: self.numbers_of(name, dict(spec.shapes)[name], own, entries)
            for name, own, entries in spec.arrays
        }
        definitions = self.definitions(all_names)
        claims = self.claims(all_names)
        assumptions = self.assumptions()
        if self.errors:
            raise self.errors[0] if len(self.errors) == 1 else SpecErrors(self.errors)
        if spec.shapes:
            return self.written_out(definitions, claims, assumptions, all_names)
        return dict(
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

    def definitions(self, all_names: dict[str, sp.Symbol]) -> list[tuple[sp.Symbol, sp.Expr]]:
        available = dict(self.symbols)
        order = [name for name, _ in self.spec.definitions]
        result: list[tuple[sp.Symbol, sp.Expr]] = []
        failed = self.failed
        for name, text in self.spec.definitions:
            key = f"definitions.{name}"
            symbol = all_names[name]
            parsed = self.parse(key, text, self.readable(all_names))
            if parsed is None:
                failed.add(name)
            else:
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
                if shape and expr == 0:
                    kind = "vector" if len(shape) == 1 else "matrix"
                    self.fail(
                        key,
                        SpecError(
                            f"{name} is the zero {kind} whatever the values ({text.strip()}), which symcalc "
                            "keeps as the number 0 and cannot multiply as a vector",
                            fix=f"drop the terms {name} is in (W @ {name} is 0); a recurrence's zero "
                            f'initial state is "h[0]" = "0"',
                        ),
                    )
                    failed.add(name)
                late = sorted(s.name for s in expr.free_symbols if s.name not in available)
                for used in late:
                    self.fail(key, order_error(name, used, order))
                for problem in _loose_arguments(expr, {n for n, _ in self.spec.constants}):
                    self.fail(key, problem)
                if not late and name not in failed:
                    result.append((symbol, expr))
            available[name] = symbol
        return result

    def assumptions(self) -> list[tuple[str, sp.Expr]]:
        """`assume` entries "lhs = rhs" over independent names, kept as lhs − rhs (= 0)."""
        result: list[tuple[str, sp.Expr]] = []
        for index, text in enumerate(self.spec.assume):
            key = f"assume[{index}]"
            sides = split_equation(text)
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
        return [(f"{entry_text(a)} = {entry_text(b)}", sp.sympify(a - b)) for a, b in pairs]

    def numbers_of(self, name: str, shape: Shape, own: tuple[int, ...], entries: tuple[float, ...]) -> Any:
        """A vector or matrix constant's numbers at this builder's sizes: all of them, or the leading
        ones where a dimension is cut for reading; an error where a run's sizes differ from its own."""
        import numpy as np

        sizes = resolve(shape, self.sizes)
        numbers = [sp.Integer(int(v)) if v.is_integer() else sp.Float(v) for v in entries]
        array = np.array(numbers, dtype=object).reshape(own)
        pairs = list(zip(sizes, own, strict=True))
        if any(size > length or (self.exact and size != length) for size, length in pairs):
            at = ", ".join(f"{axis} = {self.sizes[axis]}" for axis in shape if isinstance(axis, str))
            self.fail(
                f"constants.{name}",
                SpecError(f"has {' × '.join(map(str, own))} entries, but the run has {at}"),
            )
            return array
        return array[tuple(slice(0, size) for size in sizes)]

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
                "(a model with no batch form, Newton's method without a batch form of the Hessian, "
                "NumericModel) needs smaller ones"
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
    ) -> dict[str, Any]:
        """The fields of the scalar model of a file with vectors and matrices, at this builder's sizes."""
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
            fixed=tuple((symbol, tuple(array.flat)) for symbol, array in self.fixed.items()),
            batch=_symbols(batch_inputs(spec.inputs, spec.targets, spec.shapes), all_names),
        )
        return dict(
            title=f"{spec.title} (at {shaped.describe()})",
            inputs=tuple(e for n in spec.inputs for e in names(n)),
            targets=tuple(e for n in spec.targets for e in names(n)),
            parameters=tuple(e for n in spec.parameters for e in names(n)),
            definitions=tuple(scalars),
            loss=all_names[spec.loss],
            constants=tuple((all_names[n], v) for n, v in spec.constants),
            claims=tuple(entry for claim in claims for entry in claim_entries(claim, numbers | values)),
            notes=tuple((e, note) for n, note in spec.notes for e in names(n)),
            assumptions=tuple(assumptions),
            domains=tuple((e, d) for n, d in spec.domains for e in names(n)),
            source=spec.source,
            spec=spec,
            shaped=shaped,
        )

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
                # the loss stays readable: every claim names it (dL/dv), and it is a scalar however written
                readable = self.readable(all_names, keep=self.spec.loss)
                result.append(parse_claim(lhs, rhs, readable, definitions, self.shapes))
            except SymcalcError as err:
                self.report(f"claims.{lhs}", err, rhs)
        return result


def _refused_constants(problems: Iterable[SymcalcError]) -> list[str]:
    """The names of [constants] entries with a reported problem: declared, though without a value."""
    names = []
    for problem in problems:
        key = problem.location.key if problem.location is not None else None
        name = key.removeprefix("constants.") if key and key.startswith("constants.") else None
        if name is not None and NAME_PATTERN.fullmatch(name):
            names.append(name)
    return names


def _symbols(names: Iterable[str], table: Mapping[str, sp.Symbol]) -> tuple[sp.Symbol, ...]:
    return tuple(table[n] for n in names)
