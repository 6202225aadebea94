"""Reading a printed batch form back, by a reader written here that shares nothing with symcalc.

A value over the batch is a 2-D array of mpmath numbers that knows which of its axes count samples:
X is [m, n] with its rows the samples, a per-sample scalar z a column [m, 1] whose rows are the
samples, a parameter's vector c a column [h, 1] with no sample axis, and cᵀ its row. The
batch form's stated rules are applied as written, never guessed from sizes: ⋅ and @ are the
matrix product (a sample axis may only meet a sample axis), ⊙ (and `*` in the file's syntax)
multiplies entry by entry, a parameter's vector meets each row of a matrix of m rows, a column
of m values each column, a function acts on each entry (softmax on each row), 𝟙 is a column of
ones as long as its neighbour needs. Anything else is an error, so a form that only reads right
when the sizes happen to agree fails.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np

from tests.printed import DIGITS
from tests.terminal import python_text


@dataclass(frozen=True)
class Batch:
    """A 2-D array; `rows` and `columns` say whether that axis counts the samples."""

    array: Any
    rows: bool = False
    columns: bool = False

    @property
    def T(self) -> Batch:
        return Batch(self.array.T, self.columns, self.rows)


class Ones:
    """𝟙, as long as the matrix it multiplies needs; `transposed` for 𝟙ᵀ."""

    def __init__(self, transposed: bool = False):
        self.transposed = transposed


class Identity:
    """I times `factor`, as large as the square matrix it is added to needs."""

    def __init__(self, factor: Any = 1):
        self.factor = factor

    def like(self, other: Batch) -> Batch:
        size = other.array.shape[0]
        eye = np.array([[self.factor if r == c else mpmath.mpf(0) for c in range(size)] for r in range(size)])
        return Batch(eye.astype(object), other.rows, other.columns)


def _map(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    each = np.vectorize(function, otypes=[object])

    def apply(value: Any) -> Any:
        return (
            Batch(each(value.array), value.rows, value.columns)
            if isinstance(value, Batch)
            else function(value)
        )

    return apply


def _sigmoid(x: Any) -> Any:
    return 1 / (1 + mpmath.exp(-x))


def _rows(function: Callable[[list[Any]], Any]) -> Callable[[Batch], Any]:
    """A function of a vector: of each row of a matrix of m rows, or of a parameter's column."""

    def apply(value: Batch) -> Any:
        if value.rows:
            out = [function(list(row)) for row in value.array]
            return Batch(np.array(out, dtype=object).reshape(len(out), -1), True, False)
        assert value.array.shape[1] == 1, "a function of a vector took a matrix"
        result = function(list(value.array[:, 0]))
        return Batch(np.array(result, dtype=object).reshape(-1, 1)) if isinstance(result, list) else result

    return apply


def _softmax(entries: list[Any]) -> list[Any]:
    top = max(entries)
    exps = [mpmath.exp(e - top) for e in entries]
    return [e / mpmath.fsum(exps) for e in exps]


def _logsumexp(entries: list[Any]) -> Any:
    return mpmath.log(mpmath.fsum(mpmath.exp(e) for e in entries))


def _total(value: Any) -> Any:
    return mpmath.fsum(value.array.flat) if isinstance(value, Batch) else value


def product(left: Any, right: Any, file: bool = False) -> Any:
    """The matrix product; a scalar on either side scales. With `file`, as the file's syntax has it: a
    vector on the left is used as a row (x @ W), and the result is a vector again (a column)."""
    rows = right.array.shape[0] if isinstance(right, Batch) else 0
    if file and rows > 1 and _is_column(left) and _size(left) in (None, rows):
        row = product(Ones(True) if isinstance(left, Ones) else left.T, right)
        return row.T if isinstance(row, Batch) else row
    if isinstance(left, Ones):
        assert isinstance(right, Batch) and left.transposed, "𝟙 on the left of a product is 𝟙ᵀ"
        left = Batch(np.full((1, right.array.shape[0]), mpmath.mpf(1), dtype=object), False, right.rows)
    if isinstance(right, Ones):
        assert isinstance(left, Batch) and not right.transposed, "𝟙 on the right of a product is 𝟙"
        right = Batch(np.full((left.array.shape[1], 1), mpmath.mpf(1), dtype=object), left.columns, False)
    if not isinstance(left, Batch) or not isinstance(right, Batch):
        return scale(left, right)
    assert left.array.shape[1] == right.array.shape[0], ("shapes", left.array.shape, right.array.shape)
    assert left.columns == right.rows, "a sample axis meets another axis"
    out = np.dot(left.array, right.array)
    if out.shape == (1, 1) and not left.rows and not right.columns:
        return out[0, 0]
    return Batch(out, left.rows, right.columns)


def _is_column(value: Any) -> bool:
    return (isinstance(value, Ones) and not value.transposed) or (
        isinstance(value, Batch) and value.array.shape[1] == 1
    )


def _size(value: Any) -> int | None:
    return value.array.shape[0] if isinstance(value, Batch) else None


def scale(left: Any, right: Any) -> Any:
    if isinstance(left, Identity) or isinstance(right, Identity):
        identity, factor = (left, right) if isinstance(left, Identity) else (right, left)
        return Identity(identity.factor * factor)
    if isinstance(left, Batch):
        return Batch(left.array * right, left.rows, left.columns)
    if isinstance(right, Batch):
        return Batch(left * right.array, right.rows, right.columns)
    return left * right


