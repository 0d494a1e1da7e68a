"""Sampling uncertainty of a surrogate's coefficients, from the queries it was fitted on.

The surrogate is refitted by least squares on its own support; under that model the coefficients have
covariance ``σ² (XᵀX)⁻¹`` (``X`` the ±1 Fourier design of the fitted queries, ``σ²`` the residual variance).
Draws from that normal distribution are stored with the explanation: every index is linear in the Fourier
coefficients, so any index's interval is read off the same draws (:meth:`Explanation.top`).
"""

from __future__ import annotations

import numpy as np

from .transforms.sparse import SparseTransform

#: coefficient draws kept with an explanation (percentile intervals at 90 % need a few dozen)
N_REPLICATES = 64
#: most terms given intervals (the covariance is terms x terms)
MAX_TERMS = 1000
#: most design cells (rows x terms) built; larger fits use a row subsample, rescaled
MAX_CELLS = 1 << 24


def coefficient_replicates(
    fourier: SparseTransform, masks: np.ndarray, values: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """``(N_REPLICATES, k)`` draws of the Fourier coefficients, or None when they are not identifiable."""
    from .algorithms.numerics import parity_design

    k, m = len(fourier), len(values)
    if k == 0 or k > MAX_TERMS or m <= k + 1:
        return None
    residual = np.asarray(values, dtype=np.float64) - fourier.predict(masks)
    sigma2 = float(residual @ residual) / (m - k)
    rows = np.arange(m)
    if m * k > MAX_CELLS:
        rows = np.sort(rng.choice(m, size=MAX_CELLS // k, replace=False))
    design = parity_design(masks[rows], fourier.idx)
    gram = (design.T @ design).astype(np.float64) * (m / len(rows))
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    if eigenvalues.min() <= 1e-9 * max(eigenvalues.max(), 1e-300):
        return None  # a direction the queries do not determine: no finite interval
    root = eigenvectors / np.sqrt(eigenvalues)  # root @ root.T = gram^-1
    draws = rng.standard_normal((N_REPLICATES, k)) @ root.T * np.sqrt(sigma2)
    return fourier.coefs + draws
