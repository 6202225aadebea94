"""Checks from `symcalc.check.checks` for people (a rich table, counterexamples, a summary) and for machines.

Nothing here decides anything: it lays out what the `Check` objects hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from symcalc.check.records import Check, Counterexample
from symcalc.render.lines import wrap_maths
from symcalc.render.text import printable

STATUS_STYLE = {"holds": "green", "fails": "bold red", "undecided": "yellow"}
STATUS_MARK = {"holds": "✓", "fails": "✗", "undecided": "?"}
#: Narrower than this, the table's four columns would be cropped: each check is a line and its statement.
STACKED_BELOW = 60


def statement(check: Check) -> str:
    """The statement in the terminal's notation (σ(z), x₁, a⋅(1 - a)) where the check carries its sides
    (what symcalc derived); else as it is (a claim, as its file wrote it)."""
    if not check.shown:
        return check.statement
    if all(isinstance(part, str) for part in check.shown):
        return " = ".join(str(part) for part in check.shown)
    from symcalc.render.pretty import inline  # loads SymPy: `printed` spares the command's own process

    return " = ".join(part if isinstance(part, str) else inline(part) for part in check.shown)


def printed(checks: Sequence[Check]) -> list[Check]:
    """The checks with their statements already in the terminal's notation, as text: what the time-limited
    child sends back, so that the process the user started prints them without loading SymPy."""
    return [replace(check, shown=(statement(check),)) if check.shown else check for check in checks]


def in_ascii(checks: Sequence[Check]) -> list[Check]:
    """The checks with their names and statements spelled in ASCII (∂L/∂a as partial L/partial a), for a
    terminal that cannot encode them: spelled before the table is laid out, so that its columns fit."""
    from symcalc.render.ascii import spelled

    return [
        replace(
            check,
            name=spelled(check.name),
            statement=spelled(check.statement),
            shown=(spelled(statement(check)),) if check.shown else (),
        )
        for check in checks
    ]


def how(check: Check) -> str:
    """The rung that decided a check, as the table shows it."""
    if check.method == "numerically" and check.status == "holds":
        return "numerically (not proved)"
    if check.method == "numerically" and check.counterexample is not None:
        return "counterexample"
    return check.method


def summary(checks: Sequence[Check]) -> str:
    """One line: how many checks, how many hold and how they were decided, what failed."""
    statuses = Counter(c.status for c in checks)
    holding = [c for c in checks if c.status == "holds"]
    methods = Counter(how(c) for c in holding)
    ways = ", ".join(f"{n} {way}" for way, n in methods.items())
    noun = "check" if len(checks) == 1 else "checks"
    verb = "holds" if len(holding) == 1 else "hold"
    text = f"{len(checks)} {noun}: {len(holding)} {verb}" + (f" ({ways})" if ways else "")
    if statuses["fails"]:
        text += f", {statuses['fails']} {'fails' if statuses['fails'] == 1 else 'fail'}"
    if statuses["undecided"]:
        text += f", {statuses['undecided']} undecided"
    return text


def render_checks(source: str, title: str, checks: Sequence[Check]) -> RenderableType:
    """The table for one file, each counterexample under it, then the summary line."""
    parts: list[RenderableType] = [_Fitted(lambda width: _laid_out(source, title, checks, width))]
    parts += list(_failures(checks))
    ok = all(c.status == "holds" for c in checks)
    parts.append(Text(summary(checks), style="green" if ok else "bold red"))
    return Group(*parts)


class _Fitted:
    """A renderable built for the width it is given, which is known only when it is printed."""

    def __init__(self, build: Callable[[int], RenderableType]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)


def _laid_out(source: str, title: str, checks: Sequence[Check], width: int) -> RenderableType:
    if width < STACKED_BELOW:
        return _stacked(source, title, checks, width)
    return _table(source, title, checks, width)


def _stacked(source: str, title: str, checks: Sequence[Check], width: int) -> Group:
    """For a narrow terminal: each check on a line (its mark ✓, ✗ or ?, its name — what decided it), and
    its statement under it, broken as maths is (`wrap_maths`), never cropped."""
    lines: list[RenderableType] = [Text(printable(title)), Text(printable(source), style="dim")]
    for check in checks:
        head = Text(f"{STATUS_MARK[check.status]} ", style=STATUS_STYLE[check.status])
        head.append(check.name)
        flagged = check.method == "numerically" and check.status == "holds"
        head.append(f" — {how(check)}", style="yellow" if flagged else "dim")
        lines.append(head)
        lines.append(Text("\n".join(f"  {line}" for line in wrap_maths(statement(check), width - 2, 2))))
    return Group(*lines)


#: The widest the check and "decided by" columns grow before they wrap at spaces ("finite
#: differences dL/dw1" in two lines), so that the statement keeps the room it needs.
NAME_WIDTH, HOW_WIDTH = 20, 14


def _table(source: str, title: str, checks: Sequence[Check], width: int) -> Table:
    """The table of checks, `width` wide at most: the names and methods wrap at spaces past their
    widths, and the statement has the rest, broken as maths is (`wrap_maths`: after an operator,
    never inside a bracket where a line can break outside it); no claim is cut with "…"."""
    results = [f"{STATUS_MARK[c.status]} {c.status}" for c in checks]
    name = max((len(c.name) for c in checks), default=5)
    method = max((len(how(c)) for c in checks), default=10)
    result = max(len(r) for r in [*results, "result"])
    longest = max((cell_len(statement(c)) for c in checks), default=9)
    if name + method + result + longest + 13 > width:  # 13: the borders and the padding
        name, method = min(name, max(NAME_WIDTH * width // 80, 12)), min(method, HOW_WIDTH)
    room = max(width - name - method - result - 13, 12)
    heading = Text.assemble(printable(title), "\n", (printable(source), "dim"))
    table = Table(title=heading, title_justify="left", expand=False)
    table.add_column("check", max_width=max(name, 5), overflow="fold")
    table.add_column("result", no_wrap=True)
    table.add_column("decided by", max_width=max(method, 10), overflow="fold")
    table.add_column("statement", overflow="fold", max_width=room)
    for check, shown in zip(checks, results, strict=True):
        style = STATUS_STYLE[check.status]
        flagged = check.method == "numerically" and check.status == "holds"
        table.add_row(
            Text(check.name),
            Text(shown, style=style),
            Text(how(check), style="yellow" if flagged else ""),
            Text("\n".join(wrap_maths(statement(check), room, 2))),
        )
    return table


def _failures(checks: Sequence[Check]) -> Iterator[RenderableType]:
    for check in checks:
        if check.status == "holds":
            continue
        lines = Text()
        lines.append(f"{STATUS_MARK[check.status]} {check.name}: ", style=STATUS_STYLE[check.status])
        lines.append(statement(check) + "".join(f"\n  {line}" for line in failure_lines(check)))
        yield lines


def failure_lines(check: Check) -> list[str]:
    """What a check that does not hold says under the table, in every form (terminal, notebook):
    why, which derivative was meant, the point and both sides there, where it leaves the derivation."""
    lines = [check.detail]
    if check.meant is not None:
        lines.append(_meant_line(check))
    if check.counterexample is not None:
        lines += counterexample_lines(check.counterexample)
    if check.parting is not None:
        lines += _parting_lines(check)
    return lines


def _meant_line(check: Check) -> str:
    from symcalc.render.pretty import inline
    from symcalc.render.wording import meant_line

    assert check.meant is not None
    return meant_line(check.meant, inline)


def _parting_lines(check: Check) -> list[str]:
    """The engine's result beside a failed claim, in the terminal's inline maths (SymPy is loaded
    here only when a claim failed: the process that prints the table does not need it otherwise)."""
    from symcalc.render.pretty import inline
    from symcalc.render.wording import parting_lines

    assert check.parting is not None
    return parting_lines(check.parting, inline)


def counterexample_lines(example: Counterexample) -> list[str]:
    """The point (exact values) and both sides there, one fact per line."""
    # name=value without spaces, so a narrow terminal wraps between values, never inside one
    point = ", ".join(f"{name}={value!r}" for name, value in example.point)
    lines = [f"at {point}"]
    if example.intermediates:
        lines.append("where " + ", ".join(f"{name}={value:.10g}" for name, value in example.intermediates))
    width = max(len(side) for side in (*example.sides, "difference"))
    for side, value in zip(example.sides, (example.left, example.right), strict=True):
        lines.append(f"{side:<{width}} = {value!r}")
    lines.append(f"{'difference':<{width}} = {example.difference!r} (relative {example.relative:.3g})")
    return lines


def counterexample_dict(example: Counterexample) -> dict[str, Any]:
    return {
        "point": dict(example.point),
        "intermediates": dict(example.intermediates),
        "sides": list(example.sides),
        "left": example.left,
        "right": example.right,
        "difference": example.difference,
        "relative": example.relative,
    }


def check_dict(check: Check) -> dict[str, Any]:
    """One check for machines: name, status, method, and for a failure its counterexample."""
    return {
        "name": check.name,
        "kind": check.kind,
        "statement": check.statement,
        "status": check.status,
        "method": check.method,
        "proved": check.proved,
        "detail": check.detail,
        "counterexample": None if check.counterexample is None else counterexample_dict(check.counterexample),
        "derivation": None if check.parting is None else parting_dict(check),
        "meant": None if check.meant is None else meant_dict(check),
    }


def meant_dict(check: Check) -> dict[str, Any]:
    """A failed ∂-claim whose d-claim holds, for machines: the local derivative and the total one meant."""
    from symcalc.render.wording import meant_line

    meant = check.meant
    assert meant is not None
    return {
        "local": str(meant.local),
        "total": f"d{meant.of.name}/d{meant.wrt.name}",
        "holds": True,
        "explanation": meant_line(meant),
    }


def parting_dict(check: Check) -> dict[str, Any]:
    """A failed claim's engine result and parting for machines, in SymPy's text (x1*(a - y))."""
    from symcalc.render.wording import parting_lines

    parting = check.parting
    assert parting is not None
    factor = parting.factor
    return {
        "result": str(parting.engine),
        "at_step": parting.number,
        "chain": [str(f.symbol) for f in parting.chain],
        "scale": None if parting.scale is None else str(parting.scale),
        "parts_at": None
        if factor is None or parting.implied is None
        else {
            "at_step": factor.number,
            "factor": str(factor.symbol),
            "derived": str(factor.value),
            "claimed": str(parting.implied),
        },
        "explanation": parting_lines(parting),
    }


def report_dict(source: str, title: str, checks: Sequence[Check]) -> dict[str, Any]:
    """One file's checks, as `symcalc verify --json` and `symcalc check --json` print them."""
    return {
        "source": source,
        "title": title,
        "passed": all(c.status == "holds" for c in checks),
        "summary": summary(checks),
        "checks": [check_dict(c) for c in checks],
    }


def checks_markdown(checks: Sequence[Check]) -> str:
    """The verification table in Markdown, for a notebook, as `render.html.verification_table` has it:
    the summary, each check (result, how it was decided, statement), then what the terminal says
    under its table of each check that does not hold."""
    from symcalc.render.markdown import escape_markdown

    rows = [
        f"| {escape_markdown(c.name)} | {STATUS_MARK[c.status]} {c.status} | {escape_markdown(how(c))} "
        f"| {escape_markdown(statement(c))} |"
        for c in checks
    ]
    header = ["| check | result | decided by | statement |", "|---|---|---|---|"]
    failures = [
        "\n".join(
            [
                f"**{STATUS_MARK[c.status]} {escape_markdown(c.name)}:** {escape_markdown(statement(c))}",
                "",
                *(f"- {escape_markdown(line)}" for line in failure_lines(c)),
                "",
            ]
        )
        for c in checks
        if c.status != "holds"
    ]
    title = f"**Verification: {escape_markdown(summary(checks))}**"
    return "\n".join([title, "", *header, *rows, "", *failures]).rstrip("\n") + "\n"
