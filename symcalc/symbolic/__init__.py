"""The symbolic pipeline: expression text to SymPy without eval, the graph of definitions, the chain rule.

functions (the table of functions) → parse → graph (the model) → recognise and forms
(textbook forms) → engine (the chain rule) → steps (the derivation as data) and insights.
"""
