"""Adding a function is one entry in `symbolic/functions.py` (and its SymPy class in
`symbolic/function_classes.py` if SymPy has none): no other module names a function of the table.

The package's source is read with `ast`. A module names a function of the table when it imports
one of the table's own classes from the package, reads one as an attribute (``functions.relu``) or
writes its name as a string (``"sigmoid"``). SymPy's own elementary functions (exp, log, Max, …)
are the language every module builds with and are not scanned; erf is, since the table brings it
in. Modules that must know one function by name are listed below with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sympy as sp

import symcalc
from symcalc.symbolic.functions import FUNCTIONS

PACKAGE = Path(symcalc.__file__).parent
#: The table and the SymPy classes it builds.
TABLE_MODULES = {"symbolic/functions.py", "symbolic/function_classes.py"}

#: The names scanned: the table's names whose class is symcalc's own, and erf.
SCANNED = {
    name
    for name, spec in FUNCTIONS.items()
    if spec.function is sp.erf
    or (spec.function is not None and spec.function.__module__.startswith("symcalc"))
}

#: Modules allowed to name a function of the table, and which: each is knowledge about one
#: function that is not a property of that function alone (a pair, a rewrite between two).
ALLOWED: dict[str, set[str]] = {
    # the public API re-exports the classes users build expressions with
    "__init__.py": {"sigmoid", "softplus", "relu"},
    # the check kind "step" (a step of a derivation), not the function: a string that only looks alike
    "check/checks.py": {"step"},
    # a counterexample away from saturation: σ's outputs saturate at 0 and 1 (as tanh's at ±1)
    "check/clearest.py": {"sigmoid"},
    # proofs by cases: relu and step branch on the sign of their argument (like Abs, Max)
    "check/prove.py": {"relu", "step"},
    # the generated runtime's function step(params, data) (a descent step), not the function step
    "numeric/frameworks.py": {"step"},
    # 0/1 labels are found by the log of a sigmoid output: the sigmoid/cross-entropy pair
    "numeric/data.py": {"sigmoid"},
    # the C library's vectorisable functions by their libm names, not the table's functions
    "numeric/c/source.py": {"log1p", "expm1"},
    # the batch module writes σ and softplus with exp and log1p, so that a line's softplus terms of
    # one u share one log1p(e^−|u|) (NumPy's logaddexp is four times slower): the same relation
    "numeric/batch_stable.py": {"sigmoid", "softplus"},
    # the start of a weight by its activation: He's scale where a product feeds relu; a σ output is a
    # probability, scored as class 1 from 1/2 (a score from 0)
    "numeric/batch_fit.py": {"relu", "sigmoid"},
    # stability rewrites between two functions: log σ → −softplus, 1 − σ(u) → σ(−u), hand-written σ
    "numeric/stable.py": {"sigmoid", "softplus"},
    # the logit: a loss that takes the log of σ(u) predicts class 1 where u ≥ 0
    "numeric/program.py": {"sigmoid"},
    # the LaTeX reader reads \sigma(z) (and σ′) as the sigmoid: the one Greek letter that is a function
    "spec/latex.py": {"sigmoid"},
    # σ's ASCII spelling, for a console that cannot encode it
    "render/ascii.py": {"sigmoid"},
    # English: "the sigmoid σ", "a sigmoid output with cross-entropy" (wording lives in render/)
    "render/wording.py": {"sigmoid", "softplus"},
    # a relu(u) or max(0, u) node is a ramp: its step factor cancels where the node is nonzero
    "symbolic/forms.py": {"relu", "step"},
    # the sigmoid/cross-entropy insight and σ's range and inverse
    "symbolic/insights.py": {"sigmoid"},
    # σ and softplus written out with exp are recognised and named
    "symbolic/recognise.py": {"sigmoid", "softplus"},
    # a second derivative at a kink: DiracDelta beside the step it differentiates, step(u)^k = step(u)
    "symbolic/kinks.py": {"step"},
}


def named(source: str, names: set[str]) -> set[str]:
    """Those of `names` that `source` imports from the package, reads as attributes or writes as strings."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("symcalc"):
            found |= {alias.name for alias in node.names if alias.name in names}
        elif isinstance(node, ast.Attribute) and node.attr in names:
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            found.add(node.value)
    return found


def test_the_scan_finds_each_way_of_naming_a_function() -> None:
    assert {"sigmoid", "softplus", "relu", "step", "gelu", "leaky_relu", "erf"} <= SCANNED
    assert named("from symcalc.symbolic.functions import gelu as g", SCANNED) == {"gelu"}
    assert named("import symcalc.symbolic.functions as f\nf.leaky_relu(x, 0.1)", SCANNED) == {"leaky_relu"}
    assert named('TABLE = {"erf": 1}', SCANNED) == {"erf"}
    assert named("def step(x):\n    step = 1\n    return 'a step'", SCANNED) == set()  # another step


def test_no_module_but_the_table_names_a_function_of_the_table() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module not in TABLE_MODULES:
            found[module] = named(path.read_text(encoding="utf-8"), SCANNED)
    unexpected = {
        m: names - ALLOWED.get(m, set()) for m, names in found.items() if names - ALLOWED.get(m, set())
    }
    assert not unexpected, unexpected
    stale = {m: names - found.get(m, set()) for m, names in ALLOWED.items() if names - found.get(m, set())}
    assert not stale, stale  # an allowance no longer needed is removed, so the list stays the truth
