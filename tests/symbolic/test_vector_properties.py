"""Properties of the vector syntax: shapes agree with what the operations compute, any text is parsed
or refused with the project's error, and random vector models derive and verify in every form.

- The shape the parser infers for an expression is the shape of its value when the names are
  arrays of entries (`expand.concrete`, which only uses what each operation means).
- Any text over the vector grammar's characters is parsed or refused with a SymcalcError,
  never another exception.
- A random two-layer vector model from a grammar derives, and `verify` finds every step,
  gradient, vector-form result and batch gradient to hold; a mutated vector-form result is
  refuted.

Fixed seed (`derandomize=True`) and bounded examples, so CI is repeatable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symcalc
from symcalc.errors import SymcalcError
from symcalc.symbolic.expand import concrete, entry_array, resolve
from symcalc.symbolic.parse import parse_shaped

SIZES = {"n": 2, "h": 3}
SHAPES = {"x": ("n",), "W": ("h", "n"), "c": ("h",), "v": ("h",), "u": ("n",), "M": ("n", "h")}
SCALARS = ("b", "y")
NAMES = {name: sp.Symbol(name, real=True) for name in (*SHAPES, *SCALARS)}


def _arrays() -> dict[sp.Basic, np.ndarray]:
    def make(name: str) -> sp.Symbol:
        return sp.Symbol(name, real=True)

    return {NAMES[name]: entry_array(name, shape, SIZES, make) for name, shape in SHAPES.items()}


ATOMS = st.sampled_from([*SHAPES, *SCALARS, "2", "0.5", "ones(h)"])
UNARY = (
    "tanh({})",
    "sigmoid({})",
    "exp({})",
    "sum({})",
    "softmax({})",
    "logsumexp({})",
    "transpose({})",
    "diag({})",
    "max({})",
    "min({})",
    "clip({}, -1, 1)",
    "({})[1]",
    "({})[1:2]",
    "({}).T",
)
BINARY = ("{} + {}", "{} - {}", "{} * {}", "{} / ({} + 3)", "{} @ {}", "outer({}, {})", "({})^2")


def _expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        unary = st.tuples(st.sampled_from(UNARY), inner).map(lambda t: t[0].format(t[1]))
        binary = st.tuples(st.sampled_from(BINARY), inner, inner).map(
            lambda t: t[0].format(t[1], t[2]) if t[0].count("{}") == 2 else t[0].format(t[1])
        )
        return unary | binary

    return st.recursive(ATOMS, extend, max_leaves=6)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_expressions())
def test_the_inferred_shape_is_the_shape_of_the_computed_value(text: str) -> None:
    try:
        expr, shape = parse_shaped(text, NAMES, SHAPES)
    except SymcalcError:
        return  # a shape mismatch or an operation on the wrong shape: refused, as it must be
    value = concrete(expr, _arrays())
    if np.shape(value) == () and shape:
        # x - x simplifies to 0: a scalar, which the written-out model takes for every entry
        assert not any(s.name in SHAPES for s in expr.free_symbols), (text, shape)
    else:
        assert np.shape(value) == resolve(shape, SIZES), (text, shape)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet="xWcvb@[]()+-*/^,.:0123 sumoterdiagfxlnpc", max_size=30))
def test_any_text_is_parsed_or_refused_with_the_projects_error(text: str) -> None:
    with contextlib.suppress(SymcalcError):
        parse_shaped(text, NAMES, SHAPES)


# -- random vector models -----------------------------------------------------------------------

ACTIVATIONS = ("tanh({})", "sigmoid({})", "softplus({})", "({})^2", "{} * sigmoid({})", "clip({}, -1, 1)")
#: The last passes a scalar adjoint to a summed W @ x: its vector form is outer(g·ones(h), x).
OUTPUTS = ("v @ g + b", "sum(v * g) + b", "v @ g + b * sum(g)", "v @ g + b * sum(W @ x)")
LOSSES = ("(z - y)^2 / 2", "-(y*log(sigmoid(z)) + (1 - y)*log(1 - sigmoid(z)))", "log(cosh(z - y))")


@dataclasses.dataclass(frozen=True)
class VectorModel:
    activation: str
    output: str
    loss: str
    penalty: bool

    def toml(self) -> str:
        g = (
            self.activation.format("s", "s")
            if self.activation.count("{}") == 2
            else self.activation.format("s")
        )
        loss = self.loss + (" + lamda/2*sum(W*W)" if self.penalty else "")
        constants = "[constants]\nlamda = 0.1\n" if self.penalty else ""
        return (
            'title = "random"\ninputs = ["x[n]"]\ntargets = ["y"]\n'
            'parameters = ["W[h,n]", "c[h]", "v[h]", "b"]\n'
            f"[dimensions]\nn = 2\nh = 3\n{constants}"
            f'[definitions]\ns = "W @ x + c"\ng = "{g}"\nz = "{self.output}"\nL = "{loss}"\n'
        )


MODELS = st.builds(
    VectorModel,
    st.sampled_from(ACTIVATIONS),
    st.sampled_from(OUTPUTS),
    st.sampled_from(LOSSES),
    st.booleans(),
)


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(model=MODELS)
def test_a_random_vector_model_verifies_in_every_form_and_a_mutant_is_refuted(
    model: VectorModel, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("models") / "random.toml"
    path.write_text(model.toml())
    derivation = symcalc.derive(symcalc.load(str(path)))
    assert derivation.vector is not None and derivation.batch is not None
    checks = symcalc.verify(derivation, points=8)
    assert all(c.holds for c in checks), [c.name for c in checks if not c.holds]
    assert {"vector", "batch"} <= {c.kind for c in checks}
    gradients = [
        dataclasses.replace(r, result=2 * r.result) if r.name == "dL/dW" else r
        for r in derivation.vector.gradients
    ]
    mutant = dataclasses.replace(
        derivation, vector=dataclasses.replace(derivation.vector, gradients=tuple(gradients))
    )
    refuted = [c for c in symcalc.verify(mutant, points=8) if not c.holds]
    assert [c.kind for c in refuted] == ["vector"]


# -- the layers a course writes next: normalisations, attention-style weightings, residuals, variance heads

#: How the hidden vector g[h] is made from t (h = 3): an activation, an attention-style softmax
#: weighting of U's rows, a residual connection.
BLOCKS = {
    "activation": ['g = "{act}"'],
    "attention": ['p = "softmax(t)"', 'g = "transpose(U) @ p"'],
    "residual": ['r = "{act}"', 'g = "t + U @ r"'],
}
#: Layer normalisation of s: its mean and variance over the vector, written with sum(...)/h, at
#: h = 2 (at h = 3, attention after it took 240 s: SymPy's diff of the loss composed through the
#: softmax of the normalised units, and its proof, grow with h).
NORMALISED = ['m = "sum(s)/2"', 'd = "s - m"', 'var = "sum(d*d)/2"', 't = "d/sqrt(var + eps)"']
#: The loss from g: a regression, a Gaussian likelihood with a log-variance head, a classifier.
HEADS = {
    "regression": ['z = "v @ g + b"', 'L = "(z - y)^2/2"'],
    "variance": ['z = "v @ g + b"', 'lv = "u @ g + b2"', 'L = "(lv + (y - z)^2*exp(-lv))/2"'],
    "logistic": ['z = "v @ g + b"', 'L = "-(y*log(sigmoid(z)) + (1 - y)*log(1 - sigmoid(z)))"'],
}


@dataclasses.dataclass(frozen=True)
class CourseModel:
    normalised: bool
    block: str
    activation: str
    head: str

    @property
    def label(self) -> str:
        """A short name: "layer norm, attention, tanh(t), logistic"."""
        parts = ["layer norm"] if self.normalised else []
        return ", ".join([*parts, self.block, self.activation.replace("{}", "t"), self.head])

    def toml(self) -> str:
        act = self.activation.replace("{}", "t")
        source = NORMALISED if self.normalised else ['t = "s"']
        lines = source + [line.format(act=act) for line in BLOCKS[self.block]] + HEADS[self.head]
        parameters = ["W[h,n]", "c[h]", "v[h]", "b"]
        parameters += ["U[h,h]"] if self.block != "activation" else []
        parameters += ["u[h]", "b2"] if self.head == "variance" else []
        constants = "[constants]\neps = 0.00001\n" if self.normalised else ""
        return (
            'title = "random"\ninputs = ["x[n]"]\ntargets = ["y"]\n'
            f"parameters = {json.dumps(parameters)}\n[dimensions]\nn = 2\nh = {2 if self.normalised else 3}\n"
            f"{constants}"
            '[definitions]\ns = "W @ x + c"\n' + "\n".join(lines) + "\n"
        )


#: Course models that between them take every block, head, activation and normalisation, each
#: block with two heads and normalised ones with every head (the grammar has 45; all of them are
#: timed by benchmarks/verify_hard.py). One test each, so that pytest-xdist's workers share them.
#: Not among them: a residual connection after layer normalisation (t used twice, so the composed
#: loss the oracle differentiates doubles: 23-26 s).
COVERING = (
    CourseModel(False, "activation", "tanh({})", "logistic"),
    CourseModel(False, "attention", "sigmoid({})", "regression"),
    CourseModel(False, "residual", "{} * sigmoid({})", "variance"),
    CourseModel(False, "residual", "tanh({})", "logistic"),
    CourseModel(True, "activation", "sigmoid({})", "variance"),
    CourseModel(True, "activation", "{} * sigmoid({})", "logistic"),
    CourseModel(True, "attention", "tanh({})", "regression"),  # with a logistic head: 48 s
)


@pytest.mark.slow
@pytest.mark.parametrize("model", COVERING, ids=lambda model: model.label)
def test_a_course_model_is_never_rejected(model: CourseModel, tmp_path: Path) -> None:
    """No rung rejects a correct model (every check holds, finite differences too), with the default
    points: derive and verify as `symcalc verify` runs them. Their time (target 30 s each) is measured
    by benchmarks/verify_hard.py: timed here, it flaked in a CI process grown to 2 GB (83 s once, 6 s
    on the retry)."""
    path = tmp_path / "model.toml"
    path.write_text(model.toml())
    checks = symcalc.verify(symcalc.derive(symcalc.load(str(path))))
    rejected = [(c.name, c.status, c.detail) for c in checks if not c.holds]
    assert not rejected, (model, rejected)
    assert {"gradient", "finite differences", "vector"} <= {c.kind for c in checks}
