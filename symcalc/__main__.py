"""`python -m symcalc`: the same as the `symcalc` command."""

import sys

from symcalc.cli import main

sys.exit(main())
