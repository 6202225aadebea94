"""The CSV reader: a file streamed into float64 columns, one clear `DataError` per problem, in a bounded
amount of memory.

The file is read twice, block by block, never whole. The first pass checks what concerns the whole
file (its size, that it is not blank, UTF-16 or binary, that it is UTF-8 throughout) and counts its
line breaks, which bound its rows. The second parses it into columns allocated once for that bound
(pages that no row reaches are never touched): 8 bytes per value and 4 per row for the line it came
from. A value takes at least two bytes of the file (a digit and a comma or line break), so the
columns take at most 6 bytes per byte of file (one column of one-digit values; 31 columns of
ten-character numbers take 0.8); besides them, the reader holds one block of complete lines at a time
(`BLOCK_BYTES`, plus a line of at most `MAX_ROW_BYTES`) and the arrays that parse it (at most about
25 bytes per byte of block, `symcalc.numeric.decimals`).

A block without quotes, with every line its fields, is parsed by NumPy operations on its bytes
(`decimals.columns`: plain decimals in bulk, bit for bit what `float` gives, any other cell by `float`
after the same checks); any block where that does not hold is read again row by row by Python's csv
module, which words each problem, as is every block from the first with a quote on (a quoted cell may
hold a line break). Either way the rules are those of `symcalc.numeric.data`: ASCII decimal numbers
only, finite, |value| ≤ `MAX_ABS_VALUE`, blank lines skipped, errors naming the file, the line and the
column.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from symcalc.errors import DataError, Location
from symcalc.numeric import decimals
from symcalc.numeric.decimals import NUMBER as NUMBER  # the rule for a cell; numeric.partitions reads it
from symcalc.spec.names import suggestion

Array = np.ndarray[Any, np.dtype[np.float64]]
Lines = np.ndarray[Any, np.dtype[np.int32]]

MAX_ABS_VALUE = 1e150
MAX_CSV_BYTES = 256 * 1024**2  # the cap on a file, whose columns are held in memory to train
BLOCK_BYTES = 1024**2  # read and parsed at a time
MAX_ROW_BYTES = 4 * 1024**2  # one row: a line, or the lines of a record with a quoted line break

_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_UTF16 = (b"\xff\xfe", b"\xfe\xff")
_BOM = codecs.BOM_UTF8


def quoted(text: str, limit: int = 40) -> str:
    """A cell or header as it appears in a message: repr-quoted (control characters escaped), capped."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    return repr(shown)


def names_of(names: Iterable[str]) -> str:
    return ", ".join(names) or "(none)"


#: A file's header is listed in a message up to this many columns (a table of 31 read as a wall).
LISTED_COLUMNS = 12


def missing_columns(
    missing: Sequence[str], needed: Sequence[str], names: Sequence[str], mapping: Mapping[str, str]
) -> tuple[str, str]:
    """The problem and fix for columns a model needs that a file lacks: --columns, with the file's
    near matches filled in (x1 for a header 'x 1' or 'X1') when it has them."""
    plural = "s" if len(missing) > 1 else ""
    listed = [quoted(n) for n in names[:LISTED_COLUMNS]]
    if len(names) > LISTED_COLUMNS:
        listed.append(f"… ({len(names)} in all)")
    problem = (
        f"no column{plural} {', '.join(quoted(n) for n in missing)}: the model needs {names_of(needed)}; "
        f"the file has {names_of(listed)}"
    )
    unused = [n for n in names if n not in needed and n not in mapping.values()]
    near = _near_columns(missing, unused)
    if near:
        pairs = ",".join(f"{name}={column}" for name, column in near.items())
        return problem, f"did you mean --columns {_shell_quoted(pairs)}?"
    example = f"{missing[0]}={unused[0]}" if unused else f"{missing[0]}=COLUMN"
    return (
        problem,
        "name the file's column for each with --columns NAME=COLUMN[,...], "
        f"e.g. --columns {_shell_quoted(example)}",
    )


def _near_columns(missing: Sequence[str], headers: Sequence[str]) -> dict[str, str]:
    """For each missing name, the header it most likely is: the same but for case, spaces, '_' and '-'
    ('x 1', 'X_1' for x1), else a close spelling; each header used once."""
    import difflib

    def bare(text: str) -> str:
        return re.sub(r"[\s_\-]+", "", text).lower()

    found: dict[str, str] = {}
    left = list(headers)
    for name in missing:
        same = [h for h in left if bare(h) == bare(name)]
        close = same or difflib.get_close_matches(name, left, n=1, cutoff=0.75)
        if close:
            found[name] = close[0]
            left.remove(close[0])
    return found


def _shell_quoted(text: str) -> str:
    return text if re.fullmatch(r"[\w=,.\-]+", text) else "'" + text.replace("'", "'\\''") + "'"


