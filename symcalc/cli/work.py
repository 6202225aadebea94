"""What each command computes, from a file to text or data: the work that runs in the limited child.

These functions load SymPy (and rich) inside their bodies: the process the user started
never imports them, it only waits for the child (`symcalc.isolate.run_limited`) and prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from symcalc.check.graded import Graded, Submission
    from symcalc.check.records import Check
    from symcalc.numeric.batch_fit import BatchModel
    from symcalc.numeric.descent import Epoch
    from symcalc.numeric.model import NumericModel
    from symcalc.numeric.program import Program
    from symcalc.symbolic.steps import Derivation


def derive_file(
    target: str | None,
    sizes: Mapping[str, int] | None = None,
    hessian: bool = False,
    constants: Mapping[str, float] | None = None,
) -> Derivation:
    """Load and derive one file (or a built-in model by name); what `symcalc derive` computes.

    A model with vectors or matrices is written out for reading, or at exactly `sizes` for a run
    (`Model.from_spec`). With `hessian`, the second derivatives too; a model with too many
    parameters for them is bad input. `constants` set some constants' values (`--set`).
    """
    from symcalc.errors import Location, SecondOrderUnsupported, SpecError
    from symcalc.symbolic.engine import derive
    from symcalc.symbolic.graph import Model

    model = Model.load(target, sizes, constants)
    try:
        return derive(model, hessian=hessian)
    except SecondOrderUnsupported as err:
        raise SpecError(
            f"second derivatives: {err}",
            Location(source=model.source),
            fix="drop --hessian, or train with --method lbfgs or gd",
        ) from None


def data_sizes(
    target: str | None, data: str | None, mapping: Mapping[str, str] | None = None
) -> dict[str, int]:
    """The sizes of a model's dimensions that its data decide (columns x1 … x30 make n = 30, a column
    --columns maps to x30 counting as x30); {} if none, and {} without data: the built-in two-feature
    data never decide a size (a model written for n = 4 is refused there, not trained at n = 2)."""
    from symcalc.errors import DataError, Location, SymcalcError
    from symcalc.numeric.data import columns_of, renamed_header
    from symcalc.spec.shapes import sizes_from_columns
    from symcalc.spec.toml import check, read
    from symcalc.symbolic.building import RESERVED

    if data is None:
        return {}
    try:
        spec, _ = check(*read(target), reserved=RESERVED)
    except SymcalcError:
        return {}  # loading the model reports it
    declared = [(name, axes) for name, axes in spec.shapes if name in (*spec.inputs, *spec.targets)]
    if not declared:
        return {}
    header, source = columns_of(data)
    sizes = sizes_from_columns(declared, renamed_header(header, mapping or {}), source)
    shapes = dict(spec.shapes)
    for name, own, _ in spec.arrays:  # a constant's numbers are fixed: the data cannot resize it
        for axis, length in zip(shapes[name], own, strict=True):
            if isinstance(axis, str) and sizes.get(axis, length) != length:
                raise DataError(
                    f"the columns make {axis} = {sizes[axis]}, "
                    f"but the constant {name} has {length} along {axis}",
                    Location(source=source),
                    fix=f"give the data {length} for {axis}, or change {name} under [constants]",
                )
    return sizes


def unused_parameters(loss: str, parameters: Sequence[str], zero: Sequence[str]) -> list[str]:
    """Warnings for parameters whose gradient is 0: they do not affect the loss (usually a typo)."""
    if zero and len(zero) == len(parameters):
        return [f"the loss {loss} depends on no parameter: every gradient is 0 (a typo?)"]
    return [f"parameter {p!r} does not affect the loss {loss}: its gradient is 0 (a typo?)" for p in zero]


def derive_output(
    target: str | None,
    as_json: bool,
    hessian: bool = False,
    compact: bool = False,
    views: frozenset[str] | None = None,
) -> tuple[str, list[str]]:
    """What `symcalc derive` prints (`derive_text`), and its warnings for standard error."""
    derivation = derive_file(target, hessian=hessian)
    zero = [p.name for p, g in derivation.gradients.items() if g == 0]
    names = [p.name for p in derivation.model.parameters]
    return _derivation_text(derivation, as_json, compact, views), unused_parameters(
        derivation.loss.name, names, zero
    )


def derive_text(target: str | None, as_json: bool) -> str:
    """What `symcalc derive` prints: the derivation for this terminal (rich), or as JSON.

    Rendered where it is derived, as LaTeX and Markdown are: printing is bounded by the time
    limit too, and the result sent back is text, which the parent prints without SymPy.
    """
    return _derivation_text(derive_file(target), as_json)


def _for_this_terminal() -> bool:
    """Whether the terminal takes symcalc's characters (the child's stdout is the parent's: cp1252 does
    not); where it does not, maths is printed in SymPy's ASCII forms from here on."""
    import sys

    from symcalc.render.ascii import encodes
    from symcalc.render.pretty import set_ascii

    unicode = encodes(sys.stdout)
    set_ascii(not unicode)
    return unicode


