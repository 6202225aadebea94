"""The LaTeX maths reader: hostile TeX is refused in one line with its column and nothing runs; what
symcalc's printer writes reads back as the same function; the notation of lectures reads as meant.

The oracle is the SymPy expression itself (drawn, or written here by hand), evaluated with mpmath at
random points; the reader's text is parsed by symcalc's own parser, as a claim would be.
"""

from __future__ import annotations

import contextlib
import random
import time
from typing import Any

import mpmath
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from symcalc.errors import LatexError, ParseError
from symcalc.render.latex import latex
from symcalc.spec.latex import read_latex
from symcalc.symbolic.arrays import dimension, matmul, ones, outer, transpose
from symcalc.symbolic.functions import sigmoid, softplus, to_elementary
from symcalc.symbolic.notation import Hadamard
from symcalc.symbolic.parse import parse_expression, parse_shaped

SCALARS = ("x", "w1", "alpha", "lam", "x_hidden", "yhat", "b_2", "theta0")
SYMBOLS = {name: sp.Symbol(name) for name in (*SCALARS, "lamda")}


def value(expr: sp.Expr, point: dict[sp.Symbol, Any]) -> Any:
    """`expr` at `point` by mpmath (40 digits), through SymPy's own functions."""
    with mpmath.workdps(40):
        return sp.lambdify(list(point), to_elementary(expr), modules="mpmath")(*point.values())


def same_function(left: sp.Expr, right: sp.Expr, seed: int = 0) -> bool:
    rng = random.Random(seed)
    for _ in range(3):
        point = {s: mpmath.mpf(rng.uniform(0.1, 1.5)) for s in SYMBOLS.values()}
        a, b = value(left, point), value(right, point)
        if abs(a - b) > mpmath.mpf("1e-25") * max(1, abs(b)):
            return False
    return True


def read_scalar(tex: str, names: dict[str, int] | None = None) -> sp.Expr:
    (side,) = read_latex(tex, names or dict.fromkeys(SYMBOLS, 0))
    return parse_expression(side.text, SYMBOLS)


# -- hostile input --------------------------------------------------------------------------------

HOSTILE = [
    (r"\def\x{\x}\x", "defines or runs macros", 1),
    (r"a + \newcommand{\f}{1}", "defines or runs macros", 5),
    (r"\input{/etc/passwd}", "defines or runs macros", 1),
    (r"x + \immediate\write18{touch TOUCHED}", "defines or runs macros", 5),
    (r"\catcode`\^=7", "defines or runs macros", 1),
    (r"\csname end\endcsname", "defines or runs macros", 1),
    (r"x^^5c", "'^^' character escapes", 2),
    (r"x + #1", "a macro's parameter", 5),
    (r"\begin{verbatim}x\end{verbatim}", "defines or runs macros", 1),
    (r"x + \relax", "unknown control word '\\relax'", 5),
    (r"x + \dotsc", "unknown control word", 5),
    (r"\left(" * 70 + "x" + r"\right)" * 70, "nested more than 60", 367),
    ("{" * 5_000 + "x" + "}" * 5_000, "nested more than 60", 62),
    ("x+" * 12_000 + "x", "longer than the cap", 1),
    ("x + é", "U+00E9", 5),
    (r"x \\ y", "line break", 3),
]


