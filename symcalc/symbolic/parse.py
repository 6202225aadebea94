"""Expression text → SymPy, without eval: Python's `ast` with a whitelist, and caps on size.

The grammar is numbers, declared names, ``+ - * / **`` (``^`` means power), ``@``,
parentheses and calls of the functions in `symcalc.symbolic.functions.FUNCTIONS` and
`symcalc.symbolic.arrays.ARRAY_FUNCTIONS`. Each part's shape is worked out as it is
read (a scalar, or a vector or matrix when the model declares one): arithmetic and the
functions of the table are elementwise, a scalar broadcasting, and a mismatch is an
error naming the operation and both shapes.
Nothing else is accepted, and nothing the text says is ever executed: the
parse tree is walked and SymPy objects are built directly from it.

Caps are checked before SymPy sees anything, so a ten-character string cannot
make SymPy compute a number with a billion digits: every constant sub-expression
is first evaluated in Python floats, and anything non-finite or larger than
`MAX_MAGNITUDE` is refused.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from symcalc.errors import Location, ParseError, ShapeError
from symcalc.spec.names import suggestion
from symcalc.spec.shapes import MAX_SIZE
from symcalc.symbolic.arrays import (
    ARRAY_FUNCTIONS,
    EXTREMES,
    MATMUL,
    ArrayFunction,
    Shape,
    axis_size,
    dimension,
    eye,
    ones,
    shown,
)
from symcalc.symbolic.caps import (
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_MAGNITUDE,
    chain_kind,
    check_size,
    combine,
    int_to_float,
    real_pow,
)
from symcalc.symbolic.functions import FUNCTIONS, fold
from symcalc.symbolic.refused import FORBIDDEN, OPERATOR_NAMES, SYMBOLS
from symcalc.symbolic.slices import axis_of, entry_of, span
from symcalc.symbolic.spellings import ascii_fix, spelling, syntax_error


@dataclass(frozen=True)
class _Term:
    """A converted node: the SymPy expression, its shape and, for a constant, its float value."""

    expr: sp.Expr
    value: float | None = None
    shape: Shape = ()
    #: It holds an I whose size the operations around it decide (lamda*I + outer(x, x)).
    unsized: bool = False


def parse_expression(text: object, names: Mapping[str, sp.Symbol]) -> sp.Expr:
    """Parse `text` using only `names`, all scalars; ParseError (with a column where known) otherwise."""
    expr, shape = parse_shaped(text, names, {})
    if shape:
        raise ParseError(f"expression has the shape {shown(shape)}; a scalar is needed here")
    return expr


def parse_shaped(
    text: object,
    names: Mapping[str, sp.Symbol],
    shapes: Mapping[str, Shape],
    written: bool = False,
    square: Shape = (),
) -> tuple[sp.Expr, Shape]:
    """The expression `text` over `names` of the given `shapes` (others are scalars), and its shape.

    With `written`, the expression as written, for display: its terms and factors unevaluated, in
    the text's order (printed with order="none"), w1*x1 + w2*x2 + b rather than b + w1*x1 + w2*x2.
    An undeclared `I` is the identity matrix of the size the elementwise operations around it
    give, or else of the shape `square` (a claim's, d2L/dw^2 = lamda*I).
    """
    if not isinstance(text, str):
        raise ParseError(f"an expression must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise ParseError("expression is empty")
    for column, char in enumerate(text, start=1):
        if not char.isascii() or (not char.isprintable() and char not in " \t\n\r"):
            raise ParseError(
                f"character {char!r} is not allowed",
                Location(column=column),
                fix=ascii_fix(text, char),
            )
    # A newline is whitespace (a TOML multi-line string wraps a long sum); one character for one,
    # so columns stay right.
    source = text.replace("^", "**").replace("\n", " ").replace("\r", " ")
    columns = _Columns(text, source)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as err:
        # Python's offset is 1-based; 0 means the text ended too soon: point past its last character.
        column = columns(err.offset - 1 if err.offset else len(source.strip()))
        raise syntax_error(err, source, column) from None
    except (RecursionError, MemoryError, ValueError, OverflowError):
        # Python's own parser recurses on long chains (about 2 500 terms of x+x+...) as on nesting.
        raise ParseError(
            f"expression is nested more than {MAX_DEPTH} levels deep, or is too long a chain"
            " for Python's parser",
            fix="split it into several definitions",
        ) from None
    check_size(tree.body, columns)
    term = _Converter(names, shapes, source.strip(), columns, written).convert(tree.body)
    if term.unsized:
        term = _sized(term, square)
    if term.expr.has(sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity):
        raise ParseError("expression is undefined (a division by zero or an infinity)")
    return term.expr, term.shape


#: A lecture's names for forms the table writes otherwise (`_Converter.shorthand`).
SHORTHANDS = ("dot", "norm", "trace", "mean")

#: An I not yet given its size, while the expression around it is read.
_UNSIZED_I = sp.Dummy("I")


def _sized(term: _Term, square: Shape) -> _Term:
    """`term` with its I the identity of its own shape (or of `square`), which must be a square matrix."""
    shape = term.shape or square
    if len(shape) != 2 or shape[0] != shape[1]:
        where = f"here it is {shown(term.shape)}" if term.shape else "nothing here gives its size"
        fix = "write eye(n) for the n × n identity"
        raise ParseError(f"I is the identity, a square matrix; {where}", fix=fix)
    return _Term(term.expr.xreplace({_UNSIZED_I: eye(axis_size(shape[0]))}), None, shape)


class _Columns:
    """Columns of the expression as written, from offsets into the text Python parsed: that has
    each ^ as ** and no leading blanks."""

    def __init__(self, text: str, source: str):
        self.origin = [index for index, char in enumerate(text) for _ in range(2 if char == "^" else 1)]
        self.origin.append(len(text))
        self.lead = len(source) - len(source.lstrip())

    def __call__(self, offset: int) -> int:
        """The 1-based column of the 0-based `offset` into the parsed text (its end past the last)."""
        return self.origin[min(offset + self.lead, len(self.origin) - 1)] + 1


def _written_product(factors: list[sp.Expr]) -> sp.Expr:
    """A product as written, its numbers gathered in front: -y/a as -1⋅y⋅a⁻¹ (printed -y/a), and
    lamda/2*w as (1/2)⋅λ⋅w; the other factors unevaluated, in the text's order. An evaluated
    product would multiply 2*(x - y) out, and (-y)⋅a⁻¹ prints as (-1)⋅y/a."""
    coefficient: sp.Expr = sp.S.One
    others: list[sp.Expr] = []
    for factor in (f for term in factors for f in sp.Mul.make_args(term)):
        is_number = isinstance(factor, sp.Rational) or (
            isinstance(factor, sp.Pow) and isinstance(factor.base, sp.Rational) and factor.exp.is_Integer
        )
        if is_number:
            coefficient *= factor.doit() if isinstance(factor, sp.Pow) else factor
        else:
            others.append(factor)
    if coefficient == 1 and len(others) == 1:
        return others[0]
    parts = others if coefficient == 1 else [coefficient, *others]
    return sp.Mul(*parts, evaluate=False) if parts else coefficient


class _Converter:
    """Walks a checked parse tree and builds SymPy objects from whitelisted nodes only."""

    def __init__(
        self,
        names: Mapping[str, sp.Symbol],
        shapes: Mapping[str, Shape],
        parsed: str,
        columns: _Columns,
        written: bool = False,
    ):
        self.written = written
        self.names = names
        self.shapes = shapes
        self.parsed = parsed  # the text Python parsed, which node offsets count in
        self.columns = columns

    def fail(
        self, node: ast.AST, problem: str, fix: str | None = None, column: int | None = None
    ) -> ParseError:
        """A problem at `node`: at its operator for a binary operation, else where it starts."""
        if column is None and isinstance(node, ast.BinOp):
            column = self.operator_column(node.left, node.right)
        if column is None:
            column = self.columns(getattr(node, "col_offset", 0))
        return ParseError(problem, Location(column=column), fix)

    def negative(self, expr: sp.Expr) -> sp.Expr:
        """-expr; as written, a minus sign before a sum stays in front of it (-(y + b), not -y - b)."""
        if self.written and isinstance(expr, sp.Add):
            return sp.Mul(sp.S.NegativeOne, expr, evaluate=False)
        return -expr

    def operator_column(self, left: ast.expr, right: ast.expr) -> int:
        """The column of the operator between two operands: the first character after `left` (and
        its closing parentheses) that is not blank."""
        index = left.end_col_offset or left.col_offset
        while index < right.col_offset and self.parsed[index] in " )":
            index += 1
        return self.columns(index)

    def convert(self, node: ast.expr) -> _Term:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.held_to_the_cap(node, self.binary(node))
        if isinstance(node, ast.Call):
            return self.held_to_the_cap(node, self.call(node))
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Attribute) and node.attr == "T" and self.transposable(node.value):
            return self.array_call(node, ARRAY_FUNCTIONS["transpose"], "'.T'", [node.value])
        problem = FORBIDDEN.get(type(node), f"{type(node).__name__} is not allowed")
        raise self.fail(node, problem)

    def held_to_the_cap(self, node: ast.expr, term: _Term) -> _Term:
        """`term`, unless SymPy folded powers into an exponent beyond `MAX_EXPONENT`: (x^1000)^1000 is
        x^1000000, x^1000*x^1000 is x^2000, exp(1000*log(x^1000)) is (x^1000)^1000. Each node is checked
        as it is built (itself, and each factor of a product), so no folded power escapes the cap."""
        expr = term.expr
        for part in (expr, *(expr.args if isinstance(expr, sp.Mul) else ())):
            if isinstance(part, sp.Pow) and part.exp.is_Number and abs(part.exp) > MAX_EXPONENT:
                raise self.fail(
                    node,
                    f"the powers here fold into the exponent {part.exp}, which is too large "
                    f"(limit {MAX_EXPONENT})",
                )
        return term

    def constant(self, node: ast.Constant) -> _Term:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(node, f"{type(value).__name__} literal {value!r} is not allowed")
        number = float(value) if isinstance(value, float) else int_to_float(value)
        if number is None or not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
            raise self.fail(node, f"number is too large (limit {MAX_MAGNITUDE:g})")
        if isinstance(value, int):
            return _Term(sp.Integer(value), number)
        return _Term(sp.Rational(repr(value)), number)

    def name(self, node: ast.Name) -> _Term:
        ident = node.id
        if ident in self.names:
            return _Term(self.names[ident], shape=self.shapes.get(ident, ()))
        if ident == "pi":
            return _Term(sp.pi, math.pi)
        if ident == "I":
            return _Term(_UNSIZED_I, unsized=True)
        if ident in FUNCTIONS or ident in ARRAY_FUNCTIONS:
            raise self.fail(node, f"'{ident}' is a function", fix=f"call it as {ident}(...)")
        if ident.startswith("__"):
            raise self.fail(node, f"name {ident!r} is not allowed")
        declare = "declare it as an input, target, parameter, constant or definition"
        if ident == "e":
            declare = "Euler's number is exp(1), and e^z is written exp(z); or " + declare
        raise self.fail(node, f"unknown name {ident!r}", fix=suggestion(ident, self.names, declare))

    def subscript(self, node: ast.Subscript) -> _Term:
        """s[i] or s[a:b]: an entry, or the entries a … b, of a vector (1-based, inclusive; `slices`)."""
        vector, index = self.convert(node.value), node.slice
        if len(vector.shape) != 1 or isinstance(index, ast.Tuple):
            kind = "not a matrix's rows or entries" if isinstance(index, ast.Tuple) else "a vector only"
            raise self.fail(
                node, f"subscripts ('[...]') index {kind}: s[1] is an entry of s, s[1:h] its first h"
            )
        self.kept(node.value, vector, "'[...]'")
        if isinstance(index, ast.Slice):
            lower, upper, stride = (getattr(index, field) for field in index._fields)  # a[lower:upper:stride]
            if lower is None or upper is None or stride is not None:
                raise self.fail(node, "a slice names both ends: s[a:b] holds entries a … b, both included")
        start, end = (
            (self.bound(lower), self.bound(upper))
            if isinstance(index, ast.Slice)
            else (self.bound(index),) * 2
        )
        (size,) = vector.shape
        if isinstance(size, int) and end.is_Integer and end > size:
            raise self.fail(node, f"the index {end} is past the vector's {size} entries")
        if not isinstance(index, ast.Slice):
            return _Term(entry_of(vector.expr, start), None, ())
        try:
            return _Term(span(vector.expr, start, end), None, (axis_of(end - start + 1),))
        except ShapeError as err:
            raise self.fail(node, str(err)) from None

    def bound(self, node: ast.expr) -> sp.Expr:
        """An index: a whole number from 1, or an expression in dimensions' names (h + 1)."""
        expr = self.convert(node).expr
        sizes = {s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s == dimension(s.name)}
        if expr.free_symbols - sizes or not expr.is_integer or (expr.is_Integer and expr < 1):
            raise self.fail(node, "an index is a whole number from 1, or an expression in dimensions' names")
        return expr

    def transposable(self, node: ast.expr) -> bool:
        """Whether `.T` may follow `node`: a name, or an expression in parentheses (W.T, (A @ B).T)."""
        if isinstance(node, ast.Name):
            return True
        end = node.end_col_offset or 0
        while end < len(self.parsed) and self.parsed[end] == " ":
            end += 1
        return end < len(self.parsed) and self.parsed[end] == ")"

    def unary(self, node: ast.UnaryOp) -> _Term:
        if not isinstance(node.op, ast.USub | ast.UAdd):
            op = OPERATOR_NAMES.get(type(node.op), type(node.op).__name__)
            raise self.fail(node, f"operator '{op}' is not allowed")
        inner = self.convert(node.operand)
        if isinstance(node.op, ast.UAdd):
            return inner
        value = None if inner.value is None else -inner.value
        return _Term(self.negative(inner.expr), value, inner.shape, inner.unsized)

    def binary(self, node: ast.BinOp) -> _Term:
        kind = chain_kind(node.op)
        if kind is not None:
            return self.chain(node, kind)
        if isinstance(node.op, ast.Pow):
            return self.power(node)
        if isinstance(node.op, ast.MatMult):
            return self.array_call(node, MATMUL, "@", [node.left, node.right])
        op = OPERATOR_NAMES.get(type(node.op), type(node.op).__name__)
        fix = "use ** or ^ for powers" if op in {"//", "%"} else None
        raise self.fail(node, f"operator '{op}' is not allowed", fix=fix)

    def chain(self, node: ast.BinOp, kind: str) -> _Term:
        """A run of + and − (or * and /) as one flat SymPy Add (or Mul), walked without recursion."""
        operands: list[tuple[ast.operator | None, ast.expr]] = []
        current: ast.expr = node
        while isinstance(current, ast.BinOp) and chain_kind(current.op) == kind:
            operands.append((current.op, current.right))
            current = current.left
        operands.append((None, current))
        operands.reverse()
        terms: list[sp.Expr] = []
        value: float | None = 0.0 if kind == "sum" else 1.0
        shape: Shape = ()
        previous: ast.expr | None = None
        unsized = False
        for op, operand in operands:
            term = self.convert(operand)
            unsized = unsized or term.unsized
            at = None if previous is None else self.operator_column(previous, operand)
            shape = self.broadcast(operand, shape, term.shape, SYMBOLS.get(type(op), "+"), at)
            previous = operand
            inverse = isinstance(op, ast.Sub | ast.Div)
            if kind == "sum":
                terms.append(self.negative(term.expr) if inverse else term.expr)
                value = combine(value, term.value, operator.sub if inverse else operator.add)
            else:
                if inverse and term.expr.is_zero:
                    raise self.fail(operand, "division by zero")
                terms.append(sp.Pow(term.expr, -1, evaluate=not self.written) if inverse else term.expr)
                value = combine(value, term.value, operator.truediv if inverse else operator.mul)
            self.check_magnitude(operand, value)
        if kind == "sum":
            expr = sp.Add(*terms, evaluate=not self.written)
        else:
            expr = _written_product(terms) if self.written else sp.Mul(*terms)
        return _Term(expr, value, shape, unsized)

    def broadcast(
        self, node: ast.AST, left: Shape, right: Shape, op: str, column: int | None = None
    ) -> Shape:
        """The shape of an elementwise operation: equal shapes, or a scalar with anything; a mismatch
        is reported at the operator's `column` (or `node`'s)."""
        if not left or not right or left == right:
            return left or right
        fix = "use @ for the matrix product" if op == "*" else None
        raise self.fail(
            node,
            f"'{op}' between {shown(left)} and {shown(right)}: elementwise operations need equal "
            "shapes (a scalar goes with any)",
            fix,
            column,
        )

    def power(self, node: ast.BinOp) -> _Term:
        base = self.convert(node.left)
        exponent = self.convert(node.right)
        value: float | None = None
        if base.value is not None and exponent.value is not None:
            value = combine(base.value, exponent.value, real_pow)
            if value is None:
                raise self.fail(node, "constant power is too large or not real")
            self.check_magnitude(node, value)
        elif exponent.value is not None and abs(exponent.value) > MAX_EXPONENT:
            raise self.fail(node, f"exponent {exponent.value:g} is too large (limit {MAX_EXPONENT})")
        if base.expr.is_zero and exponent.value is not None and exponent.value < 0:
            raise self.fail(node, "division by zero (0 to a negative power)")
        shape = self.broadcast(node, base.shape, exponent.shape, "^")
        power = sp.Pow(base.expr, exponent.expr, evaluate=not self.written)
        return _Term(power, value, shape, base.unsized or exponent.unsized)

    def call(self, node: ast.Call) -> _Term:
        if not isinstance(node.func, ast.Name):
            raise self.fail(
                node, "only functions from the table can be called, by name", self.unqualified(node)
            )
        fname = node.func.id
        if node.keywords:
            raise self.fail(node, f"{fname}() takes no keyword arguments")
        if fname in ("eye", "ones"):
            return self.sized(node, fname)
        if fname in SHORTHANDS:
            return self.shorthand(node, fname)
        if fname in ARRAY_FUNCTIONS:
            return self.array_call(node, ARRAY_FUNCTIONS[fname], f"{fname}()", node.args)
        if fname in EXTREMES and len(node.args) == 1:  # max(v): over a vector's entries
            return self.array_call(node, EXTREMES[fname], f"{fname}()", node.args)
        spec = FUNCTIONS.get(fname)
        if spec is None:
            if fname in self.names:
                product = f"{fname}*({self.segment(node.args[0])})" if len(node.args) == 1 else None
                fix = f"write a product with '*': {product}" if product else None
                raise self.fail(node, f"'{fname}' is a name, not a function", fix)
            if (spelling := self.spelling(fname, node.args)) is not None:
                raise self.fail(node, f"unknown function {fname!r}", fix=f"write {spelling}")
            every = [*FUNCTIONS, *ARRAY_FUNCTIONS, *SHORTHANDS]
            known = f"known: {', '.join(sorted(every))}"
            raise self.fail(node, f"unknown function {fname!r}", fix=suggestion(fname, every, known))
        count = len(node.args)
        if not spec.min_args <= count <= spec.max_args:
            wanted = (
                str(spec.min_args)
                if spec.min_args == spec.max_args
                else f"{spec.min_args} to {spec.max_args}"
            )
            raise self.fail(node, f"{fname}() takes {wanted} argument(s), got {count}")
        args = [self.convert(arg) for arg in node.args]
        shape: Shape = ()
        for arg, term in zip(node.args, args, strict=True):
            shape = self.broadcast(arg, shape, term.shape, f"{fname}()")
        value = None
        if all(arg.value is not None for arg in args):
            value = fold(fname, [arg.value for arg in args if arg.value is not None])
            if value is None:
                raise self.fail(node, f"{fname}() of this constant is undefined or too large")
            self.check_magnitude(node, value)
        unsized = any(arg.unsized for arg in args)
        return _Term(spec.build(*[arg.expr for arg in args]), value, shape, unsized)

    def segment(self, node: ast.expr) -> str:
        """The text of `node` as written."""
        return ast.get_source_segment(self.parsed, node) or "..."

    def spelling(self, fname: str, args: list[ast.expr]) -> str | None:
        """The table's spelling of a call another language writes: log10(x), pow(z, 2)."""
        return spelling(fname, [self.segment(arg) for arg in args])

    def unqualified(self, node: ast.Call) -> str | None:
        """For np.tanh(z), math.exp(z) and the like: the call without its module, when it is known."""
        if not isinstance(node.func, ast.Attribute):
            return None
        args = [self.segment(arg) for arg in node.args]
        if node.func.attr in {*FUNCTIONS, *ARRAY_FUNCTIONS, *SHORTHANDS}:
            return f"write {node.func.attr}({', '.join(args)}), without the module"
        spelt = spelling(node.func.attr, args)
        return None if spelt is None else f"write {spelt}"

    def shorthand(self, node: ast.Call, fname: str) -> _Term:
        """A lecture's name for a form of the table's own: dot(u, v) is u @ v, trace(M) sum(diag(M)),
        mean(v) sum(v)/n, norm(v) sqrt(v @ v); printed (and differentiated) as that form."""
        wanted = 2 if fname == "dot" else 1
        if len(node.args) != wanted:
            raise self.fail(node, f"{fname}() takes {wanted} argument(s), got {len(node.args)}")
        args = [self.convert(arg) for arg in node.args]
        shapes = [arg.shape for arg in args]
        if any(arg.unsized for arg in args):
            raise self.fail(node, f"{fname}() of I: its size is not known here", fix="write eye(n)")
        vectors = all(len(shape) == 1 for shape in shapes)
        if fname in {"dot", "norm"} and not vectors:
            kinds = " and ".join(shown(shape) for shape in shapes)
            raise self.fail(
                node, f"{fname}() takes {'two vectors' if wanted == 2 else 'a vector'}, not {kinds}"
            )
        if fname == "dot":
            return self.array_call(node, MATMUL, "dot()", list(node.args))
        if fname == "norm":
            square = self.array_call(node, MATMUL, "norm()", [node.args[0], node.args[0]])
            return _Term(sp.sqrt(square.expr), None, ())
        if fname == "trace":
            (shape,) = shapes
            if len(shape) != 2 or shape[0] != shape[1]:
                raise self.fail(node, f"trace() takes a square matrix, not {shown(shape)}")
            diagonal = self.array_call(node, ARRAY_FUNCTIONS["diag"], "trace()", list(node.args))
            return _Term(ARRAY_FUNCTIONS["sum"].function(diagonal.expr), None, ())
        total = self.array_call(node, ARRAY_FUNCTIONS["sum"], "mean()", list(node.args))  # mean
        sizes = [dimension(axis) if isinstance(axis, str) else sp.Integer(axis) for axis in shapes[0]]
        return _Term(total.expr / sp.Mul(*sizes), None, ())

    def sized(self, node: ast.Call, fname: str) -> _Term:
        """eye(d), the identity matrix of a dimension d, or ones(d), its vector of ones (or of a size)."""
        (size,) = node.args if len(node.args) == 1 else (None,)
        build, square = (eye, True) if fname == "eye" else (ones, False)
        if isinstance(size, ast.Name) and self.names.get(size.id) == dimension(size.id):
            return _Term(build(dimension(size.id)), shape=(size.id,) * (1 + square))
        if isinstance(size, ast.Constant) and type(size.value) is int and 1 <= size.value <= MAX_SIZE:
            return _Term(build(sp.Integer(size.value)), shape=(size.value,) * (1 + square))
        shown_as = "the n × n identity" if square else "the vector of n ones"
        raise self.fail(node, f"{fname}() takes one dimension's name or a size: {fname}(n) is {shown_as}")

    def array_call(self, node: ast.AST, entry: ArrayFunction, called: str, operands: list[ast.expr]) -> _Term:
        """A call of a function of vectors and matrices (or '@'): its shape from its arguments' shapes."""
        if len(operands) != entry.arguments:
            raise self.fail(node, f"{called} takes {entry.arguments} argument(s), got {len(operands)}")
        args = [self.convert(arg) for arg in operands]
        if any(arg.unsized for arg in args):
            raise self.fail(node, f"{called} of I: its size is not known here", fix="write eye(n)")
        try:
            shape = entry.shape(*[arg.shape for arg in args])
        except ShapeError as err:
            raise self.fail(node, str(err)) from None
        for operand, arg in zip(operands, args, strict=True):
            self.kept(operand, arg, called)
        return _Term(entry.function(*[arg.expr for arg in args]), None, shape)

    def kept(self, node: ast.AST, arg: _Term, called: str) -> None:
        """A shaped operand whose vector SymPy did not simplify away (x - x is 0: its size is lost)."""
        named = arg.expr.has(eye, ones) or any(self.shapes.get(s.name) for s in arg.expr.free_symbols)
        if arg.shape and not named:
            raise self.fail(
                node,
                f"{called}'s argument has the shape {shown(arg.shape)} but simplifies to "
                f"{arg.expr}, which has no vector or matrix in it",
                fix="write the scalar times a vector of ones, or leave the term out",
            )

    def check_magnitude(self, node: ast.AST, value: float | None) -> None:
        if value is not None and (not math.isfinite(value) or abs(value) > MAX_MAGNITUDE):
            raise self.fail(node, f"constant is too large (limit {MAX_MAGNITUDE:g})")
