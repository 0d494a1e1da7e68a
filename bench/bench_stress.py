"""Stress the query engine and its SQLite cache: concurrent processes, a long soak, and kill -9 mid-write.

Three measurements, each printed as a table:

1. ``--processes`` processes explain different functions against one shared cache file at the same time
   (small batches: one commit every few masks). Afterwards: errors, ``PRAGMA integrity_check``, the rows of
   each function against its ``n_queries``, and a rerun of every explanation whose model refuses to be called
   (so every answer must come from the cache) giving the same Shapley values.
2. A soak of ``--soak`` queries through one engine: calls of 1,000 masks drawn from a fixed pool (repeats
   answered from memory), then as many distinct masks; resident memory (VmRSS) at start, after the pool is
   stored, and at the end, against the bytes the store itself holds.
3. ``--kills`` times: a child process writes answers to the cache one small batch at a time and is killed
   with SIGKILL at a random moment; each time the file must pass ``PRAGMA integrity_check``, every stored
   answer must be right, and at most the batch in flight may be missing. A final run completes the job.

Run::

    python bench/bench_stress.py                      # 8 processes, 10^6 soak queries, 20 kills
    python bench/bench_stress.py --store-only         # only the store's speed (e.g. PYTHONPATH=<old tree>)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from interspect import explain
from interspect.query import QueryEngine

KILL_N = 40  # features of the function the killed child explains
KILL_BATCH = 4  # masks per committed batch in the kill test
KILL_MASKS = 100_000  # more than 20 kills leave time to write


def planted(seed: int, n: int):
    """A sum of a few products of features: a different sparse function for each seed."""
    rng = np.random.default_rng(seed)
    sets = [rng.choice(n, size=rng.integers(1, 4), replace=False) for _ in range(8)]
    weights = rng.normal(size=len(sets))

    def f(masks: np.ndarray) -> np.ndarray:
        return sum(w * masks[:, s].all(axis=1) for w, s in zip(weights, sets, strict=True)).astype(float)

    return f


def job(seed: int) -> dict:
    """The explanation process ``seed`` runs: exact at n = 10 (even seeds) or KernelSHAP at n = 30 (odd)."""
    if seed % 2 == 0:
        return {"n": 10, "method": "exact", "budget": None}
    return {"n": 30, "method": "kernelshap", "budget": 1500}


def _explain(seed: int, path: str, model=None):
    spec = job(seed)
    return explain(
        model or planted(seed, spec["n"]),
        spec["n"],
        method=spec["method"],
        budget=spec["budget"],
        random_state=seed,
        cache=path,
        cache_key=f"stress-{seed}",
        batch_size=8,
    )


def _worker(seed: int, path: str, queue) -> None:
    start = time.perf_counter()
    try:
        expl = _explain(seed, path)
        queue.put((seed, "ok", expl.n_queries, np.asarray(expl.shapley_values()), time.perf_counter() - start))
    except Exception as exc:  # reported in the table
        queue.put((seed, f"{type(exc).__name__}: {exc}", 0, None, time.perf_counter() - start))


class Refuses:
    """A model that must not be called: every answer has to come from the cache."""

    def __call__(self, masks):
        raise RuntimeError(f"the cache lost {len(masks)} answers")


def concurrent(processes: int, folder: Path) -> None:
    path = str(folder / "shared.sqlite")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_worker, args=(seed, path, queue)) for seed in range(processes)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    results = sorted(queue.get(timeout=600) for _ in workers)
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    db = sqlite3.connect(path)
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    rows = dict(db.execute("SELECT fingerprint, count(*) FROM answers GROUP BY fingerprint").fetchall())
    db.close()
    print(f"\n## {processes} processes, one cache ({wall:.1f} s wall, integrity_check: {integrity})\n")
    print("| process | method | status | n_queries | rows in cache | rerun from cache only | same Shapley |")
    print("|---|---|---|---|---|---|---|")
    for seed, status, n_queries, shapley, _ in results:
        rerun, same = "-", "-"
        if status == "ok":
            try:
                again = _explain(seed, path, model=Refuses())
                rerun, same = "ok", str(bool(np.allclose(again.shapley_values(), shapley, atol=1e-12)))
            except Exception as exc:
                rerun = f"{type(exc).__name__}: {exc}"
        print(
            f"| {seed} | {job(seed)['method']} | {status} | {n_queries} | {rows.get(f'stress-{seed}', 0)} "
            f"| {rerun} | {same} |"
        )


def rss_mb() -> float:
    """This process's resident memory (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def store_mb(engine: QueryEngine) -> float:
    s = engine._store
    return sum(a.nbytes for a in (s.hashes, s.words, s.slot, s.values, s.asked)) / 2**20


def soak(total: int, n: int = 64, call: int = 1000, pool: int = 50_000) -> None:
    rng = np.random.default_rng(0)
    weights = rng.normal(size=n)
    engine = QueryEngine(lambda m: m @ weights, n, batch_size=256)
    pool_masks = rng.random((pool, n)) < 0.5
    start_rss = rss_mb()
    marks = []
    t0 = time.perf_counter()
    half = total // 2
    for done in range(0, half, call):  # repeats of a fixed pool: memory must stay flat once it is stored
        picked = pool_masks[rng.integers(0, pool, size=call)]
        assert np.allclose(engine(picked), picked @ weights)
        if done in (0, pool * 4, half - call):
            marks.append((f"repeats, {done + call:,} queries", rss_mb(), store_mb(engine), len(engine._store)))
    for _ in range(half, total, call):  # distinct masks: memory grows by what the store keeps, no more
        fresh = rng.random((call, n)) < 0.5
        assert np.allclose(engine(fresh), fresh @ weights)
    marks.append((f"then distinct, {total:,} queries", rss_mb(), store_mb(engine), len(engine._store)))
    wall = time.perf_counter() - t0
    print(f"\n## Soak: {total:,} queries through one engine (n = {n}, calls of {call}; {wall:.1f} s)\n")
    print(f"RSS at start: {start_rss:.1f} MB\n")
    print("| after | RSS (MB) | store arrays (MB) | stored masks |")
    print("|---|---|---|---|")
    for label, rss, held, size in marks:
        print(f"| {label} | {rss:.1f} | {held:.1f} | {size:,} |")


