"""Running pdflatex on a document: hardened, time-limited, in a throw-away folder; only the PDF comes out.

Our documents escape every piece of free text, so nothing a file says reaches
TeX as a command. This is the second wall, for when that fails: no shell
escape, no reading or writing outside the folder (kpathsea's paranoid mode),
no waiting for terminal input, a cap on file size, and a wall-clock limit that
kills pdflatex and everything it started.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from symcalc.errors import LimitError, PdfError, ProgramTimeout
from symcalc.isolate import run_program

PDFLATEX_FLAGS = ("-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error")
DEFAULT_TIMEOUT = 60.0  # seconds; the seed compiles in well under one
MAX_OUTPUT_BYTES = 256 * 1024**2  # any file pdflatex writes; a runaway \shipout loop stops here
INSTALL_HINT = "install TeX Live, e.g. apt-get install texlive-latex-base texlive-latex-recommended"


def compile_pdf(tex: str, *, timeout: float = DEFAULT_TIMEOUT, pdflatex: str = "pdflatex") -> bytes:
    """The PDF that pdflatex makes of `tex`; PdfError on failure, LimitError after `timeout` seconds."""
    if timeout <= 0:
        raise LimitError(f"timeout must be positive, not {timeout}")
    executable = shutil.which(pdflatex)
    if executable is None:
        raise PdfError(f"{pdflatex} is not installed", fix=INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="symcalc-latex-") as folder:
        work = Path(folder)
        (work / "document.tex").write_text(tex, encoding="utf-8")
        status = _run(executable, work, timeout)
        pdf = work / "document.pdf"
        # A failed run may leave part of a PDF behind: only a clean exit counts.
        if status != 0 or not pdf.is_file():
            raise PdfError(f"pdflatex failed: {first_error(work / 'document.log')}")
        return pdf.read_bytes()


def _environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        # kpathsea's paranoid mode: no absolute paths, no "..", no dot files, for reading
        # (\input{/etc/hostname}) and for writing (\openout) alike.
        openin_any="p",
        openout_any="p",
        shell_escape="f",
        TEXMFOUTPUT=str(work),
        # Never generate fonts or formats on the fly: that would write outside the folder.
        MKTEXPK="0",
        MKTEXTFM="0",
        MKTEXMF="0",
        MKTEXFMT="0",
        max_print_line="1000",  # error lines in the log unwrapped, so the message is whole
    )
    return env


def _run(executable: str, work: Path, timeout: float) -> int:
    # Output goes to the log file, not a pipe: a looping document could fill memory through a pipe.
    try:
        return run_program(
            [executable, *PDFLATEX_FLAGS, "document.tex"],
            timeout=timeout,
            cwd=work,
            env=_environment(work),
            file_size_limit=MAX_OUTPUT_BYTES,
            remove_if_killed=(work,),
        ).returncode
    except ProgramTimeout:
        raise LimitError(
            f"pdflatex stopped after {timeout:g} s without finishing",
            fix="raise --timeout, or compile the .tex yourself",
        ) from None


def first_error(log: Path) -> str:
    """The first TeX error ("! …") in a log, or a summary when there is none."""
    try:
        text = log.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return "no log was written"
    for line in text.splitlines():
        if line.startswith("!"):
            return line.strip()
    return "no PDF was produced and the log has no error line"
