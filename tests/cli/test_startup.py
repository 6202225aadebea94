"""What keeps `symcalc derive` quick to start, held as properties (never timed).

The terminal printer avoids SymPy's import of sympy.physics.units, and prints exactly what
SymPy's own printer prints. The process the user starts never loads SymPy: the child process
that does the symbolic work loads it, renders, and sends text back.
"""

from __future__ import annotations

import functools
import multiprocessing
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sympy as sp
from sympy.printing.pretty.pretty import PrettyPrinter

import symcalc
from symcalc.render.pretty import UnicodePrinter
from symcalc.symbolic.order import PositiveFirst
from tests.conftest import DERIVATIONS

SETTINGS = {"use_unicode": True, "wrap_line": False}


def _expressions(derivation: symcalc.Derivation) -> Iterator[sp.Basic]:
    model = derivation.model
    for _, expr in model.definitions:
        yield expr
    for step in derivation.steps:
        for equation in step.equations:
            yield from (p for p in (equation.chain, equation.unsimplified, equation.result) if p is not None)
    for update in derivation.updates:
        yield update.rule
    yield from derivation.gradients.values()


@functools.cache  # both orders print the same products: derive the shipped models once
def _products() -> tuple[sp.Mul, ...]:
    x, y, a = sp.symbols("x y a")
    edge_cases = [
        sp.Mul(sp.S.One, x, evaluate=False),
        sp.Mul(-1, x, evaluate=False),
        sp.Mul(x, 2, evaluate=False),
        sp.Mul(sp.S.NegativeOne, x, sp.Rational(1, 2), evaluate=False),
        -x,
        -x * y,
        x / 2,
        3 * x / (4 * y**2),
        x * y ** sp.Rational(-1, 2),
        -a * (1 - a) / (x + y),
        1 / (x * y),
        sp.Rational(2, 3) * sp.exp(-x) * sp.log(1 - a),
        sp.Mul(x, sp.Pow(y, -2, evaluate=False), evaluate=False),
    ]
    found: list[sp.Mul] = list(edge_cases)
    for path in sorted(DERIVATIONS.glob("*.toml")):
        for expr in _expressions(symcalc.derive(symcalc.load(str(path)))):
            found += [e for e in sp.preorder_traversal(expr) if isinstance(e, sp.Mul)]
    return tuple(found)


class _SympysInOurOrder(PositiveFirst, PrettyPrinter):
    """SymPy's own printer, its sums in the renderers' order (z - y): only the products may differ."""


@pytest.mark.slow
@pytest.mark.parametrize("order", [None, "none"])
def test_products_print_as_sympys_own_printer_prints_them(order: str | None) -> None:
    ours = UnicodePrinter({**SETTINGS, "order": order})
    sympys = _SympysInOurOrder({**SETTINGS, "order": order})
    products = _products()
    assert len(products) > 100
    for product in products:
        # print_mul_without_units directly: once any test has loaded sympy.physics.units, our
        # _print_Mul hands every product to SymPy's own and a comparison through it could not fail.
        expected = sympys.doprint(product)
        assert ours.print_mul_without_units(product).render(**SETTINGS) == expected, product


def _fresh(code: str) -> str:
    """What `code` prints in a new interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.strip()


@pytest.mark.slow
def test_printing_every_shipped_derivation_does_not_load_sympys_units() -> None:
    code = f"""
import io, sys
from pathlib import Path
from rich.console import Console
import symcalc
for path in sorted(Path({str(DERIVATIONS)!r}).glob("*.toml")):
    Console(file=io.StringIO(), width=80).print(symcalc.derive(symcalc.load(str(path))))
print("sympy.physics.units" in sys.modules)
"""
    assert _fresh(code) == "False"


def test_the_commands_defaults_are_the_librarys() -> None:
    from symcalc.check import checks
    from symcalc.cli import commands as cli
    from symcalc.spec import toml as spec

    assert cli.DEFAULT_MODEL == spec.DEFAULT_MODEL
    assert (cli.DEFAULT_POINTS, cli.DEFAULT_SEED) == (checks.DEFAULT_POINTS, checks.DEFAULT_SEED)


def test_importing_symcalc_does_not_load_sympy() -> None:
    assert _fresh("import sys, symcalc; print('sympy' in sys.modules)") == "False"


def test_symcalc_verify_stays_the_function_once_the_submodule_is_imported() -> None:
    code = """
import importlib, symcalc
module = importlib.import_module("symcalc.check.checks")
print(symcalc.verify is module.verify, symcalc.derive.__module__)
"""
    assert _fresh(code) == "True symcalc.symbolic.engine"


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no child process")
def test_the_derive_commands_own_process_never_loads_sympy() -> None:
    # The child derives and renders; the process the user started only prints the text.
    code = """
import contextlib, io, os, sys
from symcalc.cli.main import main
os.environ["COLUMNS"] = "120"
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(["derive"])
print(code, "Step 5 of 5" in out.getvalue(), "sympy" in sys.modules, "rich" in sys.modules)
"""
    assert _fresh(code) == "0 True False False"


@pytest.mark.slow
def test_deriving_and_printing_a_scalar_model_never_loads_numpy() -> None:
    # NumPy (about 0.1 s to import) serves models with vectors, and the numbers: neither the process
    # `symcalc derive` starts nor the child that derives the seed waits for it.
    code = """
import io, sys
from rich.console import Console
import symcalc
Console(file=io.StringIO(), width=80).print(symcalc.derive(symcalc.load()))
print("numpy" in sys.modules)
"""
    assert _fresh(code) == "False"
    blocked = (
        "import sys; sys.modules['numpy'] = None  # importing it now fails\n"
        "from symcalc.cli.main import main; sys.exit(main(['derive']))"
    )
    result = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "b := b - α⋅(a - y)" in result.stdout


@pytest.mark.slow
def test_verifys_own_process_prints_the_checks_without_loading_sympy() -> None:
    # the checks come back from the time-limited child with their statements already printed as text
    code = """
import os, sys
os.environ["COLUMNS"] = "120"
from symcalc.cli.main import main
status = main(["verify"])
print(status, "sympy" in sys.modules)
"""
    *table, last = _fresh(code).splitlines()
    assert last == "0 False"
    assert any("│ dL/dw₁ = x₁⋅(a - y)" in line for line in table)  # the notation, printed by the child
