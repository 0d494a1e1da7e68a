"""Singleton detection and peeling of q-SFT.

Bins are stored as ``U[c, j, p]`` (group, bin, delay). After the FFT,
``U[c, j, p] = Σ_{k : M_c^T k = j} F(k) ω^{⟨k, d_p⟩}``. A bin holding one frequency (a singleton) has
``U[c, j, :] = F(k) ω^{⟨k, d⟩}``, so with delays ``o_r`` and ``o_r + d_i`` the phase of
``Σ_r U(o_r + d_i) conj(U(o_r))`` is ``2π ⟨k, d_i⟩ / q``: with identity delays ``d_i = e_i`` each digit is read
off, with coded delays the symbols are decoded (:mod:`.coded`); the candidate is checked
against the bin it must hash to and against the residual across all delays, and confirmed frequencies
are subtracted from every group (peeling), which can turn multitons into singletons. Noise is handled by
a noise-floor estimate (median residual of the bins that look like singletons) and chi-square thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import chdtri  # chi-square quantiles: chdtri(df, a) = chi2.ppf(1 - a, df), a ufunc

from ...transforms.qary import roots_of_unity, unique_rows
from .coded import DelayCode
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


def _energy(u: np.ndarray) -> np.ndarray:
    """``Σ_p |u[:, p]|²`` of each bin."""
    parts = u.view(np.float64)  # real and imaginary parts side by side; einsum on complex input is slow
    return np.einsum("np,np->n", parts, parts)


def _median(x: np.ndarray) -> float:
    """Median of a non-empty 1-d array (``np.median`` without its overhead, which shows on small arrays)."""
    half = len(x) // 2
    part = np.partition(x, (half - 1, half) if len(x) % 2 == 0 else half)
    return float(part[half] if len(x) % 2 else 0.5 * (part[half - 1] + part[half]))


@dataclass
class Detection:
    """Best single-frequency explanation of each of ``N`` bins."""

    k: np.ndarray  # (N, n) candidate frequencies
    rho: np.ndarray  # (N,) coefficient estimates
    residual: np.ndarray  # (N,) energy left after removing rho * signature
    energy: np.ndarray  # (N,) bin energy
    runner: np.ndarray | None = None  # (N, n) with noise: each digit's second likeliest value
    margin: np.ndarray | None = None  # (N, n) with noise: log-likelihood lead of each digit over its runner-up
    valid: np.ndarray | None = None  # (N,) coded delays: whether the symbols decoded (else k = 0, residual = energy)

    def take(self, rows: np.ndarray) -> Detection:
        """The detections of ``rows`` only."""
        runner, margin, valid = (None if a is None else a[rows] for a in (self.runner, self.margin, self.valid))
        return Detection(self.k[rows], self.rho[rows], self.residual[rows], self.energy[rows], runner, margin, valid)


class Peeler:
    """Peeling decoder over ``C`` groups of ``q^b`` bins with shared delays ``o_r (+ d_i)``.

    Parameters
    ----------
    bins : (C, q^b, P) complex
        Bin values from :func:`bin_transform` for every group.
    matrices : (C, n, b) int
        Subsampling matrices.
    offs : (R, n) int
        Delay offsets; delay ``r * (s + 1) + i`` is ``o_r`` (``i = 0``) or ``o_r + d_i``.
    code : DelayCode, optional
        The coded delays ``d_1 … d_s`` (``s = code.r``); ``None``: identity delays ``e_1 … e_n`` (``s = n``).
    """

    def __init__(
        self, bins: np.ndarray, matrices: np.ndarray, offs: np.ndarray, q: int, *, alpha: float = 1e-4,
        code: DelayCode | None = None,
    ):  # fmt: skip
        self.q = q
        self.code = code
        self.n_symbols = matrices.shape[1] if code is None else code.r
        self.block = self.n_symbols + 1
        self._delays_t = None if code is None else code.matrix.T.astype(np.float64)
        self.u0 = bins
        self.u = bins.copy()
        self.matrices = matrices
        self.offs = offs
        self.n_groups, self.n_bins, self.n_delays = bins.shape
        self.n_features = matrices.shape[1]
        self.weights = bin_weights(matrices.shape[2], q)
        self._stacked = matrices.transpose(1, 0, 2).reshape(self.n_features, -1).astype(np.float64)  # (n, C b)
        self.omega = roots_of_unity(q)
        self.digit_bias = 0.0  # identity delays: log prior odds against a non-zero digit (set once noise is known)
        self.alpha = alpha
        self._calibrate(bins.reshape(-1, self.n_delays))

    def _calibrate(self, flat: np.ndarray) -> None:
        """From one look at every bin: the noise floor, the thresholds, the prior on digits and the first peeling
        round's detections (of the bins above the zero threshold)."""
        p, q, alpha = self.n_delays, self.q, self.alpha
        z, energy = self._phase_evidence(flat), _energy(flat)
        nearest = self._nearest_digits(z)
        k, valid = (nearest[0], None) if self.code is None else self.code.decode(self._symbol_turns(z))
        matched, rho = self._matched(flat, k, energy, valid)
        residual = energy.copy()  # what a bin leaves unexplained by its rounded frequency (all of it if unmatched)
        residual[matched] = np.maximum(energy[matched] - p * np.abs(rho) ** 2, 0.0)
        self.noise = self._noise_floor(residual[matched], energy)
        peak = float(energy.max(initial=0.0))
        noisy = self.noisy = bool(self.noise > NOISY_REL * peak / p)
        self.zero_thr = max(ZERO_TOL * peak, self.noise * chdtri(2 * p, alpha) / 2)
        self.resid_thr = self.noise * chdtri(2 * (p - 1), alpha) / 2
        # with noise, also accept a bin whose candidate explains most of its energy: a dominant frequency peeled
        # early (its estimate is refitted at the end) uncovers the weaker ones sharing its bins
        self.ratio = RESIDUAL_RATIO if noisy else REL_TOL
        if noisy and self.code is None:
            nonzero = min(0.5, LOW_DEGREE / self.n_features)  # prior share of non-zero digits: low-degree terms
            self.digit_bias = float(np.log((1 - nonzero) * (q - 1) / nonzero))
        live = self._live = np.flatnonzero(energy > self.zero_thr)
        self._energy, self._total_energy = energy, float(energy.sum())  # of the current bins, kept up to date
        live_valid = None if valid is None else valid[live]
        if noisy and self.code is None:
            self._first = self._detect(flat[live], z[live], energy[live], (nearest[0][live], nearest[1][live]))
        elif noisy:
            self._first = self._fitted(flat[live], k[live], live_valid, energy[live])
        else:  # exact data: an unmatched bin fails the first round whatever its coefficient, so none is fitted
            coefs = np.zeros(len(flat), dtype=np.complex128)
            coefs[matched] = rho
            self._first = Detection(k[live], coefs[live], residual[live], energy[live], valid=live_valid)

    def _matched(
        self, u: np.ndarray, k: np.ndarray, energy: np.ndarray, valid: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Bins (of all, ``u``) with energy whose read frequency ``k`` (``valid``: decoded) hashes back to them, and its
        coefficient there: (almost surely) the singletons."""
        group = np.repeat(np.arange(self.n_groups), self.n_bins)
        matched = self.bins_of(k)[np.arange(len(group)), group] == np.tile(np.arange(self.n_bins), self.n_groups)
        matched = np.flatnonzero(matched & (energy > 0) & (True if valid is None else valid))
        return matched, self.correlate(k[matched], u[matched])

    def _noise_floor(self, singleton_residuals: np.ndarray, energy: np.ndarray) -> float:
        """Noise variance ``ν²`` of one bin entry, from the residuals of the bins that look like singletons.

        A singleton's residual is ``ν² χ²_{2(P-1)} / 2``. The residual of an empty bin is useless here: choosing
        each digit to match the noisy phases absorbs much of its noise. With fewer than ``MIN_MATCHED`` singletons,
        every bin's energy (``ν² χ²_{2P} / 2`` when empty) gives an upper bound.
        """
        p = self.n_delays
        if len(singleton_residuals) >= MIN_MATCHED:
            return 2.0 * _median(singleton_residuals) / chdtri(2 * (p - 1), 0.5)
        return 2.0 * _median(energy) / chdtri(2 * p, 0.5)

    # ------------------------------------------------------------------ detection
    def _phases(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``ω^{⟨k, o_r⟩}`` ``(N, R)`` and ``ω^{⟨k, d_i⟩}`` ``(N, s)``: a signature entry is ``ω^{⟨k, o_r⟩}`` times
        ``1`` (delay ``o_r``) or ``ω^{⟨k, d_i⟩}`` (delay ``o_r + d_i``; ``ω^{k_i}`` for identity delays)."""
        if self._delays_t is None:
            return self.omega[self._turns(k) % self.q], self.omega[k]
        symbols = np.rint(k.astype(np.float64) @ self._delays_t).astype(np.int64) % self.q  # BLAS; exact
        return self.omega[self._turns(k) % self.q], self.omega[symbols]

    def _turns(self, k: np.ndarray) -> np.ndarray:
        """``⟨k, o_r⟩`` ``(N, R)`` for each frequency and delay block, in units of ``2π / q`` (not reduced)."""
        return np.rint(k.astype(np.float64) @ self.offs.T.astype(np.float64)).astype(np.int64)  # BLAS; exact

    def signatures(self, k: np.ndarray) -> np.ndarray:
        """``(N, P)`` values ``ω^{⟨k, d_p⟩}`` for frequencies ``k``."""
        outer, digit = self._phases(k)
        sig = np.empty((len(k), len(self.offs), self.block), dtype=np.complex128)
        sig[:, :, 0] = outer
        np.multiply(outer[:, :, None], digit[:, None, :], out=sig[:, :, 1:])
        return sig.reshape(len(k), -1)

    def correlate(self, k: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``⟨signature(k), u⟩ / P`` for each row (``k`` ``(N, n)``, ``u`` ``(N, P)``; or ``k`` ``(N, M, n)`` candidates
        per row, giving ``(N, M)``), without forming the signatures: the sum over delays factors into one over
        the ``s + 1`` delays of each block, then one over the blocks."""
        cands = k if k.ndim == 3 else k[:, None, :]
        outer, digit = self._phases(cands.reshape(-1, self.n_features))
        outer = outer.reshape(cands.shape[:2] + (len(self.offs),))  # (N, M, R)
        digit = digit.reshape(cands.shape[:2] + (self.n_symbols,))  # (N, M, s)
        v = u.reshape(len(u), len(self.offs), self.block)
        per_block = v[:, :, :1] + np.matmul(v[:, :, 1:], digit.conj().transpose(0, 2, 1))  # (N, R, M)
        rho = (per_block.transpose(0, 2, 1) * outer.conj()).sum(axis=2) / self.n_delays
        return rho if k.ndim == 3 else rho[:, 0]

    def _phase_evidence(self, u: np.ndarray) -> np.ndarray:
        """Phase evidence ``z[:, i] = Σ_r u(o_r + d_i) conj(u(o_r))`` ``(N, s)`` of bins ``u``."""
        v = u.reshape(len(u), len(self.offs), self.block)
        return np.matmul(v[:, None, :, 0].conj(), v[:, :, 1:])[:, 0]  # batched BLAS: much faster than einsum

    def detect(self, u: np.ndarray, energy: np.ndarray | None = None) -> Detection:
        """Read a candidate frequency from the phase differences of each bin and fit its coefficient."""
        z = self._phase_evidence(u)
        energy = _energy(u) if energy is None else energy
        return self._detect(u, z, energy, self._nearest_digits(z) if self.code is None else None)

    def _symbol_turns(self, z: np.ndarray) -> np.ndarray:
        """Phases of the evidence in units of ``2π / q``."""
        return np.angle(z) * (self.q / (2 * np.pi))

    def _nearest_digits(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per digit, the value whose phase ``2π t / q`` is nearest the evidence's, and whether the evidence's phase
        lies above it (the other value beside it is then ``t + 1``, else ``t - 1``)."""
        a = np.angle(z) * (self.q / (2 * np.pi))
        nearest = np.rint(a)
        return nearest.astype(np.int64) % self.q, a >= nearest

    def _detect(
        self, u: np.ndarray, z: np.ndarray, energy: np.ndarray, nearest: tuple[np.ndarray, np.ndarray] | None
    ) -> Detection:
        if self.code is not None:
            return self._fitted(u, *self.code.decode(self._symbol_turns(z)), energy)
        assert nearest is not None, "identity delays read the nearest digits"
        runner = margin = None
        if self.digit_bias > 0:
            k, runner, margin = self._map_digits(z, energy, *nearest)
        else:
            k = nearest[0]
        rho = self.correlate(k, u)
        residual = np.maximum(energy - self.n_delays * np.abs(rho) ** 2, 0.0)
        return Detection(k, rho, residual, energy, runner, margin)

    def _fitted(self, u: np.ndarray, k: np.ndarray, valid: np.ndarray | None, energy: np.ndarray) -> Detection:
        """Coded delays: the detection of decoded frequencies ``k``; a bin that did not decode keeps all its energy."""
        rho = self.correlate(k, u)
        residual = np.maximum(energy - self.n_delays * np.abs(rho) ** 2, 0.0)
        if valid is not None:
            rho[~valid], residual[~valid] = 0.0, energy[~valid]
        return Detection(k, rho, residual, energy, valid=valid)

    def _chase_coded(self, u: np.ndarray, det: Detection, bins: np.ndarray) -> Detection:
        """Coded delays with noise: the Chase candidates (:meth:`.coded.DelayCode.chase`) that decode and hash back to
        their flat bins ``bins``; the one with the smallest residual across all delays."""
        assert self.code is not None
        cands, good = self.code.chase(self._phase_evidence(u))  # (N, M, n), (N, M)
        flat = self.bins_of(cands.reshape(-1, self.n_features)) + self.n_bins * np.arange(self.n_groups)
        good &= (flat.reshape(good.shape + (self.n_groups,)) == bins[:, None, None]).any(axis=2)
        rho = self.correlate(cands, u)
        residual = np.where(good, np.maximum(det.energy[:, None] - self.n_delays * np.abs(rho) ** 2, 0.0), np.inf)
        pick = np.argmin(residual, axis=1)
        idx = np.arange(len(u))
        return Detection(cands[idx, pick], rho[idx, pick], residual[idx, pick], det.energy, valid=good[idx, pick])

    def _map_digits(
        self, z: np.ndarray, energy: np.ndarray, t1: np.ndarray, above: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """MAP value of each digit against the low-degree prior, with its runner-up and log-likelihood margin.

        For a singleton with power ``a = |F(k)|²``, ``z_i = R a ω^{k_i} + noise`` of variance
        ``s² = R (2 a ν² + ν⁴)``, so the log-likelihood of digit ``t`` is ``2 R a Re(z ω^{-t}) / s²`` (up to a
        constant), less ``digit_bias`` for ``t ≠ 0``. Among non-zero values it falls with the angular distance
        from ``z``, so the best two values of all are among the two nearest (``t1`` and its neighbour on the side of
        ``z``, ``t2``) and ``0``.
        """
        nu2 = self.noise
        t2 = (t1 + np.where(above, 1, -1)) % self.q
        power = np.maximum(energy / self.n_delays - nu2, 0.0)[:, None]
        gain = 2 * power / (2 * power * nu2 + nu2**2)
        conj = self.omega.conj()
        s1 = gain * (z * conj[t1]).real - self.digit_bias * (t1 != 0)
        s2 = gain * (z * conj[t2]).real - self.digit_bias * (t2 != 0)
        s0 = np.where((t1 == 0) | (t2 == 0), -np.inf, gain * z.real)  # zero, unless it is t1 or t2 already
        first = s1 >= s2
        top, low = np.where(first, t1, t2), np.where(first, t2, t1)
        s_top, s_low = np.maximum(s1, s2), np.minimum(s1, s2)
        zero_best, zero_second = s0 > s_top, s0 > s_low
        k = np.where(zero_best, 0, top)
        runner = np.where(zero_best, top, np.where(zero_second, 0, low))
        margin = np.where(zero_best, s0 - s_top, s_top - np.where(zero_second, s0, s_low))
        return k, runner, margin

    def chase(self, u: np.ndarray, det: Detection) -> Detection:
        """Chase decoding: try both of the two likeliest values of each bin's ``CHASE_DIGITS`` least reliable digits
        and keep the candidate with the smallest residual across all delays.

        The candidates differ from the MAP one only in those digits, so their correlations are the MAP one's
        per-block sums and phases plus the changes of at most ``CHASE_DIGITS`` terms.
        """
        assert det.margin is not None and det.runner is not None, "chase needs a noisy detection's runner-up digits"
        n, q = self.n_features, self.q
        flips = min(CHASE_DIGITS, n)
        rows = np.arange(len(u))[:, None]
        weakest = np.argpartition(det.margin, flips - 1, axis=1)[:, :flips]  # (N, L)
        was, alt = det.k[rows, weakest], det.runner[rows, weakest]  # (N, L)
        v = u.reshape(len(u), len(self.offs), n + 1)
        conj = self.omega.conj()
        sums = v[:, :, 0] + np.matmul(v[:, :, 1:], conj[det.k][:, :, None])[:, :, 0]  # (N, R) per-block sums
        turns = self._turns(det.k)  # (N, R) phase of each block's offset
        d_sums = np.take_along_axis(v[:, :, 1:], weakest[:, None, :], axis=2) * (conj[alt] - conj[was])[:, None, :]
        d_turns = self.offs.T[weakest] * (alt - was)[:, :, None]  # (N, L, R)
        patterns = (np.arange(1 << flips)[:, None] >> np.arange(flips)) & 1  # (2^L, L)
        block = sums[:, None, :] + np.matmul(patterns.astype(np.float64), d_sums.transpose(0, 2, 1))  # (N, 2^L, R)
        phase = conj[(turns[:, None, :] + np.matmul(patterns, d_turns)) % q]
        rho = (block * phase).sum(axis=2) / self.n_delays
        residual = np.maximum(det.energy[:, None] - self.n_delays * np.abs(rho) ** 2, 0.0)
        pick = np.argmin(residual, axis=1)
        k = det.k.copy()
        k[rows, weakest] = np.where(patterns[pick] == 1, alt, was)
        idx = np.arange(len(u))
        return Detection(k, rho[idx, pick], residual[idx, pick], det.energy, det.runner, det.margin)

    def bins_of(self, k: np.ndarray) -> np.ndarray:
        """``(N, C)`` flat bin of each frequency in each group."""
        prod = k.astype(np.float64) @ self._stacked  # BLAS; integers well below 2^53, so exact
        return (prod.astype(np.int64) % self.q).reshape(len(k), self.n_groups, len(self.weights)) @ self.weights

    # ------------------------------------------------------------------ peeling
    def _redetect(self, flat: np.ndarray) -> tuple[np.ndarray, Detection]:
        """Detection of the bins ``flat`` (flat indices ``c * q^b + j``) that peeling changed, except those it left at
        or below the zero threshold; returns the bins kept and their detection."""
        u = self.u.reshape(-1, self.n_delays)[flat]
        energy = self._energy[flat] = _energy(u)
        live = energy > self.zero_thr
        return flat[live], self.detect(u[live], energy[live])

    def run(self, max_order: int | None = None, max_iter: int = 64) -> tuple[np.ndarray, np.ndarray, int]:
        """Peel until no bin yields a new singleton; returns the frequencies, their coefficients, iterations."""
        cand, det = self._live, self._first  # the bins above the zero threshold, detected at set-up
        found_k: list[np.ndarray] = []
        found_rho: list[np.ndarray] = []
        n_found = 0  # distinct frequencies peeled so far
        iterations = 0
        while len(cand) and iterations < max_iter:
            iterations += 1
            group, bin_ = np.divmod(cand, self.n_bins)
            tolerance = np.maximum(self.ratio * det.energy, self.resid_thr)
            ok = (det.residual <= tolerance) & (self.bins_of(det.k)[np.arange(len(cand)), group] == bin_)
            if det.valid is not None:
                ok &= det.valid
            if self.noisy:  # re-decode failed bins, flipping their least reliable digits (or symbols)
                retry = np.flatnonzero(~ok)
                if len(retry):
                    u = self.u.reshape(-1, self.n_delays)[cand[retry]]
                    if self.code is None:
                        second = self.chase(u, det.take(retry))
                    else:
                        second = self._chase_coded(u, det.take(retry), cand[retry])
                    better = second.residual < det.residual[retry]
                    fixed = retry[better]
                    det.k[fixed], det.rho[fixed], det.residual[fixed] = (
                        second.k[better],
                        second.rho[better],
                        second.residual[better],
                    )
                    if det.valid is not None:
                        det.valid[fixed] = True
                    ok[fixed] = (det.residual[fixed] <= tolerance[fixed]) & (
                        self.bins_of(det.k[fixed])[np.arange(len(fixed)), group[fixed]] == bin_[fixed]
                    )
            if max_order is not None:
                ok &= (det.k != 0).sum(axis=1) <= max_order
            if not ok.any():
                break
            ks, inv = unique_rows(det.k[ok])
            total = len(unique_rows(np.concatenate([*found_k, ks]))[0]) if n_found else len(ks)
            if n_found and total == n_found:
                # only frequencies already peeled, whose estimates noise left slightly off: peeling them again
                # would chase that error bin by bin (the final refit corrects it), so nothing new can come
                break
            rho = _group_sum(inv, det.rho[ok], len(ks)) / np.bincount(inv, minlength=len(ks))
            touched = self.bins_of(ks) + self.n_bins * np.arange(self.n_groups)  # (K, C) flat bins
            self._subtract(touched, rho[:, None] * self.signatures(ks))
            found_k.append(ks)
            found_rho.append(rho)
            n_found = total
            cand, det = self._redetect(np.unique(touched))
        if not found_k:
            return np.zeros((0, self.n_features), dtype=np.int64), np.zeros(0, dtype=np.complex128), iterations
        ks, inv = unique_rows(np.concatenate(found_k))
        return ks, _group_sum(inv, np.concatenate(found_rho), len(ks)), iterations

    def _subtract(self, flat: np.ndarray, contrib: np.ndarray) -> None:
        """Remove ``contrib`` ``(K, P)`` of K frequencies from their flat bins ``flat`` ``(K, C)``, one per group.

        Each round takes one owed contribution off every bin that still has one, so a bin shared by several
        frequencies (``k`` and ``-k`` share the bins with ``2 j = 0``) takes a round each (``ufunc.at`` is slower).
        """
        u = self.u.reshape(-1, self.n_delays)
        source = np.repeat(np.arange(len(contrib)), flat.shape[1])
        flat = flat.ravel()
        while True:
            bins, first = np.unique(flat, return_index=True)
            u[bins] -= contrib[source[first]]
            if len(bins) == len(flat):
                return
            rest = np.ones(len(flat), dtype=bool)
            rest[first] = False
            flat, source = flat[rest], source[rest]

    def residual_energy(self) -> float:
        """Fraction of the bins' energy that peeling left unexplained."""
        return float(self._energy.sum()) / self._total_energy if self._total_energy > 0 else 0.0

    # ------------------------------------------------------------------ refit
    def coefficient_noise(self) -> float:
        """Variance of a refitted coefficient from noise alone (the frequency is seen in ``C * P`` bin entries)."""
        return self.noise / (self.n_groups * self.n_delays)
