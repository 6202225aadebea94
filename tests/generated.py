"""`symcalc codegen`'s module for a derivation, written to a test's folder and imported."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import symcalc
from symcalc.numeric.codegen import generate


def import_file(path: Path) -> ModuleType:
    """The Python file at `path`, imported as a module of its own name."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated_module(derivation: symcalc.Derivation, folder: Path, name: str = "generated") -> ModuleType:
    """The module `symcalc codegen` writes for `derivation`, as `folder/name.py`, imported."""
    path = folder / f"{name}.py"
    path.write_text(generate(derivation), encoding="utf-8")
    return import_file(path)
