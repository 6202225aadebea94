"""Output files are what their names say (issue 16): an extension naming another format is refused before
any work, and --plot writes PNG, SVG or PDF by its extension."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import Runner


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (
            ["latex", "-o", "notes.pdf"],
            "latex -o writes LaTeX, not PDF (name it OUT.tex, OUT.ltx, and add --pdf",
        ),
        (
            ["markdown", "-o", "notes.tex"],
            "markdown -o writes Markdown, not LaTeX (name it OUT.md, OUT.markdown)",
        ),
        (["codegen", "-o", "model.json"], "codegen -o writes Python, not JSON (name it OUT.py)"),
        (["train", "--plot", "curve.jpg"], "--plot writes PNG or SVG or PDF, not JPEG"),
        (["train", "--plot", "missing/curve.png"], "missing/curve.png: folder does not exist"),
    ],
)
def test_a_wrong_output_name_is_refused_before_any_work(
    argv: list[str], problem: str, run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and problem in err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    ("name", "magic"), [("curve.png", b"\x89PNG"), ("curve.svg", b"<?xml"), ("curve.pdf", b"%PDF")]
)
def test_plot_writes_the_format_its_name_says(name: str, magic: bytes, run: Runner, tmp_path: Path) -> None:
    pytest.importorskip(
        "matplotlib", reason="--plot needs matplotlib (the [plot] extra; .ci/run installs it)"
    )
    path = tmp_path / name
    code, _, err = run(["train", "--epochs", "5", "--plot", str(path)])
    assert code == 0 and f"wrote {path}" in err
    assert path.read_bytes().startswith(magic)


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["latex", "-o", "notes.tex"], ["notes.tex"]),
        (["latex", "-o", "notes.tex", "--pdf"], ["notes.tex", "notes.pdf"]),
        (["markdown", "-o", "notes.md"], ["notes.md"]),
        (["html", "-o", "notes.html"], ["notes.html"]),
        (["codegen", "-o", "model.py"], ["model.py"]),
    ],
)
def test_every_command_that_writes_a_file_says_so(
    argv: list[str], names: list[str], run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One convention (issue 16): stdout stays empty, and stderr has one 'wrote' line per file written."""
    if "--pdf" in argv and shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (.ci/run installs it)")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv)
    assert code == 0 and out == ""
    assert err.splitlines() == [f"symcalc: wrote {name}" for name in names]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names)
