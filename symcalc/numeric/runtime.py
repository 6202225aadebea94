"""The runtime of the NumPy module `symcalc codegen` writes: everything it holds beyond its formulas.

A generated module defines its own tables (PARAMETERS, DATA, INPUTS, TARGETS, CONSTANTS,
PREDICTIONS) and formulas: `_loss_sums`, `_gradient_sums`, `_both_sums` (with second derivatives
`_second_sums`), each of the parameters, the constants and some rows of each data array, giving
sums over those rows; `_loss_fixed`, `_gradient_fixed` (`_hessian_fixed`), the parts that are the
same for every row; and `_predict`. Then it ends with `install(globals())`, which defines there the
definitions below from `THREADS` on, run against the module's own tables and formulas; or, written
with `codegen --standalone`, it holds them copied from this file verbatim
(`symcalc.numeric.runtime_text`), so that it runs where symcalc is not installed. This file is the
one that is linted, type-checked and tested. Those from `_arguments`
to `standardize` are written against `_array` alone: the JAX and PyTorch modules copy them too,
with their own `_array` (`runtime_jax`, `runtime_torch`).

A model's names are only ever local variables of the generated formulas, which read no global
here but `numpy` and names that start with `_`; so no model's name can hide one of these.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy

# -- what each generated module defines for itself (its tables and formulas); stand-ins here --

PARAMETERS: dict[str, tuple[str | int, ...]] = {}
DATA: dict[str, tuple[str, tuple[str | int, ...]]] = {}
INPUTS: tuple[str, ...] = ()
TARGETS: tuple[str, ...] = ()
CONSTANTS: dict[str, float] = {}
PREDICTIONS: tuple[str, ...] = ()


def _loss_sums(*values: Any) -> list[Any]:
    raise NotImplementedError("each generated module has its own")


_gradient_sums = _both_sums = _second_sums = _predict = _loss_sums
_loss_fixed = _gradient_fixed = _hessian_fixed = _loss_sums
_loss = _gradient = _loss_and_gradient = _loss_sums  # a JAX or PyTorch module's, in one pass


def install(namespace: dict[str, Any], leave_out: Iterable[str] = ()) -> None:
    """Define in `namespace`, a generated module's globals, each definition below (but those in
    `leave_out`), as `codegen --standalone` copies them into the module: each function runs against
    the module's own tables and formulas, as its copy there would, and THREADS is the module's own.
    The modules they call (numpy, os, json, concurrent.futures) are bound there too."""
    from symcalc.numeric.runtime_text import definitions

    own = globals()
    for name, value in own.items():
        if isinstance(value, types.ModuleType):
            namespace.setdefault(name, value)
    skipped = set(leave_out)
    for definition in definitions("runtime.py"):
        if definition.name not in skipped:
            namespace[definition.name] = _rebound(own[definition.name], namespace)


def _rebound(value: Any, namespace: dict[str, Any]) -> Any:
    """A function of this file as if defined in `namespace` (its globals); any other value itself."""
    if not isinstance(value, types.FunctionType):
        return value
    function = types.FunctionType(
        value.__code__, namespace, value.__name__, value.__defaults__, value.__closure__
    )
    function.__kwdefaults__ = value.__kwdefaults__
    function.__doc__ = value.__doc__
    function.__annotations__ = value.__annotations__
    function.__module__ = namespace.get("__name__", value.__module__)
    return function


# -- copied into every NumPy module from here on --

#: How many threads add up blocks of rows at once (NumPy's loops and matrix products let go of
#: Python's lock while they run, so blocks run side by side); 1 keeps the work in the caller's
#: thread (set it so before forking worker processes). The results are the same whatever it is.
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
#: Into how many runs of neighbouring blocks a batch is dealt, whatever THREADS is (see _blocks):
#: at most this many threads are busy. More runs cost more hand-overs between threads: at
#: 1e6 x 30 on 2 cores the gradient took 0.35x plain NumPy's time with 4, 0.40x with 16.
CHUNKS = 4


def _blocks(
    sums: Callable[..., list[Any]],
    given: tuple[Any, ...],
    data: tuple[Any, ...],
    floats: int = 2**18,
    threads: int | None = None,
) -> list[Any]:
    """Each output of sums(*given, *rows) added up over blocks of rows of the data arrays.

    The blocks are dealt into at most CHUNKS runs of neighbouring blocks, whatever `threads` is
    (by default THREADS): each run is added up in order on one thread, and the runs' sums in order,
    so the result is the same for any number of threads, and at most CHUNKS sums wait at once.
    """
    rows = len(data[0])
    if rows == 0:
        raise ValueError("no samples: a mean over 0 rows has no value")
    width = sum(array[:1].size for array in data)  # floats per sample
    step = max(512, floats // max(width, 1))  # by default a block of X of about 2 MB: it stays in cache
    starts = range(0, rows, step)
    per_chunk = -(-len(starts) // CHUNKS)
    chunks = [starts[i : i + per_chunk] for i in range(0, len(starts), per_chunk)]
    threads = max(1, min(THREADS if threads is None else threads, len(chunks)))
    errors, call = numpy.geterr(), numpy.geterrcall()  # the caller's: a pool thread starts with NumPy's

    def chunk_sum(chunk: range) -> list[Any]:
        with numpy.errstate(call=call, **errors):  # type: ignore[arg-type]  # (call may be None)
            return _added(sums(*given, *(array[s : s + step] for array in data)) for s in chunk)

    return _added(map(chunk_sum, chunks) if threads == 1 else _pool(threads).map(chunk_sum, chunks))


def _added(outputs: Iterable[list[Any]]) -> list[Any]:
    """The outputs (lists of arrays) added up entry by entry, in their order."""
    totals: list[Any] = []
    for block in outputs:
        totals = [t + b for t, b in zip(totals, block, strict=True)] if totals else block
    return totals


_POOLS: dict[tuple[int, int], concurrent.futures.ThreadPoolExecutor] = {}


def _pool(threads: int) -> concurrent.futures.ThreadPoolExecutor:
    """The threads that take blocks, made once per process (a forked child has none of its parent's)."""
    key = (os.getpid(), threads)
    if key not in _POOLS:
        _POOLS[key] = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="blocks")
    return _POOLS[key]


