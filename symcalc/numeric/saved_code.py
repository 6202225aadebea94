"""The part of the per-sample `codegen` module (a model of scalars) that reads what `symcalc train
--save` wrote: `load_parameters`, `load_constants` and `standardize`. The batch modules copy theirs
from `symcalc.numeric.runtime`, as its source spells them; this template goes with the per-sample
module.

The saved file is JSON (`symcalc.render.training.saved_dict`): the parameters by name, a vector's
as a list and a matrix's as a list of rows; the constants of the run; and, with --standardize,
each input's mean and scale, nested alike. A module of scalars (`PARAMETERS` a tuple of names)
reads a vector's list as its entries w1 … wn, as `train` names them; a module of arrays
(`PARAMETERS` a dict of shapes) reads it as one array, whose sizes must agree with the other
parameters' along each named dimension. Any other mismatch is a ValueError naming the file and
the parameter: a file of another model, or of other sizes, is never half-read. The code imports
json and the module's array library only (not even math).
"""

from __future__ import annotations

from symcalc.numeric.runtime import FORMAT as FORMAT  # for render.training, which writes them
from symcalc.numeric.runtime import SAVED_BY as SAVED_BY

_COMMON = '''

def _saved(path):
    """The file that `symcalc train --save` wrote at `path`, as a dict; ValueError for any other file."""
    with open(path, encoding="utf-8") as handle:
        try:
            saved = json.load(handle)
        except ValueError as err:
            raise ValueError(f"{path}: not JSON ({err})") from None
        except RecursionError:
            raise ValueError(f"{path}: nested too deeply to be a saved run") from None
    if not isinstance(saved, dict) or saved.get("saved_by") != __SAVED_BY__:
        raise ValueError(f"{path}: not a file that symcalc train --save wrote")
    if saved.get("format") != __FORMAT__:
        raise ValueError(f"{path}: format {saved.get('format')!r}; this module reads format __FORMAT__")
    return saved


def _section(saved, path, key):
    values = saved.get(key)
    if isinstance(values, dict):
        return values
    raise ValueError(f"{path}: no {key!r} table")


def _same_names(values, names, path, what):
    """ValueError unless `values` has exactly `names`: the first missing or foreign one is named."""
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"{path}: no value for {what} {missing[0]!r} (this module's: {', '.join(names)})")
    foreign = [name for name in values if name not in names]
    if foreign:
        raise ValueError(
            f"{path}: {foreign[0]!r} is not a {what} of this module's model (its {what}s: {', '.join(names)})"
        )


def _shape(value, path, what, name, depth=0):
    """The shape of a saved number or list of numbers, or of rows of them; ValueError unless every
    entry is a float64 number (finite, not beyond 1.8e308) and the rows are alike."""
    if isinstance(value, list):
        if depth == 2:
            raise ValueError(f"{path}: {what} {name!r} is nested deeper than a matrix")
        shapes = [_shape(entry, path, what, name, depth + 1) for entry in value]
        if not value or any(shape != shapes[0] for shape in shapes):
            raise ValueError(f"{path}: {what} {name!r} is not an array: its rows differ or are empty")
        return (len(value), *shapes[0])
    if isinstance(value, bool) or not isinstance(value, (int, float)) or _float(value) - _float(value) != 0:
        big = isinstance(value, int) and abs(value) >= 10**20
        shown = "an integer of 20+ digits" if big else repr(value)
        raise ValueError(f"{path}: {what} {name!r} holds {shown}, not a finite number")
    return ()


def _float(number):
    """`number` as a float; inf for an integer beyond float64 (float() would raise OverflowError)."""
    try:
        return float(number)
    except OverflowError:
        return float("inf")


def _no_zero_scale(scales, path):
    """ValueError for a scale of 0 (of an input, or of one of its entries), which standardizing
    would divide by."""
    for name, scale in scales.items():
        rows = scale if isinstance(scale, list) else [scale]
        if 0 in [entry for row in rows for entry in (row if isinstance(row, list) else [row])]:
            raise ValueError(f"{path}: input {name!r} has a scale of 0: (x - mean)/scale is undefined")


def load_constants(path):
    """The constants of the saved run (the model file's, with `--set`'s values), to pass as
    `constants=` to every function here."""
    values = _section(_saved(path), path, "constants")
    _same_names(values, tuple(CONSTANTS), path, "constant")
    return {name: float(value) for name, value in values.items()}
'''

_SCALARS = '''

def _entries(values, path, what):
    """Numbers by name; a vector's list or a matrix's rows as its entries w1 … wn, W1_1 … W2_3."""
    flat = {}
    for name, value in values.items():
        if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
            flat.update({f"{name}{i}_{j}": v for i, row in enumerate(value, 1) for j, v in enumerate(row, 1)})
        elif isinstance(value, list):
            flat.update({f"{name}{i}": v for i, v in enumerate(value, 1)})
        else:
            flat[name] = value
    for name, value in flat.items():
        if _shape(value, path, what, name) != ():
            raise ValueError(f"{path}: {what} {name!r} is nested deeper than a matrix")
    return flat


def load_parameters(path):
    """The parameters `symcalc train --save` wrote to `path`, as this module's functions take them:
    {name: float}. ValueError when they are not exactly this module's (another model, other sizes)."""
    values = _entries(_section(_saved(path), path, "parameters"), path, "parameter")
    _same_names(values, PARAMETERS, path, "parameter")
    return {name: float(values[name]) for name in PARAMETERS}


def standardize(data, path):
    """`data` with each input as the saved run trained on it, (x - mean)/scale with the means and scales
    that `train --standardize` saved; the same data when the run did not standardize."""
    found = _saved(path).get("standardized")
    if found is None:
        return dict(data)
    means = _entries(_section(found, path, "means"), path, "input")
    scales = _entries(_section(found, path, "scales"), path, "input")
    _same_names(means, INPUTS, path, "input")
    _same_names(scales, INPUTS, path, "input")
    _no_zero_scale(scales, path)
    result = dict(data)
    for name in INPUTS:
        result[name] = (numpy.asarray(data[name], dtype=numpy.float64) - means[name]) / scales[name]
    return result
'''


def loading_source() -> str:
    """The generated functions that read a saved run, for the per-sample module of scalars."""
    return _COMMON.replace("__SAVED_BY__", repr(SAVED_BY)).replace("__FORMAT__", str(FORMAT)) + _SCALARS
