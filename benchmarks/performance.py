"""Issue 7's table: symcalc's compiled gradients beside NumPy, JAX and PyTorch; prints, never fails.

Run:  python benchmarks/performance.py            (1 thread, then 2 threads, then the symbolic targets)
      python benchmarks/performance.py --quick    (fewer repeats, smaller symbolic sizes)

Each thread count runs in its own child process, with the thread variables set
before numpy, jax or torch is imported. Every time is the median of several
evaluations of the mean loss and full-batch gradient of logistic regression in
float64; ratios are ours ÷ theirs (< 1 means ours is faster), from the same run.
JAX and PyTorch are optional: without them their columns say "not installed".
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

SIZES = ((1_000_000, 2), (1_000_000, 30), (1_000, 2))
#: Seconds of rest before each large timing: torch.compile and JAX leave worker threads busy for a
#: moment after their runs, and a kernel timed just then with 2 threads took 22.9 ms instead of 10.8.
SETTLE = 2.0
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def logistic_toml(n: int) -> str:
    """Logistic regression with n features x1…xn and weights w1…wn, as a derivation file."""
    xs = [f"x{i}" for i in range(1, n + 1)]
    ws = [f"w{i}" for i in range(1, n + 1)]
    z = " + ".join(f"{w}*{x}" for w, x in zip(ws, xs, strict=True)) + " + b"
    quoted = lambda names: "[" + ", ".join(f'"{s}"' for s in names) + "]"  # noqa: E731
    return (
        f'title = "Logistic regression with {n} features"\n'
        f'inputs = {quoted(xs)}\ntargets = ["y"]\nparameters = {quoted([*ws, "b"])}\n'
        f'[definitions]\nz = "{z}"\na = "sigmoid(z)"\nL = "-(y*log(a) + (1 - y)*log(1 - a))"\n'
    )


def chain_toml(length: int) -> str:
    """A graph of `length` chained definitions: h1 = w·x + b, hₖ = tanh(hₖ₋₁), L = (h − y)²/2."""
    lines = ['h1 = "w*x + b"'] + [f'h{k} = "tanh(h{k - 1})"' for k in range(2, length)]
    lines.append(f'L = "(h{length - 1} - y)^2/2"')
    return (
        f'title = "{length} chained definitions"\ninputs = ["x"]\ntargets = ["y"]\nparameters = ["w", "b"]\n'
        "[definitions]\n" + "\n".join(lines) + "\n"
    )


def timed(work: Callable[[], Any], repeats: int, budget: float = 2.0) -> float:
    """Median seconds of `work` over `repeats` runs (fewer when one run is long), after one warm-up."""
    work()
    times: list[float] = []
    began = time.perf_counter()
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
        if time.perf_counter() - began > budget and len(times) >= 3:
            break
    return statistics.median(times)


def peak_bytes(work: Callable[[], Any]) -> int:
    """Peak bytes allocated (numpy reports its buffers to tracemalloc) during one call of `work`."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


# -- the contenders ------------------------------------------------------------------------------


