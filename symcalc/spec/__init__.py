"""Reading files: a derivation's TOML text into a checked `Spec` of names and expression strings.

Nothing here imports SymPy: a file is read, its keys and names checked, before any
expression is parsed (that is `symcalc.symbolic`).
"""