def _derivation_text(
    derivation: Derivation, as_json: bool, compact: bool = False, views: frozenset[str] | None = None
) -> str:
    unicode = _for_this_terminal()
    if as_json:
        from symcalc.render.json import derivation_dict
        from symcalc.render.text import json_escaped

        text = json.dumps(derivation_dict(derivation), indent=2, ensure_ascii=not unicode)
        return json_escaped(text) + "\n"
    from rich.console import Console

    width = Console().width  # sees the same stdout, terminal and environment as the parent
    if unicode:
        return _rendered(derivation, width, compact, views)
    from symcalc.render.ascii import fitted

    return fitted(lambda narrower: _rendered(derivation, narrower, compact, views), width)


def _rendered(derivation: Derivation, width: int, compact: bool, views: frozenset[str] | None) -> str:
    from rich.console import Console

    from symcalc.render.console import render_derivation

    console = Console(width=width)
    with console.capture() as capture:
        console.print(*render_derivation(derivation, width, compact, views))
    return capture.get()


def latex_file(
    target: str | None,
    body_only: bool,
    hessian: bool = False,
    compact: bool = False,
    views: frozenset[str] | None = None,
) -> str:
    """The LaTeX of one file's derivation; what `symcalc latex` computes (printing can be slow too)."""
    from symcalc.render.latex import render_latex

    derivation = derive_file(target, hessian=hessian)
    return render_latex(derivation, body_only=body_only, compact=compact, views=views)


def markdown_file(
    target: str | None, hessian: bool = False, compact: bool = False, views: frozenset[str] | None = None
) -> str:
    """The Markdown of one file's derivation; what `symcalc markdown` computes."""
    from symcalc.render.markdown import render_markdown

    return render_markdown(derive_file(target, hessian=hessian), compact, views)


def html_file(target: str | None, compact: bool = False, views: frozenset[str] | None = None) -> str:
    """The web page of one file's derivation, with its verification table; what `symcalc html` computes."""
    from symcalc.check.checks import verify
    from symcalc.render.html import render_html

    derivation = derive_file(target)
    return render_html(derivation, verify(derivation), compact, views)


def verify_file(
    target: str | None,
    strict: bool,
    points: int,
    seed: int,
    hessian: bool = False,
    constants: Mapping[str, float] | None = None,
    for_terminal: bool = True,
) -> tuple[str, list[Check]]:
    """Load, derive and verify one file; what `symcalc verify` computes for each file. The numeric
    checks draw each constant near its value: the file's, or the one `constants` sets. For the
    terminal, the statements are printed here (`_terminal_checks`)."""
    from symcalc.check.checks import verify

    derivation = derive_file(target, hessian=hessian, constants=constants)
    checks = verify(derivation, strict=strict, points=points, seed=seed)
    return derivation.title, _terminal_checks(checks) if for_terminal else checks


def _terminal_checks(checks: list[Check]) -> list[Check]:
    """The checks with their statements printed for this terminal, where SymPy is loaded: the process
    the user started then shows them without loading it."""
    from symcalc.render.checks import printed

    _for_this_terminal()
    return printed(checks)


