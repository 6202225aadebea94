"""Every exception class symcalc defines lives in `symcalc/errors.py`, so a reader finds each one there.

The package's source is read with `ast`: a class whose base is a built-in exception, an exception of
`symcalc.errors`, or another exception class of the same module, is an exception class. A private one
(``_Inconclusive``), which never leaves its module, may stay beside the code that raises and catches it.
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import symcalc
import symcalc.errors

PACKAGE = Path(symcalc.__file__).parent

BASES = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
BASES |= {
    name
    for name, value in vars(symcalc.errors).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def exception_classes(source: str) -> list[str]:
    """The exception classes a module's source defines, in order."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
            if bases & (BASES | set(found)):
                found.append(node.name)
    return found


def test_the_scan_finds_each_kind_of_exception_class() -> None:
    source = "class A(ValueError): ...\nclass B(SymcalcError): ...\nclass C(A): ...\nclass D: ...\n"
    assert exception_classes(source) == ["A", "B", "C"]
    assert exception_classes("class E(errors.SpecError): ...") == ["E"]


def test_every_public_exception_class_is_in_errors() -> None:
    elsewhere = {
        path.relative_to(PACKAGE).as_posix(): [
            n for n in exception_classes(path.read_text()) if not n.startswith("_")
        ]
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "errors.py" or path.parent != PACKAGE
    }
    assert not {module: names for module, names in elsewhere.items() if names}
