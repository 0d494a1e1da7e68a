"""ProxySPEX / auto versus shapiq 1.8's ProxySPEX and spectralexplain's ProxySPEX, in one run.

Cases: planted hierarchical and non-hierarchical sparse functions (n in {64, 256, 1024}), a trained
GradientBoosting model (n in {30, 200}, masked features set to the training mean) and VADER sentiment of a
long review with word-level masking (n ~ 150). Budgets: {0.25, 0.5, 1} n log2 n and the SPEX budgets b in
{4, 6} (``spex_query_count(n, b, t=4)``).

Per method and budget: R² (exact by Parseval for planted functions, else on held-out uniform masks the
methods never saw), algorithm time (wall time minus time inside the model), peak memory (RSS above the
pre-run level, sampled every 5 ms in a side thread — it includes LightGBM's C++ allocations), distinct
queries. Then, per case, the smallest budget in the grid at which each method reaches R² >= 0.9.

    /work/benchenv/bin/python bench/bench_proxyspex.py --quick     # n in {64, 256}, tree n = 30, VADER
    /work/benchenv/bin/python bench/bench_proxyspex.py             # everything (long: the references are slow)
    /work/benchenv/bin/python bench/bench_proxyspex.py --quick --reuse-refs   # ours only, cached reference rows
    /work/benchenv/bin/python bench/bench_proxyspex.py --fill-refs     # full grid, references only where missing
    /work/benchenv/bin/python bench/bench_proxyspex.py --reach         # queries to R² = 0.9, finer budgets
    /work/benchenv/bin/python bench/bench_proxyspex.py --speed     # ours vs shapiq, same run: time, memory, R²
    /work/benchenv/bin/python bench/bench_proxyspex.py --memory    # peak RSS at n = 10,000 (subprocesses)
    /work/benchenv/bin/python bench/bench_proxyspex.py --spread 8  # the cells ours loses: 8 seeds vs shapiq
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import threading
import time
import warnings

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from interspect.algorithms.auto import fit_auto  # noqa: E402
from interspect.algorithms.proxyspex import fit_proxyspex  # noqa: E402
from interspect.algorithms.spex.planner import spex_query_count  # noqa: E402
from interspect.query.engine import QueryEngine  # noqa: E402
from interspect.transforms.sparse import SparseTransform  # noqa: E402

warnings.filterwarnings("ignore")
REVIEW = (
    "I did not expect much from this film, and honestly the first hour is not good. The pacing is slow, the "
    "dialogue is clumsy and the lead actor never seems comfortable. But the second half is a different story. "
    "The tension builds beautifully, the score is haunting, and the final scene is not just clever but deeply "
    "moving. It isn't perfect: a subplot about the brother goes nowhere and the villain is hardly menacing. "
    "Still, I would not call it a failure at all. The photography is stunning, the supporting cast is superb, "
    "and I left the theater happy rather than disappointed. Not the best movie of the year, but certainly not "
    "the worst, and I can't stop thinking about it. Highly recommended for patient viewers who don't mind a "
    "rough start."
)


#: threads of our fits (LightGBM and BLAS): one, as the references run, and stable timings on a shared machine
#: (the speed table also times the default, every CPU)
N_JOBS = 1


# ----------------------------------------------------------------------------------------------- cases
class Case:
    def __init__(self, name, n, fn, truth=None, test_masks=None):
        self.name, self.n, self.fn, self.truth = name, n, fn, truth
        self.test_masks = test_masks
        self.test_values = None if test_masks is None else fn(test_masks)

    def r2(self, fourier: SparseTransform) -> float:
        if self.truth is not None:
            return 1.0 - (fourier - self.truth).energy(include_empty=True) / self.truth.energy()
        pred = fourier.predict(self.test_masks)
        v = self.test_values
        return 1.0 - float(((pred - v) ** 2).sum()) / float(((v - v.mean()) ** 2).sum())


def planted(n: int, hierarchical: bool, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    terms: dict[tuple[int, ...], float] = {(): 1.0}
    if hierarchical:  # 6 top interactions of order 2..4 with all their subsets
        for _ in range(6):
            top = tuple(sorted(rng.choice(n, int(rng.integers(2, 5)), replace=False).tolist()))
            for r in range(1, len(top) + 1):
                for sub in itertools.combinations(top, r):
                    terms.setdefault(sub, float(rng.choice([-1, 1]) * rng.uniform(0.3, 1) * 0.8 ** (len(top) - r)))
    else:  # 24 terms of order 1..4 with no subsets: half are pure interactions
        while len(terms) < 25:
            d = int(rng.integers(1, 5))
            terms[tuple(sorted(rng.choice(n, d, replace=False).tolist()))] = float(rng.normal())
    truth = SparseTransform.from_dict(terms, n)
    return Case(f"planted-{'hier' if hierarchical else 'nonhier'} n={n}", n, truth.predict, truth)


def tree_model(n: int, seed: int, n_test: int) -> Case:
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3000, n))
    y = (
        np.sin(x[:, 0]) * x[:, 1]
        + x[:, 2] * (x[:, 3] > 0)
        + 0.5 * x[:, 4] * x[:, 5] * x[:, 6]
        + x[:, 7:12].sum(axis=1) * 0.3
        + 0.1 * rng.normal(size=3000)
    )
    model = GradientBoostingRegressor(n_estimators=150, max_depth=4, random_state=seed).fit(x, y)
    point, baseline = rng.normal(size=n) * 1.5, x.mean(axis=0)

    def fn(masks):
        return model.predict(np.where(masks, point, baseline))

    test = np.random.default_rng(seed + 1).random((n_test, n)) < 0.5
    return Case(f"tree-model GBR n={n}", n, fn, test_masks=test)


def vader(n_test: int) -> Case:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer, words = SentimentIntensityAnalyzer(), np.array(REVIEW.split())

    def fn(masks):
        return np.array([analyzer.polarity_scores(" ".join(words[row]))["compound"] for row in masks])

    test = np.random.default_rng(99).random((n_test, len(words))) < 0.5
    return Case(f"VADER review n={len(words)}", len(words), fn, test_masks=test)


# ----------------------------------------------------------------------------------------------- methods
class PeakRSS:
    """Peak resident memory above the level at entry, sampled in a side thread."""

    def __enter__(self):
        self.proc, self.base, self.peak, self.stop = psutil.Process(), psutil.Process().memory_info().rss, 0, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self.stop:
            self.peak = max(self.peak, self.proc.memory_info().rss - self.base)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()


class Counted:
    """Wraps a value function: distinct masks asked and seconds inside the model."""

    def __init__(self, fn):
        self.fn, self.model_time, self.seen = fn, 0.0, set()

    def __call__(self, masks):
        masks = np.asarray(masks).astype(bool)
        self.seen.update(map(bytes, np.packbits(masks, axis=1)))
        t = time.perf_counter()
        out = np.asarray(self.fn(masks), dtype=float)
        self.model_time += time.perf_counter() - t
        return out


def run_ours(case, budget, seed, auto=False, with_model_time=False, n_jobs=N_JOBS):
    engine = QueryEngine(case.fn, case.n, batch_size=4096)
    fit = fit_auto if auto else fit_proxyspex
    t = time.perf_counter()
    res = fit(engine, budget=budget, max_order=4, random_state=seed, n_jobs=n_jobs)
    wall = time.perf_counter() - t
    extra = res.info.get("auto", {}).get("choice", "") if auto else ""
    out = res.fourier, wall - engine.model_time, engine.n_queries, extra
    return (*out, engine.model_time) if with_model_time else out


def run_shapiq(case, budget, seed, with_model_time=False):
    from shapiq.approximator.proxy.proxyspex import ProxySPEX

    approx = ProxySPEX(n=case.n, max_order=4, index="FBII", random_state=seed)
    captured = {}
    refine = approx._refine

    def spy(*args, **kwargs):
        captured["fourier"] = refine(*args, **kwargs)
        return captured["fourier"]

    approx._refine = spy
    game = Counted(case.fn)
    t = time.perf_counter()
    approx.approximate(budget, game)
    wall = time.perf_counter() - t
    four = captured["fourier"]
    out = SparseTransform.from_dict(four, case.n), wall - game.model_time, len(game.seen), ""
    return (*out, game.model_time) if with_model_time else out


def run_spectralexplain(case, budget, seed):
    import spectralexplain as spx

    np.random.seed(seed)  # noqa: NPY002 - spectralexplain draws its masks from the global RNG
    game = Counted(case.fn)
    t = time.perf_counter()
    explainer = spx.Explainer(game, case.n, sample_budget=budget, max_order=4, algorithm="proxyspex")
    wall = time.perf_counter() - t
    four = {tuple(np.flatnonzero(np.array(k)).tolist()): float(v) for k, v in explainer.fourier_transform.items()}
    return SparseTransform.from_dict(four, case.n), wall - game.model_time, len(game.seen), ""


METHODS = {
    "interspect proxyspex": run_ours,
    "interspect auto": lambda c, b, s: run_ours(c, b, s, auto=True),
    "shapiq ProxySPEX": run_shapiq,
    "spectralexplain": run_spectralexplain,
}
REFS = ("shapiq ProxySPEX", "spectralexplain")


def budgets_for(n: int, spex_bits: tuple[int, ...]) -> list[tuple[str, int]]:
    nlogn = n * np.log2(n)
    out = [(f"{a}·nlogn", int(round(a * nlogn))) for a in (0.25, 0.5, 1.0)]
    out += [(f"SPEX b={b}", spex_query_count(n, b, 4)) for b in spex_bits]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small cases, b=4 only, references only where affordable")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ref-max-queries", type=int, default=None, help="skip references above this many queries")
    ap.add_argument("--rows", default="bench/results/proxyspex_rows.jsonl", help="every measured row (JSON lines)")
    ap.add_argument(
        "--reuse-refs",
        action="store_true",
        help="reference rows come from --rows (rewritten); run only ours",
    )
    ap.add_argument(
        "--fill-refs",
        action="store_true",
        help="reuse reference rows found in --rows and run references only where none is stored (spectralexplain"
        " only at 1·n log2 n, as in --quick)",
    )
    ap.add_argument("--large", action="store_true", help="only the n = 1024 planted cases")
    ap.add_argument("--reach", action="store_true", help="only: queries to R² = 0.9 on finer budget ladders")
    ap.add_argument("--skip", nargs="*", default=[], help="methods to leave out")
    ap.add_argument("--only", default=None, help="only cases whose name contains this text")
    ap.add_argument("--speed", action="store_true", help="only: time ours and shapiq, same run, on SPEED_CELLS")
    ap.add_argument("--memory", action="store_true", help="only: peak RSS of fit_proxyspex at n = 10,000")
    ap.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    ap.add_argument(
        "--tightest", action="store_true", help="only: ours and shapiq, interleaved, on GBR n = 30 at 37 queries"
    )
    ap.add_argument("--means", type=int, default=0, help="only: ours, mean R² over this many seeds, small budgets")
    ap.add_argument(
        "--spread",
        type=int,
        default=0,
        help="only the cells where a reference wins the quick run: ours and shapiq over this many seeds",
    )
    args = ap.parse_args()
    quick = args.quick
    if args.speed:
        return speed(skip_ref="shapiq ProxySPEX" in args.skip)
    if args.memory:
        return memory()
    if args.memory_child:
        return memory_child(*args.memory_child)
    if args.tightest:
        return tightest()
    if args.means:
        return small_budget_means(args.means)
    if args.reach:
        return reach(reuse_refs=args.reuse_refs)
    if args.spread:
        return spread(args.spread, reuse_refs=args.reuse_refs)
    n_test = 2000 if quick or args.fill_refs else 10_000  # fill: the same test masks as the cached quick rows
    planted_ns = (64, 256) if quick else (64, 256, 1024)
    if args.large:
        cases = [planted(1024, h, seed=1024 + h) for h in (True, False)]
    else:
        cases = [planted(n, h, seed=n + h) for h in (True, False) for n in planted_ns]
        cases += [tree_model(n, 3, n_test) for n in ((30,) if quick else (30, 200))]
        cases.append(vader(n_test))
    if args.only:
        cases = [c for c in cases if args.only in c.name]
    spex_bits = (4,) if quick and not args.large else (4, 6)
    ref_cap = args.ref_max_queries or (3000 if quick else 10**9)
    fit_proxyspex(QueryEngine(cases[0].fn, cases[0].n), budget=200, max_order=2, random_state=0, n_jobs=N_JOBS)  # warm
    import shapiq.approximator.proxy.proxyspex  # noqa: F401
    import spectralexplain  # noqa: F401

    rows = []
    cached = {}
    if (args.reuse_refs or args.fill_refs) and os.path.exists(args.rows):
        with open(args.rows) as fh:
            for line in fh:
                r = json.loads(line)
                cached[(r["case"], r["budget"], r["method"])] = r
    out = open(args.rows, "w")  # noqa: SIM115 - kept open for the whole run, rows flushed as they come
    print(f"{'case':28s} {'budget':12s} {'method':22s} {'queries':>7s} {'R2':>8s} {'alg s':>8s} {'peak MB':>8s} note")
    for case in cases:
        for label, budget in budgets_for(case.n, spex_bits):
            for name, run in METHODS.items():
                if name in args.skip or (name in REFS and budget > ref_cap):
                    continue
                if name == "spectralexplain" and (quick or args.fill_refs) and not label.startswith("1.0"):
                    continue  # its 60-fit grid search is minutes per run: one budget per case in quick mode
                if name in REFS and (args.reuse_refs or args.fill_refs):
                    if (case.name, budget, name) in cached:
                        rows.append(cached[(case.name, budget, name)])
                        out.write(json.dumps(rows[-1]) + "\n")
                        continue
                    if args.reuse_refs:  # never rerun a reference in this mode
                        continue
                try:
                    with PeakRSS() as mem:
                        fourier, alg, queries, note = run(case, budget, args.seed)
                    r2 = case.r2(fourier)
                except Exception as exc:  # a reference crashing is a result too
                    fourier, alg, queries, r2, note = None, float("nan"), 0, float("nan"), f"crash: {exc!r:.60s}"
                    mem = type("M", (), {"peak": 0})()
                row = dict(
                    case=case.name,
                    label=label,
                    budget=budget,
                    method=name,
                    queries=queries,
                    r2=r2,
                    alg=alg,
                    mem=mem.peak / 2**20,
                    note=note,
                )
                rows.append(row)
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(
                    f"{case.name:28s} {label:12s} {name:22s} {queries:7d} {r2:8.4f} {alg:8.2f} {row['mem']:8.1f} "
                    f"{note}",
                    flush=True,
                )
    summarize(rows)


#: the same-run speed table: (case, budgets); planted functions and GBR cost nothing inside the model
SPEED_CELLS = (
    ("tree-model GBR n=30", (37, 74, 147)),
    ("planted-hier n=64", (96, 192, 384)),
    ("planted-hier n=256", (500, 1024)),
    ("planted-nonhier n=256", (500,)),
    ("VADER review n=132", (232, 465)),
    ("planted-hier n=1000", (5000,)),
)


def speed(seeds: int = 1, skip_ref: bool = False):
    """Ours (ProxySPEX on one thread and with the default threads, auto with the default) and shapiq ProxySPEX in
    one run on the SPEED_CELLS: algorithm wall and CPU time, ratios, peak RSS, R²."""
    makers = {
        "tree-model GBR n=30": lambda: tree_model(30, 3, 2000),
        "planted-hier n=64": lambda: planted(64, True, 1),
        "planted-hier n=256": lambda: planted(256, True, 3),
        "planted-nonhier n=256": lambda: planted(256, False, 4),
        "VADER review n=132": lambda: vader(2000),
        "planted-hier n=1000": lambda: planted(1000, True, 7),
    }
    run_ours(planted(64, True, 0), 100, 0)  # warm-up (imports, LightGBM)
    print("| case | n | queries | ours wall s, 1 thread | ours CPU s | ours wall s, default threads | auto wall s,"
          " default | shapiq wall s | shapiq CPU s | ratio CPU | ratio wall, default | peak MB ours / shapiq"
          " | R² ours / auto / shapiq |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    default = functools.partial(run_ours, n_jobs=None)
    for name, budgets in SPEED_CELLS:
        case = makers[name]()
        for budget in budgets:
            for seed in range(seeds):
                ours = _measure(run_ours, case, budget, seed)
                threaded = _measure(default, case, budget, seed)
                auto = _measure(functools.partial(default, auto=True), case, budget, seed)
                ref = None if skip_ref else _measure(run_shapiq, case, budget, seed)
                if ref is None or isinstance(ref, str):
                    refs = (ref or "not run",) * 2
                    ratio, ref_mb, ref_r2 = ("—", "—"), "—", "—"
                else:
                    refs = (f"{ref[1]:.2f}", f"{ref[2]:.2f}")
                    ratio = (f"{ours[2] / ref[2]:.3f}", f"{threaded[1] / ref[1]:.3f}")
                    ref_mb, ref_r2 = f"{ref[3]:.0f}", f"{ref[0]:.3f}"
                print(
                    f"| {name} | {case.n} | {budget} | {ours[1]:.2f} | {ours[2]:.2f} | {threaded[1]:.2f} |"
                    f" {auto[1]:.2f} | {refs[0]} | {refs[1]} | {ratio[0]} | {ratio[1]} | {ours[3]:.0f} / {ref_mb} |"
                    f" {ours[0]:.3f} / {auto[0]:.3f} / {ref_r2} |",
                    flush=True,
                )
    print(f"load average {os.getloadavg()}")


def _measure(run, case, budget, seed):
    """(R², algorithm wall s, algorithm CPU s, peak RSS MB) of one run, or the error's text. CPU = process time
    minus the wall time inside the model (the models run on one thread)."""
    cpu = time.process_time()
    try:
        with PeakRSS() as mem:
            fourier, alg_wall, _, _, model_time = run(case, budget, seed, with_model_time=True)
    except Exception as err:  # noqa: BLE001 - a crashing reference is a result
        return f"crash ({type(err).__name__})"
    return case.r2(fourier), alg_wall, time.process_time() - cpu - model_time, mem.peak / 2**20


def memory(n: int = 10_000, budgets: tuple[int, ...] = (5_000, 0)):
    """Peak RSS of fit_proxyspex at ``n`` (budget 0: the default n log2 n), each in a fresh subprocess, with a
    planted hierarchical function whose evaluation is cheap (its time is subtracted anyway)."""
    import subprocess
    import sys

    print("| n | queries | alg wall s | alg CPU s | model s | peak RSS MB (process) | R² |")
    print("|---|---|---|---|---|---|---|")
    for budget in budgets:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n), str(budget)], capture_output=True, text=True,
            check=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        print(out, flush=True)
    print(f"load average {os.getloadavg()}")


def memory_child(n: int, budget: int):
    import resource

    from interspect.algorithms.proxyspex import default_budget

    case = planted(n, True, seed=7)
    budget = budget or default_budget(n)
    engine = QueryEngine(case.fn, n, batch_size=8192)
    wall, cpu = time.perf_counter(), time.process_time()
    res = fit_proxyspex(engine, budget=budget, random_state=0, n_jobs=N_JOBS)
    wall, cpu = time.perf_counter() - wall - engine.model_time, time.process_time() - cpu - engine.model_time
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(f"| {n} | {budget:,} | {wall:.1f} | {cpu:.1f} | {engine.model_time:.1f} | {peak:.0f} |"
          f" {case.r2(res.fourier):.6f} |")  # fmt: skip


def tightest(repeats: int = 7):
    """Ours and shapiq, interleaved and repeated, on the grid's tightest time cell (GBR n = 30 at 37 queries): a grid
    run is a single 0.2 s measurement, which the machine's load moves by tens of percent, against a reference
    run measured at another time."""
    case = tree_model(30, 3, 2000)
    run_ours(case, 37, 0), run_shapiq(case, 37, 0)  # warm-up
    ours, ref = [], []
    for _ in range(repeats):
        ref.append(run_shapiq(case, 37, 0)[1])
        ours.append(run_ours(case, 37, 0)[1])
    for name, times in (("interspect proxyspex", ours), ("shapiq ProxySPEX", ref)):
        print(
            f"GBR n=30, 37 queries, seed 0, {name:20s}: algorithm time min {min(times):.3f} s, median"
            f" {np.median(times):.3f} s, max {max(times):.3f} s over {repeats} runs"
        )
    print(
        f"ratio of medians {np.median(ref) / np.median(ours):.1f}x, of minima {min(ref) / min(ours):.1f}x,"
        f" worst pairing (our max vs their min) {min(ref) / max(ours):.1f}x; load average {os.getloadavg()}"
    )


def _shapiq_rows_by_seed(path: str) -> dict:
    """shapiq's rows stored in ``path`` (JSON lines) by (case, budget, seed), to reuse instead of rerunning."""
    if not os.path.exists(path):
        return {}
    with open(path) as fh:
        rows = [json.loads(line) for line in fh]
    return {(r["case"], r["budget"], r["seed"]): r for r in rows if r["method"] == "shapiq ProxySPEX"}


