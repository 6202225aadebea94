"""A model with vectors and matrices on Dask: `train --dask` steps on the sums of its batch module over
the partitions (`symcalc.numeric.batch_partitions`), as `train` does in memory, at any size.

The network is two_layer_network_vector at n = 40 inputs and h = 64 tanh units: 2 728 declared
entries, past the 2 000 the written-out model takes, which Dask computed on before. The oracle is
NumPy written here from the model's formulas, not symcalc's module. One `LocalCluster` of 2 worker
processes serves the module's `--scheduler` runs; the first test starts its own with `--dask`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("dask", reason="needs the extra symcalc-gradients[dask]")
pytest.importorskip("distributed", reason="needs the extra symcalc-gradients[dask]")
pytest.importorskip("pyarrow", reason="needs the extra symcalc-gradients[dask]")

import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client, LocalCluster

from symcalc.cli import work
from symcalc.cli.main import main
from symcalc.errors import SymcalcError
from symcalc.numeric.batch_data import columns_for
from symcalc.numeric.batch_partitions import BatchPartitions, BatchProgram
from symcalc.numeric.data import columns_of
from symcalc.numeric.distributed import from_files, partition_sums
from symcalc.symbolic.graph import Model
from tests.conftest import DERIVATIONS

pytestmark = pytest.mark.dask  # run by `.ci/run`; the quick set leaves Dask out

FEATURES, HIDDEN = 40, 64
#: Rows of each CSV partition: unequal, so that a partition's mean weighed by its rows matters.
PARTS = (250, 410, 340)
ROWS = sum(PARTS)

Array = np.ndarray[Any, np.dtype[np.float64]]
Params = dict[str, Any]


def _csv(path: Path, header: list[str], rows: Array, targets: Array) -> None:
    lines = [",".join(header)]
    lines += [
        ",".join([*(repr(float(v)) for v in row), str(int(t))]) for row, t in zip(rows, targets, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def _partitioned(folder: Path, x: Array, y: Array, header: list[str]) -> Path:
    """`x` and `y` in CSV partitions of `PARTS` rows under `folder`/parts, and all of them in one CSV."""
    (folder / "parts").mkdir()
    for k, rows in enumerate(np.split(np.arange(ROWS), np.cumsum(PARTS)[:-1])):
        _csv(folder / "parts" / f"part{k}.csv", header, x[rows], y[rows])
    _csv(folder / "all.csv", header, x, y)
    return folder / "all.csv"


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Array, Array]:
    """The model file at h = 64, the folder of partitions (n = 40 from their columns), and X and y."""
    folder = tmp_path_factory.mktemp("network")
    text = (DERIVATIONS / "two_layer_network_vector.toml").read_text(encoding="utf-8")
    assert "\nh = 3\n" in text
    model = folder / "network.toml"
    model.write_text(text.replace("\nh = 3\n", f"\nh = {HIDDEN}\n"), encoding="utf-8")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((ROWS, FEATURES))
    y = (x[:, 0] - 0.7 * x[:, 1] + 0.4 * x[:, 2] ** 2 + 0.3 * rng.standard_normal(ROWS) > 0.4).astype(float)
    _partitioned(folder, x, y, [*(f"x{i}" for i in range(1, FEATURES + 1)), "y"])
    return model, folder, x, y


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            memory_limit="1GB",
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,  # a bad partition's DataError is the test's, not the log's
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _by_hand(params: Params, x: Array, y: Array) -> tuple[float, Params]:
    """The oracle: the network's mean binary cross-entropy and its gradients, from its formulas
    (s = W x + c, g = tanh(s), z = v·g + b, a = σ(z)) by the chain rule in NumPy."""
    s = x @ params["W"].T + params["c"]
    g = np.tanh(s)
    z = g @ params["v"] + params["b"]
    loss = float(np.mean(np.logaddexp(0, z) - y * z))  # -(y log a + (1 - y) log(1 - a))
    dz = (1 / (1 + np.exp(-z)) - y) / len(y)
    ds = np.outer(dz, params["v"]) * (1 - g**2)
    return loss, {"W": ds.T @ x, "c": ds.sum(axis=0), "v": g.T @ dz, "b": dz.sum()}


def _start(seed: int) -> Params:
    """Where train's gd starts a model with vectors: 0.01 × normal numbers from --seed, parameter by
    parameter in the file's order (W, c, v, b), each row by row (docs/training.md)."""
    rng = np.random.default_rng(seed)
    shapes = {"W": (HIDDEN, FEATURES), "c": (HIDDEN,), "v": (HIDDEN,), "b": ()}
    return {name: 0.01 * rng.standard_normal(shape) for name, shape in shapes.items()}


