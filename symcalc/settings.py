"""Facts fixed when symcalc is first imported, for every layer; no SymPy, no NumPy."""

from __future__ import annotations

import os

#: The process that imported symcalc: a process with another id is a forked child, whose compiled
#: kernels must keep to one thread (OpenMP's threads do not survive fork; see symcalc.numeric.native).
IMPORTED_IN = os.getpid()
