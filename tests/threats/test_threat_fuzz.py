"""Threat: any input we did not think of — property-based fuzz of the expression parser and the file loader.

Random well-formed but adversarial expressions, and random TOML documents built
from adversarial keys, names and values: every input must give a result or the
project's own error (one line), never another exception. Fixed seed
(`derandomize=True`) and a bounded number of examples, so CI is repeatable and fast.
"""

from __future__ import annotations

import json
import math

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symcalc.errors import ParseError, SpecErrors, SymcalcError
from symcalc.spec.toml import check
from symcalc.symbolic.building import make_symbol
from symcalc.symbolic.functions import FUNCTIONS
from symcalc.symbolic.graph import Model
from symcalc.symbolic.parse import parse_expression

FUZZ = settings(
    derandomize=True,
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

DECLARED = ("x", "y", "w1", "b", "E", "I", "N", "S", "O", "Q", "beta", "gamma", "zeta", "pi", "lamda")
NAMES = {n: make_symbol(n) for n in DECLARED}

ATOMS = st.sampled_from(
    [
        *DECLARED,
        "0",
        "1",
        "-1",
        "0.5",
        "1e300",
        "1e308",
        "1e309",
        "1e-400",
        "1e999999",
        "9**9**9",
        "10**15",
        "999999999999999999999999",
        "0.0",
        "'s'",
        "b''",
        "True",
        "None",
        "...",
        "__import__",
        "__builtins__",
        "lambda",
        "exp",
        "unknown",
        "E.real",
        "x[0]",
        "1j",
        "0x10",
        "1_000",
    ]
)
BINARY = st.sampled_from(
    ["+", "-", "*", "/", "**", "^", "%", "//", "==", "<", " and ", " if x else ", ",", "@"]
)
UNARY = st.sampled_from(["", "-", "+", "~", "not "])
CALLS = st.sampled_from([*FUNCTIONS, "__import__", "eval", "getattr", "Function", "S", "x", "lambda: x"])


def _expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, BINARY, inner).map(lambda t: f"{t[0]}{t[1]}{t[2]}")
        unary = st.tuples(UNARY, inner).map(lambda t: f"{t[0]}({t[1]})")
        call = st.tuples(CALLS, st.lists(inner, min_size=0, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        )
        return binary | unary | call

    return st.recursive(ATOMS, extend, max_leaves=12)


EXPRESSIONS = _expressions()


def _assert_one_line(err: SymcalcError) -> None:
    lines = err.lines if isinstance(err, SpecErrors) else [err.message]
    for line in lines:
        assert line and "\n" not in line and "\r" not in line, line


@pytest.mark.slow
@FUZZ
@given(text=EXPRESSIONS)
def test_adversarial_expressions_give_an_expression_or_a_parse_error(text: str) -> None:
    try:
        expr = parse_expression(text, NAMES)
    except ParseError as err:
        _assert_one_line(err)
        return
    assert isinstance(expr, sp.Expr)
    assert expr.free_symbols <= set(NAMES.values())
    # Nothing SymPy would read as a constant or function slipped in through a name.
    assert not expr.atoms(sp.NumberSymbol) and sp.I not in expr.atoms()
    assert not any(isinstance(f, sp.core.function.AppliedUndef) for f in expr.atoms(sp.Function))


# -- the loader: random TOML documents ------------------------------------------------------------

NAME_TOKENS = st.sampled_from(
    [
        *DECLARED,
        "L",
        "z",
        "a",
        "lambda",
        "if",
        "exp",
        "__class__",
        "_x",
        "x_",
        "x__y",
        "x1",
        "x_1",
        "xabs",
        "xmag",
        "Alpha",
        "A",
        "α",
        "ｘ",
        "x y",
        "x\ny",
        "a" * 33,
        "",
        "dL/dw1",
        "d x/d y",
        "1x",
    ]
)
TEXT = st.one_of(EXPRESSIONS, NAME_TOKENS, st.text(max_size=20))
VALUES: st.SearchStrategy[object] = st.recursive(
    st.one_of(
        TEXT,
        st.integers(-(10**20), 10**20),
        st.sampled_from([0.5, 1e300, -1e308, math.inf, -math.inf, math.nan, 0.0]),
        st.booleans(),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAME_TOKENS, inner, max_size=4),
    max_leaves=8,
)
KEYS = st.sampled_from(
    [
        *("title", "inputs", "targets", "parameters", "loss", "constants", "definitions", "claims"),
        *("notes", "assume", "extra", "Definitions", "x", "a\nb"),
    ]
)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _document(top: dict[str, object], definitions: dict[str, str]) -> str:
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in top.items() if k != "definitions"]
    if "definitions" not in top:
        lines.append("[definitions]")
        lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in definitions.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@FUZZ
@given(
    top=st.dictionaries(KEYS, VALUES, max_size=8),
    definitions=st.dictionaries(NAME_TOKENS, EXPRESSIONS, max_size=4),
    base=st.booleans(),
)
def test_random_files_give_a_model_or_the_projects_own_error(
    top: dict[str, object], definitions: dict[str, str], base: bool
) -> None:
    if base:  # start from a file that is otherwise valid, so the deeper checks run too
        top = {"inputs": ["x", "y"], "parameters": ["w1", "b"], **top}
    text = _document(top, definitions)
    try:
        model = Model.from_spec(*check(text, "fuzz.toml"))
    except SymcalcError as err:
        _assert_one_line(err)
        return
    names = set(model.symbols)
    assert all(make_symbol(n).name == n for n in names)
    assert model.loss in model.definition_map


@pytest.mark.slow
@settings(derandomize=True, max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_as_a_file_gives_a_model_or_the_projects_own_error(text: str) -> None:
    try:
        Model.from_spec(*check(text, "fuzz.toml"))
    except SymcalcError as err:
        _assert_one_line(err)