def check_file(
    target: str,
    lhs: str,
    rhs: str,
    strict: bool,
    points: int,
    seed: int,
    constants: Mapping[str, float] | None = None,
    for_terminal: bool = True,
) -> tuple[str, list[Check]]:
    """Load one file and check one claim given on the command line; what `symcalc check` computes."""
    from symcalc.check.checks import check_claim
    from symcalc.errors import SymcalcError
    from symcalc.symbolic.graph import Model

    shown = _terminal_checks if for_terminal else list
    model = Model.load(target, constants=constants)
    try:
        return model.title, shown([check_claim(model, lhs, rhs, strict=strict, points=points, seed=seed)])
    except SymcalcError as err:
        shaped = model.shaped
        if shaped is None or not shaped.declared or "undeclared name" not in err.problem:
            raise
    # A claim about an entry past the sizes written out for reading (dL/dw5 at n = 5): at the file's own.
    exact = Model.load(target, {**dict(shaped.sizes), **dict(shaped.declared)}, constants)
    return exact.title, shown([check_claim(exact, lhs, rhs, strict=strict, points=points, seed=seed)])


def check_work_file(
    target: str,
    text: str,
    source: str,
    kind: str,
    strict: bool,
    points: int,
    seed: int,
    constants: Mapping[str, float] | None = None,
    for_terminal: bool = True,
) -> tuple[str, list[Check]]:
    """Check each `=` of a person's derivation `text` against a model; what `symcalc check-work` computes."""
    from symcalc.check.records import strictly
    from symcalc.check.work import check_work
    from symcalc.symbolic.graph import Model

    model = Model.load(target, constants=constants)
    checks = check_work(model, text, source, kind, points=points, seed=seed)
    checks = [strictly(check) for check in checks] if strict else checks
    return model.title, _terminal_checks(checks) if for_terminal else checks


def program_file(
    target: str | None,
    sizes: Mapping[str, int],
    hessian: bool = False,
    constants: Mapping[str, float] | None = None,
) -> Program:
    """Derive one file written out at `sizes` (the data's; the rest from [dimensions]) and build its
    stable numeric program, with the second derivatives for Newton's method and the constants
    `--set` gives, and decide which targets are 0/1 labels: the symbolic half of `symcalc train`,
    so that the process the user started does no symbolic work (checking the data's labels included)."""
    from dataclasses import replace

    from symcalc.numeric.codegen import numeric_program
    from symcalc.numeric.data import binary_targets

    program = numeric_program(derive_file(target, sizes, hessian, constants))
    return replace(program, labels=tuple(t.name for t in binary_targets(program.model)))


