"""Issue 29's row: one epoch of Adam on a 784-128-10 network, `symcalc.fit` against PyTorch and JAX.

Run:  python benchmarks/network.py            (60 000 × 784 synthetic rows)
      python benchmarks/network.py --quick    (6 000 rows)

The network is `derivations/softmax_network_vector.toml` at n = 784, h = 128, k = 10 (tanh,
softmax cross-entropy, L2 penalty), float64, minibatches of 128 rows in the order
`numpy.random.default_rng(0)` deals them, from the same start, in one process:

- symcalc: `symcalc.fit(module, ...)`, the module `codegen --target numpy` writes, timed whole
  and, by fit's own clock (its history's `elapsed`), the epoch alone: fit also computes the loss
  at the start over every row (its history's epoch 0), which the other loops do not;
- PyTorch eager: the same formulas, autograd and `torch.optim.Adam`, at the same thread count;
- JAX: one `jax.jit`-compiled step (loss, `jax.grad`, Adam's update written out), compiled first.

Each is the best of 3 epochs after a warm-up; `--threads N` limits every library to N threads
(NumPy's BLAS by threadpoolctl, `torch.set_num_threads`, XLA's Eigen pool off for 1). The line
records processor seconds beside wall seconds and the load average before and after, which on a
shared machine move these numbers most. "derive + compile" is loading and deriving the file,
writing the module and importing it; the peak memory is the process's resident high-water mark
over one symcalc epoch (reset through /proc first, before PyTorch or JAX is imported), against
the bytes of x and y. Prints the
seconds and the ratios, appends a dated line to benchmarks/RESULTS.md, never fails on time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import pathlib
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import symcalc  # noqa: E402
from symcalc.numeric.batch_fit import batch_model, initial_parameters  # noqa: E402
from symcalc.numeric.fit import minibatches  # noqa: E402

MODEL = ROOT / "derivations" / "softmax_network_vector.toml"
LAMDA = 1e-4
RATE = 1e-3
BATCH = 128


def best(run: Callable[[], object], repeats: int = 3) -> tuple[float, float]:
    """The fastest run's wall seconds and the processor seconds (every thread's) it used."""
    run()  # the warm-up: caches, threads, any compiling
    times = []
    for _ in range(repeats):
        began, used = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - began, time.process_time() - used))
    return min(times)


def status(field: str) -> int:
    """This process's VmRSS or VmHWM in bytes, from /proc (0 where there is none)."""
    try:
        lines = pathlib.Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) * 1024 for line in lines if line.startswith(field + ":")), 0)


def peak_during(run: Callable[[], object]) -> int:
    """The process's peak resident bytes while `run` runs (the high-water mark reset first)."""
    with contextlib.suppress(OSError):  # not Linux: the peak is the process's whole life's
        pathlib.Path("/proc/self/clear_refs").write_text("5")
    run()
    return status("VmHWM")


def derive_and_compile() -> tuple[Any, Any, float]:
    """The network's batch model and module at h = 128, and the seconds it took to get them."""
    text = MODEL.read_text().replace("h = 32", "h = 128").replace("n = 64", "n = 784")
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "network_784.toml"
        path.write_text(text)
        began = time.perf_counter()
        batch = batch_model(symcalc.derive(symcalc.Model.load(path)))
        module = symcalc.load_module(batch.source, "bench_network")
        return batch, module, time.perf_counter() - began


def batches(rows: int) -> list[Any]:
    return list(minibatches(rows, BATCH, np.random.default_rng(0)))


def torch_epoch(start: dict[str, Any], x: Any, y: Any) -> Callable[[], object]:
    import torch

    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
    order = [torch.from_numpy(chosen) for chosen in batches(len(x))]

    def epoch() -> object:
        params = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in start.items()}
        optimizer = torch.optim.Adam(params.values(), lr=RATE)
        for index in order:
            hidden = torch.tanh(inputs[index] @ params["W"].T + params["c"])
            scores = hidden @ params["V"].T + params["b"]
            cross = -(targets[index] * torch.log_softmax(scores, dim=1)).sum(dim=1).mean()
            penalty = LAMDA / 2 * ((params["W"] ** 2).sum() + (params["V"] ** 2).sum())
            optimizer.zero_grad()
            (cross + penalty).backward()
            optimizer.step()
        return params

    return epoch


