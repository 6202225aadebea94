"""The batch form's lines rewritten to stay finite in float64, each on its own: log σ(z) as
−softplus(z), log softmax(Z) as Z − logsumexp(Z) per row, σ and softplus in exp and log1p (which
NumPy computes four times faster than its logaddexp), seeing through the σ, tanh and exp lines a
line reads, as the scalar program does."""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp
from sympy.codegen.cfunctions import log1p

from symcalc.numeric.stable import LOOK_INTO, softmax_parts, stable_line
from symcalc.symbolic.arrays import logsumexp, softmax
from symcalc.symbolic.batch import BatchLine, column
from symcalc.symbolic.forms import tree_size
from symcalc.symbolic.functions import sigmoid, softplus


def _log_softmax(lines: Sequence[BatchLine]) -> dict[sp.Expr, sp.Expr]:
    """log(P) for P = softmax(Z): Z − logsumexp(Z) per row, which never takes the log of an underflow."""
    found: dict[sp.Expr, sp.Expr] = {}
    for line in lines:
        if isinstance(line.value, softmax):
            scores = line.value.args[0]
            found[sp.log(line.target)] = scores - column(logsumexp(scores))
    return found


def _elementary(value: sp.Expr) -> sp.Expr:
    """σ and softplus in exp and log1p, which NumPy computes four times faster than its logaddexp
    and as accurately: σ(u) = 1/(1 + e^−u) (0 where e^−u overflows, its limit), softplus(u) =
    max(u, 0) + log1p(e^−|u|). Of the forms below, the one with the fewest operations is kept
    (of those whose log1p terms are terms of the sum, which the printer adds last): as it is;
    with its products of sums multiplied out, so that y·softplus(−z) + (1 − y)·softplus(z) shares
    one log1p(e^−|z|); and with softplus(−u) read as softplus(u) − u where softplus(u) is also
    taken, which makes the same sum softplus(z) − y·z: 8 passes over the batch instead of 13."""
    calls = value.atoms(softplus)
    mirrored = {
        call: softplus(-u) + u
        for call in calls
        if (u := call.args[0]).could_extract_minus_sign() and softplus(-u) in calls
    }
    candidates = [_written(value)]
    if candidates[0].has(log1p):
        candidates.append(_multiplied_out(candidates[0]))
    if mirrored:
        candidates.append(_multiplied_out(_written(_multiplied_out(value.xreplace(mirrored)))))
    # the first of the shortest
    return min(candidates, key=lambda form: (not _log1p_on_top(form), tree_size(form, 10**6)))


def _multiplied_out(value: sp.Expr) -> sp.Expr:
    """Products of sums multiplied out, and nothing else: exp(c − d) stays one exp (as exp(c)·exp(−d)
    it is inf·0 where c is large), powers and logs stay as they are."""
    return sp.expand(value, power_exp=False, power_base=False, multinomial=False, log=False)


def _log1p_on_top(value: sp.Expr) -> bool:
    """Whether each log1p in `value` is a factor of a term of its sum, not inside a sum in brackets, where
    it would be added to the large terms before they cancel (and be lost: 40 + 4e-18 is 40)."""
    return all(
        isinstance(factor, log1p) or not factor.has(log1p)
        for term in sp.Add.make_args(value)
        for factor in sp.Mul.make_args(term)
    )


def _written(value: sp.Expr) -> sp.Expr:
    return value.replace(lambda e: isinstance(e, sigmoid), lambda e: 1 / (1 + sp.exp(-e.args[0]))).replace(
        lambda e: isinstance(e, softplus),
        lambda e: sp.Max(e.args[0], 0) + log1p(sp.exp(-sp.Abs(e.args[0]))),
    )


def stable_lines(lines: Sequence[BatchLine]) -> list[BatchLine]:
    """Each line rewritten for float64, seeing through the σ, tanh and exp lines it reads (tanh's
    derivative stays 1/cosh², exact in relative terms: 1 − tanh² is 0 from |s| = 19)."""
    inside = {
        line.target: line.value
        for line in lines
        if isinstance(line.value, LOOK_INTO) or softmax_parts(line.value) is not None
    }
    logs = _log_softmax(lines)
    defined: set[sp.Symbol] = set()
    result = []
    for line in lines:
        value = _elementary(stable_line(line.value.xreplace(logs), inside, defined))
        result.append(BatchLine(line.target, value, line.label, line.expanded))
        defined.add(line.target)
    return result
