"""SPEX benchmark: interspect's SPEX against shapiq's SPEX and spectralexplain on planted sparse functions.

Every (configuration, method) pair runs in its own fresh subprocess, so cold-start costs (code
construction, JIT compilation) are included and peak memory (``ru_maxrss``) is per method. All methods get
the same budget, which every one of them turns into the same design (``3 (P+1) 2^b`` queries).

Planted functions: ``k`` Fourier terms of degree 1..5 with coefficients ±U(0.5, 1.5) (plus a mean term);
"hierarchical" ones are closed under taking subsets (every subset of an interaction is also a term).
Noise, when on, is a deterministic pseudo-random function of the mask whose variance is 10% of the signal
variance; R² is measured exactly (Parseval) against the noise-free function.

shapiq (and the sparse-transform package it runs) comes with the test extra; spectralexplain only with a separate
benchmark environment::

    python bench/bench_spex.py --grid quick      # ~10 minutes
    python bench/bench_spex.py --grid full       # every combination (long)
    python bench/bench_spex.py --methods interspect,shapiq --grid small --cache bench/results/spex_small.jsonl
    python bench/bench_spex.py --methods interspect,shapiq --grid budget   # 1,000 queries at n = 1,024, 10 seeds
    python bench/bench_spex.py --methods interspect --grid none --scale     # n up to 100,000
    python bench/bench_spex.py --methods interspect,shapiq --grid draws --seeds 10  # one noisy cell, 10 designs
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
METHODS = ("interspect", "shapiq", "spectralexplain")
T = 5  # degree bound used by every method
BUDGET_SEEDS = 10  # planted seeds per cell of --grid budget (default of --seeds)
EXACT_R2 = 1.0 - 1e-6  # R² from which a run counts as exact recovery


# ---------------------------------------------------------------------------------------------- planted functions
def planted(n: int, k: int, hierarchical: bool, seed: int):
    from interspect.transforms.sparse import SparseTransform

    rng = np.random.default_rng(seed)
    terms: dict[tuple[int, ...], float] = {(): 1.0}

    def coef() -> float:
        return float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.5))

    while len(terms) < k + 1:
        top = tuple(sorted(rng.choice(n, int(rng.integers(1, T + 1)), replace=False).tolist()))
        group = [s for d in range(1, len(top) + 1) for s in itertools.combinations(top, d)] if hierarchical else [top]
        for s in group[: k + 1 - len(terms)] if hierarchical else group:
            terms.setdefault(s, coef())
    return SparseTransform.from_dict(terms, n)


def value_function(truth, noise: float, seed: int):
    """Noise-free ``truth`` plus deterministic pseudo-noise of variance ``noise * signal variance``."""
    sd = float(np.sqrt(noise * truth.energy()))
    w = np.random.default_rng(seed + 1).normal(scale=1e4, size=truth.n_features)
    spent = [0.0, 0.0]  # wall and CPU seconds inside the value function

    def f(x):
        start, cpu = time.perf_counter(), time.process_time()
        x = np.asarray(x).astype(bool)
        out = truth.predict(x)
        if sd:
            out = out + sd * np.sqrt(2.0) * np.cos(x.astype(np.float64) @ w)
        spent[0] += time.perf_counter() - start
        spent[1] += time.process_time() - cpu
        return out

    return f, spent


# ---------------------------------------------------------------------------------------------- one method, in-process
def run_interspect(n, budget, f, b, draw=0):
    from interspect.algorithms.spex import fit_spex
    from interspect.query.engine import QueryEngine

    engine = QueryEngine(f, n, batch_size=4096, progress=False)
    no_holdout = {"max_holdout": 0} if "max_holdout" in inspect.signature(fit_spex).parameters else {}
    # n_groups=None: 2 or 3 groups, whichever buys more bins (the 3-group design whenever the budget is one)
    result = fit_spex(engine, budget=budget, max_order=T, random_state=draw, n_groups=None, **no_holdout)
    extra = {"decode_s": result.info["timing"]["decode_s"], "refit_s": result.info["timing"]["refit_s"]}
    return result.fourier.to_dict(), engine.n_queries, extra


def run_shapiq(n, budget, f, b, draw=0):
    from shapiq.approximator.sparse import SPEX
    from shapiq.approximator.sparse.base import SubsampledSignalFourier, sparse_fourier_transform

    approx = SPEX(n=n, max_order=T, index="FBII", random_state=0, degree_parameter=T)
    used = approx._set_transform_budget(budget)
    signal = SubsampledSignalFourier(func=lambda x: f(x.astype(bool)), n=n, q=2, query_args=approx.query_args)
    # the Fourier transform SPEX computes before converting it to an index (conversion time not counted)
    out = sparse_fourier_transform(signal, **approx.decoder_args)
    return {tuple(np.flatnonzero(key).tolist()): float(np.real(v)) for key, v in out.items()}, used, {}


def run_spectralexplain(n, budget, f, b, draw=0):
    import spectralexplain as spx

    # spectralexplain's own planner samples a dummy function at b = 3..12 to count queries; its count
    # equals ours, so the design's b is passed directly instead of paying for that
    signal, counts = spx.sampling_strategy(f, 3, b, n, sample_save_dir=None, t=T)
    out = spx.support_recovery("soft", signal, b, T)
    return {tuple(np.flatnonzero(key).tolist()): float(v) for key, v in out.items()}, counts[b], {}


def worker(cfg: dict) -> dict:
    t_import = time.perf_counter()
    runner = {"interspect": run_interspect, "shapiq": run_shapiq, "spectralexplain": run_spectralexplain}[cfg["method"]]
    from interspect.transforms.sparse import SparseTransform

    truth = planted(cfg["n"], cfg["k"], cfg["hier"], cfg["seed"])
    f, spent = value_function(truth, cfg["noise"], cfg["seed"])
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # sparse-transform (under shapiq's SPEX) draws its design from numpy's global generator, whatever
    # random_state says: seeded here, a reference's row is reproducible (its R² still varies by draw)
    draw = cfg.get("draw", 0)
    np.random.seed(cfg["seed"] + 7919 * draw)  # noqa: NPY002 - the global generator is what it reads
    start, cpu_start = time.perf_counter(), time.process_time()
    fourier, queries, extra = runner(cfg["n"], cfg["budget"], f, cfg["b"], draw)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    fit = SparseTransform.from_dict(fourier, cfg["n"]) if fourier else SparseTransform.empty(cfg["n"])
    r2 = 1.0 - (fit - truth).energy(include_empty=True) / truth.energy()
    return {
        **cfg,
        "queries": int(queries),
        "r2": float(r2),
        "alg_s": wall - spent[0],
        "alg_cpu_s": cpu - spent[1],
        "model_s": spent[0],
        "setup_s": start - t_import,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "base_mb": base_rss,
        "terms": len(fourier),
        **extra,
    }


# ---------------------------------------------------------------------------------------------- driver
def spawn(cfg: dict, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", json.dumps(cfg)]
    # one BLAS/OpenMP thread for every method: on a shared 2-core box multi-threaded BLAS spins and makes
    # timings meaningless (interspect limits BLAS threads itself; the references do not)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        return {**cfg, "error": f"timeout after {timeout:.0f}s"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        return {**cfg, "error": (out.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    return json.loads(lines[-1])


def run_key(row: dict) -> tuple:
    return (*(row[k] for k in ("method", "n", "k", "hier", "noise", "b", "budget", "seed")), row.get("draw", 0))


def grid(kind: str, seeds: int = BUDGET_SEEDS) -> list[dict]:
    from interspect.algorithms.spex import spex_query_count

    def cfg(n, k, hier, noise, b):
        return {
            "n": n,
            "k": k,
            "hier": hier,
            "noise": noise,
            "b": b,
            "budget": spex_query_count(n, b or 2, T),
            "seed": n + k,
        }

    if kind == "none":  # only the --scale runs
        return []
    if kind == "budget":  # 1,000 queries for 20 terms at n = 1,024, 10 seeds (seeds outermost: a stopped run covers
        # every cell)
        return [
            {**cfg(1024, 20, hier, noise, None), "budget": 1000, "seed": 1044 + i}
            for i in range(seeds)
            for hier in (True, False)
            for noise in (0.0, 0.1)
        ]
    if kind == "draws":  # the cell shapiq once won (n = 256, b = 4, 10 % noise) over design draws, same function
        return [{**cfg(256, 20, False, 0.1, 4), "draw": i} for i in range(seeds)]
    if kind == "quick":  # the references need 1-2 minutes per run here, 10+ minutes at b = 8 with noise
        return [cfg(n, 20, False, 0.0, 6) for n in (64, 256, 1024)] + [
            cfg(256, 10, False, 0.1, 3),  # 1,104 queries, 10% noise
            cfg(256, 100, True, 0.0, 4),  # 2,208 queries: far too few for k = 100
        ]
    if kind == "small":  # the smallest designs at which SPEX can be exact: 2^b bins per group for k terms
        first = [cfg(n, 20, hier, 0.0, b) for b in (3, 4) for n in (1024, 256, 64) for hier in (True, False)]
        noisy = [cfg(n, k, False, 0.1, b) for k, b in ((20, 3), (20, 4), (50, 5)) for n in (1024, 256, 64)]
        more = [
            cfg(n, k, hier, 0.0, b)
            for k, b in ((50, 4), (50, 5), (100, 5))
            for n in (1024, 256, 64)
            for hier in (True, False)
        ]
        return first + noisy + more
    out = [
        cfg(n, k, hier, noise, 6 if k == 20 else 8)
        for n in (64, 256, 1024)
        for k in (20, 100)
        for hier in (False, True)
        for noise in (0.0, 0.1)
    ]
    return out + [cfg(256, 10, False, 0.1, 3), cfg(256, 20, False, 0.1, 3), cfg(256, 100, False, 0.0, 4)]


def fmt_table(rows: list[dict]) -> str:
    head = (
        "| n | k | hier | noise | b | method | queries | R² | alg s | peak MB | Δ MB"
        " | time ratio (best ref / ours) | peak ratio (best ref / ours) |"
    )
    lines = [head, "|" + "---|" * 13]
    key = lambda r: (r["n"], r["k"], r["hier"], r["noise"], r["budget"])  # noqa: E731
    for _, group in itertools.groupby(sorted(rows, key=key), key=key):
        group = list(group)
        ours = next((r for r in group if r["method"] == "interspect" and "error" not in r), None)
        refs = [r for r in group if r["method"] != "interspect" and "error" not in r]
        for r in sorted(group, key=lambda r: METHODS.index(r["method"])):
            if "error" in r:
                lines.append(
                    f"| {r['n']} | {r['k']} | {r['hier']} | {r['noise']} | {r['b']} | {r['method']} | — | — | — | — |"
                    f" — | {r['error']} | |"
                )
                continue
            ratio_t = ratio_m = ""
            if r is ours and refs:
                ratio_t = f"{min(x['alg_s'] for x in refs) / max(r['alg_s'], 1e-9):.0f}×"
                ratio_m = f"{min(x['peak_mb'] for x in refs) / r['peak_mb']:.1f}×"
            lines.append(
                f"| {r['n']} | {r['k']} | {r['hier']} | {r['noise']} | {r['b']} | {r['method']} | {r['queries']:,} |"
                f" {r['r2']:.4f} | {r['alg_s']:.2f} | {r['peak_mb']:.0f} | {r['peak_mb'] - r['base_mb']:.0f} |"
                f" {ratio_t} | {ratio_m} |"
            )
    return "\n".join(lines)


def fmt_seed_summary(rows: list[dict]) -> str:
    """One line per (function, noise, method) over seeds or design draws: exact runs, R² mean / min / max, median
    CPU time."""
    lines = [
        "| n | k | hier | noise | method | queries | runs | exact | R² mean | R² min | R² max | median CPU s |",
        "|" + "---|" * 12,
    ]
    key = lambda r: (r["n"], r["k"], r["hier"], r["noise"], METHODS.index(r["method"]))  # noqa: E731
    for (n, k, hier, noise, m), group in itertools.groupby(sorted(rows, key=key), key=key):
        group = list(group)
        done = [r for r in group if "error" not in r]
        failed = len(group) - len(done)
        r2 = np.array([r["r2"] for r in done])
        queries = sorted({r["queries"] for r in done})
        stats = (
            f"{int((r2 >= EXACT_R2).sum())} | {r2.mean():.4f} | {r2.min():.4f} | {r2.max():.4f} |"
            f" {np.median([r.get('alg_cpu_s', r['alg_s']) for r in done]):.2f} |"
            if done
            else "— | — | — | — | — |"
        )
        ran = f"{len(done)}" + (f" (+{failed} timed out / failed)" if failed else "")
        q = ", ".join(f"{x:,}" for x in queries) or "—"
        lines.append(f"| {n} | {k} | {hier} | {noise} | {METHODS[m]} | {q} | {ran} | {stats}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", choices=("none", "quick", "small", "budget", "draws", "full"), default="quick")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per method run")
    parser.add_argument(
        "--scale", action="store_true", help="also time interspect at n=1,024 and 10,000 (b=8) and n=100,000 (b=6)"
    )
    parser.add_argument("--cache", help="JSON-lines file of finished runs, reused for methods not in --rerun")
    parser.add_argument("--rerun", default="interspect", help="methods to run again even if cached")
    parser.add_argument(
        "--cached-only", action="store_true", help="run only the --rerun methods; other methods' rows from --cache"
    )
    parser.add_argument(
        "--seeds", type=int, default=BUDGET_SEEDS, help="planted seeds of --grid budget; design draws of --grid draws"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    rerun = {m.strip() for m in args.rerun.split(",")}
    cached = {}
    if args.cache and os.path.exists(args.cache):
        with open(args.cache) as fh:
            for line in fh:
                row = json.loads(line)
                cached[run_key(row)] = row
    rows = []
    for cfg in grid(args.grid, args.seeds):
        for method in methods:
            job = {**cfg, "method": method}
            row = cached.get(run_key(job)) if method not in rerun else None
            if row is None and args.cached_only and method not in rerun:
                continue
            if row is None:
                row = spawn(job, args.timeout)
                if args.cache and ("error" not in row or row["error"].startswith("timeout")):
                    with open(args.cache, "a") as fh:
                        fh.write(json.dumps(row) + "\n")
            rows.append(row)
            shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
            print(json.dumps(shown), file=sys.stderr, flush=True)
    if rows:
        print(fmt_seed_summary(rows) if args.grid in ("budget", "draws") else fmt_table(rows))
    if args.scale:
        from interspect.algorithms.spex import spex_query_count

        scale = []
        for n, k, b in ((1024, 100, 8), (10_000, 100, 8), (100_000, 50, 6)):
            cfg = {"n": n, "k": k, "hier": False, "noise": 0.0, "b": b, "budget": spex_query_count(n, b, T), "seed": 7}
            scale.append(spawn({**cfg, "method": "interspect"}, args.timeout))
        print("\n| n | k | queries | R² | alg s (total, cold) | decode s | refit s | model s | peak MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in scale:
            if "error" in r:
                print(f"| {r['n']} | {r['k']} | error: {r['error']} | | | | | | |")
                continue
            print(
                f"| {r['n']:,} | {r['k']} | {r['queries']:,} | {r['r2']:.4f} | {r['alg_s']:.2f} | {r['decode_s']:.3f} |"
                f" {r['refit_s']:.3f} | {r['model_s']:.2f} | {r['peak_mb']:.0f} |"
            )


if __name__ == "__main__":
    main()
