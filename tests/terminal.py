"""A reader of the terminal's one-line vector maths, written here so that it shares nothing with symcalc.

The terminal writes a lecture's notation: ⋅ between two vectors or matrices is the matrix
product (u⋅vᵀ an outer product, uᵀ⋅v a dot product, x⋅W a vector used as a row), ⋅ with a
scalar is a product, ⊙ multiplies entry by entry, ᵀ transposes, a superscript digit is a
power. Values are NumPy arrays in which a vector is a column, so that these mean what they
say: Mᵀ is `.T`, and u⋅vᵀ is (n, 1) @ (1, m); 𝟙 is the name `ONES`, a column of ones the
caller sizes. A rendering drawn on several lines (a fraction) is not read (None).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SUPERSCRIPTS = {"²": "2", "³": "3", "⁴": "4"}
#: T stands for ᵀ: a power of it is a transpose.
_T = "T__"
#: The name 𝟙 (a column of ones, not a Python name) is read as; its value is the caller's.
ONES = "ONES__"


def _sigmoid(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tanh": np.tanh,
    "σ": _sigmoid,
    "sigmoid": _sigmoid,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "softplus": lambda x: np.log1p(np.exp(x)),
    "sum": lambda x: np.sum(x),
    "softmax": lambda z: np.exp(z) / np.sum(np.exp(z)),
    "logsumexp": lambda z: np.log(np.sum(np.exp(z))),
    "diag": lambda v: np.diag(v.ravel()) if v.shape[1] == 1 else np.diag(v).reshape(-1, 1),
    "cosh": np.cosh,
    "relu": lambda x: np.maximum(x, 0),
}


def python_text(drawn: str) -> str | None:
    """The one-line drawing as Python text: ⋅ as *, ⊙ as %, Xᵀ as X**T__, x² as x**2; None for 2-D."""
    if "\n" in drawn.strip():
        return None
    out = drawn.strip().translate(_SUBSCRIPTS).replace("⋅", "*").replace("⊙", "%").replace("𝟙", ONES)
    out = out.replace("ᵀ", f"**{_T}")
    for sup, digit in _SUPERSCRIPTS.items():
        out = out.replace(sup, f"**{digit}")
    return out


def _product(left: Any, right: Any) -> Any:
    """⋅: the matrix product between two vectors or matrices (a vector on the left used as a row where
    it must be), else a product with a scalar."""
    if not (isinstance(left, np.ndarray) and isinstance(right, np.ndarray)):
        return left * right
    # x⋅W for x @ W: x as a row, the result a vector again (a column)
    product = left @ right if left.shape[1] == right.shape[0] else (left.T @ right).T
    return product[0, 0] if product.shape == (1, 1) else product


def evaluate(text: str, values: Mapping[str, Any]) -> Any:
    """The drawing (as `python_text` gives it) at `values` (vectors as columns), walking its parse tree."""

    def walk(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return FUNCTIONS[node.func.id](*[walk(a) for a in node.args])
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Name) and node.right.id == _T:
                return walk(node.left).T
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return _product(left, right)
            if isinstance(node.op, ast.Mod):
                return left * right
            if isinstance(node.op, ast.Div):
                return left / right
            if isinstance(node.op, ast.Pow):
                return left**right
        raise ValueError(f"cannot read {ast.dump(node)}")

    return walk(ast.parse(text, mode="eval").body)


def agrees(got: Any, expected: list[float], shape: tuple[int, ...]) -> bool:
    """Whether a value read from the terminal is the expected entries (a scalar stands for all)."""
    flat = np.broadcast_to(np.asarray(got, dtype=float), (len(expected),)) if np.ndim(got) == 0 else None
    if flat is None:
        array = np.asarray(got, dtype=float)
        if len(shape) == 1:
            if array.shape != (shape[0], 1):
                return False
        elif array.shape != shape:
            return False
        flat = array.ravel()
    return all(math.isclose(g, e, rel_tol=1e-9, abs_tol=1e-9) for g, e in zip(flat, expected, strict=True))
