"""Atomic writes: the old file or the new one, never half; nothing unnamed is overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from symcalc.errors import OutputError
from symcalc.files import write_atomic


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


def test_new_file_gets_the_mode_open_would_give_it(tmp_path: Path) -> None:
    import os

    previous = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.md", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "new.md").stat().st_mode & 0o777 == 0o640  # 0o666 & ~0o027, not mkstemp's 0600


def test_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "shared.tex"
    target.write_text("old")
    target.chmod(0o664)
    write_atomic(target, "new")
    assert target.stat().st_mode & 0o777 == 0o664
    assert target.read_text() == "new"
