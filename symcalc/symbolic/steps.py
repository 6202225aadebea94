"""The record of a derivation: frozen dataclasses, one per kind of step, and the `Derivation` itself.

Steps are data. Each kind is a final dataclass holding SymPy expressions and
the facts a renderer words (the node, the number of paths); renderers
(terminal, LaTeX, Markdown, JSON) read them, never compute maths, and take their
English from `symcalc.render.wording`.
"""

from __future__ import annotations

import re
from abc import ABC
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, final

import sympy as sp

from symcalc.errors import SymcalcError
from symcalc.symbolic.batch import BatchForm
from symcalc.symbolic.functions import text
from symcalc.symbolic.graph import Model
from symcalc.symbolic.insights import Insight, find_insights
from symcalc.symbolic.notation import Adjoint, AsWritten, AtSample, Partial, SampleMean, Second, Total, total
from symcalc.symbolic.recurrent import recurrence_insights
from symcalc.symbolic.vector import VectorForm
from symcalc.symbolic.vector_hessian import VectorSecond

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult


@dataclass(frozen=True)
class Equation:
    """d(of)/d(wrt) = chain = unsimplified = result; the middle forms are None when there is nothing to show.

    `local` equations are partial derivatives of one definition (∂a/∂z), the
    others total derivatives through the graph (dL/dz). `chain` is the
    chain-rule pattern in derivative symbols (dL/da · ∂a/∂z); `unsimplified`
    is that pattern with each factor's value put in; `result` is the simplified
    value, in terms of the model's own intermediate names.
    """

    of: sp.Symbol
    wrt: sp.Symbol
    result: sp.Expr
    chain: sp.Expr | None = None
    unsimplified: sp.Expr | None = None
    using: tuple[str, ...] = ()  # the file's assumptions the simplification relied on
    local: bool = False
    #: For a second derivative d²(of)/d(wrt)d(second): the name differentiated by the second time.
    second: sp.Symbol | None = None

    @property
    def lhs(self) -> Partial | Second:
        """∂of/∂wrt for a local partial derivative, d(of)/d(wrt) for a total one, d²(of)/d(wrt)d(second)."""
        if self.second is not None:
            return Second(self.of, self.wrt, self.second)
        return Partial(self.of, self.wrt) if self.local else Total(self.of, self.wrt)

    @property
    def name(self) -> str:
        """The left-hand side as a claim writes it: "∂a/∂z", "dL/dz" or "d2L/dw1 dw2"."""
        return str(self.lhs)

    @property
    def derivative(self) -> str:
        """ "local", "total" or "second": what kind of derivative the left-hand side is."""
        return self.lhs.kind


class Step(ABC):
    """Abstract: one rule applied, the equations it gave, and `number` counting from 1.

    Each kind of step is a final frozen dataclass below with the fields a renderer
    needs to word it; the wording itself lives in `symcalc.render.wording`.
    """

    number: int
    equations: tuple[Equation, ...]

    def _repr_latex_(self) -> str:
        from symcalc.render.latex import step_latex

        return step_latex(self)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from symcalc.render.console import step_panel

        yield step_panel(self, options.max_width)

    def _repr_markdown_(self) -> str:
        from symcalc.render.markdown import step_markdown

        return step_markdown(self)


@final
@dataclass(frozen=True)
class Recognition(Step):
    """A definition written out with exp and log is a named function: a = 1/(1 + e^(−z)) is σ(z).

    The derivation uses `named` in place of `written`; the two were checked equal
    exactly, and `verify` checks the identity again on its own. `function` is the
    named function's symbol ("σ", "tanh", "softplus"). It states an identity, so it
    has no equations.
    """

    number: int
    node: sp.Symbol
    function: str
    written: sp.Expr
    named: sp.Expr
    equations: tuple[Equation, ...] = field(default=(), init=False)


@final
@dataclass(frozen=True)
class LocalDerivatives(Step):
    """Differentiate `node`'s definition with respect to each name it uses, holding the others fixed.

    Where the derivative can be written in terms of the definition's own output
    (σ′(z) = a(1 − a) for a = σ(z)), it is, after checking the two forms are equal.
    """

    number: int
    node: sp.Symbol
    equations: tuple[Equation, ...]


@final
@dataclass(frozen=True)
class ChainRule(Step):
    """∂L/∂node = Σ over the definitions c that use node of ∂L/∂c · ∂c/∂node: one term per path.

    `equations` holds the one equation dL/dnode; `paths` counts the definitions that use node.
    """

    number: int
    node: sp.Symbol
    equations: tuple[Equation, ...]
    paths: int


@final
@dataclass(frozen=True)
class ParameterGradients(Step):
    """The chain rule carried from `loss` to every parameter: the gradients gradient descent uses."""

    number: int
    loss: sp.Symbol
    equations: tuple[Equation, ...]