def reach(n_seeds: int = 3, reuse_refs: bool = False, path: str = "bench/results/proxyspex_reach.jsonl"):
    """Queries to reach R² = 0.9 on a finer budget ladder than the grid: ours and shapiq, mean over mask seeds.

    With ``reuse_refs`` shapiq's rows are read back from ``path`` instead of rerun.
    """
    cached = _shapiq_rows_by_seed(path) if reuse_refs else {}
    ladders = [  # each reaching below half of shapiq's budget for 0.9 and past shapiq's
        (planted(64, True, seed=65), (96, 120, 144, 168, 192, 224, 256)),
        (tree_model(30, 3, 2000), (25, 30, 32, 37, 45, 55, 64, 74)),
        (planted(256, True, seed=257), (448, 512, 640, 768, 896, 1024)),
    ]
    methods = {"interspect proxyspex": run_ours, "shapiq ProxySPEX": run_shapiq}
    with open(path, "w") as out:
        for case, budgets in ladders:
            for name, run in methods.items():
                means = []
                for budget in budgets:
                    r2 = []
                    for seed in range(n_seeds):
                        if name == "shapiq ProxySPEX" and (case.name, budget, seed) in cached:
                            row = cached[(case.name, budget, seed)]
                            r2.append(row["r2"])
                            out.write(json.dumps(row) + "\n")
                            continue
                        fourier, alg, _, _ = run(case, budget, seed)
                        r2.append(case.r2(fourier))
                        row = dict(case=case.name, budget=budget, method=name, seed=seed, r2=r2[-1], alg=alg)
                        out.write(json.dumps(row) + "\n")
                        out.flush()
                    means.append(float(np.mean(r2)))
                hit = next((b for b, m in zip(budgets, means, strict=True) if m >= 0.9), None)
                shown = " ".join(f"{b}:{m:.3f}" for b, m in zip(budgets, means, strict=True))
                print(f"{case.name:24s} {name:22s} mean R² by budget {shown}  -> R² 0.9 at {hit}", flush=True)