def jax_epoch(start: dict[str, Any], x: Any, y: Any) -> Callable[[], object]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(params: dict[str, Any], xs: Any, ys: Any) -> Any:
        hidden = jnp.tanh(xs @ params["W"].T + params["c"])
        scores = hidden @ params["V"].T + params["b"]
        cross = -(ys * jax.nn.log_softmax(scores, axis=1)).sum(axis=1).mean()
        return cross + LAMDA / 2 * ((params["W"] ** 2).sum() + (params["V"] ** 2).sum())

    @jax.jit
    def step(params: Any, means: Any, squares: Any, count: Any, xs: Any, ys: Any) -> Any:
        grads = jax.grad(loss)(params, xs, ys)
        means = jax.tree_util.tree_map(lambda m, g: m + 0.1 * (g - m), means, grads)
        squares = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, squares, grads)
        size = RATE / (1 - 0.9**count)
        root = jnp.sqrt(1 - 0.999**count)
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - size * m / (jnp.sqrt(v) / root + 1e-8), params, means, squares
        )
        return params, means, squares

    xs, ys = jnp.asarray(x), jnp.asarray(y)
    order = batches(len(x))

    def epoch() -> object:
        params = {n: jnp.asarray(v) for n, v in start.items()}
        means = {n: jnp.zeros_like(v) for n, v in params.items()}
        squares = {n: jnp.zeros_like(v) for n, v in params.items()}
        for count, chosen in enumerate(order, start=1):
            params, means, squares = step(params, means, squares, count, xs[chosen], ys[chosen])
        return jax.block_until_ready(params)

    return epoch


def shown(label: str, seconds: tuple[float, float]) -> None:
    print(f"{label} {seconds[0]:.3f} s ({seconds[1]:.3f} s of processor time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 000 rows, not 60 000")
    parser.add_argument("--threads", type=int, help="threads for every library (default: the cores)")
    args = parser.parse_args()
    rows = 6_000 if args.quick else 60_000
    threads = args.threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)  # NumPy's BLAS; PyTorch's below; XLA's by its flag, set at import
    os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
    batch, module, compile_seconds = derive_and_compile()
    before_data = status("VmRSS")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((rows, 784))
    y = np.eye(10)[rng.integers(0, 10, rows)]
    data_bytes = x.nbytes + y.nbytes
    start = initial_parameters(batch, batch.run_sizes({"x": x, "y": y}), seed=0)
    data = {"x": x, "y": y}

    alone: list[float] = []

    def ours() -> object:
        fitted = symcalc.fit(
            module, data, start, method="adam", learning_rate=RATE, epochs=1, batch_size=BATCH
        )
        # fit's own clock: epoch 0 is the loss at the start, over every row; epoch 1 the loop alone
        alone.append(fitted.history[1].elapsed - fitted.history[0].elapsed)
        return fitted

    load_before = os.getloadavg()[0]
    print(f"784-128-10 network, {rows} x 784 float64, Adam, batches of {BATCH}, {threads} threads")
    print(f"derive + compile: {compile_seconds:.2f} s (the target: under 5 s)")
    peak = peak_during(ours)  # before torch and jax are imported, so the peak is symcalc's alone
    memory = (
        f"peak {peak / 2**20:.0f} MB = {peak / data_bytes:.2f}x the data ({data_bytes / 2**20:.0f} MB), "
        f"{(peak - before_data) / data_bytes:.2f}x above the {before_data / 2**20:.0f} MB held before it "
        "(the target: under 2x)"
    )
    print(f"one symcalc epoch: {memory}")
    results = {"symcalc": best(ours)}
    shown("symcalc.fit      ", results["symcalc"])
    try:
        import torch

        torch.set_num_threads(threads)
        results["torch"] = best(torch_epoch(start, x, y))
        shown("PyTorch eager    ", results["torch"])
    except ImportError:
        print("PyTorch eager     skipped: torch is not installed")
    try:
        results["jax"] = best(jax_epoch(start, x, y))
        shown("jax.jit step     ", results["jax"])
    except ImportError:
        print("jax.jit step      skipped: jax is not installed")
    others = [k for k in ("torch", "jax") if k in results]
    ratios = ", ".join(f"{results['symcalc'][0] / results[k][0]:.2f}x {k}" for k in others)
    print(f"symcalc / each: {ratios}")
    loop = min(alone[-3:])  # the timed runs' (the first is the peak's, the second the warm-up)
    loop_ratios = ", ".join(f"{loop / results[k][0]:.2f}x {k}" for k in others)
    print(f"symcalc's epoch alone (fit's clock, without the loss at the start): {loop:.3f} s = {loop_ratios}")
    line = (
        f"- {datetime.date.today().isoformat()} network.py: 784-128-10, {rows} rows, Adam batch {BATCH}, "
        f"{threads} threads: "
        + ", ".join(f"{k} {results[k][0]:.3f} s ({results[k][1]:.3f} s cpu)" for k in results)
        + f" ({ratios}); symcalc's epoch alone, without fit's loss at the start over every row, "
        f"{loop:.3f} s ({loop_ratios}); derive + compile {compile_seconds:.2f} s; "
        f"one symcalc epoch's {memory}; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    path = ROOT / "benchmarks" / "RESULTS.md"
    if not path.exists():
        path.write_text("# Benchmark results, one dated line per run\n\n", encoding="utf-8")
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
    print(f"appended to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
