"""Generated modules: lint-clean, numpy-only, equal to symcalc's own numbers, right by independent checks."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import mpmath
import numpy as np
import pytest
import sympy as sp

import symcalc
from symcalc.numeric.batch_code import generate_batch
from symcalc.numeric.codegen import codegen, generate, numeric_program
from symcalc.numeric.model import NumericModel
from symcalc.numeric.names import code_symbol
from tests.conftest import DERIVATIONS, REPO, SEED
from tests.generated import import_file
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
    return derivation, path, import_file(path)


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
    for text in (path.read_text(encoding="utf-8"), generate(derivation, standalone=True)):
        tree = ast.parse(text)
        imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        from_imports = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        if "def load_parameters" in text:  # standalone
            # json: load_parameters reads what train --save wrote; os and concurrent.futures: the threads
            assert imported == {"numpy", "json", "os", "concurrent.futures"}
            # the runtime's annotations, copied with it: the standard library's
            assert from_imports <= {"collections.abc", "typing"}
        else:
            assert not imported and from_imports == {"symcalc.numeric.runtime"}
        assert "pwned" not in text and "__import__" not in text and derivation.title not in text


def test_a_standalone_module_runs_without_symcalc_and_computes_what_the_short_one_does(
    tmp_path: Path,
) -> None:
    """`codegen --standalone` copies the runtime in: it imports and trains with symcalc unimportable,
    to the same bits as the module that installs symcalc's runtime (the same definitions)."""
    derivation = symcalc.derive(symcalc.load("two_layer_network"))
    short, standalone = generate(derivation), generate(derivation, standalone=True)
    assert len(short.splitlines()) <= 200 < len(standalone.splitlines())
    (tmp_path / "standalone_module.py").write_text(standalone, encoding="utf-8")
    script = (
        "import sys, json; sys.modules['symcalc'] = None; import numpy; import standalone_module as m\n"
        "p = {n: 0.1 * i - 0.3 for i, n in enumerate(m.PARAMETERS)}\n"
        "x = numpy.arange(9.0)\n"
        "d = {'x1': numpy.linspace(-2, 2, 9), 'x2': numpy.cos(x), 'y': x % 2}\n"
        "for _ in range(3): p = m.step(p, d, 0.5)\n"
        "print(json.dumps({n: float(v).hex() for n, v in p.items()}))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    module = symcalc.load_module(short)
    params = {n: 0.1 * i - 0.3 for i, n in enumerate(module.PARAMETERS)}
    data = {"x1": np.linspace(-2, 2, 9), "x2": np.cos(np.arange(9.0)), "y": np.arange(9.0) % 2}
    for _ in range(3):
        params = module.step(params, data, 0.5)
    assert ran.stdout.strip() == json.dumps({n: float(v).hex() for n, v in params.items()})


def test_equals_symcalcs_own_numbers(generated: tuple[symcalc.Derivation, Path, ModuleType]) -> None:
    """`loss_and_gradient` bit for bit what symcalc runs without a C compiler (this module); to 1e-12
    its C kernel. `gradient` alone skips the loss, and `loss` alone is the forward pass: both to 1e-14.

    A consistency test: the module and symcalc share the stable program and printer. Correctness
    (against mpmath on SymPy's diff of the composed loss) is `tests/numeric/test_independent_oracle.py`'s.
    """
    derivation, _, module = generated
    program = numeric_program(derivation)
    numeric, native = numpy_paths(program), NumericModel(program)
    rng = np.random.default_rng(7)
    data = _data(derivation.model, 100, rng)
    for _ in range(3):
        params = {p: float(rng.normal()) for p in module.PARAMETERS}
        loss, grads = numeric.evaluate(params, data)
        assert module.loss_and_gradient(params, data) == (loss, grads)
        assert module.loss(params, data) == pytest.approx(loss, rel=1e-14)
        assert module.gradient(params, data) == pytest.approx(grads, rel=1e-14, abs=1e-16)
        stepped = numeric.step(params, data, 0.3)
        assert module.step(params, data, 0.3) == pytest.approx(stepped, rel=1e-14, abs=1e-16)
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
    with pytest.raises(ValueError, match="one row per sample"):
        module.loss(params, data | {"y": data["y"][:5]})


def test_a_wrong_shape_is_one_error_naming_the_array_and_its_shape() -> None:
    """two_layer_network_vector: W is (h, n), c and v (h,), x n per row; the data decide n."""
    module = symcalc.load_module(generate(symcalc.derive(symcalc.load("two_layer_network_vector"))))
    assert module.PARAMETERS == {"W": ("h", "n"), "c": ("h",), "v": ("h",), "b": ()}
    right = {"W": np.zeros((3, 2)), "c": np.zeros(3), "v": np.zeros(3), "b": 0.0}
    data = {"x": np.zeros((5, 2)), "y": np.zeros(5)}
    assert module.loss(right, data) == pytest.approx(np.log(2))  # σ(0) = 1/2 for every row
    cases = [
        (
            right | {"W": np.zeros((3, 3))},
            data,
            "parameter 'W' must have shape (h, n) = (3, 2), not (3, 3) (n = 2 from data['x'])",
        ),
        (
            right | {"c": np.zeros(4)},
            data,
            "parameter 'c' must have shape (h,) = (3,), not (4,) (h = 3 from parameter 'W')",
        ),
        (
            right,
            data | {"x": np.zeros((5, 4))},
            "parameter 'W' must have shape (h, n) = (3, 4), not (3, 2) (n = 4 from data['x'])",
        ),
    ]
    for params, given, message in cases:
        for function in (module.loss, module.gradient, module.loss_and_gradient):
            with pytest.raises(ValueError) as info:
                function(params, given)
            assert str(info.value) == message
        with pytest.raises(ValueError) as info:
            module.predict(params, {"x": given["x"]})
        assert str(info.value) == message


def test_formulas_in_docstring(write_toml: Callable[[str], Path]) -> None:
    text = generate(symcalc.derive(symcalc.load(str(SEED))))
    assert "    a = sigmoid(z)" in text
    assert "    dL/dz = a - y" in text and "    dJ/dw1 = sum(dL/dz*x1)/m" in text


#: The shipped models with scalar names only: their module is their scalar batch form's, each per-sample
#: name a column (the models with vectors and matrices: tests/numeric/test_batch_code.py).
SCALAR_MODELS = sorted(p.stem for p in DERIVATIONS.glob("*.toml") if "[dimensions]" not in p.read_text())


@pytest.mark.parametrize("name", SCALAR_MODELS)
def test_the_module_reads_like_the_derivation(name: str) -> None:
    """Every definition is a variable under the model's own name, every line of the backward pass
    has a comment naming the adjoint it computes, and `gradient` computes no loss."""
    derivation = symcalc.derive(symcalc.load(name))
    text = generate(derivation)
    tree = ast.parse(text)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}

    def assigned(function: str) -> set[str]:
        body = functions[function].body
        return {
            t.id
            for node in body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }

    model = derivation.model
    everywhere = assigned("_predict") | assigned("_loss_sums") | assigned("_gradient_sums")
    # a loss with a part that is the same for every row (J = L + a penalty) is L's rows plus that
    # part, which `_loss_fixed` computes once per call: J itself is never a variable then
    fixed = "return [None]" not in str(ast.get_source_segment(text, functions["_loss_fixed"]))
    loss = set() if fixed else {model.loss.name}
    assert everywhere >= {code_symbol(node).name for node, _ in model.definitions} - {model.loss.name} | loss
    assert loss <= assigned("_loss_sums") and model.loss.name not in assigned("_gradient_sums")
    adjoints = {name for name in assigned("_gradient_sums") if name.startswith(f"d{model.loss.name}_d")}
    assert adjoints
    comments = set(re.findall(rf"# (d{model.loss.name}/d\w+)\n", text))
    assert {name.replace("_d", "/d", 1) for name in adjoints} <= comments


