"""What `symcalc train` shows: a live progress bar, the final table, the --json dict and the --plot figure.

Nothing here trains: it lays out `Epoch` records that `symcalc.numeric.descent` made.
matplotlib is imported only when a plot is asked for, with the Agg backend.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from symcalc.errors import PlotError
from symcalc.numeric.curves import BoundaryPoints
from symcalc.numeric.descent import Epoch, Stop, unfinished
from symcalc.numeric.runtime import FORMAT, SAVED_BY
from symcalc.render.text import printable
from symcalc.spec.shapes import component, components, entry_label, indices


@dataclass(frozen=True)
class TestResult:
    """The fitted parameters on the rows --test-fraction held out: their count, mean loss and
    accuracy (None when the model has no 0/1 prediction)."""

    rows: int
    loss: float
    accuracy: float | None


@dataclass(frozen=True)
class Summary:
    """The end of a training run, as reported: the last record, accuracy where the target is binary."""

    final: Epoch
    accuracy: float | None
    samples: int
    source: str
    backend: str = ""  # what computed the loss and gradients (NumericModel.describe())
    #: Each vector or matrix parameter and its sizes: --json gives it as one nested list.
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    method: str = "gd"  # a key of METHODS
    #: (iteration, loss, gradient norm) of every record, shown for the second-order methods.
    iterations: tuple[tuple[int, float, float], ...] = ()
    #: The model's constants for this run: the file's values, with --set's in their place.
    constants: tuple[tuple[str, float], ...] = ()
    #: The held-out rows' result, with --test-fraction.
    test: TestResult | None = None
    #: With --standardize, each input column's (name, mean, scale): trained on (x − mean)/scale.
    standardized: tuple[tuple[str, float, float], ...] = ()
    #: Each vector or matrix input and its sizes: the standardization nests as the parameters do.
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    #: False when training stopped (Ctrl-C on Dask) before the gradient at the final parameters was
    #: evaluated: the table says so, and --json's gradient_norm and loss are null; the loss shown is
    #: then the last epoch's (over its minibatches, as the progress bar showed it), named so in the
    #: table and as --json's last_epoch_loss.
    gradient_evaluated: bool = True


#: Each training method's name in words.
METHODS = {
    "gd": "gradient descent",
    "newton": "Newton's method",
    "lbfgs": "L-BFGS-B (SciPy)",
    "sgd": "SGD in minibatches",
    "adam": "Adam in minibatches",
}
#: The methods whose records are epochs (passes over the data), not iterations.
BY_EPOCHS = ("gd", "sgd", "adam")
#: Parameter entries (and standardized inputs) the table lists one by one; past them, one row each.
TABLE_ENTRIES = 40
#: Rows of the iteration table shown at most: the first and last ones when there are more.
ITERATION_ROWS = 20


def _number(value: float) -> float | None:
    """JSON has no inf or nan: those are null."""
    return value if math.isfinite(value) else None


def summary_dict(summary: Summary) -> dict[str, Any]:
    """The --json output: parameters, loss, epochs, converged, and why it stopped; for Newton's method
    and L-BFGS, each iteration's loss and gradient norm too."""
    final = summary.final
    return {
        "parameters": _nested(final.parameters, summary.shapes),
        # not evaluated at the end (Ctrl-C on Dask): the loss the last epoch showed, named so
        "loss": _number(final.loss) if summary.gradient_evaluated else None,
        **({} if summary.gradient_evaluated else {"last_epoch_loss": _number(final.loss)}),
        "epochs": final.epoch,
        "converged": final.converged,
        "stopped": final.stop.value if final.stop else None,
        "message": final.message,
        "advice": advice(summary),
        "accuracy": summary.accuracy,
        "gradient_norm": _number(final.gradient_norm) if summary.gradient_evaluated else None,
        "seconds": round(final.elapsed, 6),
        "samples": summary.samples,
        "data": summary.source,
        "backend": summary.backend,
        "method": summary.method,
        "constants": dict(summary.constants),
        "test": None if summary.test is None else test_dict(summary.test),
        "standardized": standardized_dict(summary.standardized, summary.input_shapes),
        **(
            {
                "iterations": [
                    {"iteration": i, "loss": _number(v), "gradient_norm": _number(g)}
                    for i, v, g in summary.iterations
                ]
            }
            if summary.method not in BY_EPOCHS
            else {}
        ),
    }


