"""Threat: names that silently mean something else or print as another name (bad-inputs.md §3).

A declared `E` must stay a plain symbol through every command (derive, verify,
LaTeX, codegen), never Euler's number; `lambda` and non-ASCII names are refused
with the fix; two names that a reader cannot tell apart on paper or in the
terminal are an error naming both.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.spec.names import check_name
from tests.conftest import Runner, WriteToml

SPECIAL = ("E", "I", "N", "S", "O", "Q", "beta", "gamma", "zeta", "pi")
SPECIAL_MODEL = """\
inputs = ["E", "I", "N", "S", "O", "Q"]
targets = ["y"]
parameters = ["beta", "gamma", "zeta", "pi"]
[definitions]
z = "beta*E + gamma*I + zeta*N + pi*S + O*Q"
L = "(z - y)**2"
"""


@pytest.fixture
def special(write_toml: WriteToml) -> Path:
    return write_toml(SPECIAL_MODEL)


def test_sympy_meaningful_names_are_plain_symbols_in_the_model(special: Path) -> None:
    model = symcalc.load(str(special))
    for name in SPECIAL:
        sym = model.symbols[name]
        assert type(sym) is sp.Symbol and sym.name == name
    z = model.definition_map[model.symbols["z"]]
    assert not z.atoms(sp.NumberSymbol) and sp.I not in z.atoms()  # not e, π or the imaginary unit
    assert not z.atoms(sp.Function) and z.free_symbols == {model.symbols[n] for n in SPECIAL}


def test_sympy_meaningful_names_are_plain_symbols_in_derive_and_verify(run: Runner, special: Path) -> None:
    code, out, err = run(["derive", str(special), "--json"])
    assert code == 0, err
    gradients = json.loads(out)["gradients"]
    # Checked against SymPy's diff of the composed loss, with every name a fresh plain symbol.
    names = {n: sp.Symbol(n) for n in (*SPECIAL, "y")}
    composed = sp.sympify("(beta*E + gamma*I + zeta*N + pi*S + O*Q - y)**2", locals=names)
    for param in ("beta", "gamma", "zeta", "pi"):
        assert composed.has(names[param])
        z = sp.Symbol("z")
        got = sp.sympify(gradients[param], locals={**names, "z": z}).subs(z, composed.args[0] + names["y"])
        assert sp.simplify(got - sp.diff(composed, names[param])) == 0
    code, out, err = run(["verify", str(special), "--strict"])
    assert code == 0, out + err


def test_sympy_meaningful_names_print_as_themselves_in_latex(run: Runner, special: Path) -> None:
    code, out, err = run(["latex", str(special)])
    assert code == 0, err
    assert r"z &= \beta E + \gamma I + \zeta N + \pi S + O Q" in out  # in the file's order
    assert r"\mathrm{Im}" not in out and r"\Gamma" not in out and "e^{" not in out


def test_sympy_meaningful_names_are_plain_variables_in_codegen(
    run: Runner, special: Path, tmp_path: Path
) -> None:
    target = tmp_path / "special_mod.py"
    code, _, err = run(["codegen", str(special), "-o", str(target)])
    assert code == 0, err
    spec = importlib.util.spec_from_file_location("special_mod", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = {n: np.array([0.5 + i]) for i, n in enumerate(("E", "I", "N", "S", "O", "Q"))}
    data["y"] = np.array([1.0])
    params = {"beta": 0.1, "gamma": 0.2, "zeta": 0.3, "pi": 0.4}
    z = 0.1 * 0.5 + 0.2 * 1.5 + 0.3 * 2.5 + 0.4 * 3.5 + 4.5 * 5.5  # E=0.5 … Q=5.5, never e, i or π
    assert module.loss(params, data) == pytest.approx((z - 1.0) ** 2)
    assert module.gradient(params, data)["pi"] == pytest.approx(2 * 3.5 * (z - 1.0))


# -- names that cannot be: one clear line with the fix ------------------------------------------


def test_lambda_is_refused_with_the_fix(run: Runner, write_toml: WriteToml) -> None:
    path = write_toml('inputs = ["x"]\nparameters = ["lambda"]\n[definitions]\nL = "x"\n')
    code, _, err = run(["derive", str(path)])
    assert code == 2
    expected = "parameters: name 'lambda' is a Python keyword (write 'lamda' instead)"
    assert err == f"symcalc: error: {path}, line 2, {expected}\n"


@pytest.mark.parametrize("keyword", ["if", "for", "None", "True", "import", "class"])
def test_every_keyword_is_refused_with_a_fix_that_is_itself_valid(keyword: str) -> None:
    with pytest.raises(symcalc.ParseError, match=f"name '{keyword}' is a Python keyword") as info:
        check_name(keyword)
    suggestion = (info.value.fix or "").split("'")[1]
    assert check_name(suggestion) == suggestion


@pytest.mark.parametrize(
    "name",
    [
        "α",  # Greek alpha: write alpha
        "x₁",  # subscript one
        "ｘ",  # fullwidth x, which Python folds to x (NFKC)
        "а",  # Cyrillic a, looks like Latin a
        "café",
        "x\u200b",  # zero-width space
    ],
)
def test_non_ascii_names_are_refused(run: Runner, write_toml: WriteToml, name: str) -> None:
    path = write_toml(f'inputs = ["{name}"]\nparameters = ["w"]\n[definitions]\nL = "w"\n')
    code, _, err = run(["derive", str(path)])
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "is not ASCII" in err and "A-Z, a-z, digits and '_'" in err


def test_a_non_ascii_name_in_an_expression_is_refused(run: Runner, write_toml: WriteToml) -> None:
    # Python would read the fullwidth ｘ as x; we refuse it instead of folding it.
    path = write_toml('inputs = ["x"]\nparameters = ["w"]\n[definitions]\nL = "w*ｘ"\n')
    code, _, err = run(["derive", str(path)])
    assert code == 2
    assert "character 'ｘ' is not allowed" in err and "line 4, column 8" in err  # the file's column


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("x^2", None),  # ^ is power
        ("2x", "write a product with '*': w*(2*x)"),
        ("x!", "'!' is not supported"),
        ("x == y", "comparisons ('==', '<', ...) are not allowed"),
    ],
)
def test_each_ambiguous_operator_has_one_documented_rule(
    run: Runner, write_toml: WriteToml, text: str, rule: str | None
) -> None:
    path = write_toml(f'inputs = ["x", "y"]\nparameters = ["w"]\n[definitions]\nL = "w*({text})"\n')
    code, out, err = run(["derive", str(path), "--json"])
    if rule is None:
        assert code == 0, err
        assert json.loads(out)["gradients"]["w"] == "x**2"
    else:
        assert code == 2 and len(err.splitlines()) == 1
        assert rule in err


# -- names that print alike: reported, naming both ---------------------------------------------

ALIKE = [
    ("x1", "x_1", "x₁"),
    ("x12", "x_12", "x₁₂"),
    ("xabs", "xmag", "|x|"),
    ("xprime", "xprm", "x′"),
    ("xbm", "xbold", r"\boldsymbol{x} in LaTeX"),
    ("Alpha", "A", "A"),  # capital Greek alpha, set as a Latin A
    ("Epsilon", "E", "E"),
    ("omicron", "o", "o"),
    ("Lamda", "Lambda", "Λ"),
    ("Upsilon", "Y", "Y"),
]


@pytest.mark.parametrize(("first", "second", "shown"), ALIKE)
def test_two_names_that_print_alike_are_an_error_naming_both(
    run: Runner,
    write_toml: WriteToml,
    first: str,
    second: str,
    shown: str,
) -> None:
    path = write_toml(
        f'inputs = ["{first}", "{second}"]\nparameters = ["w"]\n[definitions]\nL = "w*({first} + {second})"\n'
    )
    code, _, err = run(["derive", str(path)])
    assert code == 2
    assert err == (
        f"symcalc: error: {path}, {second}: names '{first}' and '{second}' both print as {shown} "
        "(rename one of them so that they print differently)\n"
    )


def test_every_pair_is_reported_in_one_run(run: Runner, write_toml: WriteToml) -> None:
    path = write_toml(
        'inputs = ["x1", "x_1", "xabs", "xmag"]\nparameters = ["w", "Alpha"]\n'
        '[definitions]\nA = "w*x1 + x_1 + xabs + xmag + Alpha"\n'
    )
    code, _, err = run(["verify", str(path)])
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 3
    for first, second in (("x1", "x_1"), ("xabs", "xmag"), ("Alpha", "A")):
        assert sum(f"names '{first}' and '{second}'" in line for line in lines) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [("xdot", "x_dot"), ("alpha", "a"), ("lamda", "lam"), ("x12", "x1_2"), ("theta", "Theta"), ("w1", "W1")],
)
def test_names_that_look_different_are_accepted(first: str, second: str) -> None:
    a, b, w, L = sp.Symbol(first), sp.Symbol(second), sp.Symbol("w"), sp.Symbol("L")
    symcalc.Model.build({L: w * (a + b)}, parameters=[w])


def test_a_python_built_model_is_checked_the_same_way() -> None:
    x1, x_1, w, L = sp.symbols("x1 x_1 w L", real=True)
    with pytest.raises(symcalc.SpecError, match="names 'x1' and 'x_1' both print as x₁"):
        symcalc.Model.build({L: w * x1 + x_1}, parameters=[w])


def test_every_shipped_model_has_names_that_print_differently() -> None:
    for name in symcalc.builtin_models():
        symcalc.load(name)  # Model.check runs the comparison; any pair would raise