@pytest.mark.parametrize(("tex", "problem", "column"), HOSTILE, ids=[h[1][:20] for h in HOSTILE])
def test_hostile_tex_is_refused_in_one_line_with_its_column_and_quickly(
    tex: str, problem: str, column: int, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    started = time.perf_counter()
    with pytest.raises(LatexError) as caught:
        read_latex(tex, {"x": 0, "y": 0, "a": 0}, source="work.tex", line=3)
    assert time.perf_counter() - started < 0.5
    message = caught.value.message
    assert "\n" not in message and problem in message
    assert message.startswith(f"work.tex, line 3, column {column}: "), message
    assert not list(tmp_path.iterdir())  # \write18 and friends touched nothing


def test_an_unknown_name_is_one_line_naming_it_and_the_nearest_name() -> None:
    with pytest.raises(LatexError, match=r"column 5: unknown name 'w_13' \(did you mean 'w12'\?\)"):
        read_latex("a + w_{13}", {"a": 0, "w12": 0})


# -- round trips through symcalc's own printer ------------------------------------------------------

_leaf = st.sampled_from([*SYMBOLS.values(), sp.Integer(2), sp.Rational(1, 3), sp.Integer(-3)])


def _positive(u: sp.Expr) -> sp.Expr:
    return u**2 + 1


def _extend(inner: st.SearchStrategy[sp.Expr]) -> st.SearchStrategy[sp.Expr]:
    return st.one_of(
        st.tuples(inner, inner).map(lambda p: p[0] + p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] - p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] * p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] / _positive(p[1])),
        st.tuples(inner, st.integers(2, 3)).map(lambda p: p[0] ** p[1]),
        inner.map(lambda u: sigmoid(u)),
        inner.map(lambda u: softplus(u)),
        inner.map(lambda u: sp.tanh(u)),
        inner.map(lambda u: sp.exp(-u)),
        inner.map(lambda u: sp.log(_positive(u))),
        inner.map(lambda u: sp.sqrt(_positive(u))),
        inner.map(lambda u: sp.cosh(u) ** 2),
        inner.map(lambda u: sp.Abs(u)),
        st.tuples(inner, inner).map(lambda p: sp.Max(p[0], p[1])),
    )


EXPRESSIONS = st.recursive(_leaf, _extend, max_leaves=8)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, derandomize=True)
@given(EXPRESSIONS)
def test_what_the_latex_printer_writes_reads_back_as_the_same_function(expr: sp.Expr) -> None:
    tex = latex(expr)
    read = read_scalar(tex)
    assert same_function(read, expr), (tex, read)


# -- the notation of lectures ---------------------------------------------------------------------

x, w1, alpha, lam, yhat = (SYMBOLS[n] for n in ("x", "w1", "alpha", "lam", "yhat"))
LECTURES = [
    (r"\sigma'(x)", sigmoid(x) * (1 - sigmoid(x))),
    (r"\sigma(w_1) \left(1 - \sigma(w_1)\right)", sigmoid(w1) * (1 - sigmoid(w1))),
    (r"\frac{1}{1 + e^{-x}}", 1 / (1 + sp.exp(-x))),
    (r"\ln \hat{y} - \log(1 - \alpha)", sp.log(yhat) - sp.log(1 - alpha)),
    (r"\frac{1}{2}\left(\hat{y} - x\right)^2 \times \lambda", (yhat - x) ** 2 / 2 * SYMBOLS["lamda"]),
    (
        r"\mathit{lam} \cdot x_{hidden} + \theta_{0} b_{2}",
        lam * SYMBOLS["x_hidden"] + SYMBOLS["theta0"] * SYMBOLS["b_2"],
    ),
    (r"\tanh^2 x + \exp(2 w_1) + \sqrt{x}", sp.tanh(x) ** 2 + sp.exp(2 * w1) + sp.sqrt(x)),
    (r"2x w_1", 2 * x * w1),
    (r"\left| x - 2 \right| + |w_1|", sp.Abs(x - 2) + sp.Abs(w1)),
]


@pytest.mark.parametrize(("tex", "meant"), LECTURES, ids=[t for t, _ in LECTURES])
def test_lecture_notation_reads_as_meant(tex: str, meant: sp.Expr) -> None:
    (side,) = read_latex(tex, dict.fromkeys(SYMBOLS, 0))
    assert same_function(parse_expression(side.text, SYMBOLS), meant), side.text


def test_derivatives_read_in_every_way_lectures_write_them() -> None:
    names = {"L": 0, "z": 0, "w1": 0, "W": 2, "x": 1, "s": 1}
    sides = read_latex(
        r"\frac{\partial L}{\partial w_1} = \frac{dL}{dz} = \partial L / \partial z = dL/dz"
        r" = \frac{\mathrm{d} L}{\mathrm{d} W_{ij}} = \left(\frac{\partial L}{\partial s}\right)_{i} x_j",
        names,
        {"i": 2, "j": 1},
    )
    found = [(d.of, d.wrt, d.partial) for side in sides for d in side.derivatives]
    assert found == [
        ("L", "w1", True),
        ("L", "z", False),
        ("L", "z", True),
        ("L", "z", False),
        ("L", "W2_1", False),
        ("L", "s2", True),
    ]
    assert sides[-1].text.endswith("*x1")


