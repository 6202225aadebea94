"""The English every renderer shows for the derivation's data: step titles, rule phrases, insight sentences.

The engine records what happened (which node, which equations, how many paths);
this module alone says it in words, so the terminal, LaTeX, Markdown and JSON
word a step the same way. Phrases are lower case without a full stop, as JSON
shows them; `sentence` makes one a sentence for a document.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sympy as sp

from symcalc.check.records import Meant
from symcalc.spec.shapes import entry_label
from symcalc.symbolic.entries import entry
from symcalc.symbolic.functions import text
from symcalc.symbolic.insights import Insight
from symcalc.symbolic.notation import Partial, Total
from symcalc.symbolic.parting import Parting
from symcalc.symbolic.steps import (
    ChainRule,
    Form,
    LocalDerivatives,
    ParameterGradients,
    Recognition,
    SecondDerivatives,
    Step,
    Unsupported,
)

_FUNCTION_WORDS = {"σ": "the sigmoid σ", "tanh": "tanh", "softplus": "softplus"}


#: Words, and the model's names as symbols, for each renderer to print the names as its maths does.
Phrase = tuple[str | sp.Expr, ...]


def plain(phrase: Phrase) -> str:
    """A phrase with each name as the file spells it (w1, an entry of W1 as W1[1,2]), as JSON writes it."""
    return "".join(part if isinstance(part, str) else _spelled(part) for part in phrase)


def _spelled(name: sp.Expr) -> str:
    found = entry(name)
    if found is not None:
        return entry_label(*found)
    return name.name if isinstance(name, sp.Symbol) else text(name)


def step_title(step: Step) -> str:
    """What a step finds: "Derivative of L with respect to z"."""
    return plain(step_title_parts(step))


def step_rule(step: Step) -> str:
    """How a step finds it: "chain rule: multiply the upstream gradient by the local derivative"."""
    return plain(step_rule_parts(step))


def step_title_parts(step: Step) -> Phrase:
    """`step_title` with its names as symbols: ("Derivative of ", L, " with respect to ", z)."""
    if isinstance(step, LocalDerivatives):
        noun = "Derivative" if len(step.equations) == 1 else "Derivatives"
        return (f"{noun} of ", step.node, " with respect to ", *_join([eq.wrt for eq in step.equations]))
    if isinstance(step, ChainRule):
        return ("Derivative of ", step.equations[0].of, " with respect to ", step.node)
    if isinstance(step, ParameterGradients):
        return ("Derivatives of ", step.loss, " with respect to the parameters")
    if isinstance(step, Recognition):
        return (step.node, f" is {_FUNCTION_WORDS.get(step.function, step.function)}")
    if isinstance(step, SecondDerivatives):
        return ("Second derivatives of ", step.loss, ": the Hessian")
    raise TypeError(f"no wording for a step of kind {type(step).__name__}")


def step_rule_parts(step: Step) -> Phrase:
    """`step_rule` with its names as symbols."""
    if isinstance(step, LocalDerivatives):
        return ("differentiate the definition of ", step.node, ", holding every other name fixed")
    if isinstance(step, ChainRule):
        if step.paths == 1:
            return ("chain rule: multiply the upstream gradient by the local derivative",)
        return ("chain rule: ", step.node, f" reaches the loss along {step.paths} paths; add them")
    if isinstance(step, ParameterGradients):
        return ("chain rule: carry the gradient of the loss to every parameter",)
    if isinstance(step, Recognition):
        return (
            "a definition written out with exp is a named function (checked exactly); "
            "its derivative is the textbook one",
        )
    if isinstance(step, SecondDerivatives):
        return (
            "differentiate each gradient once more, through the graph: the sum over the names it uses "
            "of its partial derivative times that name's derivative; the Hessian is symmetric",
            *kinks_parts(step.kinks),
        )
    raise TypeError(f"no wording for a step of kind {type(step).__name__}")


def kinks_parts(kinks: tuple[sp.Expr, ...]) -> Phrase:
    """What a Hessian leaves out, said as relu′(0) = 0 is a stated convention: "; a kink at w₁ = 0 and
    u = 0: any point mass of the second derivative there is left out (…)"; () for none."""
    if not kinks:
        return ()
    at: list[str | sp.Expr] = []
    for k, kink in enumerate(kinks):
        at += [", " if 0 < k < len(kinks) - 1 else " and " if k else "", kink, " = 0"]
    return (
        "; a kink at ",
        *at,
        ": any point mass of the second derivative there is left out (the values hold everywhere else)",
    )


