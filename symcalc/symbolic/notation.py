"""Display-only SymPy objects: ∂A/∂B and dA/dB, and sums and products kept in the order written.

One notation, one meaning: ∂a/∂z (`Partial`) is a local partial derivative,
one definition differentiated with every other name held fixed; dL/dz
(`Total`) is the total derivative through the graph, as a claim "dL/dz" means.
The steps of a derivation show the chain rule as a person writes it,
``dL/da · ∂a/∂z``, upstream factor first. SymPy would reorder an ordinary `Mul`,
so these classes print their arguments in the order given, through SymPy's own
printers (``_print_<Class>`` hooks and ``parenthesize``), for str, unicode and
LaTeX alike. They are never differentiated or simplified.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.pretty.stringpict import prettyForm


class Partial(sp.Expr):
    """The symbol ∂A/∂B: the local partial derivative of A's definition with respect to B."""

    #: How the derivative is written: ∂ here, d for `Total`; "local" or "total" in JSON.
    mark, tex_mark, kind = "∂", r"\partial", "local"

    is_commutative = True

    def __new__(cls, of: sp.Symbol, wrt: sp.Symbol) -> Partial:
        return sp.Expr.__new__(cls, of, wrt)

    @property
    def of(self) -> sp.Symbol:
        return self.args[0]

    @property
    def wrt(self) -> sp.Symbol:
        return self.args[1]

    def _sympystr(self, printer: Any) -> str:
        return f"{self.mark}{printer._print(self.of)}/{self.mark}{printer._print(self.wrt)}"

    def _latex(self, printer: Any) -> str:
        of, wrt = printer._print(self.of), printer._print(self.wrt)
        return rf"\frac{{{self.tex_mark} {of}}}{{{self.tex_mark} {wrt}}}"

    def _pretty(self, printer: Any) -> prettyForm:
        # In ASCII a local derivative is spelled "partial": d for both would erase ∂ versus d.
        mark = self.mark if printer._use_unicode else "partial " if self.kind == "local" else "d"
        top = prettyForm(*printer._print(self.of).left(mark))
        bottom = prettyForm(*printer._print(self.wrt).left(mark))
        return top / bottom  # prettyForm division stacks a fraction


class Total(Partial):
    """The symbol dA/dB: the total derivative of A with respect to B through the graph.

    A subclass of `Partial`, so that code looking for derivative symbols finds both.
    """

    mark, tex_mark, kind = "d", r"\mathrm{d}", "total"


class Second(sp.Expr):
    """The symbol d²A/dBdC: the second derivative of A through the graph, by B and then by C.

    Its str is the claim's own form, "d2L/dw1 dw2" or "d2L/dw1^2" for B = C.
    """

    kind = "second"

    is_commutative = True

    def __new__(cls, of: sp.Symbol, wrt: sp.Symbol, second: sp.Symbol) -> Second:
        return sp.Expr.__new__(cls, of, wrt, second)

    @property
    def of(self) -> sp.Symbol:
        return self.args[0]

    @property
    def wrt(self) -> sp.Symbol:
        return self.args[1]

    @property
    def second(self) -> sp.Symbol:
        return self.args[2]

    def _sympystr(self, printer: Any) -> str:
        of, wrt, second = (printer._print(name) for name in self.args)
        if self.wrt == self.second:
            return f"d2{of}/d{wrt}^2"
        return f"d2{of}/d{wrt} d{second}"

    def _latex(self, printer: Any) -> str:
        of, wrt, second = (printer._print(a) for a in self.args)
        below = (
            rf"\mathrm{{d}} {wrt}^{{2}}"
            if self.wrt == self.second
            else rf"\mathrm{{d}} {wrt}\,\mathrm{{d}} {second}"
        )
        return rf"\frac{{\mathrm{{d}}^{{2}} {of}}}{{{below}}}"

    def _pretty(self, printer: Any) -> prettyForm:
        two = "²" if printer._use_unicode else "^2"
        top = prettyForm(*printer._print(self.of).left(f"d{two}"))
        wrt = prettyForm(*printer._print(self.wrt).left("d"))
        if self.wrt == self.second:
            bottom = prettyForm(*wrt.right(two))
        else:
            bottom = prettyForm(*wrt.right(" ", prettyForm(*printer._print(self.second).left("d"))))
        return top / bottom


class GradientOuter(sp.Expr):
    """∇z ∇zᵀ: the outer product of a node's gradient by the parameters with itself (display only)."""

    is_commutative = True

    def __new__(cls, node: sp.Symbol) -> GradientOuter:
        return sp.Expr.__new__(cls, node)

    def _sympystr(self, printer: Any) -> str:
        node = printer._print(self.args[0])
        return f"grad({node})*grad({node})^T"

    def _latex(self, printer: Any) -> str:
        node = printer._print(self.args[0])
        return rf"\nabla {node} \, \nabla {node}^{{\top}}"

    def _pretty(self, printer: Any) -> prettyForm:
        node = printer._print(self.args[0])
        nabla, top = ("∇", "ᵀ") if printer._use_unicode else ("grad ", "^T")
        return prettyForm(*prettyForm(*node.left(nabla)).right(" ", prettyForm(*node.left(nabla)), top))


