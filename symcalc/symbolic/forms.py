"""Choosing the form of a result a teacher would write: short, in the model's own names.

Each candidate is an identity of the expression it came from (cancel, factor,
…), so choosing among them never changes the value; the choice is the shortest.
A rewrite that is not an identity by construction (re-expressing a derivative
in terms of a node's output) is checked before it is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sympy as sp

from symcalc.symbolic.functions import step


def size(expr: sp.Expr) -> tuple[int, int, int]:
    """How big an expression reads: operations, then top-level terms (a product beats a sum), then length."""
    return (int(sp.count_ops(expr)), len(sp.Add.make_args(expr)), len(str(expr)))


# cancel and factor multiply products out (a 50-factor chain-rule product has 2**50
# terms), so they are tried only where there is a fraction to cancel, and only on
# expressions of moderate size; factor_terms never expands and is always tried.
EXPANDING_REWRITE_LIMIT = 120
MAX_EXPANDED_POWER = 6  # (x1 + … + x4 + w)**16 has thousands of terms once multiplied out


def has_fraction(expr: sp.Expr) -> bool:
    """Whether anything in `expr` is divided: only then can cancelling shorten it."""
    return any(power.exp.is_negative is True for power in expr.atoms(sp.Pow))


def expands_cheaply(expr: sp.Expr) -> bool:
    """Whether multiplying `expr` out stays small: moderate size, no high power of a sum."""
    if sp.count_ops(expr) > EXPANDING_REWRITE_LIMIT:
        return False
    return not any(_large_power_of_sum(p) for p in expr.atoms(sp.Pow))


def _large_power_of_sum(power: sp.Pow) -> bool:
    """A sum raised to a numeric power past the cap; a symbolic exponent (γ, k) never multiplies out."""
    return bool(power.base.is_Add and power.exp.is_Number and abs(power.exp) > MAX_EXPANDED_POWER)


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest of a few exact rewritings of `expr` (cancel, factor, …) that divide by nothing new.

    A power with a symbolic exponent is also tried split, (1 − a)^(γ−1) as (1 − a)^γ/(1 − a),
    so that it can cancel against the rest; a form that still divides by 1 − a is dropped.
    """
    candidates = _rewrites(expr)
    split = _split_symbolic_powers(expr)
    if split != expr:
        candidates += [join_powers(c) for c in _rewrites(split)]
    return min((c for c in candidates if not adds_denominator(c, expr)), key=size)


def _rewrites(expr: sp.Expr) -> list[sp.Expr]:
    candidates = [expr, sp.factor_terms(expr)]
    if has_fraction(expr) and expands_cheaply(expr):
        if expr.is_rational_function():
            candidates += [sp.cancel(expr), sp.factor(expr)]
        else:
            candidates += [sp.together(expr)]
        candidates += _distributed(expr)
    return candidates


def _distributed(expr: sp.Expr) -> list[sp.Expr]:
    """(u/(1 − a) − w·y/a)·a(1 − a) as u·a − w·y(1 − a): each term cancelled on its own, kept factored."""
    sums = [f for f in sp.Mul.make_args(expr) if isinstance(f, sp.Add) and has_fraction(f)]
    if len(sums) != 1:
        return []
    rest = expr / sums[0]
    return [sp.Add(*(sp.factor_terms(sp.cancel(term * rest)) for term in sums[0].args))]


#: The unit-step functions a ramp's derivative is written with.
STEP_FUNCTIONS: tuple[type[sp.Function], ...] = (step, sp.Heaviside)


