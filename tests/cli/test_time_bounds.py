"""`--timeout` holds for `train`: the process the user started does no symbolic work (the 0/1 label
check is decided in the limited child, by reading the definitions, never on the loss composed into one
tree), and every wait on a Dask scheduler is bounded by `--timeout`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import symcalc
from symcalc.numeric.data import binary_targets
from symcalc.symbolic.graph import Model
from tests.conftest import REPO, Runner, WriteToml


def deep_classifier(depth: int) -> str:
    """hₖ = tanh(w·hₖ₋₁ + v·hₖ₋₁²), a = σ(h_depth), binary cross-entropy: every hₖ₋₁ is used twice, so
    the loss written out in x1 alone doubles in size with each layer (2^24 leaves at depth 24)."""
    lines = ['h0 = "x1"']
    lines += [f'h{k} = "tanh(w*h{k - 1} + v*h{k - 1}^2)"' for k in range(1, depth + 1)]
    lines += [f'a = "sigmoid(h{depth})"', 'L = "-(y*log(a) + (1 - y)*log(1 - a))"']
    head = 'title = "deep"\ninputs = ["x1"]\ntargets = ["y"]\nparameters = ["w", "v"]\n[definitions]\n'
    return head + "\n".join(lines) + "\n"


def _labels_csv(path: Path, labels: list[int]) -> Path:
    rows = [f"{(k % 7) / 7 - 0.4:.3f},{label}" for k, label in enumerate(labels)]
    path.write_text("x1,y\n" + "\n".join(rows) + "\n")
    return path


def _train(arguments: list[str], limit: float) -> tuple[int, str, float]:
    """`symcalc train` in a process of its own, killed after `limit` s (the failure a hang would be)."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "symcalc", "train", *arguments],
            capture_output=True,
            text=True,
            timeout=limit,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"train still running after {limit:g} s")
    return done.returncode, done.stderr, time.perf_counter() - start


@pytest.mark.slow
def test_train_of_a_deep_model_ends_within_its_timeout(tmp_path: Path) -> None:
    model = tmp_path / "deep.toml"
    model.write_text(deep_classifier(24))
    data = _labels_csv(tmp_path / "data.csv", [0, 1] * 20)
    arguments = [str(model), "--data", str(data), "--epochs", "2", "--test-fraction", "0.25"]
    code, err, elapsed = _train([*arguments, "--timeout", "5"], limit=90)
    assert elapsed < 30
    # It trains, or (on a machine too busy to derive it in 5 s) stops with the one-line time limit.
    if code != 0:
        assert code == 2
        assert err.startswith("symcalc: error:") and "stopped after 5 s" in err
        assert len(err.splitlines()) == 1


@pytest.mark.slow
def test_a_deep_models_labels_are_checked_without_composing_it(tmp_path: Path) -> None:
    model = tmp_path / "deep.toml"
    model.write_text(deep_classifier(24))
    data = _labels_csv(tmp_path / "data.csv", [0, 1, 2, 1])
    code, err, elapsed = _train([str(model), "--data", str(data), "--timeout", "20"], limit=90)
    assert elapsed < 40
    assert code == 2
    assert err == (
        f"symcalc: error: {data}, line 4, column 'y': 2 is not a label: the loss takes log(a) and "
        "log(1 - a) of a sigmoid output, so 'y' must be 0 or 1\n"
    )


