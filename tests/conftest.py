"""Shared fixtures: the seed model and helpers to write derivation files in a temporary folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

import symcalc
from symcalc.cli.main import main

# A CLI run inside the test process: (exit code, stdout, stderr).
Runner = Callable[[list[str]], tuple[int, str, str]]


class WriteToml(Protocol):
    """The `write_toml` fixture: writes `text` to a file `name` in the test's folder and returns its path."""

    def __call__(self, text: str, name: str = "model.toml") -> Path: ...


#: Test files whose every test is under one marker (set in the file): when a run leaves that marker
#: out, the file is not even imported, so the quick set does not pay for importing Dask or JAX.
WHOLE_FILES = {"test_dask.py": "dask", "test_dask_scheduler.py": "dask", "test_frameworks.py": "frameworks"}
#: Fixtures that put a test under a marker: a test that loads a page in Chromium is a browser test.
FIXTURE_MARKERS = {"chromium": "browser", "jax": "frameworks", "torch": "frameworks"}


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    marker = WHOLE_FILES.get(collection_path.name)
    expression = config.getoption("markexpr")
    if marker is None or not expression:
        return None
    from _pytest.mark.expression import Expression  # how pytest itself reads -m

    def present(name: str, /, **_: str | int | bool | None) -> bool:
        return name == marker

    return not Expression.compile(expression).evaluate(present) or None


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in set(getattr(item, "fixturenames", ())) & set(FIXTURE_MARKERS):
            item.add_marker(FIXTURE_MARKERS[fixture])


REPO = Path(__file__).resolve().parent.parent
DERIVATIONS = REPO / "derivations"
SEED = DERIVATIONS / "logistic_regression.toml"


@pytest.fixture(scope="session", autouse=True)
def kernel_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Compiled kernels go to a folder of this test run, never to the user's cache."""
    directory = tmp_path_factory.mktemp("kernels")
    before = os.environ.get("SYMCALC_CACHE_DIR")
    os.environ["SYMCALC_CACHE_DIR"] = str(directory)
    yield directory
    if before is None:
        del os.environ["SYMCALC_CACHE_DIR"]
    else:
        os.environ["SYMCALC_CACHE_DIR"] = before


@pytest.fixture(scope="session")
def seed_model() -> symcalc.Model:
    return symcalc.load(str(SEED))


@pytest.fixture(scope="session")
def seed(seed_model: symcalc.Model) -> symcalc.Derivation:
    return symcalc.derive(seed_model)


@pytest.fixture
def write_toml(tmp_path: Path) -> WriteToml:
    def write(text: str, name: str = "model.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run the `symcalc` command in-process and capture what it printed."""

    def invoke(argv: list[str]) -> tuple[int, str, str]:
        code = main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke
