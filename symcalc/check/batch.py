"""The batch form checked by an independent path: each gradient of J = (1/m) Σ L against the mean,
over m samples, of SymPy's diff of the written-out model's loss.

The samples and parameters are points of the model's domain that meet its assumptions
(`sample.Sampler`); the batch form's lines are evaluated at them by what each operation
means (`expand.concrete`), the oracle differentiates the composed scalar loss. Both sides
are computed at 60 digits; a gradient holds when every entry agrees to 1e-15 relative.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from symcalc.check.oracle import elementary
from symcalc.check.polynomial import spending
from symcalc.check.prove import Canonical, is_zero
from symcalc.check.records import Check, Counterexample
from symcalc.check.sample import Sampler
from symcalc.symbolic.arrays import (
    ARRAY_FUNCTIONS,
    EXTREMES,
    Value,
    largest,
    logsumexp,
    smallest,
    softmax,
    total,
)
from symcalc.symbolic.batch import BatchForm, BatchLine, M, column, column_sums, row_sums
from symcalc.symbolic.expand import concrete, flat
from symcalc.symbolic.functions import text
from symcalc.symbolic.graph import Model
from symcalc.symbolic.shared import free_symbols, xreplace
from symcalc.symbolic.steps import Derivation
from symcalc.symbolic.vector_hessian import identity, identity_value

SAMPLES = 3  # m: the samples of one batch
BATCHES = 2  # batches checked, each at its own parameters
DIGITS = 60  # the loss's own form cancels catastrophically far out (1 − σ(58) at 30 digits keeps 4)
TOLERANCE = 1e-15  # relative
#: The term operations all the exact proofs of one batch form share (`polynomial.spending`; about a
#: second): past them, the gradients left are compared at points only ("holds numerically"). The
#: shipped models spend at most 72 486 (rnn); a 3 × 3 matrix times a vector of tanh(p) spent over 40
#: million, 85 s, before this bound.
EXACT_WORK = 2_000_000


def _rows(function: Callable[[Value], Value]) -> Callable[[Value], Value]:
    """A function of a vector applied to each row of a matrix (each sample's vector)."""

    def apply(value: Value) -> Value:
        if value.ndim == 1:
            return function(value)
        rows = [function(row) for row in value]
        return np.array(rows, dtype=object)

    return apply


#: What the batch form's calls mean at concrete values: sums over samples or entries, a sample's
#: scalar against its row, and softmax, logsumexp, max and min row by row.
MEANINGS: dict[type[sp.Basic], Callable[..., Value]] = {
    column: lambda v: v[:, None],
    column_sums: lambda m: m.sum(axis=0),
    row_sums: lambda m: m.sum(axis=1),
    total: lambda v: sp.Add(*v.flat) if isinstance(v, np.ndarray) else v,
    softmax: _rows(ARRAY_FUNCTIONS["softmax"].value),
    logsumexp: _rows(ARRAY_FUNCTIONS["logsumexp"].value),
    largest: _rows(EXTREMES["max"].value),
    smallest: _rows(EXTREMES["min"].value),
    identity: identity_value,
}


def batch_checks(derivation: Derivation, seed: int) -> list[Check]:
    """One check per gradient of the batch form (none when the model has no batch form).

    Proved when, over symbolic samples, it is exactly the mean of the written-out gradients
    (each checked against SymPy's diff by `verify`); and in every case compared at points with
    the mean of SymPy's diff of the written-out loss, evaluated by mpmath.
    """
    model, batch = derivation.model, derivation.batch
    if batch is None or model.shaped is None:
        return []
    sampler = Sampler(model, seed, limit=20 * SAMPLES * BATCHES)
    points = [point.raw for point in sampler.points()]
    if len(points) < SAMPLES * BATCHES:
        return []  # the domain gave too few points where the loss is defined: the other checks say so
    oracle = _Oracle(model)
    exact = _exact(derivation, batch)
    batches = [points[k * SAMPLES : (k + 1) * SAMPLES] for k in range(BATCHES)]
    evaluated = [_evaluate(batch, model, samples) for samples in batches]
    checks = []
    for line in batch.gradients:
        node = next(p for p in model.shaped.parameters if line.label.endswith(f"/d{p.name}"))
        entries = [(e,) for e in flat(model.shaped.arrays().get(node, node), 1)]
        failed = None
        for samples, values in zip(batches, evaluated, strict=True):
            got = flat(values[line.target], len(entries))
            failed = failed or _compare(line, entries, got, samples, oracle)
        proved = all(e == 0 for e in exact[line.target])
        statement = f"{line.target} = {text(line.value)}"
        detail = f"agrees with the mean of SymPy's diff over {SAMPLES} samples at {BATCHES} points"
        if failed is not None:
            checks.append(failed)
        elif proved:
            checks.append(
                Check(
                    f"batch form {line.label}",
                    "batch",
                    statement,
                    "holds",
                    "proved",
                    f"is exactly the mean of the written-out gradients over {SAMPLES} symbolic samples; "
                    + detail,
                )
            )
        else:
            checks.append(
                Check(f"batch form {line.label}", "batch", statement, "holds", "numerically", detail)
            )
    arrays = model.shaped.arrays()
    for line, second in zip(batch.hessian, derivation.vector_hessian if batch.hessian else (), strict=True):
        pairs = [
            (first, then)
            for first in flat(arrays.get(second.first, second.first), 1)
            for then in flat(arrays.get(second.second, second.second), 1)
        ]
        failed = None
        for samples, values in zip(batches, evaluated, strict=True):
            failed = failed or _compare(line, pairs, flat(values[line.target], len(pairs)), samples, oracle)
        detail = f"agrees with the mean of SymPy's diff, twice, over {SAMPLES} samples at {BATCHES} points"
        statement = f"{line.target} = {text(line.value)}"
        holds = Check(f"batch form {line.label}", "batch", statement, "holds", "numerically", detail)
        checks.append(failed or holds)
    return checks


class _Oracle:
    """SymPy's diff of the written-out loss by each parameter entry, evaluated by mpmath at DIGITS."""

    def __init__(self, model: Model):
        self.model = model
        self.names = [*model.independents]
        loss = elementary(model.composed[model.loss])
        self.loss = loss
        self.functions: dict[tuple[sp.Symbol, ...], Callable[..., Any]] = {}

    def mean(self, entries: tuple[sp.Symbol, ...], samples: list[dict[sp.Symbol, float]]) -> Any:
        """The mean over the samples of SymPy's diff of the loss by `entries` in turn (one or two)."""
        if entries not in self.functions:
            derivative = self.loss
            for entry in entries:
                derivative = sp.diff(derivative, entry)
            self.functions[entries] = sp.lambdify(self.names, derivative, modules="mpmath")
        fixed = samples[0]
        data = set(self.model.inputs) | set(self.model.targets)
        function = self.functions[entries]
        total_ = mpmath.mpf(0)
        for sample in samples:
            values = [sample[s] if s in data else fixed[s] for s in self.names]
            total_ += _at_enough_digits(function, values)
        with mpmath.workdps(DIGITS):
            return total_ / len(samples)


#: The most digits the oracle is evaluated with where fewer leave it undefined.
MOST_DIGITS = 16 * DIGITS


def _at_enough_digits(function: Callable[..., Any], values: list[float]) -> Any:
    """`function` at `values`, with more digits where DIGITS are too few: SymPy's diff of σ(s) written
    out has 1 − σ(s) in a denominator, which rounds to 0 where s is large (s = 120 at 50 digits).
    ZeroDivisionError where it is undefined even at MOST_DIGITS."""
    digits = DIGITS
    while True:
        with mpmath.workdps(digits):
            try:
                return +function(*(mpmath.mpf(v) for v in values))
            except ZeroDivisionError:
                if digits >= MOST_DIGITS:
                    raise
        digits *= 4


def _exact(derivation: Derivation, batch: BatchForm) -> dict[sp.Symbol, list[sp.Expr]]:
    """Each gradient's batch form minus the mean of the written-out gradients, entry by entry, over
    symbolic samples: the forward values stay names (z of sample k is z__k), so the comparison is
    of the backward pass alone, and each difference is expanded (0 when they agree)."""
    model = derivation.model
    assert model.shaped is not None
    arrays = model.shaped.arrays()
    # the data and what is computed from them; a definition of parameters alone (q = tanh(p)) is the
    # same in every sample and keeps its own names, as the parameters do
    per_sample = [*model.inputs, *model.targets]
    for s, definition in model.definitions:
        if definition.free_symbols & set(per_sample):
            per_sample.append(s)

    def sample(symbol: sp.Symbol, k: int) -> sp.Symbol:
        return sp.Symbol(f"{symbol.name}__{k}", real=True)

    values: dict[sp.Basic, Value] = model.shaped.numbers()
    for original, renamed in batch.names:
        if isinstance(original, sp.Symbol) and original in (
            *model.shaped.data,
            *dict(model.shaped.definitions),
        ):
            entries = arrays.get(original)
            rows = [
                np.vectorize(lambda e, k=k: sample(e, k), otypes=[object])(entries)
                if entries is not None
                else sample(original, k)
                for k in range(SAMPLES)
            ]
            values[renamed] = np.array(rows, dtype=object)
    batched = {original for original, _ in batch.names}
    for fixed in (*model.shaped.parameters, *(s for s, _ in model.shaped.definitions if s not in batched)):
        if fixed in arrays:
            values[fixed] = arrays[fixed]
    for line in (*batch.backward, *batch.gradients):
        values[line.target] = concrete(line.value.xreplace({M: SAMPLES}), values, MEANINGS)
    # Each sample's definitions, in that sample's names: where one side names g of sample k and
    # the other writes it out, g is substituted (as the ladder does).
    forward = {
        sample(s, k): (definition.xreplace({t: sample(t, k) for t in per_sample}), model.order[s])
        for s, definition in model.definitions
        if s in per_sample
        for k in range(SAMPLES)
    }
    result: dict[sp.Symbol, list[sp.Expr]] = {}
    rewrite = Canonical()  # the samples' forward values recur in every difference: each rewritten once
    with spending(EXACT_WORK):
        for line in batch.gradients:
            result[line.target] = _differences(derivation, line, values, sample, per_sample, forward, rewrite)
    return result


def _differences(
    derivation: Derivation,
    line: BatchLine,
    values: Mapping[sp.Basic, Value],
    sample: Callable[..., sp.Symbol],
    per_sample: list[sp.Symbol],
    forward: Mapping[sp.Symbol, tuple[sp.Expr, int]],
    rewrite: Canonical,
) -> list[sp.Expr]:
    """Each entry of one gradient's batch form minus the mean of its written-out gradients (0 where
    they are shown equal)."""
    model = derivation.model
    assert model.shaped is not None
    solutions = model.assumption_solutions
    node = next(p for p in model.shaped.parameters if line.label.endswith(f"/d{p.name}"))
    entries = flat(model.shaped.arrays().get(node, node), 1)
    got = flat(values[line.target], len(entries))
    differences = []
    for entry, value in zip(entries, got, strict=True):
        gradient = derivation.in_names(derivation.gradients[entry])
        mean = (
            sp.Add(
                *(
                    gradient.xreplace(solutions).xreplace({s: sample(s, k) for s in per_sample})
                    for k in range(SAMPLES)
                )
            )
            / SAMPLES
        )
        renamed = {sample(s, k): sample(s, k) for s in per_sample for k in range(SAMPLES)}
        left = sp.sympify(value).xreplace(renamed)
        differences.append(_zero(left, mean, solutions, sample, forward, rewrite))
    return differences


def _zero(
    left: sp.Expr,
    right: sp.Expr,
    solutions: Mapping[sp.Symbol, sp.Expr],
    sample: Callable[..., sp.Symbol],
    forward: Mapping[sp.Symbol, tuple[sp.Expr, int]],
    rewrite: Canonical,
) -> sp.Expr:
    """0 when left − right vanishes (`prove.is_zero`, with the assumptions met in each sample), else
    the difference. A sample's forward value that only one side names is substituted first, then
    the others, latest first, until the difference cancels or none is left."""
    met = {
        sample(s, k): value.xreplace({t: sample(t, k) for t in value.free_symbols})
        for s, value in solutions.items()
        for k in range(SAMPLES)
    }
    left, right = xreplace(left, met), xreplace(right, met)
    while True:
        on_left, on_right = free_symbols(left) & forward.keys(), free_symbols(right) & forward.keys()
        one_sided = on_left ^ on_right
        if not one_sided and is_zero(left - right, rewrite):
            return sp.S.Zero
        pending = one_sided or on_left | on_right
        if not pending:
            return left - right
        latest = max(pending, key=lambda name: forward[name][1])
        value = forward[latest][0].xreplace(met)
        left, right = xreplace(left, {latest: value}), xreplace(right, {latest: value})


def _evaluate(
    batch: BatchForm, model: Model, samples: list[dict[sp.Symbol, float]]
) -> dict[sp.Symbol, Value]:
    """Every line of the batch form at these samples (the parameters are the first sample's)."""
    assert model.shaped is not None
    arrays = model.shaped.arrays()
    renamed = dict(batch.names)
    values: dict[sp.Basic, Value] = model.shaped.numbers()
    fixed = samples[0]
    for symbol in (*model.shaped.parameters, *(s for s, _ in model.constants)):
        entries = arrays.get(symbol)
        values[symbol] = (
            _floats(np.vectorize(lambda e: fixed[e], otypes=[object])(entries))
            if entries is not None
            else sp.Float(fixed[symbol], DIGITS)
        )
    for symbol in model.shaped.data:
        entries = arrays.get(symbol)
        if entries is None:
            rows = [sp.Float(sample[symbol], DIGITS) for sample in samples]
        else:
            rows = [
                _floats(np.vectorize(lambda e, s=sample: s[e], otypes=[object])(entries))
                for sample in samples
            ]
        values[renamed.get(symbol, symbol)] = np.array(rows, dtype=object)
    for line in (*batch.forward, *batch.backward, *batch.gradients, *batch.hessian):
        values[line.target] = concrete(line.value.xreplace({M: len(samples)}), values, MEANINGS)
    return values


def _floats(array: Value) -> Value:
    return np.vectorize(lambda v: sp.Float(v, DIGITS), otypes=[object])(array)


def _compare(
    line: BatchLine,
    entries: list[tuple[sp.Symbol, ...]],
    values: list[Value],
    samples: list[dict[sp.Symbol, float]],
    oracle: _Oracle,
) -> Check | None:
    """A failed check for the first entry that is not the mean of the oracle's, else None."""
    for entry, value in zip(entries, values, strict=True):
        with mpmath.workdps(DIGITS):
            try:
                expected = oracle.mean(entry, samples)
            except ZeroDivisionError:  # the oracle has no value at these samples: no evidence either way
                continue
            got = mpmath.mpf(str(sp.N(value, DIGITS)))
            if abs(got - expected) <= TOLERANCE * (1 + abs(expected)):
                continue
            parameters = oracle.model.parameters
            point = tuple((s.name, float(v)) for s, v in samples[0].items() if s in parameters)
            sides = ("batch form", "mean of SymPy's diff")
            example = Counterexample(point, float(got), float(expected), float(got - expected), sides)
        return Check(
            f"batch form {line.label} (entry {', '.join(e.name for e in entry)})",
            "batch",
            f"{line.target} = {text(line.value)}",
            "fails",
            "numerically",
            f"differs from the mean of SymPy's diff over {len(samples)} samples",
            example,
        )
    return None
