"""symcalc: symbolic, step-by-step, verified gradients of machine-learning models."""

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


def load(target: str | None = None) -> Model:
    """A model from a derivation file, a built-in model's name, or the seed when None."""
    return Model.load(target)


__all__ = [
    "ChainRule",
    "Check",
    "Claim",
    "Counterexample",
    "DataError",
    "Derivation",
    "Equation",
    "LimitError",
    "LocalDerivatives",
    "Model",
    "ParameterGradients",
    "ParseError",
    "Spec",
    "SpecError",
    "Step",
    "SymcalcError",
    "Update",
    "builtin_models",
    "check_claim",
    "derive",
    "load",
    "load_spec",
    "relu",
    "sigmoid",
    "softplus",
    "verify",
]
