"""`symcalc train` and `symcalc codegen` as a user runs them: outputs, exit codes and one-line errors."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import symcalc
from symcalc.cli.main import main
from symcalc.numeric.codegen import generate
from symcalc.numeric.data import load_builtin
from symcalc.numeric.model import NumericModel
from tests.conftest import SEED
from tests.numeric.test_data import BAD, CSV

QUADRATIC = 'inputs = ["x"]\ntargets = ["y"]\nparameters = ["w"]\n[definitions]\nL = "(w*x - y)^2"\n'


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_train_json_on_the_builtin_data_matches_scikit_learn(capsys: pytest.CaptureFixture[str]) -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    status, out, err = _run(capsys, "train", "--json", "--lr", "1", "--tol", "1e-10")
    assert status == 0, err
    result = json.loads(out)
    assert {"parameters", "loss", "epochs", "converged"} <= set(result)
    assert result["converged"] is True
    columns = load_builtin(symcalc.load()).columns
    x = np.column_stack([columns["x1"], columns["x2"]])
    reference = linear_model.LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x, columns["y"])
    ours = [result["parameters"][p] for p in ("w1", "w2", "b")]
    assert np.max(np.abs(np.array(ours) - [*reference.coef_[0], *reference.intercept_])) < 1e-4
    assert result["accuracy"] == pytest.approx(reference.score(x, columns["y"]))


def test_train_table(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "train", str(SEED), "--data", str(CSV / "good.csv"), "--epochs", "50")
    assert status == 0
    for text in ("w1", "w2", "final loss", "accuracy", "epochs run", "50", "time taken", "6 samples from"):
        assert text in out
    assert "stopped after 50 epochs" in out


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_bad_csv_is_one_line_and_exit_2(
    name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plot = tmp_path / "never.png"
    status, out, err = _run(capsys, "train", "--data", str(CSV / name), "--plot", str(plot))
    assert status == 2
    assert out == ""
    assert err == f"symcalc: error: {CSV / name}{BAD[name].removeprefix(name)}\n"
    assert not plot.exists()  # nothing half-done


def test_missing_data_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = _run(capsys, "train", "--data", str(tmp_path / "nope.csv"))
    assert (status, err) == (2, f"symcalc: error: {tmp_path / 'nope.csv'}: no such file\n")


def test_constant_column_warns_and_trains(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(
        capsys, "train", "--data", str(CSV / "constant_column.csv"), "--json", "--epochs", "10"
    )
    assert status == 0
    assert "symcalc: warning:" in err and "column 'x2': every value is 3" in err
    assert json.loads(out)["epochs"] == 10


def test_builtin_data_needs_a_matching_model(
    capsys: pytest.CaptureFixture[str], write_toml: Callable[..., Path]
) -> None:
    status, _, err = _run(capsys, "train", str(write_toml(QUADRATIC)))
    assert status == 2
    assert (
        "the built-in dataset has columns x1, x2, y; this model needs x, y (give the data with --data" in err
    )


def test_non_finite_stops_and_keeps_the_last_finite_parameters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # x up to 1e100 (allowed), lr 1e150: the first step puts |w1| near 1e249, so z = w1*x1 overflows.
    data = tmp_path / "huge.csv"
    data.write_text("x1,x2,y\n1e100,0,1\n-1e100,0,0\n2e99,1,0\n", encoding="utf-8")
    status, out, err = _run(capsys, "train", "--data", str(data), "--lr", "1e150", "--json")
    assert status == 1, err
    result = json.loads(out)
    assert result["stopped"] == "non-finite"
    # inf, or nan where an infinite z meets a zero label (0·inf): either way non-finite at step 1.
    assert re.search(r"the loss became (inf|nan) at step 1; kept the parameters of step 0", result["message"])
    assert result["parameters"] == _start_parameters(symcalc.derive(symcalc.load()))
    assert result["epochs"] == 0


def _start_parameters(derivation: symcalc.Derivation) -> dict[str, float]:
    from symcalc.numeric.model import compile_model

    return compile_model(derivation).start(0)


def test_rising_loss_stops_with_advice(
    capsys: pytest.CaptureFixture[str], write_toml: Callable[..., Path], tmp_path: Path
) -> None:
    data = tmp_path / "line.csv"
    data.write_text("x,y\n1,0\n", encoding="utf-8")
    status, out, _ = _run(capsys, "train", str(write_toml(QUADRATIC)), "--data", str(data), "--lr", "1.5")
    assert status == 1
    assert "the loss rose for 10 epochs in a row" in out
    assert "try a smaller learning rate than 1.5" in out


def test_ctrl_c_prints_where_it_got_to(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = NumericModel.evaluate
    calls = 0

    def evaluate(self: NumericModel, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 6:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(NumericModel, "evaluate", evaluate)
    status, out, _ = _run(capsys, "train", "--json", "--plot", str(tmp_path / "so_far.png"))
    assert status == 130
    assert (tmp_path / "so_far.png").read_bytes().startswith(b"\x89PNG")  # the curve up to Ctrl-C
    result = json.loads(out)
    assert (result["stopped"], result["epochs"]) == ("interrupted", 4)
    assert all(np.isfinite(v) for v in result["parameters"].values())


def test_plot_writes_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_png = tmp_path / "train.png"
    status, _, err = _run(capsys, "train", "--epochs", "20", "--plot", str(out_png))
    assert status == 0
    assert f"wrote {out_png}" in err
    assert out_png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_plot_without_matplotlib_fails_before_training(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    status, out, err = _run(capsys, "train", "--plot", str(tmp_path / "p.png"))
    assert status == 2
    assert out == ""
    assert (
        err == "symcalc: error: --plot needs matplotlib, which is not installed"
        " (pip install 'symcalc-gradients[plot]')\n"
    )


def test_codegen_to_stdout_and_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    expected = generate(symcalc.derive(symcalc.load()))
    status, out, _ = _run(capsys, "codegen")
    assert (status, out) == (0, expected)
    target = tmp_path / "lr.py"
    target.write_text("old", encoding="utf-8")  # the user named it: replaced
    status, out, err = _run(capsys, "codegen", str(SEED), "-o", str(target))
    assert (status, out) == (0, "")
    assert target.read_text(encoding="utf-8") == expected
    assert f"wrote {target}" in err


def test_codegen_into_a_missing_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = _run(capsys, "codegen", "-o", str(tmp_path / "no" / "lr.py"))
    assert status == 2
    assert err.startswith("symcalc: error: ") and "folder does not exist" in err
    assert not (tmp_path / "no").exists()


def test_progress_bar_shows_the_live_loss_on_a_terminal() -> None:
    import io

    from rich.console import Console

    from symcalc.numeric.descent import Epoch, Stop
    from symcalc.render.training import progress_bar

    console = Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)
    with progress_bar(console, 100) as update:
        update(Epoch(3, {"w": 1.0}, 0.123456789, {"w": 0.1}, 0.01))
        update(Epoch(40, {"w": 1.0}, 0.0424242, {"w": 0.0}, 0.02, Stop.CONVERGED))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "epoch     40/40" in text and "loss 0.0424242" in text


def test_a_data_path_is_shown_as_written_not_as_markup(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("[bold]d").mkdir()
    Path("[bold]d/a.csv").write_bytes((CSV / "good.csv").read_bytes())
    status, out, _ = _run(capsys, "train", "--data", "[bold]d/a.csv", "--epochs", "1")
    assert status == 0
    assert "6 samples from [bold]d/a.csv" in out


def test_set_changes_a_constant_for_the_run_and_matches_scikit_learn(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--set lamda=0.5 on the L2 model: scikit-learn at C = 1/(λm) minimises the same objective."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    args = ("train", "logistic_regression_l2", "--set", "lamda=0.5", "--method", "newton", "--tol", "1e-10")
    status, out, err = _run(capsys, *args, "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["constants"] == {"lamda": 0.5}
    columns = load_builtin(symcalc.load("logistic_regression_l2")).columns
    x = np.column_stack([columns["x1"], columns["x2"]])
    reference = linear_model.LogisticRegression(C=1 / (0.5 * len(x)), tol=1e-14, solver="newton-cholesky")
    reference.fit(x, columns["y"])
    ours = [result["parameters"][p] for p in ("w1", "w2", "b")]
    assert np.max(np.abs(np.array(ours) - [*reference.coef_[0], *reference.intercept_])) < 1e-8
    status, out, _ = _run(capsys, "train", "logistic_regression_l2", "--json", "--epochs", "5")
    assert json.loads(out)["constants"] == {"lamda": 0.01}  # the file's default otherwise


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("lam=0.5", "'lam' is not a constant of the model (did you mean 'lamda'?)"),
        ("lamda=x", "'x' is not a number"),
        ("lamda=inf", "'inf' is not a finite number"),
        ("lamda", "is not NAME=VALUE"),
    ],
)
def test_a_bad_set_is_one_line(capsys: pytest.CaptureFixture[str], setting: str, message: str) -> None:
    status, out, err = _run(capsys, "train", "logistic_regression_l2", "--set", setting)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err and f"--set {setting}" in err


def test_a_pattern_of_files_without_dask_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, err = _run(capsys, "train", "--data", str(tmp_path / "*.parquet"))
    assert status == 2 and out == ""
    assert err == (
        f"symcalc: error: --data {tmp_path / '*.parquet'}: a pattern of files is read on Dask (add --dask "
        "(a cluster on this machine) or --scheduler ADDRESS; needs symcalc-gradients[dask])\n"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--workers", "3"],
            "--workers is for the cluster that --dask starts on this machine: without --dask the data are "
            "in this process (add --dask, or drop --workers)",
        ),
        (
            ["--scheduler", "tcp://127.0.0.1:1", "--data", "d/*.parquet", "--memory-limit", "2GB"],
            "--memory-limit is for the cluster that --dask starts on this machine: the cluster at "
            "tcp://127.0.0.1:1 has its own workers (drop --memory-limit)",
        ),
    ],
)
def test_cluster_options_where_no_cluster_is_started_are_one_line(
    capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    # they did nothing there: the run went on as if they had not been given
    status, out, err = _run(capsys, "train", *options)
    assert status == 2 and out == ""
    assert err == f"symcalc: error: {message}\n"


def test_dask_without_the_extra_installed_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.csv").write_bytes((CSV / "good.csv").read_bytes())
    monkeypatch.setitem(sys.modules, "dask", None)  # import dask raises ImportError, as without the extra
    status, out, err = _run(capsys, "train", "--data", str(tmp_path / "*.csv"), "--dask")
    assert status == 2 and out == ""
    assert err == "symcalc: error: training on Dask needs dask (pip install 'symcalc-gradients[dask]')\n"


@pytest.mark.slow
def test_training_in_memory_imports_nothing_of_dask() -> None:
    import subprocess

    code = (
        "import sys; from symcalc.cli.main import main; main(['train', '--epochs', '3', '--json']); "
        "print(sorted(m for m in ('dask', 'distributed', 'pyarrow', 'pandas') if m in sys.modules), "
        "file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stderr.splitlines()[-1] == "[]"
