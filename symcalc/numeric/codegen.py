"""`symcalc codegen`: a module with one model's loss, gradient and predictions over a batch.

Every model's module is the text of its batch form (`symcalc.numeric.batch_code`): a model
with vectors as derived (`S = c + X @ W.T`), a model of scalars with each per-sample name a
column of m values (`z = b + w1*x1`, `grad_w1 = (dL_dz*x1).sum()/m`). NumPy's module is the
one `NumericModel` runs, byte for byte; JAX's and PyTorch's (`symcalc.numeric.frameworks`)
print the same lines for their framework. Code text is built only from validated names and
printer output; nothing the user typed (a title, a note, a path) is copied into it.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType

from symcalc.errors import BatchUnsupported
from symcalc.numeric.batch_code import generate_batch
from symcalc.numeric.frameworks import generate_framework
from symcalc.numeric.program import Program, build_program, refuse_numbers_beyond_float64
from symcalc.symbolic.steps import Derivation, Unsupported

#: What `codegen` writes for: the array library each module uses.
TARGETS = ("numpy", "jax", "torch")


def codegen(derivation: Derivation, target: str = "numpy", standalone: bool = False) -> str:
    """The source of the module for `derivation` that uses `target` (NumPy, JAX or PyTorch).

    NumPy's is `generate`'s (`standalone`: with its runtime copied in); JAX's and PyTorch's, always
    standalone, (`symcalc.numeric.frameworks`) have the same
    functions and conventions, plus `loss_with_derived_gradient`. No framework is imported here.
    """
    if target not in TARGETS:
        raise ValueError(f"no codegen target {target!r}: the targets are {', '.join(TARGETS)}")
    refuse_numbers_beyond_float64(derivation)
    if target == "numpy":
        return generate(derivation, standalone)
    return generate_framework(derivation, target)


def load_module(source: str, name: str = "symcalc_generated") -> ModuleType:
    """A module `generate` wrote, imported from its text without writing a file.

    The text is symcalc's printer output over validated names (nothing a file says is copied
    into code), as `lambdify` runs its own.
    """
    module = ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def generate(derivation: Derivation, standalone: bool = False) -> str:
    """The text of the NumPy module for `derivation`: its batch form's (`batch_form_of`), which
    imports symcalc's runtime, or, `standalone`, holds a copy of it and runs without symcalc."""
    refuse_numbers_beyond_float64(derivation)
    return generate_batch(derivation, standalone)


def numeric_program(derivation: Derivation) -> Program:
    """The derivation's per-sample program carrying its batch module, as `NumericModel` runs it."""
    program = build_program(derivation)
    try:
        source = generate_batch(derivation)
    except BatchUnsupported as err:
        return dataclasses.replace(program, batch_problem=Unsupported("batch module", str(err)))
    return dataclasses.replace(program, batch_source=source, batch_problem=None)
