"""The documentation against what it documents: the architecture page's module list against the
folder tree (as `test_one_table.py` holds the function table to the code), and the README's links.

The site itself is built by `mkdocs build --strict` in `.ci/run`, which fails on a broken link
inside docs/ or an API name that no longer resolves; these tests cover what it cannot see.
"""

from __future__ import annotations

import re
from pathlib import Path

import symcalc

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(symcalc.__file__).parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: A module's row in the architecture page's tables: "| `numeric/c/kernel.py` | ... |".
MODULE_ROW = re.compile(r"^\| `([\w/]+\.py)` \|", re.MULTILINE)


def _modules_in_tree() -> set[str]:
    return {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def test_the_architecture_page_lists_every_module_and_no_other() -> None:
    listed = MODULE_ROW.findall(ARCHITECTURE.read_text(encoding="utf-8"))
    assert len(listed) == len(set(listed)), "a module listed twice"
    in_tree = _modules_in_tree()
    assert len(in_tree) > 50  # the scan found the package, not an empty folder
    missing, gone = sorted(in_tree - set(listed)), sorted(set(listed) - in_tree)
    assert not missing, f"modules not on docs/architecture.md: {missing}"
    assert not gone, f"docs/architecture.md lists modules that do not exist: {gone}"


def test_the_architecture_check_sees_a_module_that_is_not_listed(tmp_path: Path) -> None:
    page = ARCHITECTURE.read_text(encoding="utf-8")
    row = "| `numeric/c/kernel.py` |"
    assert row in page
    without = set(MODULE_ROW.findall(page.replace(row, "| numeric/c/kernel.py |")))
    assert _modules_in_tree() - without == {"numeric/c/kernel.py"}
