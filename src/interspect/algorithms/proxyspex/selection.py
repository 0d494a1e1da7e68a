"""Selection and refit: which of the proxy's candidate terms the real queries support, and their coefficients.

1. order the candidates hierarchically — a term inherits the largest proxy magnitude of any candidate
   containing it, so subsets come before their supersets — and keep the prefix (and ridge strength) with the
   smallest validation error of a least-squares refit on the real queries (instead of the reference's fixed
   95 %-energy cut: the kept prefix carries as much of the energy as the data can pin down, so planted sparse
   functions are recovered exactly);
2. expand hierarchically: unions of two selected terms (a high-order term whose subsets are all strong has
   no marginal signal of its own once they are fitted) and the remaining candidates, scored by their
   correlation with the residual; those above the universal threshold ``std(r) sqrt(2 ln(2P) / m)`` are
   appended and kept if the validation R² rises;
3. prune by re-ranking the kept terms on their fitted magnitude and re-selecting a prefix; keep only the
   singletons if the interactions do not raise the validation R² by ``ADDITIVE_TOLERANCE``; refit on all
   rows with an unpenalised intercept;
4. optionally blend in the trees' own transform, ``(1 - w) · selected + w · trees``, ``w`` minimising the
   validation error: on dense functions the many small tree terms add accuracy (``info["proxy_weight"]``).

Every ranking uses only the trees' training rows; every choice of prefix or weight is scored on validation
rows none of them saw. Prefixes are validated on Gram matrices with one Cholesky factorisation per ridge
strength: the factor of a leading block is the leading block of the factor, so every prefix costs ``O(K^2)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg.blas import dgemm
from scipy.linalg.lapack import dpotrf, dtrtrs

from ...transforms.sparse import PAD, SparseTransform, pad_columns
from ..numerics import r2_score, ridge_from_gram, support_keys
from ..tree_fourier import lightgbm_to_fourier
from .packed import PackedMasks, as_packed
from .pair_lasso import stack_weights
from .proxy import TreeData, candidate_terms, fit_tree_proxy

#: ridge strengths (shared scale ``alpha * m`` on the ±1 design) the validation chooses from: from a
#: numerically unpenalised fit to one that shrinks every term noticeably
RIDGE_GRID = (1e-8, 1e-4, 1e-2, 1e-1, 1.0)
#: most prefix lengths tried per selection (geometrically spaced)
PREFIX_GRID_POINTS = 30
#: the selected interactions must raise the validation R² by more than this over the kept singletons alone,
#: else the additive fit is returned (the additive model is the candidate to beat)
ADDITIVE_TOLERANCE = 0.002
#: the trees' thousands of small terms are blended in only for a validation R² gain above this
BLEND_MIN_GAIN = 5e-4
#: cells (rows x terms, float32) of one block of the expansion pool's design while it is scored
POOL_BLOCK_CELLS = 1 << 24


def _subset_rows(idx: np.ndarray, degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every subset of every row (padded, ascending) and the row it came from."""
    width = idx.shape[1]
    counts = np.left_shift(1, degrees.astype(np.int64))
    src = np.repeat(np.arange(len(idx)), counts)
    pattern = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    bits = ((pattern[:, None] >> np.arange(width)) & 1).astype(bool)
    big = np.iinfo(np.int64).max
    sub = np.sort(np.where(bits, idx[src].astype(np.int64), big), axis=1)
    return np.where(sub == big, PAD, sub), src


def hierarchical_order(candidates: SparseTransform, scores: np.ndarray) -> np.ndarray:
    """Order candidates by inherited importance (max score over candidates containing them), then degree.

    A subset of a strong term therefore precedes it, so every prefix of the order is (nearly) closed under
    taking subsets — the hierarchy ProxySPEX relies on.
    """
    keys = support_keys(candidates.idx, candidates.n_features)
    sub, src = _subset_rows(candidates.idx, candidates.degrees)
    sub_keys = support_keys(sub, candidates.n_features) if sub.shape[1] else np.zeros(len(sub), dtype=np.int64)
    order = np.argsort(keys)
    pos = np.searchsorted(keys[order], sub_keys)
    pos = np.minimum(pos, len(keys) - 1)
    hit = keys[order][pos] == sub_keys
    inherited = scores.copy()
    np.maximum.at(inherited, order[pos[hit]], scores[src[hit]])
    return np.lexsort((candidates.degrees, -inherited))