CHILD = """
import sys, numpy as np
from interspect.query import QueryEngine
path, log, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(0)
weights = rng.normal(size={n})
masks = rng.random(({m}, {n})) < 0.5
def f(m):
    out = m @ weights
    with open(log, "a") as handle:  # logged as the model returns a batch (its commit comes next)
        handle.write(f"{{len(m)}}\\n")
    return out
QueryEngine(f, {n}, batch_size=batch, cache=path, cache_key="kill")(masks)
"""


def kills(times: int, folder: Path) -> None:
    path, log = folder / "killed.sqlite", folder / "returned.log"
    script = CHILD.format(n=KILL_N, m=KILL_MASKS)
    rng = np.random.default_rng(1)
    same_as_child = np.random.default_rng(0)
    weights = same_as_child.normal(size=KILL_N)
    all_masks = same_as_child.random((KILL_MASKS, KILL_N)) < 0.5
    expected = dict(zip(map(bytes, np.packbits(all_masks, axis=1)), all_masks @ weights, strict=True))
    print(f"\n## kill -9 during cache writes, {times} times (batches of {KILL_BATCH} masks)\n")
    print("| kill | s after first answer | integrity_check | rows stored | returned by model | lost (<= 1 batch) |")
    print("|---|---|---|---|---|---|")
    returned_before = gap_before = 0
    for k in range(times):
        child = subprocess.Popen([sys.executable, "-c", script, str(path), str(log), str(KILL_BATCH)])
        size = log.stat().st_size if log.exists() else 0
        while (log.stat().st_size if log.exists() else 0) == size:  # the child is writing: kill it at random
            time.sleep(0.01)
        delay = float(rng.uniform(0.05, 1.0))
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        db = sqlite3.connect(path)
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        stored = db.execute("SELECT mask, value FROM answers WHERE fingerprint = 'kill'").fetchall()
        db.close()
        wrong = sum(not np.isclose(expected[bytes(m[: KILL_N // 8])], v) for m, v in stored)
        returned = sum(int(x) for x in log.read_text().split()) if log.exists() else 0
        gap = returned - len(stored)  # answers returned but not held: repeats of earlier losses + this one
        lost, gap_before = gap - gap_before, gap
        note = "" if wrong == 0 else f" ({wrong} wrong values!)"
        print(f"| {k + 1} | {delay:.2f} | {integrity} | {len(stored)} | {returned} | {lost}{note} |")
        returned_before = returned
    subprocess.run([sys.executable, "-c", script, str(path), str(log), "1000"], check=True)  # the rest, faster
    final = sum(int(x) for x in log.read_text().split())
    print(
        f"\nfinal run completed: the model answered {final} masks in all runs for "
        f"{len(expected)} distinct masks (repeats across runs: {final - len(expected)}; "
        f"{final - returned_before} in the final run)"
    )


def store_speed(repeats: int = 9) -> None:
    """CPU seconds (best of ``repeats``) of the engine's de-duplication paths with a free model: a first call of
    distinct masks, a call with repeats, and 50 incremental calls then one call answered from memory."""

    def zero(masks: np.ndarray) -> np.ndarray:
        return np.zeros(len(masks))

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
        return min(times) * 1e3

    rng = np.random.default_rng(0)
    print(f"\n## Store speed (CPU ms, best of {repeats})\n")
    print("| n | masks | first call | with repeats | 50 incremental calls + lookup |")
    print("|---|---|---|---|---|")
    for n, m in [(40, 200_000), (200, 100_000), (1000, 50_000)]:
        x = rng.random((m, n)) < 0.5
        repeated = np.vstack([x[: m // 2], x[: m // 4]])
        chunks = np.array_split(x, 50)

        def incremental(x=x, n=n, chunks=chunks):
            engine = QueryEngine(zero, n, batch_size=10**6)
            for chunk in chunks:
                engine(chunk)
            engine(x)

        first = best(lambda x=x, n=n: QueryEngine(zero, n, batch_size=10**6)(x))
        again = best(lambda r=repeated, n=n: QueryEngine(zero, n, batch_size=10**6)(r))
        print(f"| {n} | {m:,} | {first:.1f} | {again:.1f} | {best(incremental):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--soak", type=int, default=1_000_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--store-only", action="store_true", help="only time the store (e.g. against another tree)")
    args = parser.parse_args()
    if args.store_only:
        store_speed()
        return
    warnings.simplefilter("ignore", UserWarning)  # KernelSHAP's low-R² warning at its small budget is expected
    print(f"# Stress ({os.cpu_count()} cores, Python {sys.version.split()[0]}, NumPy {np.__version__})")
    with tempfile.TemporaryDirectory() as folder:
        concurrent(args.processes, Path(folder))
        soak(args.soak)
        kills(args.kills, Path(folder))
    store_speed()


if __name__ == "__main__":
    main()
