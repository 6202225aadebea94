"""`symcalc codegen --target jax|torch`: the batch form as JAX or PyTorch code, with the derived gradient.

The module has the NumPy module's names and argument conventions (`loss`, `gradient`,
`loss_and_gradient`, `predict`, `step`; `params` and `data` by name; PARAMETERS, DATA, …)
and its stable forms (σ(u) as 1/(1 + e^−u), softplus(u) as max(u, 0) + log1p(e^−|u|),
log softmax(z) as z − logsumexp(z)), printed for the framework: `jnp.exp` or `torch.exp`,
and for torch small helpers where NumPy takes a number beside an array (`_maximum(z, 0)`).
Each function is one pass over the whole batch (no blocks: a framework fuses or runs it on
its own). `loss` is the framework's own function of the parameters, so `jax.grad` or
`torch.autograd` differentiates it; `loss_with_derived_gradient` is the same loss whose
derivative is symcalc's derived gradient (a `jax.custom_vjp`; a `torch.autograd.Function`).

A model of scalars is taken over a batch as every per-sample name being a column of m values
(`batch_form_of`); a model with vectors uses its own batch form. Neither framework is imported
here: the text is built from validated names and printer output only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

from symcalc.errors import SpecError
from symcalc.numeric.batch_code import BatchPrinter, Layout, function_lines
from symcalc.numeric.names import SAMPLES, CodeNames
from symcalc.numeric.saved_code import loading_source
from symcalc.symbolic.batch import BatchForm, scalar_batch_form
from symcalc.symbolic.expand import Shaped
from symcalc.symbolic.steps import Derivation


@dataclass(frozen=True)
class Framework:
    """One target: how its module imports it, what NumPy's names become, and its runtime code."""

    name: str
    imports: tuple[str, ...]
    module: str  # what numpy.X becomes: module.X
    renamed: Mapping[str, str]  # numpy names printed otherwise
    math: Mapping[str, str]  # Python's math functions the NumPy module applies elementwise
    helpers: str
    runtime: str


class FrameworkPrinter(BatchPrinter):
    """The batch form's code for a framework: each `numpy.X` is the framework's X (or a helper)."""

    framework: Framework

    def _module_format(self, fqn: str, register: bool = True) -> str:
        if fqn.startswith("numpy."):
            name = fqn.removeprefix("numpy.")
            return self.framework.renamed.get(name, f"{self.framework.module}.{name}")
        if fqn in self.framework.math:  # a function of Python's math module, which NumPy vectorizes
            return self.framework.math[fqn]
        return str(super()._module_format(fqn, register))

    def _print(self, expr: Any, **kwargs: Any) -> str:
        # A constant such as √2 or √π is a number, not a call: torch.sqrt(2) takes no Python number.
        if isinstance(expr, sp.Expr) and expr.is_number and not expr.is_Rational and expr.is_real:
            return repr(float(expr))
        return str(super()._print(expr, **kwargs))

    def _print_column_sums(self, expr: Any) -> str:
        return f"{self._operand(expr.args[0])}.sum(0)"

    def _print_row_sums(self, expr: Any) -> str:
        return f"{self._operand(expr.args[0])}.sum(-1)"


def printer_for(framework: Framework, names: CodeNames) -> FrameworkPrinter:
    """The printer of a `framework` module whose identifiers are `names`."""
    printer = FrameworkPrinter({"fully_qualified_modules": True, "inline": True})
    printer.framework, printer.names = framework, names
    return printer


def batch_form_of(derivation: Derivation) -> tuple[Shaped, BatchForm]:
    """The batch form of a derivation: its own for a model with vectors; for a model of scalars, every
    per-sample name a column of m values (z = w1*x1 + b over the batch, dL/dw1 = sum(dL/dz*x1)/m)."""
    model = derivation.model
    if model.shaped is not None:
        if derivation.batch is None:
            raise SpecError(f"this model has no batch form ({derivation.batch_problem})")
        return model.shaped, derivation.batch
    data = (*model.inputs, *model.targets)
    shaped = Shaped((), model.definitions, (), (), model.assumptions, model.parameters, data)
    return shaped, scalar_batch_form(shaped, model.loss)


