"""Regression baselines against their peers: KernelSHAP (shapiq, shap) and Faith-Banzhaf regression (shapiq).

* **Shapley values**: interspect's ``kernelshap`` against shapiq's ``KernelSHAP`` (pairing trick on) and
  shap's ``KernelExplainer`` (``l1_reg=False``: plain constrained weighted least squares like the other two;
  its default ``"num_features(10)"`` keeps only 10 features, a different estimator). shap evaluates the empty
  and the full mask outside ``nsamples``, so it gets ``nsamples = budget - 2``: all three send ``budget`` masks.
* **Faith-Banzhaf interactions (order 2)**: interspect's ``faith_banzhaf`` (no held-out share) against
  shapiq's ``RegressionFBII``; error over every set of size 1..2.

Cases: planted sparse Fourier functions (exact indices in closed form, up to ``n = 10,000``) and a small MLP
regressor whose masked features are replaced by the training mean (exact indices from all ``2^16`` masks).
Reported per case, budget and method, over several seeds: relative error ``||v̂ - v|| / ||v||``, model rows
sent and distinct masks among them, algorithm time (wall time minus time inside the value function) and
peak extra RSS. Each (estimator, case, method, budget) runs in a fresh subprocess with single-threaded BLAS.

    OMP_WAIT_POLICY=PASSIVE /work/benchenv/bin/python bench/bench_baselines.py --out bench/results/baselines.md
    OMP_WAIT_POLICY=PASSIVE /work/benchenv/bin/python bench/bench_baselines.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from itertools import combinations

import numpy as np

TIMEOUT_S = 300  # per subprocess; a peer that takes longer is reported as not finishing
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
FB_ORDER = 2
#: estimator -> methods (the first is interspect, the reference of the ratios) and case -> (n, budgets, seeds)
STUDIES = {
    "shapley": (
        ("interspect", "shapiq", "shap"),
        {
            "planted12": (12, (64, 256, 1024), 5),
            "mlp16": (16, (128, 512, 2048), 5),
            "planted40": (40, (200, 1000, 4000), 5),
            "planted200": (200, (1000, 4000), 5),
            "planted10k": (10_000, (2000,), 1),
        },
    ),
    "fbii": (
        ("interspect", "shapiq"),
        {
            "planted12": (12, (128, 512, 2048), 5),
            "mlp16": (16, (256, 1024, 4096), 5),
            "planted40": (40, (1000, 4000), 3),
        },
    ),
}
QUICK = {"shapley": {"planted12": (12, (64, 256), 2)}, "fbii": {"planted12": (12, (128, 512), 2)}}
#: planted case -> (n, number of terms, largest degree)
PLANTED = {
    "planted12": (12, 20, 3),
    "planted40": (40, 60, 4),
    "planted200": (200, 100, 3),
    "planted10k": (10_000, 200, 2),
}


# --------------------------------------------------------------------------- value functions
def planted_case(n: int, n_terms: int, max_degree: int, seed: int = 0):
    """A sparse Fourier function with random supports of degree 1..max_degree, and its transform."""
    from interspect import SparseTransform

    rng = np.random.default_rng(seed)
    supports = [tuple(rng.choice(n, size=int(d), replace=False)) for d in rng.integers(1, max_degree + 1, n_terms)]
    truth = SparseTransform([(), *supports], np.concatenate([[1.0], rng.normal(size=n_terms)]), n)
    return truth.predict, truth


def mlp_case(n: int = 16, seed: int = 0):
    """An MLP on Friedman #1 data; a mask keeps the instance's feature or puts the training mean in its place."""
    from sklearn.datasets import make_friedman1
    from sklearn.neural_network import MLPRegressor

    from interspect.transforms.exact import exact_fourier

    x, y = make_friedman1(n_samples=2000, n_features=n, noise=0.1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=300, random_state=seed).fit(x, y)
    instance, baseline = x[0], x.mean(axis=0)

    def value(masks: np.ndarray) -> np.ndarray:
        return model.predict(np.where(np.asarray(masks) > 0.5, instance, baseline))

    return value, exact_fourier(value, n)


def reference(study: str, truth) -> np.ndarray:
    """Exact Shapley values, or exact FBII on every set of size 1..FB_ORDER (in ``fb_keys`` order)."""
    from interspect.indices import interaction_values, shapley_values

    if study == "shapley":
        return shapley_values(truth)
    return as_vector(interaction_values(truth, "fbii", FB_ORDER).to_dict(), truth.n_features)


def fb_keys(n: int) -> list[tuple[int, ...]]:
    return [c for k in range(1, FB_ORDER + 1) for c in combinations(range(n), k)]


def as_vector(values: dict, n: int) -> np.ndarray:
    return np.array([values.get(key, 0.0) for key in fb_keys(n)])


class Timed:
    """Wraps a value function: time inside it, rows sent, and the masks (to count distinct ones)."""

    def __init__(self, f):
        self.f, self.seconds, self.rows, self.packed = f, 0.0, 0, []

    def __call__(self, masks):
        masks = np.asarray(masks)
        start = time.perf_counter()
        out = np.asarray(self.f(masks), dtype=np.float64).reshape(-1)
        self.seconds += time.perf_counter() - start
        self.rows += len(masks)
        self.packed.append(np.packbits(masks > 0.5, axis=1))
        return out

    @property
    def distinct(self) -> int:
        return len(np.unique(np.vstack(self.packed), axis=0)) if self.packed else 0


