"""Monte-Carlo Shapley reference: permutation sampling with antithetic pairs, every permutation's prefix masks
answered in one batched call. Independent of every fitted surrogate, so it can judge all methods alike."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def permutation_shapley(
    value_function: Callable[[np.ndarray], np.ndarray], n_features: int, n_permutations: int, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Shapley values from ``n_permutations`` permutations (half of them the reverses of the other half).

    Returns the estimate and a second, independent half-sample estimate of each half's mean, stacked
    ``(2, n)``, so the caller can tell how stable the reference itself is.
    """
    rng = np.random.default_rng(random_state)
    n = int(n_features)
    half = max(1, n_permutations // 2)
    estimates = np.zeros((half, n))
    steps = np.tril(np.ones((n + 1, n), dtype=bool), k=-1)  # row j keeps the first j features of the order
    for p in range(half):
        order = rng.permutation(n)
        for o in (order, order[::-1]):
            masks = np.zeros((n + 1, n), dtype=bool)
            masks[:, o] = steps
            values = np.asarray(value_function(masks), dtype=np.float64)
            estimates[p, o] += np.diff(values) / 2
    split = max(1, half // 2)
    halves = np.stack([estimates[:split].mean(0), estimates[split:].mean(0) if half > 1 else estimates[0]])
    return estimates.mean(0), halves