#: A cell's problems, each with its fix, as every reader of data words them (CSV here, Parquet and
#: dataframe partitions in `numeric.partitions`).
EMPTY_CELL = ("empty cell", "every row needs a value in every column the model uses")


def not_finite(text: str) -> tuple[str, str]:
    return f"{quoted(text)} is not a finite number", "remove or fill in the row"


def too_large(text: str) -> tuple[str, str]:
    problem = f"{text} is too large: beyond {MAX_ABS_VALUE:g}, z and the gradient overflow float64"
    return problem, "standardise the column"


def not_a_class(name: str, count: int, value: float) -> tuple[str, str]:
    """A target declared name[count] read from one column of class numbers, and a value that is not one."""
    problem = (
        f"{value:g} is not a class number: {name} is declared {name}[{count}] and read from one column, "
        f"so each value must be one of 0 … {count - 1}"
    )
    return problem, f"classes 0 … {count - 1}, or one-hot columns {name}1 … {name}{count}"


def error(
    source: str, problem: str, line: int | None = None, column: str | None = None, fix: str | None = None
) -> DataError:
    key = f"column {quoted(column)}" if column is not None else None
    return DataError(problem, Location(source=source, line=line, key=key), fix)


# -- the first pass: the whole file ---------------------------------------------------------------


@dataclass(frozen=True)
class Survey:
    """What the first pass found: the file's size in bytes and its line breaks (a bound on its rows)."""

    size: int
    breaks: int


def survey(handle: BinaryIO, source: str) -> Survey:
    """Check the file as a whole, block by block: at most `MAX_CSV_BYTES`, not blank, not UTF-16, no NUL
    byte near its start, UTF-8 throughout (the first bad byte's line named); in that order of priority."""
    size = breaks = newlines = 0
    blank = True
    start = b""
    decoder = codecs.getincrementaldecoder("utf-8")()
    bad: tuple[int, bytes] | None = None

    def where(err: UnicodeDecodeError) -> tuple[int, bytes]:
        # the decoder's object is what it held back (a sequence cut by the block, no line break) + the block
        return newlines + err.object.count(b"\n", 0, err.start) + 1, err.object[err.start : err.start + 1]

    while block := handle.read(BLOCK_BYTES):
        size += len(block)
        if size > MAX_CSV_BYTES:  # never read further, whatever the file's size claims
            raise error(
                source,
                f"is larger than {MAX_CSV_BYTES // 1024**2} MiB",
                fix="train on a sample, or call symcalc.compile_model from Python",
            )
        if len(start) < 65536:
            start += block[: 65536 - len(start)]
        blank = blank and not block.strip()
        if bad is None:
            try:
                decoder.decode(block)
            except UnicodeDecodeError as err:
                bad = where(err)
        newlines += block.count(b"\n")
        breaks += block.count(b"\n") + block.count(b"\r")
    if bad is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as err:
            bad = where(err)
    if blank:
        raise error(
            source,
            "the file is empty",
            fix="a CSV needs a header line naming the columns, then one row per sample",
        )
    if start.startswith(_UTF16):
        raise error(source, "is UTF-16 text", fix="save the file as UTF-8")
    if start.startswith(b"PAR1"):  # Parquet's magic number: its files start and end with it
        raise error(
            source, "is Parquet, not CSV: Parquet needs --dask", fix="pip install symcalc-gradients[dask]"
        )
    if b"\x00" in start:
        raise error(source, "is a binary file, not CSV text (it contains NUL bytes)")
    if bad is not None:
        line, byte = bad
        raise error(source, f"not UTF-8 text (byte 0x{byte.hex()})", line=line, fix="save the file as UTF-8")
    return Survey(size, breaks)


# -- the header ---------------------------------------------------------------------------------------


def header_index(
    row: list[str], source: str, needed: Sequence[str], mapping: Mapping[str, str]
) -> dict[str, int]:
    """The field of each needed name: its own column, or the one --columns maps to it."""
    names = [field.strip() for field in row]
    for separator, called in ((";", "';'"), ("\t", "tabs")):
        if len(names) == 1 and separator in names[0]:
            raise error(
                source,
                f"the columns are separated by {called}, not ','",
                line=1,
                fix="save the file with ',' between columns",
            )
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in index:
            raise error(
                source,
                f"column {quoted(name)} appears twice (fields {index[name] + 1} and {position + 1})",
                line=1,
                fix="rename or remove one of them",
            )
        index[name] = position
    for name, column in mapping.items():
        if column not in index:
            fix = suggestion(column, names, f"the file's columns: {names_of(quoted(n) for n in names)}")
            where = Location(source=source, line=1, key=f"--columns {name}={column}")
            raise DataError(f"the file has no column {quoted(column)}", where, fix)
    wanted = {name: mapping.get(name, name) for name in needed}
    missing = [n for n in needed if wanted[n] not in index]
    if missing:
        problem, fix = missing_columns([wanted[n] for n in missing], needed, names, mapping)
        raise error(source, problem, line=1, fix=fix)
    readers: dict[str, str] = {}
    for name, column in wanted.items():
        if column in readers:
            unmapped = readers[column] if name in mapping else name
            raise error(
                source,
                f"column {quoted(column)} would be read for both {readers[column]!r} and {name!r}",
                line=1,
                fix=f"map {unmapped!r} to another column with --columns too",
            )
        readers[column] = name
    return {name: index[column] for name, column in wanted.items()}


