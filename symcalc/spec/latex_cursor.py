"""The LaTeX reader's cursor over tokens, and the derivatives it reads: d/∂ fractions and slashes.

`symcalc.spec.latex` reads the rest of the maths on top of this; the split keeps each part short.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from symcalc.errors import LatexError
from symcalc.spec.latex_tokens import Token, refuse

MAX_NESTING = 60  # brackets, fractions and arguments inside one another


@dataclass(frozen=True)
class Derivative:
    """A derivative written in the maths: d`of`/d`wrt` (∂ when `partial`), read as the name `name`."""

    name: str
    of: str
    wrt: str
    partial: bool
    column: int
    #: The second name of a second derivative, d²(of)/d(wrt)d(second); None for a first derivative.
    second: str | None = None


@dataclass(frozen=True)
class Piece:
    text: str
    axes: int = 0
    atomic: bool = True
    name: str | None = None  # a bare name (or a derivative's stand-in name)

    @property
    def wrapped(self) -> str:
        return self.text if self.atomic else f"({self.text})"


@dataclass
class Cursor:
    """Where the reader is in the tokens, what it has found, and how deep it is."""

    items: list[Token]
    names: Mapping[str, int]
    indices: Mapping[str, int]
    source: str | None
    line: int
    at: int = 0
    depth: int = 0
    summed: set[str] = field(default_factory=set)
    found: dict[tuple[str, str, bool, str | None], Derivative] = field(default_factory=dict)
    sizes: Mapping[str, int] = field(default_factory=dict)

    # -- tokens ----------------------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token | None:
        k = self.at + ahead
        return self.items[k] if k < len(self.items) else None

    def is_(self, kind: str, text: str | None = None, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token is not None and token.kind == kind and (text is None or token.text == text)

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.fail("the maths ends too early")
        self.at += 1
        return token

    def expect(self, kind: str, text: str) -> Token:
        token = self.peek()
        if token is None or token.kind != kind or token.text != text:
            shown = f"\\{text}" if kind == "control" else text
            raise self.fail(f"expected '{shown}'", token)
        self.at += 1
        return token

    def column(self) -> int:
        token = self.peek()
        if token is not None:
            return token.column
        return self.items[-1].column + len(self.items[-1].text) if self.items else 1

    def fail(self, problem: str, token: Token | None = None, fix: str | None = None) -> LatexError:
        column = token.column if token is not None else self.column()
        return refuse(problem, column, self.source, fix, self.line)

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"maths nested more than {MAX_NESTING} levels deep")

    def expression(self) -> Piece:
        raise NotImplementedError

    def factor(self) -> Piece:
        raise NotImplementedError

    def primary(self) -> Piece:
        raise NotImplementedError

    def entry_of(self, piece: Piece, token: Token) -> Piece:
        raise NotImplementedError

    def known(self, base: str) -> bool:
        return base in self.names or base in self.summed or base in self.indices

    def inside(self, closing: str, right: bool = False) -> Piece:
        self.nested()
        piece = self.expression()
        if right:
            self.expect("control", "right")
        self.expect("char", closing)
        self.depth -= 1
        return piece

    def group(self) -> Piece:
        """A braced group {…}."""
        if not self.is_("char", "{"):
            raise self.fail("expected '{'")
        self.at += 1
        return self.inside("}")

    # -- derivatives -----------------------------------------------------------------------------------
    def fraction(self, token: Token) -> Piece:
        self.at += 1
        derivative = self.derivative_fraction(token)
        if derivative is not None:
            return derivative
        top = self.group()
        bottom = self.group()  # by a vector: entry by entry
        axes = top.axes if top.axes == bottom.axes or not bottom.axes else top.axes or bottom.axes
        return Piece(f"{top.wrapped}/{bottom.wrapped}", axes, False)

    def derivative_fraction(self, token: Token) -> Piece | None:
        """\\frac{\\partial L}{\\partial z}, \\frac{dL}{dz}, \\frac{\\mathrm{d} L}{\\mathrm{d} z}, or None."""
        mark = self.at
        if not self.is_("char", "{"):
            return None
        self.at += 1
        partial = self.differential(second=True)
        if partial is None:
            self.at = mark
            return None
        order = self.order()
        of = self.derivative_name()
        self.expect("char", "}")
        self.expect("char", "{")
        if self.differential() is None:
            raise self.fail("the denominator of a derivative is d or \\partial and a name")
        if order == 1:
            wrt = self.derivative_name()
            self.expect("char", "}")
            return self.derivative(of, wrt, partial, token)
        wrt = self.bare_name()
        if self.order() == 2:  # \partial w^2
            second = wrt
        elif self.differential() is None:
            raise self.fail("a second derivative's denominator is \\partial x^2 or \\partial x \\partial y")
        else:
            second = self.bare_name()
        self.expect("char", "}")
        return self.derivative(of, wrt, partial, token, second)

    def order(self) -> int:
        """Reads a ^2 (or ^{2}) after a differential or a name: 2; 1 (reading nothing) if there is none."""
        if not self.is_("char", "^"):
            return 1
        braced = self.is_("char", "{", 1)
        k = 2 if braced else 1
        if not self.is_("number", "2", k) or (braced and not self.is_("char", "}", k + 1)):
            raise self.fail("derivatives of order 1 and 2 are read, not higher", self.peek())
        self.at += k + (2 if braced else 1)
        return 2

    def bare_name(self) -> str:
        """A name in a second derivative's denominator, with its subscripts but not the power after it: a
        scalar's, a vector's or a matrix's (d²L/dw² of a vector w is the matrix of second derivatives;
        of a matrix W, in vec form, its entries row by row)."""
        token = self.peek()
        piece = self.primary()
        while self.is_("char", "_"):
            piece = self.entry_of(piece, self.take())
        if piece.name is None or piece.name.startswith("d_"):
            raise self.fail("a second derivative is of a name and by names", token)
        return piece.name

    def differential(self, second: bool = False) -> bool | None:
        """Reads a d, \\mathrm{d} or \\partial: whether it is ∂; None (reading nothing) if there is none.
        With `second` (a fraction's numerator), a ^2 may follow it, which the caller reads."""
        if self.is_("control", "partial"):
            self.at += 1
            if self.is_("char", "^") and not second:
                raise self.fail("second derivatives are read written as fractions", self.peek())
            return True
        if second and self.is_("word", "d") and self.is_("char", "^", 1) and "d" not in self.names:
            self.at += 1
            return False
        mathrm = self.is_("control", "mathrm") and self.is_("char", "{", 1) and self.is_("word", "d", 2)
        if mathrm and self.is_("char", "}", 3):
            self.at += 4
            return False
        token = self.peek()
        if (
            token is not None
            and token.kind == "word"
            and token.text.startswith("d")
            and "d" not in self.names
        ):
            following = self.peek(1)
            if len(token.text) > 1 or (following is not None and following.kind in ("word", "control")):
                self.at += 1
                if len(token.text) > 1:
                    self.at -= 1
                    self.items[self.at] = Token("word", token.text[1:], token.column + 1)
                return False
        return None

    def derivative_name(self) -> str:
        token = self.peek()
        piece = self.factor()
        if piece.name is None or piece.name.startswith("d_"):
            raise self.fail("a derivative is of a name and by a name", token)
        return piece.name

    def partial_slash(self, token: Token) -> Piece:
        """\\partial L / \\partial z."""
        self.at += 1
        of = self.derivative_name()
        self.expect("char", "/")
        if self.differential() is not True:
            raise self.fail("expected '\\partial' after '/'")
        return self.derivative(of, self.derivative_name(), True, token)

    def slashed_derivative(self, token: Token) -> Piece | None:
        """dL/dz written in a line, or None (reading nothing)."""
        if "d" in self.names or not token.text.startswith("d") or self.known(token.text):
            return None
        mark = self.at
        if self.differential() is False:
            try:
                of = self.derivative_name()
                if self.is_("char", "/"):
                    self.at += 1
                    if self.differential() is False:
                        return self.derivative(of, self.derivative_name(), False, token)
            except LatexError:
                pass
        self.at = mark
        return None

    def derivative(self, of: str, wrt: str, partial: bool, token: Token, second: str | None = None) -> Piece:
        key = (of, wrt, partial, second)
        found = self.found.get(key)
        if found is None:
            stem = f"d_{of}_d_{wrt}" if second is None else f"d2_{of}_d_{wrt}_d_{second}"
            name, k = stem, 1
            while name in self.names or any(d.name == name for d in self.found.values()):
                k += 1
                name = f"{stem}_{k}"
            found = Derivative(name, of, wrt, partial, token.column, second)
            self.found[key] = found
        of_axes, wrt_axes = abs(self.names.get(of, 0)), abs(self.names.get(wrt, 0))
        if second is not None:  # of a scalar: a number, a column (one vector) or a matrix (two)
            axes = min(2, wrt_axes + abs(self.names.get(second, 0)))  # by a matrix: vec form
            if of_axes:
                raise self.fail("a second derivative is of a scalar name", token)
            return Piece(found.name, axes, True, found.name)
        axes = wrt_axes if of_axes == 0 else (1 if wrt_axes == 0 else 2)
        return Piece(found.name, axes, True, found.name)


def sum_axes(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return a or b
    return a if a == b else max(abs(a), abs(b))


def transposed_piece(piece: Piece) -> Piece:
    if abs(piece.axes) == 1:
        return Piece(piece.text, -piece.axes, piece.atomic, piece.name)
    if piece.axes == 2:
        return Piece(f"transpose({piece.text})", 2)
    return piece


def axes_kind(axes: int) -> str:
    return {0: "scalar", 1: "column vector", -1: "row vector", 2: "matrix"}[axes]