def sentence_parts(phrase: Phrase) -> Phrase:
    """A phrase as a sentence (`sentence`): a first word capitalised, a full stop."""
    parts = list(phrase)
    if parts and isinstance(parts[0], str):
        parts[0] = parts[0][:1].upper() + parts[0][1:]
    return (*parts, ".")


#: A name in a free text (a model's title) that its maths prints differently: with a digit or "_".
_SUBSCRIPTED = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def title_parts(title: str, symbols: dict[str, sp.Symbol]) -> Phrase:
    """A model's title with each whole word that is one of its names with a subscript (w1, x_2) as the
    symbol; other words stay words, since "a" or "L" in a title is as likely English as a name."""
    parts: list[str | sp.Symbol] = []
    start = 0
    for match in _SUBSCRIPTED.finditer(title):
        sym = symbols.get(match.group())
        if sym is None or not re.search(r"[0-9_]", match.group()):
            continue
        parts += [title[start : match.start()], sym]
        start = match.end()
    parts.append(title[start:])
    return tuple(part for part in parts if part != "")


#: How the batch form reads, vectors being columns (every rendering states it under its lines).
BATCH_NOTATION = (
    "⊙ multiplies entry by entry, a function acts on each entry (softmax on each row) and c vᵀ is an"
    " outer product (an m × h matrix); a parameter's vector"
    " added to or multiplied entry by entry with a matrix of m rows acts on each row (c + X Wᵀ), as a"
    " column of m values does on each column; 𝟙 is a column of ones."
)


#: Before the updates `train` applies, each gradient's mean over the batch (notation.SampleMean);
#: {} is where a renderer puts the mark of a value at sample k, ⁽ᵏ⁾.
BATCH_MEAN = (
    "Train moves each parameter against the mean of its gradient over the m samples of a batch"
    " (k counts them; a name's value at sample k carries {}):"
)


#: The sentence that says a form is missing, for each form a derivation can lack ({}: the reason).
MISSING: dict[Form, str] = {
    "vector form": "This model has no vector form ({}); the steps below give each entry.",
    "vector second derivatives": (
        "The second derivatives have no vector form here ({}); the last step gives each entry."
    ),
    "batch form": "This model has no batch form ({}).",
    "batch module": "No batch module ({}).",
}


def missing(unsupported: Unsupported) -> str:
    """Why a derivation has not one of its forms, as a sentence."""
    return MISSING[unsupported.form].format(unsupported.reason)


def sentence(phrase: str) -> str:
    """A phrase as a sentence: capital first letter, full stop."""
    return phrase[:1].upper() + phrase[1:] + "."


_INSIGHTS = {
    "shared-factor": "All the gradients share the factor {0}.",
    "unscaled": "The gradient {1} is {0} itself, unscaled: {2} is a bias.",
    "output-only": "{0} = {1} depends only on the output {2}, not on {3}.",
    "maximum": "{0} is largest, {1}, at {2} = {3}, that is {4} = {5}.",
    "sign-rule": "When {1} > {2}, {0} is positive and gradient descent lowers {3}; "
    "when {1} < {2} it is negative and raises {3}.",
    "recurrence": "{0} = {1}: each step back through {6} multiplies the gradient by the transpose of "
    "{2} = {3}, and {4} = {5} is the product of these factors over the steps. As the sequence grows, "
    "the product shrinks towards 0 where their norms are below 1 (vanishing gradients) and grows "
    "without bound where they are above 1 (exploding gradients).",
}

_LINKS = {
    "sigmoid": "a sigmoid output with cross-entropy",
    "identity": "an identity output with squared error",
    "exp": "an exponential output (log link) with the Poisson loss",
    "softmax": "a softmax output with cross-entropy",
}