@final
@dataclass(frozen=True)
class SecondDerivatives(Step):
    """Each gradient differentiated once more through the graph: d²L/dθᵢdθⱼ for θᵢ ≤ θⱼ.

    Each equation reads d/dθⱼ of the gradient dL/dθᵢ as Σ ∂(dL/dθᵢ)/∂s · ds/dθⱼ over the
    names s it uses, with ds/dθⱼ carried forward through the local derivatives. The Hessian is
    symmetric, so the entries below the diagonal are not repeated. Each is the value away from the
    kinks; `kinks` holds each u where a point mass at u = 0 was left out (`symbolic.kinks`).
    """

    number: int
    loss: sp.Symbol
    equations: tuple[Equation, ...]
    kinks: tuple[sp.Expr, ...] = ()


@dataclass(frozen=True)
class Update:
    """One gradient-descent rule: parameter := parameter − α · gradient."""

    parameter: sp.Symbol
    gradient: sp.Expr
    learning_rate: sp.Symbol

    @property
    def rule(self) -> sp.Expr:
        """The right-hand side, printed in the order a person writes it (unchanged for a zero gradient)."""
        if self.gradient == 0:
            return self.parameter
        return total(self.parameter, -self.learning_rate * self.gradient)

    @property
    def value(self) -> sp.Expr:
        """The right-hand side as an ordinary SymPy expression, for computing."""
        return self.parameter - self.learning_rate * self.gradient

    def mean_rule(self, per_sample: Collection[sp.Symbol], named: sp.Expr | None = None) -> sp.Expr:
        """The right-hand side `train` applies, the gradient's mean over a batch of m samples:
        w₁ − α⋅(1/m)⋅Σₖ x₁⁽ᵏ⁾⋅(a⁽ᵏ⁾ − y⁽ᵏ⁾), where the names in `per_sample` take each sample's value;
        with `named` (dL/dw₁), w₁ − α⋅(1/m)⋅Σₖ (dL/dw₁)⁽ᵏ⁾, short enough for any line."""
        if named is not None and self.gradient.free_symbols & set(per_sample):
            return total(self.parameter, -self.learning_rate * SampleMean(AtSample(named)))
        names = set(per_sample)
        varying = [t for t in sp.Add.make_args(self.gradient) if t.free_symbols & names]
        if not varying:
            return self.rule  # the same for every sample: its mean is itself
        steady = [t for t in sp.Add.make_args(self.gradient) if not t.free_symbols & names]
        sampled = sp.Add(*varying).xreplace({name: AtSample(name) for name in per_sample})
        # A penalty's λ⋅w is the same for every sample: its own term, outside the mean.
        rate = self.learning_rate
        return total(self.parameter, *(-rate * term for term in steady), -rate * SampleMean(sampled))


#: The forms a derivation, or the program built from it, can lack.
Form = Literal["vector form", "batch form", "vector second derivatives", "batch module"]


