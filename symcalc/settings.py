"""Facts fixed when symcalc is first imported, for every layer; no SymPy, no NumPy."""

from __future__ import annotations

import os

#: The process that imported symcalc: a process with another id is a forked child, whose compiled
#: kernels must keep to one thread (OpenMP's threads do not survive fork; see symcalc.numeric.c).
IMPORTED_IN = os.getpid()

#: Above this many parameters a model's second derivatives are not derived one by one (n(n + 1)/2
#: results), so `derive --hessian` and `train --method newton` refuse it.
MAX_SECOND_ORDER_PARAMETERS = 64
