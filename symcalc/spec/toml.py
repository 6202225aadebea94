"""Derivation files (TOML) → `Spec`: the only module that reads them, checking every key.

A `Spec` is still text: names and expression strings in file order. Turning it
into SymPy objects is `symcalc.symbolic.graph.Model.from_spec`'s job. Every problem in a
file is collected and reported together, each as one line naming the key.
"""

from __future__ import annotations

import math
import sys
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from symcalc.errors import DomainError, Location, SpecError, SpecErrors, SymcalcError
from symcalc.spec.constant_lists import constant_axes, read_list
from symcalc.spec.domains import Domain, parse_domain
from symcalc.spec.names import check_name, nearest, suggestion
from symcalc.spec.recurrence import Steps, unroll
from symcalc.spec.shapes import Axis, check_size, split_declaration

MAX_FILE_BYTES = 1_000_000
MAX_NAMES = 2_000

NAME_LISTS = ("inputs", "targets", "parameters")
KNOWN_KEYS = {
    "title",
    "inputs",
    "targets",
    "parameters",
    "loss",
    "constants",
    "definitions",
    "claims",
    "notes",
    "assume",
    "domains",
    "dimensions",
}
DEFAULT_MODEL = "logistic_regression"


@dataclass(frozen=True)
class Spec:
    """A derivation as the file states it: names, and expression text in file order."""

    title: str
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    parameters: tuple[str, ...]
    definitions: tuple[tuple[str, str], ...]
    loss: str
    constants: tuple[tuple[str, float], ...] = ()
    #: Vector and matrix constants (`cw = [1, 2, 5]`): each name, its sizes and its entries row by
    #: row; its axes (a dimension's name where one has its size) are in `shapes`.
    arrays: tuple[tuple[str, tuple[int, ...], tuple[float, ...]], ...] = ()
    claims: tuple[tuple[str, str], ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    assume: tuple[str, ...] = ()
    domains: tuple[tuple[str, Domain], ...] = ()
    #: Sizes from [dimensions], and the declared names with axes ("W", ("h", "n")), in file order.
    dimensions: tuple[tuple[str, int], ...] = ()
    shapes: tuple[tuple[str, tuple[Axis, ...]], ...] = ()
    source: str = "<spec>"
    lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)
    #: Where each definition's and claim's expression text begins in the file (line, column).
    starts: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, hash=False)
    #: For a file with a recurrence, how a claim given later reads its steps (h[T] as h3).
    steps: Steps | None = field(default=None, compare=False, hash=False, repr=False)

    def location(self, key: str) -> Location:
        """Where `key` (e.g. 'definitions.z') stands in the file, for error messages."""
        return Location(source=self.source, key=printable(key), line=self.lines.get(key))

    def locate(self, key: str, err: SymcalcError, text: str) -> SymcalcError:
        """`err`, found at a column of the expression `text` of `key`, placed at the file's line and
        column; without the column where the text is not in the file verbatim."""
        column = err.location.column
        start = self.starts.get(key)
        if column is None or start is None:
            located = type(err)(err.problem, Location(err.location.source), err.fix)
            return located.at(self.location(key))
        line, file_column = file_position(start, text, column)
        place = Location(source=self.source, key=printable(key), line=line, column=file_column)
        return type(err)(err.problem, place, err.fix)


def printable(key: str) -> str:
    """A key from a file as it can be shown on one line: control characters (a newline…) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in key)


def builtin_models() -> list[str]:
    """Names of the derivations shipped with the package (the files in derivations/)."""
    folder = resources.files("symcalc") / "derivations"
    return sorted(
        entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml")
    )


def resolve(target: str | Path | None) -> Path:
    """A file path for `target`: an existing path, a built-in model's name, or the seed if None."""
    if target is None:
        target = DEFAULT_MODEL
    path = Path(target)
    if path.exists() or path.suffix == ".toml" or "/" in str(target):
        return path
    builtin = resources.files("symcalc") / "derivations" / f"{target}.toml"
    if builtin.is_file():
        return Path(str(builtin))
    return path


#: What "-" read from standard input, kept: a second read (the CLI's parent, then its child) sees it too.
_STDIN: list[bytes] = []


def _stdin() -> bytes:
    if not _STDIN:
        _STDIN.append(sys.stdin.buffer.read(MAX_FILE_BYTES + 1))
    return _STDIN[0]


