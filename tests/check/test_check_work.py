"""`symcalc check-work`: a person's derivation, every `=` checked against the model.

What each test expects is decided by an independent oracle first (`oracle_holds`: SymPy's diff of the
model with every definition put in but the name differentiated by, evaluated with mpmath at random
points), never by symcalc; then the command must agree, and name the first wrong `=` by its place.
"""

from __future__ import annotations

import io
import json
import random
import time
from pathlib import Path
from typing import Any

import mpmath
import pytest
import sympy as sp

import symcalc
from symcalc.symbolic.functions import to_elementary
from tests.conftest import SEED, Runner
from tests.printed import oracle_entries

y, a, x1, w1, lam = sp.symbols("y a x1 w1 lamda")

#: The seed's derivation as a lecture writes it; line numbers of the file below are fixed.
SEED_TEX = r"""\documentclass{article}
\begin{document}
The loss of one sample is $L = -(y\log a + (1-y)\log(1-a))$ with $a = \sigma(z)$.
\begin{align*}
\frac{\partial L}{\partial a} &= -\frac{y}{a} + \frac{1 - y}{1 - a} \\
\frac{\partial a}{\partial z} &= \sigma(z)\left(1 - \sigma(z)\right) = a(1 - a) \\
\frac{\partial L}{\partial z} &= \frac{\partial L}{\partial a}\frac{\partial a}{\partial z}
  = \left(-\frac{y}{a} + \frac{1 - y}{1 - a}\right) a (1 - a) \\
  &= a - y \\
\frac{\partial L}{\partial w_1} &= \frac{\partial L}{\partial z}\frac{\partial z}{\partial w_1}
  = (a - y)\, x_1 \\
\frac{\partial L}{\partial b} &= a - y
\end{align*}
\end{document}
"""
#: What the derivative on each line's left is claimed to be, for the oracle.
SEED_CLAIMS = [
    ("L", "a", -y / a + (1 - y) / (1 - a)),
    ("a", "z", a * (1 - a)),
    ("L", "z", a - y),
    ("L", "w1", (a - y) * x1),
    ("L", "b", a - y),
]


def oracle_holds(model: symcalc.Model, of: str, wrt: str, claimed: sp.Expr, seed: int = 1) -> bool:
    """Whether d(of)/d(wrt) through the model equals `claimed`, by SymPy's diff at 5 random points."""
    symbols = model.symbols
    (derivative,) = oracle_entries(model, symbols[of], [symbols[wrt]])
    rng = random.Random(seed)
    for _ in range(5):
        values = {
            s: sp.Float(rng.uniform(0.05, 0.95) if s.name == "y" else rng.uniform(-2, 2), 40)
            for s in model.independents
        }
        for symbol, definition in model.definitions:
            values[symbol] = to_elementary(definition).xreplace(values)
        left = to_elementary(derivative).xreplace(values).evalf(40)
        right = to_elementary(claimed).xreplace({sp.Symbol(k.name): v for k, v in values.items()}).evalf(40)
        if abs(mpmath.mpf(str(left)) - mpmath.mpf(str(right))) > mpmath.mpf("1e-25"):
            return False
    return True


def work(tmp_path: Path, text: str, name: str = "work.tex") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def checks_of(run: Runner, model: str, path: str) -> tuple[int, list[dict[str, Any]]]:
    code, out, _ = run(["check-work", model, path, "--json"])
    return code, json.loads(out)["files"][0]["checks"]


@pytest.mark.slow
def test_the_oracle_holds_every_line_of_the_seeds_derivation_and_so_does_check_work(
    seed_model: symcalc.Model, run: Runner, tmp_path: Path
) -> None:
    assert all(oracle_holds(seed_model, of, wrt, claimed) for of, wrt, claimed in SEED_CLAIMS)
    code, checks = checks_of(run, str(SEED), work(tmp_path, SEED_TEX))
    assert code == 0
    assert len(checks) == 9 and all(c["status"] == "holds" for c in checks)
    assert checks[0]["name"] == "line 5, column 32"  # the = of \frac{\partial L}{\partial a} &= …


