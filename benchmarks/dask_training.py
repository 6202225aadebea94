"""Training on Dask: samples per second of one epoch (the mean loss and gradient over every row).

Run:  python benchmarks/dask_training.py              (1e7 × 30, 20 Parquet files, 2 workers)
      python benchmarks/dask_training.py --rows 1e6   (a quick run)

Needs the extra symcalc-gradients[dask]. For logistic regression on 30 features
(`logistic_regression_vector` at n = 30), one evaluation of the mean loss and gradient is timed
three ways, in the same process on the same data:

    in memory         NumericModel.evaluate on NumPy columns: the C kernel, in this process
    cluster, memory   a LocalCluster of --workers processes (one thread each) holding the files'
                      columns in memory (read once and persisted): the C kernel on each
                      partition, the partial sums added here
    cluster, Parquet  the same cluster reading every Parquet file again each epoch (what a data
                      set larger than the cluster's memory takes)

and, to say where the time goes: the scheduling cost of one pass over --files partitions of one
row each, the C kernel on one partition in this process, and reading plus checking one file
(pyarrow's decode, the finite-number and label checks) in this process. Each figure is the best
of --repeat runs after a warm-up. Prints, never fails.
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
import tempfile
import time
from typing import Any

import numpy as np
from timing import best

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symcalc.cli import work  # noqa: E402
from symcalc.numeric.distributed import from_files, partition_sums  # noqa: E402
from symcalc.numeric.model import NumericModel  # noqa: E402
from symcalc.numeric.partitions import Job, read_partition  # noqa: E402

FEATURES = 30


def write_files(folder: pathlib.Path, rows: int, files: int) -> dict[str, np.ndarray[Any, Any]]:
    """`rows` samples in `files` Parquet files (pyarrow's defaults: snappy), and the same columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    x = rng.standard_normal((FEATURES, rows)).T  # columns contiguous, as a CSV's are read
    y = (rng.random(rows) < 1 / (1 + np.exp(-x[:, 0]))).astype(np.float64)
    names = [f"x{i}" for i in range(1, FEATURES + 1)]
    for k, part in enumerate(np.array_split(np.arange(rows), files)):
        table = pa.table({**{n: x[part, i] for i, n in enumerate(names)}, "y": y[part]})
        pq.write_table(table, folder / f"part{k:03d}.parquet")
    return {**{n: x[:, i] for i, n in enumerate(names)}, "y": y}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    rows = int(options.rows)

    from distributed import Client, LocalCluster

    numeric = NumericModel(work.program_file("logistic_regression_vector", {"n": FEATURES}))
    numeric.build()
    params = numeric.start(0)
    with tempfile.TemporaryDirectory() as temporary:
        folder = pathlib.Path(temporary)
        began = time.perf_counter()
        columns = write_files(folder, rows, options.files)
        size = sum(c.nbytes for c in columns.values())
        print(
            f"{rows:.3g} rows × {FEATURES} features ({size / 1e9:.2f} GB) in {options.files} Parquet "
            f"files ({sum(f.stat().st_size for f in folder.iterdir()) / 1e9:.2f} GB), "
            f"written in {time.perf_counter() - began:.1f} s; {options.workers} workers, 1 thread each"
        )
        memory = best(lambda: numeric.evaluate(params, columns), options.repeat)
        job = Job.of(numeric)
        first = str(sorted(folder.iterdir())[0])
        read = best(lambda: read_partition(job, first, first), options.repeat)
        one = read_partition(job, first, first)
        kernel = best(lambda: partition_sums(job, one, first, params, {}), options.repeat)

        with (
            LocalCluster(
                n_workers=options.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            parquet = from_files(str(folder / "*.parquet"), client)
            began = time.perf_counter()
            parquet.check(numeric, params, None)
            checked = time.perf_counter() - began
            from_parquet = best(lambda: numeric.evaluate(params, parquet), options.repeat)

            held = from_files(str(folder / "*.parquet"), client)
            held.check(numeric, params, None)
            began = time.perf_counter()
            persisted = held.persist_if_it_fits(numeric)
            client.wait_for_workers(options.workers)
            numeric.evaluate(params, held)  # waits for the reads
            loaded = time.perf_counter() - began
            from_memory = best(lambda: numeric.evaluate(params, held), options.repeat)

            tiny = folder / "tiny"
            tiny.mkdir()
            import pyarrow as pa
            import pyarrow.parquet as pq

            for k in range(options.files):
                row = {n: [0.1 * k] for n in columns if n != "y"}
                pq.write_table(pa.table({**row, "y": [float(k % 2)]}), tiny / f"t{k:03d}.parquet")
            empty = from_files(str(tiny / "*.parquet"), client)
            empty.check(numeric, params, None)
            empty.persist_if_it_fits(numeric)
            overhead = best(lambda: numeric.evaluate(params, empty), max(options.repeat, 5))

    print(f"{'':<34}{'s / epoch':>10}{'samples/s':>12}{'× in memory':>13}")
    for name, seconds in (
        ("in memory (C kernel, 1 process)", memory),
        ("cluster, from memory (persisted)", from_memory),
        ("cluster, from Parquet each epoch", from_parquet),
    ):
        print(f"{name:<34}{seconds:>10.3f}{rows / seconds:>12.3g}{memory / seconds:>13.2f}")
    per_file = rows / options.files
    share = options.files / options.workers  # partitions per worker
    print(
        f"\nwhere the time goes, per epoch over {options.files} partitions of {per_file:.3g} rows:\n"
        f"  scheduling a pass (partitions of 1 row)   {overhead * 1e3:8.1f} ms\n"
        f"  C kernel, one partition, this process     {kernel * 1e3:8.1f} ms  "
        f"(× {share:g} per worker = {kernel * share:.3f} s)\n"
        f"  read + check one Parquet file, this proc. {read * 1e3:8.1f} ms  "
        f"(× {share:g} per worker = {read * share:.3f} s)\n"
        f"  first pass (read, check every row, count, build the model on each worker): {checked:.2f} s\n"
        f"  persisting (each worker reads its files once): {loaded:.2f} s"
        + ("" if persisted else " (did not fit: not persisted)")
    )


if __name__ == "__main__":
    main()
