"""symcalc: symbolic, step-by-step, verified gradients of machine-learning models."""

from symcalc.codegen import generate as generate_module
from symcalc.data import Dataset, load_builtin, load_csv
from symcalc.descent import Epoch, Stop, descend
from symcalc.engine import derive
from symcalc.errors import DataError, LimitError, ParseError, SpecError, SymcalcError
from symcalc.functions import relu, sigmoid, softplus
from symcalc.model import Claim, Model
from symcalc.numeric import NumericModel, Program, build_program, compile_model, stable
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
