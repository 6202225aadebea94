"""The functions of vectors and matrices (@, sum, outer, kron, transpose, diag, softmax, logsumexp,
eye, ones, max and min over a vector).

In a model with shaped names (`x[n]`, `W[h,n]`), arithmetic and every function of
`symcalc.symbolic.functions` apply elementwise, a scalar broadcasting; these are the
operations that are not elementwise. Each is a SymPy function class holding its
arguments, with

- `shape`: the shape of a call from the shapes of its arguments, or ShapeError saying
  which shapes do not fit;
- `backward`: the vector-Jacobian product, each argument's share of an adjoint G of
  the call (for W @ x: G xᵀ and Wᵀ G), which the vector-form chain rule applies;
- `value`: its value when the arguments are concrete (NumPy arrays of SymPy scalars,
  whose shapes tell a vector from a matrix), used to expand a model into scalars at
  given sizes; only the operation's meaning is used, never a derivative.

A shape is a tuple of axes: () a scalar, (n,) a vector, (h, n) a matrix; an axis is a
dimension's name or an integer, or the product of such ("h*n", the rows of kron(eye(h), outer(x, x))),
written with its names in alphabetical order. Two axes agree only when they are written alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pretty.stringpict import prettyForm

from symcalc.errors import NoVectorForm, ShapeError

Axis = str | int
Shape = tuple[Axis, ...]
#: A value at concrete sizes: a SymPy scalar, or a NumPy array (dtype object) of SymPy scalars.
Value = Any


def shown(shape: Shape) -> str:
    """A shape as the file writes it: 'a scalar', '[n]', '[h,n]'."""
    return "a scalar" if not shape else "[" + ",".join(str(axis) for axis in shape) + "]"


def _operand(name: str, shape: Shape, axes: int | tuple[int, ...]) -> None:
    wanted = (axes,) if isinstance(axes, int) else axes
    if len(shape) not in wanted:
        kinds = " or ".join({1: "a vector", 2: "a matrix"}[k] for k in wanted)
        raise ShapeError(f"{name}() takes {kinds}, not {shown(shape)}")


# -- the operations -----------------------------------------------------------------------


def _matmul_shape(left: Shape, right: Shape) -> Shape:
    if not left or not right:
        raise ShapeError(
            f"'@' is the matrix product of vectors and matrices; here {shown(left)} @ {shown(right)}"
            " (use * to multiply by a scalar)"
        )
    if left[-1] != right[0]:
        raise ShapeError(f"'@' needs the inner sizes to agree; here {shown(left)} @ {shown(right)}")
    return left[:-1] + right[1:]


class matmul(sp.Function):
    """A @ B: matrix times vector, vector · vector (the dot product), vector times matrix, matrix product."""

    nargs = 2
    #: Below a product's: the file's syntax reads a*B @ c as (a*B) @ c, so a product's factor A @ B is
    #: printed in parentheses, and an operand of @ that is a product or another @ is too.
    precedence = PRECEDENCE["Mul"] - 1

    def _sympystr(self, printer: Any) -> str:
        left, right = (printer.parenthesize(arg, PRECEDENCE["Mul"]) for arg in self.args)
        return f"{left} @ {right}"

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        # Products of matrices associate: A B C is drawn without parentheses, as the terminal draws it.
        left, right = (
            printer._print(arg) if isinstance(arg, matmul) else printer.parenthesize(arg, PRECEDENCE["Mul"])
            for arg in self.args
        )
        base = f"{left} {right}"
        return rf"\left({base}\right)^{{{exp}}}" if exp else base

    def _pretty(self, printer: Any) -> prettyForm:
        return _joined(printer, self.args[0], "⋅" if printer._use_unicode else " @ ", self.args[1], "")


def _operand_form(printer: Any, arg: sp.Expr, marked: bool = False) -> prettyForm:
    """An operand of @, outer or transpose, in parentheses unless it is a name or a call (tanh(s),
    W⋅x: products of matrices associate, so A⋅B⋅C needs none); one that a ᵀ follows (`marked`), unless
    it is a name: (W⋅x)ᵀ, u⋅(dL/ds)ᵀ."""
    form = printer._print(arg)
    if arg.is_Symbol and "/" not in arg.name:  # a name, not an adjoint dL/dc (a fraction)
        return form
    bare = arg.is_Atom or isinstance(arg, sp.Function)
    return form if bare and not marked else prettyForm(*form.parens())


def _joined(printer: Any, left: sp.Expr, between: str, right: sp.Expr, after: str) -> prettyForm:
    form = prettyForm(*_operand_form(printer, left).right(between))
    form = prettyForm(*form.right(_operand_form(printer, right, marked=bool(after))))
    form = prettyForm(*form.right(after)) if after else form
    form.binding = prettyForm.MUL
    return form


class total(sp.Function):
    """sum(v): the sum of a vector's or a matrix's entries."""

    nargs = 1

    def _sympystr(self, printer: Any) -> str:
        return f"sum({printer._print(self.args[0])})"

    def _pretty(self, printer: Any) -> Any:
        return printer._print_Function(self, func_name="sum")

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        base = rf"\operatorname{{sum}}\left({printer._print(self.args[0])}\right)"
        return f"{base}^{{{exp}}}" if exp else base


class outer(sp.Function):
    """outer(u, v): the matrix u vᵀ, entry [i, j] = uᵢ vⱼ."""

    nargs = 2
    #: Its LaTeX is u v^{\top}, two factors side by side (`notation.Hadamard` brackets it after a ⊙).
    juxtaposed = True

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        left = printer.parenthesize(self.args[0], PRECEDENCE["Mul"])
        right = _latex_marked(printer, self.args[1])
        base = f"{left} {right}^{{\\top}}"
        # A power of a matrix entry by entry, (u vᵀ)^{⊙2}: (u vᵀ)² would be a matrix product.
        return rf"\left({base}\right)^{{\odot {exp}}}" if exp else base

    def _pretty(self, printer: Any) -> prettyForm:
        if not printer._use_unicode:
            return _joined(printer, self.args[0], "*", self.args[1], "^T")
        return _joined(printer, self.args[0], "⋅", self.args[1], "ᵀ")


class kron(sp.Function):
    """kron(A, B): the Kronecker product A ⊗ B, entry [(i, k), (j, l)] = A[i, j]·B[k, l] (rows of
    blocks, row by row); a vector is a column. It writes second derivatives and Jacobians by a matrix
    in vec form, not models: nothing is differentiated through it."""

    nargs = 2

    precedence = PRECEDENCE["Mul"] - 1  # as @'s: c (A ⊗ B), (A ⊗ B) v

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        sized = {e: sp.Symbol(f"I_{e.args[0]}") for e in self.atoms(eye)}  # I_{h}, I_{3}
        left, right = (printer.parenthesize(arg.xreplace(sized), PRECEDENCE["Mul"]) for arg in self.args)
        base = rf"{left} \otimes {right}"
        return rf"\left({base}\right)^{{{exp}}}" if exp else base

    def _pretty(self, printer: Any) -> prettyForm:
        if not printer._use_unicode:
            return printer._print_Function(self, func_name="kron")
        return _joined(printer, self.args[0], " ⊗ ", self.args[1], "")


class transpose(sp.Function):
    """transpose(M): Mᵀ."""

    nargs = 1

    @classmethod
    def eval(cls, matrix: sp.Expr) -> sp.Expr | None:
        """(Mᵀ)ᵀ = M, (u vᵀ)ᵀ = v uᵀ, (AB)ᵀ = BᵀAᵀ, diag(v)ᵀ = diag(v): a transpose is of a matrix, so
        a product transposed is of two matrices, and a diag transposed is of a vector."""
        if isinstance(matrix, transpose | diag):
            return matrix.args[0] if isinstance(matrix, transpose) else matrix
        if isinstance(matrix, outer):
            return outer(matrix.args[1], matrix.args[0])
        if isinstance(matrix, matmul):
            return matmul(transpose(matrix.args[1]), transpose(matrix.args[0]))
        return None

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        base = f"{_latex_marked(printer, self.args[0])}^{{\\top}}"
        return rf"\left({base}\right)^{{{exp}}}" if exp else base

    def _pretty(self, printer: Any) -> prettyForm:
        form = _operand_form(printer, self.args[0], marked=True)
        return prettyForm(*form.right("ᵀ" if printer._use_unicode else "^T"))


def _latex_marked(printer: LatexPrinter, arg: sp.Expr) -> str:
    """An operand that a ^{\\top} follows: in parentheses unless it is a name (an adjoint dL/dc is not)."""
    plain = arg.is_Symbol and "/" not in arg.name
    return printer._print(arg) if plain else printer.parenthesize(arg, PRECEDENCE["Atom"])


class diag(sp.Function):
    """diag(v): the diagonal matrix with v on its diagonal; diag(M) of a square matrix: its diagonal."""

    nargs = 1


def dimension(name: str) -> sp.Symbol:
    """A dimension's name as a number in an expression (`sum(s)/h`): a positive integer, its size."""
    return sp.Symbol(name, integer=True, positive=True)


