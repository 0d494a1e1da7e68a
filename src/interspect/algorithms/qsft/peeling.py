"""Bin transforms, singleton detection, peeling and the final least-squares refit of q-SFT.

Bins are stored as ``U[c, j, p]`` (group, bin, delay). After the FFT,
``U[c, j, p] = Σ_{k : M_c^T k = j} F(k) ω^{⟨k, d_p⟩}``. A bin holding one frequency (a singleton) has
``U[c, j, :] = F(k) ω^{⟨k, d⟩}``, so with delays ``o_r`` and ``o_r + e_i`` the phase of
``Σ_r U(o_r + e_i) conj(U(o_r))`` is ``2π k_i / q``: each digit is read off, the candidate is checked
against the bin it must hash to and against the residual across all delays, and confirmed frequencies
are subtracted from every group (peeling), which can turn multitons into singletons. Noise is handled by
a noise-floor estimate (median residual of the bins that look like singletons) and chi-square thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy.special import chdtri  # chi-square quantiles: chdtri(df, a) = chi2.ppf(1 - a, df), a ufunc

from ...transforms.qary import roots_of_unity, unique_rows
from .design import bin_weights

REL_TOL = 1e-8  # residual / energy below which a bin is a singleton whatever the noise estimate
ZERO_TOL = 1e-20  # bin energy (relative to the largest) below which a bin is empty
MIN_MATCHED = 5  # bins needed to estimate the noise floor from singletons
RESIDUAL_RATIO = 0.5  # with noise: a candidate leaving at most this share of its bin's energy is peeled
CHASE_DIGITS = 3  # with noise, failed bins retry the 2^3 flips of their three least reliable digits
LOW_DEGREE = 3  # with noise, a digit is non-zero with prior probability LOW_DEGREE / n (low-degree terms)
NOISY_REL = 1e-10  # noise floor (relative to the largest bin entry power) above which the data count as noisy;
# the floor of exact data is float cancellation in the residuals, ~1e-17 … 1e-16


def _group_sum(inv: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sum complex ``values`` by group label ``inv``."""
    return np.bincount(inv, values.real, size) + 1j * np.bincount(inv, values.imag, size)


def bin_transform(samples: np.ndarray, q: int, b: int) -> np.ndarray:
    """``(C, P, q^b)`` real samples -> ``(C, q^b, P)`` bins: a ``q^b``-point FFT per group and delay."""
    n_groups, n_delays = samples.shape[:2]
    table = samples.reshape((n_groups, n_delays) + (q,) * b)
    out = scipy.fft.fftn(table, axes=tuple(range(2, b + 2)), norm="forward")  # scaled by 1 / q^b
    return np.ascontiguousarray(out.reshape(n_groups, n_delays, q**b).transpose(0, 2, 1))


@dataclass
class Detection:
    """Best single-frequency explanation of each of ``N`` bins."""

    k: np.ndarray  # (N, n) candidate frequencies
    rho: np.ndarray  # (N,) coefficient estimates
    residual: np.ndarray  # (N,) energy left after removing rho * signature
    energy: np.ndarray  # (N,) bin energy