# --------------------------------------------------------------------------- the estimators
def shapley_interspect(f, n: int, budget: int, seed: int) -> np.ndarray:
    import interspect as isp

    expl = isp.explain(
        f, n_features=n, method="kernelshap", budget=budget, random_state=seed, progress=False, n_jobs=1
    )
    return expl.shapley_values()


def shapley_shapiq(f, n: int, budget: int, seed: int) -> np.ndarray:
    from shapiq.approximator import KernelSHAP

    values = KernelSHAP(n=n, pairing_trick=True, random_state=seed).approximate(budget, lambda c: f(c))
    return np.array([values[(i,)] for i in range(n)])


def shapley_shap(f, n: int, budget: int, seed: int) -> np.ndarray:
    import shap

    np.random.seed(seed)  # noqa: NPY002  (shap samples from the global RNG)
    explainer = shap.KernelExplainer(lambda x: f(x), np.zeros((1, n)))
    return np.asarray(explainer.shap_values(np.ones((1, n)), nsamples=budget - 2, l1_reg=False, silent=True)).ravel()


def fbii_interspect(f, n: int, budget: int, seed: int) -> np.ndarray:
    import interspect as isp

    expl = isp.explain(
        f, n_features=n, method="faith_banzhaf", budget=budget, max_order=FB_ORDER, random_state=seed,
        progress=False, holdout=0, n_jobs=1,
    )  # fmt: skip
    return as_vector(expl.interactions(index="fbii", order=FB_ORDER).to_dict(), n)


def fbii_shapiq(f, n: int, budget: int, seed: int) -> np.ndarray:
    from shapiq.approximator import RegressionFBII

    values = RegressionFBII(n=n, max_order=FB_ORDER, random_state=seed).approximate(budget, lambda c: f(c))
    return as_vector(values.dict_values, n)


RUNNERS = {
    ("shapley", "interspect"): shapley_interspect,
    ("shapley", "shapiq"): shapley_shapiq,
    ("shapley", "shap"): shapley_shap,
    ("fbii", "interspect"): fbii_interspect,
    ("fbii", "shapiq"): fbii_shapiq,
}


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(study: str, case: str, method: str, budget: int, seeds: int) -> None:
    """One (study, case, method, budget): every seed, printed as one JSON line."""
    import shap  # noqa: F401  (imports paid before the memory baseline)
    import shapiq  # noqa: F401

    import interspect  # noqa: F401

    f, truth = mlp_case() if case == "mlp16" else planted_case(*PLANTED[case])
    exact = reference(study, truth)
    before = rss_mb()
    rows = []
    for seed in range(seeds):
        timed = Timed(f)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = RUNNERS[study, method](timed, truth.n_features, budget, seed)
        wall = time.perf_counter() - start
        err = float(np.linalg.norm(got - exact) / np.linalg.norm(exact))
        rows.append({"err": err, "alg_s": wall - timed.seconds, "rows": timed.rows, "distinct": timed.distinct})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    print(json.dumps({"rows": rows, "peak_mb": max(0.0, peak)}))


# --------------------------------------------------------------------------- driver
def measure(study: str, case: str, method: str, budget: int, seeds: int) -> dict:
    cmd = [sys.executable, __file__, "--child", study, case, method, str(budget), str(seeds)]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, **THREAD_ENV}, check=False, timeout=TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {TIMEOUT_S} s"}
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1][:200] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(study: str, methods: tuple[str, ...], cases: dict) -> list[str]:
    title = {"shapley": "Shapley values (KernelSHAP)", "fbii": f"Faith-Banzhaf interactions, order {FB_ORDER}"}[study]
    lines = [
        f"### {title}",
        "",
        "| case | n | budget | method | rel. error (mean ± sd) | error / interspect | rows sent | distinct masks"
        " | algorithm s | time / interspect | peak extra MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, (n, budgets, seeds) in cases.items():
        for budget in budgets:
            results = {m: measure(study, case, m, budget, seeds) for m in methods}
            base = results[methods[0]].get("rows")
            base_err = np.mean([r["err"] for r in base]) if base else np.nan
            base_t = np.mean([r["alg_s"] for r in base]) if base else np.nan
            for m in methods:
                if "error" in results[m]:
                    line = f"| {case} | {n} | {budget} | {m} | failed: {results[m]['error']} | | | | | | |"
                else:
                    r = results[m]["rows"]
                    err, t = np.mean([x["err"] for x in r]), np.mean([x["alg_s"] for x in r])
                    line = (
                        f"| {case} | {n} | {budget} | {m} | {err:.4f} ± {np.std([x['err'] for x in r]):.4f}"
                        f" | {err / base_err:.2f} | {np.mean([x['rows'] for x in r]):.0f}"
                        f" | {np.mean([x['distinct'] for x in r]):.0f} | {t:.3f} | {t / base_t:.2f}"
                        f" | {results[m]['peak_mb']:.0f} |"
                    )
                lines.append(line)
                print(line, flush=True)
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small case per estimator, two seeds")
    parser.add_argument("--out", help="also write the markdown tables here")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        study, case, method, budget, seeds = args.child
        child(study, case, method, int(budget), int(seeds))
        return

    lines = [
        f"Command: `OMP_WAIT_POLICY=PASSIVE /work/benchenv/bin/python bench/bench_baselines.py"
        f"{' --quick' if args.quick else ''}{' --out ' + args.out if args.out else ''}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs, Python"
        f" {platform.python_version()}, single-threaded BLAS, one subprocess per (estimator, case, method, budget).",
        "",
    ]
    for study, (methods, cases) in STUDIES.items():
        lines += table(study, methods, QUICK[study] if args.quick else cases)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(lines))


if __name__ == "__main__":
    main()
