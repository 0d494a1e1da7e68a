"""Singleton detection and peeling over all SPEX bins at once.

A bin ``U_c(j)`` (a vector over the ``P + 1`` delays) is a *singleton* when one coefficient dominates it:
``U_{c,p}(j) ≈ F(k) (-1)^{parity_p(k)}``. The sign pattern is a noisy BCH codeword whose message part is
zero, so decoding it yields ``k``. A candidate is accepted only if it is *verified*: it hashes to the bin it
came from (``M_c^T k = j``) and explains the bin up to the noise level (small residual). Accepted
coefficients are subtracted from their bins in every group (peeling), which may turn multitons into
singletons; rounds repeat until nothing new is found.

Noise level: per bin, ``E`` is the mean energy and ``R_abs = E - mean(|U|)^2`` the residual that the best
conceivable sign pattern would leave. Zero-tons have ``E ≈ σ²`` and clean singletons ``R_abs ≈ σ²``, so
``σ²`` is read off a low quantile over bins of ``R_abs`` (signal-dominated bins) or ``E`` (the rest). ``R_abs`` also
bounds every candidate's residual from below, so bins whose ``R_abs`` already fails the residual test are
never decoded — this is what keeps multiton-heavy (non-sparse) inputs cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.special

from .decoder import Decoded, chase_words, decode, hard_decisions
from .design import Design

NOISE_QUANTILE = 0.1  #: quantile of the per-bin noise estimates that sets the noise level


@dataclass
class PeelResult:
    """Supports found (padded, possibly repeated across rounds; repeats add up) and their estimates."""

    idx: np.ndarray
    coefs: np.ndarray
    noise: float  # estimated variance of one bin entry
    rounds: int
    n_hard: int  # accepted from plain hard-decision decoding
    n_soft: int  # accepted only thanks to Chase trials
    n_unresolved: int  # bins still above the zero-ton threshold at the end
    unresolved_energy: float  # their share of the initial non-constant bin energy


@dataclass
class Thresholds:
    noise: float
    zero: float  # a bin with mean energy below this is a zero-ton
    residual: float  # a singleton must leave a mean residual below this


def _thresholds(bins: np.ndarray, z: float, eps: float) -> Thresholds:
    n_delays = bins.shape[-1]
    dof = max(n_delays - 1, 1)
    energy = np.mean(bins**2, axis=-1)
    r_abs = np.maximum(energy - np.mean(np.abs(bins), axis=-1) ** 2, 0.0)
    per_bin = np.where(energy > 4.0 * r_abs, r_abs * n_delays / dof, energy)
    # a low quantile, rescaled as if every bin were pure noise (chi-square with P degrees of freedom / P):
    # multitons inflate every upper quantile, so only the quietest bins say how loud the noise is
    chi2_quantile = 2.0 * scipy.special.gammaincinv(dof / 2, NOISE_QUANTILE)
    noise = float(np.quantile(per_bin, NOISE_QUANTILE)) * dof / chi2_quantile
    return Thresholds(
        noise,
        noise * (1.0 + z * np.sqrt(2.0 / n_delays)) + eps,
        noise * (1.0 + z * np.sqrt(2.0 / dof)) + eps,
    )


def _score(
    design: Design, rows: np.ndarray, groups: np.ndarray, bins: np.ndarray, dec: Decoded, max_degree: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verify decoded candidates: hash matches the bin and degree is allowed. Returns (valid, estimate, residual)."""
    degree = (dec.support >= 0).sum(axis=1)
    valid = dec.ok & (degree <= max_degree) & (design.bins_of(dec.support, groups) == bins)
    signs = design.signs_of(dec.support)
    estimate = np.mean(rows * signs, axis=1)
    residual = np.mean(rows**2, axis=1) - estimate**2
    return valid, estimate, residual


