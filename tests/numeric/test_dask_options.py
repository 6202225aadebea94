"""`train --dask` / `--scheduler` with the options that once were refused there: --plot (the loss
curve), Ctrl-C in minibatches (the gradient at the end not evaluated), --standardize and
--test-fraction, each checked against the same computation in memory.

One `LocalCluster` of 2 worker processes serves the module through `--scheduler`. The data are a
few hundred rows of two inputs and a 0/1 label, in CSV files of unequal rows and in one CSV.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("dask", reason="needs the extra symcalc-gradients[dask]")
pytest.importorskip("distributed", reason="needs the extra symcalc-gradients[dask]")
pytest.importorskip("pyarrow", reason="needs the extra symcalc-gradients[dask]")

from distributed import Client, LocalCluster

from symcalc.cli.main import main
from symcalc.numeric.distributed import Partitioned

pytestmark = pytest.mark.dask  # run by `.ci/run`; the quick set leaves Dask out

#: Rows of each CSV partition: unequal, so that a partition's share weighed by its rows matters.
PARTS = (90, 130, 80)
ROWS = sum(PARTS)

Array = np.ndarray[Any, np.dtype[np.float64]]


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield client


def _write(path: Path, x: Array, y: Array) -> None:
    lines = ["x1,x2,y"] + [f"{a!r},{b!r},{int(t)}" for (a, b), t in zip(x.tolist(), y, strict=True)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Array, Array]:
    """Two inputs far from mean 0 and scale 1 (so standardizing matters) and a 0/1 label of a
    logistic model: in CSV files of `PARTS` rows (a pattern), in one CSV, and as arrays."""
    root = tmp_path_factory.mktemp("options")
    rng = np.random.default_rng(5)
    x = np.column_stack([40 + 7 * rng.standard_normal(ROWS), -3 + 0.2 * rng.standard_normal(ROWS)])
    score = 0.3 * (x[:, 0] - 40) - 4 * (x[:, 1] + 3)
    y = (rng.random(ROWS) < 1 / (1 + np.exp(-score))).astype(np.float64)
    (root / "parts").mkdir()
    for k, rows in enumerate(np.split(np.arange(ROWS), np.cumsum(PARTS)[:-1])):
        _write(root / "parts" / f"part{k}.csv", x[rows], y[rows])
    _write(root / "all.csv", x, y)
    return root / "parts" / "*.csv", root / "all.csv", x, y


def _train(
    capsys: pytest.CaptureFixture[str],
    model: str,
    data: Path | str,
    *options: str,
    client: Client | None = None,
) -> tuple[int, str, str]:
    where = ["--scheduler", client.scheduler.address] if client is not None else []
    code = main(["train", model, "--data", str(data), *where, *options])
    out, err = capsys.readouterr()
    return code, out, err


def _png_width(path: Path) -> int:
    """A PNG's width in pixels, from its header."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width: int = struct.unpack(">I", head[16:20])[0]
    return width


@pytest.mark.parametrize("model", ["logistic_regression", "logistic_regression_vector"])
def test_plot_on_dask_draws_the_loss_curve_alone(
    client: Client,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    data: tuple[Path, Path, Array, Array],
    model: str,
) -> None:
    """The loss curve only (one panel, 6 in at 110 dpi): the rows stay on the workers. In memory the
    model of scalars with two inputs draws the decision boundary beside it (two panels, 11 in)."""
    pattern, whole, _, _ = data
    on_dask = tmp_path / "dask.png"
    code, _, err = _train(capsys, model, pattern, "--epochs", "5", "--plot", str(on_dask), client=client)
    assert code == 0, err
    assert f"wrote {on_dask}" in err
    assert _png_width(on_dask) == 6 * 110
    if model == "logistic_regression":
        in_memory = tmp_path / "memory.png"
        code, _, err = _train(capsys, model, whole, "--epochs", "5", "--plot", str(in_memory))
        assert code == 0, err
        assert _png_width(in_memory) == 11 * 110


