"""Shapley recall@k: how many of the truly most important features an estimate ranks in its top k."""

from __future__ import annotations

import numpy as np

from ..indices import shapley_values
from ..transforms.sparse import SparseTransform


def _values(x: np.ndarray | SparseTransform) -> np.ndarray:
    return shapley_values(x) if isinstance(x, SparseTransform) else np.asarray(x, dtype=np.float64).ravel()


def top_k_features(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest ``|values|`` (ties broken by lower index)."""
    return np.argsort(-np.abs(values), kind="stable")[:k]


def shapley_recall_at_k(estimated: np.ndarray | SparseTransform, true: np.ndarray | SparseTransform, k: int) -> float:
    """Fraction of the true top-``k`` features (by ``|φ|``) found in the estimated top ``k``.

    Either argument may be Shapley values ``(n,)`` or a Fourier/Möbius transform to compute them from.
    """
    est, ref = _values(estimated), _values(true)
    if est.shape != ref.shape:
        raise ValueError(f"estimated and true values differ in shape: {est.shape} vs {ref.shape}")
    if not 1 <= int(k) <= len(ref):
        raise ValueError(f"k must lie in 1..{len(ref)}, got {k}")
    hits = np.intersect1d(top_k_features(est, int(k)), top_k_features(ref, int(k)))
    return len(hits) / int(k)