def contenders(n: int, d: int, threads: int) -> tuple[dict[str, Callable[[], Any] | str], int]:
    """name → a zero-argument evaluation of loss and gradient (or why it is missing); and the data's bytes."""
    import numpy as np
    import sympy as sp

    import symcalc
    from symcalc.numeric.codegen import numeric_program
    from symcalc.numeric.model import NumericModel
    from symcalc.spec.toml import loads

    rng = np.random.default_rng(20241127)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(np.float64)
    w = 0.1 * rng.standard_normal(d)
    b = 0.05
    data_bytes = X.nbytes + y.nbytes

    def hand() -> Any:
        z = X @ w + b
        a = 1 / (1 + np.exp(-z))
        loss = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
        g = a - y
        return loss, X.T @ g / n, g.mean()

    def hand_gradient() -> Any:
        # The gradient alone in matrix form, as a person who stacked X writes it for a training loop.
        g = 1 / (1 + np.exp(-(X @ w + b))) - y
        return X.T @ g / n, g.mean()

    def plain_gradient() -> Any:
        # The gradient alone from the derived formulas, on the columns the generated module takes:
        # z = Σ wₖxₖ + b, a = σ(z), dL/dwₖ = mean((a − y)·xₖ), dL/db = mean(a − y).
        z = b + sum(w[k] * columns[k] for k in range(d))
        g = 1 / (1 + np.exp(-z)) - y
        return [np.mean(g * column) for column in columns], np.mean(g)

    rows = max(4096, (1 << 21) // (8 * d))
    buffers = [np.empty(min(rows, n)) for _ in range(4)]

    def tuned() -> Any:
        # In place, in cache-sized blocks, stable: one exp(−|z|) feeds log1p and σ.
        e, s, t, u = buffers
        loss, gw, gb = 0.0, np.zeros(d), 0.0
        for start in range(0, n, rows):
            xb, yb = X[start : start + rows], y[start : start + rows]
            m = len(yb)
            z = xb @ w
            z += b
            ee, ss, tt, uu = e[:m], s[:m], t[:m], u[:m]
            np.abs(z, out=ee)
            np.negative(ee, out=ee)
            np.exp(ee, out=ee)
            np.log1p(ee, out=tt)
            np.maximum(z, 0, out=uu)
            loss += tt.sum() + uu.sum() - yb @ z
            np.add(ee, 1, out=ss)
            np.reciprocal(ss, out=ss)  # 1/(1+e)
            np.multiply(ee, ss, out=tt)  # e/(1+e)
            np.copyto(tt, ss, where=z >= 0)  # σ(z)
            tt -= yb
            gw += tt @ xb
            gb += tt.sum()
        return loss / n, gw / n, gb / n

    # Plain lambdify(cse=True) of the per-feature formulas, as a user would write them.
    xs = sp.symbols(f"x1:{d + 1}", real=True)
    ws = sp.symbols(f"w1:{d + 1}", real=True)
    ys, bs = sp.symbols("y b", real=True)
    a_expr = 1 / (1 + sp.exp(-(sum(wi * xi for wi, xi in zip(ws, xs, strict=True)) + bs)))
    loss_expr = -(ys * sp.log(a_expr) + (1 - ys) * sp.log(1 - a_expr))
    plain = sp.lambdify(
        (*xs, ys, *ws, bs), [loss_expr, *[xi * (a_expr - ys) for xi in xs], a_expr - ys], "numpy", cse=True
    )
    columns = [X[:, k] for k in range(d)]

    def lambdified() -> Any:
        return [float(np.mean(v)) for v in plain(*columns, y, *w, b)]

    model = symcalc.Model.from_spec(loads(logistic_toml(d)))
    program = numeric_program(symcalc.derive(model))
    ours_model = NumericModel(program)  # the C kernel when this machine has a compiler
    numpy_model = NumericModel(program, backend="numpy")
    generic_model = NumericModel(program, backend="generic")
    for built in (ours_model, numpy_model, generic_model):
        built.build()  # the back end (the kernel compiled) now, outside the timings
    # symcalc takes one array per name; CSV files load as contiguous columns. Views of X work too.
    data = {f"x{k + 1}": np.ascontiguousarray(X[:, k]) for k in range(d)} | {"y": y}
    views = {f"x{k + 1}": X[:, k] for k in range(d)} | {"y": y}
    params = {f"w{k + 1}": float(w[k]) for k in range(d)} | {"b": b}
    zs = X @ w + b
    out = np.empty(n)

    def compute_floor() -> None:
        np.exp(zs, out=out)
        np.log1p(out, out=out)

    def memory_floor() -> None:
        X.sum()
        y.sum()

    module = generated_module(symcalc.derive(model))

    runs: dict[str, Callable[[], Any] | str] = {
        "symcalc": lambda: ours_model.evaluate(params, data),
        "symcalc on views of X": lambda: ours_model.evaluate(params, views),
        "symcalc batch module": lambda: numpy_model.evaluate(params, data),
        "symcalc generic": lambda: generic_model.evaluate(params, data),
        "hand NumPy": hand,
        "tuned NumPy": tuned,
        "lambdify(cse=True)": lambdified,
        "codegen gradient": lambda: module.gradient(params, views),
        "hand NumPy gradient": hand_gradient,
        "plain NumPy gradient": plain_gradient,
    }
    runs |= jax_runs(X, y, w, b)
    runs |= torch_runs(X, y, w, b, threads)
    runs |= {"compute floor": compute_floor, "memory floor": memory_floor}
    runs |= {"backend": ours_model.describe()}
    return runs, data_bytes


def jax_runs(X: Any, y: Any, w: Any, b: float) -> dict[str, Callable[[], Any] | str]:
    try:
        import jax
    except ImportError:
        return {"JAX jit": "not installed"}
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(params: Any, X: Any, y: Any) -> Any:
        z = X @ params[0] + params[1]
        return jnp.mean(jax.nn.softplus(z) - y * z)

    step = jax.jit(jax.value_and_grad(loss))
    Xj, yj, pj = jnp.asarray(X), jnp.asarray(y), (jnp.asarray(w), jnp.asarray(b))
    return {"JAX jit": lambda: jax.block_until_ready(step(pj, Xj, yj))}


def torch_runs(X: Any, y: Any, w: Any, b: float, threads: int) -> dict[str, Callable[[], Any] | str]:
    try:
        import torch
    except ImportError:
        return {"PyTorch eager": "not installed", "torch.compile": "not installed"}
    torch.set_num_threads(threads)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)

    def loss() -> Any:
        return torch.nn.functional.binary_cross_entropy_with_logits(Xt @ wt + bt, yt)

    def eager() -> Any:
        value = loss()
        return value.item(), torch.autograd.grad(value, (wt, bt))

    runs: dict[str, Callable[[], Any] | str] = {"PyTorch eager": eager}
    try:
        compiled_loss = torch.compile(loss)

        def compiled() -> Any:
            value = compiled_loss()
            return value.item(), torch.autograd.grad(value, (wt, bt))

        start = time.perf_counter()
        compiled()
        runs["torch.compile"] = compiled
        runs["torch.compile (compiling)"] = f"{time.perf_counter() - start:.1f} s"
    except Exception as err:  # no compiler, unsupported platform: report, do not fail
        runs["torch.compile"] = f"failed: {type(err).__name__}"
    return runs


