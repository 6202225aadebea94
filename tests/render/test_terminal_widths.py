"""Output that is right on every terminal (issue 16): every shipped model at 40, 60, 80 and 100 columns.

Each derivation is rendered as Rich's own tests render, to a `Console(width=W, file=StringIO())`,
and read as text. Maths that Rich wrapped itself shows as a 2-D form cut apart (a bracket's top
piece with no middle or bottom piece under it) or as one-line maths broken inside a bracket or a
name; a title cut by the border shows no "…".
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import unicodedata
from functools import cache

import pytest
import sympy as sp
from rich.cells import cell_len
from rich.console import Console, Group

import symcalc
from symcalc.render.console import render_derivation
from symcalc.render.views import EVERYTHING
from tests.conftest import DERIVATIONS

MODELS = sorted(p.stem for p in DERIVATIONS.glob("*.toml"))
WIDTHS = [40, 60, 80, 100]

#: Which piece of a tall bracket must stand under each piece, in the same column.
_BELOW = {"⎛": "⎜⎝", "⎜": "⎜⎝", "⎞": "⎟⎠", "⎟": "⎟⎠", "⎡": "⎢⎣", "⎢": "⎢⎣", "⎤": "⎥⎦", "⎥": "⎥⎦"}
_ABOVE = {"⎝": "⎛⎜", "⎜": "⎛⎜", "⎠": "⎞⎟", "⎟": "⎞⎟", "⎣": "⎡⎢", "⎢": "⎡⎢", "⎦": "⎤⎥", "⎥": "⎤⎥"}
#: Box drawing that separates the cells of a line: panel sides and table rules.
_CELL = re.compile(r"[│┃]")
#: A piece of a name: subscripts, superscripts or primes, which never start a name of their own.
#: (SymPy writes W1_1 as "W₁ ₁": a subscript after a subscript and a space is the same name's.)
_NAME_TAIL = re.compile(r"(?:^|[(⋅]|(?<![₀-₉ᵢⱼₖₗₚᵣₛₜᵤ])\s)[₀-₉ᵢⱼₖₗₚᵣₛₜᵤ⁰-⁹²³¹ᵀ]")
#: Maths in a line: a product dot, a subscript or superscript, or a binary operator between terms.
_MATHS = re.compile(r"[⋅₀-₉ᵢⱼₖ²³ᵀ⊙σ∂]| [-+] | := | = ")
#: English: two words of three or more letters in a row (notes and sentences wrap wherever Rich likes).
_PROSE = re.compile(r"[A-Za-z]{3,},? [a-z]{3,}")


def _columns(line: str) -> list[str]:
    """The characters of a line one per column: a combining mark (the bar of J̅) joins the one before."""
    columns: list[str] = []
    for char in line:
        if columns and unicodedata.combining(char):
            columns[-1] += char
        else:
            columns.append(char)
    return columns


@cache
def _derivation(name: str) -> symcalc.Derivation:
    return symcalc.derive(symcalc.load(str(DERIVATIONS / f"{name}.toml")))


def _written_out(derivation: symcalc.Derivation, width: int) -> object:
    """Every form of a derivation, the entries written out too (a vector model shows fewer by default)."""
    return Group(*render_derivation(derivation, width, views=EVERYTHING))


def render(renderable: object, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def cut_maths(text: str) -> list[str]:
    """The lines of `text` where maths was cut apart: a problem's description for each.

    Three kinds: a piece of a tall bracket (⎛, ⎜, ⎝) with no matching piece above or below it in
    the same column, as when Rich wraps a 2-D form line by line; a line of maths whose round
    brackets do not balance within its cell, as when a one-line form is wrapped inside a bracket;
    and a subscript, superscript or ᵀ that starts a word, the tail of a name cut from its base.
    """
    lines = text.splitlines()
    grid = [_columns(line) for line in lines]
    problems = []
    for row, line in enumerate(lines):
        for column, char in enumerate(grid[row]):
            below = grid[row + 1][column] if row + 1 < len(grid) and column < len(grid[row + 1]) else ""
            above = grid[row - 1][column] if row and column < len(grid[row - 1]) else ""
            if char in _BELOW and char not in "⎜⎟⎢⎥" and below not in _BELOW[char]:
                problems.append(f"line {row + 1}: {char!r} with {below!r} under it: {line.strip()}")
            if char in _ABOVE and char not in "⎜⎟⎢⎥" and above not in _ABOVE[char]:
                problems.append(f"line {row + 1}: {char!r} with {above!r} over it: {line.strip()}")
        # A grid's columns (a definition and its note) are three spaces apart or more.
        for cell in (part for side in _CELL.split(line) for part in re.split(r"\s{3,}", side)):
            if _MATHS.search(cell) and not _PROSE.search(cell) and cell.count("(") != cell.count(")"):
                problems.append(f"line {row + 1}: maths broken inside brackets: {cell.strip()}")
            if _NAME_TAIL.search(cell.rstrip()):
                problems.append(f"line {row + 1}: a name cut from its base: {cell.strip()}")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", MODELS)
def test_no_line_is_wider_than_the_terminal(name: str, width: int) -> None:
    text = render(_written_out(_derivation(name), width), width)
    wide = [line for line in text.splitlines() if cell_len(line) > width]
    assert not wide, "\n".join(wide)


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", MODELS)
def test_maths_is_never_cut_apart(name: str, width: int) -> None:
    problems = cut_maths(render(_written_out(_derivation(name), width), width))
    assert not problems, "\n".join(problems)


def test_the_check_finds_maths_that_rich_wrapped() -> None:
    """The check above, on what the terminal showed before issue 16 was mended, at 60 columns."""
    table = (
        "│ u₁₁       │       ⎛      2⎞       │                    … │\n"
        "│           │ v₁⋅x₁⋅⎝1 - h₁ ⎠⋅(a -  │ 2⎞                   │\n"
        "│           │ y)                    │ u₁₁ := u₁₁ -         │\n"
    )
    assert [p.split(":")[1] for p in cut_maths(table)] == [
        " '⎞' with '₁' under it",
        " maths broken inside brackets",
    ]
    model = (
        "│ L = -y⋅log(a) - (1 -        loss function: binary        │\n"
        "│ y)⋅log(1 - a)               cross-entropy                │\n"
    )
    assert len(cut_maths(model)) == 2
    assert cut_maths("│ dL/du₁ │\n│ ₁ = x₁ │") and not cut_maths("│ dL/du₁₁ = x₁⋅(a - y) │")


def _tops(text: str) -> list[str]:
    """The titles in the top borders of the panels, as shown."""
    return [line[3:].rstrip("─╮").rstrip() for line in text.splitlines() if line.startswith("╭─ ")]


@pytest.mark.parametrize("width", [40, 60])
def test_titles_too_long_for_the_border_end_with_an_ellipsis(width: int) -> None:
    derivation = _derivation("two_layer_network")
    full, shown = _tops(render(derivation, 300)), _tops(render(derivation, width))
    assert len(full) == len(shown)
    cut = [(whole, part) for whole, part in zip(full, shown, strict=True) if whole != part]
    assert cut, "no title was too long at this width"
    for whole, part in cut:
        assert part.endswith("…") and whole.startswith(part[:-1]), (whole, part)
    assert shown[0].startswith("A two-layer network: ")


def test_a_title_that_fits_is_not_cut() -> None:
    text = render(_derivation("logistic_regression"), 100)
    assert "╭─ Logistic regression: the derivatives that update w₁, w₂ and b ─" in text


def test_a_sum_too_wide_breaks_between_its_terms_in_two_dimensions() -> None:
    from symcalc.render.pretty import pretty_chain

    seed = _derivation("logistic_regression")
    loss = dict(seed.model.definitions)[seed.loss]
    assert pretty_chain([seed.loss, loss], width=30).splitlines() == [
        "L = -y⋅log(a)",
        "    - (1 - y)⋅log(1 - a)",
    ]


def test_a_product_too_wide_breaks_between_its_factors_in_two_dimensions() -> None:
    from symcalc.render.console import equation_parts
    from symcalc.render.pretty import pretty, pretty_chain

    network = _derivation("two_layer_network")
    u11 = network.model.symbols["u11"]
    equation = next(eq for step in network.steps for eq in step.equations if eq.wrt == u11 and not eq.local)
    parts = equation_parts(equation)
    lines = pretty_chain(parts, width=26).splitlines()
    assert max(cell_len(line) for line in lines) <= 26
    assert not cut_maths("\n".join(lines))
    # the result's last factor on a row of its own, after its ⋅, under the result's first
    last = lines[-1].strip()
    assert last.startswith("⋅") and pretty(parts[-1]).replace(" ", "").endswith(last.replace(" ", ""))
    assert lines[-1].index("⋅") == lines[-2].index("=") + 2


def _nested_sum(depth: int) -> sp.Expr:
    """tanh(a₁ + b₁⋅tanh(a₂ + b₂⋅tanh(…))): sums inside brackets inside sums, as an RNN's steps are."""
    inner: sp.Expr = sp.Symbol("x")
    for level in range(depth, 0, -1):
        a, b = sp.symbols(f"a{level} b{level}")
        inner = sp.tanh(a + b * inner + sp.Symbol(f"c{level}"))
    return inner


