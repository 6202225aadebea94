"""The insight of a recurrence: the factor by which back-propagation through time carries dL/dh_t one
step back, diag(f′)·W transposed, and its product over steps, which vanishes or explodes.

A recurrence is found in the definitions as written (a file's `"h[t]"` cell unrolled, or the same
steps written by hand): vectors h1 … hT of one shape, each step's definition the one before it
with every stepped name moved on a step (h1 → h2, x2 → x3). Its vector form's chain rule for
dL/dh_{T−1} must read Wᵀ·(G ⊙ dL/dh_T); the factor is then diag(G)·W, and it is kept only when it
equals, entry by entry, SymPy's own derivative of the written-out h_T with respect to h_{T−1}.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import sympy as sp

from symcalc.symbolic.arrays import diag, matmul, transpose
from symcalc.symbolic.expand import Shaped, concrete
from symcalc.symbolic.functions import to_elementary
from symcalc.symbolic.insights import Insight
from symcalc.symbolic.notation import Adjoint, Total
from symcalc.symbolic.vector import VectorForm

_STEPPED = re.compile(r"([A-Za-z][A-Za-z0-9_]*?)([0-9]+)")


def recurrence_insights(shaped: Shaped | None, vector: VectorForm | None) -> tuple[Insight, ...]:
    """The vanishing/exploding-gradient factor of each recurrence in the model (checked), in file order."""
    if shaped is None or vector is None:
        return ()
    return tuple(_insights(shaped, vector))


def _insights(shaped: Shaped, vector: VectorForm) -> Iterator[Insight]:
    definitions = dict(shaped.definitions)
    shapes = dict(shaped.shapes)
    chains = {result.node: result.chain for result in vector.adjoints}
    for stem, steps in _recurrences(shaped).items():
        last, before = steps[-1], steps[-2]
        factor = _factor(chains.get(before), last)
        if factor is None or not _holds(factor, last, before, definitions, shaped):
            continue
        product = factor
        for step in reversed(steps[:-2]):
            if len(shapes.get(step, ())) != 1:
                break
            nearer = _factor(chains.get(step), steps[steps.index(step) + 1])
            if nearer is None:
                break
            product = matmul(product, nearer)
        first = steps[0] if product != factor else before
        loss = next(iter(vector.adjoints)).loss
        yield Insight(
            "recurrence",
            (
                Total(loss, before),
                vector.marked(chains[before]),
                Total(last, before),
                factor,
                Total(last, first),
                product,
                sp.Symbol(stem, real=True),
            ),
        )


def _recurrences(shaped: Shaped) -> dict[str, list[sp.Symbol]]:
    """Each stem with two or more steps (h1, h2, h3) that are vectors of one shape, each step read by
    the next, and each step's definition the one before with every stepped name moved on a step."""
    shapes = dict(shaped.shapes)
    definitions = dict(shaped.definitions)
    stems: dict[str, dict[int, sp.Symbol]] = {}
    for symbol in definitions:
        found = _STEPPED.fullmatch(symbol.name)
        if found is not None and len(shapes.get(symbol, ())) == 1:
            stems.setdefault(found.group(1), {})[int(found.group(2))] = symbol
    result: dict[str, list[sp.Symbol]] = {}
    for stem, numbered in stems.items():
        run: list[sp.Symbol] = []
        for t in sorted(numbered):
            step = numbered[t]
            previous = run[-1] if run else None
            reads = previous is not None and previous in definitions[step].free_symbols
            if not reads or shapes[step] != shapes[previous]:
                run = [step]
                continue
            if len(run) >= 2 and _moved_on(definitions[previous], t - 1) != definitions[step]:
                run = [step]
                continue
            run.append(step)
        if len(run) >= 2:
            result[stem] = run
    return result


def _moved_on(expr: sp.Expr, t: int) -> sp.Expr:
    """`expr`, step t's definition, with every name of step t − 1 or t moved on a step (h1 → h2, x2 → x3)."""
    moves: dict[sp.Basic, sp.Basic] = {}
    for symbol in expr.free_symbols:
        found = _STEPPED.fullmatch(symbol.name)
        if found is not None and int(found.group(2)) in (t - 1, t):
            moves[symbol] = symbol.func(f"{found.group(1)}{int(found.group(2)) + 1}", **symbol.assumptions0)
    return expr.xreplace(moves)


def _factor(chain: sp.Expr | None, later: sp.Symbol) -> sp.Expr | None:
    """diag(G)·W where the chain rule reads dL/dh_{t−1} = Wᵀ·(G ⊙ dL/dh_t); None for any other form."""
    if not isinstance(chain, matmul) or not isinstance(chain.args[0], transpose):
        return None
    weights, carried = chain.args[0].args[0], chain.args[1]
    adjoints = [f for f in sp.Mul.make_args(carried) if isinstance(f, Adjoint) and f.node.name == later.name]
    if len(adjoints) != 1:
        return None
    gain = sp.Mul(*(f for f in sp.Mul.make_args(carried) if f is not adjoints[0]))
    if gain.has(Adjoint):
        return None
    return matmul(diag(gain), weights)


def _holds(
    factor: sp.Expr,
    later: sp.Symbol,
    earlier: sp.Symbol,
    definitions: dict[sp.Symbol, sp.Expr],
    shaped: Shaped,
) -> bool:
    """Whether `factor` is the Jacobian of `later` with respect to `earlier`, entry by entry, against
    SymPy's diff of the written-out step (the later step's entries put back as their definition)."""
    arrays = shaped.arrays()
    value = concrete(definitions[later], arrays)
    jacobian = concrete(factor, arrays)
    entries = arrays[later]
    replaced = {entry: value[i] for i, entry in enumerate(entries.flat)}
    for i, row in enumerate(value):
        for j, wrt in enumerate(arrays[earlier].flat):
            expected = sp.diff(row, wrt)
            shown = sp.sympify(jacobian[i, j]).xreplace(replaced)
            if sp.expand(to_elementary(shown - expected)) != 0:
                return False
    return True
