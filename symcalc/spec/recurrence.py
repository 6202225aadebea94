"""Recurrences written once (`"h[t]" = "tanh(W @ h[t-1] + U @ x[t] + b)"`), unrolled as a file is read.

A definition whose key is a name with a step index is a recurrence: `"h[t]"` is its cell,
applied at t = 1 … T (T, the step variable's capital, a dimension), and `"h[0]"` its initial
state ("0" for the zero state). An input or target whose first axis is T (`x[T,n]`) is a
sequence: `x[t]` is its step t, a vector x_t of n entries (a scalar for `x[T]`). Inside a cell
`h[t-1]` is the previous step; everywhere else `h[T]`, `h[2]` or `h[T-1]` names one step, and so
do `dL/dh[2]` in claims. Before anything else reads the file, every such step becomes an ordinary
name, `h1 … hT` and `x1 … xT`, which print as h₁ … h_T: every stage after works on the unrolled
definitions as on any file's. Files without a key of this form are left exactly as they are.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

from symcalc.errors import Location, SpecError

#: The most steps a recurrence is unrolled over: each step is a definition of its own, and from step
#: 11 on a step's vector would share its entries' names with another's (x11 is entry 1 of x1 and the
#: whole of step 11); `verify` passes its time limit long before (at T = 4 for the shipped RNN).
MAX_STEPS = 10

_KEY = re.compile(r"([A-Za-z][A-Za-z0-9_]*)\[\s*([^\[\]]*?)\s*\]")
_STEP = re.compile(r"(?<![A-Za-z0-9_.])([A-Za-z][A-Za-z0-9_]*)\[([^\[\]]*)\]")
_DECLARATION = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*\[\s*([A-Za-z0-9_]+)\s*(?:,([^\[\]]*))?\]\s*")
_ZEROS = {"0", "0.0"}


#: A claim's text (its key, for errors, and an expression) with its steps written as unrolled names.
Steps = Callable[[str, str], str]


def unroll(data: dict[str, Any], lines: dict[str, int], source: str) -> tuple[dict[str, Any], Steps | None]:
    """`data` (a file's TOML table) with its recurrences unrolled, and `lines` given the new keys; and
    how to read a claim given later (`symcalc check`) the same way. `data` itself and None where it
    has none. SpecError (one line: file, key, problem) for a bad one."""
    table = data.get("definitions")
    if not isinstance(table, dict) or not any(_recurrent(key) for key in table):
        return data, None
    unroller = _Unroller(data, lines, source)
    return unroller.data(), unroller.outside


def _recurrent(key: object) -> bool:
    return isinstance(key, str) and _KEY.fullmatch(key) is not None


class _Unroller:
    def __init__(self, data: dict[str, Any], lines: dict[str, int], source: str):
        self.source, self.lines, self.table = source, lines, data
        self.cells: dict[str, str] = {}  # name → its cell's text, in file order
        self.initial: dict[str, str] = {}  # name → its initial state's text
        self.variable = ""
        for key, text in data["definitions"].items():
            found = _KEY.fullmatch(key) if isinstance(key, str) else None
            if found is None:
                continue
            name, index = found.groups()
            where = f"definitions.{key}"
            if not isinstance(text, str):
                raise self.error(where, f"must be a string, not {type(text).__name__}")
            if index == "0":
                self.initial[name] = text
            elif re.fullmatch(r"[a-z]", index) and self.variable in ("", index):
                self.variable = index
                self.cells[name] = text
            else:
                raise self.error(
                    where,
                    f"{key!r} is not a recurrence's key",
                    fix='write "h[0]" for its initial state and "h[t]" for its step, t = 1 … T',
                )
        for name in self.initial:
            if name not in self.cells:
                raise self.error(
                    f"definitions.{name}[0]", f"{name}[0] is an initial state of no step {name}[t]"
                )
        self.steps = self.count()
        self.sequences = self.sequence_inputs()
        sizes = self.table.get("dimensions")
        dimensions = set(sizes) if isinstance(sizes, dict) else set()
        self.zero = {name for name, text in self.initial.items() if _zero_text(text, dimensions)}

    def error(self, key: str, problem: str, fix: str | None = None) -> SpecError:
        return SpecError(problem, Location(source=self.source, key=key, line=self.lines.get(key)), fix)

    def count(self) -> int:
        """T: the size of the dimension named by the step variable's capital (t → T)."""
        capital = self.variable.upper()
        first = next(iter(self.cells))
        sizes = self.table.get("dimensions")
        size = sizes.get(capital) if isinstance(sizes, dict) else None
        if isinstance(size, bool) or not isinstance(size, int):
            raise self.error(
                f"definitions.{first}[{self.variable}]",
                f"the steps {self.variable} = 1 … {capital} need {capital}, the number of steps, "
                "in [dimensions]",
                fix=f"add {capital} = the number of steps under [dimensions]",
            )
        if not 1 <= size <= MAX_STEPS:
            raise self.error(
                f"dimensions.{capital}",
                f"a recurrence is unrolled over 1 to {MAX_STEPS} steps, not {size}",
                fix="each step is a definition of its own: train a longer sequence in windows of T steps",
            )
        return size

    def sequence_inputs(self) -> dict[str, tuple[str, str]]:
        """Each input or target whose first axis is T → (its list, its other axes' text, '' for none)."""
        capital = self.variable.upper()
        found: dict[str, tuple[str, str]] = {}
        for key in ("inputs", "targets"):
            for item in self.table.get(key) or []:
                match = _DECLARATION.fullmatch(item) if isinstance(item, str) else None
                if match is not None and match.group(2) == capital:
                    found[match.group(1)] = (key, (match.group(3) or "").strip())
        return found

    # -- rewriting ------------------------------------------------------------------------

    def data(self) -> dict[str, Any]:
        result = dict(self.table)
        for key in ("inputs", "targets"):
            if isinstance(result.get(key), list):
                result[key] = [item for entry in result[key] for item in self.declarations(entry)]
        result["definitions"] = self.definitions()
        for table, each in (("claims", self.claim), ("notes", self.named), ("domains", self.named)):
            if isinstance(result.get(table), dict):
                rewritten: dict[str, Any] = {}
                for key, value in result[table].items():
                    for new_key, new_value in each(f"{table}.{key}", key, value):
                        rewritten[new_key] = new_value
                        self.lines.setdefault(f"{table}.{new_key}", self.lines.get(f"{table}.{key}", 0))
                result[table] = rewritten
        return result

    def declarations(self, entry: object) -> list[object]:
        match = _DECLARATION.fullmatch(entry) if isinstance(entry, str) else None
        if match is None or match.group(1) not in self.sequences:
            return [entry]
        name, rest = match.group(1), self.sequences[match.group(1)][1]
        return [f"{name}{t}[{rest}]" if rest else f"{name}{t}" for t in range(1, self.steps + 1)]

    def definitions(self) -> dict[str, Any]:
        table: dict[str, Any] = self.table["definitions"]
        last = max(i for i, key in enumerate(table) if _recurrent(key))
        result: dict[str, Any] = {}
        for i, (key, text) in enumerate(table.items()):
            if not _recurrent(key):
                where = f"definitions.{key}"
                result[key] = self.rewrite(where, text, None, "") if isinstance(text, str) else text
            if i == last:
                result |= self.unrolled()
        return result

    def unrolled(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for name, text in self.initial.items():
            if name not in self.zero:
                key = f"definitions.{name}[0]"
                result[f"{name}0"] = self.rewrite(key, text, None, "")
                self.lines.setdefault(f"definitions.{name}0", self.lines.get(key, 0))
        for t in range(1, self.steps + 1):
            for name, text in self.cells.items():
                key = f"definitions.{name}[{self.variable}]"
                result[f"{name}{t}"] = self.rewrite(key, text, t, name)
                self.lines.setdefault(f"definitions.{name}{t}", self.lines.get(key, 0))
        return result

    def rewrite(self, key: str, text: str, t: int | None, cell: str) -> str:
        """`text` with each step (`h[t-1]`, `x[t]`, `h[T]`, `dL/dh[2]`) an ordinary name, at step `t`
        of the cell of `cell` (None outside a cell); the zero initial state dropped with what it
        multiplies."""
        names = [*self.cells, *self.sequences]
        if t is None:
            text = self.sums(key, text)
        bare = re.search(r"(?<![A-Za-z0-9_.])(" + "|".join(map(re.escape, names)) + r")\b(?!\s*\[)", text)
        if bare is not None:
            word = bare.group(1)
            raise self.error(
                key,
                f"{word!r} is a sequence over steps and is read one step at a time",
                fix=f"write {word}[{self.variable}] in a cell, "
                f"{word}[{self.variable.upper()}] or {word}[1] elsewhere",
            )

        def step(match: re.Match[str]) -> str:
            word, index = match.groups()
            prefix = "d" if word not in names and word[1:] in names and word[0] == "d" else ""
            name = word[len(prefix) :]
            if name not in names:
                return match.group(0)
            k = self.index(key, name, index, t)
            self.check_step(key, name, index, k, t, cell)
            return f"{prefix}{name}{k}"

        result = _STEP.sub(step, text)
        zeros = {f"{name}0" for name in self.zero}
        if any(re.search(rf"\b{zero}\b", result) for zero in zeros):
            result = _without(result, zeros, lambda problem: self.error(key, problem))
        return result

    def index(self, key: str, name: str, text: str, t: int | None) -> int:
        """The step an index (`t-1`, `T`, `2`) names, at step `t`."""
        values = {self.variable.upper(): self.steps} | ({} if t is None else {self.variable: t})
        value = _whole_number(text, values)
        if value is None:
            where = f"in {name}'s cell" if t is not None else "outside a cell"
            allowed = f"{self.variable}, " if t is not None else ""
            raise self.error(
                key,
                f"{name}[{text}]: a step is a whole number, {allowed}{self.variable.upper()}, "
                f"or a sum of them ({where})",
            )
        return value

    def check_step(self, key: str, name: str, text: str, k: int, t: int | None, cell: str) -> None:
        first = 1 if name in self.sequences else 0
        if not first <= k <= self.steps:
            at = f" at {self.variable} = {t}" if t is not None else ""
            raise self.error(
                key,
                f"{name}[{text}]{at} is step {k}, outside {first} … {self.steps} ({self.variable.upper()})",
            )
        if name in self.cells and k == 0 and name not in self.initial:
            raise self.error(
                key,
                f"reads {name}[0], and {name}'s initial state is not given",
                fix=f'add "{name}[0]" = "0" (or its initial value) under [definitions]',
            )
        if t is None or not cell or name not in self.cells:
            return
        order = list(self.cells)
        if k > t or (k == t and order.index(name) >= order.index(cell)):
            raise self.error(
                key,
                f"{name}[{text}] at {self.variable} = {t} reads step {k}, which is not computed yet",
                fix=f"a cell reads earlier steps ({name}[{self.variable}-1]) and the steps of cells above it",
            )

    def outside(self, key: str, text: str) -> str:
        """A claim's side, `key` the claim it is part of: its steps as unrolled names."""
        return self.rewrite(key, text, None, "")

    def sums(self, key: str, text: str) -> str:
        """`text` with each sum over the steps, `sum_t(outer(d[t], h[t-1]))`, written out term by term."""
        call = f"sum_{self.variable}"
        if not re.search(rf"(?<![A-Za-z0-9_.]){call}\s*\(", text) or not text.isascii():
            return text
        source = text.replace("^", "**").replace("\n", " ").strip()
        try:
            tree = ast.parse(source, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise self.error(key, "is not an expression (see the format's grammar)") from None
        found = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == call
        ]
        for node in found:
            inner = [n for n in ast.walk(node) if n is not node and n in found]
            if len(node.args) != 1 or node.keywords or inner:
                raise self.error(
                    key, f"{call}(...) takes one expression in {self.variable}, and holds no other {call}"
                )
        result = source
        for node in sorted(found, key=lambda n: n.col_offset, reverse=True):
            term = ast.get_source_segment(source, node.args[0]) or ""
            steps = [self.rewrite(key, term, t, "") for t in range(1, self.steps + 1)]
            kept = [step for step in steps if step.strip() != "0"]
            written = "(" + " + ".join(f"({step})" for step in kept) + ")" if kept else "0"
            result = result[: node.col_offset] + written + result[node.end_col_offset or 0 :]
        return result

    def claim(self, where: str, key: str, value: object) -> list[tuple[str, object]]:
        new_key = self.rewrite(where, key, None, "")
        return [(new_key, self.rewrite(where, value, None, "") if isinstance(value, str) else value)]

    def named(self, where: str, key: str, value: object) -> list[tuple[str, object]]:
        """A note or domain about a sequence holds for each of its steps."""
        if key in self.cells:
            first = 0 if key in self.initial and key not in self.zero else 1
            return [(f"{key}{t}", value) for t in range(first, self.steps + 1)]
        if key in self.sequences:
            return [(f"{key}{t}", value) for t in range(1, self.steps + 1)]
        return [(key, value)]


def _whole_number(text: str, values: Mapping[str, int]) -> int | None:
    """A step index's value: whole numbers and the names in `values`, with + and -; None otherwise."""
    if len(text) > 100:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None

    def value(node: ast.AST) -> int | None:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name):
            return values.get(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = value(node.operand)
            return None if inner is None else -inner
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            left, right = value(node.left), value(node.right)
            if left is None or right is None:
                return None
            return left + right if isinstance(node.op, ast.Add) else left - right
        return None

    return value(tree)


def _without(text: str, zeros: set[str], error: Callable[[str], SpecError]) -> str:
    """`text` with each of the names `zeros` (a zero initial state) put as 0, and a matrix product with
    it dropped to 0: W @ h0 is the zero vector, which added to the rest of the cell leaves it."""
    try:
        tree = ast.parse(text.replace("^", "**").replace("\n", " ").strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise error("is not an expression (see the format's grammar)") from None

    class Zero(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return ast.Constant(0) if node.id in zeros else node

        def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
            self.generic_visit(node)
            operands = (node.left, node.right)
            if isinstance(node.op, ast.MatMult | ast.Mult) and any(_is_zero(side) for side in operands):
                return ast.Constant(0)
            return node

        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            named = isinstance(node.func, ast.Name) and node.func.id == "outer"
            return ast.Constant(0) if named and any(map(_is_zero, node.args)) else node

    return ast.unparse(Zero().visit(tree))


def _is_zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0


def _zero_text(text: str, dimensions: set[str]) -> bool:
    """Whether an initial state is written as zero: "0", or the vector 0*ones(d) of a dimension d."""
    if text.strip() in _ZEROS:
        return True
    try:
        tree = ast.parse(text.replace("^", "**").strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False  # the definition's own reading says what is wrong with it

    def ones(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "ones"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in dimensions
        )

    if not (isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Mult)):
        return False
    sides = (tree.left, tree.right)
    return any(map(_is_zero, sides)) and any(map(ones, sides))