@pytest.mark.parametrize(("depth", "width"), [(2, 26), (3, 40), (4, 50)])
def test_a_sum_too_wide_inside_brackets_breaks_under_tall_brackets(depth: int, width: int) -> None:
    """Each tanh(…) of a sum too wide is drawn around its sum's rows, its brackets as tall as they are:
    never one line cut inside a bracket, nor a form wider than the room."""
    from symcalc.render.pretty import pretty, pretty_chain

    expr = _nested_sum(depth)
    text = pretty_chain([sp.Symbol("h"), expr], width=width)
    assert cell_len(pretty(expr)) > width  # too wide on one line
    assert max(cell_len(line) for line in text.splitlines()) <= width, text
    assert "⎛" in text and "⎝" in text and not cut_maths(text), text
    # every name of the expression is still there, and the rows read in its order
    names = [str(s) for s in sorted(expr.free_symbols, key=str)]
    flat = text.translate(str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789"))
    assert all(name in flat for name in names), (names, text)


def test_one_line_maths_breaks_before_an_operator_or_a_product_dot_never_inside_a_name() -> None:
    from symcalc.render.lines import wrap_maths

    text = "u₁₁ := u₁₁ - α⋅v₁⋅x₁⋅(1 - h₁²)⋅(a - y)"
    assert wrap_maths(text, 30, 7) == ["u₁₁ := u₁₁ - α⋅v₁⋅x₁⋅(1 - h₁²)", "       ⋅(a - y)"]
    for width in range(12, 40):
        lines = wrap_maths(text, width, 7)
        assert all(cell_len(line) <= width for line in lines), lines
        tokens = " ".join(lines).replace("⋅", " ⋅").split()
        assert set(tokens) <= {"u₁₁", ":=", "-", "α", "⋅v₁", "⋅x₁", "⋅(1", "h₁²)", "⋅(a", "y)"}, lines


def test_the_seed_at_60_columns_keeps_each_definition_whole() -> None:
    text = render(_derivation("logistic_regression"), 60)
    assert "│ L = -(y⋅log(a) + (1 - y)⋅log(1 - a))" in text  # as the file writes it
    assert "loss function: binary cross-entropy" in text


def _verify(name: str, width: int) -> str:
    environment = {**os.environ, "COLUMNS": str(width), "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable, "-m", "symcalc", "verify", name]
    result = subprocess.run(command, capture_output=True, env=environment, timeout=300, check=True)
    return result.stdout.decode("utf-8")


def _table_words(text: str, columns: int = 4) -> list[str]:
    """The words of a verify table's first `columns` columns."""
    rows = [line for line in text.splitlines() if line.startswith(("│", "┃"))]
    return [word for row in rows for cell in _CELL.split(row)[1 : columns + 1] for word in cell.split()]


@pytest.mark.slow
def test_the_verify_table_shows_every_column_at_60_and_breaks_no_word() -> None:
    narrow, wide = _verify("two_layer_network", 60), _verify("two_layer_network", 200)
    rows = [line for line in narrow.splitlines() if line.startswith(("│", "┃", "┏", "┡", "└"))]
    assert all(cell_len(line) <= 60 for line in narrow.splitlines())
    header = next(line for line in rows if line.startswith("┃"))
    titles = [cell.strip() for cell in _CELL.split(header)][1:-1]
    assert titles == ["check", "result", "decided by", "statement"]
    # every row has its four cells and its right-hand border, none of them squeezed to nothing
    cells = [line for line in rows if line.startswith(("│", "┃"))]
    assert all(len(_CELL.split(line)) == 6 for line in cells), cells
    assert all(line.rstrip()[-1] in "│┃┓┩┘" for line in rows), rows
    # names and methods wrap at spaces; statements as maths does (after an operator), none cut
    known = set(_table_words(wide, 3))
    broken = [w for w in _table_words(narrow, 3) if w not in known]
    assert not broken, broken
    assert "finite" in _table_words(narrow) and "differences" in _table_words(narrow)
    assert _statements(narrow) == _statements(wide)


@pytest.mark.slow
@pytest.mark.parametrize("width", [40, 50])
def test_a_narrow_verify_stacks_each_check_over_its_statement_and_crops_nothing(width: int) -> None:
    narrow, wide = _verify("two_layer_network", width), _verify("two_layer_network", 200)
    assert all(cell_len(line) <= width for line in narrow.splitlines())
    assert not any(line.startswith(("│", "┃")) for line in narrow.splitlines())  # no table
    flowing = " ".join(narrow.split())  # the text, each line break and indent one space
    table = [line for line in wide.splitlines() if line.startswith("│")]
    rows = [[cell.strip() for cell in _CELL.split(line)] for line in table]
    assert len(rows) > 40
    for _, name, result, method, statement, _ in rows:
        mark = result.split()[0]
        assert f"{mark} {name} — {method}" in flowing, name
        assert statement in flowing, statement
    assert not cut_maths(narrow)


@pytest.mark.parametrize("width", WIDTHS)
def test_prose_keeps_every_name_whole_and_loses_none(width: int) -> None:
    """SymPy writes W1_1 as "W₁ ₁": a sentence may break at that space neither inside it."""
    text = render(_written_out(_derivation("softmax_regression_vector"), width), width)
    header = text[: text.index("Model")]
    words = " ".join(line.strip("│ ") for line in header.splitlines()[1:])
    for name in ("W₁ ₁", "W₁ ₂", "W₂ ₁", "W₂ ₂", "W₃ ₁", "W₃ ₂", "c₁", "c₂", "c₃"):
        assert f"dL/d{name}," in words or f"dL/d{name} and" in words, (name, words)


def _statements(text: str) -> list[str]:
    """Each check's statement in a verify table, its lines joined (a check's first line has a result)."""
    statements: list[str] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        _, _, result, _, statement, _ = (cell.strip() for cell in _CELL.split(line))
        if result:
            statements.append(statement)
        else:
            statements[-1] += statement
    return ["".join(statement.split()) for statement in statements]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["logistic_regression", "two_layer_network_vector"])
def test_at_80_columns_verify_wraps_each_statement_and_cuts_none(name: str) -> None:
    text, wide = _verify(name, 80), _verify(name, 250)
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    assert "…" not in text
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert cell_len(_CELL.split(header)[4]) >= 24  # the statement's column, with its padding
    assert _statements(text) == _statements(wide)
    assert "…" not in wide


@pytest.mark.parametrize("width", [40, 60, 80])
def test_insight_bullets_wrap_with_a_hanging_indent(width: int) -> None:
    text = render(_derivation("logistic_regression"), width)
    panel = text[text.index("Key insights") :].splitlines()[1:]
    lines = [
        line[2:-2].rstrip() for line in panel[: next(i for i, x in enumerate(panel) if x.startswith("╰"))]
    ]
    bullets = [line for line in lines if line.startswith("• ")]
    assert len(bullets) == len(_derivation("logistic_regression").insights)
    continued = [line for line in lines if not line.startswith("• ")]
    assert continued  # at these widths some insight takes two lines
    assert all(line.startswith("  ") and line[2] != " " for line in continued), continued


def test_a_sigma_too_wide_is_drawn_small_and_a_fraction_keeps_its_bar() -> None:
    """Attention's index form: Σⱼ of a fraction whose numerator is a difference of Σs. SymPy's Σ is as
    wide as its bounds; where that leaves no room the Σ is drawn a row high (its bounds above and
    under it), the numerator broken between its terms over the whole bar."""
    from symcalc.render.pretty import pretty, pretty_chain

    i, j, k, t, d = sp.symbols("i j k t d", integer=True, positive=True)
    o, y, a, values, keys = (sp.IndexedBase(name) for name in ("o", "y", "a", "V", "K"))
    inner = sp.Sum((o[k] - y[k]) * values[j, k], (k, 1, d))
    numerator = inner - sp.Sum(a[k] * sp.Sum((o[i] - y[i]) * values[k, i], (i, 1, d)), (k, 1, t))
    expr = sp.Sum(numerator * keys[j, i] * a[j] / sp.sqrt(d), (j, 1, t))
    width = 40
    text = pretty_chain([sp.Symbol("g"), expr], width=width)
    assert cell_len(pretty(expr).splitlines()[0]) > width
    assert max(cell_len(line) for line in text.splitlines()) <= width, text
    assert not cut_maths(text), text
    assert "Σ" in text and "j=1" in text and "─" * 10 in text, text  # a small Σ, over a fraction's bar
    assert "√d" in text