def entrywise(op: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
    """`op` entry by entry, with the batch form's rules for a vector meeting a matrix of m rows."""
    if isinstance(left, Identity) and isinstance(right, Batch):
        left = left.like(right)
    if isinstance(right, Identity) and isinstance(left, Batch):
        right = right.like(left)
    if isinstance(left, Identity) or isinstance(right, Identity):  # λ⋅I or I/m: I scaled
        assert op(mpmath.mpf(6), mpmath.mpf(3)) in (18, 2), "I added to a number"
        return Identity(op(left.factor, right) if isinstance(left, Identity) else op(left, right.factor))
    if not isinstance(left, Batch) and not isinstance(right, Batch):
        return op(left, right)
    if not isinstance(left, Batch):
        return Batch(op(left, right.array), right.rows, right.columns)
    if not isinstance(right, Batch):
        return Batch(op(left.array, right), left.rows, left.columns)
    a, b = _met(left, right), _met(right, left)
    assert (a.rows, a.columns) == (b.rows, b.columns) or 1 in a.array.shape or 1 in b.array.shape, (
        "entry by entry between arrays whose axes count different things"
    )
    out = op(a.array, b.array)
    return Batch(out, a.rows or b.rows, a.columns or b.columns)


def _met(value: Batch, other: Batch) -> Batch:
    """A parameter's vector (a column, no sample axis) meeting a matrix of m rows: used as a row."""
    if value.array.shape == other.array.shape:
        assert (value.rows, value.columns) == (other.rows, other.columns), "same sizes, different axes"
        return value
    vector = value.array.shape[1] == 1 and not value.rows
    if vector and other.rows and other.array.shape[1] == value.array.shape[0] > 1:
        return value.T
    column = value.rows and value.array.shape[1] == 1
    assert column or value.array.shape[0] == 1 or other.array.shape[1] == 1, ("no rule", value, other)
    return value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tanh": _map(mpmath.tanh),
    "σ": _map(_sigmoid),
    "sigmoid": _map(_sigmoid),
    "exp": _map(mpmath.exp),
    "log": _map(mpmath.log),
    "cosh": _map(mpmath.cosh),
    "sqrt": _map(mpmath.sqrt),
    "sum": _total,
    "softmax": _rows(_softmax),
    "logsumexp": _rows(_logsumexp),
    "transpose": lambda value: Ones(not value.transposed) if isinstance(value, Ones) else value.T,
    "outer": lambda u, v: product(u, v.T),
    "column_sums": lambda value: product(value.T, Ones()),
    "row_sums": lambda value: product(value, Ones()),
    "diag": lambda value: Batch(
        np.diag(value.array[:, 0]).astype(object) + mpmath.mpf(0), value.rows, value.rows
    ),
}
_T = "T__"


def evaluate(text: str, values: Mapping[str, Any], star: str) -> Any:
    """Python-like `text` at `values`: `star` says what `*` is ("product" as the terminal's ⋅, or
    "entries" as in the file's syntax); `%` is ⊙, `@` the matrix product, `**T__` a transpose."""

    def walk(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)
            return mpmath.mpf(node.value)
        if isinstance(node, ast.Name):
            if node.id == "I":
                return Identity()
            return Ones() if node.id in ("ONES", "ones") else values[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return scale(mpmath.mpf(-1), walk(node.operand))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return FUNCTIONS[node.func.id](*[walk(a) for a in node.args])
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Name) and node.right.id == _T:
                inner = walk(node.left)
                return Ones(not inner.transposed) if isinstance(inner, Ones) else inner.T
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.MatMult) or (isinstance(node.op, ast.Mult) and star == "product"):
                return product(left, right, file=star == "entries")
            if isinstance(node.op, ast.Pow):
                assert not isinstance(right, Batch)
                return entrywise(lambda a, b: a**b, left, right)
            ops: dict[type, Callable[[Any, Any], Any]] = {
                ast.Add: lambda a, b: a + b,
                ast.Sub: lambda a, b: a - b,
                ast.Mult: lambda a, b: a * b,
                ast.Mod: lambda a, b: a * b,
                ast.Div: lambda a, b: a / b,
            }
            return entrywise(ops[type(node.op)], left, right)
        raise ValueError(f"cannot read {ast.dump(node)}")

    if star == "entries":
        text = text.replace("^", "**")  # the file's syntax has both
    with mpmath.workdps(DIGITS):
        return walk(ast.parse(text, mode="eval").body)


def terminal_text(drawn: str) -> str:
    """The terminal's one-line batch maths as Python text (⋅ as *, ⊙ as %, 𝟙 as ONES)."""
    text = python_text(drawn.replace("𝟙", "ONES"))
    assert text is not None, drawn
    return text


_ADJOINT = re.compile(r"\bd(\w+)/d(\w+)\b")


def adjoints_named(text: str) -> tuple[str, dict[str, str]]:
    """`text` with each adjoint dL/dS as a name ADJ__S, and those names → the node's name (S)."""
    found: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        found[f"ADJ__{match.group(2)}"] = match.group(2)
        return f"ADJ__{match.group(2)}"

    return _ADJOINT.sub(name, text), found
