"""Exact dense transforms over all ``2^n`` masks: the ground truth for small ``n``.

Mask ``S`` is stored at integer position ``sum_{i in S} 2^i``, so bit ``i`` of a position is feature ``i``.
The fast Walsh–Hadamard and Möbius transforms run level by level on a reshaped view — ``n`` vectorised
butterflies, no Python loop over the ``2^n`` entries.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .sparse import PAD, SparseTransform

#: most features any exact enumeration takes: 2^22 = 4,194,304 masks (the one limit used by every layer)
MAX_EXACT_FEATURES = 22


def _check_length(a: np.ndarray) -> int:
    size = a.shape[0]
    n = size.bit_length() - 1
    if size < 1 or (1 << n) != size:
        raise ValueError(f"length must be a power of two, got {size}")
    return n


def fwht(a: np.ndarray) -> np.ndarray:
    """Unnormalised Walsh–Hadamard transform along axis 0, in place: ``out[T] = sum_S (-1)^{|T&S|} a[S]``."""
    n = _check_length(a)
    for level in range(n):
        h = 1 << level
        view = a.reshape(-1, 2, h, *a.shape[1:])
        lo = view[:, 0].copy()
        view[:, 0] += view[:, 1]
        view[:, 1] = lo - view[:, 1]
    return a


def mobius_dense(values: np.ndarray) -> np.ndarray:
    """Möbius transform of a dense set function, in place: ``m(T) = sum_{U <= T} (-1)^{|T|-|U|} f(U)``."""
    n = _check_length(values)
    for level in range(n):
        view = values.reshape(-1, 2, 1 << level, *values.shape[1:])
        view[:, 1] -= view[:, 0]
    return values


def zeta_dense(mobius: np.ndarray) -> np.ndarray:
    """Inverse of :func:`mobius_dense`, in place: ``f(S) = sum_{T <= S} m(T)``."""
    n = _check_length(mobius)
    for level in range(n):
        view = mobius.reshape(-1, 2, 1 << level, *mobius.shape[1:])
        view[:, 1] += view[:, 0]
    return mobius


def all_masks(n_features: int) -> np.ndarray:
    """The ``(2^n, n)`` boolean matrix of every mask, row ``s`` keeping the features set in ``s``."""
    if not 0 <= n_features <= MAX_EXACT_FEATURES:
        raise ValueError(f"exact enumeration supports 0..{MAX_EXACT_FEATURES} features, got {n_features}")
    s = np.arange(1 << n_features, dtype=np.int64)
    return ((s[:, None] >> np.arange(n_features)) & 1).astype(bool)


def fourier_dense(values: np.ndarray) -> np.ndarray:
    """Fourier coefficients ``F(T) = 2^{-n} sum_S (-1)^{|T&S|} f(S)`` of a dense set function (a copy)."""
    out = np.array(values, dtype=np.float64)
    return fwht(out) / out.shape[0]


def dense_to_sparse(coefs: np.ndarray, n_features: int, basis: str = "fourier") -> SparseTransform:
    """Wrap a dense coefficient vector (indexed by subset bitmask) as a :class:`SparseTransform`."""
    if coefs.shape != (1 << n_features,):
        raise ValueError(f"expected {1 << n_features} coefficients, got shape {coefs.shape}")
    bits = all_masks(n_features)
    idx = np.where(bits, np.arange(n_features), PAD)
    return SparseTransform(idx, coefs, n_features, basis)


def sparse_to_dense(transform: SparseTransform) -> np.ndarray:
    """Dense coefficient vector (indexed by subset bitmask) of a sparse transform on few features."""
    n = transform.n_features
    if n > MAX_EXACT_FEATURES:
        raise ValueError(f"dense form needs n <= {MAX_EXACT_FEATURES}, got {n}")
    weights = np.where(transform.idx == PAD, 0, np.left_shift(1, np.maximum(transform.idx, 0)))
    out = np.zeros(1 << n)
    np.add.at(out, weights.sum(axis=1), transform.coefs)
    return out


def exact_fourier(value_function: Callable[[np.ndarray], np.ndarray], n_features: int) -> SparseTransform:
    """The complete Fourier transform of ``value_function`` from all ``2^n`` masks (one batched call)."""
    values = np.asarray(value_function(all_masks(n_features)), dtype=np.float64).reshape(-1)
    return dense_to_sparse(fourier_dense(values), n_features, "fourier")
