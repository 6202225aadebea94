"""Threat: a derivation file that turns LaTeX export into TeX code (bad-inputs.md §5), via `symcalc latex`.

First wall: every piece of free text is escaped and names are identifiers, so
nothing a file says reaches pdflatex as a command — hostile titles, notes and
every kind of name still compile. Second wall: pdflatex runs hardened and
time-limited, so an unescaped loop or file read would still be stopped.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from symcalc.errors import LimitError, PdfError
from symcalc.render.pdf import compile_pdf
from tests.conftest import Runner
from tests.pdf import needs_pdflatex, pdf_text

LOOP = r"\def\x{\x}\x"
HOSTILE = (
    rf"{LOOP} \input{{/etc/hostname}} \input{{SECRET}} \immediate\write18{{touch TOUCHED}} "
    r"\csname end\endcsname ^^5c\relax \end{document} % & # _ $ { } ~ ^ é漢 $$\int$$"
)
# Names of every shape the identifier rule allows: Greek, SymPy's accent suffixes, subscripts,
# TeX's own command words, and the longest name there is.
_WORDS = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lamda mu nu xi rho sigma tau upsilon "
    "phi chi psi omega Gamma Delta Theta Lamda Xi Pi Sigma Phi Psi Omega "
    "xdot xddot xhat xbar xvec xtilde xcheck xbreve xacute xgrave xmathring xprime xabs xnorm "
    "xbold xcal x_hidden learning_rate a_b_c w1 w12 "
    "input let edef end begin relax par documentclass usepackage newcommand write18 csname text "
    "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)
NAMES = _WORDS.split()


def toml_literal(text: str) -> str:
    assert "'''" not in text
    return f"'''{text}'''"


def hostile_file(tmp_path: Path) -> tuple[Path, Path, Path]:
    secret = tmp_path / "secret.tex"
    secret.write_text("SECRETMARKER\n")
    touched = tmp_path / "TOUCHED"
    text = HOSTILE.replace("SECRET", str(secret)).replace("TOUCHED", str(touched))
    path = tmp_path / "hostile.toml"
    path.write_text(
        f"title = {toml_literal(text)}\n"
        'inputs = ["x"]\nparameters = ["w"]\n[definitions]\nL = "(w*x - 1)**2"\n'
        f"[notes]\nx = {toml_literal(text)}\nw = {toml_literal(text)}\nL = {toml_literal(text)}\n"
    )
    return path, secret, touched


def assert_no_command_from_the_file(tex: str) -> None:
    """None of the file's TeX reaches the document as TeX: each backslash in it became text."""
    for command in (LOOP, r"\input{/etc/hostname}", r"\input{/", r"\write18", r"\csname end", r"^^5c"):
        assert command not in tex
    assert r"\textbackslash{}def\textbackslash{}x" in tex  # it is there, as text
    assert tex.count(r"\end{document}") <= 1  # ours, once (none with --body)


def test_hostile_text_never_reaches_tex_as_code(run: Runner, tmp_path: Path) -> None:
    path, _, _ = hostile_file(tmp_path)
    for argv in (["latex", str(path)], ["latex", str(path), "--body"]):
        code, out, err = run(argv)
        assert code == 0, err
        assert_no_command_from_the_file(out)


def test_hostile_text_in_markdown_stays_outside_maths(run: Runner, tmp_path: Path) -> None:
    path, _, _ = hostile_file(tmp_path)
    code, out, err = run(["markdown", str(path)])
    assert code == 0, err
    # A note's '$' would open maths where KaTeX/MathJax run TeX macros: it must come out escaped.
    prose = re.sub(r"\$\$.*?\$\$|\$[^$\n]*?\$", "", out.replace(r"\$", ""), flags=re.S)
    assert "$" not in prose
    maths = " ".join(re.findall(r"\$\$(.*?)\$\$|\$([^$\n]*?)\$", out.replace(r"\$", ""), flags=re.S)[0])
    assert LOOP not in maths and r"\input" not in maths


