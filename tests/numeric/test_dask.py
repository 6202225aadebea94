"""Training on Dask (`train --dask` / `--scheduler`, and the Python API on Dask collections).

One `LocalCluster` of 2 worker processes is shared by the module. Its workers are limited to
600 MB each, and the large data set is 3e6 × 30 float64 plus labels (744 MB) in 20 Parquet
files: larger than either worker's limit, so neither can hold it, and more than half of the
cluster's memory, so every pass reads the files again. A worker process with Dask, pyarrow and
SymPy loaded takes 300-350 MB of its limit before it reads any data, and Dask pauses a worker at
80% of its limit: a quarter of the data set (186 MB), or even 400 MB, would leave a worker paused
or restarted before it could read a partition.

Skipped, with the reason, where the optional extra symcalc-gradients[dask] is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("dask", reason="needs the extra symcalc-gradients[dask]")
pytest.importorskip("distributed", reason="needs the extra symcalc-gradients[dask]")
pytest.importorskip("pyarrow", reason="needs the extra symcalc-gradients[dask]")

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client, LocalCluster

import symcalc
from symcalc.cli import work
from symcalc.cli.main import main
from symcalc.errors import DataError
from symcalc.numeric.batch_fit import batch_model, initial_parameters
from symcalc.numeric.descent import Epoch, train
from symcalc.numeric.distributed import cluster, from_dask, from_files
from symcalc.numeric.fit import Method, minibatches
from symcalc.numeric.model import NumericModel
from tests.conftest import REPO

pytestmark = pytest.mark.dask  # run by `.ci/run`; the quick set leaves Dask out

ROWS, FEATURES, FILES = 3_000_000, 30, 20
MEMORY_LIMIT = 600 * 1000**2
NAMES = [f"x{i}" for i in range(1, FEATURES + 1)]

Columns = dict[str, np.ndarray[Any, Any]]
Params = dict[str, Any]


def _features(rows: int, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """rows × FEATURES standard normal features (columns contiguous) and 0/1 labels of a logistic
    model, so that the loss has a finite minimum."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((FEATURES, rows)).T
    truth = np.linspace(-1, 1, FEATURES)
    y = (rng.random(rows) < 1 / (1 + np.exp(-(x @ truth + 0.3)))).astype(np.float64)
    return x, y


def _write_parquet(folder: Path, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], files: int) -> None:
    folder.mkdir()
    for k, rows in enumerate(np.array_split(np.arange(len(y)), files)):
        table = pa.table({**{name: x[rows, i] for i, name in enumerate(NAMES)}, "y": y[rows]})
        pq.write_table(table, folder / f"part{k:02d}.parquet", compression="none")  # quick to read


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Columns]:
    """The large data set in 20 Parquet files, and the same columns in memory."""
    folder = tmp_path_factory.mktemp("big") / "data"
    x, y = _features(ROWS, 1)
    _write_parquet(folder, x, y, FILES)
    return folder, {**{name: x[:, i] for i, name in enumerate(NAMES)}, "y": y}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Columns]:
    """4000 rows: in 4 Parquet files, in one CSV file, and in memory."""
    root = tmp_path_factory.mktemp("small")
    x, y = _features(4000, 2)
    _write_parquet(root / "parts", x, y, 4)
    csv = root / "all.csv"
    lines = [",".join([*NAMES, "y"])]
    lines += [",".join([*(repr(float(v)) for v in x[r]), str(int(y[r]))]) for r in range(len(y))]
    csv.write_text("\n".join(lines) + "\n")
    return root / "parts", csv, {**{name: x[:, i] for i, name in enumerate(NAMES)}, "y": y}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit=MEMORY_LIMIT,
            processes=True,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def numeric() -> NumericModel:
    """logistic_regression_vector at n = 30 (x1 … x30), built here once."""
    model = NumericModel(work.program_file("logistic_regression_vector", {"n": FEATURES}))
    model.build()
    return model


