"""Markdown export: the same document as the LaTeX, maths blocks balanced, free text never markup."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sympy as sp

import symcalc
from symcalc.cli.main import main
from symcalc.render.latex import latex
from symcalc.render.markdown import escape_markdown, render_markdown
from tests.render.test_latex import STEP_3, UPDATES

# markdown-it-py comes with rich; it is the CommonMark reference parser, used here as the oracle.
markdown_it = pytest.importorskip("markdown_it")


def display_blocks(text: str) -> list[str]:
    """The contents of every $$ … $$ block; fails unless each opening $$ line has a closing one."""
    lines = text.splitlines()
    fences = [i for i, line in enumerate(lines) if line.strip() == "$$"]
    assert len(fences) % 2 == 0, "unbalanced $$"
    assert all("$$" not in line for line in lines if line.strip() != "$$"), "$$ inside a line"
    return ["\n".join(lines[a + 1 : b]) for a, b in zip(fences[::2], fences[1::2], strict=True)]


def prose_lines(text: str) -> list[str]:
    """Every line outside the $$ blocks."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip() == "$$":
            inside = not inside
        elif not inside:
            out.append(line)
    return out


def test_display_maths_is_balanced_and_aligned(seed: symcalc.Derivation) -> None:
    blocks = display_blocks(render_markdown(seed))
    assert len(blocks) == 2 + 5 + 3  # objective, model, one per step, the three update blocks
    for block in blocks:
        assert block.startswith("\\begin{aligned}\n") and block.endswith("\n\\end{aligned}")
        assert block.count("\\left(") == block.count("\\right)")
        assert block.count("{") == block.count("}")


def test_inline_maths_is_balanced_on_every_line(seed: symcalc.Derivation) -> None:
    for line in prose_lines(render_markdown(seed)):
        assert line.count("$") % 2 == 0, line


def test_the_steps_read_as_in_the_latex(seed: symcalc.Derivation) -> None:
    blocks = display_blocks(render_markdown(seed))
    assert "\\begin{aligned}\n" + STEP_3 + "\n\\end{aligned}" in blocks
    assert "\\begin{aligned}\n" + UPDATES + "\n\\end{aligned}" in blocks


def test_same_outline_as_the_latex(seed: symcalc.Derivation) -> None:
    text = render_markdown(seed)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[0] == "# Logistic regression: the derivatives that update $w_{1}$, $w_{2}$ and b"
    assert headings[1:4] == ["## Objective", "## The model", "## Calculation steps overview"]
    assert "## Step 3 of 5: Derivative of $L$ with respect to $z$" in headings
    assert headings[-2:] == ["## Usage in gradient descent", "## Key insights"]
    assert "- $y$: true value (ground truth), 0 or 1" in text
    assert "1. Derivative of $L$ with respect to $a$: $" + latex(seed.steps[0].equations[0].lhs) in text


def test_commonmark_sees_headings_lists_and_no_html(seed: symcalc.Derivation) -> None:
    tokens = markdown_it.MarkdownIt("commonmark").parse(render_markdown(seed))
    kinds = {t.type for t in tokens}
    assert {"heading_open", "bullet_list_open", "ordered_list_open", "paragraph_open"} <= kinds
    assert not kinds & {"html_block", "code_block", "fence"}
    assert sum(t.type == "heading_open" for t in tokens) == 1 + 3 + 5 + 1 + 1  # … updates, insights


HOSTILE = (
    "# $x$ \\(y\\) \\[z\\] <script>alert(1)</script> [link](javascript:alert(1)) ![i](x.png) "
    "*bold* _em_ `code` ~~gone~~ | a | & &amp; \\ \u202eevil\x00\n\n- not a list"
)


def test_hostile_text_is_shown_as_written() -> None:
    rendered = markdown_it.MarkdownIt("commonmark").renderInline(escape_markdown(HOSTILE))
    assert "<script" not in rendered and "<a " not in rendered and "<img" not in rendered
    assert "<em>" not in rendered and "<strong>" not in rendered and "<code>" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "*bold*" in rendered and "`code`" in rendered and "&amp;amp;" in rendered


def test_hostile_text_cannot_open_maths() -> None:
    escaped = escape_markdown(HOSTILE)
    # No $, \( or \[ survives to start maths in GitHub or Jupyter, and no line break to start a block.
    assert "$" not in escaped and "\\(" not in escaped and "\\[" not in escaped
    assert "\n" not in escaped and "\u202e" not in escaped and "\x00" not in escaped


def test_hostile_title_and_notes_in_a_document() -> None:
    w, x, L = sp.symbols("w x L", real=True)
    model = symcalc.Model.build(
        {L: (w * x) ** 2}, parameters=[w], inputs=[x], title=HOSTILE, notes={w: HOSTILE}
    )
    text = render_markdown(symcalc.derive(model))
    display_blocks(text)  # still balanced
    for line in prose_lines(text):
        assert line.count("$") % 2 == 0, line
    tokens = markdown_it.MarkdownIt("commonmark").parse(text)
    assert not any(t.type.startswith("html") for t in tokens)
    assert text.startswith("# \\# &#36;x&#36;")
    assert not re.search(r"^- not a list", text, re.MULTILINE)


def test_notebook_markdown(seed: symcalc.Derivation) -> None:
    assert seed._repr_markdown_() == render_markdown(seed)
    step = seed.steps[2]._repr_markdown_()
    assert step.startswith("**Step 3: Derivative of $L$ with respect to $z$**\n\n")
    assert display_blocks(step) == ["\\begin{aligned}\n" + STEP_3 + "\n\\end{aligned}"]


def test_cli_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["markdown"]) == 0
    printed = capsys.readouterr().out
    out = tmp_path / "seed.md"
    assert main(["markdown", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == printed
    assert [p.name for p in tmp_path.iterdir()] == ["seed.md"]


def test_cli_markdown_replaces_only_the_named_file(tmp_path: Path) -> None:
    out, neighbour = tmp_path / "seed.md", tmp_path / "seed.tex"
    out.write_text("old")
    neighbour.write_text("keep")
    assert main(["markdown", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("# Logistic regression")
    assert neighbour.read_text() == "keep"
