"""Property: whatever a model's names, every target computes its numbers, as the oracle does.

The names are drawn from every identifier that symcalc's generated code uses (parsed out of the
NumPy batch modules, the JAX and PyTorch modules and the C kernel of shipped models), with Python's
builtins and the usual library aliases, where the name check allows them. Each random model of such
names is computed by every target: the numeric model `train` runs (its C kernel, batch module and
lambdified program; for a model with vectors, by the written-out entries and by the batch module
Newton's method reads), and the modules `codegen` writes for NumPy, JAX and PyTorch. Each mean loss
and gradient is held to the independent oracle: mpmath at 40 digits on SymPy's diff of the composed
loss, with the model's names replaced by fresh symbols so that no name means anything to the oracle
either.
"""

from __future__ import annotations

import ast
import builtins
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symcalc
from symcalc.errors import SymcalcError
from symcalc.numeric.c.build import compiler
from symcalc.numeric.c.source import kernel_source
from symcalc.numeric.codegen import numeric_program
from symcalc.numeric.model import NumericModel
from symcalc.spec.names import check_name
from symcalc.symbolic.building import RESERVED
from tests.conftest import DERIVATIONS
from tests.numeric_oracle import exact_outputs
from tests.symbolic.test_vectors import BREAST_CANCER_MODEL

TARGETS = ("numpy", "jax", "torch")


def _python_names(source: str) -> set[str]:
    """Every identifier a Python text binds, reads, imports or calls an attribute by."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.alias):
            found |= set((node.asname or node.name).split("."))
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            found.add(node.arg)
    return found


def _allowed(name: str) -> bool:
    try:
        check_name(name, RESERVED)
    except symcalc.ParseError:
        return False
    return True


@cache
def code_names() -> tuple[str, ...]:
    """The identifiers of every kind of generated code that a model's name may be: what the modules of
    three shipped models (scalars; vectors with a Hessian; a softmax) use, what their C
    kernels use, Python's builtins, and the libraries' usual aliases."""
    scalar = symcalc.derive(symcalc.Model.load(DERIVATIONS / "logistic_regression.toml"))
    softmax = symcalc.derive(symcalc.Model.load(DERIVATIONS / "softmax_regression_vector.toml"))
    hessian = symcalc.derive(symcalc.Model.load(_write(BREAST_CANCER_MODEL, "hessian")), hessian=True)
    found = {*dir(builtins), "np", "sp", "mpmath", "scipy", "pd", "plt", "tf"}
    for derivation in (scalar, softmax, hessian):
        program = numeric_program(derivation)
        c = re.sub(r"/\*.*?\*/", "", kernel_source(program).text, flags=re.DOTALL)  # not the comments' words
        found |= set(re.findall(r"[A-Za-z_]\w*", c))
        for target in TARGETS:
            found |= _python_names(symcalc.codegen(derivation, target=target))
        # the runtime a NumPy module installs into its namespace, as --standalone writes it out
        found |= _python_names(symcalc.codegen(derivation, target="numpy", standalone=True))
    return tuple(sorted(name for name in found if _allowed(name)))


@cache
def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="symcalc-code-names-"))


def _write(text: str, stem: str) -> Path:
    path = _folder() / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_drawn_names_include_the_codes_own() -> None:
    """The list holds what the collisions were (and what each target names itself), so the property
    below draws them."""
    names = set(code_names())
    wanted = {"m", "totals", "numpy", "math", "jnp", "jax", "torch", "json", "os", "THREADS", "CHUNKS"}
    assert wanted | {"PARAMETERS", "float", "id", "exec", "params", "data", "np"} <= names


# -- the models --------------------------------------------------------------------------------

ACTIVATIONS = ("tanh({})", "sigmoid({})", "softplus({})", "({})^2")
#: Drawn as often as all the others together: names that once collided, and the libraries' aliases.
COLLIDED = ("m", "totals", "numpy", "math", "jnp", "jax", "torch", "np", "mpmath", "float", "id", "THREADS")
#: A model's usual names, which the batch form's own names (X for x, dL_dz) must keep apart from.
USUAL = ("x", "X", "w", "W", "z", "Z", "y", "J", "L", "dL_dz", "dL_dZ", "grad_w", "hess_b_b")


@dataclass(frozen=True)
class Generated:
    text: str
    vector: bool

    def __repr__(self) -> str:  # hypothesis prints the failing example: show the file
        return "\n" + self.text


@st.composite
def models(draw: st.DrawFn) -> Generated:
    """z = w1*x1 + w2*x2 + b (or w @ x + b over a dimension), an activation, squared error plus c*b²:
    every name, the dimension's too, drawn from the code's names and a few of a model's usual ones."""
    vector = draw(st.booleans())
    pool = st.sampled_from(code_names()) | st.sampled_from(COLLIDED) | st.sampled_from(USUAL)
    count = 9 if vector else 10
    names = draw(st.lists(pool, min_size=count, max_size=count, unique=True))
    activation = draw(st.sampled_from(ACTIVATIONS))
    if vector:
        x, w, b, y, c, z, a, loss, n = names
        lines = [f'inputs = ["{x}[{n}]"]', f'parameters = ["{w}[{n}]", "{b}"]', f'targets = ["{y}"]']
        lines.append(f"[dimensions]\n{n} = 2")
        form = f"{w} @ {x} + {b}"
    else:
        x, x2, w, w2, b, y, c, z, a, loss = names
        lines = [f'inputs = ["{x}", "{x2}"]', f'parameters = ["{w}", "{w2}", "{b}"]', f'targets = ["{y}"]']
        form = f"{w}*{x} + {w2}*{x2} + {b}"
    lines += [
        f"[constants]\n{c} = 0.25",
        "[definitions]",
        f'{z} = "{form}"',
        f'{a} = "{activation.format(z)}"',
        f'{loss} = "({a} - {y})^2 + {c}*{b}^2"',
    ]
    return Generated("\n".join(lines) + "\n", vector)


