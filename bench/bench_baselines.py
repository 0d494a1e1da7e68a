"""KernelSHAP benchmark: interspect's kernelshap against shapiq's KernelSHAP and shap's KernelExplainer.

Every method gets the same value function and the same number of model queries (the budget counts the empty
and the full mask for all three: shap's ``nsamples`` is set to ``budget - 2`` because it evaluates those two
separately). Cases: planted sparse Fourier functions (exact Shapley values in closed form) and a small MLP
regressor with features masked to a baseline (exact Shapley values from all ``2^16`` masks). Reported per
case, budget and method, over several seeds: relative Shapley error ``||φ̂ - φ|| / ||φ||``, model rows sent
and distinct masks among them, algorithm time (wall time minus time inside the value function) and peak
extra RSS. Each (case, method, budget) runs in a fresh subprocess with single-threaded BLAS.

shap is run with ``l1_reg=False`` (plain constrained weighted least squares, like the other two); its default
``"num_features(10)"`` keeps only 10 features, which is a different estimator. shapiq uses its pairing trick.

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

import numpy as np

THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
METHODS = ("interspect", "shapiq", "shap")
CASES = {  # name: (n, budgets)
    "planted12": (12, (64, 256, 1024)),
    "mlp16": (16, (128, 512, 2048)),
    "planted40": (40, (200, 1000, 4000)),
    "planted200": (200, (1000, 4000)),
}
QUICK = {"planted12": (12, (64, 256)), "mlp16": (16, (128, 512))}


# --------------------------------------------------------------------------- value functions
def planted_case(n: int, n_terms: int, max_degree: int, seed: int = 0):
    """A sparse Fourier function with random supports of degree 1..max_degree and its exact Shapley values."""
    from interspect import SparseTransform
    from interspect.indices import shapley_values

    rng = np.random.default_rng(seed)
    supports = [tuple(rng.choice(n, size=int(d), replace=False)) for d in rng.integers(1, max_degree + 1, n_terms)]
    truth = SparseTransform([(), *supports], np.concatenate([[1.0], rng.normal(size=n_terms)]), n)
    return truth.predict, shapley_values(truth)


def mlp_case(n: int = 16, seed: int = 0):
    """An MLP on Friedman #1 data; a mask keeps the instance's feature or puts the training mean in its place."""
    from sklearn.datasets import make_friedman1
    from sklearn.neural_network import MLPRegressor

    from interspect.indices import shapley_values
    from interspect.transforms.exact import exact_fourier

    x, y = make_friedman1(n_samples=2000, n_features=n, noise=0.1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=300, random_state=seed).fit(x, y)
    instance, baseline = x[0], x.mean(axis=0)

    def value(masks: np.ndarray) -> np.ndarray:
        keep = np.asarray(masks) > 0.5
        return model.predict(np.where(keep, instance, baseline))

    return value, shapley_values(exact_fourier(value, n))


def build_case(name: str):
    if name == "mlp16":
        return mlp_case()
    n = CASES[name][0]
    return planted_case(n, n_terms={12: 20, 40: 60, 200: 100}[n], max_degree={12: 3, 40: 4, 200: 3}[n])


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


# --------------------------------------------------------------------------- the three estimators
def run_interspect(f, n: int, budget: int, seed: int) -> np.ndarray:
    import interspect as isp

    return isp.explain(
        f, n_features=n, method="kernelshap", budget=budget, random_state=seed, progress=False
    ).shapley_values()


def run_shapiq(f, n: int, budget: int, seed: int) -> np.ndarray:
    from shapiq.approximator import KernelSHAP

    values = KernelSHAP(n=n, pairing_trick=True, random_state=seed).approximate(budget, lambda c: f(c))
    return np.array([values[(i,)] for i in range(n)])


def run_shap(f, n: int, budget: int, seed: int) -> np.ndarray:
    import shap

    np.random.seed(seed)  # noqa: NPY002  (shap samples from the global RNG)
    explainer = shap.KernelExplainer(lambda x: f(x), np.zeros((1, n)))
    return np.asarray(explainer.shap_values(np.ones((1, n)), nsamples=budget - 2, l1_reg=False, silent=True)).ravel()


RUNNERS = {"interspect": run_interspect, "shapiq": run_shapiq, "shap": run_shap}


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(case: str, method: str, budget: int, seeds: int) -> None:
    """One (case, method, budget): every seed, printed as one JSON line."""
    import shap  # noqa: F401  (imports paid before the memory baseline)
    import shapiq  # noqa: F401

    import interspect  # noqa: F401

    f, exact = build_case(case)
    n = len(exact)
    before = rss_mb()
    rows = []
    for seed in range(seeds):
        timed = Timed(f)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            phi = RUNNERS[method](timed, n, budget, seed)
        wall = time.perf_counter() - start
        err = float(np.linalg.norm(phi - exact) / np.linalg.norm(exact))
        eff = float(abs(phi.sum() - exact.sum()))
        rows.append(
            {"err": err, "eff": eff, "alg_s": wall - timed.seconds, "rows": timed.rows, "distinct": timed.distinct}
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    print(json.dumps({"rows": rows, "peak_mb": max(0.0, peak)}))


# --------------------------------------------------------------------------- driver
def measure(case: str, method: str, budget: int, seeds: int) -> dict:
    cmd = [sys.executable, __file__, "--child", case, method, str(budget), str(seeds)]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **THREAD_ENV}, check=False)
    if out.returncode:
        raise RuntimeError(f"{case}/{method}/{budget} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two small cases only")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", help="also write the markdown table here")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, method, budget, seeds = args.child
        child(case, method, int(budget), int(seeds))
        return

    cases = QUICK if args.quick else CASES
    lines = [
        "| case | n | budget | method | Shapley rel. error | err / interspect | |Σφ − Δ| | rows sent | distinct masks"
        " | algorithm s | time / interspect | peak extra MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, (n, budgets) in cases.items():
        for budget in budgets:
            results = {m: measure(case, m, budget, args.seeds) for m in METHODS}
            base = results["interspect"]["rows"]
            base_err = np.mean([r["err"] for r in base])
            base_t = np.mean([r["alg_s"] for r in base])
            for m in METHODS:
                r = results[m]["rows"]
                err, t = np.mean([x["err"] for x in r]), np.mean([x["alg_s"] for x in r])
                line = (
                    f"| {case} | {n} | {budget} | {m} | {err:.4f} ± {np.std([x['err'] for x in r]):.4f}"
                    f" | {err / base_err:.2f} | {max(x['eff'] for x in r):.1e} | {np.mean([x['rows'] for x in r]):.0f}"
                    f" | {np.mean([x['distinct'] for x in r]):.0f} | {t:.3f} | {t / base_t:.2f}"
                    f" | {results[m]['peak_mb']:.0f} |"
                )
                lines.append(line)
                print(line, flush=True)
    header = [
        f"Command: `OMP_WAIT_POLICY=PASSIVE /work/benchenv/bin/python bench/bench_baselines.py"
        f"{' --quick' if args.quick else ''} --seeds {args.seeds}{' --out ' + args.out if args.out else ''}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()},"
        " single-threaded BLAS, one subprocess per (case, method, budget); means over seeds.",
        "",
    ]
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(header + lines) + "\n")


if __name__ == "__main__":
    main()