def _means(
    sums: Callable[..., list[Any]], parts: list[Callable[..., list[Any]]], values: list[Any], **options: Any
) -> list[Any]:
    """Each output of `sums` (of the parameters, the constants, then rows of each data array) summed
    over every row by `_blocks` and divided by the number of rows, plus its part the same for every
    row, from `parts` (of the parameters and the constants: a penalty, lamda*W; None for none)."""
    given = values[: len(PARAMETERS) + len(CONSTANTS)]
    totals = _blocks(sums, tuple(given), tuple(values[len(given) :]), **options)
    fixed = [f for part in parts for f in part(*given)]
    rows = values[-1].shape[0]
    return [t / rows if f is None else t / rows + f for t, f in zip(totals, fixed, strict=True)]


def _logsumexp(z: Any) -> Any:
    """log(sum(exp(z))) along the last axis, shifted by the largest entry so that nothing overflows."""
    top = numpy.max(z, axis=-1, keepdims=True)
    return numpy.log(numpy.sum(numpy.exp(z - top), axis=-1)) + top[..., 0]


def _softmax(z: Any) -> Any:
    """exp(z) / sum(exp(z)) along the last axis, shifted by the largest entry."""
    e = numpy.exp(z - numpy.max(z, axis=-1, keepdims=True))
    return e / numpy.sum(e, axis=-1, keepdims=True)


def _stack(shape: tuple[int, ...], *entries: Any) -> Any:
    """Numbers in `shape`, row by row: a gradient of a module whose formulas are its parameter's entries."""
    return numpy.reshape(numpy.array(entries, dtype=numpy.float64), shape)


def _array(value: Any) -> Any:
    """A number or (nested) list or array as this module's arrays: float64."""
    return numpy.asarray(value, dtype=numpy.float64)