def read(target: str | Path | None = None) -> tuple[str, str]:
    """The text of a derivation file and the name to report it by ("-" is standard input, reported
    as <stdin>); SpecError if unreadable."""
    if str(target) == "-":
        return _decode(_stdin(), Location(source="<stdin>")), "<stdin>"
    path = resolve(target)
    source = str(target) if target is not None else f"{DEFAULT_MODEL} (built in)"
    where = Location(source=source)
    if not path.exists():
        models = builtin_models()
        known = f"built-in models: {', '.join(models)}"
        asked = Path(str(target)).name.removesuffix(".toml") if target is not None else ""
        raise SpecError("no such file", where, fix=suggestion(asked, models, known))
    if not path.is_file():
        raise SpecError("not a file", where)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(f"file is {size} bytes; the limit is {MAX_FILE_BYTES}", where)
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # a file in /proc may claim size 0 and be endless
    except OSError as err:
        raise SpecError(f"cannot read: {err.strerror}", where) from None
    return _decode(raw, where), source


def _decode(raw: bytes, where: Location) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError(f"file is over {MAX_FILE_BYTES} bytes; the limit is {MAX_FILE_BYTES}", where)
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark (Windows editors) is not TOML
    except UnicodeDecodeError:
        raise SpecError("not UTF-8 text", where) from None


def load(target: str | Path | None = None) -> Spec:
    """Read and check a derivation file (or a built-in model by name; the seed by default)."""
    return loads(*read(target))


def loads(text: str, source: str = "<string>") -> Spec:
    """Check a derivation given as TOML text; raise every problem found."""
    spec, problems = check(text, source)
    if problems:
        raise problems[0] if len(problems) == 1 else SpecErrors(problems)
    return spec


def with_constants(spec: Spec, values: Mapping[str, float]) -> Spec:
    """`spec` with some constants' values set (`--set lamda=0.5`): each must be a constant of the
    file, inside its domain if it has one; one line naming the setting otherwise."""
    defaults = dict(spec.constants)
    domains = dict(spec.domains)
    for name, value in values.items():
        where = Location(source=spec.source, key=f"--set {name}={value:g}")
        if name in {array for array, _, _ in spec.arrays}:
            raise SpecError(
                f"{name!r} is a vector or matrix constant; --set sets a number",
                where,
                fix=f"change {name} = [...] under [constants] in the file",
            )
        if name not in defaults:
            listed = ", ".join(defaults) or "none"
            fix = suggestion(name, defaults, f"the file's constants: {listed}")
            raise SpecError(f"{name!r} is not a constant of the model", where, fix)
        domain = domains.get(name)
        if domain is not None and value not in domain:
            raise SpecError(f"{value:g} lies outside the domain {domain.text} of {name!r}", where)
    constants = tuple((name, values.get(name, value)) for name, value in spec.constants)
    return replace(spec, constants=constants)


def check(
    text: str, source: str = "<string>", reserved: Collection[str] = ()
) -> tuple[Spec, list[SymcalcError]]:
    """The Spec and the problems found in it, so later checks can add theirs to the same report.

    `reserved` are names no declaration may take (the function table's).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"TOML syntax error: {err}", Location(source=source)) from None
    except RecursionError:
        raise SpecError("TOML is nested too deeply", Location(source=source)) from None
    lines = _key_lines(text)
    data, steps = unroll(data, lines, source)
    spec, problems = _Checker(data, source, lines, reserved, _value_starts(text, data, lines)).spec()
    return replace(spec, steps=steps), problems


def _key_lines(text: str) -> dict[str, int]:
    """Best-effort line numbers of 'table.key' entries, so errors can point at them."""
    lines: dict[str, int] = {}
    table = ""
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if line.startswith("[") and line.endswith("]") and not line.startswith("[["):
            table = line.strip("[]").strip()
            lines.setdefault(table, number)
        elif "=" in line and not line.startswith("#"):
            key = line.split("=", 1)[0].strip().strip('"').strip("'")
            lines.setdefault(f"{table}.{key}" if table else key, number)
    return lines


def _value_starts(text: str, data: dict[str, Any], at: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Where each expression's text begins in the file (line, column; 1-based), for the definitions
    and claims whose text stands there verbatim (no escapes): a column inside an expression is then
    a column of the file. `at` holds each key's line (`_key_lines`)."""
    lines = text.splitlines()
    starts: dict[str, tuple[int, int]] = {}
    for table in ("definitions", "claims"):
        entries = data.get(table)
        if not isinstance(entries, dict):
            continue
        for key, value in entries.items():
            number = at.get(f"{table}.{key}")
            if not isinstance(value, str) or number is None:
                continue
            start = _string_start(lines, number)
            if start is not None and _verbatim(lines, start, value):
                starts[f"{table}.{key}"] = start
    return starts


