"""KernelSHAP: Shapley values by efficiency-constrained weighted least squares under the Shapley kernel.

The result is the additive surrogate ``m(∅) = f(∅)``, ``m({i}) = φ_i`` in Fourier form, so that the Shapley
values of the surrogate are exactly ``φ``. With all ``2^n`` masks the values are exact.
"""

from __future__ import annotations

from itertools import chain, combinations
from math import comb
from typing import Any

import numpy as np

from ..contracts import Engine, FitResult
from ..transforms.exact import all_masks
from .numerics import LOO_GRID, MAX_DRAW_ROUNDS, ridge_loo, row_bytes, scale_invariant
from .regression import CHUNK_ELEMENTS, check_budget, covers_every_mask, first_order_transform

#: the folded system is solved by leave-one-out ridge below this many rows per feature (the least-squares
#: variance grows like 1 / (rows - n); at 4 n it is within a third of its large-sample value)
RIDGE_ROWS_PER_FEATURE = 4


def default_kernelshap_budget(n_features: int) -> int:
    """``2 n + 2048`` (the usual KernelSHAP default), at most ``2^n``."""
    return min(2 * n_features + 2048, 1 << min(n_features, 62))


def _size_masses(n: int) -> np.ndarray:
    """Shapley-kernel mass of each coalition size ``s = 0..n``: ``(n - 1) / (s (n - s))`` (0 at the ends)."""
    s = np.arange(n + 1, dtype=np.float64)
    out = np.zeros(n + 1)
    out[1:n] = (n - 1) / (s[1:n] * (n - s[1:n]))
    return out


def _subsets_of_size(n: int, s: int) -> np.ndarray:
    """``(C(n, s), n)`` boolean matrix of every mask keeping exactly ``s`` features."""
    flat = np.fromiter(chain.from_iterable(combinations(range(n), s)), dtype=np.int64, count=comb(n, s) * s)
    out = np.zeros((comb(n, s), n), dtype=bool)
    out[np.repeat(np.arange(len(out)), s), flat] = True
    return out


