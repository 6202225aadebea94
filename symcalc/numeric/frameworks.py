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
from symcalc.numeric.runtime_text import copied, definitions, imports, used
from symcalc.symbolic.batch_of import batch_form_of
from symcalc.symbolic.steps import Derivation


@dataclass(frozen=True)
class Framework:
    """One target: what NumPy's names become in its module, and the file of its own runtime."""

    name: str
    module: str  # what numpy.X becomes: module.X
    renamed: Mapping[str, str]  # numpy names printed otherwise
    math: Mapping[str, str]  # Python's math functions the NumPy module applies elementwise
    runtime: str  # the file of its own runtime (`symcalc.numeric.runtime_jax`, `runtime_torch`)


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


def generate_framework(derivation: Derivation, target: str) -> str:
    """The text of the JAX or PyTorch module for `derivation` (`target` "jax" or "torch")."""
    framework = FRAMEWORKS[target]
    shaped, batch = batch_form_of(derivation)
    layout = Layout(derivation, shaped, batch)
    printer = printer_for(framework, layout.names)
    preamble = [f"{SAMPLES} = {layout.data_names[-1]}.shape[0]"]
    gradients = layout.shaped_gradients([line.value for line in batch.gradients])

    def function(name: str, doc: str, lines: list[Any], outputs: list[sp.Expr]) -> list[str]:
        arguments = layout.arguments
        return [
            "",
            "",
            *function_lines(name, doc, arguments, lines, outputs, printer, preamble, layout.reads),
        ]

    predict = function_lines(
        "_predict",
        "The predictions for each sample.",
        layout.predict_arguments,
        layout.forward,
        list(layout.predictions),
        printer,
        reads=layout.reads,
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
    code = "\n".join(body)
    own = framework.runtime
    helpers = used(code, [d.name for d in definitions(own) if d.name.startswith("_") and d.name != "_array"])
    leave_out = {d.name for d in definitions(own) if d.name.startswith("_")} - {"_array", *helpers}
    runtime = [
        *copied(own, leave_out),
        *copied("runtime.py", only=_SHARED),
        *copied("runtime_frameworks.py"),
    ]
    text = "\n".join([code, "", "", "\n\n\n".join(runtime)])
    if _UNTRANSLATED.search(code):
        raise SpecError(
            f"codegen --target {target}: a function of this model has no {framework.name} form here"
        )
    header = [
        f'"""The loss and its derived gradient over a batch, for {framework.name}: generated by symcalc.',
        "",
        "The same functions as `symcalc codegen`'s NumPy module (loss, gradient, loss_and_gradient,",
        "predict, step, load_parameters, load_constants, load_columns, standardize), on the",
        "framework's arrays; `loss_with_derived_gradient` is the loss whose derivative is symcalc's",
        "verified gradient.",
        _PRECISION[target],
        '"""',
        "",
        *imports([own, "runtime.py", "runtime_frameworks.py"], text),
        "",
        *layout.declarations(),
    ]
    return "\n".join(header) + "\n" + text + "\n"


#: What a framework module copies from the NumPy module's runtime: reading its arguments and a saved
#: run, predicting and stepping (the rest of its functions are `runtime_frameworks`').
_SHARED = (
    "_arguments",
    "_check_sizes",
    "SAVED_BY",
    "FORMAT",
    "_saved",
    "_section",
    "_same_names",
    "_shape",
    "_float",
    "_no_zero_scale",
    "load_constants",
    "load_columns",
    "load_parameters",
    "standardize",
    "predict",
    "step",
)

#: NumPy left in a framework's code: a function the printer has no translation for.
_UNTRANSLATED = re.compile(r"\bnumpy\.|\bmath\.")

_PRECISION = {
    "jax": (
        "For float64, as the NumPy\nmodule computes, call "
        'jax.config.update("jax_enable_x64", True) before using it.'
    ),
    "torch": "Tensors are made float64, as\nthe NumPy module computes.",
}

FRAMEWORKS: dict[str, Framework] = {
    "jax": Framework(
        "JAX",
        "jnp",
        {"vectorize": "_elementwise", "float64": "jnp.float64"},
        {"math.erf": "jax.scipy.special.erf", "math.erfc": "jax.scipy.special.erfc"},
        "runtime_jax.py",
    ),
    "torch": Framework(
        "PyTorch",
        "torch",
        {
            "maximum": "_maximum",
            "minimum": "_minimum",
            "heaviside": "_heaviside",
            "logaddexp": "_logaddexp",
            "ones": "_ones",
            "vectorize": "_elementwise",
            "float64": "torch.float64",
        },
        {"math.erf": "torch.special.erf", "math.erfc": "torch.special.erfc"},
        "runtime_torch.py",
    ),
}