def axis_size(axis: Axis) -> sp.Expr:
    """An axis as a number in an expression: its dimension, a size, or their product (h*n)."""
    parts = str(axis).split("*")
    return sp.Mul(*(sp.Integer(part) if part.isdigit() else dimension(part) for part in parts))


def size_axis(size: sp.Expr) -> Axis:
    """The axis of a size written as a number: h, 3, or h*n."""
    if isinstance(size, sp.Symbol):
        return size.name
    if size.is_Integer:
        return int(size)
    axis: Axis = 1
    for factor in sp.Mul.make_args(size):
        axis = product_axis(axis, size_axis(factor))
    return axis


class eye(sp.Function):
    """eye(d): the d × d identity matrix, I; d is a dimension (or an integer), a size and not a variable."""

    nargs = 1

    @property
    def free_symbols(self) -> set[sp.Basic]:
        return set()  # no value of any name changes it: its derivative by anything is 0

    @property
    def axes(self) -> Shape:
        axis = size_axis(self.args[0])
        return (axis, axis)

    def _sympystr(self, printer: Any) -> str:
        return f"eye({printer._print(self.args[0])})"

    def _pretty(self, printer: Any) -> prettyForm:
        return prettyForm("I")

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        return f"I^{{{exp}}}" if exp else "I"


