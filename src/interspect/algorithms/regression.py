"""Regression baselines: a first-order LIME-like surrogate, Faith-Banzhaf regression and KernelSHAP.

All three fit a low-order Fourier surrogate to model values on sampled masks:

* ``lasso`` — LASSO (or ridge) on the ``n`` first-order ``±1`` Fourier features under uniform masks, the
  penalty chosen by cross-validation, the intercept ``F(∅)`` explicit and unpenalised (LIME-like).
* ``faith_banzhaf`` — least squares (optionally ridge) on every Fourier term of degree ``<= k`` under
  uniform masks. Its expectation-optimal solution is the degree-``k`` truncation of the Fourier transform,
  whose Möbius transform is the Faith-Banzhaf interaction index (FBII); at full enumeration it is exact.
* ``kernelshap`` — Shapley values by weighted least squares under the Shapley kernel with the efficiency
  constraint, returned as the additive surrogate ``m(∅) = f(∅)``, ``m({i}) = φ_i`` in Fourier form, so that
  the Shapley values of the surrogate are exactly ``φ``.

When every one of the ``2^n`` masks fits in the budget, each method fits on all of them (and
:func:`interspect.explain` then reports the exact R²). No method buys held-out masks: ``explain`` does.
"""

from __future__ import annotations

from itertools import chain, combinations
from math import comb
from typing import Any

import numpy as np

from ..contracts import Engine, FitResult
from ..transforms.exact import MAX_EXACT_FEATURES, all_masks
from ..transforms.sparse import PAD, SparseTransform, pad_columns
from .numerics import (
    LOO_GRID,
    MAX_DRAW_ROUNDS,
    distinct_uniform_masks,
    parity_design,
    ridge_from_gram,
    ridge_loo,
    row_bytes,
    scale_invariant,
)

MAX_FAITH_BANZHAF_TERMS = 10_000  # the Gram matrix is terms x terms
#: KernelSHAP's folded system is solved by leave-one-out ridge below this many rows per feature (the least-
#: squares variance grows like 1 / (rows - n); at 4 n it is within a third of its large-sample value)
RIDGE_ROWS_PER_FEATURE = 4
DEFAULT_FAITH_BANZHAF_ORDER = 2  # pairwise interactions: the usual Faith-Banzhaf target
_CHUNK_ELEMENTS = 1 << 22  # mask rows x columns handled per vectorised chunk

#: ridge strengths (shared scale, ``alpha * m``) that RidgeCV chooses from for ``lasso(penalty="ridge")``:
#: 28 log-spaced values spanning the well-conditioned to the nearly-constant fit
RIDGE_GRID = np.logspace(-9, 0, 28)


# ---------------------------------------------------------------------------------------------- helpers
def _check_budget(budget: int | None, default: int, minimum: int, method: str) -> int:
    if budget is None:
        return default
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer):
        raise TypeError(f"budget must be an integer number of queries, got {budget!r}")
    if budget < minimum:
        raise ValueError(f"{method} needs a budget of at least {minimum} queries, got {budget}")
    return int(budget)


def _complete(budget: int, n: int) -> bool:
    """Whether the budget pays for all ``2^n`` masks (and they can be enumerated)."""
    return n <= MAX_EXACT_FEATURES and budget >= (1 << n)


def _first_order(intercept: float, linear: np.ndarray) -> SparseTransform:
    """Fourier transform ``F(∅) = intercept``, ``F({i}) = linear[i]``."""
    n = len(linear)
    idx = np.concatenate([np.full((1, 1), PAD), np.arange(n).reshape(n, 1)]).astype(np.int32)
    return SparseTransform(idx, np.concatenate([[intercept], linear]), n)


def _supports_up_to(n: int, order: int) -> np.ndarray:
    """Padded ``(p, order)`` index matrix of every subset of ``range(n)`` of size ``<= order``."""
    blocks = [np.full((1, order), PAD, dtype=np.int64)]
    for d in range(1, order + 1):
        flat = np.fromiter(chain.from_iterable(combinations(range(n), d)), dtype=np.int64, count=comb(n, d) * d)
        blocks.append(pad_columns(flat.reshape(-1, d), order))
    return np.vstack(blocks)