# -- the oracle and the targets ----------------------------------------------------------------


def oracle(model: symcalc.Model, params: dict[str, float], columns: dict[str, Any]) -> np.ndarray:
    """[mean loss, mean dL/dp for each written-out parameter p], exact and rounded once: mpmath on SymPy's
    diff of the composed loss, each name a fresh symbol (so `mpmath` or `math` is just a name)."""
    names = [*model.parameters, *model.inputs, *model.targets, *(s for s, _ in model.constants)]
    fresh = [sp.Dummy() for _ in names]
    rename = dict(zip(names, fresh, strict=True))
    function = sp.lambdify(fresh, [o.xreplace(rename) for o in exact_outputs(model)], modules="mpmath")
    rows = len(next(iter(columns.values())))
    fixed = [params[p.name] for p in model.parameters]
    constants = [value for _, value in model.constants]
    with mpmath.workdps(40):
        sums = [mpmath.mpf(0)] * (1 + len(model.parameters))
        for k in range(rows):
            row = [float(columns[s.name][k]) for s in (*model.inputs, *model.targets)]
            values = function(*fixed, *row, *constants)
            sums = [total + value for total, value in zip(sums, values, strict=True)]
        return np.array([float(total / rows) for total in sums])


def _module(derivation: symcalc.Derivation, target: str) -> ModuleType | None:
    if target != "numpy":
        try:
            framework = __import__(target)
        except ImportError:
            return None
        if target == "jax":
            framework.config.update("jax_enable_x64", True)
    return symcalc.load_module(symcalc.codegen(derivation, target=target), f"drawn_{target}")


def _close(got: np.ndarray, exact: np.ndarray, what: str) -> None:
    assert got.shape == exact.shape, what
    assert np.all(np.abs(got - exact) <= 1e-11 * (1 + np.abs(exact))), (what, got, exact)


def _flat(arrays: dict[Any, Any], symbols: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Written-out names (w1, w2) → numbers, from arrays by declared name (w)."""
    flat: dict[str, Any] = {}
    for symbol in symbols:
        entries = arrays.get(symbol)
        if entries is None:
            flat[symbol.name] = values[symbol.name]
        else:
            value = np.asarray(values[symbol.name])
            flat |= {
                e.name: value[..., k] if value.ndim > 1 else value[k] for k, e in enumerate(entries.flat)
            }
    return flat


def _in_order(loss: Any, grads: dict[str, Any], order: Any) -> np.ndarray:
    """[loss, every gradient's entries] in the model's written-out order, from gradients by declared name."""
    return np.array([float(loss), *(float(v) for name in order for v in np.ravel(np.asarray(grads[name])))])


EXAMPLES = settings(
    derandomize=True,
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.slow
@EXAMPLES
@given(generated=models(), seed=st.integers(0, 2**16))
def test_every_target_computes_any_names_numbers_as_the_oracle(generated: Generated, seed: int) -> None:
    try:
        model = symcalc.Model.load(_write(generated.text, "drawn"))
    except SymcalcError:  # names the model check refuses together (look-alikes, a written-out clash)
        assume(False)
        raise
    derivation = symcalc.derive(model, hessian=generated.vector)
    rng = np.random.default_rng(seed)
    declared = model.shaped.parameters if model.shaped else model.parameters
    data_symbols = model.shaped.data if model.shaped else (*model.inputs, *model.targets)
    arrays = model.shaped.arrays() if model.shaped else {}
    rows = 6
    params = {
        p.name: rng.uniform(-1, 1, size=np.shape(arrays[p])) if p in arrays else rng.uniform(-1, 1)
        for p in declared
    }
    targets = {s.name for s in model.targets} | set(model.spec.targets if model.spec else ())
    data = {
        s.name: rng.uniform(0.05, 0.95, rows)
        if s.name in targets
        else rng.uniform(-2, 2, (rows, *np.shape(arrays[s])) if s in arrays else rows)
        for s in data_symbols
    }
    flat_params = _flat(arrays, declared, params)
    columns = _flat(arrays, data_symbols, data)
    exact = oracle(model, flat_params, columns)
    order = [p.name for p in declared]

    program = numeric_program(derivation)
    backends: list[Any] = ["generic", "numpy"]
    if compiler() is not None:
        backends.append("c")
    for backend in backends:
        numeric = NumericModel(program, backend=backend)
        loss, grads = numeric.evaluate(flat_params, columns)
        _close(np.array([loss, *(grads[p] for p in numeric.parameters)]), exact, f"NumericModel {backend}")
    if model.shaped is not None:
        loss, shaped = NumericModel(program).evaluate_arrays(params, data)
        _close(_in_order(loss, shaped, order), exact, "NumericModel.evaluate_arrays")
        newton = NumericModel(numeric_program(derivation))
        assert newton.program.batch_source, "the batch form has second derivatives"
        loss, gradient, _ = newton.second_order(flat_params, columns)
        _close(np.array([loss, *gradient]), exact, "the batch module Newton reads")
    for target in TARGETS:
        module = _module(derivation, target)
        if module is None:
            continue
        assert list(module.PARAMETERS) == order, target  # by the model's names, in every target
        calls: list[Callable[[], tuple[Any, dict[str, Any]]]] = [
            lambda: module.loss_and_gradient(params, data),  # noqa: B023 - called at once, below
            lambda: (module.loss(params, data), module.gradient(params, data)),  # noqa: B023
        ]
        for call in calls:
            loss, grads = call()
            _close(_in_order(loss, grads, order), exact, f"codegen --target {target}")
