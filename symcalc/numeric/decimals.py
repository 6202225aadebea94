"""Plain decimal cells parsed in bulk: a block of CSV lines into float64 columns by NumPy operations on
its bytes, bit for bit the floats Python's `float` gives.

A plain decimal is an optional sign, then digits with at most one '.' among them: at least one digit,
at most 18 bytes in all, no exponent, no space. Its digits, read as one integer M (exact in int64), and
10**f (f digits after the point) are exact float64s when M < 2**53, and their quotient, rounded once by
IEEE division, is the correctly rounded value of the decimal: what `float` returns (Clinger's fast
path). Any other cell of a wanted field (an exponent, space around it, more digits) is read alone by
`float` after the reader's own check (`NUMBER`, finite, within the limit); a cell failing it leaves the
whole block to the row-by-row reading, which words the problem.

Memory: besides the block, its copy and a few arrays of its cells (8 bytes each), at most about 25
bytes per byte of block while it is parsed (the densest, one-digit cells: 21), freed before the next.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float64]]
Ints = np.ndarray[Any, np.dtype[np.int64]]
Bools = np.ndarray[Any, np.dtype[np.bool_]]
Bytes = np.ndarray[Any, np.dtype[np.uint8]]

#: The reader's rule for a cell. ASCII digits only: \d and float() would also take '３' (fullwidth) or
#: '٣' (Arabic-Indic) for 3, and float() '1_0' for 10.
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
NUMBER_BYTES = re.compile(NUMBER.pattern.encode())
_ASCII_SPACE = b" \t\r\n\x0b\x0c"

_OTHER, _DIGIT, _POINT, _SIGN = 0, 1, 2, 3
_CLASS = np.zeros(256, dtype=np.uint8)
_CLASS[ord("0") : ord("9") + 1] = _DIGIT
_CLASS[ord(".")] = _POINT
_CLASS[ord("+")] = _CLASS[ord("-")] = _SIGN
_MAX_DIGITS = 18  # M < 10**18 fits an int64
_WIDTH = _MAX_DIGITS + 1  # the widest cell read here: a sign or a point and 18 digits
_POW10 = 10 ** np.arange(_WIDTH, dtype=np.int64)  # 10**18 is int64's last
_POW10_FLOAT = _POW10.astype(np.float64)  # each exact (up to 10**22 is)
_EXACT = 2**53


def columns(
    block: bytes, fields: int, wanted: Sequence[int], limit: float, longest: int
) -> list[Array] | None:
    """The cells of the fields `wanted` (0-based) of every line of `block` as float64 columns; None when
    a line has not `fields` fields or is longer than `longest` bytes (its line break included), or a
    wanted cell is not a number in [-`limit`, `limit`] by the reader's rule (nothing is worded here).

    `block` is whole lines, each ending in b'\\n', with no quote and no carriage return."""
    padded = np.empty(_WIDTH + len(block), dtype=np.uint8)  # room for a window before the first cell
    padded[:_WIDTH] = ord("0")
    buffer = padded[_WIDTH:]
    buffer[:] = np.frombuffer(block, dtype=np.uint8)
    counts = np.bincount(buffer, minlength=256)
    ends = np.flatnonzero((buffer == ord(",")) | (buffer == ord("\n")))
    rows = len(ends) // fields  # cell k = row * fields + field is block[ends[k - 1] + 1 : ends[k]]
    lines = ends[fields - 1 :: fields]
    if rows != counts[ord("\n")] or len(ends) != rows * fields or np.any(buffer[lines] != ord("\n")):
        return None  # a line without `fields` - 1 commas (every fields-th separator ends a line)
    if np.max(np.diff(lines, prepend=-1)) > longest:
        return None
    if not wanted:
        return []
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    if list(wanted) != list(range(fields)):
        ends = ends.reshape(rows, fields)[:, wanted].ravel()
        starts = starts.reshape(rows, fields)[:, wanted].ravel()
    # what the block holds besides digits: the checks for what it has not are left out
    other = int(counts[_CLASS == _OTHER].sum()) > int(counts[ord(",")] + counts[ord("\n")])
    point = bool(counts[ord(".")])
    sign = bool(counts[ord("+")] + counts[ord("-")])
    values, regular = _plain(padded, starts, ends, other=other, point=point, sign=sign)
    for k in np.flatnonzero(~regular).tolist():
        value = _single(block[int(starts[k]) : int(ends[k])], limit)
        if value is None:
            return None
        values[k] = value
    table = values.reshape(rows, len(wanted))
    return [table[:, j].copy() for j in range(len(wanted))]


def _plain(
    padded: Bytes, start: Ints, end: Ints, *, other: bool, point: bool, sign: bool
) -> tuple[Array, Bools]:
    """The value of each cell `padded[_WIDTH:][start:end]`, and whether it is a plain decimal (see the
    module): where not, its value is meaningless. Each cell is cut from a window of the bytes before its
    end as wide as the widest cell (at most `_WIDTH`), the bytes before its start set to '0'. `other`,
    `point` and `sign`: whether any cell may hold a byte of that kind (another than a digit, '.',
    '+' or '-'); where not, nothing looks for one."""
    length = end - start
    width = int(min(_WIDTH, max(1, int(length.max()))))
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    text = windows[end + (_WIDTH - width)]  # row i: the `width` bytes before cell i's end
    del windows
    if width > 1:
        first = width - np.minimum(length, width)  # the column of each cell's first byte
        text[np.arange(width) < first[:, None]] = ord("0")
        del first
    digits = length
    regular = (length <= width) & (length >= 1)
    if other:
        regular &= ~(_CLASS[text] == _OTHER).any(axis=1)
    if sign:
        lead = padded[start + _WIDTH]  # each cell's first byte (its separator if it is empty)
        signed = (lead == ord("+")) | (lead == ord("-"))
        signs = ((text == ord("+")) | (text == ord("-"))).sum(axis=1, dtype=np.int32)
        regular &= signs == signed  # one sign at most, the first byte
        digits = digits - signed
        del signs
    if point:
        points = text == ord(".")
        count = points.sum(axis=1, dtype=np.int32)
        regular &= count <= 1
        digits = digits - count
        has_point = count == 1
        after = np.where(has_point, width - 1 - points.argmax(axis=1), 0)  # f: the digits after the point
        del points, count
    regular &= (digits >= 1) & (digits <= _MAX_DIGITS)
    del digits
    digit = text - np.uint8(ord("0"))
    del text
    if point or sign or other:
        digit[digit > 9] = 0  # the sign and the point weigh nothing
    # the digits as one integer (the point's place is a 0)
    whole = digit.astype(np.int64) @ _POW10[width - 1 :: -1] if width > 1 else digit[:, 0].astype(np.int64)
    del digit
    if point:
        tail = whole % _POW10[after]
        # the digits before the point stood one place too far left
        whole = np.where(has_point, (whole - tail) // 10 + tail, whole)
        del tail
    if width > 15:  # below, fewer than 16 digits are below 2**53
        regular &= whole < _EXACT
    values = whole.astype(np.float64)
    del whole
    if point:
        values /= _POW10_FLOAT[after]
    if sign:
        np.negative(values, out=values, where=lead == ord("-"))
    return values, regular


def _single(raw: bytes, limit: float) -> float | None:
    """One cell that is not a plain decimal: its value when it is a number by the reader's rule."""
    text = raw.strip(_ASCII_SPACE)
    if not NUMBER_BYTES.fullmatch(text):
        return None
    value = float(text)
    if not abs(value) <= limit:  # inf from an exponent too
        return None
    return value