class largest(sp.Function):
    """max(v): the largest entry of a vector (max with two or more arguments is elementwise)."""

    nargs = 1
    #: The file's name for it, which also names an elementwise function of the table.
    called = "max"

    def _sympystr(self, printer: Any) -> str:
        return f"{self.called}({printer._print(self.args[0])})"

    def _pretty(self, printer: Any) -> Any:
        return printer._print_Function(self, func_name=self.called)

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        base = rf"\{self.called}\left({printer._print(self.args[0])}\right)"
        return f"{base}^{{{exp}}}" if exp else base


class smallest(largest):
    """min(v): the smallest entry of a vector."""

    called = "min"


class ones(sp.Function):
    """ones(d): the vector of d ones, 𝟙; what a scalar adjoint g is, spread over a vector (g·𝟙)."""

    nargs = 1

    @property
    def free_symbols(self) -> set[sp.Basic]:
        return set()  # a size, not a variable: its derivative by anything is 0

    @property
    def axes(self) -> Shape:
        size = self.args[0]
        return (size.name if isinstance(size, sp.Symbol) else int(size),)

    def _sympystr(self, printer: Any) -> str:
        return f"ones({printer._print(self.args[0])})"

    def _pretty(self, printer: Any) -> prettyForm:
        return prettyForm("𝟙" if printer._use_unicode else "1")

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        # The size as a subscript, 𝟙ₘ: m ones are a column a reader (and symcalc's LaTeX reader) can size.
        ones = rf"\mathbf{{1}}_{{{printer._print(self.args[0])}}}"
        return rf"{ones}^{{{exp}}}" if exp else ones


class softmax(sp.Function):
    """softmax(z): the vector exp(zᵢ) / Σⱼ exp(zⱼ)."""

    nargs = 1


class logsumexp(sp.Function):
    """logsumexp(z): log Σⱼ exp(zⱼ)."""

    nargs = 1

    def _latex(self, printer: LatexPrinter, exp: Any = None) -> str:
        base = rf"\operatorname{{logsumexp}}\left({printer._print(self.args[0])}\right)"
        return f"{base}^{{{exp}}}" if exp else base


def _sum_shape(shape: Shape) -> Shape:
    _operand("sum", shape, (1, 2))
    return ()


def _outer_shape(left: Shape, right: Shape) -> Shape:
    _operand("outer", left, 1)
    _operand("outer", right, 1)
    return (left[0], right[0])


def product_axis(left: Axis, right: Axis) -> Axis:
    """The axis of `left` × `right` entries: an integer, or the names in alphabetical order times a
    number ("h*n" for n*h alike, "2*n")."""
    number, names = 1, []
    for axis in (left, right):
        for part in str(axis).split("*"):
            if part.isdigit():
                number *= int(part)
            else:
                names.append(part)
    if not names:
        return number
    return "*".join([*sorted(names), *([str(number)] if number != 1 else [])])