def spread(n_seeds: int, reuse_refs: bool = False, path: str = "bench/results/proxyspex_spread.jsonl"):
    """One seed decides a close cell: R² of ours (ProxySPEX and ``auto``) and shapiq over ``n_seeds`` mask seeds,
    same function. The cells: the two tiny-budget cells a reference once won, and the two large-budget cells
    closest to shapiq in the grid (VADER at 6,336 queries; the pure-interaction function at n = 64 and 5,568,
    where R² swings by ±0.1 between mask seeds for both methods).

    With ``reuse_refs`` shapiq's rows are read back from ``path`` instead of rerun (minutes per fit).
    """
    cells = [
        (planted(64, True, seed=65), 96),
        (planted(64, False, seed=64), 384),
        (vader(2000), 6336),
        (planted(64, False, seed=64), 5568),
    ]
    methods = {
        "interspect proxyspex": run_ours,
        "interspect auto": lambda case, budget, seed: run_ours(case, budget, seed, auto=True),
        "shapiq ProxySPEX": run_shapiq,
    }
    cached = _shapiq_rows_by_seed(path) if reuse_refs else {}
    with open(path, "w") as out:
        for case, budget in cells:
            r2 = {name: [] for name in methods}
            for seed in range(n_seeds):
                for name, run in methods.items():
                    if name == "shapiq ProxySPEX" and (case.name, budget, seed) in cached:
                        row = cached[(case.name, budget, seed)]
                        r2[name].append(row["r2"])
                        out.write(json.dumps(row) + "\n")
                        continue
                    fourier, alg, queries, _ = run(case, budget, seed)
                    r2[name].append(case.r2(fourier))
                    row = dict(case=case.name, budget=budget, method=name, seed=seed, r2=r2[name][-1], alg=alg)
                    out.write(json.dumps(row) + "\n")
                    out.flush()
            for name, vals in r2.items():
                print(f"{case.name} ({budget}) {name:22s} mean R² {np.mean(vals):7.4f}  per seed {np.round(vals, 3)}")
            for name in ("interspect proxyspex", "interspect auto"):
                wins = sum(a >= b for a, b in zip(r2[name], r2["shapiq ProxySPEX"], strict=True))
                print(f"  {name} >= shapiq in {wins} of {n_seeds} seeds", flush=True)