def saved_dict(
    summary: Summary, title: str, model: str, columns: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What --save writes, for a codegen module's load_parameters (`symcalc.numeric.runtime`): the
    parameters (a vector's as a list, a matrix's as rows), the run's constants, the standardization
    of the inputs if any, the data's `columns` each name was read from (--columns), and what the
    run was."""
    final = summary.final
    return {
        "saved_by": SAVED_BY,
        "format": FORMAT,
        "title": title,
        "model": model,
        "parameters": _nested(final.parameters, summary.shapes),
        "constants": dict(summary.constants),
        "standardized": standardized_dict(summary.standardized, summary.input_shapes),
        "columns": dict(columns or {}),
        "loss": _number(final.loss),
        "converged": final.converged,
        "method": summary.method,
        "epochs": final.epoch,
        "data": summary.source,
        "samples": summary.samples,
        "test": None if summary.test is None else test_dict(summary.test),
    }


def test_dict(test: TestResult) -> dict[str, Any]:
    return {"rows": test.rows, "loss": _number(test.loss), "accuracy": test.accuracy}


def standardized_dict(
    standardized: Sequence[tuple[str, float, float]], shapes: Sequence[tuple[str, tuple[int, ...]]]
) -> dict[str, Any] | None:
    """{"means": …, "scales": …} by input (a vector input's as one list), or None: not standardized."""
    if not standardized:
        return None
    means = {name: mean for name, mean, _ in standardized}
    scales = {name: scale for name, _, scale in standardized}
    return {"means": _nested(means, shapes), "scales": _nested(scales, shapes)}


def _nested(parameters: Mapping[str, float], shapes: Sequence[tuple[str, tuple[int, ...]]]) -> dict[str, Any]:
    """Parameters by name, a vector's entries (w1, w2, …) as one list and a matrix's as a list of rows."""
    owner = {entry: (name, sizes) for name, sizes in shapes for entry in components(name, sizes)}
    result: dict[str, Any] = {}
    for key, value in parameters.items():
        if key not in owner:
            result[key] = _number(value)
            continue
        name, sizes = owner[key]
        if name not in result:
            values = [_number(parameters[entry]) for entry in components(name, sizes)]
            width = sizes[-1]
            rows = [values[i : i + width] for i in range(0, len(values), width)]
            result[name] = rows if len(sizes) == 2 else values
    return result


def summary_table(summary: Summary) -> Table:
    """Parameters, final loss, accuracy, epochs run and time taken."""
    final = summary.final
    table = Table(title="Training result", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    for name, value in _shown_parameters(final.parameters, summary.shapes):
        table.add_row(name, value)
    table.add_section()
    if summary.gradient_evaluated:
        table.add_row("final loss", f"{final.loss:.6g}")
    elif math.isfinite(final.loss):  # no pass at the final parameters: the loss the last epoch showed
        table.add_row("last epoch's loss", f"{final.loss:.6g}")
    else:
        table.add_row("final loss", "not evaluated (interrupted)")
    if summary.accuracy is not None:
        table.add_row("accuracy", f"{summary.accuracy:.1%}")
    if summary.test is not None:
        table.add_row("test loss", f"{summary.test.loss:.6g}")
        if summary.test.accuracy is not None:
            table.add_row("test accuracy", f"{summary.test.accuracy:.1%}")
    norm = f"{final.gradient_norm:.3g}" if summary.gradient_evaluated else "not evaluated (interrupted)"
    table.add_row("gradient norm", norm)
    if summary.constants:
        table.add_row("constants", ", ".join(f"{name} = {value:g}" for name, value in summary.constants))
    table.add_row("method", METHODS[summary.method])
    table.add_row("epochs run" if summary.method in BY_EPOCHS else "iterations", str(final.epoch))
    table.add_row("time taken", f"{final.elapsed:.3f} s")
    held = f"; {summary.test.rows} more held out for the test" if summary.test is not None else ""
    data = f"{summary.samples} samples from {summary.source}{held}"
    table.add_row("data", Text(printable(data)))  # never markup, nor a control sequence from the path
    if summary.standardized:
        table.add_row("standardized", "each input as (x − mean)/scale; the parameters are for these")
        if len(summary.standardized) > TABLE_ENTRIES:
            table.add_row("", f"{len(summary.standardized)} input columns: --json and --save give each one")
        for name, mean, scale in summary.standardized if len(summary.standardized) <= TABLE_ENTRIES else ():
            table.add_row(Text(f"  {name}"), f"mean {mean:.6g}, scale {scale:.6g}")
    if summary.backend:
        table.add_row("computed by", Text(summary.backend))
    return table


def _shown_parameters(
    parameters: Mapping[str, float], shapes: Sequence[tuple[str, tuple[int, ...]]]
) -> list[tuple[str, str]]:
    """Each parameter's row: every entry, or, past TABLE_ENTRIES of them, a vector or matrix as its
    sizes (its entries are in --json and --save)."""
    if len(parameters) <= TABLE_ENTRIES:  # an entry of W1 as W1[1,2], of W as W1_2 (`entry_label`)
        labels = {component(n, i): entry_label(n, i) for n, sizes in shapes for i in indices(sizes)}
        return [(labels.get(name, name), f"{value:.6g}") for name, value in parameters.items()]
    owner = {entry: (name, sizes) for name, sizes in shapes for entry in components(name, sizes)}
    rows: list[tuple[str, str]] = []
    for key, value in parameters.items():
        if key not in owner:
            rows.append((key, f"{value:.6g}"))
        elif (name := owner[key][0]) not in [row[0] for row in rows]:
            sizes = " × ".join(str(size) for size in owner[key][1])
            rows.append((name, f"{sizes} entries: in --json and --save"))
    return rows


def iteration_table(summary: Summary) -> Table:
    """Each iteration's loss and gradient norm (the first and last `ITERATION_ROWS` // 2 when more)."""
    table = Table(title=f"{METHODS[summary.method]}: the iterations", header_style="bold")
    for column in ("iteration", "loss", "gradient norm"):
        table.add_column(column, justify="right")
    rows = summary.iterations
    half = ITERATION_ROWS // 2
    shown = rows if len(rows) <= ITERATION_ROWS else (*rows[:half], None, *rows[-half:])
    for row in shown:
        if row is None:
            table.add_row("…", "", "")
            continue
        iteration, loss, norm = row
        table.add_row(str(iteration), f"{loss:.12g}", f"{norm:.3g}")
    return table


def print_summary(console: Console, summary: Summary) -> None:
    if summary.method != "gd" and summary.iterations:
        console.print(iteration_table(summary))
    console.print(summary_table(summary))
    style = "green" if summary.final.stop in (Stop.CONVERGED, Stop.EPOCHS) else "yellow"
    console.print(summary.final.message, style=style, highlight=False, soft_wrap=True, markup=False)
    line = advice(summary)
    if line is not None:
        console.print(line, style="yellow", highlight=False, soft_wrap=True, markup=False)


def advice(summary: Summary) -> str | None:
    """One line when gradient descent ran out of epochs far from a minimum: how far, and what reaches one."""
    if summary.method != "gd":
        return None
    found = unfinished(summary.final)
    if found is None:
        return None
    facts = []
    if found.far:
        share = found.norm / found.start_norm
        part = f"{share:.0%} of" if share < 1 else f"{share:.3g} times"
        facts.append(
            f"the gradient norm is {found.norm:.3g}, {part} the {found.start_norm:.3g} it started at"
        )
    if found.falling:
        plural = "" if found.tail == 1 else "s"
        facts.append(
            f"the loss was still falling, by {found.fall:.2%} over the last {found.tail} epoch{plural}"
        )
    more = "" if summary.standardized else "--standardize, "
    return (
        f"gradient descent ended far from a minimum: {'; '.join(facts)}; "
        f"try {more}--method newton, lbfgs or adam, or more --epochs"
    )


class ProgressUpdate(Protocol):
    def __call__(self, record: Epoch) -> None: ...


@contextmanager
def progress_bar(console: Console, epochs: int) -> Iterator[ProgressUpdate]:
    """A rich progress bar over the epochs with the live loss; silent when `console` is not a terminal.

    The bar stops 2 columns short of the terminal's edge: Ctrl-C echoes "^C" after it, which on a
    full line would wrap, and the bar's last drawing would then leave the line it meant to replace."""
    console.width = max(console.width - 2, 20)
    progress = Progress(
        TextColumn("training"),
        BarColumn(),
        TextColumn("epoch {task.completed:>6.0f}/{task.total:.0f}"),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=False,
    )
    task = progress.add_task("train", total=max(epochs, 1), loss="…")

    def update(record: Epoch) -> None:
        # When descent stops early, the bar ends full at the epoch it stopped.
        total = record.epoch if record.stop is not None and record.epoch > 0 else None
        progress.update(task, completed=record.epoch, total=total, loss=f"{record.loss:.6g}")

    with progress:
        yield update


# -- the plot ---------------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotError(
            "--plot needs matplotlib, which is not installed", fix="pip install 'symcalc-gradients[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_plotting() -> None:
    """Fail before training, not after, when --plot cannot work."""
    _pyplot()


def plot(
    final: Epoch, boundary: BoundaryPoints | None, image_format: str = "png", method: str = "gd"
) -> bytes:
    """The loss curve (titled with the method), and beside it the data with the decision boundary u = 0
    where `boundary` gives them (`symcalc.numeric.curves.boundary_of`): PNG, SVG or PDF, as bytes."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2 if boundary else 1, figsize=(11 if boundary else 6, 4.5), squeeze=False)
    curve = axes[0][0]
    history = final.history or (final.loss,)
    marker = "o" if method not in BY_EPOCHS else None  # a few iterations: each one marked
    curve.plot(range(len(history)), history, color="tab:blue", marker=marker)
    curve.set_xlabel("epoch" if method in BY_EPOCHS else "iteration")
    curve.set_ylabel("mean loss")
    curve.set_title(f"Loss: {METHODS[method]}")
    curve.grid(alpha=0.3)
    if boundary is not None:
        _boundary(axes[0][1], boundary)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def _boundary(ax: Any, points: BoundaryPoints) -> None:
    for value, colour in ((0.0, "tab:red"), (1.0, "tab:blue")):
        chosen = points.labels == value
        label = f"{points.target} = {value:g}"
        ax.scatter(points.first[chosen], points.second[chosen], s=14, c=colour, alpha=0.7, label=label)
    if points.scores is not None and np.ptp(points.scores) > 0:
        ax.contour(*points.grid, points.scores, levels=[0.0], colors="black")
        ax.plot([], [], color="black", label="decision boundary")
    ax.set_xlabel(points.names[0])
    ax.set_ylabel(points.names[1])
    ax.set_title("Data and learned boundary")
    ax.legend(loc="best", fontsize="small")