def test_predict_gives_the_models_output(tmp_path: Path) -> None:
    derivation = symcalc.derive(symcalc.load(str(SEED)))
    path = tmp_path / "generated_predict.py"
    path.write_text(generate(derivation), encoding="utf-8")
    module = import_file(path)
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=20) * 30, rng.normal(size=20)
    params = {"w1": 0.7, "w2": -1.3, "b": 0.2}
    predicted = module.predict(params, {"x1": x1, "x2": x2})  # no targets needed
    assert module.PREDICTIONS == ("a",) and set(predicted) == {"a"}
    # the oracle: σ by mpmath at 30 digits
    with mpmath.workdps(30):
        want = [
            float(1 / (1 + mpmath.exp(-(0.7 * mpmath.mpf(u) - 1.3 * mpmath.mpf(v) + 0.2))))
            for u, v in zip(x1, x2, strict=True)
        ]
    # 1e-13: z itself rounds by |z|·1e-16 in float64, and σ(z) far from 1 moves by that relative error
    assert predicted["a"] == pytest.approx(want, rel=1e-13, abs=0)


def test_empty_data_is_refused(
    generated: tuple[symcalc.Derivation, Path, ModuleType],
) -> None:
    """No samples: a mean over none has no value, said in words."""
    _, _, module = generated
    params = {p: 0.5 for p in module.PARAMETERS}
    empty = {name: np.array([]) for name in (*module.INPUTS, *module.TARGETS)}
    with pytest.raises(ValueError, match="no samples"):
        module.gradient(params, empty)