# -- one thread count, in a child process --------------------------------------------------------


def generated_module(derivation: Any) -> Any:
    """`symcalc codegen`'s module for `derivation`, written to a temporary file and imported."""
    import importlib.util

    from symcalc.numeric.codegen import generate

    path = os.path.join(tempfile.mkdtemp(prefix="symcalc-codegen-"), "generated_model.py")
    atexit.register(shutil.rmtree, os.path.dirname(path), True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(generate(derivation))
    spec = importlib.util.spec_from_file_location("generated_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fresh_kernel_cache() -> None:
    """Kernels compiled from here on go to a new, empty cache folder, removed when the process ends."""
    directory = tempfile.mkdtemp(prefix="symcalc-bench-")
    atexit.register(shutil.rmtree, directory, True)
    os.environ["SYMCALC_CACHE_DIR"] = directory


PEAKS = (
    "symcalc",
    "symcalc batch module",
    "symcalc generic",
    "hand NumPy",
    "tuned NumPy",
    "lambdify(cse=True)",
)


def numeric_table(threads: int, quick: bool) -> dict[str, Any]:
    import numpy as np

    fresh_kernel_cache()  # nothing is reused from an earlier run

    result: dict[str, Any] = {"threads": threads, "rows": []}
    for n, d in SIZES:
        runs, data_bytes = contenders(n, d, threads)
        repeats = 5 if quick else (15 if n >= 100_000 else 200)
        row: dict[str, Any] = {"N": n, "d": d, "data_bytes": data_bytes, "times": {}, "peak": {}}
        for name, work in runs.items():
            if isinstance(work, str):
                row["times"][name] = work
                continue
            if n >= 100_000:
                time.sleep(SETTLE)  # let the previous contender's worker threads go idle first
            row["times"][name] = timed(work, repeats)
            if name in PEAKS:
                row["peak"][name] = peak_bytes(work)
        result["rows"].append(row)
        del runs
    result["train"] = train_benchmark(quick)
    result["numpy"] = np.__version__
    return result


def train_benchmark(quick: bool) -> dict[str, float]:
    """1000 gradient-descent steps at N = 1e5, d = 2: hand NumPy against symcalc, compile included."""
    import numpy as np

    import symcalc
    from symcalc.numeric.descent import descend
    from symcalc.numeric.model import compile_model

    n, d, steps, lr = 100_000, 2, 200 if quick else 1000, 0.5
    rng = np.random.default_rng(5)
    X = rng.standard_normal((n, d))
    y = (X @ np.array([1.5, -0.7]) + 0.3 + rng.logistic(size=n) > 0).astype(np.float64)
    columns = {"x1": np.ascontiguousarray(X[:, 0]), "x2": np.ascontiguousarray(X[:, 1]), "y": y}

    start = time.perf_counter()
    w, b = np.zeros(d), 0.0
    for _ in range(steps + 1):  # as many evaluations as descend makes
        z = X @ w + b
        a = 1 / (1 + np.exp(-z))
        loss = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
        g = a - y
        w, b = w - lr * (X.T @ g / n), b - lr * g.mean()
        assert np.isfinite(loss)
    hand = time.perf_counter() - start

    def ours() -> tuple[float, float, float]:
        start = time.perf_counter()
        numeric = compile_model(symcalc.derive(symcalc.load()))
        numeric.build()  # the kernel is compiled on first use: here, so that `compiled` includes it
        compiled = time.perf_counter() - start
        records = list(
            descend(lambda p: numeric.evaluate(p, columns), {"w1": 0.0, "w2": 0.0, "b": 0.0}, lr, steps)
        )
        return time.perf_counter() - start, compiled, records[-1].loss

    fresh_kernel_cache()
    cold, cold_compile, loss = ours()  # an empty kernel cache: derive, compile with cc, then the steps
    warm, warm_compile, _ = ours()  # the kernel from the cache, as on every later run
    return {
        "steps": steps,
        "hand": hand,
        "symcalc": cold,
        "compile": cold_compile,
        "warm": warm,
        "warm compile": warm_compile,
        "loss": loss,
    }


# -- symbolic targets ----------------------------------------------------------------------------


def derive_seconds(text: str) -> float:
    import symcalc
    from symcalc.spec.toml import loads

    model = symcalc.Model.from_spec(loads(text))
    start = time.perf_counter()
    symcalc.derive(model)
    return time.perf_counter() - start


def naive_seconds(n: int) -> float:
    """diff + simplify of the composed loss for every parameter: the baseline the engine replaces."""
    import sympy as sp

    xs = sp.symbols(f"x1:{n + 1}", real=True)
    ws = sp.symbols(f"w1:{n + 1}", real=True)
    y, b = sp.symbols("y b", real=True)
    a = 1 / (1 + sp.exp(-(sum(wi * xi for wi, xi in zip(ws, xs, strict=True)) + b)))
    loss = -(y * sp.log(a) + (1 - y) * sp.log(1 - a))
    start = time.perf_counter()
    for p in (*ws, b):
        sp.simplify(sp.diff(loss, p))
    return time.perf_counter() - start


def verify_seconds(n: int) -> tuple[float, bool]:
    import symcalc
    from symcalc.spec.toml import loads

    derivation = symcalc.derive(symcalc.Model.from_spec(loads(logistic_toml(n))))
    start = time.perf_counter()
    checks = symcalc.verify(derivation)
    return time.perf_counter() - start, all(c.holds for c in checks)


def in_child(call: str, timeout: float) -> Any:
    """Run `call` (an expression over this module) in a fresh interpreter, or None after `timeout` seconds."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import performance as p; print(json.dumps({call}))"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def process_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def symbolic(quick: bool) -> None:
    sizes = (10, 50) if quick else (10, 50, 100, 200)
    budget = 60.0
    print("\n## Symbolic (1 process per measurement)\n")
    print("| n features | symcalc derive | naive diff + simplify of the composed loss |")
    print("|---|---|---|")
    naive_skipped_from: int | None = None
    previous: tuple[int, float] | None = None
    for n in sizes:
        ours = in_child(f"p.derive_seconds(p.logistic_toml({n}))", 600)
        naive: Any = None
        if naive_skipped_from is None:
            # Skip a size whose baseline would exceed the budget, judged by linear growth from the last one.
            if previous is not None and previous[1] * n / previous[0] > budget:
                naive_skipped_from = n
            else:
                naive = in_child(f"p.naive_seconds({n})", budget)
                if naive is None:
                    naive_skipped_from = n
                elif isinstance(naive, float):
                    previous = (n, naive)
        shown = (
            f"{naive:.2f} s"
            if isinstance(naive, float)
            else (f"skipped: over {budget:.0f} s" if naive_skipped_from is not None else str(naive))
        )
        print(
            f"| {n} | {ours:.2f} s | {shown} |" if isinstance(ours, float) else f"| {n} | {ours} | {shown} |"
        )
    n = sizes[-1]
    verified = in_child(f"p.verify_seconds({n})", 600)
    if verified is None:
        print(f"\nverify, n = {n}: over 600 s (target 60 s)")
    else:
        print(f"\nverify, n = {n}: {verified[0]:.1f} s, all checks hold: {verified[1]} (target < 60 s)")
    chain = 200
    seconds = in_child(f"p.derive_seconds(p.chain_toml({chain}))", 600)
    print(
        f"derive, {chain} chained definitions: "
        + (f"{seconds:.2f} s (target < 10 s)" if isinstance(seconds, float) else str(seconds))
    )
    whole = process_seconds([sys.executable, "-m", "symcalc", "derive"], 3 if quick else 7)
    sympy_only = process_seconds([sys.executable, "-c", "import sympy"], 3 if quick else 7)
    print(
        f'`python -m symcalc derive` (seed, whole process): {whole:.2f} s; `python -c "import sympy"`: '
        f"{sympy_only:.2f} s; ratio {whole / sympy_only:.2f} (target < 2)"
    )


# -- printing ------------------------------------------------------------------------------------

COLUMNS = (
    "symcalc",
    "symcalc on views of X",
    "symcalc batch module",
    "symcalc generic",
    "hand NumPy",
    "tuned NumPy",
    "lambdify(cse=True)",
    "JAX jit",
    "PyTorch eager",
    "torch.compile",
    "compute floor",
    "memory floor",
)


def show(seconds: Any) -> str:
    if isinstance(seconds, str):
        return seconds
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"


def print_table(result: dict[str, Any]) -> None:
    threads = result["threads"]
    print(
        f"\n## Loss + full-batch gradient, float64, {threads} thread{'s' if threads > 1 else ''} (median)\n"
    )
    print("| N × d | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for row in result["rows"]:
        times = row["times"]
        ours = times["symcalc"]
        cells = []
        for name in COLUMNS:
            value = times.get(name, "n/a")
            if name == "symcalc" or isinstance(value, str):
                cells.append(show(value))
            else:
                cells.append(f"{show(value)} ({ours / value:.2f}×)")
        print(f"| {row['N']:.0e} × {row['d']} | " + " | ".join(cells) + " |")
    print("\n(ratio) = symcalc's time ÷ that column's: below 1 symcalc is faster.")
    for row in result["rows"]:
        times = row["times"]
        others = [
            times[k]
            for k in ("JAX jit", "PyTorch eager", "torch.compile")
            if not isinstance(times.get(k), str)
        ]
        floor = max(times["compute floor"], times["memory floor"])
        best = (
            f"{times['symcalc'] / min(others):.2f}× the best of JAX/PyTorch"
            if others
            else "JAX/PyTorch not installed"
        )
        peaks = ", ".join(f"{k} {v / row['data_bytes']:.2f}×" for k, v in row["peak"].items())
        ratio_floor, ratio_tuned = times["symcalc"] / floor, times["symcalc"] / times["tuned NumPy"]
        print(
            f"- {row['N']:.0e} × {row['d']}: symcalc is {best}; {ratio_floor:.2f}× the larger floor; "
            f"{ratio_tuned:.2f}× tuned NumPy. Peak memory of one evaluation ÷ data "
            f"({row['data_bytes'] / 1e6:.1f} MB): {peaks}"
        )
        ours_gradient = times["codegen gradient"]
        plain, matrix = times["plain NumPy gradient"], times["hand NumPy gradient"]
        print(
            f"  gradient alone: the codegen module {show(ours_gradient)} on views of X; NumPy from the "
            f"formulas on the same columns {show(plain)} = {ours_gradient / plain:.2f}× (target ≤ 0.5×); "
            f"NumPy in matrix form on X {show(matrix)} = {ours_gradient / matrix:.2f}×"
        )
        if "torch.compile (compiling)" in times:
            print(f"  torch.compile's first call (compiling): {times['torch.compile (compiling)']}")
    print(f"- symcalc computed by: {result['rows'][0]['times']['backend']}")
    train = result["train"]
    print(
        f"- train, {train['steps']} steps at N = 1e5, d = 2: hand NumPy {train['hand']:.2f} s; symcalc "
        f"{train['symcalc']:.2f} s with an empty kernel cache, including {train['compile']:.2f} s to derive "
        f"and compile = {train['symcalc'] / train['hand']:.2f}× (target < 0.3×); again with the kernel "
        f"cached {train['warm']:.2f} s ({train['warm compile']:.2f} s of it deriving) "
        f"= {train['warm'] / train['hand']:.2f}×"
    )


def versions() -> str:
    import numpy
    import sympy

    parts = [
        f"Python {platform.python_version()}",
        f"NumPy {numpy.__version__}",
        f"SymPy {sympy.__version__}",
    ]
    for name in ("jax", "torch"):
        try:
            module = __import__(name)
            parts.append(f"{name} {module.__version__}")
        except ImportError:
            parts.append(f"{name} not installed")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller symbolic sizes")
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--skip-symbolic", action="store_true", help="only the numeric tables")
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(numeric_table(args.child, args.quick)))
        return
    print(f"# symcalc performance, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(
        f"{versions()}; {os.cpu_count()} CPUs; {platform.processor() or platform.machine()}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    for threads in args.threads:
        env = dict(os.environ) | {var: str(threads) for var in THREAD_VARS}
        env["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
        command = [sys.executable, __file__, "--child", str(threads), *(["--quick"] if args.quick else [])]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            print(f"\n{threads} thread(s): failed\n{done.stderr[-2000:]}")
            continue
        print_table(json.loads(done.stdout.strip().splitlines()[-1]))
    if not args.skip_symbolic:
        symbolic(args.quick)


if __name__ == "__main__":
    main()
