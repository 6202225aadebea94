"""The runtime a generated module copies: definitions read verbatim from the runtime files' source.

`runtime`, `runtime_frameworks`, `runtime_jax` and `runtime_torch` are ordinary, linted, typed
and tested modules. Each has a line `# -- copied into every … module from here on --`; the
top-level definitions after it (functions, classes, assignments, each with the comment lines just
above it) are what `copied` hands a generated module, as the file spells them, so a module runs
where symcalc is not installed. The files are read as text (JAX and PyTorch are not imported).
`imports` gives the import lines those definitions need, in the order ruff's isort sorts them.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent
_OWN = ("__future__", "symcalc")
_MARK = re.compile(r"^# -- copied into every .* from here on --$", re.MULTILINE)


@dataclass(frozen=True)
class Definition:
    """One top-level definition of a runtime file: its name and its text with its comments."""

    name: str
    text: str


@cache
def definitions(file: str) -> tuple[Definition, ...]:
    """The definitions after the mark of `file` (e.g. "runtime.py"), in the file's order."""
    source = (_HERE / file).read_text(encoding="utf-8")
    mark = _MARK.search(source)
    if mark is None:  # pragma: no cover - each runtime file has one
        raise AssertionError(f"{file} has no '# -- copied into every … from here on --' line")
    first = source[: mark.start()].count("\n") + 1
    lines = source.splitlines()
    found = []
    for node in ast.parse(source).body:
        if node.lineno <= first:
            continue
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        end = node.end_lineno or node.lineno
        found.append(Definition(_name(node), "\n".join(lines[start:end])))
    return tuple(found)


def _name(node: ast.stmt) -> str:
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return node.name
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    raise AssertionError(f"line {node.lineno}: a runtime file defines names only")  # pragma: no cover


def copied(file: str, leave_out: Iterable[str] = (), only: Iterable[str] | None = None) -> list[str]:
    """The texts of `file`'s definitions (all, or `only` these), without those named in `leave_out`."""
    skipped, wanted = set(leave_out), None if only is None else set(only)
    return [
        d.text for d in definitions(file) if d.name not in skipped and (wanted is None or d.name in wanted)
    ]


def used(text: str, names: Sequence[str]) -> list[str]:
    """Those of `names` that `text` reads: the optional helpers (_softmax, _maximum) a module needs."""
    return [name for name in names if re.search(rf"\b{re.escape(name)}\(", text)]


def imports(files: Iterable[str], code: str, formulas: Iterable[str] = ()) -> list[str]:
    """The import lines of `files` (not __future__'s or symcalc's) and of the modules the printed
    `formulas` may call (math for the table's erf) whose names `code` uses, sorted as isort sorts
    them: the standard library, a blank line, the rest; `import x` before `from x import`."""
    plain: set[str] = set(formulas)
    names: dict[str, set[str]] = {}
    for file in files:
        for node in ast.parse((_HERE / file).read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                plain |= {f"{a.name} as {a.asname}" if a.asname else a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] not in _OWN:
                names.setdefault(node.module, set()).update(a.name for a in node.names)
    sections: list[list[str]] = [[], []]
    for module in sorted(plain, key=lambda m: m.split(" as ")[0]):
        bound = module.split(" as ")[-1].split(".")[0]
        if re.search(rf"\b{re.escape(bound)}\.", code):
            sections[_section(module)].append(f"import {module}")
    for module in sorted(names):
        needed = sorted(n for n in names[module] if re.search(rf"\b{n}\b", code))
        if needed:
            sections[_section(module)].append(f"from {module} import {', '.join(needed)}")
    standard, others = sections
    return [*standard, *([""] if standard and others else []), *others]


def _section(module: str) -> int:
    return 0 if module.split(".")[0] in sys.stdlib_module_names else 1