def as_teacher_writes(expr: sp.Expr, definitions: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    """The same value as a teacher writes it: numbers factored out of sums, tanh for sinh/cosh,
    no unit step beside the ramp it belongs to (m·H(u) = m for m = max(0, u)), an odd
    function's argument written so that no minus sign is left in front."""
    expr = _hyperbolic_quotients(expr)
    factors = [_numeric_content(f) for f in sp.Mul.make_args(expr)]
    ramps = {_ramp_argument(definitions.get(f.as_base_exp()[0])) for f in factors if _positive_power(f)}
    factors = [f for f in factors if not (isinstance(f, STEP_FUNCTIONS) and f.args[0] in ramps)]
    # Mul distributes a number over a lone sum (2·(z − y) → 2z − 2y): take it out again, unevaluated.
    return _odd_sign_inside(_numeric_content(sp.Mul(*factors)))


def _numeric_content(factor: sp.Expr) -> sp.Expr:
    if not isinstance(factor, sp.Add):
        return factor
    content, primitive = factor.primitive()
    return factor if content == 1 else sp.Mul(content, primitive, evaluate=False)


def _positive_power(factor: sp.Expr) -> bool:
    base, exponent = factor.as_base_exp()
    return bool(isinstance(base, sp.Symbol) and exponent.is_positive)


def _ramp_argument(definition: sp.Expr | None) -> sp.Expr | None:
    """u for a definition max(0, u) or relu(u): where it is nonzero, the step H(u) is 1."""
    from symcalc.symbolic.functions import relu

    if isinstance(definition, relu):
        return definition.args[0]
    if isinstance(definition, sp.Max) and len(definition.args) == 2 and sp.S.Zero in definition.args:
        return next(arg for arg in definition.args if arg != 0)
    return None


def _hyperbolic_quotients(expr: sp.Expr) -> sp.Expr:
    """sinh(u)/cosh(u) as tanh(u), inside any product."""

    def quotient(product: sp.Mul) -> sp.Expr:
        factors = list(product.args)
        for sinh in [f for f in factors if isinstance(f, sp.sinh)]:
            inverse = 1 / sp.cosh(sinh.args[0])
            if inverse in factors:
                factors.remove(sinh)
                factors.remove(inverse)
                factors.append(sp.tanh(sinh.args[0]))
        return sp.Mul(*factors)

    return expr.replace(lambda e: isinstance(e, sp.Mul) and e.has(sp.sinh), quotient)


def _odd_sign_inside(expr: sp.Expr) -> sp.Expr:
    """−tanh(y − z)·x as tanh(z − y)·x, −h·(y − a) as h·(a − y): the sign taken into one factor.

    Into an odd function's argument, or else into a sum that reads better negated; a product
    keeps its minus sign only when no factor can take it.
    """
    coefficient, factors = expr.as_coeff_mul()
    if not coefficient.is_negative:
        return expr
    odd = [f for f in factors if isinstance(f, sp.tanh | sp.sinh)]
    if len(odd) == 1:
        flipped = odd[0].func(-odd[0].args[0], evaluate=False)
        return sp.Mul(-coefficient, *(flipped if f is odd[0] else f for f in factors))
    sums = [f for f in factors if isinstance(f, sp.Add) and f.could_extract_minus_sign()]
    if not sums:
        return expr
    return sp.Mul(-coefficient, *(-f if f is sums[0] else f for f in factors))


def _split_symbolic_powers(expr: sp.Expr) -> sp.Expr:
    """b^(e + c) as b^e · b^c for a symbolic e: the form SymPy's diff gives, before join_powers."""
    return expr.replace(
        lambda e: isinstance(e, sp.Pow) and isinstance(e.exp, sp.Add) and not e.exp.is_number,
        lambda e: sp.Mul(*(sp.Pow(e.base, term) for term in e.exp.args)),
    )


def join_powers(expr: sp.Expr) -> sp.Expr:
    """b^e · b^(−1) written b^(e − 1) wherever a product holds a power with a symbolic exponent.

    SymPy's diff writes d(b^e)/db as e·b^e/b: a division by b that the derivative does
    not have, so generated code returned NaN at b = 0 ((a − y)^k at a = y).
    """
    return expr.replace(lambda e: isinstance(e, sp.Mul), _join_factor_powers)


def _join_factor_powers(product: sp.Mul) -> sp.Expr:
    exponents: dict[sp.Expr, list[sp.Expr]] = {}
    for factor in product.args:
        base, exponent = (factor.base, factor.exp) if isinstance(factor, sp.Pow) else (factor, sp.S.One)
        exponents.setdefault(base, []).append(exponent)
    if not any(len(e) > 1 and not all(x.is_Number for x in e) for e in exponents.values()):
        return product
    return sp.Mul(*(sp.Pow(base, sp.Add(*e)) for base, e in exponents.items()))


def in_terms_of_outputs(derivative: sp.Expr, outputs: Sequence[tuple[sp.Symbol, sp.Expr]]) -> sp.Expr:
    """`derivative` written through the outputs of definitions, where that is no longer and provably equal.

    `outputs` are (name, definition) pairs, the node's own first: σ′(z) = σ(z)(1 − σ(z))
    becomes a(1 − a) for a = σ(z), tanh′ becomes 1 − a², and a softmax's
    ∂a1/∂z2 = −e^(z1+z2)/(Σe^z)² becomes −a1·a2 through its sibling a2. Otherwise the
    derivative is kept as differentiation gave it, term by term, as a teacher writes a
    local derivative before any chain rule is applied.
    """
    candidate = derivative
    for node, definition in outputs:
        if not definition.is_Atom:
            candidate = candidate.subs(definition, node)
    if candidate == derivative:
        return derivative
    candidate = tidy(candidate)
    back_map = {node: definition for node, definition in outputs}
    if size(candidate) > size(derivative) or adds_denominator(candidate, derivative, back_map):
        return derivative
    back = candidate.xreplace(back_map)
    difference = back - derivative
    if sp.expand(difference) == 0:
        return candidate
    return candidate if expands_cheaply(difference) and sp.simplify(difference) == 0 else derivative


Division = tuple[sp.Expr, sp.Expr]  # (base, exponent) of a power that may divide


def divisions(expr: sp.Expr, back: Mapping[sp.Symbol, sp.Expr] | None = None) -> set[Division]:
    """Every power in `expr` that may divide: its exponent is not known to be nonnegative.

    Bases are written through `back` (outputs replaced by their definitions) and up to
    sign, so (a − y)⁻¹ in terms of L = (a − y)^k and (y − a)⁻¹ count as one division.
    """
    found: set[Division] = set()
    for power in expr.atoms(sp.Pow):
        if power.exp.is_nonnegative is True:
            continue
        base = power.base.xreplace(back) if back else power.base
        found.add((-base if base.could_extract_minus_sign() else base, power.exp))
    return found


def adds_denominator(
    candidate: sp.Expr, original: sp.Expr, back: Mapping[sp.Symbol, sp.Expr] | None = None
) -> bool:
    """Whether `candidate` divides by something `original` does not divide by as strongly.

    L·k/(a − y) for k(a − y)^(k−1) is equal where a ≠ y but NaN at a = y, where
    training converges: a rewrite may keep or remove a division, never add one. A
    numeric negative exponent is covered by one at least as negative on the same base;
    a symbolic one ((1 − a)^(γ−1)) only by itself.
    """
    allowed = divisions(original)
    return not all(_covered(division, allowed) for division in divisions(candidate, back))


def cancels_a_quotient(chain: sp.Expr, simplified: sp.Expr) -> bool:
    """Whether `chain` divides by something it also multiplies by, which `simplified` no longer
    divides by: ((1 − y)/(1 − a))·a(1 − a) is 0·∞ where a rounds to 1, a(1 − y) is not."""
    multiplied = {
        factor
        for product in chain.atoms(sp.Mul)
        for factor in product.args
        if not (isinstance(factor, sp.Pow) and factor.exp.is_negative)
    }
    divided = {base for base, _ in divisions(chain)}
    both = {base for base in divided if base in multiplied or -base in multiplied}
    return bool(both) and not both & {base for base, _ in divisions(simplified)}


def _covered(division: Division, allowed: set[Division]) -> bool:
    base, exponent = division
    if division in allowed:
        return True
    if not exponent.is_Number:
        return False
    return any(b == base and e.is_Number and e <= exponent for b, e in allowed)


def solve_linear(equation: sp.Expr, name: sp.Symbol) -> sp.Expr | None:
    """The value of `name` making `equation` = 0 when it is linear in `name`, else None.

    Written out rather than with sp.solve, whose answer check imports sympy.physics
    (a sixth of a second at start-up) and which is far more than a linear equation needs.
    """
    if not equation.is_polynomial(name):
        return None
    poly = sp.Poly(equation, name)
    if poly.degree() != 1:
        return None
    slope, offset = poly.all_coeffs()
    # A slope with names in it (y1*y2 = 0 "solved" for y1) can be zero where the
    # equation still holds, so only a constant nonzero slope gives a solution.
    if not slope.is_number or slope == 0:
        return None
    return sp.cancel(-offset / slope)


def reduce_with(expr: sp.Expr, assumptions: Sequence[sp.Expr]) -> tuple[sp.Expr, tuple[int, ...]]:
    """The shortest form of `expr` under assumptions `e = 0`, and which assumptions it used.

    Each assumption linear in some name is solved for that name and substituted;
    e.g. with y1 + y2 + y3 = 1 the softmax gradient a1·(y1 + y2 + y3) − y1 becomes a1 − y1.
    """
    best: sp.Expr = expr
    used: tuple[int, ...] = ()
    for index, assumption in enumerate(assumptions):
        for name in sorted(assumption.free_symbols & expr.free_symbols, key=str):
            solution = solve_linear(assumption, name)
            if solution is None:
                continue
            # Multiply out only the factors that hold `name`: a deep network's other
            # factors (1 − h²)… would expand into exponentially many terms.
            candidate = tidy(
                sp.Mul(
                    *(
                        sp.expand(factor.xreplace({name: solution}))
                        if name in factor.free_symbols
                        else factor
                        for factor in sp.Mul.make_args(expr)
                    )
                )
            )
            if size(candidate) < size(best):
                best, used = candidate, (index,)
    return best, used


def tree_size(expr: sp.Expr, limit: int) -> int:
    """The nodes of `expr`'s tree, counted up to one past `limit`: cheap however large `expr` is."""
    count = 0
    for _ in sp.preorder_traversal(expr):
        count += 1
        if count > limit:
            break
    return count