class Peeler:
    """Peeling decoder over ``C`` groups of ``q^b`` bins with shared delays ``o_r (+ e_i)``.

    Parameters
    ----------
    bins : (C, q^b, P) complex
        Bin values from :func:`bin_transform` for every group.
    matrices : (C, n, b) int
        Subsampling matrices.
    offs : (R, n) int
        Delay offsets; delay ``r * (n + 1) + i`` is ``o_r`` (``i = 0``) or ``o_r + e_i``.
    """

    def __init__(self, bins: np.ndarray, matrices: np.ndarray, offs: np.ndarray, q: int, *, alpha: float = 1e-4):
        self.q = q
        self.u0 = bins
        self.u = bins.copy()
        self.matrices = matrices
        self.offs = offs
        self.n_groups, self.n_bins, self.n_delays = bins.shape
        self.n_features = matrices.shape[1]
        self.weights = bin_weights(matrices.shape[2], q)
        self._stacked = matrices.transpose(1, 0, 2).reshape(self.n_features, -1).astype(np.float64)  # (n, C b)
        self.omega = roots_of_unity(q)
        p = self.n_delays
        self.digit_bias = 0.0  # log prior odds against a non-zero digit (set once noise is known)
        flat = bins.reshape(-1, p)
        evidence = self._evidence(flat)
        self._first = self._detect(flat, *evidence)  # also the first peeling round's detection
        self.noise = self._noise_floor(self._first)
        peak = float(evidence[1].max(initial=0.0))
        if self.noise > NOISY_REL * peak / p:
            nonzero = min(0.5, LOW_DEGREE / self.n_features)  # prior share of non-zero digits: low-degree terms
            self.digit_bias = float(np.log((1 - nonzero) * (q - 1) / nonzero))
            self._first = self._detect(flat, *evidence)
        self.zero_thr = max(ZERO_TOL * peak, self.noise * chdtri(2 * p, alpha) / 2)
        self.resid_thr = self.noise * chdtri(2 * (p - 1), alpha) / 2
        # with noise, also accept a bin whose candidate explains most of its energy: a dominant frequency peeled
        # early (its estimate is refitted at the end) uncovers the weaker ones sharing its bins
        noisy = self.noise > NOISY_REL * peak / p
        self.ratio = RESIDUAL_RATIO if noisy else REL_TOL
        self.alpha = alpha

    def _noise_floor(self, first: Detection) -> float:
        """Noise variance ``ν²`` of one bin entry, from the bins whose detected frequency hashes back to them.

        Those are (almost surely) singletons, whose residual is ``ν² χ²_{2(P-1)} / 2``. The residual of an empty
        bin is useless here: choosing each digit to match the noisy phases absorbs much of its noise. With fewer
        than ``MIN_MATCHED`` such bins, every bin's energy (``ν² χ²_{2P} / 2`` when empty) gives an upper bound.
        """
        p = self.n_delays
        group = np.repeat(np.arange(self.n_groups), self.n_bins)
        matched = self.bins_of(first.k)[np.arange(len(group)), group] == np.tile(np.arange(self.n_bins), self.n_groups)
        matched &= first.energy > 0
        if matched.sum() >= MIN_MATCHED:
            return 2.0 * float(np.median(first.residual[matched])) / chdtri(2 * (p - 1), 0.5)
        return 2.0 * float(np.median(first.energy)) / chdtri(2 * p, 0.5)

    # ------------------------------------------------------------------ detection
    def _phases(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``ω^{⟨k, o_r⟩}`` ``(N, R)`` and ``ω^{k_i}`` ``(N, n)``: a signature entry is ``ω^{⟨k, o_r⟩}`` times
        ``1`` (delay ``o_r``) or ``ω^{k_i}`` (delay ``o_r + e_i``)."""
        base = np.rint(k.astype(np.float64) @ self.offs.T.astype(np.float64)).astype(np.int64)  # (N, R)
        return self.omega[base % self.q], self.omega[k]

    def signatures(self, k: np.ndarray) -> np.ndarray:
        """``(N, P)`` values ``ω^{⟨k, d_p⟩}`` for frequencies ``k``."""
        outer, digit = self._phases(k)
        sig = np.empty((len(k), len(self.offs), self.n_features + 1), dtype=np.complex128)
        sig[:, :, 0] = outer
        np.multiply(outer[:, :, None], digit[:, None, :], out=sig[:, :, 1:])
        return sig.reshape(len(k), -1)

    def correlate(self, k: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``⟨signature(k), u⟩ / P`` for each row (``k`` ``(N, n)``, ``u`` ``(N, P)``; or ``k`` ``(N, M, n)`` candidates
        per row, giving ``(N, M)``), without forming the signatures: the sum over delays factors into one over
        the ``n + 1`` delays of each block, then one over the blocks."""
        cands = k if k.ndim == 3 else k[:, None, :]
        outer, digit = self._phases(cands.reshape(-1, self.n_features))
        outer, digit = outer.reshape(cands.shape[:2] + (-1,)), digit.reshape(cands.shape)  # (N, M, R), (N, M, n)
        v = u.reshape(len(u), len(self.offs), self.n_features + 1)
        per_block = v[:, None, :, 0] + np.einsum("nri,nmi->nmr", v[:, :, 1:], digit.conj())
        rho = np.einsum("nmr,nmr->nm", per_block, outer.conj()) / self.n_delays
        return rho if k.ndim == 3 else rho[:, 0]

    def _evidence(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Phase evidence ``z[:, i] = Σ_r u(o_r + e_i) conj(u(o_r))`` ``(N, n)`` and energy ``(N,)`` of bins ``u``."""
        v = u.reshape(len(u), len(self.offs), self.n_features + 1)
        z = np.einsum("nri,nr->ni", v[:, :, 1:], v[:, :, 0].conj())
        return z, np.einsum("np,np->n", u.conj(), u).real

    def detect(self, u: np.ndarray) -> Detection:
        """Read a candidate frequency from the phase differences of each bin and fit its coefficient."""
        return self._detect(u, *self._evidence(u))

    def _detect(self, u: np.ndarray, z: np.ndarray, energy: np.ndarray) -> Detection:
        k = np.rint(np.angle(z) * self.q / (2 * np.pi)).astype(np.int64) % self.q
        if self.digit_bias > 0:
            k[self._zero_digits(z, k, energy)] = 0
        rho = self.correlate(k, u)
        residual = np.maximum(energy - self.n_delays * np.abs(rho) ** 2, 0.0)
        return Detection(k, rho, residual, energy)

    def _zero_digits(self, z: np.ndarray, k: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """Digits whose evidence for a non-zero value does not beat the low-degree prior (MAP decision).

        For a singleton with power ``a = |F(k)|²``, ``z_i = R a ω^{k_i} + noise`` of variance
        ``s² = R (2 a ν² + ν⁴)``; the log-likelihood gain of digit ``t`` over ``0`` is
        ``2 R a (Re(z ω^{-t}) - Re z) / s²``, weighed against ``digit_bias``.
        """
        r, nu2 = len(self.offs), self.noise
        power = np.maximum(energy / self.n_delays - nu2, 0.0)[:, None]
        gain = 2 * r * power / (r * (2 * power * nu2 + nu2**2))
        lift = (z * self.omega.conj()[k]).real - z.real
        return gain * lift < self.digit_bias

    def chase(self, u: np.ndarray) -> Detection:
        """Chase decoding: try both of the two likeliest values of each bin's ``CHASE_DIGITS`` least reliable digits
        and keep the candidate with the smallest residual across all delays."""
        nu2 = self.noise
        z, energy = self._evidence(u)
        power = np.maximum(energy / self.n_delays - nu2, 0.0)[:, None, None]
        loglik = 2 * power / (2 * power * nu2 + nu2**2) * (z[:, :, None] * self.omega.conj()).real
        loglik[:, :, 1:] -= self.digit_bias
        best = loglik.argmax(axis=2)
        top = np.take_along_axis(loglik, best[:, :, None], axis=2)[:, :, 0]
        np.put_along_axis(loglik, best[:, :, None], -np.inf, axis=2)
        second = loglik.argmax(axis=2)
        top2 = np.stack([best, second], axis=2)  # (N, n, 2) best and runner-up values
        margin = top - np.take_along_axis(loglik, second[:, :, None], axis=2)[:, :, 0]
        flips = min(CHASE_DIGITS, self.n_features)
        weakest = np.argpartition(margin, flips - 1, axis=1)[:, :flips]  # (N, L)
        patterns = ((np.arange(1 << flips)[:, None] >> np.arange(flips)) & 1).astype(bool)  # (2^L, L)
        cands = np.repeat(top2[:, None, :, 0], len(patterns), axis=1)  # (N, 2^L, n)
        runner = np.take_along_axis(top2[:, :, 1], weakest, axis=1)  # (N, L)
        rows = np.arange(len(u))[:, None, None]
        cands[rows, np.arange(len(patterns))[None, :, None], weakest[:, None, :]] = np.where(
            patterns[None], runner[:, None, :], np.take_along_axis(top2[:, :, 0], weakest, axis=1)[:, None, :]
        )
        rho = self.correlate(cands, u)
        residual = np.maximum(energy[:, None] - self.n_delays * np.abs(rho) ** 2, 0.0)
        pick = np.argmin(residual, axis=1)
        idx = np.arange(len(u))
        return Detection(cands[idx, pick], rho[idx, pick], residual[idx, pick], energy)

    def bins_of(self, k: np.ndarray) -> np.ndarray:
        """``(N, C)`` flat bin of each frequency in each group."""
        prod = k.astype(np.float64) @ self._stacked  # BLAS; integers well below 2^53, so exact
        return (prod.astype(np.int64) % self.q).reshape(len(k), self.n_groups, len(self.weights)) @ self.weights

    # ------------------------------------------------------------------ peeling
    def _detect_bins(self, flat: np.ndarray) -> Detection:
        """Detection on flat bin indices ``c * q^b + j``, reusing the initial one while no bin has changed."""
        if self._first is None:
            return self.detect(self.u.reshape(-1, self.n_delays)[flat])
        d = self._first
        return Detection(d.k[flat], d.rho[flat], d.residual[flat], d.energy[flat])

    def run(self, max_order: int | None = None, max_iter: int = 64) -> tuple[np.ndarray, np.ndarray, int]:
        """Peel until no bin yields a new singleton; returns the frequencies, their coefficients, iterations."""
        energy = np.einsum("cjp,cjp->cj", self.u.conj(), self.u).real
        dirty = energy > self.zero_thr
        found_k, found_rho = [], []
        n_found = 0  # distinct frequencies peeled so far
        groups = np.arange(self.n_groups)
        iterations = 0
        while iterations < max_iter:
            iterations += 1
            cand = np.flatnonzero(dirty.ravel())
            dirty[:] = False
            if len(cand) == 0:
                break
            det = self._detect_bins(cand)
            group, bin_ = np.divmod(cand, self.n_bins)
            tolerance = np.maximum(self.ratio * det.energy, self.resid_thr)
            ok = (det.energy > self.zero_thr) & (det.residual <= tolerance)
            ok &= self.bins_of(det.k)[np.arange(len(cand)), group] == bin_
            if self.digit_bias > 0:  # noisy: re-decode failed bins, flipping their least reliable digits
                retry = np.flatnonzero(~ok & (det.energy > self.zero_thr))
                if len(retry):
                    second = self.chase(self.u.reshape(-1, self.n_delays)[cand[retry]])
                    better = second.residual < det.residual[retry]
                    for name in ("k", "rho", "residual"):
                        getattr(det, name)[retry[better]] = getattr(second, name)[better]
                    fixed = retry[better]
                    ok[fixed] = (det.residual[fixed] <= tolerance[fixed]) & (
                        self.bins_of(det.k[fixed])[np.arange(len(fixed)), group[fixed]] == bin_[fixed]
                    )
            if max_order is not None:
                ok &= (det.k != 0).sum(axis=1) <= max_order
            if not ok.any():
                break
            ks, inv = unique_rows(det.k[ok])
            if n_found and len(unique_rows(np.concatenate([*found_k, ks]))[0]) == n_found:
                # only frequencies already peeled, whose estimates noise left slightly off: peeling them again
                # would chase that error bin by bin (the final refit corrects it), so nothing new can come
                break
            rho = _group_sum(inv, det.rho[ok], len(ks)) / np.bincount(inv, minlength=len(ks))
            where = self.bins_of(ks)  # (K, C)
            contrib = rho[:, None, None] * self.signatures(ks)[:, None, :]  # (K, 1, P)
            contrib = np.broadcast_to(contrib, (len(ks), self.n_groups, self.n_delays))
            np.subtract.at(self.u, (groups[None, :], where), contrib)
            self._first = None  # the bins changed
            dirty[groups[None, :], where] = True
            found_k.append(ks)
            found_rho.append(rho)
            n_found = len(unique_rows(np.concatenate(found_k))[0])
        if not found_k:
            return np.zeros((0, self.n_features), dtype=np.int64), np.zeros(0, dtype=np.complex128), iterations
        ks, inv = unique_rows(np.concatenate(found_k))
        return ks, _group_sum(inv, np.concatenate(found_rho), len(ks)), iterations

    def residual_energy(self) -> float:
        """Fraction of the bins' energy that peeling left unexplained."""
        total = float(np.sum(np.abs(self.u0) ** 2))
        return float(np.sum(np.abs(self.u) ** 2)) / total if total > 0 else 0.0

    # ------------------------------------------------------------------ refit
    def refit(self, ks: np.ndarray) -> np.ndarray:
        """Least-squares coefficients of frequencies ``ks`` from all bins.

        Each group-and-delay block of bins is a unitary (up to scale) transform of that block's queries, so
        this is the least-squares fit to the queries themselves, but the design is sparse: frequency ``k``
        touches one bin per group and delay.
        """
        if len(ks) == 0:
            return np.zeros(0, dtype=np.complex128)
        where = self.bins_of(ks)  # (K, C)
        sig = self.signatures(ks)  # (K, P)
        # frequencies a, b share the bin entries of group c exactly when they hash to the same bin there
        shared = (where[:, None, :] == where[None, :, :]).sum(axis=2)  # (K, K) groups in which they collide
        gram = shared * (sig.conj() @ sig.T)
        rhs = np.einsum("kp,kcp->k", sig.conj(), self.u0[np.arange(self.n_groups)[None, :], where])
        try:
            return np.linalg.solve(gram, rhs)  # LAPACK gesv: a small system, so NumPy's lower call overhead wins
        except np.linalg.LinAlgError:
            return np.linalg.lstsq(gram, rhs, rcond=None)[0]

    def coefficient_noise(self) -> float:
        """Variance of a refitted coefficient from noise alone (the frequency is seen in ``C * P`` bin entries)."""
        return self.noise / (self.n_groups * self.n_delays)
