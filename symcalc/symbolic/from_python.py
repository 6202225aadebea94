"""`Model.build`'s checks and its route for matrix symbols: a model written in SymPy, read as a file."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

import sympy as sp

from symcalc.errors import Location, MatrixUnsupported, SpecError, SymcalcError
from symcalc.spec.toml import Spec, check
from symcalc.symbolic.building import RESERVED
from symcalc.symbolic.matrices import as_text, axes, declaration


def scalars_only(definitions: Mapping[sp.Symbol, sp.Expr], names: Iterable[object]) -> None:
    """SpecError unless every name is a SymPy Symbol and every definition a scalar expression of them.

    A MatrixSymbol parameter (or one inside a definition) would otherwise be held as a
    constant and get the gradient 0.
    """
    for name in [*definitions, *names]:
        if not isinstance(name, sp.Symbol):
            raise SpecError(
                f"{name!s} is a {type(name).__name__}, not a SymPy Symbol",
                Location(key=str(name)),
                fix=_SCALARS_FIX,
            )
    for sym, expr in definitions.items():
        if isinstance(expr, int | float):
            continue
        if not isinstance(expr, sp.Expr) or isinstance(expr, sp.MatrixExpr):
            raise SpecError(
                f"the definition is a {type(expr).__name__}, not a scalar expression",
                Location(key=f"definitions.{sym.name}"),
                fix=_SCALARS_FIX,
            )
        others = [s for s in expr.free_symbols if not isinstance(s, sp.Symbol)]
        if others or expr.has(sp.MatrixExpr):
            shown = others[0] if others else next(iter(expr.atoms(sp.MatrixSymbol)), expr)
            raise SpecError(
                f"uses {shown!s}, a {type(shown).__name__}: only scalar Symbols are supported",
                Location(key=f"definitions.{sym.name}"),
                fix=_SCALARS_FIX,
            )


_SCALARS_FIX = "a name is a Symbol, or a MatrixSymbol for a vector or matrix"


def matrix_spec(
    definitions: Mapping[sp.Basic, sp.Expr],
    parameters: Sequence[sp.Basic],
    inputs: Sequence[sp.Basic] | None,
    targets: Sequence[sp.Basic],
    constants: Mapping[sp.Symbol, float] | None,
    loss: sp.Basic | None,
    title: str,
    notes: Mapping[sp.Basic, str] | None,
    sizes: Mapping[sp.Symbol | str, int] | None,
    named: Sequence[sp.Basic],
) -> tuple[Spec, list[SymcalcError]]:
    """`Model.build` for matrix symbols: the model written as a file's text, checked as a file."""
    given = {str(k): v for k, v in (sizes or {}).items()}
    dimensions = sorted(
        {str(a) for symbol in _matrix_symbols(definitions, named) for a in axes(symbol) if not a.is_Integer}
    )
    missing = [d for d in dimensions if d not in given]
    if missing:
        raise SpecError(
            f"dimension {missing[0]!r} has no size",
            Location(key="sizes"),
            fix=f"Model.build(..., sizes={{{missing[0]!r}: 3}})",
        )
    declared = {str(s) for s in (*parameters, *targets, *(constants or {}), *definitions)}
    if inputs is None:
        free = _matrix_symbols(definitions, ()) | {
            s for e in definitions.values() for s in sp.sympify(e).free_symbols if str(s) not in dimensions
        }
        inputs = sorted((s for s in free if str(s) not in declared), key=str)
    try:
        written = {str(symbol): as_text(sp.sympify(expr)) for symbol, expr in definitions.items()}
    except MatrixUnsupported as err:
        raise SpecError(str(err), Location(key="definitions"), fix=_SCALARS_FIX) from None
    last = list(definitions)[-1] if definitions else None
    lines = [
        f"title = {json.dumps(title)}",
        f"inputs = {json.dumps([declaration(s) for s in inputs])}",
        f"targets = {json.dumps([declaration(s) for s in targets])}",
        f"parameters = {json.dumps([declaration(s) for s in parameters])}",
        f"loss = {json.dumps(str(loss if loss is not None else last))}",
        "[dimensions]",
        *(f"{d} = {int(given[d])}" for d in dimensions),
        "[constants]",
        *(f"{s} = {float(v)!r}" for s, v in (constants or {}).items()),
        "[definitions]",
        *(f"{name} = {json.dumps(value)}" for name, value in written.items()),
        "[notes]",
        *(f"{s} = {json.dumps(note)}" for s, note in (notes or {}).items()),
    ]
    return check("\n".join(lines) + "\n", "<model>", reserved=RESERVED)


def _matrix_symbols(definitions: Mapping[sp.Basic, sp.Expr], named: Sequence[sp.Basic]) -> set[sp.Basic]:
    found: set[sp.Basic] = {s for s in named if isinstance(s, sp.MatrixSymbol)}
    for symbol, expr in definitions.items():
        if isinstance(symbol, sp.MatrixSymbol):
            found.add(symbol)
        found |= sp.sympify(expr).atoms(sp.MatrixSymbol)
    return found
