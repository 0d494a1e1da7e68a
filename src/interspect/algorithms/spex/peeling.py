"""Dominant-term detection and peeling over all SPEX bins at once, with a joint least-squares refit each round.

A bin ``U_c(j)`` (a vector over the ``P + 1`` delays) holds ``sum_k F(k) (-1)^{parity_p(k)}`` over the
coefficients ``k`` hashed to it. When one coefficient dominates, the signs of the bin are its BCH codeword
with a few errors (the other coefficients flip some delays), so decoding yields ``k`` even in a *multiton*.
A candidate is accepted when it is *verified*: it hashes back to its bin (``M_c^T k = j``), its degree is
allowed, and it explains at least :data:`DOMINANT_SHARE` of the bin's energy (or leaves only noise).

Accepting dominant terms of multitons, not only clean singletons, is what makes small designs work: at
``2^b = 8`` bins per group and 20 coefficients nearly every bin is a multiton, so a singleton-only peeler
stalls at once. Each round the coefficients of all supports found so far are refitted jointly by least
squares on the original bins (exact once the support is complete, whatever the errors of the per-bin
estimates), the residual bins are recomputed, and bins that changed are decoded again; rounds stop when no
new support is found. Before stopping, the loudest unresolved bins are decoded once more on a residual whose
found terms were refitted without them (:func:`_trimmed_residual`): with terms still missing, the joint refit
biases their bin-mates and hides them.

Noise level: per bin, ``E`` is the mean energy and ``R_abs = E - mean(|U|)^2`` the residual that the best
conceivable sign pattern would leave. Zero-tons have ``E ≈ σ²`` and clean singletons ``R_abs ≈ σ²``, so
``σ²`` is read off a low quantile over bins of ``R_abs`` (signal-dominated bins) or ``E`` (the rest), again
after every round (on noise-free data it falls to zero as the residual empties).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.special

from ...transforms.sparse import PAD
from .decoder import Decoded, chase_words, decode, hard_decisions
from .design import Design
from .refit import refit_bins

NOISE_QUANTILE = 0.1  #: quantile of the per-bin noise estimates that sets the noise level
#: share of its bin's energy a decoded term must explain to be peeled from a multiton; shapiq's SPEX
#: ("multi-detect") peels a term leaving less than 90 % of the energy, i.e. explaining 10 %
DOMINANT_SHARE = 0.1
#: a bin is decoded again once its residual moved by more than this share of its energy since the last try
CHANGE_SHARE = 1e-2
#: Chien-search work (test words x codeword positions) per round up to which designs with few rows to retry get
#: deeper Chase trials than ``chase_depth`` (2^22: ~4,000 words at n = 1,024, tens of milliseconds; at
#: n = 100,000 only ~40 words, so large designs keep ``chase_depth``), and the deepest trials
CHASE_WORK = 1 << 22
MAX_CHASE_DEPTH = 10
#: a stalled peel trims the bins whose residual energy exceeds this share of the largest (:func:`_trimmed_residual`):
#: the bins of missing terms, not their neighbours whose residual is only the refit's bias
TRIM_SHARE = 0.1


@dataclass
class PeelResult:
    """Unique supports found (padded) and their jointly refitted coefficients."""

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
    noise: float  # variance of one bin entry of a group with the most bits
    zero: np.ndarray  # (C,): a bin with mean energy below this is a zero-ton
    residual: np.ndarray  # (C,): a clean singleton leaves a mean residual below this


def _thresholds(design: Design, bins: np.ndarray, z: float, eps: float) -> Thresholds:
    """Noise level from the quietest existing bins; a group with ``b_c`` bits has ``2^(b - b_c)`` times more."""
    n_delays = bins.shape[-1]
    dof = max(n_delays - 1, 1)
    energy = np.mean(bins**2, axis=-1)
    r_abs = np.maximum(energy - np.mean(np.abs(bins), axis=-1) ** 2, 0.0)
    per_bin = np.where(energy > 4.0 * r_abs, r_abs * n_delays / dof, energy) * design.weights[:, None]
    # a low quantile, rescaled as if every bin were pure noise (chi-square with P degrees of freedom / P):
    # multitons inflate every upper quantile, so only the quietest bins say how loud the noise is
    chi2_quantile = 2.0 * scipy.special.gammaincinv(dof / 2, NOISE_QUANTILE)
    noise = float(np.quantile(per_bin[design.valid], NOISE_QUANTILE)) * dof / chi2_quantile
    per_group = noise / design.weights
    return Thresholds(
        noise,
        per_group * (1.0 + z * np.sqrt(2.0 / n_delays)) + eps,
        per_group * (1.0 + z * np.sqrt(2.0 / dof)) + eps,
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
    share: float = DOMINANT_SHARE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode bins ``rows`` ``(B, P+1)`` of groups ``groups`` at indices ``bins``.

    Hard decoding first; rows above the zero-ton threshold whose hard decision is not verified get a batch
    of Chase trials (``2^chase_depth`` test words each, more when few rows need them; trial 0 is the hard
    decision) and keep the verified candidate with the largest correlation ``|mean_p U_p s_p(k)|``, i.e. the
    most likely dominant term. A row is accepted when its candidate leaves at most the noise or at most
    ``1 - share`` of the row's energy. Returns ``(accepted, support, estimate, soft)`` per row.
    """
    dec = decode(design.code, hard_decisions(rows))
    valid, estimate, residual = _score(design, rows, groups, bins, dec, max_degree)
    energy = np.mean(rows**2, axis=1)
    bound = np.maximum(limits.residual[groups], (1.0 - share) * energy)
    accepted = valid & (residual <= bound)
    support = dec.support.copy()
    soft = np.zeros(len(rows), dtype=bool)
    retry = np.flatnonzero(~accepted & (energy > limits.zero[groups]))
    if chase_depth > 0 and len(retry):
        depth = chase_depth
        while depth < MAX_CHASE_DEPTH and (len(retry) << (depth + 1)) * design.code.length <= CHASE_WORK:
            depth += 1
        words, owner = chase_words(rows[retry], depth)
        trials = words.shape[0] // len(retry)
        owner_rows = retry[owner]
        cdec = decode(design.code, words)
        cvalid, cest, cres = _score(design, rows[owner_rows], groups[owner_rows], bins[owner_rows], cdec, max_degree)
        best = np.argmax(np.where(cvalid, np.abs(cest), -1.0).reshape(len(retry), trials), axis=1)
        pick = np.arange(len(retry)) * trials + best
        ok = cvalid[pick] & (cres[pick] <= bound[retry])
        hit = retry[ok]
        soft[hit] = ~accepted[hit] | np.any(cdec.support[pick[ok]] != support[hit], axis=1)
        accepted[hit] = True
        support[hit], estimate[hit] = cdec.support[pick[ok]], cest[pick[ok]]
    return accepted, support, estimate, soft


