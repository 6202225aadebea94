"""Writing files the user asked for: atomically, and never over a file they did not name.

Output goes to a temporary file in the target's folder and is renamed into place,
so a failed or interrupted run leaves either the old file or the new one, never
half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from symcalc.errors import Location, SymcalcError


class OutputError(SymcalcError):
    """An output file cannot be written."""


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
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
    except OSError as err:
        raise OutputError(f"cannot write: {err.strerror}", where) from None
    try:
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