@dataclass(frozen=True)
class Unsupported:
    """A form that a derivation (or its program) has not, and why; `str()` is the reason in words,
    `symcalc.render.wording.missing` the sentence a reader sees."""

    form: Form
    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Derivation:
    """The result of `symcalc.derive`: the steps, every parameter's gradient, and the updates."""

    model: Model
    steps: tuple[Step, ...]
    gradients: dict[sp.Symbol, sp.Expr]
    updates: tuple[Update, ...]
    adjoints: dict[sp.Symbol, sp.Expr]
    local_derivatives: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr]
    #: For a model with vectors and matrices: its adjoints and gradients in vector form, any size.
    vector: VectorForm | None = None
    #: Why there is none, where the vector syntax cannot write the model's adjoints.
    vector_problem: Unsupported | None = None
    #: ... and over a batch of m samples (None where a sample would carry a matrix: `batch_problem`).
    batch: BatchForm | None = None
    batch_problem: Unsupported | None = None
    #: With `derive(model, hessian=True)`: d²L/dθᵢdθⱼ for θᵢ ≤ θⱼ in parameter order, in the model's names.
    hessian: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr] | None = None
    #: ... and for a model with vectors, the same in vector form (a(1 − a)·x xᵀ), or why there is none.
    vector_hessian: tuple[VectorSecond, ...] = ()
    vector_hessian_problem: Unsupported | None = None

    @property
    def title(self) -> str:
        return self.model.title

    @property
    def loss(self) -> sp.Symbol:
        return self.model.loss

    @property
    def learning_rate(self) -> sp.Symbol:
        return self.updates[0].learning_rate if self.updates else sp.Symbol("alpha")

    @cached_property
    def insights(self) -> tuple[Insight, ...]:
        """The checked observations about this derivation's results, found when first asked for."""

        # About closed forms only: a result that reads a dL/dc symbol (a deep network's) says nothing alone.
        def closed(results: dict[sp.Symbol, sp.Expr]) -> dict[sp.Symbol, sp.Expr]:
            return {n: r for n, r in results.items() if not r.atoms(Adjoint)}

        found = find_insights(
            self.model, closed(self.gradients), closed(self.adjoints), self.local_derivatives
        )
        return found + self.vector_insights

    @cached_property
    def vector_insights(self) -> tuple[Insight, ...]:
        """The insights about the vector form (a recurrence's vanishing/exploding factor), which the
        vector views show too."""
        return recurrence_insights(self.model.shaped, self.vector)

    def as_written(self, name: sp.Symbol) -> sp.Expr:
        """A definition for display: as the file writes it where it can (`Model.written`)."""
        written = self.model.written.get(name)
        return self.model.definition_map[name] if written is None else AsWritten(written)

    @property
    def per_sample(self) -> tuple[sp.Symbol, ...]:
        """The names whose values change from one sample to the next: inputs, targets, definitions."""
        model = self.model
        return (*model.inputs, *model.targets, *(name for name, _ in model.definitions))

    def gradient(self, parameter: str | sp.Symbol) -> sp.Expr:
        """The gradient of the loss with respect to a parameter, given by name or symbol.

        A vector's or matrix's name (`"W1"`) gives the array of its entries' gradients, in its
        shape; an entry is named as the file indexes it (`"W1[1,2]"`) or by its scalar name
        (`"W11_2"`). SymcalcError, naming the parameters, for anything else.
        """
        found = _parameter(self.model, parameter)
        if isinstance(found, sp.Symbol):
            return self.gradients[found]
        return sp.ImmutableDenseNDimArray([self.gradients[e] for e in found.flat], found.shape)

    def second_derivative(self, first: str | sp.Symbol, second: str | sp.Symbol) -> sp.Expr:
        """d²L/d(first)d(second), given by names or symbols; derived with `derive(model, hessian=True)`."""
        if self.hessian is None:
            raise ValueError("no second derivatives: derive with hessian=True")
        p, q = (self.model.symbols[n] if isinstance(n, str) else n for n in (first, second))
        return self.hessian[(p, q)] if (p, q) in self.hessian else self.hessian[(q, p)]

    def in_names(self, expr: sp.Expr) -> sp.Expr:
        """`expr` with each symbol dL/dc (`Adjoint`) replaced by the value derived for it, until none is
        left: in the model's names only. Exponentially larger than `expr` for a deep network."""
        while True:
            held = {s for s in expr.free_symbols if isinstance(s, Adjoint)}
            if not held:
                return expr
            expr = expr.xreplace({s: self.adjoints[self.model.symbols[s.node.name]] for s in held})

    def expanded_gradients(self) -> dict[sp.Symbol, sp.Expr]:
        """Every gradient with the definitions substituted, in independent names only."""
        return {p: self.model.expand(self.in_names(g)) for p, g in self.gradients.items()}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from symcalc.render.console import render_derivation

        yield from render_derivation(self, options.max_width)

    def __repr__(self) -> str:
        grads = ", ".join(f"d{self.loss}/d{p} = {text(g)}" for p, g in self.gradients.items())
        return f"<Derivation {self.title!r}: {len(self.steps)} steps; {grads}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_latex_(self) -> str:
        from symcalc.render.latex import derivation_latex

        return derivation_latex(self)

    def _repr_markdown_(self) -> str:
        from symcalc.render.markdown import render_markdown

        return render_markdown(self)

    def _repr_html_(self) -> str:
        from symcalc.render.html import notebook_html

        return notebook_html(self)


_ENTRY = re.compile(r"\s*([A-Za-z]\w*)\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]\s*")


def _parameter(model: Model, name: str | sp.Symbol) -> Any:
    """A parameter's symbol, or a vector's or matrix's array of entries' symbols, by name (see `gradient`)."""
    shaped = model.shaped
    declared = model.parameters if shaped is None else shaped.parameters
    arrays = {} if shaped is None else {p.name: a for p, a in shaped.arrays().items() if p in declared}
    key = name.name if isinstance(name, sp.Symbol) else str(name).strip()
    if key in arrays:
        return arrays[key]
    found = model.symbols.get(key)
    if found is not None and found in model.parameters:
        return found
    indexed = _ENTRY.fullmatch(key)
    if indexed is not None and indexed.group(1) in arrays:
        array = arrays[indexed.group(1)]
        index = tuple(int(i) - 1 for i in indexed.groups()[1:] if i is not None)
        if len(index) == array.ndim and all(0 <= i < n for i, n in zip(index, array.shape, strict=True)):
            return array[index]
    shapes = {} if shaped is None else dict(shaped.shapes)
    axes = {p: ",".join(str(axis) for axis in shapes.get(p, ())) for p in declared}
    choices = ", ".join(f"{p.name}[{axes[p]}]" if axes[p] else p.name for p in declared)
    raise SymcalcError(
        f"{key!r} is not a parameter of this model",
        fix=f"the parameters are {choices}"
        + "".join(
            f", or an entry such as {n}[{','.join('1' * a.ndim)}]" for n, a in list(arrays.items())[:1]
        ),
    )