def insight_template(insight: Insight) -> str:
    """An insight's sentence with ``{i}`` standing for ``insight.expressions[i]``."""
    if insight.kind == "scaled-by-input":
        # expressions: the shared factor, then (dL/dw, the input w multiplies) for each weight.
        pairs = ", ".join(f"{{{i}}} by {{{i + 1}}}" for i in range(1, len(insight.expressions), 2))
        subject = "The weight gradients are" if insight.case == "every" else "These weight gradients are"
        return f"{subject} {{0}} scaled by the input the weight multiplies: {pairs}."
    if insight.kind == "convex":
        return _convex_template(insight)
    if insight.kind == "canonical-link":
        return (
            f"{{0}} = {{1}}: {_LINKS[insight.case]} is a canonical-link pair, "
            "whose gradient is prediction minus target."
        )
    return _INSIGHTS[insight.kind]


def _convex_template(insight: Insight) -> str:
    """The proof of convexity. Expressions: the loss, z, ∇z∇zᵀ, then the parts `insight.case` names:
    F''(z) when it is not 1, the penalty, and the constants the penalty needs ≥ 0."""
    parts = insight.case.split("+")
    slot = iter(range(3, len(insight.expressions)))
    curvature = f"{{{next(slot)}}}" if "curvature" in parts else ""
    penalty = f" and the penalty {{{next(slot)}}}" if "penalty" in parts else ""
    constants = ", ".join(f"{{{i}}}" for i in slot)
    condition = f" for {constants} ≥ 0" if constants else ""
    plus = f" plus the penalty's, a constant positive semidefinite matrix{condition}" if penalty else ""
    scaled = f"{curvature} times {{2}}" if curvature else "{2}"
    sign = f"; {curvature} ≥ 0 for every {{1}}" if curvature else ""
    return (
        "{0} is convex in the parameters. Proof: {1} is linear in them and the loss reads them only "
        f"through {{1}}{penalty}, so its Hessian is {scaled}{plus}{sign}."
    )


def insight_text(insight: Insight, show: Callable[[sp.Expr], str] = str) -> str:
    """An insight's sentence with each expression written by `show`."""
    return insight_template(insight).format(*(show(e) for e in insight.expressions))


def meant_line(meant: Meant, show: Callable[[sp.Basic], str] = str) -> str:
    """A failed ∂-claim whose d-claim holds: the local derivative it stated, and the total one it meant."""
    local, total = show(Partial(meant.of, meant.wrt)), show(Total(meant.of, meant.wrt))
    return (
        f"{local} is the local derivative of {show(meant.of)}'s own definition, {show(meant.local)} here; "
        f"the total derivative {total} = {show(meant.claimed)} holds: did you mean {total}?"
    )


def parting_lines(parting: Parting, show: Callable[[sp.Basic], str] = str) -> list[str]:
    """A failed claim beside the derivation: the engine's result, then the one factor of its chain
    where the claim leaves it (or that none does), each expression written by `show`."""
    claimed = parting.claimed
    lines = [f"the derivation has {show(claimed)} = {show(parting.engine)} (step {parting.number})"]
    if parting.scale is not None:
        slip = ": a sign slip" if parting.scale == -1 else ""
        return [*lines, f"the claim is {show(parting.scale)} times that{slip}"]
    if len(parting.chain) < 2:
        return lines
    chain = f"{show(claimed)} = " + "⋅".join(show(factor.symbol) for factor in parting.chain)
    factor, implied = parting.factor, parting.implied
    if factor is None or implied is None:
        return [*lines, f"no one factor of {chain} accounts for the difference"]
    symbol = show(factor.symbol)
    return [
        *lines,
        f"they part at step {factor.number}: the claim is {chain} with {symbol} = {show(implied)}, "
        f"where step {factor.number} has {symbol} = {show(factor.value)}",
    ]


def _join(names: list[sp.Symbol]) -> Phrase:
    """a; a and b; a, b and c."""
    parts: list[str | sp.Symbol] = []
    for i, name in enumerate(names):
        if i:
            parts.append(" and " if i == len(names) - 1 else ", ")
        parts.append(name)
    return tuple(parts)
