"""Issue 17's rows: the JAX and PyTorch modules `codegen` writes, against the framework code a person writes.

Run:  python benchmarks/frameworks.py           (N = 1e6, d = 2 and 30)
      python benchmarks/frameworks.py --quick   (N = 1e5)

For `derivations/logistic_regression_vector.toml` in float64, each figure is the best of 7 runs
after a warm-up (which includes any compiling), in one process:

- JAX: the module's `gradient` under `jax.jit` against `jax.jit` of
  `a = jax.nn.sigmoid(X @ w + b); X.T @ (a - y) / m, mean(a - y)`;
- PyTorch eager: the module's `gradient` against the same formulas in torch;
- PyTorch `torch.compile` of each (skipped with the reason where it cannot compile here).

Ratios below 1 mean the module is faster. Prints, never fails; a framework that is not
installed is skipped with a line saying so.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from timing import best

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import symcalc  # noqa: E402

MODEL = ROOT / "derivations" / "logistic_regression_vector.toml"


def module(target: str) -> Any:
    derivation = symcalc.derive(symcalc.Model.load(MODEL))
    return symcalc.load_module(symcalc.codegen(derivation, target=target), f"bench_{target}")


def row(label: str, ours: float, theirs: float) -> str:
    return f"{label:<34} {ours * 1e3:>10.2f} {theirs * 1e3:>10.2f} {ours / theirs:>7.2f}"


def jax_rows(samples: int) -> list[str]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    generated = module("jax")
    rows = []
    for features in (2, 30):
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.normal(size=(samples, features)))
        y = jnp.asarray((rng.random(samples) < 0.5).astype(float))
        params = {"w": jnp.asarray(rng.normal(size=features) * 0.1), "b": jnp.asarray(0.1)}
        data = {"x": x, "y": y}
        ours = jax.jit(generated.gradient)

        @jax.jit
        def plain(params: Any, data: Any) -> Any:
            a = jax.nn.sigmoid(data["x"] @ params["w"] + params["b"])
            return {"w": data["x"].T @ (a - data["y"]) / data["y"].shape[0], "b": jnp.mean(a - data["y"])}

        def run(function: Any, params: Any = params, data: Any = data) -> Callable[[], Any]:
            return lambda: jax.block_until_ready(function(params, data))

        rows.append(row(f"JAX jit, d = {features}", best(run(ours)), best(run(plain))))
    return rows


def torch_rows(samples: int) -> list[str]:
    import torch

    torch.set_num_threads(2)
    generated = module("torch")

    def plain(params: Any, data: Any) -> Any:
        a = torch.sigmoid(data["x"] @ params["w"] + params["b"])
        return {"w": data["x"].T @ (a - data["y"]) / data["y"].shape[0], "b": torch.mean(a - data["y"])}

    rows = []
    for features in (2, 30):
        rng = np.random.default_rng(0)
        x = torch.tensor(rng.normal(size=(samples, features)))
        y = torch.tensor((rng.random(samples) < 0.5).astype(float))
        params = {
            "w": torch.tensor(rng.normal(size=features) * 0.1),
            "b": torch.tensor(0.1, dtype=torch.float64),
        }
        data = {"x": x, "y": y}
        with torch.no_grad():
            ours = best(partial(generated.gradient, params, data))
            theirs = best(partial(plain, params, data))
            rows.append(row(f"PyTorch eager, d = {features}", ours, theirs))
            try:
                ours = best(partial(torch.compile(generated.gradient), params, data))
                theirs = best(partial(torch.compile(plain), params, data))
                rows.append(row(f"PyTorch torch.compile, d = {features}", ours, theirs))
            except Exception as err:  # a missing C++ toolchain, say: reported, not fatal
                rows.append(
                    f"PyTorch torch.compile, d = {features}: not run ({type(err).__name__}: {err})"[:110]
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e5 instead of 1e6")
    args = parser.parse_args()
    samples = 100_000 if args.quick else 1_000_000
    print(f"\nlogistic regression gradient, N = {samples:.0e}, float64 (ms; ratio = module / hand-written)")
    print(f"{'':<34} {'module':>10} {'by hand':>10} {'ratio':>7}")
    for name, rows in (("jax", jax_rows), ("torch", torch_rows)):
        try:
            lines = rows(samples)
        except ImportError:
            lines = [f"{name}: not installed (pip install 'symcalc-gradients[{name}]')"]
        for line in lines:
            print(line)


if __name__ == "__main__":
    main()