def _masks_of_sizes(sizes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random mask per entry of ``sizes`` keeping exactly that many features (chunked)."""
    out = np.zeros((len(sizes), n), dtype=bool)
    step = max(1, CHUNK_ELEMENTS // max(1, n))
    ranks = np.arange(n)
    for lo in range(0, len(sizes), step):
        order = np.argsort(rng.random((len(sizes[lo : lo + step]), n)), axis=1)
        np.put_along_axis(out[lo : lo + step], order, ranks[None, :] < sizes[lo : lo + step, None], axis=1)
    return out


def _border_sizes(n: int, budget: int, masses: np.ndarray) -> tuple[list[int], int]:
    """Sizes enumerated completely (from both ends inwards) and the budget left for sampling.

    A pair of sizes ``(s, n - s)`` is enumerated while its share of the remaining budget under the kernel
    would cover all of its coalitions — there sampling would only draw repeats.
    """
    remaining, mass_left, sizes = budget, float(masses.sum()), []
    for s in range(1, n // 2 + 1):
        pair = [s] if 2 * s == n else [s, n - s]
        count = sum(comb(n, t) for t in pair)
        pair_mass = float(masses[pair].sum())
        if mass_left <= 0.0 or remaining * pair_mass / mass_left < count:
            break
        sizes += pair
        remaining -= count
        mass_left -= pair_mass
    return sizes, remaining


def _sample_coalitions(
    n: int, sizes: np.ndarray, masses: np.ndarray, target: int, paired: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct masks drawn from the kernel restricted to ``sizes`` and their draw counts, ``<= target`` masks."""
    prob = masses[sizes] / masses[sizes].sum()
    per_draw = 2 if paired else 1
    draws = np.zeros((0, n), dtype=bool)
    for _ in range(MAX_DRAW_ROUNDS):
        distinct = len(np.unique(row_bytes(draws))) if len(draws) else 0
        if distinct + per_draw > target:
            break
        batch = rng.choice(sizes, size=max(1, (target - distinct) // per_draw), p=prob)
        new = _masks_of_sizes(batch, n, rng)
        if paired:
            new = np.stack([new, ~new], axis=1).reshape(-1, n)
        draws = np.vstack([draws, new])
    if len(draws) == 0:
        return draws, np.zeros(0)
    # keep the longest prefix of whole draws whose distinct masks fit in the target
    keys = row_bytes(draws)
    _, first = np.unique(keys, return_index=True)
    is_first = np.zeros(len(draws), dtype=bool)
    is_first[first] = True
    distinct_so_far = np.cumsum(is_first)[per_draw - 1 :: per_draw]
    n_draws = int(np.searchsorted(distinct_so_far, target, side="right"))
    kept = keys[: n_draws * per_draw]
    _, first, counts = np.unique(kept, return_index=True, return_counts=True)
    order = np.argsort(first)  # draw order: a mask and its complement stay adjacent
    return draws[first[order]], counts[order] / len(kept)


def kernel_design(
    n: int, budget: int, rng: np.random.Generator, paired: bool = True
) -> tuple[np.ndarray, np.ndarray, int]:
    """Masks and Shapley-kernel weights for KernelSHAP, the empty and full masks excluded (they are fixed).

    Sizes whose coalitions all fit in their share of the budget are enumerated with exact weights; the rest
    are sampled: a size with probability ``∝ 1/(s (n - s))`` (no binomials, so any ``n``), then a uniform
    subset of that size, with its complement when ``paired``. Weights sum to the kernel mass they stand for.
    ``budget`` counts the empty and the full mask. Returns ``(masks, weights, number of enumerated sizes)``.
    """
    masses = _size_masses(n)
    if covers_every_mask(budget, n):
        masks = all_masks(n)[1:-1]
        sizes = masks.sum(axis=1)
        counts = np.array([comb(n, s) for s in range(n + 1)], dtype=np.float64)
        return masks, masses[sizes] / counts[sizes], n - 1
    border, remaining = _border_sizes(n, budget - 2, masses)
    blocks = [_subsets_of_size(n, s) for s in border]
    weights = [np.full(comb(n, s), masses[s] / comb(n, s)) for s in border]
    inner = np.setdiff1d(np.arange(1, n), border)
    if len(inner) and remaining > 0:
        sampled, share = _sample_coalitions(n, inner, masses, remaining, paired, rng)
        blocks.append(sampled)
        weights.append(share * masses[inner].sum())
    if not blocks:
        return np.zeros((0, n), dtype=bool), np.zeros(0), 0
    return np.vstack(blocks), np.concatenate(weights), len(border)


def _constrained_wls(masks: np.ndarray, weights: np.ndarray, target: np.ndarray, total: float) -> np.ndarray:
    """``argmin sum_r w_r (target_r - z_r·φ)²`` subject to ``sum φ = total`` (minimum norm if underdetermined).

    The constraint is removed by writing ``φ = total/n + ψ`` with ``ψ ⟂ 1``, which projects each mask row
    onto the complement of the all-ones vector. A mask and its complement then have opposite rows, so every
    row is folded onto the member of its pair that drops feature 0 and rows of one pair are merged (weights
    summed, residuals averaged): paired sampling halves the system at no loss. The system is solved by
    ridge with its strength chosen by exact leave-one-out error (:func:`~.numerics.ridge_loo`): nearly
    unpenalised with many masks, but no blow-up near ``budget ≈ 2n``, where the folded system is square and
    minimum-norm least squares fits the higher-order terms (noise to an additive surrogate) exactly. The
    null direction (the all-ones vector) gets no weight.
    """
    m, n = masks.shape
    base = np.full(n, total / n)
    if m == 0:
        return base
    flip = masks[:, 0]
    residual = np.where(flip, -1.0, 1.0) * (target - masks.sum(axis=1) * (total / n))
    _, first, inverse = np.unique(row_bytes(masks ^ flip[:, None]), return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    weight = np.bincount(inverse, weights=weights)
    residual = np.bincount(inverse, weights=weights * residual) / weight
    rows = masks[first] ^ flip[first, None]
    root = np.sqrt(weight)
    design = (rows - (rows.sum(axis=1) / n)[:, None]) * root[:, None]
    residual *= root
    # with rows to spare the (weighted) least-squares solution is the estimator; only near the square system
    # is its variance worth trading for bias
    psi, _ = ridge_loo(design, residual, LOO_GRID if len(rows) < RIDGE_ROWS_PER_FEATURE * n else LOO_GRID[:1])
    return base + psi - psi.mean()


@scale_invariant
def fit_kernelshap(
    engine: Engine,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    paired: bool = True,
) -> FitResult:
    """KernelSHAP: Shapley values by efficiency-constrained weighted least squares under the Shapley kernel.

    The budget (default ``2 n + 2048``) counts the empty and the full mask, which are always queried; the
    rest are enumerated border sizes plus kernel-sampled (``paired``: antithetic) masks, see
    :func:`kernel_design`. The result is the additive surrogate with Möbius ``m(∅) = f(∅)``,
    ``m({i}) = φ_i``, in Fourier form (``F(∅) = f(∅) + sum φ / 2``, ``F({i}) = -φ_i / 2``): its Shapley
    values are ``φ`` and ``sum φ = f([n]) - f(∅)`` exactly. With all ``2^n`` masks the values are exact.
    ``max_order`` is ignored (the surrogate is additive).
    """
    n = engine.n_features
    budget = check_budget(budget, default_kernelshap_budget(n), 2, "kernelshap (empty and full mask)")
    rng = np.random.default_rng(random_state)
    masks, weights, n_enumerated = kernel_design(n, budget, rng, paired=bool(paired))
    ends = np.zeros((2, n), dtype=bool)
    ends[1] = True
    values = engine(np.vstack([ends, masks]))
    empty, full = float(values[0]), float(values[1])
    phi = _constrained_wls(masks, weights, values[2:] - empty, full - empty)
    fourier = first_order_transform(empty + 0.5 * float(phi.sum()), -0.5 * phi)
    info: dict[str, Any] = {"order": 1, "paired": bool(paired), "n_fit_queries": len(values)}
    info["n_enumerated_sizes"] = n_enumerated
    return FitResult(fourier, info, None, "kernelshap")