def _normal_equations(masks: np.ndarray, values: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``D^T D`` and ``D^T y`` of the Fourier design on ``idx``, accumulated over row chunks (bounded memory)."""
    p = len(idx)
    gram, rhs = np.zeros((p, p)), np.zeros(p)
    step = max(1, _CHUNK_ELEMENTS // max(1, p * max(1, idx.shape[1])))
    for lo in range(0, len(masks), step):
        design = parity_design(masks[lo : lo + step], idx)
        gram += (design.T @ design).astype(np.float64)  # ±1 entries: exact in float32 below 2^24 rows
        rhs += design.T @ values[lo : lo + step]
    return gram, rhs


# ---------------------------------------------------------------------------------------------- lasso
def default_lasso_budget(n_features: int) -> int:
    """``2 (n + 1)`` uniformly random masks, between 64 and 5,000."""
    return int(np.clip(2 * (n_features + 1), 64, 5000))


@scale_invariant
def fit_lasso(
    engine: Engine,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    penalty: str = "lasso",
    alpha: float | None = None,
    cv: int = 5,
) -> FitResult:
    """First-order LIME-like surrogate: ``f(S) ≈ F(∅) + sum_i F({i}) (-1)^{[i in S]}`` under uniform masks.

    Parameters
    ----------
    penalty : ``"lasso"`` (sparse, :class:`~sklearn.linear_model.LassoCV`) or ``"ridge"``
        (:class:`~sklearn.linear_model.RidgeCV`).
    alpha : float, optional
        Fixed penalty strength, by default chosen by ``cv``-fold cross-validation. For ``penalty="ridge"``
        the ridge strength on the shared scale (penalty ``alpha * m`` on the ``±1`` design, as every method);
        for ``"lasso"`` the L1 strength of :class:`~sklearn.linear_model.Lasso` on the standardised values
        (every fit sees values centred and divided by their standard deviation).

    ``max_order`` is ignored: the surrogate is additive by design (``info["order"] = 1``). ``n_jobs`` goes
    to the cross-validation of :class:`~sklearn.linear_model.LassoCV`.
    """
    from sklearn.linear_model import Lasso, LassoCV, Ridge, RidgeCV

    n = engine.n_features
    if penalty not in ("lasso", "ridge"):
        raise ValueError(f"penalty must be 'lasso' or 'ridge', got {penalty!r}")
    if alpha is not None and not float(alpha) >= 0.0:
        raise ValueError(f"alpha must be non-negative, got {alpha}")
    if int(cv) < 2:
        raise ValueError(f"cv must be at least 2 folds, got {cv}")
    budget = _check_budget(budget, default_lasso_budget(n), 4, "lasso")
    rng = np.random.default_rng(random_state)
    masks = distinct_uniform_masks(budget, n, rng)
    values = engine(masks)
    m = len(values)

    z = 1.0 - 2.0 * masks  # the first-order Fourier features (-1)^{[i in S]}
    folds = int(min(cv, len(values)))
    if penalty == "lasso":
        if alpha is None:
            centred = values - values.mean()
            top = float(np.abs((z - z.mean(axis=0)).T @ centred).max()) / len(values)
            grid = max(top, 1e-12) * np.logspace(0, -4, 40)
            model = LassoCV(alphas=grid, cv=folds, max_iter=5000, n_jobs=n_jobs)
        else:
            model = Lasso(alpha=float(alpha), max_iter=5000)
    else:
        # scikit-learn's ridge penalty is a * |w|^2 on the residual sum of squares: a = alpha * m
        model = RidgeCV(alphas=m * RIDGE_GRID) if alpha is None else Ridge(alpha=float(alpha) * m)
    model.fit(z, values)
    chosen = float(model.alpha_) if alpha is None else float(alpha)
    if penalty == "ridge" and alpha is None:
        chosen /= m
    fourier = _first_order(float(model.intercept_), np.asarray(model.coef_, dtype=np.float64))
    info: dict[str, Any] = {"penalty": penalty, "alpha": chosen, "order": 1, "n_fit_queries": m}
    info["n_nonzero"] = int(np.count_nonzero(model.coef_))
    return FitResult(fourier.prune(), info, None, "lasso")


# ---------------------------------------------------------------------------------------------- faith-banzhaf
def _terms_up_to(n: int, order: int) -> int:
    return sum(comb(n, d) for d in range(order + 1))


@scale_invariant
def fit_faith_banzhaf(
    engine: Engine,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    alpha: float = 0.0,
) -> FitResult:
    """Least squares on every Fourier term of degree ``<= max_order`` under uniform masks.

    The degree-``k`` truncation of the Fourier transform is the uniform-mask least-squares fit, so this is
    the Faith-Banzhaf estimator: ``interaction_values(result, "fbii", k)`` is its FBII, and with all ``2^n``
    masks the fit equals the truncation exactly. ``alpha`` adds a ridge penalty (relative to the ``±1``
    design, intercept unpenalised). The fit needs at least as many queries as terms; the default budget
    is twice the number of terms (or all ``2^n`` masks). ``max_order`` defaults to 2.
    """
    n = engine.n_features
    max_order = DEFAULT_FAITH_BANZHAF_ORDER if max_order is None else max_order
    if isinstance(max_order, bool) or not isinstance(max_order, int | np.integer) or max_order < 1:
        raise ValueError(f"max_order must be a positive integer, got {max_order!r}")
    order = int(min(max_order, n))
    if not float(alpha) >= 0.0:
        raise ValueError(f"alpha must be non-negative, got {alpha}")
    p = _terms_up_to(n, order)
    if p > MAX_FAITH_BANZHAF_TERMS:
        lower = max((k for k in range(1, order) if _terms_up_to(n, k) <= MAX_FAITH_BANZHAF_TERMS), default=None)
        hint = f"use max_order={lower} ({_terms_up_to(n, lower):,} terms)" if lower else "use lasso or kernelshap"
        raise ValueError(
            f"faith_banzhaf with max_order={order} on {n} features fits {p:,} Fourier terms, more than the "
            f"{MAX_FAITH_BANZHAF_TERMS:,} it supports; {hint}, or a sparse method such as proxyspex"
        )
    default = min(2 * p, 1 << n) if n <= MAX_EXACT_FEATURES else 2 * p
    budget = _check_budget(budget, default, 1, "faith_banzhaf")
    if budget < p:
        lower = max((k for k in range(1, order) if _terms_up_to(n, k) <= budget), default=None)
        hint = f" or lower max_order to {lower} ({_terms_up_to(n, lower):,} terms)" if lower else ""
        raise ValueError(
            f"faith_banzhaf with max_order={order} on {n} features fits {p:,} Fourier terms and needs a budget "
            f"of at least {p:,} queries (about {2 * p:,} for a stable fit), got {budget:,}; raise the budget{hint}"
        )
    rng = np.random.default_rng(random_state)
    masks = distinct_uniform_masks(budget, n, rng)
    values = engine(masks)

    idx = _supports_up_to(n, order)
    gram, rhs = _normal_equations(masks, values, idx)
    coefs = ridge_from_gram(gram, rhs, len(values), float(alpha), intercept=0)  # row 0 is the empty set
    fourier = SparseTransform(idx, coefs, n)
    info: dict[str, Any] = {"order": order, "n_terms": p, "alpha": float(alpha), "n_fit_queries": len(values)}
    if not _complete(len(values), n) and alpha == 0 and len(values) < 2 * p:
        info["message"] = (
            f"{len(values):,} fitted queries for {p:,} terms: least squares this close to interpolation is unstable;"
            f" use a budget of about {2 * p:,} or a ridge penalty (alpha > 0)"
        )
    return FitResult(fourier.drop_zeros(), info, None, "faith_banzhaf")


# ---------------------------------------------------------------------------------------------- kernelshap
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
    step = max(1, _CHUNK_ELEMENTS // max(1, n))
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
    if _complete(budget, n):
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
    budget = _check_budget(budget, default_kernelshap_budget(n), 2, "kernelshap (empty and full mask)")
    rng = np.random.default_rng(random_state)
    masks, weights, n_enumerated = kernel_design(n, budget, rng, paired=bool(paired))
    ends = np.zeros((2, n), dtype=bool)
    ends[1] = True
    values = engine(np.vstack([ends, masks]))
    empty, full = float(values[0]), float(values[1])
    phi = _constrained_wls(masks, weights, values[2:] - empty, full - empty)
    fourier = _first_order(empty + 0.5 * float(phi.sum()), -0.5 * phi)
    info: dict[str, Any] = {"order": 1, "paired": bool(paired), "n_fit_queries": len(values)}
    info["n_enumerated_sizes"] = n_enumerated
    return FitResult(fourier, info, None, "kernelshap")
