"""symcalc: symbolic, step-by-step, verified gradients of machine-learning models."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from symcalc.errors import DataError, LimitError, ParseError, SpecError, SymcalcError
from symcalc.settings import IMPORTED_IN  # noqa: F401  (recorded when symcalc is first imported)

if TYPE_CHECKING:
    from symcalc.check.checks import check_claim, verify
    from symcalc.check.ladder import ProofLimits
    from symcalc.check.records import Check, Counterexample
    from symcalc.numeric.codegen import codegen, load_module
    from symcalc.numeric.codegen import generate as generate_module
    from symcalc.numeric.data import Dataset, load_builtin, load_csv
    from symcalc.numeric.descent import Epoch, Stop, descend
    from symcalc.numeric.fit import Fitted, fit
    from symcalc.numeric.model import NumericModel, compile_model
    from symcalc.numeric.program import Program, build_program
    from symcalc.numeric.stable import stable
    from symcalc.render.html import render_html as html
    from symcalc.render.latex import render_latex as latex
    from symcalc.render.markdown import render_markdown as markdown
    from symcalc.spec.toml import Spec, builtin_models
    from symcalc.spec.toml import load as load_spec
    from symcalc.symbolic.claims import Claim
    from symcalc.symbolic.engine import derive
    from symcalc.symbolic.functions import relu, sigmoid, softplus
    from symcalc.symbolic.graph import Model
    from symcalc.symbolic.steps import (
        ChainRule,
        Derivation,
        Equation,
        LocalDerivatives,
        ParameterGradients,
        Step,
        Update,
    )

# Everything that loads SymPy (or NumPy) is imported on first use. `python -m symcalc` and the
# `symcalc` command import this package first, and their parent process never needs SymPy:
# the symbolic work runs in a child process (symcalc.isolate).
_LAZY = {
    "derive": ("symcalc.symbolic.engine", "derive"),
    "relu": ("symcalc.symbolic.functions", "relu"),
    "sigmoid": ("symcalc.symbolic.functions", "sigmoid"),
    "softplus": ("symcalc.symbolic.functions", "softplus"),
    "Claim": ("symcalc.symbolic.claims", "Claim"),
    "Model": ("symcalc.symbolic.graph", "Model"),
    "Spec": ("symcalc.spec.toml", "Spec"),
    "builtin_models": ("symcalc.spec.toml", "builtin_models"),
    "load_spec": ("symcalc.spec.toml", "load"),
    "ChainRule": ("symcalc.symbolic.steps", "ChainRule"),
    "Derivation": ("symcalc.symbolic.steps", "Derivation"),
    "Equation": ("symcalc.symbolic.steps", "Equation"),
    "LocalDerivatives": ("symcalc.symbolic.steps", "LocalDerivatives"),
    "ParameterGradients": ("symcalc.symbolic.steps", "ParameterGradients"),
    "Step": ("symcalc.symbolic.steps", "Step"),
    "Update": ("symcalc.symbolic.steps", "Update"),
    "Check": ("symcalc.check.records", "Check"),
    "Counterexample": ("symcalc.check.records", "Counterexample"),
    "ProofLimits": ("symcalc.check.ladder", "ProofLimits"),
    "latex": ("symcalc.render.latex", "render_latex"),
    "markdown": ("symcalc.render.markdown", "render_markdown"),
    "html": ("symcalc.render.html", "render_html"),
    "check_claim": ("symcalc.check.checks", "check_claim"),
    "verify": ("symcalc.check.checks", "verify"),
    "generate_module": ("symcalc.numeric.codegen", "generate"),
    "codegen": ("symcalc.numeric.codegen", "codegen"),
    "load_module": ("symcalc.numeric.codegen", "load_module"),
    "Dataset": ("symcalc.numeric.data", "Dataset"),
    "load_builtin": ("symcalc.numeric.data", "load_builtin"),
    "load_csv": ("symcalc.numeric.data", "load_csv"),
    "Epoch": ("symcalc.numeric.descent", "Epoch"),
    "Stop": ("symcalc.numeric.descent", "Stop"),
    "descend": ("symcalc.numeric.descent", "descend"),
    "fit": ("symcalc.numeric.fit", "fit"),
    "Fitted": ("symcalc.numeric.fit", "Fitted"),
    "NumericModel": ("symcalc.numeric.model", "NumericModel"),
    "Program": ("symcalc.numeric.program", "Program"),
    "build_program": ("symcalc.numeric.program", "build_program"),
    "compile_model": ("symcalc.numeric.model", "compile_model"),
    "stable": ("symcalc.numeric.program", "stable"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symcalc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load(target: str | None = None) -> Model:
    """A model from a derivation file, a built-in model's name, or the seed when None."""
    from symcalc.symbolic.graph import Model

    return Model.load(target)


__all__ = [
    "ChainRule",
    "Check",
    "Claim",
    "Counterexample",
    "DataError",
    "Dataset",
    "Derivation",
    "Epoch",
    "Equation",
    "Fitted",
    "LimitError",
    "LocalDerivatives",
    "Model",
    "NumericModel",
    "ParameterGradients",
    "ParseError",
    "Program",
    "ProofLimits",
    "Spec",
    "SpecError",
    "Step",
    "Stop",
    "SymcalcError",
    "Update",
    "build_program",
    "builtin_models",
    "check_claim",
    "codegen",
    "compile_model",
    "derive",
    "descend",
    "fit",
    "generate_module",
    "html",
    "latex",
    "load",
    "load_builtin",
    "load_csv",
    "load_module",
    "load_spec",
    "markdown",
    "relu",
    "sigmoid",
    "softplus",
    "stable",
    "verify",
]
