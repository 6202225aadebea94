"""NumericModel's NumPy back end, the batch module `codegen` writes: consistent with the lambdified
program on every shipped model and data layout, or not used at all.

These are consistency tests (the batch module against `reference()` and the lambdified program);
correctness is `tests/numeric/test_independent_oracle.py`'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import symcalc
from symcalc.numeric.codegen import codegen, numeric_program
from symcalc.numeric.model import NumericModel
from tests.conftest import WriteToml
from tests.numeric_oracle import (
    MODELS,
    STEP_OF_AN_INPUT,
    evaluated,
    numpy_paths,
    program_of,
    random_data,
    reference,
)

RTOL = 1e-12


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_the_numpy_back_end_runs_the_bytes_codegen_writes(name: str) -> None:
    """What NumericModel runs is the module `symcalc codegen` writes for the model, byte for byte."""
    derivation = symcalc.derive(symcalc.load(name))
    numeric = symcalc.compile_model(derivation)
    numeric.build()
    assert numeric.program.batch_source == codegen(derivation, "numpy")
    assert NumericModel(numeric.program, backend="numpy").backend == "numpy"


def test_an_input_outside_a_linear_form_is_in_the_batch_module_too(write_toml: WriteToml) -> None:
    program = numeric_program(symcalc.derive(symcalc.load(str(write_toml(STEP_OF_AN_INPUT)))))
    assert program.batch_source and NumericModel(program).backend in ("c", "numpy")


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_equals_plain_lambdify_on_random_data(name: str, scale: float) -> None:
    program = program_of(name)
    numeric = numpy_paths(program)
    rng = np.random.default_rng(11)
    # Longer than one block of 2**18 floats, so the blocked loop and its last, partial block both run.
    n = 2**18 // (len(program.inputs) + len(program.targets)) + 123
    data = random_data(program, n, rng, scale)
    for _ in range(2):
        params = {p: float(rng.normal()) for p in program.parameters}
        want, size = reference(program, params, data)
        got = evaluated(numeric, params, data)
        finite = np.isfinite(want)  # softmax's generic form overflows at large scale; compare where defined
        assert np.allclose(got[finite], want[finite], rtol=RTOL, atol=RTOL * size[finite].max()), (got, want)


@pytest.mark.parametrize("name", ["logistic_regression", "logistic_regression_l2", "logistic_regression_4"])
def test_extreme_logits_stay_finite_and_equal(name: str) -> None:
    """|z| up to 1e4: σ and softplus from one exp(−|z|) equal the generic logaddexp forms."""
    program = program_of(name)
    fast, generic = numpy_paths(program), NumericModel(program, backend="generic")
    rng = np.random.default_rng(3)
    data = random_data(program, 5000, rng)
    for x in program.inputs:
        data[x] = rng.uniform(-1, 1, 5000) * 10.0 ** rng.uniform(-3, 4, 5000)
    params = {p: 1.0 for p in program.parameters}
    got, want = evaluated(fast, params, data), evaluated(generic, params, data)
    assert np.all(np.isfinite(got))
    assert np.allclose(got, want, rtol=RTOL, atol=0), (got, want)
    assert np.allclose(got, reference(program, params, data)[0], rtol=RTOL, atol=0)


@pytest.mark.parametrize("name", MODELS)
def test_matrix_columns_separate_columns_and_generic_agree(name: str) -> None:
    program = program_of(name)
    fast, generic = numpy_paths(program), NumericModel(program, backend="generic")
    rng = np.random.default_rng(5)
    separate = random_data(program, 777, rng)
    matrix = np.column_stack([separate[x] for x in program.inputs])
    for layout in (matrix, np.asfortranarray(matrix)):
        viewed = separate | {x: layout[:, k] for k, x in enumerate(program.inputs)}
        params = {p: float(rng.normal()) for p in program.parameters}
        a, b, c = (
            evaluated(fast, params, viewed),
            evaluated(fast, params, separate),
            evaluated(generic, params, separate),
        )
        assert np.allclose(a, b, rtol=RTOL, atol=0) and np.allclose(b, c, rtol=RTOL, atol=1e-15)


def test_numbers_and_length_one_columns_broadcast_as_in_the_lambdified_program() -> None:
    program = program_of("logistic_regression")
    fast, generic = numpy_paths(program), NumericModel(program, backend="generic")
    params = {"w1": 0.3, "w2": -0.2, "b": 0.1}
    scalars = {"x1": 0.5, "x2": -1.0, "y": 1.0}  # numbers, not columns
    ragged = {"x1": np.ones(3), "x2": np.ones(3), "y": np.ones(1)}  # y is every sample's
    for data in (scalars, ragged):
        assert np.allclose(evaluated(fast, params, data), evaluated(generic, params, data), rtol=RTOL, atol=0)


def test_data_the_batch_module_cannot_take_go_to_the_lambdified_program() -> None:
    program = program_of("logistic_regression")
    fast, generic = numpy_paths(program), NumericModel(program, backend="generic")
    params = {"w1": 0.3, "w2": -0.2, "b": 0.1}
    grid = {"x1": np.ones((2, 3)), "x2": np.zeros((2, 3)), "y": np.ones((2, 3))}  # 2-D: NumPy broadcasts
    assert fast.evaluate(params, grid) == generic.evaluate(params, grid)


def test_constants_reach_the_batch_module() -> None:
    program = program_of("logistic_regression_l2")
    fast, generic = numpy_paths(program), NumericModel(program, backend="generic")
    rng = np.random.default_rng(2)
    data = random_data(program, 300, rng)
    params = {"w1": 0.7, "w2": -1.1, "b": 0.2}
    for lam in (0.0, 0.5, 3.0):
        got = np.array([fast.evaluate(params, data, {"lamda": lam})[1][p] for p in program.parameters])
        want = np.array([generic.evaluate(params, data, {"lamda": lam})[1][p] for p in program.parameters])
        assert np.allclose(got, want, rtol=RTOL, atol=0)


def test_many_features_share_one_factor(tmp_path: Path) -> None:
    """Logistic regression with 40 features, computed by the batch module."""
    n = 40
    xs, ws = [f"x{i}" for i in range(1, n + 1)], [f"w{i}" for i in range(1, n + 1)]
    z = " + ".join(f"{w}*{x}" for w, x in zip(ws, xs, strict=True)) + " + b"
    text = (
        f"inputs = {xs!r}\ntargets = ['y']\nparameters = {[*ws, 'b']!r}\n"
        f'[definitions]\nz = "{z}"\na = "sigmoid(z)"\nL = "-(y*log(a) + (1 - y)*log(1 - a))"\n'
    )
    path = tmp_path / "wide.toml"
    path.write_text(text, encoding="utf-8")
    program = numeric_program(symcalc.derive(symcalc.load(str(path))))
    rng = np.random.default_rng(8)
    data = random_data(program, 2000, rng)
    params = {p: 0.2 * float(rng.normal()) for p in program.parameters}
    got = evaluated(numpy_paths(program), params, data)
    assert np.allclose(got, reference(program, params, data)[0], rtol=RTOL, atol=RTOL * 1e-2)