def _prefix_grid(k_max: int) -> np.ndarray:
    return np.unique(np.round(np.geomspace(1, k_max, num=min(k_max, PREFIX_GRID_POINTS))).astype(int))


class FoldStats:
    """Per-fold Gram matrices ``DᵀD``, right-hand sides ``Dᵀy`` and ``yᵀy`` of a ±1 design (Gram sums exact in
    float32 below 2^24 rows); the largest fold's as the total minus the others, so no copy of its rows is made."""

    def __init__(self, design: np.ndarray, y: np.ndarray, folds: np.ndarray) -> None:
        d32 = np.asarray(design, dtype=np.float32)
        self.sizes = np.bincount(folds, minlength=int(folds.max()) + 1)
        big = int(np.argmax(self.sizes))
        self.gram_all = (d32.T @ d32).astype(np.float64)
        self.rhs_all = _transposed_product(d32, y)
        self.grams, self.rhs, self.yy = [], [], []
        for f in range(len(self.sizes)):
            rows = folds == f
            if f == big:
                self.grams.append(np.zeros_like(self.gram_all))
                self.rhs.append(np.zeros_like(self.rhs_all))
            else:
                self.grams.append((d32[rows].T @ d32[rows]).astype(np.float64))
                self.rhs.append(d32[rows].T.astype(np.float64) @ y[rows])
            self.yy.append(float(y[rows] @ y[rows]))
        if len(self.sizes) > 1:
            self.grams[big] = self.gram_all - sum(self.grams)
            self.rhs[big] = self.rhs_all - sum(self.rhs)
        else:
            self.grams[big], self.rhs[big] = self.gram_all, self.rhs_all

    def ridge(self, k: int, alpha: float, without: int | None = None, columns: np.ndarray | None = None) -> np.ndarray:
        """Ridge coefficients (column 0 the unpenalised intercept) of the first ``k`` columns (or of
        ``columns``) on every row, or on the rows outside fold ``without``; as :func:`~..numerics.ridge`."""
        cols = np.arange(k) if columns is None else columns
        gram, rhs, rows = self.gram_all, self.rhs_all, int(self.sizes.sum())
        if without is not None:
            gram, rhs, rows = gram - self.grams[without], rhs - self.rhs[without], rows - int(self.sizes[without])
        return ridge_from_gram(gram[np.ix_(cols, cols)], rhs[cols], rows, alpha)