def generate_framework(derivation: Derivation, target: str) -> str:
    """The text of the JAX or PyTorch module for `derivation` (`target` "jax" or "torch")."""
    framework = FRAMEWORKS[target]
    shaped, batch = batch_form_of(derivation)
    layout = Layout(derivation, shaped, batch)
    printer = printer_for(framework, layout.names)
    rows = layout.data_names[-1]
    preamble = [f"{SAMPLES} = {rows}.shape[0]"]
    gradients = [line.value for line in batch.gradients]

    def function(name: str, doc: str, lines: list[Any], outputs: list[sp.Expr]) -> list[str]:
        return ["", "", *function_lines(name, doc, layout.arguments, lines, outputs, printer, preamble)]

    predict = function_lines(
        "_predict",
        "The predictions for each sample.",
        layout.predict_arguments,
        layout.forward,
        list(layout.predictions),
        printer,
    )
    body = [
        *function("_loss", "The mean loss: the forward pass.", layout.forward, [batch.objective]),
        *function("_gradient", "Each gradient of the mean loss, as derived.", layout.lines, gradients),
        *function(
            "_loss_and_gradient",
            "The mean loss, then each gradient.",
            layout.lines,
            [batch.objective, *gradients],
        ),
        "",
        "",
        *predict,
    ]
    header = [
        f'"""The loss and its derived gradient over a batch, for {framework.name}: generated by symcalc.',
        "",
        "The same functions as `symcalc codegen`'s NumPy module (loss, gradient, loss_and_gradient,",
        "predict, step, load_parameters, load_constants, standardize), on the framework's arrays;",
        "`loss_with_derived_gradient` is the loss whose derivative is symcalc's verified gradient.",
        _PRECISION[target],
        '"""',
        "",
        "import json",
        "",
        *framework.imports,
        "",
        *layout.declarations(),
        "",
        "",
        framework.helpers.strip("\n"),
        *body,
    ]
    array = "_tensor" if target == "torch" else f"{framework.module}.asarray"
    loading = loading_source(arrays=True, array=array, scalar=array)
    text = "\n".join(header) + "\n" + framework.runtime + loading
    if _UNTRANSLATED.search(text.replace("import jax.numpy", "")):
        raise SpecError(
            f"codegen --target {target}: a function of this model has no {framework.name} form here"
        )
    return text


#: NumPy left in a framework's code: a function the printer has no translation for.
_UNTRANSLATED = re.compile(r"\bnumpy\.|\bmath\.")

_PRECISION = {
    "jax": (
        "For float64, as the NumPy\nmodule computes, call "
        'jax.config.update("jax_enable_x64", True) before using it.'
    ),
    "torch": "Tensors are made float64, as\nthe NumPy module computes.",
}

_ELEMENTWISE = '''

def _elementwise(function, otypes=None):
    """`function` itself: the framework's own functions already act entry by entry."""
    return function
'''

_JAX_HELPERS = '''
def _softmax(z):
    """exp(z) / sum(exp(z)) along the last axis, shifted by the largest entry."""
    return jax.nn.softmax(z, axis=-1)


def _logsumexp(z):
    """log(sum(exp(z))) along the last axis, without overflow."""
    return jax.scipy.special.logsumexp(z, axis=-1)
'''

_TORCH_HELPERS = '''
def _tensor(value):
    return torch.as_tensor(value, dtype=torch.float64)


def _maximum(a, b):
    """The larger of a and b entry by entry; a number beside a tensor is made a tensor too."""
    return torch.maximum(_tensor(a), _tensor(b))


def _minimum(a, b):
    return torch.minimum(_tensor(a), _tensor(b))


def _heaviside(u, at_zero):
    """NumPy's heaviside in a form autograd differentiates (to 0): 1 above 0, `at_zero` at 0, 0 below,
    NaN stays NaN (torch.heaviside has no derivative)."""
    u = _tensor(u)
    ones = torch.ones_like(u)
    below = torch.where(u < 0, 0 * ones, u)  # NaN where u is NaN
    return torch.where(u > 0, ones, torch.where(u == 0, _tensor(at_zero) * ones, below))


def _logaddexp(a, b):
    return torch.logaddexp(_tensor(a), _tensor(b))


def _softmax(z):
    """exp(z) / sum(exp(z)) along the last axis, shifted by the largest entry."""
    return torch.softmax(z, dim=-1)


def _logsumexp(z):
    """log(sum(exp(z))) along the last axis, without overflow."""
    return torch.logsumexp(z, dim=-1)
'''

