"""The documentation against what it documents: the architecture page's module list against the
folder tree (as `test_one_table.py` holds the function table to the code), and the README's links.

The site itself is built by `mkdocs build --strict` in `.ci/run`, which fails on a broken link
inside docs/ or an API name that no longer resolves; these tests cover what it cannot see.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

import symcalc

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(symcalc.__file__).parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: A module's row in the architecture page's tables: "| `numeric/c/kernel.py` | ... |".
MODULE_ROW = re.compile(r"^\| `([\w/]+\.py)` \|", re.MULTILINE)
#: A Markdown link or image whose target is a relative path: [text](path#anchor).
LINK = re.compile(r"!?\[[^\]]*\]\((?!https?://|mailto:|#)([^)#\s]+)(#[^)\s]*)?\)")


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


#: The house rule on module size (CONTRIBUTING.md): a module that grows past it is split by what it owns.
MAX_MODULE_LINES = 600


def test_no_module_is_longer_than_the_house_rule() -> None:
    lengths = {
        p.relative_to(PACKAGE).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    assert len(lengths) > 50
    assert {m: n for m, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_the_architecture_check_sees_a_module_that_is_not_listed(tmp_path: Path) -> None:
    page = ARCHITECTURE.read_text(encoding="utf-8")
    row = "| `numeric/c/kernel.py` |"
    assert row in page
    without = set(MODULE_ROW.findall(page.replace(row, "| numeric/c/kernel.py |")))
    assert _modules_in_tree() - without == {"numeric/c/kernel.py"}


def _relative_links(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)  # not in code
    return [(target, anchor) for target, anchor in LINK.findall(text)]


def test_every_relative_link_of_the_top_level_pages_resolves() -> None:
    pages = [ROOT / "README.md", ROOT / "SECURITY.md", ROOT / "CONTRIBUTING.md"]
    checked = 0
    for page in pages:
        for target, _ in _relative_links(page):
            assert (page.parent / target).exists(), f"{page.name}: link to {target!r}, which does not exist"
            checked += 1
    assert checked >= 10  # the README links into docs/


def test_security_and_contributing_have_no_relative_links() -> None:
    # docs/security.md and docs/contributing.md include these files as they are, so a relative link
    # would resolve from docs/ on the site and from the top level on GitHub: one of them would break.
    for page in (ROOT / "SECURITY.md", ROOT / "CONTRIBUTING.md"):
        assert _relative_links(page) == [], page.name


def _github_anchor(heading: str) -> str:
    anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return anchor.replace(" ", "-")


def test_the_readme_is_a_short_manual_with_a_table_of_contents() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    headings = re.findall(r"^###? (.+)$", re.sub(r"```.*?```", "", readme, flags=re.DOTALL), re.MULTILINE)
    assert len(headings) >= 8
    contents = [anchor for target, anchor in LINK.findall(readme) if target == "README.md"]
    contents += re.findall(r"\]\((#[\w\-]+)\)", readme)
    for heading in headings:
        if heading.lower() == "contents":
            continue
        assert "#" + _github_anchor(heading) in contents, f"no entry in the contents for {heading!r}"


@pytest.mark.slow
def test_the_readmes_python_api_example_runs_and_means_what_it_says() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Python API") :]
    [example] = re.findall(r"```python\n(.*?)```", section[: section.index("\n## ", 1)], flags=re.DOTALL)
    printed: list[tuple[object, ...]] = []
    namespace: dict[str, Any] = {"print": lambda *values: printed.append(values)}
    exec(compile(example, "README.md", "exec"), namespace)

    x1, a, y = sp.symbols("x1 a y", real=True)
    assert sp.simplify(namespace["derivation"].gradient("w1") - x1 * (a - y)) == 0
    assert all(check.holds for check in namespace["checks"])
    assert [kind for _, kind, _ in printed][:2] == ["LocalDerivatives", "LocalDerivatives"]
    assert not namespace["wrong"].holds and namespace["wrong"].counterexample is not None
    # The mean gradient by hand, from the same columns and starting values: σ(z) − y times the input.
    columns, params = namespace["data"].columns, namespace["numeric"].start(0)
    z = params["w1"] * columns["x1"] + params["w2"] * columns["x2"] + params["b"]
    error = 1 / (1 + np.exp(-z)) - columns["y"]
    by_hand = {
        "w1": np.mean(error * columns["x1"]),
        "w2": np.mean(error * columns["x2"]),
        "b": np.mean(error),
    }
    for name, value in by_hand.items():
        assert namespace["gradient"][name] == pytest.approx(value, rel=1e-12, abs=1e-15)