def _string_start(lines: list[str], number: int) -> tuple[int, int] | None:
    """The first character of the string value on line `number`: past its quote, or on the next line
    for a multi-line string opened at the end of the line (TOML drops that first newline)."""
    line = lines[number - 1]
    index = line.find("=") + 1
    while index < len(line) and line[index] in " \t":
        index += 1
    rest = line[index:]
    for quote in ('"""', "'''", '"', "'"):
        if rest.startswith(quote):
            opened = index + len(quote)
            if len(quote) == 3 and not line[opened:].strip():
                return (number + 1, 1) if number < len(lines) else None
            return number, opened + 1
    return None


def _verbatim(lines: list[str], start: tuple[int, int], value: str) -> bool:
    """Whether `value` stands in the file from `start` character for character."""
    number, column = start
    for offset, part in enumerate(value.split("\n")):
        if number + offset > len(lines):
            return False
        line = lines[number + offset - 1]
        first = column - 1 if offset == 0 else 0
        if line[first : first + len(part)] != part:
            return False
    return True


def file_position(start: tuple[int, int], value: str, column: int) -> tuple[int, int]:
    """The file's (line, column) of `column` (1-based) in an expression `value` that begins at `start`."""
    before = value[: column - 1]
    newlines = before.count("\n")
    if newlines:
        return start[0] + newlines, len(before) - before.rfind("\n")
    return start[0], start[1] + column - 1