def _transposed_product(design: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``designᵀ v`` in float64, a block of rows at a time (no float64 copy of the design)."""
    out = np.zeros(design.shape[1])
    step = max(1024, (1 << 22) // max(1, design.shape[1]))
    for lo in range(0, len(design), step):
        out += design[lo : lo + step].T.astype(np.float64) @ v[lo : lo + step]
    return out


def design_product(design: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """``design[:, :len(coefs)] @ coefs`` in float64, a block of rows at a time (no float64 copy of the design)."""
    k = len(coefs)
    step = max(1024, (1 << 22) // max(1, k))
    return np.concatenate(
        [design[lo : lo + step, :k].astype(np.float64) @ coefs for lo in range(0, len(design), step)] or [np.zeros(0)]
    )


def select_prefix(
    design: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    eval_folds: tuple[int, ...] | None = None,
    stats: FoldStats | None = None,
) -> tuple[int, float, float]:
    """Validated choice of the prefix length ``K`` (column 0 is the intercept) and ridge strength.

    ``folds[r]`` is the fold of row ``r``; each fold in ``eval_folds`` (default: all, i.e. K-fold CV) is
    predicted from a fit on the other rows. Returns ``(K, alpha, r2)``, ``r2`` being the out-of-fold R² of
    the chosen model on the evaluated rows. Among near-ties the shortest prefix wins. ``stats``: the design's
    :class:`FoldStats`, when already computed.
    """
    m, k_max = design.shape
    stats = FoldStats(design, y, folds) if stats is None else stats
    n_folds = len(stats.sizes)
    evaluated = range(n_folds) if eval_folds is None else eval_folds
    sizes, grid = stats.sizes, _prefix_grid(k_max)
    errors = np.zeros((len(RIDGE_GRID), len(grid)))
    below_grid = np.arange(k_max)[:, None] < grid[None, :]
    for f in evaluated:
        system = stats.gram_all - stats.grams[f]
        r_train = stats.rhs_all - stats.rhs[f]
        val = folds == f
        d_val, y_val = design[val].astype(np.float64), y[val]
        for a, alpha in enumerate(RIDGE_GRID):
            pen = np.full(k_max, alpha * (m - sizes[f]))
            pen[0] = 1e-12 * (m - sizes[f])
            chol, info = dpotrf(system + np.diag(pen), lower=1, clean=1)
            if info != 0 or not np.isfinite(errors[a]).all():
                errors[a] = np.inf
                continue
            # every prefix at once: with L the Cholesky factor and z = L^-1 r, the prefix-k coefficients are
            # L[:k, :k]^-T z[:k] (the leading block of a triangular factor is the factor of the leading block),
            # i.e. the solution of L^T c = z truncated to k entries (zero past k); one back substitution with a
            # column per grid length gives them all, and one product their validation predictions (scipy's
            # BLAS, as the factorisation: numpy ships its own, and alternating thread pools costs milliseconds)
            z = dtrtrs(chol, r_train, lower=1)[0]
            prefix_coefs = dtrtrs(chol, np.where(below_grid, z[:, None], 0.0), lower=1, trans=1)[0]
            pred = dgemm(1.0, prefix_coefs, d_val, trans_a=1, trans_b=1)
            errors[a] += ((pred - y_val) ** 2).sum(axis=1)
    # the shortest prefix whose error is within a hair of the best (exact data: zero error is reached
    # as soon as the true support is in, and longer prefixes only add zero-valued terms)
    best = errors.min()
    y_eval = y[np.isin(folds, list(evaluated))]
    total = float(((y_eval - y_eval.mean()) ** 2).sum()) or 1.0  # the values are standardised: no underflow
    ok = errors <= best + 1e-3 * abs(best) + 1e-9 * total
    g = int(np.flatnonzero(ok.any(axis=0))[0])
    a = int(np.argmin(np.where(ok[:, g], errors[:, g], np.inf)))
    return int(grid[g]), float(RIDGE_GRID[a]), 1.0 - float(errors[a, g]) / total


def stack_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    width = max(a.shape[1], b.shape[1])
    return np.vstack([pad_columns(a, width), pad_columns(b, width)])


def with_intercept(idx: np.ndarray) -> np.ndarray:
    """Prepend the empty support (row 0, the intercept) to a padded support matrix."""
    return stack_rows(np.full((1, idx.shape[1]), PAD), idx)


def _expansion_pool(
    selected: np.ndarray, coefs: np.ndarray, rest: np.ndarray, max_order: int, n: int, max_pool: int
) -> np.ndarray:
    """Terms to try next: unions of two selected terms (degree <= ``max_order``) and unselected candidates.

    A high-order term whose subsets are all strong is invisible to greedy splits (it has no marginal
    effect once its subsets are explained) but is exactly the union of two of its selected subsets.
    """
    top = selected[np.argsort(-np.abs(coefs), kind="stable")[: int(np.sqrt(2 * max_pool))]]
    a, b = np.triu_indices(len(top), k=1)
    both = np.concatenate([top[a], top[b]], axis=1).astype(np.int64)
    big = np.iinfo(np.int64).max
    srt = np.sort(np.where(both == PAD, big, both), axis=1)
    srt[:, 1:][srt[:, 1:] == srt[:, :-1]] = big  # drop features common to both
    srt = np.sort(srt, axis=1)
    deg = (srt != big).sum(axis=1)
    unions = np.where(srt == big, PAD, srt)[deg <= max_order][:, :max_order]
    pool = stack_rows(unions, rest[:max_pool])
    keys = support_keys(pool, n)
    _, first = np.unique(keys, return_index=True)
    pool = pool[np.sort(first)]
    known = np.isin(support_keys(pool, n), support_keys(stack_rows(selected, np.zeros((0, pool.shape[1]), int)), n))
    pool = pool[~known & ((pool != PAD).sum(axis=1) > 0)]
    return pool[:max_pool]


def run_pipeline(
    x: np.ndarray | PackedMasks,
    y: np.ndarray,
    rng: np.random.Generator,
    max_order: int,
    n_jobs: int,
    max_candidates: int,
    expand_rounds: int,
    max_pool: int,
    prior: SparseTransform | None = None,
    blend_proxy: bool = False,
    tree_data: TreeData | None = None,
    boost_from_prior: bool = False,
) -> tuple[SparseTransform, dict[str, Any]]:
    """Proxy -> candidates -> validated prefix (one split) -> hierarchical expansion -> pruning -> final fit
    (-> blend with the trees' own transform, if ``blend_proxy`` and the validation rows favour it).

    ``tree_data``: the rows of ``x`` already binned for the trees. ``boost_from_prior``: the trees fit the residual
    of ``prior`` (for a prior validated on held-out masks: a weak prior's errors look like noise to the trees, which
    then stop after a few rounds and propose too few candidates)."""
    masks = as_packed(x)
    n = masks.n_features
    offset = prior.predict(masks.rows()) if boost_from_prior and prior is not None and len(prior) else None
    booster, info = fit_tree_proxy(masks, y, max_order, rng, n_jobs, data=tree_data, offset=offset)
    # Every ranking below (proxy, residual correlations, fitted magnitudes) is computed on the trees' training
    # rows only; prefixes are chosen on the validation rows, which none of those rankings saw.
    folds = np.ones(len(y), dtype=np.int64)
    folds[info.pop("validation_rows")] = 0
    tr = folds == 1
    val_rows = np.flatnonzero(~tr)
    proxy_fourier = lightgbm_to_fourier(booster, n, num_iteration=booster.best_iteration, max_degree=max_order)
    if offset is not None:
        proxy_fourier = proxy_fourier + prior
    del booster  # frees LightGBM's binned rows before the designs are built
    candidates, scores = candidate_terms(proxy_fourier, masks, y, tr)
    if prior is not None and len(prior):  # known terms (e.g. a pilot's) go first, strongest first
        prior = prior._select(prior.degrees > 0)
        top = float(scores.max(initial=0.0))
        boost = SparseTransform(prior.idx, top + np.abs(prior.coefs) + 1.0, n)
        scores = (SparseTransform(candidates.idx, scores, n) + boost).coefs
        candidates = candidates + prior.with_coefs(np.zeros(len(prior)))
    info["n_candidates"] = len(candidates)
    order = hierarchical_order(candidates, scores)
    ranked = candidates.idx[order]
    k_cap = int(max(1, min(len(order), max_candidates, int(0.75 * tr.sum()) - 1)))

    design_idx = with_intercept(ranked[:k_cap])
    design = masks.parity_design(design_idx)
    stats = FoldStats(design, y, folds)
    k, alpha, val_r2 = select_prefix(design, y, folds, (0,), stats)
    coefs = stats.ridge(k, alpha, without=0)
    info["first_k"] = k
    rounds = 0
    for _ in range(expand_rounds):
        pool = _expansion_pool(design_idx[1:k], coefs[1:], ranked, max_order, n, max_pool)
        if len(pool) == 0:
            break
        residual = np.where(tr, y - design_product(design, coefs), 0.0)
        score = _pool_scores(masks, pool, residual) / tr.sum()
        # universal threshold: under "no missing term" each score is ~ N(0, var(r)/m); keep only terms above
        # the expected maximum of len(pool) such scores, so that ranking cannot inject noise terms
        floor = float(np.std(residual[tr])) * np.sqrt(2.0 * np.log(2.0 * len(pool)) / tr.sum())
        take = np.argsort(-score, kind="stable")[: max(k_cap - k, k_cap // 4)]
        take = take[score[take] > floor]
        if len(take) == 0:
            break
        new_idx = stack_rows(design_idx[:k], pool[take])
        new_design = np.hstack([design[:, :k], masks.parity_design(pool[take])])
        new_stats = FoldStats(new_design, y, folds)
        k2, alpha2, r2 = select_prefix(new_design, y, folds, (0,), new_stats)
        if r2 <= val_r2 + 1e-9:
            break
        design_idx, design, stats, k, alpha, val_r2 = new_idx, new_design, new_stats, k2, alpha2, r2
        coefs = stats.ridge(k, alpha, without=0)
        rounds += 1
    if k > 2:  # pruning: re-rank the kept terms by fitted magnitude (hierarchically), keep the best prefix
        kept = SparseTransform(design_idx[1:k], np.abs(coefs[1:]), n)
        idx2 = with_intercept(kept.idx[hierarchical_order(kept, kept.coefs)])
        design2 = masks.parity_design(idx2)
        stats2 = FoldStats(design2, y, folds)
        k2, alpha2, r2 = select_prefix(design2, y, folds, (0,), stats2)
        if k2 < len(idx2) and r2 >= val_r2 - 1e-3 * (1.0 - val_r2) - 1e-9:
            design_idx, design, stats, k, alpha, val_r2 = idx2, design2, stats2, k2, alpha2, r2
    first = np.flatnonzero((design_idx[:k] != PAD).sum(axis=1) <= 1)  # the intercept and kept singletons
    val_design = design[val_rows]
    additive = len(first) < k and (
        r2_score(y[val_rows], val_design[:, first] @ stats.ridge(k, alpha, without=0, columns=first))
        >= val_r2 - ADDITIVE_TOLERANCE
    )
    if additive:  # the interactions do not earn their place on the validation rows: the additive fit
        design_idx, k = design_idx[first], len(first)
        coefs = stats.ridge(k, alpha, columns=first)
        val_design = val_design[:, first]
    else:
        coefs = stats.ridge(k, alpha)  # final refit on every fitted query
    fourier = SparseTransform(design_idx[:k], coefs, n).drop_zeros(rtol=1e-10)
    weight = 0.0
    if blend_proxy and not additive:
        selected = val_design[:, :k] @ stats.ridge(k, alpha, without=0)  # honest on the validation rows
        weight, r2 = proxy_blend_weight(selected, proxy_fourier.predict(masks.rows(val_rows)), y[val_rows])
        weight = weight if r2 > val_r2 + BLEND_MIN_GAIN else 0.0
        if weight > 0:
            fourier = fourier.with_coefs((1 - weight) * fourier.coefs) + proxy_fourier.with_coefs(
                weight * proxy_fourier.coefs
            )
            val_r2 = r2
    info.update(
        n_terms=int((fourier.degrees > 0).sum()), ridge_alpha=alpha, validation_r2=val_r2, expand_rounds=rounds,
        proxy_weight=weight, additive=bool(additive),
    )  # fmt: skip
    return fourier, info


def _pool_scores(masks: PackedMasks, pool: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """``|Dᵀ r|`` of the pool terms' parity columns, a block of terms at a time (``r`` is 0 off the training
    rows), so the pool's design is never held whole."""
    step = max(16, POOL_BLOCK_CELLS // max(1, len(masks)))
    r32 = residual.astype(np.float32)
    blocks = [masks.parity_design(pool[lo : lo + step]).T @ r32 for lo in range(0, len(pool), step)]
    return np.abs(np.concatenate(blocks))


def proxy_blend_weight(selected: np.ndarray, proxy: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Weight ``w`` of the trees' transform in ``(1 - w) · selected + w · proxy`` minimising the error on
    validation rows ``y``, and the blend's R² there."""
    preds = np.stack([selected, proxy])
    w = stack_weights(y, preds)
    return float(w[1]), r2_score(y, w @ preds)
