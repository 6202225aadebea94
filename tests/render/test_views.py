"""--view: a model with vectors shows its vector and batch forms by default (the entries written out
are hundreds of lines), and any of vector, index, batch, entries on asking, in every output format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symcalc.cli.main import main
from tests.pdf import needs_pdflatex, pdf_text
from tests.render.test_html import chromium, load  # noqa: F401  (chromium is a fixture)

NETWORK = "two_layer_network_vector"


def _derive(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["derive", *argv]) == 0
    return capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("model", [NETWORK, "softmax_network_vector"])
def test_a_vector_model_shows_its_vector_and_batch_forms(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    default = _derive(capsys, monkeypatch, model)
    everything = _derive(capsys, monkeypatch, model, "--view", "all")
    assert "Vector form" in default and "Batch form" in default and "Step 1 of" not in default
    assert "Objective: find dL/dW, dL/dc" in default or "Objective: find dJ/dW, dJ/dc" in default
    assert "W₁ ₁" not in default  # no entry of a matrix: the objective and names are whole
    assert "Step 1 of" in everything and "Vector form" in everything
    assert len(default.splitlines()) * 3 < len(everything.splitlines())


@pytest.mark.slow
def test_each_view_shows_its_own_form(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vector = _derive(capsys, monkeypatch, NETWORK, "--view", "vector")
    index = _derive(capsys, monkeypatch, NETWORK, "--view", "index")
    batch = _derive(capsys, monkeypatch, NETWORK, "--view", "batch")
    entries = _derive(capsys, monkeypatch, NETWORK, "--view", "entries")
    assert "dWᵢⱼ" not in vector and "── = ──⋅xᵀ" in vector and "Batch form" not in vector
    assert "dWᵢⱼ" in index and "──⋅xᵀ" not in index
    assert "Batch form" in batch and "Vector form" not in batch
    assert "Step 1 of" in entries and "Vector form" not in entries and "Batch form" not in entries
    assert "the steps below write it out" not in vector  # no steps follow in this view


@needs_pdflatex
@pytest.mark.slow
def test_latex_and_markdown_follow_the_views(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tex = tmp_path / "network.tex"
    assert main(["latex", NETWORK, "-o", str(tex), "--pdf"]) == 0
    text = pdf_text(tex.with_suffix(".pdf").read_bytes())
    assert "Vector form" in text and "Batch form" in text and "Step 1 of" not in text
    capsys.readouterr()
    assert main(["markdown", NETWORK, "--view", "entries"]) == 0
    document = capsys.readouterr().out
    assert "## Step 1 of" in document and "## Vector form" not in document
    assert main(["markdown", NETWORK, "--view", "batch"]) == 0
    document = capsys.readouterr().out
    assert "## Batch form" in document and "## Vector form" not in document and "## Step 1" not in document


@pytest.mark.slow
def test_html_follows_the_views_and_typesets(
    tmp_path: Path,
    chromium: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = tmp_path / "network.html"
    assert main(["html", NETWORK, "--view", "vector,batch", "-o", str(page)]) == 0
    dom, _ = load(chromium, page, tmp_path)
    assert 'class="katex-error"' not in dom
    assert "Vector form" in dom and "Batch form" in dom and "Step 1 of" not in dom


def test_a_view_a_model_cannot_show_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", "logistic_regression", "--view", "vector"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "has no vectors or matrices" in err
    with pytest.raises(SystemExit) as exit_:
        main(["derive", NETWORK, "--view", "vectors"])
    assert exit_.value.code == 2
    assert "'vectors' is not a view: choose from vector, index, batch, entries" in capsys.readouterr().err


def test_json_is_unchanged_by_the_views(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["derive", NETWORK, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"]


def test_a_size_written_as_a_number_is_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "literal.toml"
    path.write_text(
        'inputs = ["x[3]"]\ntargets = ["y"]\nparameters = ["w[3]", "b"]\n'
        '[definitions]\nz = "w @ x + b"\nL = "(z - y)^2/2"\n'
    )
    out = _derive(capsys, monkeypatch, str(path))
    assert "w   parameter   3" in out and "Vector form" in out
