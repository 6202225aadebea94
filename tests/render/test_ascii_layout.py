"""ASCII output laid out whole: on a console that cannot encode the maths, each box keeps one straight
right border, ∂ and d stay two things (partial), and ⊙ reads as a ring. Each command runs as the user
runs it, in its own process with PYTHONIOENCODING and COLUMNS set."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(arguments: list[str], encoding: str, width: int = 80) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "PYTHONIOENCODING": encoding, "COLUMNS": str(width)}
    return subprocess.run(
        [sys.executable, "-m", "symcalc", *arguments], capture_output=True, env=environment, timeout=300
    )


def _boxes(text: str) -> list[list[str]]:
    """Each run of lines that start and end with a border character (+ or |): a box or a table."""
    boxes: list[list[str]] = []
    run: list[str] = []
    for line in [*text.splitlines(), ""]:
        bare = line.rstrip()
        if len(bare) > 1 and bare[0] in "+|" and bare[-1] in "+|":
            run.append(bare)
        elif run:
            boxes.append(run)
            run = []
    return boxes


@pytest.mark.parametrize(
    "arguments",
    [
        ["derive", "two_layer_network_vector"],
        ["derive", "softmax_regression_vector"],
        ["verify", "two_layer_network_vector"],
        ["train", "--epochs", "3"],
    ],
    ids=" ".join,
)
@pytest.mark.slow
def test_in_ascii_every_box_has_one_straight_right_border(arguments: list[str]) -> None:
    # σ as sigmoid, … as ..., ᵀ as ^T lengthen a line after it was laid out: no border may stick out
    out = _run(arguments, "ascii", 80).stdout.decode("ascii")
    boxes = _boxes(out)
    assert boxes
    for box in boxes:
        assert len({len(line) for line in box}) == 1, "\n".join(box)
        assert len(box[0]) <= 80


def test_in_ascii_partial_and_total_derivatives_stay_apart_and_the_entrywise_product_reads() -> None:
    out = _run(["derive", "two_layer_network_vector", "--view", "all"], "ascii", 100).stdout.decode("ascii")
    assert ".*" not in out
    assert "(a - y)*v o " in out  # u ⊙ v as u o v
    assert "(o multiplies entry by entry" in out
    assert "partial L" in out and "partial a" in out  # ∂L/∂a, stacked
    lines = out.splitlines()
    stacked = [i for i, line in enumerate(lines) if "partial a   1 - a" in line]
    assert stacked and "partial L" in lines[stacked[0] - 2]
    verified = _run(["verify"], "ascii", 120).stdout.decode("ascii")
    assert "step 1: partial L/partial a" in verified and "claim dL/dw1" in verified
    assert "step 1: dL/da" not in verified  # the local derivative is not written as the total one
