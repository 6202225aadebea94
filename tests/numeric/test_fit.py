"""`symcalc.fit` and `train --method sgd | adam`: minibatches on the batch module `codegen` writes.

The oracle is PyTorch: the same network written in torch, its gradients by autograd, the updates
by `torch.optim.Adam` and `torch.optim.SGD`, over the same minibatches from the same start; and
scikit-learn's digits for the held-out accuracy a real network reaches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import symcalc
from symcalc.numeric import codegen as codegen_module
from symcalc.numeric.batch_fit import batch_model, initial_parameters
from symcalc.numeric.fit import Method, fit, minibatches
from tests.conftest import Runner

NETWORK = "softmax_network_vector"
LAMDA = 1e-4


def _digits(rows: int | None = None) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """scikit-learn's 8 × 8 digits, each pixel standardized (a constant pixel left at 0)."""
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = digits.data[:rows].astype(np.float64)
    scale = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(scale > 0, scale, 1.0), digits.target[:rows]


@pytest.fixture(scope="module")
def network() -> Any:
    return batch_model(symcalc.derive(symcalc.load(NETWORK)))


def _torch_loop(
    start: dict[str, Any], x: Any, labels: Any, method: str, rate: float, batch: int, epochs: int
) -> dict[str, Any]:
    """The network in PyTorch, float64: autograd and torch.optim over the minibatches `fit` deals."""
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle of these tests")
    params = {
        name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in start.items()
    }
    if method == "adam":
        optimizer = torch.optim.Adam(params.values(), lr=rate)
    else:
        optimizer = torch.optim.SGD(params.values(), lr=rate, momentum=0.9)
    inputs, targets = torch.tensor(x), torch.nn.functional.one_hot(torch.tensor(labels), 10).double()
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        for chosen in minibatches(len(x), batch, rng):
            index = torch.tensor(chosen)
            hidden = torch.tanh(inputs[index] @ params["W"].T + params["c"])
            scores = hidden @ params["V"].T + params["b"]
            cross = -(targets[index] * torch.log_softmax(scores, dim=1)).sum(dim=1).mean()
            penalty = LAMDA / 2 * ((params["W"] ** 2).sum() + (params["V"] ** 2).sum())
            optimizer.zero_grad()
            (cross + penalty).backward()
            optimizer.step()
    return {name: value.detach().numpy() for name, value in params.items()}


@pytest.mark.slow
@pytest.mark.frameworks
@pytest.mark.parametrize(("method", "rate"), [("adam", 1e-3), ("sgd", 0.05)])
def test_five_epochs_equal_a_pytorch_loop(network: Any, method: Method, rate: float) -> None:
    x, labels = _digits()
    data = {"x": x, "y": np.eye(10)[labels]}
    start = initial_parameters(network, network.run_sizes(data), seed=0)
    module = symcalc.load_module(network.source)
    fitted = fit(
        module,
        data,
        start,
        method=method,
        learning_rate=rate,
        epochs=5,
        batch_size=32,
        momentum=0.9 * (method == "sgd"),
    )
    expected = _torch_loop(start, x, labels, method, rate, 32, 5)
    assert [record.epoch for record in fitted.history] == list(range(6))
    for name, value in expected.items():
        assert np.max(np.abs(value - start[name])) > 1e-3  # it moved
        assert np.max(np.abs(fitted.parameters[name] - value)) < 1e-10, name


@pytest.mark.slow
def test_fit_from_a_derivation_starts_as_train_does_and_shuffles_by_seed() -> None:
    x, labels = _digits(200)
    data = {"x": x, "y": np.eye(10)[labels]}
    derivation = symcalc.derive(symcalc.load(NETWORK))
    once = symcalc.fit(derivation, data, epochs=2, batch_size=50, seed=3)
    again = symcalc.fit(derivation, data, epochs=2, batch_size=50, seed=3)
    other = symcalc.fit(derivation, data, epochs=2, batch_size=50, seed=4)
    assert once.parameters["W"].shape == (32, 64) and once.parameters["V"].shape == (10, 32)
    assert all(np.array_equal(once.parameters[n], again.parameters[n]) for n in once.parameters)
    assert not np.array_equal(once.parameters["W"], other.parameters["W"])
    assert once.history[-1].loss < once.history[0].loss


@pytest.mark.slow
def test_the_loss_at_the_start_is_the_forward_pass_alone(network: Any) -> None:
    """Over every row, the start's loss with its gradients cost a third of an epoch of a 784-128-10
    network; its gradients were thrown away."""
    x, labels = _digits(120)
    data = {"x": x, "y": np.eye(10)[labels]}
    module = codegen_module.load_module(network.source, "counted")
    rows_seen: list[tuple[str, int]] = []
    loss, both = module.__dict__["loss"], module.__dict__["loss_and_gradient"]

    def counted_loss(params: Any, rows: Any, constants: Any = None) -> Any:
        rows_seen.append(("loss", len(rows["x"])))
        return loss(params, rows, constants)

    def counted_both(params: Any, rows: Any, constants: Any = None) -> Any:
        rows_seen.append(("both", len(rows["x"])))
        return both(params, rows, constants)

    module.__dict__.update(loss=counted_loss, loss_and_gradient=counted_both)
    start = initial_parameters(network, network.run_sizes(data))
    fitted = fit(module, data, start, method="adam", epochs=1, batch_size=40)
    assert rows_seen == [("loss", 120), ("both", 40), ("both", 40), ("both", 40)]
    assert fitted.history[0].loss == pytest.approx(loss(start, data), rel=1e-15)


