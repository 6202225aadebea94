"""symcalc: symbolic, step-by-step, verified gradients of machine-learning models."""

from __future__ import annotations

import os
import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from symcalc.errors import DataError, LimitError, ParseError, SpecError, SymcalcError

#: The process that imported symcalc: a process with another id is a forked child, whose compiled
#: kernels must keep to one thread (OpenMP's threads do not survive fork; see symcalc.native).
IMPORTED_IN = os.getpid()

if TYPE_CHECKING:
    from symcalc.codegen import generate as generate_module
    from symcalc.data import Dataset, load_builtin, load_csv
    from symcalc.descent import Epoch, Stop, descend
    from symcalc.engine import derive
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

# Everything that loads SymPy (or NumPy) is imported on first use. `python -m symcalc` and the
# `symcalc` command import this package first, and their parent process never needs SymPy:
# the symbolic work runs in a child process (symcalc.limits).
_LAZY = {
    "derive": ("symcalc.engine", "derive"),
    "relu": ("symcalc.functions", "relu"),
    "sigmoid": ("symcalc.functions", "sigmoid"),
    "softplus": ("symcalc.functions", "softplus"),
    "Claim": ("symcalc.model", "Claim"),
    "Model": ("symcalc.model", "Model"),
    "Spec": ("symcalc.spec", "Spec"),
    "builtin_models": ("symcalc.spec", "builtin_models"),
    "load_spec": ("symcalc.spec", "load"),
    "ChainRule": ("symcalc.steps", "ChainRule"),
    "Derivation": ("symcalc.steps", "Derivation"),
    "Equation": ("symcalc.steps", "Equation"),
    "LocalDerivatives": ("symcalc.steps", "LocalDerivatives"),
    "ParameterGradients": ("symcalc.steps", "ParameterGradients"),
    "Step": ("symcalc.steps", "Step"),
    "Update": ("symcalc.steps", "Update"),
    "Check": ("symcalc.verify", "Check"),
    "Counterexample": ("symcalc.verify", "Counterexample"),
    "check_claim": ("symcalc.verify", "check_claim"),
    "verify": ("symcalc.verify", "verify"),
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


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(ModuleType):
    """This package's module type: `symcalc.verify` stays the function once the submodule is loaded.

    Python sets a package's attribute to each of its submodules the first time one is imported;
    for the submodule symcalc.verify, imported lazily, that would hide the function of that name.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if not (name in _LAZY and isinstance(value, ModuleType)):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def load(target: str | None = None) -> Model:
    """A model from a derivation file, a built-in model's name, or the seed when None."""
    from symcalc.model import Model

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
