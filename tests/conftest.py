"""Shared fixtures: the seed model and helpers to write derivation files in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import symcalc

REPO = Path(__file__).resolve().parent.parent
DERIVATIONS = REPO / "derivations"
SEED = DERIVATIONS / "logistic_regression.toml"


@pytest.fixture(scope="session")
def seed_model() -> symcalc.Model:
    return symcalc.load(str(SEED))


@pytest.fixture(scope="session")
def seed(seed_model: symcalc.Model) -> symcalc.Derivation:
    return symcalc.derive(seed_model)


@pytest.fixture
def write_toml(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "model.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