@pytest.mark.parametrize("method", ["sgd", "adam"])
def test_ctrl_c_in_minibatches_on_dask_says_the_final_gradient_was_not_evaluated(
    client: Client,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data: tuple[Path, Path, Array, Array],
    method: str,
) -> None:
    """Ctrl-C during epoch 2's pass over the partitions: the parameters are epoch 1's (those of a run
    of one epoch), the table says the gradient at them was not evaluated (no 'nan') and that the loss
    is epoch 1's over its minibatches, not one at those parameters; --json's gradient_norm and loss
    are null, and its last_epoch_loss is epoch 1's."""
    pattern, _, _, _ = data
    common = ["--method", method, "--batch-size", "16", "--seed", "4"]
    code, out, err = _train(
        capsys, "logistic_regression_vector", pattern, *common, "--epochs", "1", "--json", client=client
    )
    assert code == 0, err
    one_epoch = json.loads(out)
    real = Partitioned.chain
    passes = 0

    def chain(self: Partitioned, *args: Any) -> Any:
        nonlocal passes
        passes += 1
        if passes % 2 == 0:  # each run's second epoch
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(Partitioned, "chain", chain)
    model, argv = "logistic_regression_vector", [*common, "--epochs", "5"]
    code, out, err = _train(capsys, model, pattern, *argv, "--json", client=client)
    assert code == 130, err
    stopped = json.loads(out)
    assert (stopped["stopped"], stopped["epochs"], stopped["gradient_norm"]) == ("interrupted", 1, None)
    assert stopped["loss"] is None and isinstance(stopped["last_epoch_loss"], float)
    assert stopped["last_epoch_loss"] > 0
    np.testing.assert_array_equal(stopped["parameters"]["w"], one_epoch["parameters"]["w"])
    assert stopped["parameters"]["b"] == one_epoch["parameters"]["b"]
    code, out, err = _train(capsys, model, pattern, *argv, client=client)
    assert code == 130, err
    assert "nan" not in out.lower()
    table = " ".join(out.split())
    assert "gradient norm │ not evaluated (interrupted)" in table
    assert "last epoch's loss │" in table and "final loss" not in table


def _relative(got: Any, want: Any) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300)))


@pytest.mark.parametrize("model", ["logistic_regression", "logistic_regression_vector"])
def test_standardize_on_dask_is_standardize_in_memory(
    client: Client,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    data: tuple[Path, Path, Array, Array],
    model: str,
) -> None:
    """The means and scales over three files are NumPy's mean and std of all the rows (ddof 0), as in
    memory from one CSV, and the parameters trained on them are memory's; --save records them."""
    pattern, whole, x, _ = data
    options = ["--standardize", "--epochs", "20", "--lr", "0.5", "--json"]
    saved = tmp_path / "fit.json"
    code, out, err = _train(capsys, model, pattern, *options, "--save", str(saved), client=client)
    assert code == 0, err
    on_dask = json.loads(out)
    code, out, err = _train(capsys, model, whole, *options)
    assert code == 0, err
    in_memory = json.loads(out)
    means, scales = on_dask["standardized"]["means"], on_dask["standardized"]["scales"]
    if model == "logistic_regression":
        means, scales = [means["x1"], means["x2"]], [scales["x1"], scales["x2"]]
    else:
        means, scales = means["x"], scales["x"]
    assert _relative(means, x.mean(axis=0)) <= 1e-12
    assert _relative(scales, x.std(axis=0)) <= 1e-12
    assert on_dask["standardized"].keys() == in_memory["standardized"].keys()
    for key in ("means", "scales"):
        for name, value in in_memory["standardized"][key].items():
            assert _relative(on_dask["standardized"][key][name], value) <= 1e-12
    assert on_dask["parameters"].keys() == in_memory["parameters"].keys()
    for name, value in in_memory["parameters"].items():
        assert _relative(on_dask["parameters"][name], value) <= 1e-10, name
    assert json.loads(saved.read_text())["standardized"] == on_dask["standardized"]


def _held_out(fraction: float, seed: int) -> tuple[Array, Array]:
    """The rows of each file (k in file order) --test-fraction holds out on Dask, built here: round(
    fraction × its rows) first of `default_rng((seed, k))`'s permutation; (training, held-out) row
    numbers of the whole data, in file order."""
    train, test = [], []
    first = 0
    for k, count in enumerate(PARTS):
        order = np.random.default_rng((seed, k)).permutation(count)
        held = round(fraction * count)
        test.append(first + np.sort(order[:held]))
        train.append(first + np.sort(order[held:]))
        first += count
    return np.concatenate(train), np.concatenate(test)