def _relative(got: Any, want: Any) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def test_a_network_past_the_old_entry_limit_trains_on_dask_as_in_memory(
    network: tuple[Path, Path, Array, Array], capsys: pytest.CaptureFixture[str]
) -> None:
    model, folder, x, y = network
    with pytest.raises(SymcalcError, match="2728 entries; the limit is 2000"):
        Model.load(str(model), {"n": FEATURES})  # the written-out model: what Dask computed on before
    common = [str(model), "--method", "gd", "--lr", "2", "--epochs", "30", "--seed", "3", "--json"]
    code = main(["train", *common, "--data", str(folder / "parts" / "*.csv"), "--dask", "--workers", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    on_dask = json.loads(out)
    assert main(["train", *common, "--data", str(folder / "all.csv")]) == 0
    in_memory = json.loads(capsys.readouterr().out)
    assert on_dask["backend"] == "the batch module (codegen --target numpy) on 2 Dask workers"
    assert on_dask["samples"] == in_memory["samples"] == ROWS
    assert on_dask["epochs"] == in_memory["epochs"] == 30
    assert in_memory["loss"] < _by_hand(_start(3), x, y)[0] - 0.3  # it trained: from 0.693 to 0.28
    for name in ("W", "c", "v", "b"):
        assert np.shape(on_dask["parameters"][name]) == np.shape(in_memory["parameters"][name])
        assert _relative(on_dask["parameters"][name], in_memory["parameters"][name]) <= 1e-10, name
    assert abs(on_dask["loss"] - in_memory["loss"]) <= 1e-12 * in_memory["loss"]
    assert on_dask["accuracy"] == in_memory["accuracy"]


def test_the_partition_sums_are_the_networks_loss_and_gradient_by_hand(
    network: tuple[Path, Path, Array, Array], client: Client
) -> None:
    model, folder, x, y = network
    batch = work.batch_file(str(model))
    assert batch is not None
    header, _ = columns_of(folder / "all.csv")
    numeric = BatchPartitions(
        BatchProgram.of(batch, columns_for(batch, {**dict(batch.sizes), "n": FEATURES}, header))
    )
    rng = np.random.default_rng(5)
    params = {name: 0.3 * rng.standard_normal(np.shape(value)) for name, value in _start(0).items()}
    data = from_files(str(folder / "parts" / "*.csv"), client)
    data.check(numeric, params, None)
    assert data.rows == ROWS and data.where == "the batch module (codegen --target numpy) on 2 Dask workers"
    # each partition's (rows, rows × mean loss, rows × mean gradient), as a worker computes them
    job = data.job(numeric)
    start = 0
    for path, rows in zip(data.sources, PARTS, strict=True):
        count, loss_sum, gradient_sum = partition_sums(job, path, path, params, {})
        hand_loss, hand = _by_hand(params, x[start : start + rows], y[start : start + rows])
        assert count == rows
        assert abs(loss_sum - rows * hand_loss) <= 1e-12 * rows * hand_loss
        want = rows * np.concatenate([np.ravel(hand[name]) for name in ("W", "c", "v", "b")])
        assert gradient_sum is not None and _relative(gradient_sum, want) <= 1e-12
        start += rows
    # and added up on the cluster, each parameter's mean gradient in its shape
    loss, gradients = numeric.evaluate(params, data)
    hand_loss, hand = _by_hand(params, x, y)
    assert abs(loss - hand_loss) <= 1e-12 * hand_loss
    for name, value in hand.items():
        assert np.shape(gradients[name]) == np.shape(value)
        assert _relative(gradients[name], value) <= 1e-12, name


def test_the_python_api_evaluates_dask_arrays_by_the_batch_module_at_any_size(
    network: tuple[Path, Path, Array, Array], client: Client
) -> None:
    """`evaluate_arrays` on Dask arrays at n = 40 of a model loaded at its file's n = 2: each block by
    the batch module on a worker (the written-out model would need the 2 728 entries it refuses)."""
    import dask.array as da

    import symcalc

    model, _, x, y = network
    numeric = symcalc.compile_model(symcalc.derive(Model.load(str(model))))
    rng = np.random.default_rng(6)
    params = {name: 0.3 * rng.standard_normal(np.shape(value)) for name, value in _start(0).items()}
    lazy = {"x": da.from_array(x, chunks=(300, FEATURES)), "y": da.from_array(y, chunks=300)}
    loss, gradients = numeric.evaluate_arrays(params, lazy)
    hand_loss, hand = _by_hand(params, x, y)
    assert abs(loss - hand_loss) <= 1e-12 * hand_loss
    for name, value in hand.items():
        assert np.shape(gradients[name]) == np.shape(value)
        assert _relative(gradients[name], value) <= 1e-12, name
    with pytest.raises(SymcalcError, match="must have shape"):
        numeric.evaluate_arrays({**params, "W": params["W"][:, :3]}, lazy)


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """softmax_network_vector at h = 5, k = 3, and its data with y one column of class numbers 0, 1, 2."""
    folder = tmp_path_factory.mktemp("classes")
    text = (DERIVATIONS / "softmax_network_vector.toml").read_text(encoding="utf-8")
    model = folder / "softmax.toml"
    model.write_text(
        text.replace("\nh = 32\n", "\nh = 5\n").replace("\nk = 10\n", "\nk = 3\n"), encoding="utf-8"
    )
    rng = np.random.default_rng(12)
    x = rng.standard_normal((ROWS, 4))
    y = np.argmax(x[:, :3] + 0.5 * rng.standard_normal((ROWS, 3)), axis=1).astype(float)
    _partitioned(folder, x, y, ["x1", "x2", "x3", "x4", "y"])
    return model, folder


def test_a_class_number_target_is_read_one_hot_on_the_workers_as_in_memory(
    classes: tuple[Path, Path], client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    model, folder = classes
    common = [str(model), "--method", "lbfgs", "--epochs", "15", "--json"]
    code = main(
        ["train", *common, "--data", str(folder / "parts" / "*.csv"), "--scheduler", client.scheduler.address]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    on_dask = json.loads(out)
    assert main(["train", *common, "--data", str(folder / "all.csv")]) == 0
    in_memory = json.loads(capsys.readouterr().out)
    assert on_dask["epochs"] == in_memory["epochs"] == 15
    assert in_memory["accuracy"] > 0.6  # three classes: it learnt them (a third by chance)
    assert on_dask["accuracy"] == in_memory["accuracy"]
    for name in ("W", "c", "V", "b"):
        assert _relative(on_dask["parameters"][name], in_memory["parameters"][name]) <= 1e-10, name


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (
            lambda path: path.write_text("x1,x2,x3,x4,y\n0.5,1,2,3,0\n0.5,abc,2,3,1\n"),
            "{path}, line 3, column 'x2': 'abc' is not a number\n",
        ),
        (
            lambda path: path.write_text("x1,x2,x3,x4,y\n0.5,1,2,3,0\n0.5,1,2,3,3\n"),
            "{path}, line 3, column 'y': 3 is not a class number: y is declared y[3] and read from one "
            "column, so each value must be one of 0 … 2 (classes 0 … 2, or one-hot columns y1 … y3)\n",
        ),
    ],
    ids=["a non-number", "a class number past k"],
)
def test_a_bad_partition_is_one_line_naming_its_file(
    classes: tuple[Path, Path],
    client: Client,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    write: Any,
    message: str,
) -> None:
    model, folder = classes
    for part in sorted((folder / "parts").glob("*.csv")):
        (tmp_path / part.name).write_bytes(part.read_bytes())
    bad = tmp_path / "part9.csv"
    write(bad)
    code = main(
        ["train", str(model), "--data", str(tmp_path / "*.csv"), "--scheduler", client.scheduler.address]
    )
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == "symcalc: error: " + message.format(path=bad)


def test_a_class_number_in_a_parquet_partition_is_named_by_its_row(
    classes: tuple[Path, Path], client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    model, _ = classes
    good = {"x1": [0.5, 1.0], "x2": [1.0, 2.0], "x3": [0.0, 1.0], "x4": [2.0, 1.0], "y": [0.0, 2.0]}
    pq.write_table(pa.table(good), tmp_path / "a.parquet")
    pq.write_table(pa.table({**good, "y": [1.0, 1.5]}), tmp_path / "b.parquet")
    code = main(
        ["train", str(model), "--data", str(tmp_path / "*.parquet"), "--scheduler", client.scheduler.address]
    )
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith(
        f"symcalc: error: {tmp_path / 'b.parquet'}, row 2, column 'y': 1.5 is not a class number"
    ), err
    assert err.count("\n") == 1


def test_a_row_outside_the_losss_domain_is_named_by_the_batch_module_on_its_worker(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    model = tmp_path / "log_target.toml"
    model.write_text(
        'inputs = ["x[n]"]\ntargets = ["y"]\nparameters = ["w[n]"]\n[dimensions]\nn = 2\n'
        '[definitions]\nL = "(w @ x - log(y))^2"\n'
    )
    assert work.batch_file(str(model)) is not None  # the batch module names the row, not a written-out model
    pq.write_table(pa.table({"x1": [0.5, 1.0], "x2": [1.0, 2.0], "y": [1.0, 2.0]}), tmp_path / "a.parquet")
    bad = {"x1": [0.5, 1.0, 1.5, 2.0], "x2": [1.0, 2.0, 0.5, 1.0], "y": [1.0, 2.0, 0.0, 3.0]}
    pq.write_table(pa.table(bad), tmp_path / "b.parquet")
    code = main(
        ["train", str(model), "--data", str(tmp_path / "*.parquet"), "--scheduler", client.scheduler.address]
    )
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        f"symcalc: error: {tmp_path / 'b.parquet'}, row 3: the loss is inf for this row at the starting "
        "parameters: a value outside the loss's domain\n"
    )


def test_a_model_with_no_batch_form_still_trains_on_dask_by_the_written_out_model(
    client: Client, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert work.batch_file("attention_one_query", required=False) is None  # its softmax over tokens
    names = ["x1", "x2", "X1_1", "X1_2", "X2_1", "X2_2", "X3_1", "X3_2", "y1", "y2"]
    rows = np.random.default_rng(7).standard_normal((90, len(names)))

    def write(path: Path, part: Array) -> None:
        path.write_text("\n".join([",".join(names), *(",".join(map(repr, r)) for r in part.tolist())]) + "\n")

    (tmp_path / "parts").mkdir()
    for k, part in enumerate(np.split(rows, [40])):
        write(tmp_path / "parts" / f"p{k}.csv", part)
    write(tmp_path / "all.csv", rows)
    common = ["attention_one_query", "--epochs", "20", "--json"]
    address = client.scheduler.address
    assert main(["train", *common, "--data", str(tmp_path / "parts" / "*.csv"), "--scheduler", address]) == 0
    on_dask = json.loads(capsys.readouterr().out)
    assert main(["train", *common, "--data", str(tmp_path / "all.csv")]) == 0
    in_memory = json.loads(capsys.readouterr().out)
    assert on_dask["backend"].endswith(" on 2 Dask workers") and "batch module" not in on_dask["backend"]
    for name in ("Wq", "Wk", "Wv"):
        assert _relative(on_dask["parameters"][name], in_memory["parameters"][name]) <= 1e-10, name
