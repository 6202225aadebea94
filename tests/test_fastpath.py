"""The fast path: consistent with the plain lambdified program and the generic path, or not used at all.

These are consistency tests (the plan against `reference()` and the generic program, which share
symcalc's stable rewrites and printer); correctness is `tests/test_independent_oracle.py`'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import symcalc
from symcalc.numeric.model import NumericModel
from symcalc.numeric.plan import build_plan, runtime_source, stack_view
from symcalc.numeric.program import build_program
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

#: Models whose loss and gradients are not (factor) × (input) over linear forms: the generic path.

RTOL = 1e-12


@pytest.mark.parametrize("name", MODELS)
def test_plan_takes_every_shipped_model(name: str) -> None:
    # tied_weights too: w·x1 alone (inside tanh) is a linear form of one term
    assert build_plan(program_of(name)) is not None


def test_plan_refuses_an_input_outside_a_linear_form(write_toml: WriteToml) -> None:
    program = build_program(symcalc.derive(symcalc.load(str(write_toml(STEP_OF_AN_INPUT)))))
    assert build_plan(program) is None


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_equals_plain_lambdify_on_random_data(name: str, scale: float) -> None:
    program = program_of(name)
    numeric = numpy_paths(program)
    plan = build_plan(program)
    rng = np.random.default_rng(11)
    # Longer than one block, so the blocked loop and its last, partial block are both exercised.
    n = plan.layout[3] + 123 if plan is not None else 1000
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


def test_stack_view_only_for_evenly_spaced_views_of_one_buffer() -> None:
    matrix = np.arange(12.0).reshape(4, 3)
    view = stack_view([matrix[:, 0], matrix[:, 1], matrix[:, 2]])
    assert view is not None and np.array_equal(view, matrix) and not view.flags.writeable
    assert np.array_equal(stack_view([matrix[:, 2], matrix[:, 0]]), matrix[:, [2, 0]])  # type: ignore[arg-type]
    assert stack_view([matrix[:, 0], matrix[:, 2], matrix[:, 1]]) is None  # uneven spacing
    assert stack_view([np.ones(4), np.zeros(4)]) is None  # separate buffers
    other = np.arange(12.0).reshape(4, 3)
    assert stack_view([matrix[:, 0], other[:, 1]]) is None


def test_data_the_plan_cannot_take_goes_to_the_generic_path() -> None:
    program = program_of("logistic_regression")
    fast, generic = numpy_paths(program), NumericModel(program, backend="generic")
    params = {"w1": 0.3, "w2": -0.2, "b": 0.1}
    scalars = {"x1": 0.5, "x2": -1.0, "y": 1.0}  # numbers, not columns
    assert fast.evaluate(params, scalars) == generic.evaluate(params, scalars)
    ragged = {"x1": np.ones(3), "x2": np.ones(3), "y": np.ones(1)}  # broadcasts in the generic program
    assert fast.evaluate(params, ragged) == generic.evaluate(params, ragged)


def test_constants_reach_the_plan() -> None:
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
    """Logistic regression with 40 features: one factor σ(z) − y for every weight, one linear form."""
    n = 40
    xs, ws = [f"x{i}" for i in range(1, n + 1)], [f"w{i}" for i in range(1, n + 1)]
    z = " + ".join(f"{w}*{x}" for w, x in zip(ws, xs, strict=True)) + " + b"
    text = (
        f"inputs = {xs!r}\ntargets = ['y']\nparameters = {[*ws, 'b']!r}\n"
        f'[definitions]\nz = "{z}"\na = "sigmoid(z)"\nL = "-(y*log(a) + (1 - y)*log(1 - a))"\n'
    )
    path = tmp_path / "wide.toml"
    path.write_text(text, encoding="utf-8")
    program = build_program(symcalc.derive(symcalc.load(str(path))))
    plan = build_plan(program)
    assert plan is not None
    inputs, forms, factors = plan.layout[:3]
    assert (inputs, forms, factors) == (n, 1, 1)
    rng = np.random.default_rng(8)
    data = random_data(program, 2000, rng)
    params = {p: 0.2 * float(rng.normal()) for p in program.parameters}
    got = evaluated(numpy_paths(program), params, data)
    assert np.allclose(got, reference(program, params, data)[0], rtol=RTOL, atol=RTOL * 1e-2)


def test_runtime_source_is_plain_numpy() -> None:
    namespace: dict[str, object] = {"numpy": np}
    exec(runtime_source(), namespace)
    assert {"stack_view", "block_total", "evaluate_plan"} <= set(namespace)
    assert all(ord(c) < 128 for c in runtime_source())