#: The functions every module has, by name, over its private ones; {array} makes a float array.
_COMMON_RUNTIME = '''

def _arguments(params, data, constants, names):
    """The positional arguments: each parameter, each constant, then each array of `names`."""
    values = []
    for name, shape in PARAMETERS.items():
        if name not in params:
            raise KeyError(f"no value for parameter {name!r}")
        value = {array}(params[name])
        if value.ndim != len(shape):
            raise ValueError(f"parameter {name!r} must have {len(shape)} axes, not {value.ndim}")
        values.append(value)
    merged = dict(CONSTANTS)
    for name, value in (constants or {}).items():
        if name not in merged:
            raise KeyError(f"{name!r} is not a constant of the model")
        merged[name] = float(value)
    values.extend({array}(value) for value in merged.values())
    rows = None
    for name in names:
        if name not in data:
            raise KeyError(f"no data for {name!r}")
        array = {array}(data[name])
        axes = len(DATA[name][1]) + 1
        if array.ndim != axes or (rows is not None and array.shape[0] != rows):
            raise ValueError(f"data[{name!r}] must have {axes} axes and one row per sample")
        rows = array.shape[0]
        values.append(array)
    return values


def loss(params, data, constants=None):
    """The mean loss over the samples, a 0-d array: the forward pass only; the framework can
    differentiate it itself."""
    return _loss(*_arguments(params, data, constants, INPUTS + TARGETS))[0]


def gradient(params, data, constants=None):
    """The mean gradient of the loss by each parameter, as symcalc derived it; no loss is computed."""
    grads = _gradient(*_arguments(params, data, constants, INPUTS + TARGETS))
    return {name: g for name, g in zip(PARAMETERS, grads, strict=True)}


def loss_and_gradient(params, data, constants=None):
    """The mean loss and each mean gradient, from one pass forward and one backward."""
    value, *grads = _loss_and_gradient(*_arguments(params, data, constants, INPUTS + TARGETS))
    return value, {name: g for name, g in zip(PARAMETERS, grads, strict=True)}


def predict(params, data, constants=None):
    """The model's predictions for each sample, by name (PREDICTIONS); needs the inputs only."""
    outputs = _predict(*_arguments(params, data, constants, INPUTS))
    return dict(zip(PREDICTIONS, outputs, strict=True))


def step(params, data, learning_rate, constants=None):
    """One gradient-descent update: p := p - learning_rate * gradient(params, data)[p]."""
    grads = gradient(params, data, constants)
    return {name: {array}(params[name]) - learning_rate * grads[name] for name in PARAMETERS}
'''

_JAX_RUNTIME = (
    _COMMON_RUNTIME.replace("{array}", "jnp.asarray")
    + '''

def loss_with_derived_gradient(data, constants=None):
    """loss(params, data) as a function of the parameters alone, whose derivative (jax.grad, jax.vjp)
    is symcalc's derived gradient rather than JAX's own differentiation of the loss."""

    @jax.custom_vjp
    def mean_loss(params):
        return loss(params, data, constants)

    def forward(params):
        return loss_and_gradient(params, data, constants)

    def backward(grads, cotangent):
        return ({name: cotangent * grads[name] for name in grads},)

    mean_loss.defvjp(forward, backward)
    return mean_loss
'''
)

_TORCH_RUNTIME = (
    _COMMON_RUNTIME.replace("{array}", "_tensor")
    + '''

class DerivedLoss(torch.autograd.Function):
    """The mean loss whose backward is symcalc's derived gradient, not autograd's own."""

    @staticmethod
    def forward(ctx, data, constants, *values):
        value, grads = loss_and_gradient(dict(zip(PARAMETERS, values, strict=True)), data, constants)
        ctx.save_for_backward(*(grads[name] for name in PARAMETERS))
        return value

    @staticmethod
    def backward(ctx, cotangent):
        return (None, None, *(cotangent * g for g in ctx.saved_tensors))


def loss_with_derived_gradient(params, data, constants=None):
    """The mean loss as a tensor whose .backward() puts symcalc's derived gradient into each
    parameter's .grad: the loss of an ordinary torch.optim training loop."""
    return DerivedLoss.apply(data, constants, *(params[name] for name in PARAMETERS))
'''
)

FRAMEWORKS: dict[str, Framework] = {
    "jax": Framework(
        "JAX",
        ("import jax", "import jax.numpy as jnp", "import jax.scipy.special"),
        "jnp",
        {"vectorize": "_elementwise", "float64": "jnp.float64"},
        {"math.erf": "jax.scipy.special.erf", "math.erfc": "jax.scipy.special.erfc"},
        _JAX_HELPERS + _ELEMENTWISE,
        _JAX_RUNTIME,
    ),
    "torch": Framework(
        "PyTorch",
        ("import torch",),
        "torch",
        {
            "maximum": "_maximum",
            "minimum": "_minimum",
            "heaviside": "_heaviside",
            "logaddexp": "_logaddexp",
            "vectorize": "_elementwise",
            "float64": "torch.float64",
        },
        {"math.erf": "torch.special.erf", "math.erfc": "torch.special.erfc"},
        _TORCH_HELPERS + _ELEMENTWISE,
        _TORCH_RUNTIME,
    ),
}