def small_budget_means(n_seeds: int):
    """Ours only: mean R² over mask seeds in the small-budget cells (VADER: half the seeds, its queries are slow)."""
    cells = [
        (planted(64, True, seed=65), (96,), n_seeds),
        (planted(64, False, seed=64), (192, 384), n_seeds),
        (tree_model(30, 3, 2000), (37, 74), n_seeds),
        (vader(2000), (232, 465), max(1, n_seeds // 2)),
    ]
    for case, budgets, seeds in cells:
        for budget in budgets:
            r2 = [case.r2(run_ours(case, budget, seed)[0]) for seed in range(seeds)]
            shown = f"mean R² {np.mean(r2):.3f} over {seeds} seeds {np.round(r2, 3)}"
            print(f"{case.name:24s} {budget:5d}  {shown}", flush=True)


def summarize(rows):
    print("\n### Ratios vs the better reference at each (case, budget) (R² difference, time ratio ours/ref)")
    print(
        "| case | budget | queries | R² ours | R² auto | R² shapiq | R² spectralexplain | alg s ours |"
        " alg s best ref | time ratio | peak MB ours / ref |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    keys = sorted({(r["case"], r["budget"], r["label"]) for r in rows}, key=lambda k: (k[0], k[1]))
    get = {(r["case"], r["budget"], r["method"]): r for r in rows}
    for case, budget, label in keys:
        ours, auto = get.get((case, budget, "interspect proxyspex")), get.get((case, budget, "interspect auto"))
        if ours is None:
            continue
        refs = [get.get((case, budget, m)) for m in REFS]
        fmt = lambda r: "—" if r is None or not np.isfinite(r["r2"]) else f"{r['r2']:.4f}"  # noqa: E731
        ok = [r for r in refs if r is not None and np.isfinite(r["r2"])]
        best_t = min((r["alg"] for r in ok), default=float("nan"))
        best_m = min((r["mem"] for r in ok), default=float("nan"))
        print(
            f"| {case} | {label} ({budget}) | {ours['queries']} | {fmt(ours)} | {fmt(auto)} | {fmt(refs[0])} |"
            f" {fmt(refs[1])} | {ours['alg']:.2f} | {best_t:.2f} | {ours['alg'] / best_t:.3f} |"
            f" {ours['mem']:.0f} / {best_m:.0f} |"
        )
    print("\n### Smallest budget in the grid reaching R² >= 0.9")
    print("| case | interspect proxyspex | interspect auto | shapiq ProxySPEX | spectralexplain |")
    print("|---|---|---|---|---|")
    for case in sorted({r["case"] for r in rows}):
        cells = []
        for m in METHODS:
            hit = sorted(r["budget"] for r in rows if r["case"] == case and r["method"] == m and r["r2"] >= 0.9)
            tried = [r for r in rows if r["case"] == case and r["method"] == m]
            crashed = tried and all(str(r["note"]).startswith("crash") for r in tried)
            cells.append(str(hit[0]) if hit else ("not run" if not tried else "crash" if crashed else "not reached"))
        print(f"| {case} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