@pytest.fixture
def composing_refused_here(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`Model.composed` raises in this process (a forked child may still compose: it is limited)."""
    here = os.getpid()
    original: Any = Model.__dict__["composed"]

    def composed(self: Model) -> Any:
        if os.getpid() == here:
            raise AssertionError("the loss was composed outside the limited child")
        return original.func(self)

    monkeypatch.setattr(Model, "composed", property(composed))
    yield


@pytest.mark.slow
@pytest.mark.usefixtures("composing_refused_here")
@pytest.mark.parametrize(
    "arguments",
    [
        ["--epochs", "2"],  # the built-in data, its labels checked
        ["--epochs", "2", "--test-fraction", "0.3"],  # each part's classes checked too
    ],
)
def test_train_composes_nothing_in_the_process_the_user_started(run: Runner, arguments: list[str]) -> None:
    code, _, err = run(["train", *arguments])
    assert code == 0, err


@pytest.mark.usefixtures("composing_refused_here")
def test_a_label_error_comes_from_the_labels_decided_in_the_child(run: Runner, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,y\n0.5,1.0,0\n-1.0,0.5,1\n0.2,0.1,3\n")
    code, _, err = run(["train", "--data", str(data), "--epochs", "1"])
    assert code == 2
    assert "line 4, column 'y': 3 is not a label" in err


def test_labels_are_read_from_the_definitions(write_toml: WriteToml) -> None:
    """The rule of `binary_targets`, definition by definition: the oracle is what each file states."""
    cases = {
        # log(a) of a sigmoid node, the target multiplying it directly
        'a = "sigmoid(w*x)"\nL = "-(y*log(a) + (1 - y)*log(1 - a))"': ["y"],
        # one minus the target named by a definition of data alone
        'a = "sigmoid(w*x)"\nt = "1 - y"\nL = "-(y*log(a) + t*log(1 - a))"': ["y"],
        # a sigmoid written by hand
        'p = "1/(1 + exp(-w*x))"\nL = "-y*log(p)"': ["y"],
        # the log of something else: any value
        'z = "w*x"\nL = "(log(y) - z)^2"': [],
        # a squared error of a sigmoid output: any value
        'a = "sigmoid(w*x)"\nL = "(a - y)^2"': [],
    }
    for definitions, expected in cases.items():
        head = 'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n[definitions]\n'
        model = symcalc.load(str(write_toml(head + definitions + "\n")))
        assert [t.name for t in binary_targets(model)] == expected, definitions


def test_labels_of_a_deep_model_are_decided_in_a_moment(write_toml: WriteToml) -> None:
    model = symcalc.load(str(write_toml(deep_classifier(24))))
    start = time.perf_counter()
    assert [t.name for t in binary_targets(model)] == ["y"]
    assert time.perf_counter() - start < 1


@pytest.fixture
def silent_server() -> Iterator[str]:
    """The address of a TCP server on 127.0.0.1 that accepts every connection and never answers; it
    stops by itself after 120 s, or when the test ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def _parts(folder: Path) -> str:
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.csv").write_text("x1,x2,y\n0.5,1.0,0\n-1.0,0.5,1\n")
    return str(folder / "*.csv")


@pytest.mark.slow
@pytest.mark.dask
def test_a_scheduler_that_never_answers_is_given_up_after_the_timeout(
    run: Runner, silent_server: str, tmp_path: Path
) -> None:
    pytest.importorskip("distributed", reason="needs the extra symcalc-gradients[dask]")
    pattern = _parts(tmp_path / "parts")
    start = time.perf_counter()
    code, out, err = run(["train", "--data", pattern, "--scheduler", silent_server, "--timeout", "3"])
    elapsed = time.perf_counter() - start
    assert code == 2 and out == ""
    assert err == (
        f"symcalc: error: --scheduler {silent_server}: the Dask scheduler accepted the connection but "
        "did not answer within 3 s (check the scheduler and its workers, or raise --timeout)\n"
    )
    assert elapsed < 3 + 20  # the model derived in the child, then at most 3 s of waiting


@pytest.mark.slow
@pytest.mark.dask
def test_a_pass_on_a_cluster_without_workers_is_given_up_after_the_timeout(
    run: Runner, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed", reason="needs the extra symcalc-gradients[dask]")
    pattern = _parts(tmp_path / "parts")
    with distributed.LocalCluster(
        n_workers=0, dashboard_address=":0", processes=False, protocol="tcp://", host="127.0.0.1"
    ) as empty:
        start = time.perf_counter()
        code, _, err = run(
            ["train", "--data", pattern, "--scheduler", empty.scheduler_address, "--timeout", "3"]
        )
        elapsed = time.perf_counter() - start
    assert code == 2
    assert err == (
        f"symcalc: error: {pattern}: the Dask cluster did not finish a pass over the partitions within 3 s "
        "(check the scheduler and its workers, or raise --timeout)\n"
    )
    assert elapsed < 3 + 20