def _params(seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return {**{f"w{i}": float(v) for i, v in enumerate(rng.normal(0, 0.3, FEATURES), 1)}, "b": 0.1}


def _by_hand(params: dict[str, float], columns: Columns) -> tuple[float, np.ndarray[Any, Any]]:
    """The oracle: logistic regression's mean loss and gradient (w1 … w30, b) in plain NumPy."""
    x = np.column_stack([columns[name] for name in NAMES])
    y = columns["y"]
    w = np.array([params[f"w{i}"] for i in range(1, FEATURES + 1)])
    z = x @ w + params["b"]
    loss = float(np.mean(np.logaddexp(0, z) - y * z))
    residual = 1 / (1 + np.exp(-z)) - y
    return loss, np.append(x.T @ residual, residual.sum()) / len(y)


def _vector(gradient: dict[str, float]) -> np.ndarray[Any, Any]:
    return np.array([gradient[f"w{i}"] for i in range(1, FEATURES + 1)] + [gradient["b"]])


def _close(got: np.ndarray[Any, Any], want: np.ndarray[Any, Any], relative: float) -> bool:
    return bool(np.max(np.abs(got - want)) <= relative * np.max(np.abs(want)))


@pytest.mark.slow
def test_the_loss_and_gradient_on_the_cluster_are_those_in_memory_and_by_hand(
    client: Client, big: tuple[Path, Columns], numeric: NumericModel
) -> None:
    folder, columns = big
    data_bytes = sum(c.nbytes for c in columns.values())
    limits = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
    assert len(limits) == 2 and all(limit < data_bytes for limit in limits)
    data = from_files(str(folder / "*.parquet"), client)
    params = _params(3)
    data.check(numeric, params, None)
    assert data.rows == ROWS and data.where == "C kernel on 2 Dask workers"
    assert not data.persist_if_it_fits(numeric)  # more than half of the cluster's memory: read each pass
    loss, gradient = numeric.evaluate(params, data)
    memory_loss, memory_gradient = numeric.evaluate(params, columns)
    hand_loss, hand_gradient = _by_hand(params, columns)
    assert abs(loss - memory_loss) <= 1e-12 * abs(memory_loss)
    assert _close(_vector(gradient), _vector(memory_gradient), 1e-12)
    assert abs(loss - hand_loss) <= 1e-12 * abs(hand_loss)
    assert _close(_vector(gradient), hand_gradient, 1e-12)


@pytest.mark.slow
def test_twenty_epochs_on_the_cluster_give_the_parameters_in_memory(
    client: Client, big: tuple[Path, Columns], numeric: NumericModel
) -> None:
    folder, columns = big
    data = from_files(str(folder / "*.parquet"), client)
    start = numeric.start(0)
    on_cluster = train(lambda p: numeric.evaluate(p, data), start, 0.5, 20)
    in_memory = train(lambda p: numeric.evaluate(p, columns), start, 0.5, 20)
    assert on_cluster.epoch == in_memory.epoch == 20
    assert in_memory.loss < on_cluster.history[0] - 0.1  # it trained
    got, want = _vector(on_cluster.parameters), _vector(in_memory.parameters)
    assert _close(got, want, 1e-10)


@pytest.mark.slow
def test_a_worker_killed_during_a_run_is_replaced_and_the_result_is_the_same(
    client: Client, big: tuple[Path, Columns], numeric: NumericModel
) -> None:
    folder, columns = big
    data = from_files(str(folder / "*.parquet"), client)
    before = set(client.scheduler_info()["workers"])
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    killed = threading.Event()

    def kill() -> None:
        os.kill(pids[victim], signal.SIGKILL)
        killed.set()

    def on_epoch(record: Epoch) -> None:
        if record.epoch == 3:  # killed while the pass of the next epoch runs
            threading.Timer(0.3, kill).start()

    start = numeric.start(1)
    on_cluster = train(lambda p: numeric.evaluate(p, data), start, 0.5, 10, on_epoch=on_epoch)
    assert killed.is_set()
    client.wait_for_workers(2, timeout=60)
    after = set(client.scheduler_info()["workers"])
    assert victim not in after and len(after) == 2 and after != before  # the nanny started a new one
    in_memory = train(lambda p: numeric.evaluate(p, columns), start, 0.5, 10)
    assert on_cluster.epoch == 10
    assert _close(_vector(on_cluster.parameters), _vector(in_memory.parameters), 1e-10)


def test_partitions_that_fit_are_read_once_into_the_workers_and_give_the_same_result(
    client: Client, small: tuple[Path, Path, Columns], numeric: NumericModel
) -> None:
    folder, _, columns = small
    data = from_files(str(folder / "*.parquet"), client)
    params = _params(4)
    data.check(numeric, params, None)
    assert data.persist_if_it_fits(numeric)
    assert all(not isinstance(part, str) for part in data.parts)  # futures of the read columns
    loss, gradient = numeric.evaluate(params, data)
    memory_loss, memory_gradient = numeric.evaluate(params, columns)
    assert abs(loss - memory_loss) <= 1e-12 * abs(memory_loss)
    assert _close(_vector(gradient), _vector(memory_gradient), 1e-12)
    assert numeric.accuracy(params, data) == numeric.accuracy(params, columns)


@pytest.mark.slow
def test_the_python_api_takes_a_dask_dataframe_and_dask_arrays(
    client: Client, small: tuple[Path, Path, Columns], numeric: NumericModel
) -> None:
    import dask.array as da
    import dask.dataframe as dd

    folder, _, columns = small
    params = _params(5)
    memory_loss, memory_gradient = numeric.evaluate(params, columns)
    frame = dd.read_parquet(str(folder / "*.parquet"))
    loss, gradient = numeric.evaluate(params, frame)
    assert abs(loss - memory_loss) <= 1e-12 * abs(memory_loss)
    assert _close(_vector(gradient), _vector(memory_gradient), 1e-12)
    assert numeric.loss(params, frame) == loss
    stepped = numeric.step(params, frame, 0.5)
    assert stepped == {p: v - 0.5 * gradient[p] for p, v in params.items()}
    x = np.column_stack([columns[name] for name in NAMES])
    w = np.array([params[f"w{i}"] for i in range(1, FEATURES + 1)])
    lazy = {"x": da.from_array(x, chunks=(1000, FEATURES)), "y": da.from_array(columns["y"], chunks=1000)}
    array_loss, array_gradients = numeric.evaluate_arrays({"w": w, "b": params["b"]}, lazy)
    assert abs(array_loss - memory_loss) <= 1e-12 * abs(memory_loss)
    assert _close(np.append(array_gradients["w"], array_gradients["b"]), _vector(memory_gradient), 1e-12)


# -- bad partitions: one line naming the file, exit 2, through --scheduler on the shared cluster --------


def _scheduler_run(
    client: Client, capsys: pytest.CaptureFixture[str], pattern: str, *options: str
) -> tuple[int, str, str]:
    code = main(
        ["train", "--data", pattern, "--scheduler", client.scheduler.address, "--epochs", "3", *options]
    )
    out, err = capsys.readouterr()
    return code, out, err


def _good_rows(folder: Path, files: int) -> None:
    x, y = _features(300, 6)
    for k, rows in enumerate(np.array_split(np.arange(300), files)):
        pq.write_table(pa.table({"x1": x[rows, 0], "x2": x[rows, 1], "y": y[rows]}), folder / f"p{k}.parquet")


BAD_PARQUET = {
    "a missing column": (
        pa.table({"x1": [0.5, 1.0], "y": [0.0, 1.0]}),
        "p9.parquet: no column 'x2': the model needs x1, x2, y; the file has 'x1', 'y' "
        "(name the file's column for each with --columns NAME=COLUMN[,...], e.g. --columns x2=COLUMN)",
    ),
    "a non-number": (
        pa.table({"x1": [0.5, 1.0, 2.0], "x2": ["1.5", "2", "abc"], "y": [0.0, 1.0, 0.0]}),
        "p9.parquet, row 3, column 'x2': 'abc' is not a number",
    ),
    "an empty cell": (
        pa.table({"x1": [0.5, None], "x2": [1.0, 2.0], "y": [0.0, 1.0]}),
        "p9.parquet, row 2, column 'x1': empty cell",
    ),
    "a non-finite number": (
        pa.table({"x1": [0.5, 1.0], "x2": [1.0, float("inf")], "y": [0.0, 1.0]}),
        "p9.parquet, row 2, column 'x2': 'inf' is not a finite number",
    ),
    "a label 2": (
        pa.table({"x1": [0.5, 1.0], "x2": [1.0, 2.0], "y": [0.0, 2.0]}),
        "p9.parquet, row 2, column 'y': 2 is not a label",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PARQUET))
def test_a_bad_parquet_partition_is_one_line_naming_the_file(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    _good_rows(tmp_path, 3)
    table, message = BAD_PARQUET[case]
    pq.write_table(table, tmp_path / "p9.parquet")
    code, out, err = _scheduler_run(client, capsys, str(tmp_path / "*.parquet"), "logistic_regression")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"symcalc: error: {tmp_path}/"), err
    assert message in err


def test_an_unreadable_parquet_file_is_one_line_naming_it(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _good_rows(tmp_path, 2)
    (tmp_path / "p5.parquet").write_bytes(b"not parquet at all\n" * 10)
    code, out, err = _scheduler_run(client, capsys, str(tmp_path / "*.parquet"), "logistic_regression")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"symcalc: error: {tmp_path / 'p5.parquet'}: cannot be read as Parquet ("), err


def test_a_bad_csv_partition_gives_the_csv_message_naming_the_file(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_text("x1,x2,y\n0.5,1,0\n1.5,2,1\n")
    (tmp_path / "b.csv").write_text("x1,x2,y\n0.5,1,0\n1.5,abc,1\n")
    code, out, err = _scheduler_run(client, capsys, str(tmp_path / "*.csv"), "logistic_regression")
    assert code == 2 and out == ""
    assert err == f"symcalc: error: {tmp_path / 'b.csv'}, line 3, column 'x2': 'abc' is not a number\n"


def test_one_class_over_all_the_partitions_is_refused(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for k in range(2):
        pq.write_table(pa.table({"x1": [0.5, 1.0], "x2": [1.0, 2.0], "y": [1.0, 1.0]}), tmp_path / f"{k}.pq")
    code, _, err = _scheduler_run(client, capsys, str(tmp_path / "*.pq"), "logistic_regression")
    assert code == 2
    assert err == (
        f"symcalc: error: {tmp_path / '*.pq'}, column 'y': every label is 1: one class only, so the loss "
        "has no minimum and the weights would grow for ever (the data need samples of both classes 0 and 1)\n"
    )


@pytest.mark.parametrize("model", ["logistic_regression", "logistic_regression_vector"])
def test_csv_partitions_of_one_class_each_train_as_the_whole_file_does(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path, model: str
) -> None:
    """Each file holds one class of y (data sorted by label, then split): both classes are in the
    data, so they train (before: the first file was refused as having one class only), and the
    parameters are those of training on the whole file in memory."""
    (tmp_path / "parts").mkdir()
    rows = ["0.5,1,0", "-1,0.25,0", "0.3,-2,0", "-2,-1,1", "2,1.5,1", "0.75,0.5,1"]
    (tmp_path / "parts" / "a.csv").write_text("x1,x2,y\n" + "\n".join(rows[:3]) + "\n")
    (tmp_path / "parts" / "b.csv").write_text("x1,x2,y\n" + "\n".join(rows[3:]) + "\n")
    (tmp_path / "whole.csv").write_text("x1,x2,y\n" + "\n".join(rows) + "\n")
    code, out, err = _scheduler_run(client, capsys, str(tmp_path / "parts" / "*.csv"), model, "--json")
    assert code == 0, err
    assert main(["train", model, "--data", str(tmp_path / "whole.csv"), "--epochs", "3", "--json"]) == 0
    in_memory = json.loads(capsys.readouterr().out)["parameters"]
    on_dask = json.loads(out)["parameters"]
    assert on_dask.keys() == in_memory.keys()
    for name, value in in_memory.items():
        np.testing.assert_allclose(on_dask[name], value, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_train_on_an_existing_scheduler_matches_training_in_memory(
    client: Client, capsys: pytest.CaptureFixture[str], small: tuple[Path, Path, Columns]
) -> None:
    folder, csv, _ = small
    common = ["logistic_regression_vector", "--epochs", "100", "--json"]
    code, out, err = _scheduler_run(client, capsys, str(folder / "*.parquet"), *common)
    assert code == 0, err
    assert main(["train", "--data", str(csv), "--epochs", "100", "--json", "logistic_regression_vector"]) == 0
    in_memory = json.loads(capsys.readouterr().out)
    on_cluster = json.loads(out)
    assert on_cluster["backend"] == "the batch module (codegen --target numpy) on 2 Dask workers"
    assert on_cluster["samples"] == in_memory["samples"] == 4000
    assert on_cluster["accuracy"] == in_memory["accuracy"]
    got = np.append(on_cluster["parameters"]["w"], on_cluster["parameters"]["b"])
    want = np.append(in_memory["parameters"]["w"], in_memory["parameters"]["b"])
    assert _close(got, want, 1e-10)


@pytest.mark.slow
def test_train_dask_in_a_subprocess_matches_training_in_memory(small: tuple[Path, Path, Columns]) -> None:
    """The command a user runs: its own LocalCluster of 2 workers, closed at the end."""
    folder, csv, _ = small
    environment = {**os.environ, "PYTHONPATH": str(REPO)}

    def train_json(*options: str) -> tuple[dict[str, Any], str]:
        command = [sys.executable, "-m", "symcalc", "train", "logistic_regression_vector", "--json"]
        done = subprocess.run(
            [*command, "--epochs", "100", *options],
            capture_output=True,
            text=True,
            timeout=300,
            env=environment,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout), done.stderr

    on_cluster, err = train_json("--data", str(folder / "*.parquet"), "--dask", "--workers", "2")
    in_memory, _ = train_json("--data", str(csv))
    assert "Traceback" not in err
    assert on_cluster["backend"] == "the batch module (codegen --target numpy) on 2 Dask workers"
    assert on_cluster["epochs"] == in_memory["epochs"] == 100
    got = np.append(on_cluster["parameters"]["w"], on_cluster["parameters"]["b"])
    want = np.append(in_memory["parameters"]["w"], in_memory["parameters"]["b"])
    assert _close(got, want, 1e-10)
    assert abs(on_cluster["loss"] - in_memory["loss"]) <= 1e-12 * in_memory["loss"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--dask"], "symcalc: error: --dask needs --data (e.g. --data 'data/*.parquet')\n"),
        (
            ["--dask", "--scheduler", "tcp://127.0.0.1:8786", "--data", "d/*.parquet"],
            "symcalc: error: --dask and --scheduler both given (--dask starts a cluster here; --scheduler "
            "uses one)\n",
        ),
        (
            ["--dask", "--data", "d.parquet", "--memory-limit", "lots"],
            "symcalc: error: --memory-limit lots: is not an amount of memory (e.g. 2GB or 500MiB)\n",
        ),
        (
            ["--dask", "--data", "nothing/*.parquet"],
            "symcalc: error: nothing/*.parquet: no file matches (check the pattern; quote it so the "
            "shell leaves it)\n",
        ),
    ],
)
def test_conflicting_or_incomplete_dask_options_are_one_line(
    capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    assert main(["train", *options]) == 2
    assert capsys.readouterr().err == message


def test_a_row_outside_the_losss_domain_is_one_line_naming_the_file_and_row(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    model = tmp_path / "log_target.toml"
    model.write_text(
        'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n[definitions]\nL = "(w*x - log(y))^2"\n'
    )
    pq.write_table(pa.table({"x": [0.5, 1.0], "y": [1.0, 2.0]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"x": [0.5, 1.0, 1.5], "y": [1.0, 2.0, 0.0]}), tmp_path / "b.parquet")
    code, out, err = _scheduler_run(client, capsys, str(tmp_path / "*.parquet"), str(model))
    assert code == 2 and out == ""
    assert err == (
        f"symcalc: error: {tmp_path / 'b.parquet'}, row 3: the loss is inf for this row at the starting "
        "parameters: a value outside the loss's domain\n"
    )


@pytest.mark.parametrize(
    ("x1", "message"),
    [
        (pd.array([0.5, None], dtype="Float64"), "partition 2, row 2, column 'x1': empty cell"),
        (["0.5", "abc"], "partition 2, row 2, column 'x1': 'abc' is not a number"),
        ([0.5, np.nan], "partition 2, row 2, column 'x1': 'nan' is not a finite number"),
    ],
)
def test_a_bad_partition_of_a_dask_dataframe_is_named_by_its_number(x1: Any, message: str) -> None:
    import dask.dataframe as dd

    numeric = NumericModel(work.program_file("logistic_regression", {}))
    good = pd.DataFrame({"x1": [0.1, 0.2], "x2": [1.0, 2.0], "y": [0.0, 1.0]})
    bad = pd.DataFrame({"x1": x1, "x2": [1.0, 2.0], "y": [0.0, 1.0]})
    frame = dd.concat([dd.from_pandas(good, npartitions=1), dd.from_pandas(bad, npartitions=1)])
    with pytest.raises(DataError) as raised:
        numeric.evaluate({"w1": 0.1, "w2": 0.2, "b": 0.0}, frame)
    assert raised.value.message.startswith(message)


def test_a_cluster_starts_quietly_while_another_program_holds_dasks_usual_port() -> None:
    # Dask's dashboard port, 8787, taken (by another cluster, say): with it fixed, Dask warned on standard
    # error that it was hosting the HTTP server elsewhere (an error here: pytest turns warnings into errors).
    held = socket.socket()
    try:
        held.bind(("0.0.0.0", 8787))
        held.listen()
    except OSError:
        pass  # something already holds it: the same situation
    try:
        with cluster(None, 1, "auto") as client:
            assert len(client.scheduler_info()["workers"]) == 1
    finally:
        held.close()


def test_one_set_of_partitions_serves_two_models(small: tuple[Path, Path, Columns]) -> None:
    folder, _, columns = small
    data = from_files(str(folder / "*.parquet"))  # Dask's default scheduler, or the current client
    for name in ("logistic_regression_vector", "ridge_regression_vector"):
        numeric = NumericModel(work.program_file(name, {"n": FEATURES}))
        params = numeric.start(2)
        loss, gradient = numeric.evaluate(params, data)
        memory_loss, memory_gradient = numeric.evaluate(params, columns)
        assert abs(loss - memory_loss) <= 1e-12 * abs(memory_loss)
        assert _close(np.array(list(gradient.values())), np.array(list(memory_gradient.values())), 1e-12)


def test_a_parquet_file_that_decodes_beyond_a_workers_memory_is_one_line(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A few kilobytes of run-length code that decode to 0.48 GB: refused from the file's metadata
    before a worker reads it, rather than the worker killed again and again (KilledWorker)."""
    block = pa.table({name: np.full(1_000_000, 0.5) for name in ("x1", "x2", "y")})
    with pq.ParquetWriter(tmp_path / "big.parquet", block.schema) as writer:
        for _ in range(10):
            writer.write_table(block)
    assert (tmp_path / "big.parquet").stat().st_size < 1_000_000
    code, out, err = _scheduler_run(client, capsys, str(tmp_path / "big.parquet"), "linear_regression")
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: {tmp_path / 'big.parquet'}: its columns decode to 0.48 GB, more than half of this "
        "worker's memory limit (0.6 GB) (split it into smaller files, or raise --memory-limit)\n"
    )


# -- sgd and adam on the partitions: the parameters and optimizer state go to the data ----------------


@pytest.fixture(scope="module")
def derivation() -> symcalc.Derivation:
    return symcalc.derive(symcalc.Model.load("logistic_regression_vector", {"n": FEATURES}))


def _partition_wise(
    derivation: symcalc.Derivation, start: Params, columns: Columns, method: str, options: dict[str, Any]
) -> Params:
    """The oracle: in this process, over the rows of each of `small`'s 4 files (nothing concatenated),
    the minibatches `fit` on Dask deals (the files in an order from the seed each epoch, each file's
    rows shuffled by (seed, epoch, file)), each stepped by the batch module's gradients and the
    update of torch.optim.SGD (with momentum) or torch.optim.Adam written out plainly."""
    module = symcalc.load_module(batch_model(derivation).source)
    x, y = np.column_stack([columns[name] for name in NAMES]), columns["y"]
    files = np.array_split(np.arange(len(y)), 4)
    rate, seed, momentum = options["learning_rate"], options["seed"], options.get("momentum", 0.0)
    params = {name: np.array(value, dtype=np.float64) for name, value in start.items()}
    first = {name: np.zeros_like(value) for name, value in params.items()}  # buf, or Adam's mean
    second = {name: np.zeros_like(value) for name, value in params.items()}
    steps = 0
    order = np.random.default_rng(seed)
    for epoch in range(1, options["epochs"] + 1):
        for k in order.permutation(len(files)):
            rows = files[k]
            for chosen in minibatches(
                len(rows), options["batch_size"], np.random.default_rng((seed, epoch, k))
            ):
                _, grads = module.loss_and_gradient(params, {"x": x[rows][chosen], "y": y[rows][chosen]})
                steps += 1
                for name, g in grads.items():
                    if method == "sgd":
                        first[name] = momentum * first[name] + g
                        params[name] = params[name] - rate * first[name]
                        continue
                    first[name] = first[name] + (g - first[name]) * (1 - 0.9)
                    second[name] = second[name] * 0.999 + g * (1 - 0.999) * g
                    denominator = np.sqrt(second[name]) / np.sqrt(1 - 0.999**steps) + 1e-8
                    params[name] = params[name] - rate / (1 - 0.9**steps) * (first[name] / denominator)
    return params


def _relative(got: Params, want: Params) -> float:
    return max(float(np.max(np.abs(got[n] - want[n])) / np.max(np.abs(want[n]))) for n in want)


MINIBATCH_RUNS: dict[str, dict[str, Any]] = {
    "adam": {"learning_rate": 0.05, "epochs": 3, "batch_size": 64, "seed": 3},
    "sgd": {"learning_rate": 0.1, "epochs": 3, "batch_size": 50, "seed": 4, "momentum": 0.9},
}


@pytest.mark.parametrize("method", ["adam", "sgd"])
def test_sgd_and_adam_on_the_partitions_are_the_partition_wise_loop_in_one_process(
    client: Client, small: tuple[Path, Path, Columns], derivation: symcalc.Derivation, method: Method
) -> None:
    folder, _, columns = small
    options = MINIBATCH_RUNS[method]
    batch = batch_model(derivation)
    start = initial_parameters(batch, {"n": FEATURES}, seed=1)
    on_dask = symcalc.fit(
        derivation, from_files(str(folder / "*.parquet"), client), start, method=method, **options
    )
    want = _partition_wise(derivation, start, columns, method, options)
    assert [p.epoch for p in on_dask.history] == [0, 1, 2, 3] and on_dask.message == "stopped after 3 epochs"
    assert np.max(np.abs(want["w"] - start["w"])) > 0.1  # it moved
    assert _relative(on_dask.parameters, want) <= 1e-12
    assert on_dask.history[-1].loss < on_dask.history[0].loss


def test_fit_takes_dask_arrays_and_a_dask_dataframe_bare_or_partitioned_as_it_takes_the_files(
    client: Client, small: tuple[Path, Path, Columns], derivation: symcalc.Derivation
) -> None:
    import dask.array as da
    import dask.dataframe as dd

    folder, _, columns = small
    x = np.column_stack([columns[name] for name in NAMES])
    arrays = {"x": da.from_array(x, chunks=(1000, FEATURES)), "y": da.from_array(columns["y"], chunks=1000)}
    options: dict[str, Any] = {
        "method": "adam",
        "learning_rate": 0.05,
        "epochs": 2,
        "batch_size": 64,
        "seed": 5,
    }
    files = symcalc.fit(derivation, from_files(str(folder / "*.parquet"), client), **options)
    frame = dd.read_parquet(str(folder / "*.parquet"))
    for data in (arrays, frame, from_dask(frame)):
        fitted = symcalc.fit(derivation, data, **options)
        assert all(np.array_equal(fitted.parameters[n], files.parameters[n]) for n in ("w", "b"))
    with pytest.raises(symcalc.SymcalcError, match="takes a derivation"):
        symcalc.fit(symcalc.load_module(batch_model(derivation).source), arrays, **options)


@pytest.mark.frameworks
def test_adam_on_the_partitions_is_a_pytorch_loop_over_the_same_minibatches(
    client: Client, small: tuple[Path, Path, Columns], derivation: symcalc.Derivation
) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is this test's oracle")
    folder, _, columns = small
    options = MINIBATCH_RUNS["adam"]
    start = initial_parameters(batch_model(derivation), {"n": FEATURES}, seed=2)
    on_dask = symcalc.fit(derivation, from_files(str(folder / "*.parquet"), client), start, **options)
    x = torch.tensor(np.column_stack([columns[name] for name in NAMES]))
    y = torch.tensor(columns["y"])
    w = torch.tensor(start["w"], requires_grad=True)
    b = torch.tensor(np.asarray(start["b"], dtype=np.float64), requires_grad=True)
    adam = torch.optim.Adam([w, b], lr=options["learning_rate"])
    files = np.array_split(np.arange(len(y)), 4)
    order = np.random.default_rng(options["seed"])
    for epoch in range(1, options["epochs"] + 1):
        for k in order.permutation(4):
            shuffle = np.random.default_rng((options["seed"], epoch, k))
            for chosen in minibatches(len(files[k]), options["batch_size"], shuffle):
                rows = torch.tensor(files[k][chosen])
                loss = torch.nn.functional.binary_cross_entropy_with_logits(x[rows] @ w + b, y[rows])
                adam.zero_grad()
                loss.backward()
                adam.step()
    assert _relative(on_dask.parameters, {"w": w.detach().numpy(), "b": b.detach().numpy()}) <= 1e-10


def test_train_dask_adam_prints_the_parameters_of_the_partition_wise_fit(
    client: Client,
    small: tuple[Path, Path, Columns],
    derivation: symcalc.Derivation,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, _, _ = small
    pattern = str(folder / "*.parquet")
    argv = ["train", "logistic_regression_vector", "--data", pattern, "--dask", "--workers", "2"]
    code = main([*argv, "--method", "adam", "--batch-size", "64", "--epochs", "3", "--seed", "3", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    printed = json.loads(out)
    fitted = symcalc.fit(
        derivation, from_files(pattern, client), method="adam", epochs=3, batch_size=64, seed=3
    )
    assert printed["backend"] == (
        "the batch module (codegen --target numpy) on 2 Dask workers, "
        "minibatches of 64 rows in each partition"
    )
    assert printed["epochs"] == 3 and printed["samples"] == 4000 and printed["method"] == "adam"
    got = {"w": np.array(printed["parameters"]["w"]), "b": np.array(printed["parameters"]["b"])}
    assert _relative(got, fitted.parameters) <= 1e-12
    assert printed["accuracy"] is not None and 0.5 < printed["accuracy"] <= 1
