"""Generated modules: lint-clean, numpy-only, equal to symcalc's own numbers, right by independent checks."""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.numeric.codegen import generate
from symcalc.numeric.model import NumericModel
from symcalc.numeric.program import build_program
from tests.conftest import SEED
from tests.numeric_oracle import numpy_paths

TWO_LAYER = """
title = 'Two layers \"\"\"; import os; os.system("echo pwned") #'
inputs = ["x1", "x2"]
targets = ["y"]
parameters = ["u1", "u2", "c", "v", "d"]
[constants]
lam = 0.125
[definitions]
h = "tanh(u1*x1 + u2*x2 + c)"
a = "sigmoid(v*h + d)"
L = "-(y*log(a) + (1 - y)*log(1 - a)) + lam*(v^2)"
[notes]
h = '\"\"\" + __import__("os").system("id") + \"\"\"'
"""


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["seed", "two-layer"])
def generated(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[symcalc.Derivation, Path, ModuleType]:
    if request.param == "seed":
        model = symcalc.load(str(SEED))
    else:
        source = tmp_path / "two_layer.toml"
        source.write_text(TWO_LAYER, encoding="utf-8")
        model = symcalc.load(str(source))
    derivation = symcalc.derive(model)
    path = tmp_path / f"generated_{request.param.replace('-', '_')}.py"
    path.write_text(generate(derivation), encoding="utf-8")
    return derivation, path, _import(path)


def _data(model: symcalc.Model, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    data = {s.name: rng.normal(size=n) for s in model.inputs}
    data |= {s.name: rng.integers(0, 2, size=n).astype(float) for s in model.targets}
    return data


def test_passes_ruff(generated: tuple[symcalc.Derivation, Path, ModuleType]) -> None:
    _, path, _ = generated
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    for rules in ([], ["--select", "E,F,W,B,UP,I,SIM,RUF", "--ignore", "E501"]):
        result = subprocess.run(
            [ruff, "check", "--isolated", *rules, str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_imports_only_numpy_and_no_user_text(generated: tuple[symcalc.Derivation, Path, ModuleType]) -> None:
    derivation, path, _ = generated
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported == {"numpy"}
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert "pwned" not in text and "__import__" not in text and derivation.title not in text


def test_equals_symcalcs_own_numbers(generated: tuple[symcalc.Derivation, Path, ModuleType]) -> None:
    """Bit for bit the NumPy paths symcalc runs without a C compiler; to 1e-12 its C kernel.

    A consistency test: the module and symcalc share the stable program and printer. Correctness
    (against mpmath on SymPy's diff of the composed loss) is `tests/test_independent_oracle.py`'s.
    """
    derivation, _, module = generated
    program = build_program(derivation)
    numeric, native = numpy_paths(program), NumericModel(program)
    rng = np.random.default_rng(7)
    data = _data(derivation.model, 100, rng)
    for _ in range(3):
        params = {p: float(rng.normal()) for p in module.PARAMETERS}
        loss, grads = numeric.evaluate(params, data)
        assert module.loss(params, data) == loss
        assert module.gradient(params, data) == grads
        assert module.step(params, data, 0.3) == numeric.step(params, data, 0.3)
        native_loss, native_grads = native.evaluate(params, data)
        assert native_loss == pytest.approx(loss, rel=1e-12)
        assert native_grads == pytest.approx(grads, rel=1e-12, abs=1e-15)


def test_gradient_agrees_with_differences_and_the_engine(
    generated: tuple[symcalc.Derivation, Path, ModuleType],
) -> None:
    derivation, _, module = generated
    model = derivation.model
    rng = np.random.default_rng(3)
    data = _data(model, 8, rng)
    # The engine's symbolic gradients (in intermediate names), expanded and evaluated by mpmath per sample.
    args = (*model.parameters, *model.inputs, *model.targets, *(c for c, _ in model.constants))
    engine = {
        p.name: sp.lambdify(
            args, model.expand(g), modules=["mpmath", {"sigmoid": lambda u: 1 / (1 + sp.mpmath.exp(-u))}]
        )
        for p, g in derivation.gradients.items()
    }
    rows = list(zip(*(data[s.name] for s in (*model.inputs, *model.targets)), strict=True))
    constants = [v for _, v in model.constants]
    for _ in range(5):
        params = {p: float(rng.uniform(-2, 2)) for p in module.PARAMETERS}
        grads = module.gradient(params, data)
        for name, value in grads.items():
            exact = np.mean([float(engine[name](*params.values(), *row, *constants)) for row in rows])
            assert value == pytest.approx(exact, rel=1e-12, abs=1e-14)
            h = 1e-5
            up, down = dict(params), dict(params)
            up[name] += h
            down[name] -= h
            difference = (module.loss(up, data) - module.loss(down, data)) / (2 * h)
            assert value == pytest.approx(difference, rel=1e-6, abs=1e-8)
        assert module.check_gradient(params, data) < 1e-8


def test_check_gradient_catches_a_wrong_gradient(
    generated: tuple[symcalc.Derivation, Path, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    derivation, _, module = generated
    data = _data(derivation.model, 20, np.random.default_rng(0))
    params = dict.fromkeys(module.PARAMETERS, 0.1)
    right = module.gradient(params, data)
    monkeypatch.setattr(
        module, "gradient", lambda p, d, c=None: {k: v * 1.01 + 1e-3 for k, v in right.items()}
    )
    assert module.check_gradient(params, data) > 1e-4


def test_constants_are_module_defaults(generated: tuple[symcalc.Derivation, Path, ModuleType]) -> None:
    derivation, _, module = generated
    assert {s.name: v for s, v in derivation.model.constants} == module.CONSTANTS
    if not module.CONSTANTS:
        return
    data = _data(derivation.model, 10, np.random.default_rng(1))
    params = dict.fromkeys(module.PARAMETERS, 0.5)
    default = module.gradient(params, data)["v"]
    changed = module.gradient(params, data, {"lam": 1.125})["v"]
    assert changed - default == pytest.approx(2 * (1.125 - 0.125) * 0.5)  # d(lam*v²)/dv = 2*lam*v
    with pytest.raises(KeyError, match="not a constant"):
        module.loss(params, data, {"nope": 1.0})


def test_bad_data_is_refused(generated: tuple[symcalc.Derivation, Path, ModuleType]) -> None:
    derivation, _, module = generated
    data = _data(derivation.model, 10, np.random.default_rng(1))
    params = dict.fromkeys(module.PARAMETERS, 0.5)
    with pytest.raises(KeyError, match="no data for 'y'"):
        module.loss(params, {k: v for k, v in data.items() if k != "y"})
    with pytest.raises(ValueError, match="as long as the others"):
        module.loss(params, data | {"y": data["y"][:5]})


def test_formulas_in_docstring(write_toml: Callable[[str], Path]) -> None:
    text = generate(symcalc.derive(symcalc.load(str(SEED))))
    assert "    a = sigmoid(z)" in text
    assert "    dL/dw1 = x1*(a - y)" in text