class AsWritten(sp.Expr):
    """A file's expression as written (`Model.written`): printed with its terms in the order given,
    w1*x1 + w2*x2 + b, by any printer (display only)."""

    is_commutative = True

    def __new__(cls, expr: sp.Expr) -> AsWritten:
        return sp.Expr.__new__(cls, expr)

    def _in_order(self, printer: Any) -> Any:
        saved = printer._settings.get("order")
        printer._settings["order"] = "none"
        try:
            return printer._print(self.args[0])
        finally:
            printer._settings["order"] = saved

    _sympystr = _latex = _pretty = _in_order


class AtSample(sp.Expr):
    """A name's value at sample k of a batch: x₁⁽ᵏ⁾ (display only)."""

    is_commutative = True

    def __new__(cls, name: sp.Symbol) -> AtSample:
        return sp.Expr.__new__(cls, name)

    def _sympystr(self, printer: Any) -> str:
        return f"{printer._print(self.args[0])}[k]"

    def _latex(self, printer: Any) -> str:
        return (
            f"{{{{{printer._print(self.args[0])}}}^{{(k)}}}}"  # braced whole: a power of it is {x^{(k)}}^{2}
        )

    def _pretty(self, printer: Any) -> prettyForm:
        mark = "⁽ᵏ⁾" if printer._use_unicode else "[k]"
        return prettyForm(*printer._print(self.args[0]).right(mark))


class SampleMean(sp.Expr):
    """(1/m) Σₖ of a per-sample expression: its mean over a batch of m samples (display only)."""

    is_commutative = True

    def __new__(cls, term: sp.Expr) -> SampleMean:
        return sp.Expr.__new__(cls, term)

    def _sympystr(self, printer: Any) -> str:
        return f"mean_k({printer._print(self.args[0])})"

    def _latex(self, printer: Any) -> str:
        term = printer.parenthesize(self.args[0], PRECEDENCE["Mul"], strict=True)
        return rf"\frac{{1}}{{m}} \sum_{{k=1}}^{{m}} {term}"

    def _pretty(self, printer: Any) -> prettyForm:
        term = printer._print(self.args[0])
        if precedence(self.args[0]) < PRECEDENCE["Mul"]:
            term = prettyForm(*term.parens())
        sigma = "(1/m)⋅Σₖ " if printer._use_unicode else "(1/m)*sum_k "
        form = prettyForm(*term.left(sigma))
        form.binding = prettyForm.MUL
        return form


class Adjoint(sp.Symbol):
    """dL/dc inside a later result, standing for the value derived for it: the backpropagation δ.

    The chain rule writes dL/dn = Σ dL/dc · ∂c/∂n. Putting each dL/dc's value in
    keeps a result in the model's names, but in a network every layer multiplies
    the size by its width; past a size the engine writes the symbol dL/dc instead,
    as a lecture does. A symbol (not a `Total`), so that substituting definitions
    and differentiating leave it alone; its name is "dL/dc", and `loss` and `node`
    read it back.
    """

    def __new__(cls, name: str, **assumptions: Any) -> Adjoint:
        return super().__new__(cls, name, **assumptions)

    @classmethod
    def of(cls, loss: sp.Symbol, node: sp.Symbol) -> Adjoint:
        return cls(f"d{loss.name}/d{node.name}")

    @property
    def loss(self) -> sp.Symbol:
        return sp.Symbol(self.name[1 : self.name.index("/")])

    @property
    def node(self) -> sp.Symbol:
        return sp.Symbol(self.name[self.name.index("/") + 2 :])

    def _latex(self, printer: Any) -> str:
        return Total(self.loss, self.node)._latex(printer)

    def _pretty(self, printer: Any) -> prettyForm:
        return Total(self.loss, self.node)._pretty(printer)


class Product(sp.Expr):
    """Factors multiplied in the order given: ``[−y/a + (1−y)/(1−a)] · [a(1−a)]``."""

    is_commutative = True
    #: A product's, so that an operand of @ that is one is bracketed: Xᵀ @ (2⋅S ⊙ G), not (Xᵀ @ 2)⋅S ⊙ G.
    precedence = PRECEDENCE["Mul"]

    def __new__(cls, *factors: sp.Expr) -> Product:
        return sp.Expr.__new__(cls, *factors)

    def _parts(self, printer: Any, kind: str) -> list[Any]:
        parts = []
        for factor in self.args:
            # Compound factors are bracketed, as the seed page writes [a(1 − a)].
            compound = len(self.args) > 1 and isinstance(factor, sp.Add | sp.Mul | Sum | Product)
            if kind == "pretty":
                form = printer._print(factor)
                parts.append(prettyForm(*form.parens()) if compound else form)
            elif compound:
                parts.append(_paren(printer._print(factor), kind))
            else:
                parts.append(printer.parenthesize(factor, PRECEDENCE["Mul"], strict=True))
        return parts

    def _sympystr(self, printer: Any) -> str:
        return "*".join(self._parts(printer, "str"))

    def _latex(self, printer: Any) -> str:
        return r" \cdot ".join(self._parts(printer, "latex"))

    def _pretty(self, printer: Any) -> prettyForm:
        parts = self._parts(printer, "pretty")
        result = parts[0]
        for part in parts[1:]:
            result = prettyForm(*result.right("⋅" if printer._use_unicode else "*", part))
        result.binding = prettyForm.MUL
        return result