def _blank_header(header: list[str] | None, source: str) -> DataError | None:
    if header is not None and any(field.strip() for field in header):
        return None
    return error(
        source,
        "the file is empty" if header is None else "the first line is blank",
        line=None if header is None else 1,
        fix="a CSV needs a header line naming the columns, then one row per sample",
    )


# -- one cell, as the row-by-row reading words its problems -----------------------------------------


def number(cell: str, source: str, line: int, column: str) -> float:
    text = cell.strip()
    problem: tuple[str, str | None] | None = None
    if not text:
        problem = EMPTY_CELL
    elif _NON_FINITE.fullmatch(text):
        problem = not_finite(text)
    elif not NUMBER.fullmatch(text):
        fix = "write decimals with '.', not ','" if _DECIMAL_COMMA.fullmatch(text) else None
        problem = f"{quoted(text)} is not a number", fix
    elif not np.isfinite(value := float(text)) or abs(value) > MAX_ABS_VALUE:
        problem = too_large(text)
    if problem is not None:
        raise error(source, problem[0], line=line, column=column, fix=problem[1])
    return value


# -- the second pass: rows into columns ---------------------------------------------------------------


class _LongRow(Exception):
    """A row past `MAX_ROW_BYTES`; the reader names its line."""


def _blocks(handle: BinaryIO, size: int) -> Iterator[bytes]:
    """The file from where `handle` is, in blocks of whole lines (the last may end without a line
    break), never past `size` bytes in all (the file may have grown since it was surveyed)."""
    pending = b""
    left = size - handle.tell()
    while left > 0:
        block = handle.read(min(BLOCK_BYTES, left))
        if not block:
            break
        left -= len(block)
        data = pending + block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) > MAX_ROW_BYTES:
                raise _LongRow
            pending = data
            continue
        pending = data[cut:]
        yield data[:cut]
    if len(pending) > MAX_ROW_BYTES:
        raise _LongRow
    if pending:
        yield pending


class _Columns:
    """The needed columns and each row's line, filled row by row into arrays allocated once."""

    def __init__(self, needed: Sequence[str], capacity: int):
        self.values = {name: np.empty(capacity, dtype=np.float64) for name in needed}
        self.lines: Lines = np.empty(capacity, dtype=np.int32)
        self.count = 0

    def add(self, columns: Mapping[str, Array], lines: Lines) -> None:
        end = self.count + len(lines)
        for name, values in columns.items():
            self.values[name][self.count : end] = values
        self.lines[self.count : end] = lines
        self.count = end

    def finished(self) -> tuple[dict[str, Array], Lines]:
        """The columns, cut to the rows read (in place: the pages past them were never touched)."""
        for values in self.values.values():
            values.resize(self.count, refcheck=False)
        self.lines.resize(self.count, refcheck=False)
        return self.values, self.lines


