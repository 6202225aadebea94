"""LaTeX export: the seed's steps as the page writes them, documents that compile, hostile text kept inert."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.cli.main import main
from symcalc.errors import LimitError, PdfError
from symcalc.render.latex import MAX_LINE, escape_latex, latex, render_latex
from symcalc.render.pdf import compile_pdf
from symcalc.render.views import EVERYTHING
from tests.conftest import DERIVATIONS, SEED
from tests.pdf import needs_pdflatex, pdf_text

# The seed page's steps, written out by hand from the page and checked against it line by line.
# Step 1: dL/da = -y/a + (1-y)/(1-a)  (SymPy puts the positive term first).
STEP_1 = r"\frac{\partial L}{\partial a} &= \frac{1 - y}{1 - a} - \frac{y}{a}"
# Step 2: ∂a/∂z = sigma'(z), then a(1 - a) in the model's own names.
STEP_2 = (
    r"\frac{\partial a}{\partial z} &= \left(1 - \sigma\left(z\right)\right) \sigma\left(z\right) \\"
    "\n"
    r"&= a \left(1 - a\right)"
)
# Step 3: the chain rule, the product before simplification, and (a - y), aligned on "=".
# Local partials (one definition) print with ∂, total derivatives through the graph with d.
STEP_3 = (
    r"\frac{\mathrm{d} L}{\mathrm{d} z} &= "
    r"\frac{\mathrm{d} L}{\mathrm{d} a} \cdot \frac{\partial a}{\partial z} \\"
    "\n"
    r"&= \left(\frac{1 - y}{1 - a} - \frac{y}{a}\right) \cdot \left(a \left(1 - a\right)\right) \\"
    "\n"
    r"&= a - y"
)
# Step 4: ∂z/∂w1 = x1, ∂z/∂w2 = x2, ∂z/∂b = 1.
STEP_4 = (
    r"\frac{\partial z}{\partial w_{1}} &= x_{1} \\"
    "\n"
    r"\frac{\partial z}{\partial w_{2}} &= x_{2} \\"
    "\n"
    r"\frac{\partial z}{\partial b} &= 1"
)
# Step 5, first line: dL/dw1 = dL/dz * dz/dw1 = (a - y) x1.
STEP_5_W1 = (
    r"\frac{\mathrm{d} L}{\mathrm{d} w_{1}} &= "
    r"\frac{\mathrm{d} L}{\mathrm{d} z} \cdot \frac{\partial z}{\partial w_{1}} \\"
    "\n"
    r"&= x_{1} \left(a - y\right)"
)
# The page's final update formulas.
UPDATES = (
    r"w_{1} &:= w_{1} - \alpha x_{1} \left(a - y\right) \\"
    "\n"
    r"w_{2} &:= w_{2} - \alpha x_{2} \left(a - y\right) \\"
    "\n"
    r"b &:= b - \alpha \left(a - y\right)"
)
# The page's general update rule, before the derivatives are put in.
GENERAL_UPDATE = r"w_{1} &:= w_{1} - \alpha \frac{\mathrm{d} L}{\mathrm{d} w_{1}}"


def align(rows: str) -> str:
    return "\\begin{align*}\n" + rows + "\n\\end{align*}"


# -- the seed, against the page -----------------------------------------------------------


def test_each_step_prints_as_the_page_writes_it(seed: symcalc.Derivation) -> None:
    steps = [latex(eq) for eq in seed.steps[0].equations]
    assert steps == [STEP_1]
    assert latex(seed.steps[1].equations[0]) == STEP_2
    assert latex(seed.steps[2].equations[0]) == STEP_3
    assert " \\\\\n".join(latex(eq) for eq in seed.steps[3].equations) == STEP_4
    assert latex(seed.steps[4].equations[0]) == STEP_5_W1
    assert latex(seed.updates[0]) == r"w_{1} &:= w_{1} - \alpha x_{1} \left(a - y\right)"


def test_document_holds_every_step_in_align(seed: symcalc.Derivation) -> None:
    document = render_latex(seed)
    for rows in (STEP_1, STEP_2, STEP_3, STEP_4, UPDATES):
        assert align(rows) in document
    assert STEP_5_W1 in document and GENERAL_UPDATE in document


def test_document_follows_the_pages_structure(seed: symcalc.Derivation) -> None:
    document = render_latex(seed)
    assert document.startswith("% Written by symcalc")
    assert "\\documentclass[11pt]{article}" in document and "\\usepackage{amsmath}" in document
    assert document.rstrip().endswith("\\end{document}")
    title = "Logistic regression: the derivatives that update $w_{1}$, $w_{2}$ and b"
    assert f"\\bfseries {title}\\par}}" in document
    headings = re.findall(r"\\section\*\{(.*)\}", document)
    assert headings == [
        "Objective",
        "The model",
        "Calculation steps overview",
        "Step 1 of 5: Derivative of $L$ with respect to $a$",
        "Step 2 of 5: Derivative of $a$ with respect to $z$",
        "Step 3 of 5: Derivative of $L$ with respect to $z$",
        "Step 4 of 5: Derivatives of $z$ with respect to $w_{1}$, $w_{2}$ and $b$",
        "Step 5 of 5: Derivatives of $L$ with respect to the parameters",
        "Usage in gradient descent",
        "Key insights",
        "Pictures",
    ]
    # The objective names the loss and the parameters, as the page does.
    assert "the loss $L$ with respect to the parameters $w_{1}$, $w_{2}$ and $b$" in document
    assert r"\frac{\mathrm{d} L}{\mathrm{d} b} = \,?" in document
    # The model's definitions, aligned on "=".
    definitions = r"z &= w_{1} x_{1} + w_{2} x_{2} + b \\" + "\n" + r"a &= \sigma\left(z\right) \\"
    assert "\\begin{align*}\n" + definitions in document


def test_notes_appear_beside_the_names_of_each_step(seed: symcalc.Derivation) -> None:
    document = render_latex(seed)
    step_3 = document.split("Step 3 of 5")[1].split("Step 4 of 5")[0]
    assert "\\item $L$: loss function: binary cross-entropy" in step_3
    assert "\\item $y$: true value (ground truth), 0 or 1" in step_3
    assert "\\item $x_{1}$ (input): first input feature" in document


def test_body_only_goes_inside_another_document(seed: symcalc.Derivation) -> None:
    body = render_latex(seed, body_only=True)
    assert "\\documentclass" not in body and "\\begin{document}" not in body and "\\usepackage" not in body
    assert body.startswith("\\section*{Logistic regression")
    assert "\\subsection*{Step 3 of 5: Derivative of $L$ with respect to $z$}" in body
    assert align(STEP_3) in body


def test_names_print_as_a_mathematician_writes_them() -> None:
    assert latex(sp.Symbol("w1")) == "w_{1}"
    assert latex(sp.Symbol("alpha")) == r"\alpha"
    assert latex(sp.Symbol("x_hidden")) == "x_{hidden}"
    assert latex(sp.Symbol("lamda")) == r"\lambda"
    # A name of several letters is one name, not a product of letters.
    assert latex(2 * sp.Symbol("lam") * sp.Symbol("w")) == r"2 \mathit{lam} w"
    assert latex(sp.Symbol("learning_rate")) == r"\mathit{learning}_{rate}"
    assert latex(sp.Symbol("xdot")) == r"\dot{x}"
    assert latex(symcalc.sigmoid(sp.Symbol("z"))) == r"\sigma\left(z\right)"
    assert latex(sp.log(sp.Symbol("a"))) == r"\log\left(a\right)"


def test_a_symbol_that_is_not_a_valid_name_is_printed_as_text() -> None:
    # Models validate names; the printer does not rely on it.
    assert latex(sp.Symbol(r"\input{x}")) == r"\text{\textbackslash{}input\{x\}}"


def test_names_that_print_alike_are_refused_by_every_constructor() -> None:
    """No document can show two names as one: a model refuses them however it is made."""
    x1, x_1, w, L = sp.symbols("x1 x_1 w L", real=True)
    with pytest.raises(symcalc.SpecError, match="names 'x1' and 'x_1' both print as x₁"):
        symcalc.Model.build({L: (w * x1 + x_1) ** 2}, parameters=[w])
    with pytest.raises(symcalc.SpecError, match="names 'x1' and 'x_1' both print as x₁"):
        symcalc.Model("alike", (x1, x_1), (), (w,), ((L, (w * x1 + x_1) ** 2),), L)
    Alpha, A = sp.symbols("Alpha A", real=True)  # \mathrm{A} and A in LaTeX, Α and A on a terminal
    with pytest.raises(symcalc.SpecError, match="names 'A' and 'Alpha' both print as A"):
        symcalc.Model.build({L: (w * Alpha + A) ** 2}, parameters=[w])


# -- escaping free text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("$", r"\ensuremath{\$}"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("\\", r"\textbackslash{}"),
        ("~", r"\textasciitilde{}"),
        ("^", r"\textasciicircum{}"),
        ("[x]", "{[}x{]}"),
        ("a\n\nb\tc", "a b c"),
        ("bell\x07null\x00", "bellnull"),
        ("café ﬁ x²", "cafe fi x2"),
        ("½", "?"),
        ("α β Λ", r"\ensuremath{\alpha} \ensuremath{\beta} \ensuremath{\Lambda}"),
        ("漢", "?"),
        (r"\def\x{\x}\x", r"\textbackslash{}def\textbackslash{}x\{\textbackslash{}x\}\textbackslash{}x"),
    ],
)
def test_escape_latex(text: str, expected: str) -> None:
    assert escape_latex(text) == expected


def test_escaped_text_leaves_no_command_of_its_own() -> None:
    hostile = r"\input{/etc/hostname} \def\x{\x}\x \csname end\endcsname ^^5c"
    escaped = escape_latex(hostile)
    # Every backslash left is one of ours, followed by the escapes we emit.
    assert set(re.findall(r"\\[A-Za-z]+", escaped)) <= {r"\textbackslash", r"\textasciicircum"}


def test_long_text_is_broken_into_lines_tex_can_read() -> None:
    escaped = escape_latex("word " * 300 + "x" * 1000)
    assert max(len(line) for line in escaped.splitlines()) <= MAX_LINE + len(r"\textbackslash{}%")


# -- compiling -----------------------------------------------------------------------------


@pytest.mark.slow
@needs_pdflatex
@pytest.mark.parametrize("path", sorted(DERIVATIONS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_derivation_compiles(path: Path, tmp_path: Path) -> None:
    derivation = symcalc.derive(symcalc.load(str(path)))
    started = time.monotonic()
    pdf = compile_pdf(render_latex(derivation, views=EVERYTHING))
    assert time.monotonic() - started < 30
    assert pdf.startswith(b"%PDF")
    assert f"Step {len(derivation.steps)} of {len(derivation.steps)}" in pdf_text(pdf)


def _zoo() -> dict[str, symcalc.Model]:
    """Models that exercise the other functions, fan-out, constants and printed names."""
    x, y, w, v, b, lam, h, x_hidden, alpha, o, L = sp.symbols("x y w v b lam h x_hidden alpha o L", real=True)
    return {
        "two_layer_tanh_tied": symcalc.Model.build(
            {h: sp.tanh(w * x + b), o: w * h, L: (o - y) ** 2 / 2 + lam * w**2},
            parameters=[w, b],
            targets=[y],
            constants={lam: 0.01},
        ),
        "relu_softplus_names": symcalc.Model.build(
            {x_hidden: symcalc.relu(alpha * x), o: symcalc.softplus(v * x_hidden), L: sp.Abs(o - y)},
            parameters=[alpha, v],
            targets=[y],
        ),
        "exp_sqrt_max": symcalc.Model.build(
            {h: sp.sqrt(sp.exp(w * x) + 1), L: sp.Max(h, v) + sp.log(1 + h**2)},
            parameters=[w, v],
        ),
    }


@needs_pdflatex
@pytest.mark.parametrize("name", sorted(_zoo()))
def test_other_models_compile(name: str) -> None:
    assert compile_pdf(render_latex(symcalc.derive(_zoo()[name]))).startswith(b"%PDF")


def test_a_name_taken_by_the_model_moves_the_learning_rate() -> None:
    document = render_latex(symcalc.derive(_zoo()["relu_softplus_names"]))
    assert "x_{hidden}" in document
    assert r"\alpha &:= \alpha - \eta" in document  # alpha is a parameter here; eta is the rate


HOSTILE = (
    "every special: % & # _ $ { } \\ ~ ^ [ ] < > | and \\input{/etc/hostname} "
    "and \\input{SECRET} and \\def\\x{\\x}\\x and \\end{document} and ^^5c and é漢\n\nnew paragraph"
)


def _hostile_model(secret: Path) -> symcalc.Model:
    text = HOSTILE.replace("SECRET", str(secret))
    w, x, L = sp.symbols("w x L", real=True)
    return symcalc.Model.build(
        {L: (w * x) ** 2}, parameters=[w], inputs=[x], title=text, notes={w: text, x: text, L: text}
    )


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.tex"
    secret.write_text("SECRETMARKER\n")
    return secret


def _assert_no_leak(text: str) -> None:
    assert "SECRETMARKER" not in text
    hostname = Path("/etc/hostname")
    if hostname.is_file() and hostname.read_text().strip():
        assert not re.search(rf"\b{re.escape(hostname.read_text().strip())}\b", text)


@needs_pdflatex
@pytest.mark.parametrize("body_only", [False, True])
def test_hostile_titles_and_notes_compile_and_stay_text(tmp_path: Path, body_only: bool) -> None:
    document = render_latex(symcalc.derive(_hostile_model(_secret(tmp_path))), body_only=body_only)
    if body_only:
        # A host document as a user might write it (with a maths bullet: see PREAMBLE).
        host = "\\documentclass{article}\\usepackage{amsmath}\\renewcommand{\\labelitemi}{$\\bullet$}"
        document = host + "\\begin{document}\n" + document
        document += "\\end{document}\n"
    started = time.monotonic()
    pdf = compile_pdf(document, timeout=20)
    assert time.monotonic() - started < 20
    text = pdf_text(pdf)
    _assert_no_leak(text)
    assert "input{/etc/hostname}" in text  # shown, not run
    assert "new paragraph" in text


# -- the pdflatex runner itself -------------------------------------------------------------

TINY = "\\documentclass{article}\\begin{document}\n%s\n\\end{document}\n"


@pytest.mark.slow
@needs_pdflatex
def test_a_looping_document_is_stopped_by_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(LimitError, match="pdflatex stopped after 2 s"):
        compile_pdf(TINY % r"\def\x{\x}\x", timeout=2)
    assert time.monotonic() - started < 8


@needs_pdflatex
def test_pdflatex_cannot_read_files_outside_its_folder(tmp_path: Path) -> None:
    # Even a document we did not escape cannot read an absolute path (openin_any=p).
    secret = _secret(tmp_path)
    with pytest.raises(PdfError, match=f"pdflatex failed: ! LaTeX Error: File `{secret}' not found"):
        compile_pdf(TINY % rf"\input{{{secret}}}")


@needs_pdflatex
def test_pdflatex_cannot_write_outside_its_folder_or_run_commands(tmp_path: Path) -> None:
    written, touched = tmp_path / "written.tex", tmp_path / "touched"
    body = (
        rf"\immediate\write18{{touch {touched}}}"
        rf"\newwrite\out\immediate\openout\out={written}\immediate\write\out{{x}}\immediate\closeout\out"
        "text"
    )
    with pytest.raises(PdfError, match="pdflatex failed: ! I can't write on file"):
        compile_pdf(TINY % body)
    assert not written.exists() and not touched.exists()


@needs_pdflatex
def test_a_tex_error_is_reported_by_its_first_line() -> None:
    with pytest.raises(PdfError, match=r"pdflatex failed: ! Undefined control sequence\."):
        compile_pdf(TINY % r"\nosuchcommand")


def test_missing_pdflatex_is_a_clear_error() -> None:
    with pytest.raises(PdfError, match="no-such-pdflatex is not installed"):
        compile_pdf(TINY % "x", pdflatex="no-such-pdflatex")


# -- the command ----------------------------------------------------------------------------


def test_cli_latex_prints_the_seed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["latex"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("% Written by symcalc") and align(STEP_3) in out


def test_cli_latex_body_and_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "body.tex"
    assert main(["latex", "--body", "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    text = out.read_text()
    assert "\\documentclass" not in text and align(STEP_3) in text


@needs_pdflatex
def test_cli_latex_pdf_writes_both_files(tmp_path: Path) -> None:
    out = tmp_path / "seed.tex"
    assert main(["latex", "-o", str(out), "--pdf"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed.pdf", "seed.tex"]
    assert (tmp_path / "seed.pdf").read_bytes().startswith(b"%PDF")


@needs_pdflatex
@pytest.mark.slow
def test_cli_pdf_without_an_output_file_writes_model_tex_here_and_never_over_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["latex", "--pdf"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "logistic_regression.pdf",
        "logistic_regression.tex",
    ]
    assert (tmp_path / "logistic_regression.pdf").read_bytes().startswith(b"%PDF")
    assert "\\documentclass" in (tmp_path / "logistic_regression.tex").read_text(encoding="utf-8")
    assert (
        capsys.readouterr().err
        == "symcalc: wrote logistic_regression.tex\nsymcalc: wrote logistic_regression.pdf\n"
    )
    # a file the user wrote under that name is theirs: refused before any work, in one line
    (tmp_path / "logistic_regression.tex").unlink()
    (tmp_path / "logistic_regression.pdf").write_text("mine\n", encoding="utf-8")
    assert main(["latex", "--pdf"]) == 2
    assert capsys.readouterr() == (
        "",
        "symcalc: error: logistic_regression.pdf: already exists: latex --pdf without -o writes "
        "logistic_regression.tex and logistic_regression.pdf here, over a file only with --force "
        "(add --force, or name the file with -o OUT.tex)\n",
    )
    assert [p.name for p in tmp_path.iterdir()] == ["logistic_regression.pdf"]
    assert main(["latex", "--pdf", "--force"]) == 0
    assert (tmp_path / "logistic_regression.pdf").read_bytes().startswith(b"%PDF")
    # a model file's name, in the current folder (not beside the model)
    source = tmp_path / "models" / "tanh_unit.toml"
    source.parent.mkdir()
    source.write_text((DERIVATIONS / "tanh_unit.toml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["latex", str(source), "--pdf"]) == 0
    assert (tmp_path / "tanh_unit.pdf").read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in source.parent.iterdir()) == ["tanh_unit.toml"]


def test_cli_pdf_of_a_body_is_refused_before_choosing_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["latex", "--body", "--pdf"]) == 2
    assert "drop --body" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_pdf_of_standard_input_needs_an_output_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(SEED.read_bytes())))
    assert main(["latex", "-", "--pdf"]) == 2
    assert "needs -o OUT.tex" in capsys.readouterr().err


def test_cli_pdf_needs_a_whole_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["latex", "--body", "--pdf", "-o", str(tmp_path / "x.tex")]) == 2
    assert "drop --body" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_to_write_the_tex_over_its_pdf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["latex", "--pdf", "-o", str(tmp_path / "x.pdf")]) == 2
    # refused by its extension, before anything is derived or written
    assert "latex -o writes LaTeX, not PDF" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _fake_pdflatex(folder: Path, script: str) -> Path:
    folder.mkdir()
    fake = folder / "pdflatex"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)
    return folder


def test_a_failing_pdf_run_leaves_no_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A pdflatex that writes half a PDF and a log with an error, then fails.
    bin_dir = _fake_pdflatex(
        tmp_path / "bin",
        "printf '%%PDF-1.5 half' > document.pdf\nprintf '! Emergency stop.\\n' > document.log\nexit 1\n",
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["latex", "-o", str(out_dir / "seed.tex"), "--pdf"]) == 2
    assert "pdflatex failed: ! Emergency stop." in capsys.readouterr().err
    assert list(out_dir.iterdir()) == []  # no OUT.pdf, no OUT.tex, no temporary file


def test_missing_pdflatex_exits_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["latex", "-o", str(tmp_path / "seed.tex"), "--pdf"]) == 2
    assert "pdflatex is not installed (install TeX Live" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_output_over_a_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "taken.tex").mkdir()
    assert main(["latex", "-o", str(tmp_path / "taken.tex")]) == 2
    assert "taken.tex: exists and is not a file" in capsys.readouterr().err


def test_a_pdf_that_cannot_be_written_stops_the_run_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "seed.pdf").mkdir()
    assert main(["latex", "-o", str(tmp_path / "seed.tex"), "--pdf"]) == 2
    assert "seed.pdf: exists and is not a file" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["seed.pdf"]


@needs_pdflatex
def test_cli_hostile_file_compiles_without_leaking(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    source = tmp_path / "hostile.toml"
    # TOML literal strings: the backslashes reach symcalc exactly as written.
    literal = HOSTILE.replace("SECRET", str(secret)).replace("\n", " ")
    source.write_text(
        f"title = '{literal}'\nparameters = ['w']\ninputs = ['x']\n"
        f"[definitions]\nL = '(w*x)**2'\n[notes]\nw = '{literal}'\n",
        encoding="utf-8",
    )
    out = tmp_path / "hostile.tex"
    assert main(["latex", str(source), "-o", str(out), "--pdf", "--timeout", "30"]) == 0
    _assert_no_leak(pdf_text((tmp_path / "hostile.pdf").read_bytes()))


# -- notebooks ------------------------------------------------------------------------------


def test_notebook_latex_is_wrapped_in_dollars(seed: symcalc.Derivation) -> None:
    text = seed._repr_latex_()
    assert text.startswith("$\\displaystyle \\begin{aligned}") and text.endswith("\\end{aligned}$")
    assert text.count("$") == 2
    assert STEP_3 in text and r"w_{1} &:= w_{1} - \alpha x_{1} \left(a - y\right)" in text
    assert seed.steps[2]._repr_latex_() == "$\\displaystyle \\begin{aligned}\n" + STEP_3 + "\n\\end{aligned}$"


@needs_pdflatex
def test_notebook_latex_is_valid_latex(seed: symcalc.Derivation) -> None:
    # nbconvert puts text/latex output straight into its .tex when exporting to PDF.
    document = "\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n%s\n\\end{document}\n"
    assert compile_pdf(document % seed._repr_latex_()).startswith(b"%PDF")
