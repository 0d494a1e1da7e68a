"""Bins of q-SFT: the ``q^b``-point DFT over the subsampling lattice of every group and delay."""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft

from .design import all_digits

MATMUL_DFT_WORK = 1 << 21  # below this many multiply-adds (q^2b · P · C) a DFT matrix product beats the FFT


def bin_transform(samples: np.ndarray, q: int, b: int) -> np.ndarray:
    """``(C, q^b, P)`` real samples -> ``(C, q^b, P)`` bins: a ``q^b``-point FFT per group and delay, taken along
    the ``b`` axes of ``l`` with the delays contiguous (many short transforms side by side, no transposing).

    Small designs use one real matrix product with the DFT matrix instead: the FFT's set-up per axis dominates
    there (about 100 µs against 15 µs for q = 3, b = 3, P = 51).
    """
    n_groups, n_bins, n_delays = samples.shape
    if n_bins * n_bins * n_delays * n_groups <= MATMUL_DFT_WORK:
        prod = np.matmul(_dft_matrix(q, b), samples)  # (C, 2 q^b, P): real parts, then imaginary parts
        out = np.empty(samples.shape, dtype=np.complex128)
        out.real, out.imag = prod[:, :n_bins], prod[:, n_bins:]
        return out
    table = samples.reshape((n_groups,) + (q,) * b + (n_delays,))
    out = scipy.fft.fftn(table, axes=tuple(range(1, b + 1)), norm="forward")  # scaled by 1 / q^b
    return out.reshape(n_groups, n_bins, n_delays)


@functools.cache
def _dft_matrix(q: int, b: int) -> np.ndarray:
    """``(2 q^b, q^b)``: the real and imaginary parts of ``ω^{-⟨j, l⟩} / q^b`` over ``Z_q^b`` (a read-only array)."""
    digits = all_digits(b, q)
    angle = (-2 * np.pi / q) * ((digits @ digits.T) % q)
    out = np.concatenate([np.cos(angle), np.sin(angle)]) / q**b
    out.flags.writeable = False
    return out
