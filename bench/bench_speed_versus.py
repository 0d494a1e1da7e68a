"""Algorithm time of SPEX, ProxySPEX and q-SFT on small fixed cases, for a before/after comparison.

Run it once per checkout in the same session, e.g. (``git worktree add /tmp/before f0acfdf``)::

    PYTHONPATH=/tmp/before/src python bench/bench_speed_versus.py --label before
    PYTHONPATH=src python bench/bench_speed_versus.py --label after

Each line: case, best-of-``--repeats`` algorithm seconds (model time excluded), and the exact R² of the fit
(planted functions, by Parseval), so that a speed change is never a quality change in disguise. Uses only the
fit functions' common arguments, which both versions accept; one BLAS/LightGBM thread when the version has
``n_jobs`` (the older one pinned one thread itself).
"""

from __future__ import annotations

import argparse
import inspect
import os
import time

import numpy as np

from interspect.algorithms.proxyspex import fit_proxyspex
from interspect.algorithms.qsft import fit_qsft
from interspect.algorithms.spex import fit_spex
from interspect.query.engine import QueryEngine
from interspect.query.qary import QaryQueryEngine
from interspect.transforms.sparse import SparseTransform


def planted(n: int, k: int, degree: int, seed: int) -> SparseTransform:
    rng = np.random.default_rng(seed)
    terms: dict[tuple[int, ...], float] = {(): 1.0}
    while len(terms) < k + 1:
        s = tuple(sorted(rng.choice(n, int(rng.integers(1, degree + 1)), replace=False).tolist()))
        terms.setdefault(s, float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)))
    return SparseTransform.from_dict(terms, n)


def hierarchical(n: int, n_top: int, seed: int) -> SparseTransform:
    import itertools

    rng = np.random.default_rng(seed)
    terms: dict[tuple[int, ...], float] = {(): 0.5}
    for _ in range(n_top):
        top = tuple(sorted(rng.choice(n, 3, replace=False).tolist()))
        for r in range(1, 4):
            for sub in itertools.combinations(top, r):
                terms.setdefault(sub, float(rng.choice([-1, 1]) * rng.uniform(0.3, 1.0)))
    return SparseTransform.from_dict(terms, n)


def exact_r2(truth: SparseTransform, fit: SparseTransform) -> float:
    return 1.0 - (fit - truth).energy(include_empty=True) / truth.energy()


def threads(fit) -> dict:
    return {"n_jobs": 1} if "n_jobs" in inspect.signature(fit).parameters else {}


def timed(fit, engine, **kwargs):
    start, model = time.perf_counter(), engine.model_time
    result = fit(engine, **kwargs, **threads(fit))
    return time.perf_counter() - start - (engine.model_time - model), result


def cases():
    spex_truth = planted(1000, 40, 3, seed=1)
    yield "spex n=1000 k=40 b=6", lambda: timed(fit_spex, QueryEngine(spex_truth.predict, 1000), budget=40_000,
                                                 max_order=3, b=6, random_state=0), spex_truth  # fmt: skip
    small = hierarchical(64, 6, seed=2)
    yield "proxyspex n=64 384 q", lambda: timed(fit_proxyspex, QueryEngine(small.predict, 64), budget=384,
                                                max_order=3, random_state=0), small  # fmt: skip
    big = hierarchical(1000, 10, seed=7)
    yield "proxyspex n=1000 5000 q", lambda: timed(fit_proxyspex, QueryEngine(big.predict, 1000), budget=5000,
                                                   max_order=4, random_state=0), big  # fmt: skip
    rng = np.random.default_rng(3)
    rows = np.zeros((30, 20), dtype=np.int64)
    for r in rows:
        where = rng.choice(20, 2, replace=False)
        r[where] = rng.integers(1, 4, size=2)
    coefs = rng.normal(size=30) + 1j * rng.normal(size=30)
    from interspect.transforms.qary import SparseQaryTransform

    qary = SparseQaryTransform(np.vstack([rows, (-rows) % 4]), np.concatenate([coefs, coefs.conj()]), 20, 4)
    yield "qsft n=20 q=4 24k q", lambda: timed(fit_qsft, QaryQueryEngine(lambda x: qary.predict(x, real=True), 20, 4),
                                               budget=24_000, random_state=0), qary  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", default="")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for name, run, truth in cases():
        run()  # warm-up (imports, code tables)
        times, result = [], None
        for _ in range(args.repeats):
            seconds, result = run()
            times.append(seconds)
        if isinstance(truth, SparseTransform):
            r2 = exact_r2(truth, result.fourier)
        else:  # q-ary: on 2,000 random inputs
            x = np.random.default_rng(0).integers(0, truth.q, size=(2000, truth.n_features))
            y = truth.predict(x, real=True)
            r2 = 1.0 - float(np.sum((result.transform.predict(x, real=True) - y) ** 2) / np.sum((y - y.mean()) ** 2))
        print(f"{args.label:7s} {name:26s} {min(times):8.3f} s   R2 {r2:.6f}", flush=True)
    print(f"{args.label:7s} load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
