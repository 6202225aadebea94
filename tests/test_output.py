"""Atomic writes: the old file or the new one, never half; nothing unnamed is overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from symcalc.output import OutputError, write_atomic


def test_writes_and_replaces_named_file(tmp_path: Path) -> None:
    target = tmp_path / "out.tex"
    write_atomic(target, "first")
    write_atomic(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tex"]  # no temporary left behind


def test_refuses_to_replace_unnamed_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.pdf"
    target.write_text("precious")
    with pytest.raises(OutputError, match="will not be overwritten"):
        write_atomic(target, "new", replace=False)
    assert target.read_text() == "precious"


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="folder does not exist"):
        write_atomic(tmp_path / "no" / "such" / "out.md", "x")
