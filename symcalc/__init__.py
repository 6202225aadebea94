"""symcalc: symbolic, step-by-step, verified gradients of machine-learning models."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from symcalc.engine import derive
from symcalc.errors import DataError, LimitError, ParseError, SpecError, SymcalcError
from symcalc.functions import relu, sigmoid, softplus
from symcalc.model import Claim, Model
from symcalc.spec import Spec, builtin_models
from symcalc.spec import load as load_spec
from symcalc.steps import (
    ChainRule,
    Derivation,
    Equation,
    LocalDerivatives,
    ParameterGradients,
    Step,
    Update,
)
from symcalc.verify import Check, Counterexample, check_claim, verify

if TYPE_CHECKING:
    from symcalc.codegen import generate as generate_module
    from symcalc.data import Dataset, load_builtin, load_csv
    from symcalc.descent import Epoch, Stop, descend
    from symcalc.numeric import NumericModel, Program, build_program, compile_model, stable

# The numeric side (NumPy, SymPy's code printers) is imported on first use, so that
# `symcalc derive` starts nearly as fast as SymPy itself.
_LAZY = {
    "generate_module": ("symcalc.codegen", "generate"),
    "Dataset": ("symcalc.data", "Dataset"),
    "load_builtin": ("symcalc.data", "load_builtin"),
    "load_csv": ("symcalc.data", "load_csv"),
    "Epoch": ("symcalc.descent", "Epoch"),
    "Stop": ("symcalc.descent", "Stop"),
    "descend": ("symcalc.descent", "descend"),
    "NumericModel": ("symcalc.numeric", "NumericModel"),
    "Program": ("symcalc.numeric", "Program"),
    "build_program": ("symcalc.numeric", "build_program"),
    "compile_model": ("symcalc.numeric", "compile_model"),
    "stable": ("symcalc.numeric", "stable"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symcalc' has no attribute {name!r}")


def load(target: str | None = None) -> Model:
    """A model from a derivation file, a built-in model's name, or the seed when None."""
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
    "LimitError",
    "LocalDerivatives",
    "Model",
    "NumericModel",
    "ParameterGradients",
    "ParseError",
    "Program",
    "Spec",
    "SpecError",
    "Step",
    "Stop",
    "SymcalcError",
    "Update",
    "build_program",
    "builtin_models",
    "check_claim",
    "compile_model",
    "derive",
    "descend",
    "generate_module",
    "load",
    "load_builtin",
    "load_csv",
    "load_spec",
    "relu",
    "sigmoid",
    "softplus",
    "stable",
    "verify",
]