def _kron_shape(left: Shape, right: Shape) -> Shape:
    _operand("kron", left, (1, 2))
    _operand("kron", right, (1, 2))
    if len(left) == 1 and len(right) == 1:
        return (product_axis(left[0], right[0]),)
    columns = product_axis(left[1] if len(left) == 2 else 1, right[1] if len(right) == 2 else 1)
    return (product_axis(left[0], right[0]), columns)


def _transpose_shape(shape: Shape) -> Shape:
    if len(shape) == 1:
        raise ShapeError(
            "transpose() takes a matrix; a vector has one axis, so it needs none"
            " (v @ M multiplies it as a row)"
        )
    _operand("transpose", shape, 2)
    return (shape[1], shape[0])


def _diag_shape(shape: Shape) -> Shape:
    _operand("diag", shape, (1, 2))
    if len(shape) == 1:
        return (shape[0], shape[0])
    if shape[0] != shape[1]:
        raise ShapeError(f"diag() of a matrix takes a square one, not {shown(shape)}")
    return (shape[0],)


def _vector_to_scalar(name: str) -> Callable[[Shape], Shape]:
    def rule(shape: Shape) -> Shape:
        _operand(name, shape, 1)
        return ()

    return rule


def _vector_to_vector(name: str) -> Callable[[Shape], Shape]:
    def rule(shape: Shape) -> Shape:
        _operand(name, shape, 1)
        return shape

    return rule


def _sum_value(value: Value) -> Value:
    return sp.Add(*value.flat)


def _dot(left: Value, right: Value) -> Value:
    return sp.Add(*(left * right))  # one flat SymPy sum of the products


def _matmul_value(left: Value, right: Value) -> Value:
    import numpy as np  # only for models with vectors: a scalar model's derive never loads NumPy

    if left.ndim == 1 and right.ndim == 1:
        return _dot(left, right)
    if right.ndim == 1:
        return np.array([_dot(row, right) for row in left], dtype=object)
    if left.ndim == 1:
        return np.array([_dot(left, column) for column in right.T], dtype=object)
    return np.array([[_dot(row, column) for column in right.T] for row in left], dtype=object)


def _softmax_value(value: Value) -> Value:
    import numpy as np

    exps = [sp.exp(entry) for entry in value]
    return np.array([e / sp.Add(*exps) for e in exps], dtype=object)


def _outer_value(left: Value, right: Value) -> Value:
    import numpy as np

    return np.multiply.outer(left, right)


def _kron_value(left: Value, right: Value) -> Value:
    import numpy as np

    a, b = (v.reshape(-1, 1) if v.ndim == 1 else v for v in (left, right))
    blocks = np.multiply.outer(a, b).transpose(0, 2, 1, 3)
    result = blocks.reshape(a.shape[0] * b.shape[0], a.shape[1] * b.shape[1])
    return result.reshape(-1) if left.ndim == 1 and right.ndim == 1 else result


def _no_backward(name: str) -> Callable[..., Shares]:
    def backward(args: Shares, shapes: tuple[Shape, ...], call: sp.Expr, g: sp.Expr) -> Shares:
        raise NoVectorForm(f"{name}() writes derivatives in vec form; no model is differentiated through it")

    return backward


def _transpose_value(value: Value) -> Value:
    return value.T


def _diag_value(value: Value) -> Value:
    import numpy as np

    return np.diag(value)


def _eye_shape(size: Shape) -> Shape:
    raise ShapeError("eye() and ones() take a dimension's name or a size, eye(n)")  # the parser builds them


def _eye_value(size: Value) -> Value:
    import numpy as np

    count = int(size)
    rows = [[sp.S.One if i == j else sp.S.Zero for j in range(count)] for i in range(count)]
    return np.array(rows, dtype=object)


def _extreme_backward(args: Shares, shapes: tuple[Shape, ...], call: sp.Expr, g: sp.Expr) -> Shares:
    # G goes to the largest entry: its indicator, 1 − step(max(v) − v), is step at its kink (0) on
    # that very entry, so no point could check it; the written-out steps carry the derivative.
    raise NoVectorForm(
        f"{call.called}(v) passes its adjoint to the {'largest' if call.called == 'max' else 'smallest'}"
        " entry, an indicator the file's syntax has no word for"
    )


def _ones_value(size: Value) -> Value:
    import numpy as np

    return np.array([sp.S.One] * int(size), dtype=object)


def ones_of(shape: Shape) -> sp.Expr:
    """The array of ones of a vector's or a matrix's `shape`: ones(n), or outer(ones(h), ones(n))."""
    sizes = [dimension(axis) if isinstance(axis, str) else sp.Integer(axis) for axis in shape]
    return ones(sizes[0]) if len(sizes) == 1 else outer(ones(sizes[0]), ones(sizes[1]))


