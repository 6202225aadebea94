"""Writing files the user asked for: atomically, and never over a file they did not name.

Output goes to a temporary file in the target's folder and is renamed into place,
so a failed or interrupted run leaves either the old file or the new one, never
half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from symcalc.errors import Location, OutputError


def write_atomic(path: str | Path, content: str | bytes, *, replace: bool = True) -> Path:
    """Write `content` to `path` through a temporary file and a rename.

    `replace=False` refuses to touch an existing file: use it for every file the
    user did not name themselves (a derived name such as OUT.pdf beside OUT.tex
    counts as named).
    """
    target = Path(path)
    where = Location(source=str(target))
    if target.exists() and (not replace or not target.is_file()):
        raise OutputError("exists and will not be overwritten", where, fix="name another file")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError("folder does not exist", where)
    data = content.encode("utf-8") if isinstance(content, str) else content
    mode = _mode_for(target)
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    except OSError as err:
        raise OutputError(f"cannot write: {err.strerror}", where) from None
    try:
        # mkstemp creates the file 0600; the result should have the mode a plain open() would give
        # it (or keep the mode of the file it replaces), not lock other readers out.
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    except OSError as err:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"cannot write: {err.strerror}", where) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _mode_for(target: Path) -> int:
    """The permission bits for `target`: those of the file it replaces, else 0o666 less the umask."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where /proc shows it (os.umask can only swap it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)  # no /proc: swap it out and straight back
    os.umask(current)
    return current


def check_output(path: str | Path, formats: dict[str, str], flag: str, hint: str = "") -> str:
    """The format an output file's extension names, checked before any work is done.

    `formats` maps each extension `flag` writes (".png") to its format ("png"). An
    extension that names another format (`latex -o notes.pdf`, `--plot curve.jpg`),
    a missing folder or a directory in the way is an OutputError now, not after the work.
    """
    target = Path(path)
    where = Location(source=str(target))
    suffix = target.suffix.lower()
    if suffix not in formats and suffix in OTHER_FORMATS:
        written = " or ".join(dict.fromkeys(OTHER_FORMATS[s] for s in formats))
        names = ", ".join(f"OUT{s}" for s in formats)
        problem = f"{flag} writes {written}, not {OTHER_FORMATS[suffix]}"
        raise OutputError(problem, where, fix=f"name it {names}{hint}")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError("folder does not exist", where)
    if target.exists() and not target.is_file():
        raise OutputError("exists and is not a file", where, fix="name another file")
    return formats.get(suffix, next(iter(formats.values())))


#: Extensions that name a format, so that writing another format under them is refused.
OTHER_FORMATS = {
    ".pdf": "PDF",
    ".png": "PNG",
    ".svg": "SVG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tex": "LaTeX",
    ".ltx": "LaTeX",
    ".md": "Markdown",
    ".markdown": "Markdown",
    ".html": "HTML",
    ".htm": "HTML",
    ".py": "Python",
    ".json": "JSON",
}
