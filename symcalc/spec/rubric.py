"""A grading rubric (TOML) → `Rubric`: points per required result, read as strictly as a model file.

```toml
every_step = 1            # optional: points when every = of a submission holds

[[result]]
name = "dL/dz reaches a - y"
derivative = "dL/dz"
equals = "a - y"
points = 2
```

Everything here is still text: whether `derivative` names the model's names and whether the result
is true of the model is checked against the model (`symcalc.check.grading`). Every problem in the
file is reported, each as one line naming the file and the key.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from typing import Any

from symcalc.errors import Location, SpecError, SpecErrors, SymcalcError

MAX_RUBRIC_BYTES = 100_000
MAX_RESULTS = 100
MAX_POINTS = 1_000_000.0
_RESULT_KEYS = {"name", "derivative", "equals", "points"}
_TOP_KEYS = {"every_step", "result"}


@dataclass(frozen=True)
class Required:
    """One required result: `derivative` (dA/dB) reached as `equals`, worth `points`."""

    name: str
    derivative: str
    equals: str
    points: float
    key: str  # where it is in the file: result[1]


@dataclass(frozen=True)
class Rubric:
    source: str
    results: tuple[Required, ...] = ()
    #: Points for a submission whose every = holds.
    every_step: float = 0.0

    @property
    def max_score(self) -> float:
        return self.every_step + sum(r.points for r in self.results)


#: Without a rubric: one point when every = holds.
DEFAULT_RUBRIC = Rubric(source="", every_step=1.0)


def read_rubric(path: str) -> Rubric:
    """The rubric at `path`; SpecError or SpecErrors (one line each, naming the file and key)."""
    where = Location(source=path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_RUBRIC_BYTES + 1)
    except OSError as err:
        raise SpecError(f"cannot read it: {err.strerror or err}", where) from None
    if len(raw) > MAX_RUBRIC_BYTES:
        raise SpecError(f"more than {MAX_RUBRIC_BYTES} bytes", where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(f"not UTF-8 text (byte {err.start + 1})", where) from None
    return loads_rubric(text, path)


def loads_rubric(text: str, source: str) -> Rubric:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"TOML syntax error: {err}", Location(source)) from None
    except RecursionError:
        raise SpecError("TOML is nested too deeply", Location(source)) from None
    errors: list[SymcalcError] = []

    def error(key: str, problem: str, fix: str | None = None) -> None:
        errors.append(SpecError(problem, Location(source, key=key), fix))

    for key in sorted(set(data) - _TOP_KEYS):
        error(key, "unknown key", fix="a rubric has every_step and [[result]] tables")
    every_step = _points(data.get("every_step", 0.0), "every_step", error, zero=True)
    listed = data.get("result", [])
    if not isinstance(listed, list) or not all(isinstance(entry, dict) for entry in listed):
        error("result", "must be [[result]] tables", fix='[[result]] name = "…" derivative = "dL/dz" …')
        listed = []
    if len(listed) > MAX_RESULTS:
        error("result", f"{len(listed)} results, more than {MAX_RESULTS}")
        listed = []
    results = []
    names: set[str] = set()
    for number, entry in enumerate(listed, 1):
        key = f"result[{number}]"
        for extra in sorted(set(entry) - _RESULT_KEYS):
            error(f"{key}.{extra}", "unknown key", fix="a result has name, derivative, equals and points")
        texts = {}
        for field in ("name", "derivative", "equals"):
            value = entry.get(field)
            if not isinstance(value, str) or not value.strip():
                error(f"{key}.{field}", "missing" if value is None else "must be a string that is not empty")
            else:
                texts[field] = value.strip()
        points = _points(entry.get("points"), f"{key}.points", error, zero=False)
        if texts.get("name") in names:
            error(f"{key}.name", f"{texts['name']!r} names another result too")
        names.add(texts.get("name", ""))
        if len(texts) == 3 and points is not None:
            results.append(Required(texts["name"], texts["derivative"], texts["equals"], points, key))
    if not results and every_step == 0 and not errors:
        error("result", "no points to give", fix="add [[result]] tables, or every_step = 1")
    if errors:
        raise errors[0] if len(errors) == 1 else SpecErrors(errors)
    return Rubric(source, tuple(results), every_step or 0.0)


def _points(value: Any, key: str, error: Any, *, zero: bool) -> float | None:
    if value is None:
        error(key, "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        error(key, f"must be a number of points, not {type(value).__name__}")
        return None
    least = "0 or more" if zero else "above 0"
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero) or value > MAX_POINTS:
        error(key, f"must be a number of points {least} and at most {MAX_POINTS:g}, not {value}")
        return None
    return float(value)