@pytest.mark.parametrize(
    ("model", "standardize"), [("logistic_regression", False), ("logistic_regression_vector", True)]
)
def test_test_fraction_on_dask_holds_out_each_files_rows_and_tests_on_them(
    client: Client,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    data: tuple[Path, Path, Array, Array],
    model: str,
    standardize: bool,
) -> None:
    """The parameters are those trained in memory on the training rows alone (standardized by their
    own statistics), and the test loss and accuracy are NumPy's logistic regression on the held-out
    rows at those parameters."""
    pattern, _, x, y = data
    train, test = _held_out(0.25, 7)
    _write(tmp_path / "train.csv", x[train], y[train])
    common = [
        "--epochs",
        "20",
        "--lr",
        "0.5",
        "--seed",
        "7",
        "--json",
        *(["--standardize"] if standardize else []),
    ]
    code, out, err = _train(capsys, model, pattern, "--test-fraction", "0.25", *common, client=client)
    assert code == 0, err
    on_dask = json.loads(out)
    code, out, err = _train(capsys, model, tmp_path / "train.csv", *common)
    assert code == 0, err
    in_memory = json.loads(out)
    assert on_dask["samples"] == in_memory["samples"] == len(train)
    for name, value in in_memory["parameters"].items():
        assert _relative(on_dask["parameters"][name], value) <= 1e-10, name
    means, scales = x[train].mean(axis=0), x[train].std(axis=0)
    if standardize:
        assert _relative(on_dask["standardized"]["means"]["x"], means) <= 1e-12
    else:
        means, scales = np.zeros(2), np.ones(2)
    found = on_dask["parameters"]
    w = found["w"] if "w" in found else [found["w1"], found["w2"]]
    z = ((x[test] - means) / scales) @ np.asarray(w) + found["b"]
    loss = np.mean(np.logaddexp(0, z) - y[test] * z)  # binary cross-entropy of σ(z), stably
    assert on_dask["test"]["rows"] == len(test) == sum(round(0.25 * count) for count in PARTS)
    assert _relative(on_dask["test"]["loss"], loss) <= 1e-10
    assert on_dask["test"]["accuracy"] == np.mean((z >= 0) == (y[test] == 1))


def test_a_file_test_fraction_would_leave_no_training_row_is_one_line(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.csv").write_text("x1,x2,y\n0.5,1,0\n-1,0.25,1\n0.3,-2,0\n2,1.5,1\n")
    (tmp_path / "parts" / "b.csv").write_text("x1,x2,y\n0.75,0.5,1\n")
    pattern = str(tmp_path / "parts" / "*.csv")
    code, out, err = _train(capsys, "logistic_regression", pattern, "--test-fraction", "0.6", client=client)
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: {tmp_path / 'parts' / 'b.csv'}: --test-fraction 0.6 of its 1 rows leaves no row "
        "to train on: each file holds out round(fraction × its rows) (choose a smaller fraction, or put "
        "more rows in each file)\n"
    )


@pytest.mark.parametrize("model", ["logistic_regression", "logistic_regression_vector"])
def test_newton_on_dask_is_newton_in_memory(
    client: Client,
    capsys: pytest.CaptureFixture[str],
    data: tuple[Path, Path, Array, Array],
    model: str,
) -> None:
    """The Hessian is a mean over the rows, as the gradient is: summed over the three files, each
    iteration is memory's, to the parameters and each iteration's loss."""
    pattern, whole, _, _ = data
    options = ["--method", "newton", "--epochs", "6", "--json"]
    code, out, err = _train(capsys, model, pattern, *options, client=client)
    assert code == 0, err
    on_dask = json.loads(out)
    code, out, err = _train(capsys, model, whole, *options)
    assert code == 0, err
    in_memory = json.loads(out)
    assert on_dask["method"] == "newton"
    assert (on_dask["epochs"], on_dask["stopped"]) == (in_memory["epochs"], in_memory["stopped"])
    assert on_dask["backend"] == in_memory["backend"].replace(";", " on 2 Dask workers;", 1)
    assert on_dask["backend"].endswith("; the batch module for the Hessian (Xᵀ S X / m)")
    for name, value in in_memory["parameters"].items():
        assert _relative(on_dask["parameters"][name], value) <= 1e-10, name
    losses = [step["loss"] for step in on_dask["iterations"]]
    assert _relative(losses, [step["loss"] for step in in_memory["iterations"]]) <= 1e-12
    assert losses[-1] < 0.9 * losses[0]
