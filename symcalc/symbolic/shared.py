"""SymPy's xreplace, free_symbols, atoms and replace, each visiting every distinct node once.

SymPy walks an expression as a tree: a subexpression used in a thousand places is walked a
thousand times. The verifier's expressions share most of their nodes (a definition substituted
where each later one uses it): a batch-form difference of a layer-norm attention model is 310
distinct nodes and 470 000 as a tree, and SymPy's walks of it were most of `verify`'s time.
These give what SymPy's give (the same sets, equal expressions), walking each distinct node once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import sympy as sp

_FREE_SYMBOLS = sp.Basic.__dict__["free_symbols"]
_XREPLACE = sp.Basic._xreplace


def nodes(expr: sp.Basic) -> list[sp.Basic]:
    """Each distinct node of `expr` (by identity), `expr` itself first."""
    seen = {id(expr)}
    found = [expr]
    pending = [expr]
    while pending:
        for arg in pending.pop().args:
            if id(arg) not in seen:
                seen.add(id(arg))
                found.append(arg)
                pending.append(arg)
    return found


def free_symbols(expr: sp.Basic) -> set[sp.Basic]:
    """`expr.free_symbols`."""
    memo: dict[int, set[sp.Basic]] = {}

    def walk(node: sp.Basic) -> set[sp.Basic]:
        found = memo.get(id(node))
        if found is None:
            if type(node).free_symbols is _FREE_SYMBOLS:  # the union of its arguments'
                found = set().union(*(walk(arg) for arg in node.args))
            else:
                found = node.free_symbols
            memo[id(node)] = found
        return found

    return set(walk(expr))


def atoms(expr: sp.Basic, *types: type) -> set[sp.Basic]:
    """`expr.atoms(*types)`: the nodes of those types, or without arguments when none is given."""
    if types:
        return {node for node in nodes(expr) if isinstance(node, types)}
    return {node for node in nodes(expr) if not node.args}


def xreplace(expr: sp.Basic, rule: Mapping[sp.Basic, sp.Basic]) -> sp.Basic:
    """`expr.xreplace(rule)`."""
    if not rule:
        return expr
    memo: dict[int, tuple[sp.Basic, bool]] = {}

    def walk(node: sp.Basic) -> tuple[sp.Basic, bool]:
        done = memo.get(id(node))
        if done is not None:
            return done
        if type(node)._xreplace is not _XREPLACE:
            done = node._xreplace(rule)
        elif node in rule:
            done = rule[node], True
        else:
            args = []
            changed = False
            for arg in node.args:
                if getattr(arg, "_xreplace", None) is None:
                    args.append(arg)
                    continue
                new, moved = walk(arg)
                args.append(new)
                changed |= moved
            done = (node.func(*args), True) if changed else (node, False)
        memo[id(node)] = done
        return done

    return walk(expr)[0]


def replace(
    expr: sp.Basic, query: Callable[[sp.Basic], object], value: Callable[[sp.Basic], sp.Basic]
) -> sp.Basic:
    """`expr.replace(query, value)` for a callable query and value (simultaneous, no map)."""
    memo: dict[int, sp.Basic] = {}

    def walk(node: sp.Basic) -> sp.Basic:
        done = memo.get(id(node))
        if done is not None:
            return done
        result = node
        args = getattr(node, "args", None)
        if args is not None:
            if args:
                new = tuple([walk(arg) for arg in args])
                if args != new:
                    result = node.func(*new)
                    # simultaneous: a node that became one of its own changed arguments is kept
                    if any(result == old and old != changed for old, changed in zip(args, new, strict=True)):
                        memo[id(node)] = result
                        return result
            if query(result):
                replaced = value(result)
                if replaced is not None and replaced != result:
                    result = replaced
        memo[id(node)] = result
        return result

    return walk(expr)
