"""Faithfulness of a surrogate: R² = 1 - ||f̂ - f||² / ||f - mean(f)||² (see ``docs/math.md``).

Three ways to measure it: exactly from two Fourier transforms (Parseval — no masks at all), exactly from
the value function on all ``2^n`` masks, or on held-out masks the surrogate was not fitted on.
"""

from __future__ import annotations

import numpy as np

from ..algorithms.numerics import r2_from_sums, r2_score
from ..transforms.exact import all_masks
from ..transforms.sparse import SparseTransform


def _as_fourier(transform: SparseTransform, name: str) -> SparseTransform:
    if not isinstance(transform, SparseTransform):
        raise TypeError(f"{name} must be a SparseTransform, got {type(transform).__name__}")
    if transform.basis == "mobius":
        return transform.to_fourier()
    if transform.basis != "fourier":
        raise ValueError(f"{name} must be a 'fourier' or 'mobius' transform, got {transform.basis!r}")
    return transform


def r2_exact(true: SparseTransform, estimate: SparseTransform) -> float:
    """Exact R² over all ``2^n`` masks from two transforms: ``1 - sum_T (F(T) - F̂(T))² / sum_{T≠∅} F(T)²``."""
    true, estimate = _as_fourier(true, "true"), _as_fourier(estimate, "estimate")
    if true.n_features != estimate.n_features:
        raise ValueError(f"transforms have {true.n_features} and {estimate.n_features} features")
    return r2_from_sums((true - estimate).energy(include_empty=True), true.energy(), true.energy(include_empty=True))


def r2_dense(values_all_masks: np.ndarray, estimate: SparseTransform) -> float:
    """Exact R² against the value function on every mask; ``values_all_masks[s]`` is ``f`` at bitmask ``s``."""
    values = np.asarray(values_all_masks, dtype=np.float64).ravel()
    n = estimate.n_features
    if values.shape != (1 << n,):
        raise ValueError(f"expected 2^{n} = {1 << n} values (one per mask, bitmask order), got {values.shape}")
    return r2_score(values, estimate.predict(all_masks(n)))


def r2_heldout(estimate: SparseTransform, masks: np.ndarray, values: np.ndarray) -> float:
    """R² on held-out ``(m, n)`` masks with model values ``(m,)``, centred on the held-out mean."""
    values = np.asarray(values, dtype=np.float64).ravel()
    masks = np.asarray(masks)
    if masks.ndim != 2 or masks.shape[0] != len(values) or len(values) < 2:
        raise ValueError(f"need >= 2 masks and one value per mask, got masks {masks.shape}, values {values.shape}")
    return r2_score(values, estimate.predict(masks))
