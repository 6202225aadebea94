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
    found: dict[tuple[str, str, bool], Derivative] = field(default_factory=dict)
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
        partial = self.differential()
        if partial is None:
            self.at = mark
            return None
        of = self.derivative_name()
        self.expect("char", "}")
        self.expect("char", "{")
        if self.differential() is None:
            raise self.fail("the denominator of a derivative is d or \\partial and a name")
        wrt = self.derivative_name()
        self.expect("char", "}")
        return self.derivative(of, wrt, partial, token)

    def differential(self) -> bool | None:
        """Reads a d, \\mathrm{d} or \\partial: whether it is ∂; None (reading nothing) if there is none."""
        if self.is_("control", "partial"):
            self.at += 1
            if self.is_("char", "^"):
                raise self.fail("second derivatives are not read in maths", self.peek())
            return True
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

    def derivative(self, of: str, wrt: str, partial: bool, token: Token) -> Piece:
        key = (of, wrt, partial)
        found = self.found.get(key)
        if found is None:
            stem = f"d_{of}_d_{wrt}"
            name, k = stem, 1
            while name in self.names or any(d.name == name for d in self.found.values()):
                k += 1
                name = f"{stem}_{k}"
            found = Derivative(name, of, wrt, partial, token.column)
            self.found[key] = found
        of_axes, wrt_axes = abs(self.names.get(of, 0)), abs(self.names.get(wrt, 0))
        axes = wrt_axes if of_axes == 0 else (1 if wrt_axes == 0 else 2)
        return Piece(found.name, axes, True, found.name)