class _Checker:
    """Validates the parsed TOML table, collecting every problem before raising."""

    def __init__(
        self,
        data: dict[str, Any],
        source: str,
        lines: dict[str, int],
        reserved: Collection[str],
        starts: dict[str, tuple[int, int]],
    ):
        self.data = data
        self.starts = starts
        self.reserved = reserved
        self.source = source
        self.lines = lines
        self.errors: list[SymcalcError] = []
        self.shapes: dict[str, tuple[str, tuple[Axis, ...]]] = {}  # name → (its list, its axes)
        self.arrays: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {}  # name → (sizes, entries)
        self.declared_axes: dict[str, tuple[str, tuple[Axis, ...]]] = {}  # "cw[k]": cw → (its key, ("k",))

    def error(self, key: str, problem: str, fix: str | None = None) -> None:
        where = Location(source=self.source, key=printable(key), line=self.lines.get(key))
        self.errors.append(SpecError(problem, where, fix))

    def spec(self) -> tuple[Spec, list[SymcalcError]]:
        misspelt = False
        for key in self.data:
            if key not in KNOWN_KEYS:
                known = "known: " + ", ".join(sorted(KNOWN_KEYS))
                self.error(key, f"unknown key {key!r}", fix=suggestion(key, KNOWN_KEYS, known))
                meant = nearest(key, KNOWN_KEYS)
                misspelt = misspelt or (meant is not None and meant not in self.data)
        if misspelt:
            # [definitons] stands for a missing [definitions]: every name it declares would be
            # "unknown" in what follows; the misspelling alone is the problem to report.
            raise self.errors[0] if len(self.errors) == 1 else SpecErrors(self.errors)
        title = self.string("title", required=False) or "Untitled derivation"
        lists = {key: self.name_list(key) for key in NAME_LISTS}
        constants = self.constants()
        definitions = self.table_of_strings("definitions", required=True, names_as_keys=True)
        claims = self.table_of_strings("claims", required=False, names_as_keys=False)
        notes = self.table_of_strings("notes", required=False, names_as_keys=False)
        assume = self.string_list("assume")
        declared = self.check_declarations(lists, (*constants, *self.arrays.items()), definitions)
        dimensions = self.dimensions(declared)
        self.array_axes(dimensions)
        loss = self.loss(definitions)
        domains = self.domains(lists, constants, definitions)
        for name, _ in notes:
            if name not in declared:
                self.error(f"notes.{name}", f"note about undeclared name {name!r}")
        spec = Spec(
            title=title,
            inputs=lists["inputs"],
            targets=lists["targets"],
            parameters=lists["parameters"],
            definitions=definitions,
            loss=loss,
            constants=constants,
            arrays=tuple((name, sizes, entries) for name, (sizes, entries) in self.arrays.items()),
            claims=claims,
            notes=notes,
            assume=assume,
            domains=domains,
            dimensions=dimensions,
            shapes=tuple((name, axes) for name, (_, axes) in self.shapes.items()),
            source=self.source,
            lines=self.lines,
            starts=self.starts,
        )
        return spec, self.errors

    def string(self, key: str, required: bool) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.error(key, "missing required key")
            return None
        if not isinstance(value, str):
            self.error(key, f"must be a string, not {type(value).__name__}")
            return None
        return value

    def name_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if key == "parameters" and key not in self.data:
            self.error(key, "missing required key", fix='e.g. parameters = ["w1", "b"]')
        if not isinstance(value, list):
            self.error(key, f"must be a list of names, not {type(value).__name__}")
            return ()
        if key == "parameters" and key in self.data and not value:
            self.error(key, "needs at least one parameter", fix='e.g. parameters = ["w1", "b"]')
        if len(value) > MAX_NAMES:
            self.error(key, f"has {len(value)} names; the limit is {MAX_NAMES}")
            return ()
        names: list[str] = []
        for item in value:
            axes: tuple[Axis, ...] = ()
            if isinstance(item, str):
                try:
                    item, axes = split_declaration(item)
                except SymcalcError as err:
                    self.error(key, err.problem, err.fix)
                    continue
            name = self.valid_name(key, item)
            if name is not None:
                names.append(name)
                if axes:
                    self.shapes[name] = (key, axes)
        return tuple(names)

    def dimensions(self, declared: set[str]) -> tuple[tuple[str, int], ...]:
        """The [dimensions] table (name = size), and every named axis of a declaration checked against it."""
        table = self.data.get("dimensions", {})
        if not isinstance(table, dict):
            self.error("dimensions", f"must be a table of name = size, not {type(table).__name__}")
            table = {}
        sizes: dict[str, int] = {}
        for name, value in table.items():
            key = f"dimensions.{name}"
            if self.valid_name(key, name) is None:
                continue
            if name in declared:
                self.error(key, f"{name!r} is declared as a name too; a dimension needs a name of its own")
                continue
            try:
                sizes[name] = check_size(name, value)
            except SymcalcError as err:
                self.error(key, err.problem, err.fix)
        for name, (key, axes) in self.shapes.items():
            for axis in axes:
                if isinstance(axis, str) and axis not in sizes and axis not in table:
                    self.error(
                        key,
                        f"dimension {axis!r} of {name!r} is not in [dimensions]",
                        fix=f"add [dimensions] with {axis} = its size",
                    )
        return tuple(sizes.items())

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(key, "must be a list of strings", fix='e.g. assume = ["y1 + y2 + y3 = 1"]')
            return ()
        return tuple(value)

    def valid_name(self, key: str, name: object) -> str | None:
        try:
            return check_name(name, self.reserved)
        except SymcalcError as err:
            self.error(key, err.problem, err.fix)
            return None

    def constants(self) -> tuple[tuple[str, float], ...]:
        table = self.data.get("constants", {})
        if not isinstance(table, dict):
            self.error("constants", "must be a table of name = number")
            return ()
        result: list[tuple[str, float]] = []
        for name, value in table.items():
            key = f"constants.{name}"
            axes: tuple[Axis, ...] = ()
            if isinstance(value, list) and "[" in name:  # "cw[k]" = [1, 2, 5]: its dimension declared
                try:
                    name, axes = split_declaration(name)
                except SymcalcError as err:
                    self.error(key, err.problem, err.fix)
                    continue
            if self.valid_name(key, name) is None:
                continue
            if isinstance(value, list):
                self.array(key, name, value)
                self.declared_axes[name] = (key, axes)
            elif isinstance(value, bool) or not isinstance(value, int | float):
                self.error(key, f"must be a number or a list of numbers, not {type(value).__name__}")
            elif not math.isfinite(float(value)) or abs(float(value)) > 1e300:
                self.error(key, f"must be a finite number, not {value!r}")
            else:
                result.append((name, float(value)))
        return tuple(result)

    def array(self, key: str, name: str, value: list[Any]) -> None:
        """A vector or matrix constant kept in `arrays`, or one line saying what is wrong with it."""
        try:
            self.arrays[name] = read_list(value)
        except SymcalcError as err:
            self.error(key, err.problem, err.fix)

    def array_axes(self, dimensions: tuple[tuple[str, int], ...]) -> None:
        """Each vector or matrix constant's axes (`constant_axes`); with a problem, its list's own sizes,
        so that the problem is reported and not another."""
        for name, (sizes, _) in self.arrays.items():
            key, declared = self.declared_axes[name]
            try:
                self.shapes[name] = (key, constant_axes(name, sizes, declared, dimensions))
            except SymcalcError as err:
                self.error(key, err.problem, err.fix)
                self.shapes[name] = (key, sizes)

    def table_of_strings(self, key: str, required: bool, names_as_keys: bool) -> tuple[tuple[str, str], ...]:
        table = self.data.get(key)
        if table is None:
            if required:
                self.error(key, "missing required table", fix=f'add [{key}] with name = "expression"')
            return ()
        if not isinstance(table, dict):
            self.error(key, f"must be a table, not {type(table).__name__}")
            return ()
        if required and not table:
            self.error(key, "is empty")
        if len(table) > MAX_NAMES:
            self.error(key, f"has {len(table)} entries; the limit is {MAX_NAMES}")
            return ()
        result: list[tuple[str, str]] = []
        for name, value in table.items():
            entry = f"{key}.{name}"
            if names_as_keys and self.valid_name(entry, name) is None:
                continue
            if not isinstance(value, str):
                self.error(entry, f"must be a string, not {type(value).__name__}")
                continue
            result.append((name, value))
        return tuple(result)

    def check_declarations(
        self,
        lists: dict[str, tuple[str, ...]],
        constants: tuple[tuple[str, object], ...],
        definitions: tuple[tuple[str, str], ...],
    ) -> set[str]:
        first_seen: dict[str, str] = {}
        groups = [(key, lists[key]) for key in NAME_LISTS]
        groups.append(("constants", tuple(name for name, _ in constants)))
        groups.append(("definitions", tuple(name for name, _ in definitions)))
        for group, names in groups:
            for name in names:
                if name in first_seen:
                    self.error(
                        f"{group}.{name}" if group in {"constants", "definitions"} else group,
                        f"name {name!r} is declared twice (also in {first_seen[name]})",
                    )
                else:
                    first_seen[name] = group
        return set(first_seen)

    def domains(
        self,
        lists: dict[str, tuple[str, ...]],
        constants: tuple[tuple[str, float], ...],
        definitions: tuple[tuple[str, str], ...],
    ) -> tuple[tuple[str, Domain], ...]:
        """The [domains] table: each key an independent name, each value a set or interval it lies in."""
        table = self.data.get("domains", {})
        if not isinstance(table, dict):
            self.error("domains", f'must be a table of name = "domain", not {type(table).__name__}')
            return ()
        independent = {name for key in NAME_LISTS for name in lists[key]} | {n for n, _ in constants}
        defined = {name for name, _ in definitions}
        defaults = dict(constants)
        result: list[tuple[str, Domain]] = []
        for name, value in table.items():
            key = f"domains.{name}"
            if name in defined:
                self.error(key, f"{name!r} is a definition; only independent names have domains")
            elif name in self.arrays:
                self.error(key, f"{name!r} is a vector or matrix constant: its numbers are fixed")
            elif name not in independent:
                self.error(key, f"domain of undeclared name {name!r}")
            elif not isinstance(value, str):
                self.error(
                    key, f'must be a string such as "{{0, 1}}" or "(0, inf)", not {type(value).__name__}'
                )
            else:
                domain = self.domain(key, value)
                if domain is not None and name in defaults and defaults[name] not in domain:
                    self.error(
                        key, f"the default {defaults[name]:g} of constant {name!r} lies outside {domain.text}"
                    )
                elif domain is not None:
                    result.append((name, domain))
        return tuple(result)

    def domain(self, key: str, text: str) -> Domain | None:
        try:
            return parse_domain(text)
        except DomainError as err:
            self.error(key, str(err))
            return None

    def loss(self, definitions: tuple[tuple[str, str], ...]) -> str:
        defined = [name for name, _ in definitions]
        loss = self.string("loss", required=False)
        if loss is None:
            return defined[-1] if defined else ""
        if loss not in defined:
            self.error("loss", f"loss {loss!r} is not one of the definitions")
        return loss