@dataclass
class _Parse:
    """Reading one file's rows into `_Columns`: `line` is the line the next block starts at."""

    source: str
    needed: Sequence[str]
    mapping: Mapping[str, str]
    index: dict[str, int]
    fields: int
    out: _Columns
    line: int = 2

    def fast(self, block: bytes) -> bool:
        """The block's rows by columns of bytes, when it has no quote, no NUL, no lone carriage return,
        no line longer than a csv field may be, every line its fields, and every needed cell a number
        in range; False (nothing read) otherwise."""
        if b'"' in block or b"\x00" in block:
            return False
        if b"\r" in block:
            if block.count(b"\r") != block.count(b"\r\n"):
                return False  # a lone carriage return ends a line for the csv module
            block = block.replace(b"\r\n", b"\n")
        if not block.endswith(b"\n"):
            block += b"\n"
        wanted = [self.index[name] for name in self.needed]
        found = decimals.columns(block, self.fields, wanted, MAX_ABS_VALUE, csv.field_size_limit())
        if found is None:
            return False  # a blank line, a row of the wrong length, a cell not a number: row by row
        rows = len(found[0]) if found else block.count(b"\n")  # no column wanted: rows all the same
        columns = dict(zip(self.needed, found, strict=True))
        self.out.add(columns, np.arange(self.line, self.line + rows, dtype=np.int32))
        self.line += rows
        return True

    def rows(self, lines: Iterator[str], counted: list[int]) -> None:
        """Rows by Python's csv module, cell by cell, each problem worded: from `lines` (decoded),
        whose reading counts the characters of the current row in `counted[0]`."""
        reader = csv.reader(lines, strict=True)
        base = self.line - 1
        values: dict[str, list[float]] = {name: [] for name in self.needed}
        found: list[int] = []
        try:
            for row in reader:
                counted[0] = 0
                if not any(field.strip() for field in row):
                    continue  # blank lines (a trailing newline, say) are not samples
                line = base + reader.line_num
                if len(row) != self.fields:
                    raise error(
                        self.source, f"{len(row)} fields, but the header has {self.fields}", line=line
                    )
                for name in self.needed:
                    cell = row[self.index[name]]
                    values[name].append(number(cell, self.source, line, self.mapping.get(name, name)))
                found.append(line)
                if len(found) >= 65536:
                    self._flush(values, found)
        except csv.Error as err:
            raise error(self.source, f"not valid CSV ({err})", line=base + reader.line_num) from None
        except _LongRow:
            raise self.long_row(base + reader.line_num + 1) from None
        self._flush(values, found)
        self.line = base + reader.line_num + 1

    def _flush(self, values: dict[str, list[float]], found: list[int]) -> None:
        self.out.add({n: np.array(v, dtype=np.float64) for n, v in values.items()}, np.array(found, np.int32))
        for column in values.values():
            column.clear()
        found.clear()

    def long_row(self, line: int) -> DataError:
        return error(
            self.source,
            f"the row is longer than {MAX_ROW_BYTES // 1024**2} MiB",
            line=line,
            fix="a row holds one sample: check the file's line breaks and quotes",
        )


def _decoded(blocks: Iterator[bytes], counted: list[int]) -> Iterator[str]:
    """The lines of `blocks` as the csv module reads them (a lone carriage return ends a line too),
    counting each row's characters: a record whose quoted cells go on past `MAX_ROW_BYTES` stops."""
    for block in blocks:
        for line in io.StringIO(block.decode("utf-8"), newline=""):
            counted[0] += len(line)
            if counted[0] > MAX_ROW_BYTES:
                raise _LongRow
            yield line


def read_columns(
    handle: BinaryIO, source: str, needed: Sequence[str], mapping: Mapping[str, str]
) -> tuple[dict[str, Array], Lines]:
    """The `needed` columns of the CSV file open as `handle` by header name (or the column `mapping`
    names for one), with the file line of each row: checked, then read in blocks (see the module)."""
    checked = survey(handle, source)
    handle.seek(0)
    if handle.read(len(_BOM)) != _BOM:  # a byte-order mark before the header is accepted and dropped
        handle.seek(0)
    blocks = _blocks(handle, checked.size)
    counted = [0]
    try:
        first = next(blocks, b"")
    except _LongRow:
        raise error(source, f"the row is longer than {MAX_ROW_BYTES // 1024**2} MiB", line=1) from None
    head = next(iter(io.StringIO(first.decode("utf-8"), newline="")), "")
    header: list[str] | None = None
    streamed = False
    try:
        header = next(csv.reader([head], strict=True), None) if head else None
    except csv.Error:  # a quoted line break in the header, say: read row by row from the start
        streamed = True
    if streamed:
        lines = _decoded(_chain(first, blocks), counted)
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as err:
            raise error(source, f"not valid CSV ({err})", line=reader.line_num) from None
    blank = _blank_header(header, source)
    if blank is not None:
        raise blank
    assert header is not None
    index = header_index(header, source, needed, mapping)
    parse = _Parse(source, needed, mapping, index, len(header), _Columns(needed, checked.breaks + 1))
    if streamed:
        parse.line = reader.line_num + 1
        counted[0] = 0
        parse.rows(lines, counted)
    else:
        rest = first[len(head.encode("utf-8")) :]
        _parse_blocks(parse, _chain(rest, blocks) if rest else blocks, counted)
    columns, lines_of_rows = parse.out.finished()
    if not len(lines_of_rows):
        raise error(source, "has a header but no data rows")
    return columns, lines_of_rows


def _parse_blocks(parse: _Parse, blocks: Iterator[bytes], counted: list[int]) -> None:
    """Each block by bytes where it can be, else row by row; from the first block with a quote on,
    every block row by row (a quoted cell may run on into the next block)."""
    try:
        for block in blocks:
            if parse.fast(block):
                continue
            if b'"' in block:
                parse.rows(_decoded(_chain(block, blocks), counted), counted)
                return
            parse.rows(_decoded(iter([block]), counted), counted)
    except _LongRow:
        raise parse.long_row(parse.line) from None


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