def detect(
    design: Design,
    rows: np.ndarray,
    groups: np.ndarray,
    bins: np.ndarray,
    limits: Thresholds,
    *,
    max_degree: int,
    chase_depth: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode bins ``rows`` ``(B, P+1)`` of groups ``groups`` at indices ``bins``.

    Hard decoding first; rows it does not verify get a batch of Chase trials (``2^chase_depth`` test words
    each) and keep the verified candidate with the largest correlation ``|mean_p U_p s_p(k)|``, i.e. the most
    likely codeword. Returns ``(accepted, support, estimate, soft)`` per row.
    """
    dec = decode(design.code, hard_decisions(rows))
    valid, estimate, residual = _score(design, rows, groups, bins, dec, max_degree)
    accepted = valid & (residual <= limits.residual)
    support = dec.support
    soft = np.zeros(len(rows), dtype=bool)
    retry = np.flatnonzero(~accepted)
    if chase_depth > 0 and len(retry):
        words, owner = chase_words(rows[retry], chase_depth)
        trials = words.shape[0] // len(retry)
        owner_rows = retry[owner]
        cdec = decode(design.code, words)
        cvalid, cest, cres = _score(design, rows[owner_rows], groups[owner_rows], bins[owner_rows], cdec, max_degree)
        best = np.argmax(np.where(cvalid, np.abs(cest), -1.0).reshape(len(retry), trials), axis=1)
        pick = np.arange(len(retry)) * trials + best
        ok = cvalid[pick] & (cres[pick] <= limits.residual)
        hit = retry[ok]
        accepted[hit], soft[hit] = True, True
        support = support.copy()
        support[hit], estimate[hit] = cdec.support[pick[ok]], cest[pick[ok]]
    return accepted, support, estimate, soft


def peel(
    design: Design,
    bins: np.ndarray,
    *,
    max_degree: int,
    chase_depth: int = 0,
    noise_z: float = 3.0,
    max_rounds: int = 100,
) -> PeelResult:
    """Peel singletons off ``bins`` ``(C, 2^b, P + 1)`` until no verified singleton is left."""
    current = np.array(bins, dtype=np.float64)
    n_groups, size, _ = current.shape
    start_energy = np.mean(current**2, axis=-1)
    eps = 1e-12 * float(start_energy.max(initial=0.0)) + 1e-300
    mean_part = n_groups * float(np.mean(current[:, 0, 0])) ** 2  # F(∅) sits in bin 0 of every group
    total = max(float(start_energy.sum()) - mean_part, 0.0) + eps
    active = np.ones((n_groups, size), dtype=bool)
    found_idx, found_coef = [], []
    n_hard = n_soft = rounds = 0
    limits = _thresholds(current, noise_z, eps)
    while rounds < max_rounds:
        energy = np.mean(current**2, axis=-1)
        r_abs = energy - np.mean(np.abs(current), axis=-1) ** 2
        todo = active & (energy > limits.zero) & (r_abs <= limits.residual)
        if not todo.any():
            break
        rounds += 1
        groups, where = np.nonzero(todo)
        accepted, support, estimate, soft = detect(
            design, current[groups, where], groups, where, limits, max_degree=max_degree, chase_depth=chase_depth
        )
        if not accepted.any():
            break
        n_hard += int((accepted & ~soft).sum())
        n_soft += int(soft.sum())
        uniq, inverse = np.unique(support[accepted], axis=0, return_inverse=True)
        inverse = inverse.ravel()
        coef = np.bincount(inverse, weights=estimate[accepted]) / np.bincount(inverse)
        hit_bins = design.bins_of(uniq)  # (A, C)
        delta = coef[:, None, None] * design.signs_of(uniq)[:, None, :]  # (A, 1, P+1)
        group_idx = np.broadcast_to(np.arange(n_groups), hit_bins.shape)
        np.add.at(current, (group_idx, hit_bins), -np.broadcast_to(delta, (*hit_bins.shape, delta.shape[-1])))
        active[:] = False
        active[group_idx, hit_bins] = True
        found_idx.append(uniq)
        found_coef.append(coef)
        limits = _thresholds(current, noise_z, eps)
    energy = np.mean(current**2, axis=-1)
    unresolved = energy > limits.zero
    return PeelResult(
        idx=np.vstack(found_idx) if found_idx else np.zeros((0, design.code.t), dtype=np.int64),
        coefs=np.concatenate(found_coef) if found_coef else np.zeros(0),
        noise=limits.noise,
        rounds=rounds,
        n_hard=n_hard,
        n_soft=n_soft,
        n_unresolved=int(unresolved.sum()),
        unresolved_energy=float(np.sum(np.where(unresolved, energy - limits.noise, 0.0)) / total),
    )