def _arguments(
    params: Mapping[str, Any],
    data: Mapping[str, Any],
    constants: Mapping[str, float] | None,
    names: Iterable[str],
) -> list[Any]:
    """The positional arguments: each parameter, each constant, then each array of `names`."""
    values = []
    for name, shape in PARAMETERS.items():
        if name not in params:
            raise KeyError(f"no value for parameter {name!r}")
        value = _array(params[name])
        if value.ndim != len(shape):
            raise ValueError(f"parameter {name!r} must have {len(shape)} axes, not {value.ndim}")
        values.append(value)
    merged = dict(CONSTANTS)
    for name, number in (constants or {}).items():
        if name not in merged:
            raise KeyError(f"{name!r} is not a constant of the model")
        merged[name] = float(number)
    values.extend(_array(number) for number in merged.values())
    rows = None
    read = list(names)
    for name in read:
        if name not in data:
            raise KeyError(f"no data for {name!r}")
        array = _array(data[name])
        axes = len(DATA[name][1]) + 1
        if array.ndim != axes or (rows is not None and array.shape[0] != rows):
            raise ValueError(f"data[{name!r}] must have {axes} axes and one row per sample")
        rows = array.shape[0]
        values.append(array)
    # the data's sizes first: they decide each dimension, and a parameter that disagrees is named
    arrays = values[len(values) - len(read) :] + values[: len(PARAMETERS)]
    declared = [DATA[name][1] for name in read] + list(PARAMETERS.values())
    labels = [f"data[{name!r}]" for name in read] + [f"parameter {name!r}" for name in PARAMETERS]
    found = [tuple(a.shape[1:]) for a in arrays[: len(read)]] + [tuple(a.shape) for a in arrays[len(read) :]]
    _check_sizes(list(zip(labels, declared, found, strict=True)))
    return values


def _check_sizes(arrays: list[tuple[str, tuple[str | int, ...], tuple[int, ...]]]) -> None:
    """ValueError unless each array's sizes are its declared axes': a number, or a dimension that
    every array holding it gives the same size (the data's, which come first, decide)."""
    sizes: dict[str | int, tuple[int, str]] = {}
    for what, axes, found in arrays:
        for axis, size in zip(axes, found, strict=True):
            wanted, source = (axis, "") if isinstance(axis, int) else sizes.setdefault(axis, (size, what))
            if size != wanted:
                expected = tuple(
                    a if isinstance(a, int) else sizes.get(a, (n, ""))[0]
                    for a, n in zip(axes, found, strict=True)
                )
                named = str(tuple(axes)).replace("'", "")
                since = f" ({axis} = {wanted} from {source})" if source else ""
                raise ValueError(f"{what} must have shape {named} = {expected}, not {found}{since}")


#: The mark `symcalc train --save` puts in its files, and the format this module reads.
SAVED_BY = "symcalc train --save"
FORMAT = 1