@pytest.mark.slow
def test_a_sign_slip_is_the_first_wrong_line_with_its_place_the_point_and_both_values(
    seed_model: symcalc.Model, run: Runner, tmp_path: Path
) -> None:
    assert not oracle_holds(seed_model, "L", "z", y - a)
    slipped = SEED_TEX.replace("  &= a - y \\\\", "  &= y - a \\\\")
    code, out, _ = run(["check-work", str(SEED), work(tmp_path, slipped)])
    assert code == 1
    assert "✗ line 9, column 4:" in out and "y - a" in out
    assert "left side  =" in out and "right side =" in out
    assert "the derivation has dL/dz = a - y (step 3)" in out and "a sign slip" in out
    code, checks = checks_of(run, str(SEED), work(tmp_path, slipped))
    failed = [c for c in checks if c["status"] == "fails"]
    assert [c["name"] for c in failed] == ["line 9, column 4"]
    assert failed[0]["counterexample"]["point"]


def test_a_missing_factor_fails_where_it_is_dropped(
    seed_model: symcalc.Model, run: Runner, tmp_path: Path
) -> None:
    dropped = -y / a + (1 - y) / (1 - a)
    assert not oracle_holds(seed_model, "L", "z", dropped)
    text = SEED_TEX.replace(r"\right) a (1 - a) \\", r"\right) \\")
    code, checks = checks_of(run, str(SEED), work(tmp_path, text))
    assert code == 1
    assert (
        next(c["name"] for c in checks if c["status"] == "fails") == "line 8, column 3"
    )  # the = of "= (…) \\"


def test_partial_written_for_every_derivative_is_read_as_it_holds_and_the_reading_is_said(
    run: Runner, tmp_path: Path
) -> None:
    model = symcalc.load("logistic_regression_l2")
    assert oracle_holds(model, "J", "w1", (a - y) * x1 + lam * w1)
    text = (
        "$$\n\\begin{aligned}\n"
        "\\frac{\\partial J}{\\partial w_1} &= \\lambda w_1 \\\\\n"
        "\\frac{\\partial J}{\\partial w_1} &= (a - y) x_1 + \\lambda w_1\n"
        "\\end{aligned}\n$$\n"
    )
    code, checks = checks_of(run, "logistic_regression_l2", work(tmp_path, text, "work.md"))
    assert code == 0
    assert "∂J/∂w1 read as the derivative of a definition alone (a local step)" in checks[0]["detail"]
    assert "∂J/∂w1 read as the derivative through the model" in checks[1]["detail"]


def test_a_step_right_only_for_labels_holds_under_the_models_domain(run: Runner, tmp_path: Path) -> None:
    labelled = SEED.read_text(encoding="utf-8").replace(
        "[definitions]", '[domains]\ny = "{0, 1}"\n\n[definitions]'
    )
    model_path = tmp_path / "labelled.toml"
    model_path.write_text(labelled, encoding="utf-8")
    line = "dL/dz = a - y^2\n"
    code, checks = checks_of(run, str(model_path), work(tmp_path, line, "work.txt"))
    assert code == 0 and checks[0]["status"] == "holds"
    code, checks = checks_of(run, str(SEED), work(tmp_path, line, "work.txt"))  # y over the reals
    assert code == 1 and checks[0]["status"] == "fails"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (r"\frac{\partial L}{\partial z} = a - \frac{y}{", "line 2, column"),
        (r"\frac{\partial L}{\partial z} = a - q", "line 2, column 37: unknown name 'q'"),
        (r"\frac{\partial L}{\partial z} = \input{/etc/passwd}", "line 2, column 33: '\\input' defines"),
        (r"\frac{\partial L}{\partial z} = \def\x{\x}\x", "line 2, column 33: '\\def' defines"),
    ],
)
def test_a_line_that_cannot_be_read_is_one_error_with_its_place(
    line: str, problem: str, run: Runner, tmp_path: Path
) -> None:
    path = work(tmp_path, f"\\[\n{line}\n\\]\n")
    started = time.perf_counter()
    code, out, err = run(["check-work", str(SEED), path])
    assert code == 2 and not out
    assert err.count("\n") == 1 and problem in err and path in err, err
    assert "Traceback" not in err and time.perf_counter() - started < 30


def test_a_derivation_without_maths_or_of_another_kind_is_bad_input(run: Runner, tmp_path: Path) -> None:
    code, _, err = run(["check-work", str(SEED), work(tmp_path, "just prose\n")])
    assert code == 2 and "no display maths" in err
    code, _, err = run(["check-work", str(SEED), work(tmp_path, "x", "work.docx")])
    assert code == 2 and ".tex, .md or .txt" in err


