"""Ray backend speed-up on this machine: the same value function called locally and through ``distribute``.

Two workloads, each called on the same masks (the values are checked equal):

- **data attribution**: one scikit-learn ``GradientBoostingClassifier`` retrain per mask (CPU-bound; 20 groups of
  a 600-row training set). Peers in the same run: joblib's own process pool (``n_jobs=2``) and joblib on
  Ray (``parallel_backend="ray"``);
- **latency-bound model**: a function that waits ``--latency`` seconds per call of a chunk plus a little per
  mask, standing in for a model served elsewhere; Ray tasks reserve ``1 / --workers`` CPU each so
  ``--workers`` chunks wait at once.

The Ray cluster is started once (``ray.init(num_cpus=2)``, its start-up time is printed) and is not part
of the timings. Each timing is the best of ``--repeats`` after one untimed warm-up call (worker processes
start and import their code lazily).

Usage::

    OMP_WAIT_POLICY=PASSIVE python bench/bench_ray.py [--masks 64] [--repeats 2] [--workers 8]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from interspect.frontends import DataAttributionValueFunction  # noqa: E402
from interspect.query.ray_backend import distribute  # noqa: E402

N_GROUPS = 20


def best_time(function, masks, repeats: int) -> tuple[float, np.ndarray]:
    """Best wall time of ``repeats`` calls after one untimed warm-up call (Ray worker processes start lazily)."""
    function(masks[:16])
    best, values = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        values = function(masks)
        best = min(best, time.perf_counter() - start)
    return best, np.asarray(values)


class LatencyBound:
    """A stand-in for a remote model: each call waits ``latency`` s plus ``per_mask`` s per mask."""

    def __init__(self, n_features: int, latency: float, per_mask: float) -> None:
        self.n_features, self.latency, self.per_mask = n_features, latency, per_mask
        self.weights = np.linspace(-1, 1, n_features)

    def __call__(self, masks):
        time.sleep(self.latency + self.per_mask * len(masks))
        return np.asarray(masks, dtype=float) @ self.weights


def data_attribution(**options) -> DataAttributionValueFunction:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier

    x, y = make_classification(n_samples=700, n_features=10, random_state=0)
    groups = np.arange(600) % N_GROUPS
    estimator = GradientBoostingClassifier(n_estimators=30, random_state=0)
    return DataAttributionValueFunction(estimator, x[:600], y[:600], x[600:], y[600:], groups=groups, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--masks", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=8, help="concurrent chunks for the latency-bound model")
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()

    import ray

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - start
    rng = np.random.default_rng(0)
    rows = []

    masks = rng.random((args.masks, N_GROUPS)) < 0.7
    local = data_attribution()
    base, expected = best_time(local, masks, args.repeats)
    rows.append(("data attribution", "local, one process", base, base, True))
    for name, function in (
        ("joblib processes, n_jobs=2", data_attribution(n_jobs=2)),
        ("joblib on Ray, n_jobs=2", data_attribution(n_jobs=2, parallel_backend="ray")),
        ("distribute, 2 tasks", distribute(local, mode="tasks", num_workers=2)),
    ):
        seconds, values = best_time(function, masks, args.repeats)
        rows.append(("data attribution", name, seconds, base, np.allclose(values, expected, rtol=0, atol=1e-12)))

    masks = rng.random((args.masks * 4, 30)) < 0.5
    slow = LatencyBound(30, args.latency, 0.002)
    base, expected = best_time(slow, masks, args.repeats)
    rows.append(("latency-bound model", "local, one call", base, base, True))
    for mode in ("tasks", "actors"):
        remote = distribute(slow, mode=mode, num_workers=args.workers, num_cpus=2 / args.workers)
        seconds, values = best_time(remote, masks, args.repeats)
        rows.append(
            (
                "latency-bound model",
                f"distribute, {args.workers} {mode}",
                seconds,
                base,
                bool((values == expected).all()),
            )
        )
        remote.close()

    print(
        f"Ray {ray.__version__}, local cluster num_cpus=2 (start-up {startup:.1f} s, not timed below); "
        f"best of {args.repeats}; {os.cpu_count()} cores"
    )
    print(f"{'workload':<20} {'way':<28} {'seconds':>8} {'speed-up':>8} {'same values':>11}")
    for workload, way, seconds, reference, same in rows:
        print(f"{workload:<20} {way:<28} {seconds:8.2f} {reference / seconds:8.2f} {str(same):>11}")
    ray.shutdown()


if __name__ == "__main__":
    main()