def test_initialisation_by_fan_in_and_biases_at_zero(network: Any) -> None:
    start = initial_parameters(network, {"n": 400, "h": 300, "k": 10}, seed=1)
    assert start["W"].shape == (300, 400) and start["V"].shape == (10, 300)
    assert start["W"].std() == pytest.approx(np.sqrt(1 / 400), rel=0.02)  # tanh: Glorot's by fan-in
    assert start["V"].std() == pytest.approx(np.sqrt(1 / 300), rel=0.1)
    assert not start["c"].any() and not start["b"].any()


def test_he_scale_for_a_layer_that_feeds_relu(tmp_path: Path) -> None:
    text = (Path(symcalc.__file__).parent / "derivations" / f"{NETWORK}.toml").read_text()
    path = tmp_path / "relu.toml"
    path.write_text(
        text.replace('g = "tanh(s)"', 'g = "relu(s)"').replace(
            '"dJ/dc" = "(1 - g^2)*(transpose(V) @ (p - y))"\n', ""
        )
    )
    start = initial_parameters(
        batch_model(symcalc.derive(symcalc.load(str(path)))), {"n": 500, "h": 200, "k": 10}
    )
    assert start["W"].std() == pytest.approx(np.sqrt(2 / 500), rel=0.02)


def test_a_non_finite_loss_stops_and_keeps_the_parameters_before_it(network: Any) -> None:
    x, labels = _digits(100)
    data = {"x": x * 1e3, "y": np.eye(10)[labels]}
    start = initial_parameters(network, network.run_sizes(data))
    fitted = fit(
        symcalc.load_module(network.source), data, start, method="sgd", learning_rate=1e300, epochs=3
    )
    assert fitted.stop is symcalc.Stop.NON_FINITE
    assert "at epoch" in fitted.message and "smaller learning rate" in fitted.message
    assert all(np.isfinite(value).all() for value in fitted.parameters.values())


def _digits_csv(path: Path) -> Path:
    x, labels = _digits()
    header = ",".join([*(f"x{i}" for i in range(1, 65)), "y"])
    rows = [
        ",".join([*(repr(float(v)) for v in row), str(label)]) for row, label in zip(x, labels, strict=True)
    ]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_train_adam_on_digits_runs_the_codegen_module_and_reaches_95_percent(
    run: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = _digits_csv(tmp_path / "digits.csv")
    ran: list[str] = []
    load = codegen_module.load_module

    def recorded(source: str, name: str = "symcalc_generated") -> Any:
        ran.append(source)
        return load(source, name)

    monkeypatch.setattr(codegen_module, "load_module", recorded)
    argv = ["train", NETWORK, "--data", str(csv), "--method", "adam", "--batch-size", "32", "--epochs", "20"]
    code, out, err = run([*argv, "--test-fraction", "0.25", "--seed", "0", "--json"])
    assert code == 0, err
    result = json.loads(out)
    assert result["test"]["rows"] == 449 and result["test"]["accuracy"] >= 0.95
    assert result["method"] == "adam" and result["epochs"] == 20
    assert np.array(result["parameters"]["W"]).shape == (32, 64)
    _, exported, _ = run(["codegen", NETWORK])
    assert ran == [exported]  # what trained is, byte for byte, what codegen writes


def test_class_numbers_outside_the_classes_are_one_line(run: Runner, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("x1,x2,y\n0.5,1,0\n1,2,3\n", encoding="utf-8")
    code, _, err = run(["train", "softmax_regression_vector", "--data", str(path), "--method", "adam"])
    assert code == 2
    assert err.count("\n") == 1 and "line 3" in err and "3 is not a class number" in err and "0 … 2" in err


def test_minibatch_options_with_a_full_batch_method_are_refused(run: Runner) -> None:
    code, _, err = run(["train", "--batch-size", "8"])
    assert code == 2 and "--batch-size is for --method sgd or adam, not gd" in err
    code, _, err = run(["train", "two_layer_network_vector", "--method", "adam", "--momentum", "0.9"])
    assert code == 2 and "--momentum is for --method sgd, not adam" in err


def test_adam_on_a_sigmoid_model_reports_the_accuracy_of_its_parameters(run: Runner) -> None:
    """The accuracy train prints is the share of the built-in samples on the right side of the
    boundary its parameters draw."""
    code, out, err = run(["train", "logistic_regression_vector", "--method", "adam", "--lr", "0.1", "--json"])
    assert code == 0, err
    result = json.loads(out)
    data = np.genfromtxt(
        Path(symcalc.__file__).parent / "datasets" / "two_blobs.csv", delimiter=",", names=True
    )
    w, b = np.array(result["parameters"]["w"]), result["parameters"]["b"]
    score = data["x1"] * w[0] + data["x2"] * w[1] + b
    assert result["accuracy"] == pytest.approx(np.mean((score >= 0) == (data["y"] == 1)), abs=1e-12)