def test_products_follow_the_printers_convention_vectors_being_columns() -> None:
    names = {"W": 2, "x": 1, "v": 1, "a": 0, "m": 0}
    cases = {
        r"W x": ("W @ x", 1),
        r"v^{\top} W": ("v @ W", -1),
        r"v^\top x": ("v @ x", 0),
        r"v x^{T}": ("outer(v, x)", 2),
        r"W^{\top} v": ("transpose(W) @ v", 1),
        r"a \cdot v \odot x": ("(a*v)*x", 1),
        r"\frac{1}{m}\sum_{i=1}^{m} v_i x_i": ("(1/m)*sum(v*x)", 0),
        r"\operatorname{sum}\left(v\right)": ("sum(v)", 0),
        r"\mathbf{W}\mathbf{x}": ("W @ x", 1),
    }
    for tex, (text, axes) in cases.items():
        (side,) = read_latex(tex, names)
        assert (side.text, side.axes) == (text, axes), tex
    with pytest.raises(LatexError, match="column 3: a column vector times a column vector does not multiply"):
        read_latex("v x", names)


PIECES = (
    r"\frac",
    r"\partial",
    r"\left(",
    r"\right)",
    r"\left|",
    r"\right|",
    r"\sum",
    r"\sigma",
    r"\sqrt",
    r"\mathbf",
    r"\hat",
    r"\operatorname{sum}",
    r"\cdot",
    r"\odot",
    r"\top",
    r"\mathbb{1}",
    r"\log",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "^",
    "_",
    "'",
    "/",
    "=",
    "&",
    ",",
    ".",
    "|",
    "-",
    "+",
    " ",
    "d",
    "e",
    "x",
    "w",
    "W",
    "L",
    "v",
    "1",
    "2",
    "12",
    "i",
    "j",
    "dL",
    "dz",
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_any_string_of_tex_pieces_is_read_or_refused_in_one_line_never_a_crash(pieces: list[str]) -> None:
    tex = "".join(pieces)
    names = {"x": 1, "w": 1, "W": 2, "L": 0, "v": 1, "z": 0}
    symbols = {name: sp.Symbol(name) for name in names}
    shapes = {"x": (2,), "w": (2,), "v": (2,), "W": (2, 2)}
    try:
        sides = read_latex(tex, names, {"i": 1, "j": 2}, sizes={"n": 2})
    except LatexError as err:
        assert "\n" not in err.message and "column" in err.message
        return
    for side in sides:
        stand_ins = {d.name: sp.Symbol(d.name) for d in side.derivatives}
        with contextlib.suppress(ParseError):
            parse_shaped(side.text, symbols | stand_ins, shapes | {d: () for d in stand_ins})


def test_a_bold_one_is_a_vector_of_ones_never_the_number_one() -> None:
    """𝟙ᵀM (the batch form's sum over samples) was read as 1ᵀ⋅M, that is M: a matrix where a row was
    written. Without a declared vector of ones it is refused in one line; with one (a batch form's
    reader declares it) it is that vector, transposed as written."""
    with pytest.raises(LatexError, match=r"line 1, column 1: \\mathbf\{1\} is a vector of ones"):
        read_latex(r"\mathbf{1}^{\top} M", {"M": 2})
    (row,) = read_latex(r"\mathbf{1}^{\top} M", {"M": 2, "ones": 1})
    (column,) = read_latex(r"M^{\top} \mathbf{1}", {"M": 2, "ones": 1})
    assert (row.text, row.axes, column.text, column.axes) == ("ones @ M", -1, "transpose(M) @ ones", 1)


def test_a_second_derivative_by_vectors_has_their_shape_and_diag_and_i_are_matrices() -> None:
    """The documents' --hessian rows: d²J/dw² of a vector w is a matrix, d²J/dw db a column, d²J/db² a
    number; Xᵀ diag(s) X is a matrix product (diag of a column being a matrix) and an undeclared I is
    the identity, as in a file. Each was refused before ("by scalar names", "a column vector times a
    matrix", "unknown name 'I'"). By a matrix it is its vec form, a matrix (I_{h} ⊗ x xᵀ); of a vector
    it stays refused."""
    names = {"J": 0, "w": 1, "b": 0, "X": 2, "s": 1, "lamda": 0}
    hessian = r"\lambda I + X^{\top} \operatorname{diag}{\left(s\right)} X"
    rows = {
        rf"\frac{{\mathrm{{d}}^{{2}} J}}{{\mathrm{{d}} w^{{2}}}} = {hessian}": (
            2,
            "lamda*I + ((transpose(X) @ diag(s)) @ X)",
        ),
        r"\frac{\mathrm{d}^{2} J}{\mathrm{d} w\,\mathrm{d} b} = X^{\top} s": (1, "transpose(X) @ s"),
        r"\frac{\mathrm{d}^{2} J}{\mathrm{d} b^{2}} = b": (0, "b"),
    }
    for tex, (axes, text) in rows.items():
        head, side = read_latex(tex, names)
        assert (head.axes, side.axes, side.text) == (axes, axes, text), tex
        assert head.derivatives[0].second is not None
    head, side = read_latex(
        r"\frac{\mathrm{d}^{2} J}{\mathrm{d} X^{2}} = I_{n} \otimes s s^{\top}", names, sizes={"n": 2}
    )
    assert (head.axes, side.axes, side.text) == (2, 2, "kron(eye(n), outer(s, s))")
    with pytest.raises(LatexError, match="a second derivative is of a scalar name"):
        read_latex(r"\frac{\mathrm{d}^{2} s}{\mathrm{d} b^{2}} = 0", names)


def test_a_numbered_index_letter_is_one_index() -> None:
    """SymPy's i1 (taken after i … u, as in layer norm's dL/dW_{ij}) is printed i_{1}: \\sum_{i_{1}=1}^{h}
    d_{i_{1}} was refused ("'_' in a subscript"); it is d's entries summed, beside a d_{i} of its own."""
    names = {"d": 1, "h": 0}
    for tex in (r"d_{i} \sum_{i_{1}=1}^{h} d_{i_{1}}", r"d_{i} \sum_{i_1=1}^{3} d_{i_1}"):
        (side,) = read_latex(tex, names, {"i": 2}, sizes={"h": 3})
        assert side.text == "d2*(d1 + d2 + d3)", tex
    with pytest.raises(LatexError, match="an index letter's subscript is a number"):
        read_latex(r"\sum_{i_{k}=1}^{h} d_{i_{k}}", names, sizes={"h": 3})


def test_a_bold_one_with_its_size_is_that_many_ones_as_the_printer_writes_ones() -> None:
    """Batch normalisation's documents print ones(m) (𝟙ₘ): with its size written, \\mathbf{1}_{m} is read
    without a declared vector of ones, and each printed form reads back as the expression it printed
    (a product after ⊙ bracketed, a matrix's power marked ⊙); a size the reader does not know is refused."""
    m, n = dimension("m"), dimension("n")
    gamma, sigma, centred = sp.Symbol("gamma"), sp.Symbol("sigma"), sp.Symbol("D")
    symbols = {"m": m, "n": n, "gamma": gamma, "sigma": sigma, "D": centred}
    shapes: dict[str, tuple[str, ...]] = {"gamma": ("n",), "sigma": ("n",), "D": ("m", "n")}
    names = {"m": 0, "n": 0, "gamma": 1, "sigma": 1, "D": 2}
    printed = [
        ones(m),
        outer(ones(m), gamma),
        matmul(transpose(centred), ones(m)),
        Hadamard(centred, outer(ones(m), gamma)),  # D ⊙ 𝟙γᵀ unbracketed would read as (D ⊙ 𝟙)γᵀ
        outer(ones(m), sigma) ** 2,  # (𝟙σᵀ)² unmarked would be a matrix product
    ]
    for expr in printed:
        tex = latex(expr)
        assert r"\mathbf{1}_{m}" in tex, tex
        (side,) = read_latex(tex, names, sizes={"m": 3, "n": 2})
        read, shape = parse_shaped(side.text, symbols, shapes)
        assert (read, shape) == parse_shaped(sp.sstr(expr), symbols, shapes), (tex, side.text)
    with pytest.raises(LatexError, match=r"line 1, column 1: \\mathbf\{1\}_\{q\}: 'q' is no size"):
        read_latex(r"\mathbf{1}_{q}", names)
