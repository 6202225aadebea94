"""`python -m symcalc`: the same as the `symcalc` command."""

import sys

from symcalc.cli.main import main

sys.exit(main())
