"""The `symcalc` command: wires each command to the library; errors become one line and an exit code."""