def _ruff() -> str:
    return shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))


@pytest.mark.slow
@pytest.mark.parametrize("target", ["numpy", "jax", "torch"])
def test_every_shipped_models_batch_module_passes_ruff_check_and_format(target: str, tmp_path: Path) -> None:
    """With the project's own ruff settings, as the package's code: the formulas spaced and wrapped
    as ruff formats them, the runtime copied from its linted source, the imports it reads only."""
    for path in sorted(DERIVATIONS.glob("*.toml")):
        derivation = symcalc.derive(symcalc.Model.load(path))
        text = generate_batch(derivation) if target == "numpy" else codegen(derivation, target)
        (tmp_path / f"{path.stem}_{target}.py").write_text(text, encoding="utf-8")
    config = str(REPO / "pyproject.toml")
    for command in (["check"], ["format", "--check", "--diff"]):
        result = subprocess.run(
            [_ruff(), *command, "--config", config, str(tmp_path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "target", ["numpy", *(pytest.param(t, marks=pytest.mark.frameworks) for t in ("jax", "torch"))]
)
def test_a_scalar_models_batch_module_predicts_its_output_not_its_loss(target: str) -> None:
    """logistic_regression_l2's loss J = L + penalty reads L, which reads the target: the prediction
    is a (σ of z), where it was L, whose code read the target predict is not given (a NameError)."""
    if target != "numpy":
        framework = pytest.importorskip(target)
        if target == "jax":
            framework.config.update("jax_enable_x64", True)  # float64, as the oracle's digits need
    derivation = symcalc.derive(symcalc.load("logistic_regression_l2"))
    text = generate_batch(derivation) if target == "numpy" else codegen(derivation, target)
    module = symcalc.load_module(text)
    assert module.PREDICTIONS == ("a",)
    x1, x2 = np.array([0.5, -2.0, 30.0]), np.array([1.0, 0.25, -4.0])
    predicted = module.predict({"w1": 0.7, "w2": -1.3, "b": 0.2}, {"x1": x1, "x2": x2})["a"]
    want = [
        float(1 / (1 + mpmath.exp(-(0.7 * mpmath.mpf(u) - 1.3 * mpmath.mpf(v) + 0.2))))
        for u, v in zip(x1, x2, strict=True)
    ]
    assert np.asarray(predicted, dtype=float) == pytest.approx(want, rel=1e-13, abs=0)