VECTOR_TEX = r"""\begin{align}
\frac{\partial L}{\partial z} &= a - y \\
\frac{\partial L}{\partial g} &= \frac{\partial L}{\partial z} v = (a - y) v \\
\frac{\partial L}{\partial s} &= (1 - g^2) \odot \frac{\partial L}{\partial g} \\
\frac{\partial L}{\partial W} &= \frac{\partial L}{\partial s} x^\top \\
\frac{\partial L}{\partial W} &= x \left(\frac{\partial L}{\partial s}\right)^\top \\
\frac{\partial L}{\partial W_{12}} &= (a - y) v_1 (1 - g_1^2) x_2
\end{align}
"""


@pytest.mark.slow
def test_a_transposed_outer_product_in_a_vector_derivation_is_the_wrong_line(
    run: Runner, tmp_path: Path
) -> None:
    model = symcalc.load("two_layer_network_vector")
    v1, g1, x2 = sp.symbols("v1 g1 x2")
    assert oracle_holds(model, "L", "W1_2", (a - y) * v1 * (1 - g1**2) * x2)
    code, checks = checks_of(run, "two_layer_network_vector", work(tmp_path, VECTOR_TEX))
    assert code == 1
    assert [c["status"] for c in checks] == ["holds"] * 5 + ["fails", "holds"]
    assert "h × n on the left, n × h on the right" in checks[5]["detail"]


BATCH = """
title = "least squares over a batch"
inputs = ["X[m,n]"]
targets = ["y[m]"]
parameters = ["w[n]"]
[dimensions]
m = 3
n = 2
[definitions]
r = "X @ w - y"
L = "sum(r^2)/(2*m)"
"""
BATCH_TEX = r"""\[
\frac{\partial L}{\partial r} = \frac{1}{m} r.
\]
\begin{align*}
\frac{\partial L}{\partial w} &= \frac{1}{m} X^\top (X w - y) \\
\frac{\partial L}{\partial w} &= X^\top (X w - y)
\end{align*}
"""


@pytest.mark.slow
def test_a_dropped_one_over_m_is_the_wrong_line(run: Runner, tmp_path: Path) -> None:
    model_path = tmp_path / "batch.toml"
    model_path.write_text(BATCH, encoding="utf-8")
    model = symcalc.load(str(model_path))
    X11, X21, X31, r1, r2, r3 = sp.symbols("X1_1 X2_1 X3_1 r1 r2 r3")
    mean = (X11 * r1 + X21 * r2 + X31 * r3) / 3
    assert oracle_holds(model, "L", "w1", mean) and not oracle_holds(model, "L", "w1", 3 * mean)
    code, checks = checks_of(run, str(model_path), work(tmp_path, BATCH_TEX))
    assert code == 1
    assert [(c["name"], c["status"]) for c in checks] == [
        ("line 2, column 31", "holds"),
        ("line 5, column 32", "holds"),
        ("line 6, column 32", "fails"),
    ]


@pytest.mark.slow
def test_standard_input_is_read_as_text_lines_or_as_latex(
    run: Runner, monkeypatch: pytest.MonkeyPatch, seed_model: symcalc.Model
) -> None:
    assert oracle_holds(seed_model, "L", "w1", (a - y) * x1)
    monkeypatch.setattr("sys.stdin", io.StringIO("dL/dw1 = (a - y)*x1\n"))
    code, checks = checks_of(run, str(SEED), "-")
    assert code == 0 and [c["name"] for c in checks] == ["line 1, column 8"]
    monkeypatch.setattr("sys.stdin", io.StringIO("prose $$\\frac{dL}{dw_1} = x_1 (a - y)$$\n"))
    code, checks = checks_of(run, str(SEED), "-")
    assert code == 0 and [c["name"] for c in checks] == ["line 1, column 25"]


@pytest.mark.slow
def test_the_html_page_typesets_each_equals_escaped_and_marks_it(run: Runner, tmp_path: Path) -> None:
    slipped = SEED_TEX.replace("  &= a - y \\\\", "  &= y - a \\\\")
    page = tmp_path / "work.html"
    code, _, err = run(["check-work", str(SEED), work(tmp_path, slipped), "--html", str(page)])
    assert code == 1 and "wrote" in err
    text = page.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in text
    assert '<h2 class="fails">✗ line 9, column 4</h2>' in text
    assert '<div class="math">\\frac{\\partial L}{\\partial z} = y - a</div>' in text
    assert text.count('class="holds"') == 8
    code, _, err = run(
        ["check-work", str(SEED), work(tmp_path, slipped), "--html", str(tmp_path / "page.pdf")]
    )
    assert code == 2 and not (tmp_path / "page.pdf").exists()