class Sum(sp.Expr):
    """Terms added in the order given, one per path of the chain rule."""

    is_commutative = True

    def __new__(cls, *terms: sp.Expr) -> Sum:
        return sp.Expr.__new__(cls, *terms)

    def _signed(self) -> list[tuple[str, sp.Expr]]:
        signed = []
        for i, term in enumerate(self.args):
            negative = i > 0 and not isinstance(term, Product) and term.could_extract_minus_sign()
            signed.append(("-" if negative else "+", -term if negative else term))
        return signed

    def _sympystr(self, printer: Any) -> str:
        out = ""
        for i, (sign, term) in enumerate(self._signed()):
            text = printer.parenthesize(term, PRECEDENCE["Add"], strict=False)
            out += text if i == 0 else f" {sign} {text}"
        return out

    def _latex(self, printer: Any) -> str:
        out = ""
        for i, (sign, term) in enumerate(self._signed()):
            text = printer._print(term)
            if sign == "-" and precedence(term) <= PRECEDENCE["Add"]:
                text = _paren(text, "latex")
            out += text if i == 0 else f" {sign} {text}"
        return out

    def _pretty(self, printer: Any) -> prettyForm:
        result: prettyForm | None = None
        for sign, term in self._signed():
            form = printer._print(term)
            if sign == "-" and precedence(term) <= PRECEDENCE["Add"]:
                form = prettyForm(*form.parens())
            result = form if result is None else prettyForm(*result.right(f" {sign} ", form))
        assert result is not None
        result.binding = prettyForm.ADD
        return result


class Hadamard(sp.Expr):
    """u ⊙ v: vectors or matrices multiplied entry by entry, as a lecture marks it (display only)."""

    is_commutative = True
    #: A product's, so that a matrix product or an outer product around it brackets it: A(u ⊙ v)xᵀ,
    #: where A u ⊙ v xᵀ would read as (A u) ⊙ (v xᵀ).
    precedence = PRECEDENCE["Mul"]

    def __new__(cls, *factors: sp.Expr) -> Hadamard:
        return sp.Expr.__new__(cls, *factors)

    def _sympystr(self, printer: Any) -> str:
        return "*".join(printer.parenthesize(f, PRECEDENCE["Mul"], strict=False) for f in self.args)

    def _latex(self, printer: Any) -> str:
        # As the pretty form: a product after a ⊙ is bracketed, A \odot \left(\mathbf{1} \gamma^{\top}\right),
        # where A \odot \mathbf{1} \gamma^{\top} reads as (A ⊙ 𝟙)γᵀ, left to right.
        return r" \odot ".join(
            rf"\left({printer._print(f)}\right)"
            if k and getattr(f, "juxtaposed", False)
            else printer.parenthesize(f, PRECEDENCE["Mul"], strict=False)
            for k, f in enumerate(self.args)
        )

    def _pretty(self, printer: Any) -> prettyForm:
        forms = [printer._print(f) for f in self.args]
        # A product after a ⊙ is bracketed too: A ⊙ (𝟙⋅γᵀ), where A ⊙ 𝟙⋅γᵀ would read as (A ⊙ 𝟙)⋅γᵀ.
        forms = [
            prettyForm(*f.parens())
            if precedence(a) <= PRECEDENCE["Mul"] or (k and f.binding == prettyForm.MUL)
            else f
            for k, (f, a) in enumerate(zip(forms, self.args, strict=True))
        ]
        result = forms[0]
        for form in forms[1:]:
            result = prettyForm(*result.right(" ⊙ " if printer._use_unicode else " o ", form))
        result.binding = prettyForm.MUL
        return result


def _paren(text: str, kind: str) -> str:
    return rf"\left({text}\right)" if kind == "latex" else f"({text})"


def product(*factors: sp.Expr) -> sp.Expr:
    """A display product, dropping factors equal to 1; a single factor is returned as it is."""
    kept = [f for f in factors if f != 1]
    if not kept:
        return sp.S.One
    return kept[0] if len(kept) == 1 else Product(*kept)


def total(*terms: sp.Expr) -> sp.Expr:
    """A display sum; a single term is returned as it is."""
    return terms[0] if len(terms) == 1 else Sum(*terms)