def method_records(
    method: str,
    numeric: NumericModel,
    columns: Mapping[str, Any],
    start: Mapping[str, float],
    learning_rate: float,
    epochs: int,
    tol: float,
) -> Iterator[Epoch]:
    """The records of one training method on `columns`: "gd" (gradient descent at `learning_rate`),
    "newton" (damped Newton, the Hessian from the program) or "lbfgs" (SciPy's L-BFGS-B), with the
    constants the program was built with (the file's, or --set's)."""
    from symcalc.numeric.descent import descend
    from symcalc.numeric.lbfgs import lbfgs
    from symcalc.numeric.newton import newton

    def evaluate(params: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        return numeric.evaluate(params, columns)

    if method == "newton":
        return newton(
            numeric.second_order_on(columns),
            lambda params: evaluate(params)[0],
            start,
            epochs,
            tol,
        )
    if method == "lbfgs":
        return lbfgs(evaluate, start, epochs, tol)
    return descend(evaluate, start, learning_rate, epochs, tol)


def codegen_file(
    target: str | None,
    library: str = "numpy",
    constants: Mapping[str, float] | None = None,
    standalone: bool = False,
) -> str:
    """The module for one file, for NumPy, JAX or PyTorch; what `symcalc codegen` computes. Its
    CONSTANTS hold the file's values, or those `constants` set; `standalone`, a NumPy module holds
    its runtime rather than importing symcalc's."""
    from symcalc.numeric.codegen import codegen

    return codegen(derive_file(target, constants=constants), library, standalone)


def declares_shapes(target: str | None) -> bool:
    """Whether a model file declares vectors or matrices (its TOML read, nothing derived); False for a
    file that does not load, which loading it reports."""
    from symcalc.errors import SymcalcError
    from symcalc.spec.toml import check, read
    from symcalc.symbolic.building import RESERVED

    try:
        spec, _ = check(*read(target), reserved=RESERVED)
    except SymcalcError:
        return False
    return bool(spec.shapes)


def refuse_batch_level(target: str | None) -> None:
    """SymcalcError (one line) for a batch-level model (`spec.shapes.batch_inputs`): `train` reads one
    sample per row and minimises the mean of the loss over them, which is not a loss over a batch."""
    from symcalc.errors import SymcalcError
    from symcalc.spec.shapes import batch_inputs
    from symcalc.spec.toml import check, read
    from symcalc.symbolic.building import RESERVED

    try:
        spec, _ = check(*read(target), reserved=RESERVED)
    except SymcalcError:
        return  # loading the model reports it
    batches = batch_inputs(spec.inputs, spec.targets, spec.shapes)
    if batches:
        axes = dict(spec.shapes)[batches[0]]
        declared = f"{batches[0]}[{','.join(map(str, axes))}]"
        raise SymcalcError(
            f"a batch-level model is not trained: its loss is over the whole batch {declared}, and train "
            "reads one sample per row and minimises the mean of a loss over them",
            fix=f"derive, verify and check it; its dL/d{batches[0]} is derived too",
        )


def parameter_entries(target: str | None, sizes: Mapping[str, int]) -> tuple[int, dict[str, int]]:
    """How many numbers the parameters of a model file hold at its [dimensions] with `sizes` (the
    data's) over them, and those dimensions: its TOML read, nothing derived; 0 for a file that does not
    load, which loading it reports."""
    import math

    from symcalc.errors import SymcalcError
    from symcalc.spec.toml import check, read
    from symcalc.symbolic.building import RESERVED

    try:
        spec, _ = check(*read(target), reserved=RESERVED)
    except SymcalcError:
        return 0, {}
    dimensions, shapes = {**dict(spec.dimensions), **sizes}, dict(spec.shapes)
    entries = sum(
        math.prod(dimensions.get(a, 0) if isinstance(a, str) else int(a) for a in shapes.get(name, ()))
        for name in spec.parameters
    )
    return entries, dimensions


def batch_file(
    target: str | None,
    constants: Mapping[str, float] | None = None,
    hessian: bool = False,
    required: bool = True,
) -> BatchModel | None:
    """Derive one file at reading sizes (the batch form does not depend on them) and take what
    training on arrays needs: the module `codegen` writes (`codegen_file`'s bytes), each parameter's
    shape and start, how predictions are scored; the symbolic half of `train` for a model with
    vectors and matrices. With `hessian`, the module has the Hessian too (for Newton's method).
    Unless `required`, None where there is no such module (no batch form; with `hessian`, no batch
    form of the second derivatives): `train` then computes on the model written out."""
    from symcalc.numeric.batch_fit import batch_model
    from symcalc.symbolic.engine import derive
    from symcalc.symbolic.graph import Model

    # the batch module reads the batch form's second derivatives, never the written-out ones
    derivation = derive(Model.load(target, None, constants), hessian=hessian, written_out_hessian=False)
    if not required and (derivation.batch is None or (hessian and not derivation.batch.hessian)):
        return None
    return batch_model(derivation)


def grade_folder(
    target: str,
    submissions: Sequence[Submission],
    rubric: str | None,
    points: int,
    seed: int,
    timeout: float,
    jobs: int,
    constants: Mapping[str, float] | None = None,
) -> list[Graded]:
    """Each submission checked against the model and scored by the rubric; what `symcalc grade`
    computes (the model loaded once, here; each submission in its own child of this one)."""
    from symcalc.check.grading import grade_all

    return grade_all(
        target, submissions, rubric, points=points, seed=seed, timeout=timeout, jobs=jobs, constants=constants
    )
