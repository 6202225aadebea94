"""Reading a compiled PDF in tests: its text by pdftotext, or the test is skipped, never guessed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")


def pdf_text(pdf: bytes) -> str:
    """The text pdftotext reads from `pdf`; skips the calling test when pdftotext is not installed.

    There is no fallback: a PDF's text streams are compressed, so searching its raw bytes
    finds nothing, and an assertion that something is absent would then pass whatever the PDF says.
    """
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (poppler-utils): cannot read the PDF's text")
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
