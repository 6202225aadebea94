"""LaTeX maths → the derivation format's expression text, for symcalc's own safe parser; never evaluated.

It reads what symcalc's LaTeX printer writes (\\frac, \\left( \\right), \\cdot, \\odot, ^{\\top},
\\sigma, \\operatorname{sum}, the bracketed entries \\left(W_{1}\\right)_{1 2}) and the notation
of lectures (\\frac{\\partial L}{\\partial w_1}, \\frac{dL}{dz}, \\partial L / \\partial z,
\\sigma'(z), \\ln, e^{-z}, \\hat{y}, w_1 for w1, W_{ij} an entry, \\times, W^\\top, \\sum_i,
\\frac{1}{m}). The result is text (`Reading.text`) that `symcalc.symbolic.parse` parses as any
expression of a file is; a derivative in it stands as a name of its own (`Derivative`).

Products follow the printer's convention, vectors being columns: a juxtaposition, \\cdot or
\\times is the matrix product (u^{\\top} v a dot product, u x^{\\top} an outer product, a scalar
scaling anything), \\odot is entry by entry; `names` gives each name's number of axes so the
reader can tell which is meant, and says where the shapes do not multiply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from symcalc.errors import LatexError
from symcalc.spec.latex_cursor import Cursor, Derivative, Piece, axes_kind, sum_axes, transposed_piece
from symcalc.spec.latex_tokens import FUNCTION_WORDS, GREEK, STYLES, Token, tokens
from symcalc.spec.names import nearest
from symcalc.spec.shapes import component

_SIMPLE = {"ln": "log"}
#: The name \\mathbf{1} (𝟙, a vector of ones) is read as where the caller declares one (a batch form's).
ONES = "ones"
MAX_TERMS = 100  # a sum with a bound is written out term by term up to this many
_TRANSPOSE_MARKS = ("top", "intercal", "T", "mathsf")
#: Where a factor cannot start: what ends a term or a bracket.
_ENDS = frozenset(("+", "-", "=", ")", "]", "}", ",", "&", "|", "/", "<", ">", "."))
_HINT = "vectors are columns: u^{\\top} v is a dot product, u v^{\\top} an outer one, \\odot entry by entry"


@dataclass(frozen=True)
class Reading:
    """One side of an equation: its expression text, its axes (-1 a row vector: a column transposed),
    the derivatives it names and the column where it starts."""

    text: str
    axes: int
    derivatives: tuple[Derivative, ...]
    column: int


def read_latex(
    text: object,
    names: Mapping[str, int],
    indices: Mapping[str, int] | None = None,
    source: str | None = None,
    sizes: Mapping[str, int] | None = None,
    line: int = 1,
    offset: int = 0,
) -> list[Reading]:
    """Each side of the chain `A = B = …` in `text`: names are `names` (each with its number of axes:
    0, 1 or 2; a dimension's name is a scalar), `indices` the values of free index letters
    (i, j in W_{ij}), `sizes` the dimensions' (a sum's bound); LatexError (at `line`, with the
    column, `offset` + 1 being the text's first) otherwise."""
    items = tokens(text, source, line, offset)
    return _Reader(items, names, indices or {}, source, line, sizes=sizes or {}).chain()


@dataclass
class _Reader(Cursor):
    """The maths, from a chain of sides down to names and calls."""

    # -- the chain and its sides -----------------------------------------------------------------------
    def chain(self) -> list[Reading]:
        sides: list[Reading] = []
        while True:
            while self.is_("char", "&"):
                self.at += 1
            start, self.found = self.column(), {}
            if self.peek() is None or self.is_("char", "="):
                raise self.fail("an empty side of '='")
            piece = self.expression()
            sides.append(Reading(piece.text, piece.axes, tuple(self.found.values()), start))
            if self.is_("char", ",") or self.is_("char", "."):  # the sentence's punctuation: "= a - y."
                self.at += 1
                if self.peek() is None:
                    return sides
                raise self.fail("text after punctuation is not read")
            if (self.is_("char", "&") and self.is_("char", "&", 1)) or self.peek() is None:
                return sides  # && starts an align's column of notes: "&& \text{using } …"
            while self.is_("char", "&"):
                self.at += 1
            if self.peek() is None:
                return sides
            if not self.is_("char", "="):
                raise self.fail(f"'{self.peek().text}' is not read here")  # type: ignore[union-attr]
            self.at += 1

    def expression(self) -> Piece:
        """Terms added and subtracted."""
        sign = self.take().text if self.is_("char", "+") or self.is_("char", "-") else "+"
        piece = self.term()
        if sign == "-":
            piece = Piece(f"-{piece.wrapped}", piece.axes, False)
        while self.is_("char", "+") or self.is_("char", "-"):
            op = self.take().text
            right = self.term()
            axes = sum_axes(piece.axes, right.axes)
            piece = Piece(f"{piece.text} {op} {right.wrapped}", axes, False)
        return piece

    def term(self) -> Piece:
        piece = self.factor()
        while True:
            token = self.peek()
            if token is None or (token.kind == "char" and token.text in _ENDS and token.text != "/"):
                return piece
            if token.kind == "control" and token.text == "right":
                return piece
            if token.kind == "char" and token.text == "/":
                self.at += 1
                right = self.factor()  # by a vector: entry by entry, as the file's syntax reads it
                piece = Piece(f"{piece.wrapped}/{right.wrapped}", sum_axes(piece.axes, right.axes), False)
            elif self.is_("control", "odot") or self.is_("char", "*"):
                self.at += 1
                right = self.factor()
                piece = Piece(f"{piece.wrapped}*{right.wrapped}", sum_axes(piece.axes, right.axes), False)
            elif self.is_("control", "otimes"):  # A ⊗ B, looser than a product: I_{h} ⊗ x x^T
                self.at += 1
                right = self.term()
                piece = Piece(f"kron({piece.text}, {right.text})", max(piece.axes, right.axes), False)
            elif token.kind == "control" and token.text in ("cdot", "cdotp", "times"):
                self.at += 1
                piece = self.product(piece, self.factor(), token, dot=True)
            else:
                piece = self.product(piece, self.factor(), token, dot=False)

    def product(self, left: Piece, right: Piece, token: Token, dot: bool) -> Piece:
        """A juxtaposition (or \\cdot): a scalar scales; otherwise the matrix product, vectors as columns."""
        a, b = left.axes, right.axes
        if a == 0 or b == 0 or (self.summed and abs(a) == abs(b) == 1):  # in \sum_i, v_i x_i
            return Piece(f"{left.wrapped}*{right.wrapped}", a or b, False)
        if a == 1 and b == -1:
            return Piece(f"outer({left.text}, {right.text})", 2)
        if (a, b) in ((-1, 1), (2, 1), (-1, 2), (2, 2)) or (dot and a == b == 1):
            axes = {(-1, 1): 0, (2, 1): 1, (-1, 2): -1, (2, 2): 2, (1, 1): 0}[(a, b)]
            return Piece(f"{left.wrapped} @ {right.wrapped}", axes, False)
        raise self.fail(
            f"a {axes_kind(a)} times a {axes_kind(b)} does not multiply",
            token,
            _HINT,
        )

    def factor(self) -> Piece:
        if self.is_("char", "-"):
            self.at += 1
            piece = self.factor()
            return Piece(f"-{piece.wrapped}", piece.axes, False)
        piece = self.primary()
        while self.is_("char", "^") or self.is_("char", "_"):
            token = self.take()
            if token.text == "_":
                piece = self.entry_of(piece, token)
                continue
            if self.transposed():
                piece = transposed_piece(piece)
                continue
            if self.is_("char", "{") and self.is_("control", "odot", 1):  # M^{\odot 2}: entry by entry
                self.at += 2
                power = self.expression()
                self.expect("char", "}")
                piece = Piece(f"{piece.wrapped}^{power.wrapped}", abs(piece.axes), False)
                continue
            power = self.group_or_single()
            if power.axes:
                raise self.fail("a power of a vector or a matrix", token)
            if piece.axes not in (0, 1) and piece.axes != -1:
                raise self.fail("a power of a matrix", token, "write the product, or \\odot for entries")
            piece = Piece(f"{piece.wrapped}^{power.wrapped}", abs(piece.axes), False)
        return piece

    def transposed(self) -> bool:
        """Whether the superscript just opened is a transpose (^{\\top}, ^T, ^\\intercal, ^{\\mathsf{T}})."""
        braced = self.is_("char", "{")
        k = 1 if braced else 0
        token = self.peek(k)
        if token is None or token.text not in _TRANSPOSE_MARKS or token.kind == "number":
            return False
        if token.text == "mathsf":
            if not (
                self.is_("char", "{", k + 1) and self.is_("word", "T", k + 2) and self.is_("char", "}", k + 3)
            ):
                return False
            k += 3
        if braced and not self.is_("char", "}", k + 1):
            return False
        self.at += k + (2 if braced else 1)
        return True

    # -- primaries -------------------------------------------------------------------------------------
    def primary(self) -> Piece:
        token = self.peek()
        if token is None:
            raise self.fail("the maths ends where a value is needed")
        if token.kind == "number":
            self.at += 1
            return Piece(token.text)
        if token.kind == "word":
            return self.word(token)
        if token.kind == "char" and token.text in "({[":
            return self.bracket()
        if token.kind == "char" and token.text == "|":
            self.at += 1
            inside = self.inside("|")
            return Piece(f"abs({inside.text})", inside.axes)
        if token.kind == "control":
            return self.control(token)
        raise self.fail(f"'{token.text}' is not read here", token)

    def bracket(self) -> Piece:
        opening = self.take().text
        closing = {"(": ")", "[": "]", "{": "}"}[opening]
        piece = self.inside(closing)
        return (
            Piece(piece.text, piece.axes, piece.atomic, piece.name)
            if piece.atomic
            else Piece(f"({piece.text})", piece.axes)
        )

    def left(self) -> Piece:
        self.expect("control", "left")
        token = self.take()
        if (token.kind == "control" and token.text in ("lvert", "vert")) or token.text == "|":
            self.nested()
            piece = self.expression()
            self.expect("control", "right")
            bar = self.take()
            if bar.text not in ("|", "rvert", "vert"):
                raise self.fail("expected '\\right|'", bar)
            self.depth -= 1
            return Piece(f"abs({piece.text})", piece.axes)
        if token.kind != "char" or token.text not in "([":
            raise self.fail(f"'\\left{token.text}' is not read", token)
        piece = self.inside(")" if token.text == "(" else "]", right=True)
        return piece if piece.atomic else Piece(f"({piece.text})", piece.axes)

    def group_or_single(self) -> Piece:
        """A superscript's or an argument's {…}, or the single token TeX takes without braces."""
        if self.is_("char", "{"):
            return self.group()
        token = self.take()
        if token.kind == "number":
            if len(token.text) > 1:  # x^23 is x^{2}3 in TeX
                self.items.insert(self.at, Token("number", token.text[1:], token.column + 1))
            return Piece(token.text[0])
        if token.kind == "word":
            if len(token.text) > 1:
                self.items.insert(self.at, Token("word", token.text[1:], token.column + 1))
            self.at -= 1
            self.items[self.at] = Token("word", token.text[0], token.column)
            return self.word(self.items[self.at], subscripts=False)
        if token.kind == "char" and token.text == "-":
            piece = self.group_or_single()
            return Piece(f"-{piece.wrapped}", piece.axes, False)
        self.at -= 1
        return self.primary()

    def word(self, token: Token, subscripts: bool = True) -> Piece:
        """A name written in letters: the whole run where it is a name (with a subscript w_1 → w1),
        else its first letter; `d` before a name and a slash is a derivative."""
        derivative = self.slashed_derivative(token)
        if derivative is not None:
            return derivative
        self.at += 1
        text = token.text
        if len(text) > 1 and not self.known(text):
            self.items.insert(self.at, Token("word", text[1:], token.column + 1))
            text = text[0]
        after = self.peek()
        if (
            text == token.text
            and after is not None
            and after.kind == "number"
            and after.column == token.column + len(text)
            and text + after.text in self.names
        ):  # x1 written as the file writes it
            self.at += 1
            return self.declared(text + after.text)
        if text == "e" and "e" not in self.names and self.is_("char", "^"):
            self.at += 1
            power = self.group_or_single()
            return Piece(f"exp({power.text})", power.axes)
        return self.named(text, token, subscripts)

    def named(self, base: str, token: Token, subscripts: bool = True) -> Piece:
        """The name `base` (with the subscript that follows, when `subscripts`) as declared."""
        if subscripts and self.is_("char", "_"):
            mark = self.at
            self.at += 1
            try:
                sub = self.subscript_text()
            except LatexError:  # d_{i_{1}}: an entry at a numbered index, which the factor loop reads
                if self.names.get(base, 0) == 0:
                    raise
                self.at = mark
                return self.declared(base)
            for candidate in (base + sub, f"{base}_{sub}"):
                if candidate in self.names:
                    return self.declared(candidate)
            if base in self.names and self.names[base] > 0:
                self.at = mark
                return self.declared(base)  # the factor loop reads the entry
            if base == "I" and (sub in self.sizes or sub.isdigit()):  # I_{h}, I_{3}: sized (beside ⊗)
                return Piece(f"eye({sub})", 2)
            raise self.unknown(f"{base}_{sub}", token)
        if base in self.indices:
            return Piece(str(self.indices[base]))
        if base in self.names:
            return self.declared(base)
        if base == "I":  # undeclared, the identity matrix, sized where it is parsed (as in a file)
            return Piece("I", 2, True, "I")
        raise self.unknown(base, token)

    def ones_of(self, token: Token) -> Piece:
        """\\mathbf{1}_{m}, after \\mathbf{1}: a column of m ones, m a number or a size the reader knows."""
        self.at += 1
        size = self.subscript_text()
        if not (size.isdigit() or size in self.sizes or self.names.get(size) == 0):
            raise self.fail(f"\\mathbf{{1}}_{{{size}}}: '{size}' is no size", token)
        return Piece(f"ones({size})", 1)

    def declared(self, name: str) -> Piece:
        return Piece(name, self.names[name], True, name)

    def unknown(self, name: str, token: Token) -> LatexError:
        near = nearest(name, self.names) or nearest(name.replace("_", ""), self.names)
        return self.fail(f"unknown name '{name}'", token, f"did you mean '{near}'?" if near else None)

    def subscript_text(self) -> str:
        """A subscript's letters and digits, joined: _1, _{1}, _{in}, _{hidden}."""
        if not self.is_("char", "{"):
            token = self.take()
            if token.kind not in ("word", "number"):
                raise self.fail("a subscript is letters or digits", token)
            if len(token.text) > 1:
                self.items.insert(self.at, Token(token.kind, token.text[1:], token.column + 1))
            return token.text[0]
        self.at += 1
        parts = []
        while not self.is_("char", "}"):
            token = self.take()
            if token.kind not in ("word", "number") and token.text != ",":
                raise self.fail(f"'{token.text}' in a subscript", token)
            parts.append(token.text)
        self.at += 1
        return "".join(p for p in parts if p != ",")

    def entry_of(self, piece: Piece, token: Token) -> Piece:
        """piece_{…}: an entry (W_{ij}, x_{2}, \\left(W_{1}\\right)_{1 2}, (dL/ds)_{i}), or with an index a
        \\sum runs over, the whole vector."""
        if piece.name is None or piece.axes == 0:
            raise self.fail("a subscript on something that is not a vector or a matrix", token)
        items = self.index_items(abs(piece.axes))
        if all(item is None for item in items) and len(items) == 1:
            return piece
        if any(item is None for item in items) or len(items) != (2 if piece.axes == 2 else 1):
            raise self.fail(
                f"'{piece.name}' has {2 if piece.axes == 2 else 1} axes; this index does not fit", token
            )
        index = tuple(item for item in items if item is not None)
        derivative = next((d for d in self.found.values() if d.name == piece.name), None)
        if derivative is not None:  # (dL/ds)_i is dL/ds_i
            del self.found[(derivative.of, derivative.wrt, derivative.partial, derivative.second)]
            return self.derivative(derivative.of, component(derivative.wrt, index), derivative.partial, token)
        return Piece(component(piece.name, index), 0, True, component(piece.name, index))

    def index_items(self, axes: int) -> list[int | None]:
        """A subscript's indices: numbers, index letters given a value, or a summed letter (None)."""
        tokens: list[tuple[Token, str]] = []
        braced = self.is_("char", "{")
        self.at += braced
        while not tokens or (braced and not self.is_("char", "}")):
            token = self.take()
            tokens.append((token, self.numbered() if token.kind == "word" else ""))
        self.at += braced
        items: list[int | None] = []
        for token, number in tokens:
            if token.text == ",":
                continue
            if token.kind == "number" and "." not in token.text:
                digits = token.text if axes == 2 and len(tokens) == 1 else [token.text]
                items += [int(d) for d in digits]
            elif token.kind == "word":
                for letter in (*token.text[:-1], token.text[-1] + number):
                    if letter in self.summed:
                        items.append(None)
                    elif letter in self.indices:
                        items.append(self.indices[letter])
                    else:
                        raise self.fail(f"index '{letter}' has no value here", token)
            else:
                raise self.fail(f"'{token.text}' in an index", token)
        return items

    def numbered(self) -> str:
        """The number of a numbered index letter, i_{1} or i_1 (SymPy's i1, after i … u are taken), read;
        "" (reading nothing) where no _ follows."""
        if not self.is_("char", "_"):
            return ""
        self.at += 1
        token = self.peek()
        number = self.subscript_text()
        if not number.isdigit():
            raise self.fail("an index letter's subscript is a number (i_{1})", token)
        return number

    # -- control words ---------------------------------------------------------------------------------
    def control(self, token: Token) -> Piece:
        word = token.text
        if word == "left":
            return self.left()
        if word in ("frac", "dfrac", "tfrac"):
            return self.fraction(token)
        if word == "partial":
            return self.partial_slash(token)
        if word == "sqrt":
            self.at += 1
            if self.is_("char", "["):
                raise self.fail("only square roots are read", token, "write x^{1/n}")
            inside = self.group_or_single()
            return Piece(f"sqrt({inside.text})", inside.axes)
        if word == "sum":
            return self.summation(token)
        if word in FUNCTION_WORDS:
            self.at += 1
            return self.call(_SIMPLE.get(word, word), token)
        if word == "sigma" and "sigma" not in self.names:
            self.at += 1
            return self.call("sigmoid", token)
        if word in GREEK:
            self.at += 1
            name = "lamda" if word == "lambda" else word
            if name == "pi" and "pi" not in self.names:
                return Piece("pi")
            return self.named(name, token)
        if word in STYLES:
            return self.styled(token)
        if word == "mathbb":
            return self.indicator(token)
        raise self.fail(f"'\\{word}' is not read here", token)

    def styled(self, token: Token) -> Piece:
        """\\mathbf{x}, \\hat{y}, \\operatorname{sum}: a name or a function of the table in a style."""
        self.at += 1
        if not self.is_("char", "{"):
            raise self.fail(f"expected '{{' after '\\{token.text}'", token)
        start = self.at
        self.at += 1
        word = ""
        while self.is_("word") or self.is_("number") or self.is_("char", "_"):
            word += self.take().text
        if not self.is_("char", "}"):
            self.at = start  # \mathbf{W x}: the group as it is
            return self.group()
        self.at += 1
        if token.text in ("operatorname", "mathrm") and word not in self.names:
            # a function's name: which ones exist is the function table's to say, when the text is parsed
            return self.call(_SIMPLE.get(word, word), token)
        if token.text in ("hat", "bar", "tilde"):
            for candidate in (
                word + token.text,
                f"{word}_{token.text}",
                token.text + word,
                f"{token.text}_{word}",
            ):
                if candidate in self.names:
                    return self.named(candidate, token)
            raise self.unknown(f"{word}_{token.text}", token)
        if token.text == "mathbf" and word == "1":
            if self.is_("char", "_"):  # \mathbf{1}_{m}: m ones, as the printer writes ones(m)
                return self.ones_of(token)
            if ONES not in self.names:  # read as the number 1, 𝟙ᵀM would be M
                raise self.fail(
                    "\\mathbf{1} is a vector of ones, which the derivation format has no word for", token
                )
            return self.declared(ONES)
        if word.isdigit():
            return Piece(word)
        return self.named(word, token)

    def indicator(self, token: Token) -> Piece:
        """\\mathbb{1}\\left[u > 0\right], as the printer writes step(u)."""
        self.at += 1
        for kind, text in (("char", "{"), ("number", "1"), ("char", "}"), ("control", "left"), ("char", "[")):
            self.expect(kind, text)
        self.nested()
        inside = self.expression()
        for kind, text in (("char", ">"), ("number", "0"), ("control", "right"), ("char", "]")):
            self.expect(kind, text)
        self.depth -= 1
        return Piece(f"step({inside.text})", inside.axes)

    def call(self, name: str, token: Token) -> Piece:
        """A function's argument(s) after its name: \\left(…\\right), (…), {…} or one factor; a power
        (\\tanh^{2}) and σ′ before them."""
        power = None
        prime = False
        if self.is_("char", "^"):
            self.at += 1
            power = self.group_or_single()
        while self.is_("char", "'") or self.is_("control", "prime"):
            if prime or name != "sigmoid":
                raise self.fail("only σ′ (a sigmoid's derivative) is read with a prime", token)
            self.at += 1
            prime = True
        if self.is_("char", "{") and (self.is_("control", "left", 1) or self.is_("char", "(", 1)):
            self.at += 1
            args = self.arguments()
            self.expect("char", "}")
        else:
            args = self.arguments()
        axes = 0 if name in ("sum", "mean", "norm", "trace", "logsumexp", "dot") else args[0].axes
        text = f"{name}({', '.join(a.text for a in args)})"
        if name == "outer":
            axes = 2
        if name == "diag":  # a vector's entries down a matrix's diagonal; a matrix's diagonal
            axes = 2 if abs(args[0].axes) == 1 else 1
        if name in ("max", "min") and len(args) == 1:
            axes = 0
        if prime:
            text = f"{text}*(1 - {text})"
        piece = Piece(text, axes, not prime)
        if power is not None:
            piece = Piece(f"{piece.wrapped}^{power.wrapped}", axes, False)
        return piece

    def arguments(self) -> list[Piece]:
        right = self.is_("control", "left")
        if right:
            self.at += 1
            if not self.is_("char", "("):
                raise self.fail("expected '\\left('")
        if not (right or self.is_("char", "(")):
            return [self.factor()]
        self.at += 1
        self.nested()
        args = [self.expression()]
        while self.is_("char", ","):
            self.at += 1
            args.append(self.expression())
        if right:
            self.expect("control", "right")
        self.expect("char", ")")
        self.depth -= 1
        return args

    def summation(self, token: Token) -> Piece:
        """\\sum_{l=1}^{m} t: t written out for l = 1 … m where the bound's size is known (so C_{lj}, a
        column's entry, reads); \\sum_{i} t otherwise: the sum over i of t, where x_i is the whole x."""
        self.at += 1
        if not self.is_("char", "_"):
            args = self.arguments()
            return Piece(f"sum({args[0].text})")
        self.at += 1
        braced = self.is_("char", "{")
        self.at += braced
        token = self.take()
        if token.kind != "word" or len(token.text) != 1:
            raise self.fail("a sum runs over one index letter", token)
        letter = Token(token.kind, token.text + self.numbered(), token.column)  # i_{1}: the index i1
        first = 1
        if braced:
            if self.is_("char", "=") and self.is_("number", None, 1):
                first = int(float(self.peek(1).text))  # type: ignore[union-attr]
                self.at += 2
            self.expect("char", "}")
        last = self.upper_bound() if self.is_("char", "^") else None
        self.nested()
        if last is not None and last - first < MAX_TERMS:
            body, saved, terms = self.at, self.indices, []
            for value in range(first, last + 1):
                self.at, self.indices = body, {**saved, letter.text: value}
                terms.append(self.term().wrapped)
            self.indices = saved
            self.depth -= 1
            return Piece(" + ".join(terms) or "0", 0, len(terms) < 2)
        self.summed.add(letter.text)
        inside = self.term()
        self.summed.discard(letter.text)
        self.depth -= 1
        return Piece(f"sum({inside.text})")

    def upper_bound(self) -> int | None:
        """A sum's upper bound after ^: its value where it is a number or a dimension of known size."""
        self.at += 1
        braced = self.is_("char", "{")
        self.at += braced
        token = self.take()
        if braced:
            self.expect("char", "}")
        if token.kind == "number" and token.text.isdigit():
            return int(token.text)
        return self.sizes.get(token.text) if token.kind == "word" else None
