"""Calling a compiled kernel: loading it through ctypes and passing a batch's columns without copying."""

from __future__ import annotations

import _ctypes
import ctypes
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from symcalc.errors import NativeUnavailable
from symcalc.numeric.c.build import COMPILE_TIMEOUT, build
from symcalc.numeric.c.source import MAX_SOURCE, Source, kernel_source
from symcalc.numeric.program import Program
from symcalc.settings import IMPORTED_IN

_SIGNATURE = (
    ctypes.c_int64,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int,
)


def _gomp_loaded() -> bool:
    """GNU OpenMP is already in this process (another library brought it), as far as Linux tells."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            return any("/libgomp.so" in line for line in maps)
    except OSError:
        return False


#: libgomp was in this process before this module, brought by another library: this process may be
#: a child forked after that library used OpenMP's threads, which do not survive fork, so its
#: kernels keep to one thread. (A child forked after symcalc was imported is told by its pid.)
_GOMP_BEFORE_US = _gomp_loaded()


@dataclass
class Kernel:
    """A compiled kernel: mean loss and mean gradients of one program over a batch, in one pass."""

    source: Source
    path: Path
    _function: Any = field(repr=False)
    name: str = field(default="c", init=False)

    def evaluate(
        self, params: Sequence[float], columns: Sequence[Any], constants: Sequence[float]
    ) -> tuple[float, list[float]] | None:
        """Means over the batch; None when the columns are not 1-D float64 arrays (or numbers) of one length.

        A number or a length-1 array is used for every sample, as NumPy would broadcast it.
        """
        if len(columns) != self.source.columns or len(params) + len(constants) != self.source.scalars:
            raise ValueError(
                f"the kernel takes {self.source.columns} columns and {self.source.scalars} numbers, "
                f"not {len(columns)} and {len(params) + len(constants)}"
            )
        n = 1
        arrays = []
        for column in columns:
            array = np.asarray(column, dtype=np.float64)
            if array.ndim > 1 or not array.flags.aligned or (array.ndim == 1 and array.strides[0] % 8):
                return None
            length = array.shape[0] if array.ndim == 1 else 1
            if length != 1:
                if n not in (1, length):
                    return None
                n = length
            arrays.append(array)
        if any(a.size == 0 for a in arrays):
            return None
        pointers = np.array([a.ctypes.data for a in arrays], dtype=np.uintp)
        strides = np.array(
            [a.strides[0] // 8 if a.ndim == 1 and a.shape[0] != 1 else 0 for a in arrays], dtype=np.int64
        )
        scalars = np.array([*params, *constants], dtype=np.float64)
        out = np.empty(self.source.outputs)
        threads = 1 if _GOMP_BEFORE_US or os.getpid() != IMPORTED_IN else 0  # 0: as many as allowed
        if self._function(
            n, scalars.ctypes.data, pointers.ctypes.data, strides.ctypes.data, out.ctypes.data, threads
        ):
            raise MemoryError("no memory for the native kernel's partial sums")
        out /= n
        return float(out[0]), out[1:].tolist()

    def describe(self) -> str:
        return "C kernel"


def compile_kernel(
    program: Program, *, timeout: float = COMPILE_TIMEOUT, max_source: int = MAX_SOURCE
) -> Kernel:
    """The native kernel of `program` (compiled, or loaded from the cache); NativeUnavailable if none.

    `timeout` bounds each compiler run (seconds); `max_source` the kernel's C text (characters).
    """
    source = kernel_source(program, max_source=max_source)
    path = build(source, timeout=timeout)
    try:
        function = _load(path)
    except (OSError, AttributeError):  # a damaged file in the cache, or another library: built again, once
        path = build(source, rebuild=True, timeout=timeout)
        try:
            function = _load(path)
        except (OSError, AttributeError) as error:
            raise NativeUnavailable(f"the compiled kernel did not load: {error}") from None
    return Kernel(source, path, function)


def _load(path: Path) -> Any:
    """The kernel function of the library at `path`: OSError when it is not a library, AttributeError
    when it has no kernel."""
    library = ctypes.CDLL(str(path))
    try:
        function = library.symcalc_kernel
    except AttributeError:
        # Unloaded, or this process would get the same library back by its name once it is rebuilt.
        _ctypes.dlclose(library._handle)
        raise
    function.argtypes = _SIGNATURE
    function.restype = ctypes.c_int
    return function