@needs_pdflatex
def test_hostile_file_compiles_reads_nothing_and_runs_nothing(run: Runner, tmp_path: Path) -> None:
    path, _, touched = hostile_file(tmp_path)
    out = tmp_path / "out.tex"
    started = time.monotonic()
    code, _, err = run(["latex", str(path), "-o", str(out), "--pdf", "--timeout", "30"])
    assert code == 0, err
    assert time.monotonic() - started < 30
    assert_no_command_from_the_file(out.read_text())
    text = pdf_text(out.with_suffix(".pdf").read_bytes())
    assert "SECRETMARKER" not in text and not touched.exists()
    hostname = Path("/etc/hostname")
    if hostname.is_file() and hostname.read_text().strip():
        assert not re.search(rf"\b{re.escape(hostname.read_text().strip())}\b", text)
    assert "input{/etc/hostname}" in text  # printed, not run


@needs_pdflatex
def test_every_kind_of_name_compiles(run: Runner, tmp_path: Path) -> None:
    model = tmp_path / "names.toml"
    terms = " + ".join(f"{n}*w" for n in NAMES)
    model.write_text(
        f"inputs = {NAMES!r}\n".replace("'", '"') + f'parameters = ["w"]\n[definitions]\nL = "({terms})**2"\n'
    )
    out = tmp_path / "names.tex"
    code, _, err = run(["latex", str(model), "-o", str(out), "--pdf", "--timeout", "30"])
    assert code == 0, err
    tex = out.read_text()
    assert r"\mathit{input}" in tex and r"\input" not in tex  # a name that is a TeX word is set as a word
    assert out.with_suffix(".pdf").read_bytes().startswith(b"%PDF")


@needs_pdflatex
@pytest.mark.parametrize("name", ["xscr", "xfrak"])
def test_script_and_fraktur_names_compile(run: Runner, tmp_path: Path, name: str) -> None:
    model = tmp_path / "m.toml"
    model.write_text(f'inputs = ["{name}"]\nparameters = ["w"]\n[definitions]\nL = "(w*{name})**2"\n')
    out = tmp_path / "m.tex"
    code, _, err = run(["latex", str(model), "-o", str(out), "--pdf", "--timeout", "30"])
    assert code == 0, err


# -- the second wall: if escaping ever failed, pdflatex is still boxed in -----------------------

TINY = "\\documentclass{article}\\begin{document}\n%s\n\\end{document}\n"


@pytest.mark.slow
@needs_pdflatex
def test_a_looping_document_from_the_cli_is_stopped_and_nothing_is_written(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import symcalc.cli.work as cli

    # As if escaping had failed: the document the CLI compiles loops for ever.
    monkeypatch.setattr(cli, "latex_file", lambda target, body, hessian, compact, views: TINY % LOOP)
    out = tmp_path / "loop.tex"
    started = time.monotonic()
    code, _, err = run(["latex", "-o", str(out), "--pdf", "--timeout", "2"])
    assert time.monotonic() - started < 8
    assert code == 2
    assert err == (
        "symcalc: error: pdflatex stopped after 2 s without finishing "
        "(raise --timeout, or compile the .tex yourself)\n"
    )
    assert not out.exists() and not out.with_suffix(".pdf").exists()


@needs_pdflatex
def test_unescaped_tex_still_cannot_read_absolute_paths_or_run_commands(tmp_path: Path) -> None:
    touched = tmp_path / "touched"
    with pytest.raises(PdfError, match="not found"):
        compile_pdf(TINY % r"\input{/etc/hostname}", timeout=20)
    compile_pdf(TINY % rf"\immediate\write18{{touch {touched}}}text", timeout=20)
    assert not touched.exists()


@pytest.mark.slow
@needs_pdflatex
def test_compile_pdf_stops_a_loop_on_time() -> None:
    started = time.monotonic()
    with pytest.raises(LimitError, match="stopped after 1 s"):
        compile_pdf(TINY % LOOP, timeout=1)
    assert time.monotonic() - started < 6