def _logsumexp_value(value: Value) -> Value:
    return sp.log(sp.Add(*[sp.exp(entry) for entry in value]))


Shares = tuple[sp.Expr, ...]


def _matmul_backward(args: Shares, shapes: tuple[Shape, ...], call: sp.Expr, g: sp.Expr) -> Shares:
    (a, b), (left, right) = args, shapes
    if len(left) == 1 and len(right) == 1:  # the dot product: a scalar G
        return (g * b, g * a)
    if len(right) == 1:  # W @ x
        return (outer(g, b), matmul(transpose(a), g))
    if len(left) == 1:  # x @ W, x as a row
        return (matmul(b, g), outer(a, g))
    return (matmul(g, transpose(b)), matmul(transpose(a), g))


def _softmax_backward(args: Shares, shapes: tuple[Shape, ...], call: sp.Expr, g: sp.Expr) -> Shares:
    return (call * (g - matmul(g, call)),)  # p ⊙ (G − (G·p))


@dataclass(frozen=True)
class ArrayFunction:
    """One entry of the table: the class a call builds, its shape rule, its vector-Jacobian product
    (`backward(args, shapes, call, G)`: each argument's share of G) and its value at concrete sizes."""

    function: type[sp.Function]
    arguments: int
    shape: Callable[..., Shape]
    backward: Callable[[Shares, tuple[Shape, ...], sp.Expr, sp.Expr], Shares]
    value: Callable[..., Value]


ARRAY_FUNCTIONS: dict[str, ArrayFunction] = {
    "sum": ArrayFunction(total, 1, _sum_shape, lambda args, shapes, call, g: (g,), _sum_value),
    "outer": ArrayFunction(
        outer,
        2,
        _outer_shape,
        lambda args, shapes, call, g: (matmul(g, args[1]), matmul(transpose(g), args[0])),
        _outer_value,
    ),
    "kron": ArrayFunction(kron, 2, _kron_shape, _no_backward("kron"), _kron_value),
    "transpose": ArrayFunction(
        transpose, 1, _transpose_shape, lambda args, shapes, call, g: (transpose(g),), _transpose_value
    ),
    "diag": ArrayFunction(diag, 1, _diag_shape, lambda args, shapes, call, g: (diag(g),), _diag_value),
    "softmax": ArrayFunction(softmax, 1, _vector_to_vector("softmax"), _softmax_backward, _softmax_value),
    "logsumexp": ArrayFunction(
        logsumexp,
        1,
        _vector_to_scalar("logsumexp"),
        lambda args, shapes, call, g: (g * softmax(args[0]),),
        _logsumexp_value,
    ),
    "eye": ArrayFunction(eye, 1, _eye_shape, lambda args, shapes, call, g: (sp.S.Zero,), _eye_value),
    "ones": ArrayFunction(ones, 1, _eye_shape, lambda args, shapes, call, g: (sp.S.Zero,), _ones_value),
}

#: max(v) and min(v) over a vector: called by the names of the table's elementwise max and min,
#: with one argument (`parse._Converter.call`).
EXTREMES: dict[str, ArrayFunction] = {
    "max": ArrayFunction(largest, 1, _vector_to_scalar("max"), _extreme_backward, lambda v: sp.Max(*v.flat)),
    "min": ArrayFunction(smallest, 1, _vector_to_scalar("min"), _extreme_backward, lambda v: sp.Min(*v.flat)),
}

#: The matrix product, written `@` (it has no name to call it by).
MATMUL = ArrayFunction(matmul, 2, _matmul_shape, _matmul_backward, _matmul_value)

#: Entries by the class a call builds.
BY_CLASS: dict[type[sp.Basic], ArrayFunction] = {
    entry.function: entry for entry in (*ARRAY_FUNCTIONS.values(), *EXTREMES.values(), MATMUL)
}


def shape_of(expr: sp.Basic, shapes: Mapping[sp.Basic, Shape]) -> Shape:
    """The shape of an expression over names of the given `shapes` (others are scalars)."""
    if expr in shapes:
        return shapes[expr]
    if isinstance(getattr(type(expr), "axes", None), property):  # eye(n), ones(n), s[a:b]: their own
        return expr.axes
    if not expr.args:
        return ()
    arguments = [shape_of(arg, shapes) for arg in expr.args]
    entry = BY_CLASS.get(type(expr))
    if entry is not None:
        return entry.shape(*arguments)
    return next((shape for shape in arguments if shape), ())