def _subtract(design: Design, current: np.ndarray, idx: np.ndarray, coefs: np.ndarray) -> None:
    """``current -= `` the bins of the terms ``idx`` with coefficients ``coefs`` (in place, every group)."""
    n_groups = current.shape[0]
    hit_bins = design.bins_of(idx)  # (A, C)
    delta = coefs[:, None, None] * design.signs_of(idx)[:, None, :]  # (A, 1, P+1)
    group_idx = np.broadcast_to(np.arange(n_groups), hit_bins.shape)
    np.add.at(current, (group_idx, hit_bins), -np.broadcast_to(delta, (*hit_bins.shape, delta.shape[-1])))


def _trimmed_residual(
    design: Design, original: np.ndarray, found: np.ndarray, coefs: np.ndarray, clean: np.ndarray
) -> np.ndarray:
    """Residual bins after refitting ``found`` on the ``clean`` ``(C, 2^b)`` bins only.

    When peeling stalls, the joint refit has absorbed part of the terms still missing into the found terms that
    share their bins, and the residual of those bins no longer decodes. Terms with a clean bin elsewhere are
    estimated from the clean bins alone (the others keep ``coefs``), so the residual of an unresolved bin is
    (nearly) just its missing terms, e.g. two terms hashed together in every group.
    """
    current = original.copy()
    free = np.any(clean[np.arange(design.n_groups)[None, :], design.bins_of(found)], axis=1)
    _subtract(design, current, found[~free], coefs[~free])
    if free.any():
        target = current.copy()
        _subtract(design, current, found[free], refit_bins(design, target, found[free], use=clean).coefs)
    return current