def _saved(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The file that `symcalc train --save` wrote at `path`, as a dict; ValueError for any other file."""
    with open(path, encoding="utf-8") as handle:
        try:
            saved = json.load(handle)
        except ValueError as err:
            raise ValueError(f"{path}: not JSON ({err})") from None
        except RecursionError:
            raise ValueError(f"{path}: nested too deeply to be a saved run") from None
    if not isinstance(saved, dict) or saved.get("saved_by") != SAVED_BY:
        raise ValueError(f"{path}: not a file that symcalc train --save wrote")
    if saved.get("format") != FORMAT:
        raise ValueError(f"{path}: format {saved.get('format')!r}; this module reads format {FORMAT}")
    return saved


def _section(saved: Mapping[str, Any], path: str | os.PathLike[str], key: str) -> dict[str, Any]:
    values = saved.get(key)
    if isinstance(values, dict):
        return values
    raise ValueError(f"{path}: no {key!r} table")


def _same_names(
    values: Mapping[str, Any], names: tuple[str, ...], path: str | os.PathLike[str], what: str
) -> None:
    """ValueError unless `values` has exactly `names`: the first missing or foreign one is named."""
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"{path}: no value for {what} {missing[0]!r} (this module's: {', '.join(names)})")
    foreign = [name for name in values if name not in names]
    if foreign:
        raise ValueError(
            f"{path}: {foreign[0]!r} is not a {what} of this module's model (its {what}s: {', '.join(names)})"
        )


def _shape(value: Any, path: str | os.PathLike[str], what: str, name: str, depth: int = 0) -> tuple[int, ...]:
    """The shape of a saved number or list of numbers, or of rows of them; ValueError unless every
    entry is a float64 number (finite, not beyond 1.8e308) and the rows are alike."""
    if isinstance(value, list):
        if depth == 2:
            raise ValueError(f"{path}: {what} {name!r} is nested deeper than a matrix")
        shapes = [_shape(entry, path, what, name, depth + 1) for entry in value]
        if not value or any(shape != shapes[0] for shape in shapes):
            raise ValueError(f"{path}: {what} {name!r} is not an array: its rows differ or are empty")
        return (len(value), *shapes[0])
    if isinstance(value, bool) or not isinstance(value, int | float) or _float(value) - _float(value) != 0:
        big = isinstance(value, int) and abs(value) >= 10**20
        shown = "an integer of 20+ digits" if big else repr(value)
        raise ValueError(f"{path}: {what} {name!r} holds {shown}, not a finite number")
    return ()


def _float(number: float) -> float:
    """`number` as a float; inf for an integer beyond float64 (float() would raise OverflowError)."""
    try:
        return float(number)
    except OverflowError:
        return float("inf")


def _no_zero_scale(scales: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """ValueError for a scale of 0 (of an input, or of one of its entries), which standardizing
    would divide by."""
    for name, scale in scales.items():
        rows = scale if isinstance(scale, list) else [scale]
        if 0 in [entry for row in rows for entry in (row if isinstance(row, list) else [row])]:
            raise ValueError(f"{path}: input {name!r} has a scale of 0: (x - mean)/scale is undefined")


def load_constants(path: str | os.PathLike[str]) -> dict[str, float]:
    """The constants of the saved run (the model file's, with `--set`'s values), to pass as
    `constants=` to every function here."""
    values = _section(_saved(path), path, "constants")
    _same_names(values, tuple(CONSTANTS), path, "constant")
    return {name: float(value) for name, value in values.items()}


def load_columns(path: str | os.PathLike[str]) -> dict[str, str]:
    """The columns of the data the saved run read each name from, as `--columns` mapped them
    ({name: column}); a name not in it was read from a column of its own name."""
    values = _saved(path).get("columns", {})
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise ValueError(f"{path}: 'columns' is not a table of column names")
    return dict(values)


def load_parameters(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parameters `symcalc train --save` wrote to `path`, as this module's functions take them:
    each an array of its shape in PARAMETERS. ValueError when they are not exactly this module's:
    another name, another number of axes, or sizes that disagree."""
    values = _section(_saved(path), path, "parameters")
    _same_names(values, tuple(PARAMETERS), path, "parameter")
    sizes: dict[str | int, tuple[int, str]] = {}
    params = {}
    for name, shape in PARAMETERS.items():
        found = _shape(values[name], path, "parameter", name)
        if len(found) != len(shape):
            axes = f"{len(found)} axes, but this module's has {len(shape)} {shape}"
            raise ValueError(f"{path}: parameter {name!r} has {axes}")
        for axis, size in zip(shape, found, strict=True):
            wanted = axis if isinstance(axis, int) else sizes.setdefault(axis, (size, name))[0]
            if size != wanted:
                given = "" if isinstance(axis, int) else f" as {sizes[axis][1]!r} has"
                raise ValueError(
                    f"{path}: parameter {name!r} has shape {found}, but {axis} = {wanted}{given}"
                )
        params[name] = _array(values[name])
    return params


def standardize(data: Mapping[str, Any], path: str | os.PathLike[str]) -> dict[str, Any]:
    """`data` with each input as the saved run trained on it, (x - mean)/scale per entry with the means
    and scales that `train --standardize` saved; the same data when the run did not standardize."""
    found = _saved(path).get("standardized")
    if found is None:
        return dict(data)
    means, scales = _section(found, path, "means"), _section(found, path, "scales")
    _same_names(means, INPUTS, path, "input")
    _same_names(scales, INPUTS, path, "input")
    result = dict(data)
    for name in INPUTS:
        _shape(means[name], path, "input", name)
        _shape(scales[name], path, "input", name)
        _no_zero_scale({name: scales[name]}, path)
        result[name] = (_array(data[name]) - _array(means[name])) / _array(scales[name])
    return result


def _quiet() -> Any:
    """NumPy's warnings of overflow and 0/0 held back: an inf or NaN in the result says it (a JAX or
    PyTorch module's `_quiet` holds back nothing: those warn of neither)."""
    return numpy.errstate(all="ignore")


def loss(
    params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
) -> float:
    """The mean loss over the samples: the forward pass only."""
    with _quiet():
        values = _arguments(params, data, constants, INPUTS + TARGETS)
        return float(_means(_loss_sums, [_loss_fixed], values)[0])


def gradient(
    params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The mean gradient of the loss by each parameter, an array of its shape; no loss is computed."""
    with _quiet():
        values = _arguments(params, data, constants, INPUTS + TARGETS)
        grads = _means(_gradient_sums, [_gradient_fixed], values)
    return {name: _array(g) for name, g in zip(PARAMETERS, grads, strict=True)}


def loss_and_gradient(
    params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
) -> tuple[float, dict[str, Any]]:
    """The mean loss and each mean gradient, from one pass forward and one backward."""
    with _quiet():
        values = _arguments(params, data, constants, INPUTS + TARGETS)
        value, *grads = _means(_both_sums, [_loss_fixed, _gradient_fixed], values)
    return float(value), {name: _array(g) for name, g in zip(PARAMETERS, grads, strict=True)}


def predict(
    params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """The model's predictions for each sample, by name (PREDICTIONS); needs the inputs only."""
    with _quiet():
        outputs = _predict(*_arguments(params, data, constants, INPUTS))
    return dict(zip(PREDICTIONS, outputs, strict=True))


def step(
    params: Mapping[str, Any],
    data: Mapping[str, Any],
    learning_rate: float,
    constants: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """One gradient-descent update: p := p - learning_rate * gradient(params, data)[p]."""
    grads = gradient(params, data, constants)
    return {name: _array(params[name]) - learning_rate * grads[name] for name in PARAMETERS}


def check_gradient(
    params: Mapping[str, Any],
    data: Mapping[str, Any],
    constants: Mapping[str, float] | None = None,
    h: float = 1e-5,
) -> float:
    """The largest absolute difference between gradient() and central differences of loss() with step h."""
    grads = gradient(params, data, constants)
    worst = 0.0
    for name in PARAMETERS:
        base = _array(params[name])
        for index in numpy.ndindex(base.shape):
            up, down = base.copy(), base.copy()
            up[index] += h
            down[index] -= h
            higher = loss({**params, name: up}, data, constants)
            lower = loss({**params, name: down}, data, constants)
            estimate = (higher - lower) / (2 * h)
            worst = max(worst, abs(float(grads[name][index]) - estimate))
    return worst


def loss_gradient_hessian(
    params: Mapping[str, Any], data: Mapping[str, Any], constants: Mapping[str, float] | None = None
) -> tuple[float, dict[str, Any], Any]:
    """The mean loss, each mean gradient and the mean Hessian, from one pass over the data.

    The Hessian is one square array over every entry of every parameter, in PARAMETERS order
    and each parameter's entries in order (a vector's entries in turn): what Newton's method solves with.
    """
    with _quiet():
        values = _arguments(params, data, constants, INPUTS + TARGETS)
        fixed = [_loss_fixed, _gradient_fixed, _hessian_fixed]
        # a Hessian's matrix products run faster on blocks of 16 MB, and on BLAS's own threads alone
        value, *outputs = _means(_second_sums, fixed, values, floats=2**21, threads=1)
    count = len(PARAMETERS)
    grads = {name: _array(g) for name, g in zip(PARAMETERS, outputs, strict=False)}
    sizes = [grads[name].size for name in PARAMETERS]
    starts = [sum(sizes[:k]) for k in range(count)]
    hessian = numpy.zeros((sum(sizes), sum(sizes)))
    blocks = iter(outputs[count:])
    for i in range(count):
        for j in range(i, count):
            block = _array(next(blocks))
            shape = (sizes[i], sizes[j])  # a number (0, or lamda) stands for every entry
            block = numpy.broadcast_to(block, shape) if block.size == 1 else block.reshape(shape)
            hessian[starts[i] : starts[i] + sizes[i], starts[j] : starts[j] + sizes[j]] = block
            hessian[starts[j] : starts[j] + sizes[j], starts[i] : starts[i] + sizes[i]] = block.T
    return float(value), grads, hessian