def _merge(found: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Unique rows of ``found`` and ``new`` (padded supports of equal width, sorted ascending with PAD last)."""
    return np.unique(np.vstack([found, new]), axis=0)


def peel(
    design: Design,
    bins: np.ndarray,
    *,
    max_degree: int,
    chase_depth: int = 0,
    noise_z: float = 3.0,
    max_rounds: int = 100,
    share: float = DOMINANT_SHARE,
) -> PeelResult:
    """Peel dominant terms off ``bins`` ``(C, 2^b, P + 1)`` until a round finds no new support."""
    original = np.asarray(bins, dtype=np.float64)
    full = design.full_bins  # what the joint refits use (groups with fewer bits still decode and get peeled)
    current = original.copy()
    tried = np.zeros_like(current)  # each bin as it was when last decoded
    n_groups = current.shape[0]
    width = design.code.t
    start_energy = np.mean(current**2, axis=-1)
    eps = 1e-12 * float(start_energy.max(initial=0.0)) + 1e-300
    mean_part = n_groups * float(np.mean(current[:, 0, 0])) ** 2  # F(∅) sits in bin 0 of every group
    total = max(float(start_energy.sum()) - mean_part, 0.0) + eps
    found = np.zeros((0, width), dtype=np.int64)
    coefs = np.zeros(0)
    n_hard = n_soft = rounds = 0
    limits = _thresholds(design, current, noise_z, eps)
    trimmed = False  # whether the residual is the trimmed one (see :func:`_trimmed_residual`)
    while rounds < max_rounds:
        energy = np.mean(current**2, axis=-1)
        moved = np.mean((current - tried) ** 2, axis=-1) > CHANGE_SHARE * energy
        # every non-empty bin, not only those above the zero-ton threshold: when (nearly) all bins are multitons
        # the noise floor is only an upper bound, and verification keeps noise bins from being accepted
        todo = moved & (energy > eps)
        candidates = np.zeros((0, width), dtype=np.int64)
        hard = soft_only = 0  # rows accepted by hard decoding / only thanks to Chase trials
        if todo.any():
            rounds += 1
            groups, where = np.nonzero(todo)
            accepted, support, _, soft = detect(
                design,
                current[groups, where],
                groups,
                where,
                limits,
                max_degree=max_degree,
                chase_depth=chase_depth,
                share=share,
            )
            tried[groups, where] = current[groups, where]
            candidates = np.unique(np.where(support[accepted] < 0, PAD, support[accepted]), axis=0)
            hard, soft_only = int((accepted & ~soft).sum()), int((accepted & soft).sum())
        merged = _merge(found, candidates)
        if len(merged) == len(found):
            if trimmed or len(found) == 0:
                break
            # stalled: decode the loudest unresolved bins once more on the residual trimmed of them
            unresolved = energy > np.maximum(limits.zero[:, None], TRIM_SHARE * energy.max())
            current = _trimmed_residual(design, original, found, coefs, full & ~unresolved)
            tried[unresolved] = 0.0
            trimmed = True
            continue
        found, trimmed = merged, False
        n_hard, n_soft = n_hard + hard, n_soft + soft_only
        coefs = refit_bins(design, original, found, use=full).coefs
        current = original.copy()
        _subtract(design, current, found, coefs)
        limits = _thresholds(design, current, noise_z, eps)
    if trimmed:
        current = original.copy()
        _subtract(design, current, found, coefs)
    energy = np.mean(current**2, axis=-1)
    unresolved = energy > limits.zero[:, None]
    excess = energy - limits.noise / design.weights[:, None]
    return PeelResult(
        idx=found,
        coefs=coefs,
        noise=limits.noise,
        rounds=rounds,
        n_hard=n_hard,
        n_soft=n_soft,
        n_unresolved=int(unresolved.sum()),
        unresolved_energy=float(np.sum(np.where(unresolved, excess, 0.0)) / total),
    )
