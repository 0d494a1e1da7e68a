"""ProxySPEX: a gradient-boosted tree proxy whose exact Fourier transform proposes the interactions.

Influential interactions are hierarchical (a strong ``{i, j, k}`` comes with strong subsets), which greedy
tree splits find with few queries. The method:

1. draws ``budget`` distinct uniformly random masks (optionally paired with their complements) and sends
   them through the query engine; 10 % (at most 500: enough to measure R²) are kept aside, never fitted,
   for held-out R² (at budgets of 1,000 or more; below, see the end of this docstring);
2. fits LightGBM regression trees of depth ``max_order`` with early stopping on one 80/20 validation split
   (at most 500 validation rows: they choose a handful of sizes below, while the trees gain from every
   extra row; on VADER at 6,336 queries the two caps lifted R² from 0.679 to 0.687 over 10 seeds)
   at learning rate 0.2 (the number of trees is the hyper-parameter that matters; a round must cut the
   validation error by 0.01 % of the variance to count, patience 25 rounds): one fit instead of the
   references' 5-fold grids of 40-60 fits. The features are 0/1, so two histogram bins found from at most
   1,000 sampled rows, no feature bundling and, by default, one thread (measured faster than two on this
   data size: the per-round work is too small to pay for OpenMP synchronisation);
3. reads the ensemble's Fourier transform off the trees exactly (:mod:`.tree_fourier`), truncated to
   degree ``max_order``; these terms, plus every singleton, are the candidates;
4. orders the candidates hierarchically — a term inherits the largest proxy magnitude of any candidate
   containing it, so subsets come before their supersets — and keeps the prefix (and ridge strength)
   with the smallest validation error of a least-squares refit on the real queries. This replaces
   the reference's fixed 95 %-energy cut: the kept prefix carries as much of the energy as the data can
   pin down, so planted sparse functions are recovered exactly instead of losing their small terms;
5. expands hierarchically: unions of two selected terms (a high-order term whose subsets are all
   strong has no marginal signal of its own once they are fitted) and the remaining candidates are
   scored by their correlation with the residual; those above the universal threshold
   ``std(r) sqrt(2 ln(2P) / m)`` are appended and kept if the validation R² rises;
6. prunes by re-ranking the kept terms on their fitted magnitude and re-selecting a prefix, then refits on
   all fitted queries with an explicit, unpenalised intercept;
7. blends in the trees' own transform (step 3) when the validation rows favour it: ``(1 - w) · selected +
   w · trees``, ``w`` minimising the validation error of the two models fitted on the training rows. On
   sparse functions ``w = 0`` (the selection is exact); on dense ones (VADER sentiment, a squashed sum with
   no exact sparse form) the many small tree terms the selection cannot afford add accuracy (``w ≈ 0.1 …
   0.25``, +0.004 R² over 10 seeds at 6,336 queries) at the price of many more terms (``info["proxy_weight"]``).

In steps 2-7 every ranking (proxy, residual correlations, fitted magnitudes) uses only the trees' training
rows, and every choice of prefix or weight is scored on the validation rows none of them saw. Validation
runs on Gram matrices of the candidate design and one Cholesky factorisation per ridge strength: the
Cholesky factor of a leading block is the leading block of the factor, so every prefix is solved from it at
``O(K^2)`` cost.

Few queries (``2 * MIN_FIT_QUERIES <= m < CV_MAX_ROWS = 1000`` fitted masks): the 20 % split is then too
small to choose from (19 rows at 96 queries), and K-fold CV of the prefix alone would be optimistic,
because the rankings saw most of every held-out fold. So the whole of steps 2-6 is cross-validated
honestly with 10 folds — rerun on each 9/10 of the rows, predicting the other tenth — and so, on the same
folds, are two simpler models: the intercept plus every singleton, fitted by ridge with its strength chosen
by the same CV (Gram form, or the ``m x m`` kernel of the centred design when there are more singletons than
rows), and the singletons plus the pairs of the strongest of them, fitted by a (relaxed) lasso
(:mod:`.pair_lasso`; strong heredity makes these the only pairs worth searching with so few rows, and the
trees rarely find them). The result combines the three:

- the pipeline part is *bagged*: half the fit on all rows, half the mean of the ten fold fits (a mean of
  sparse transforms is one; averaging steadies which terms a few rows can pin down);
- the three are *stacked*: ``Σ w_i · model_i`` with weights on the simplex minimising the error of the same
  mix of predictions. Out-of-fold predictions alone under-rate the pipeline, whose quality still climbs
  steeply with the rows (9/10 of them per fold), and training predictions over-rate it, so each model's
  predictions are Efron's .632 mix of the two.

On every small-budget benchmark cell the two-model version (pipeline and ridge) was at least as good as picking
the better of the two, and up to 0.1 R² better; the pairs model lifted the planted hierarchical function at
n = 64 and 96 queries from 0.37 to 0.445 mean R² over 8 mask seeds (bench/results/proxyspex.md).
``info["cv_scores"]`` holds the out-of-fold R² of each model and of their blend, ``info["blend_weights"]`` the
weights and ``cv_r2`` the blend's out-of-fold score (a conservative estimate: the returned fit saw more rows
than each fold fit). No queries are held out at these budgets by default: each one counts, and ``cv_r2`` is a
held-out estimate (every mask is predicted by fits that never saw it). This costs ten more pipeline runs and
lasso paths, on small data only.

With many queries ``cv_r2`` is the validation R² of the single split, an honest out-of-sample estimate too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
from scipy.linalg.lapack import dpotrs
from threadpoolctl import threadpool_limits

from ..transforms.sparse import PAD, SparseTransform, pad_columns
from .base import FitResult
from .pair_lasso import fit_pair_lasso, stack_weights
from .tree_fourier import _row_keys, lightgbm_to_fourier

MIN_FIT_QUERIES = 8  # below this no proxy is trained; the mean is returned with a message
CV_MAX_ROWS = 1000  # fewer fitted queries: the pipeline is cross-validated against a singleton ridge
_N_FOLDS = 10
_EFRON = 0.632  # weight of out-of-fold predictions in the .632 estimate (Efron, 1983)
_RIDGE_GRID = (1e-8, 1e-4, 1e-2, 1e-1, 1.0)  # ridge strengths relative to the (±1) design's diagonal
_PATIENCE = 25  # early-stopping rounds
_MAX_ROUNDS = 800
_BIN_SAMPLE = 1000  # rows sampled to find the bins (both values of every feature appear with certainty)
_MIN_GAIN = 1e-4  # a round must cut the validation MSE by this share of the variance to count as progress
_VAL_MAX_ROWS = 500  # validation rows of the one split: enough to choose a prefix and a ridge strength
_HOLDOUT_MAX_ROWS = 500  # default held-out rows: enough to measure R² (standard error ~ 0.06 (1 - R²))


def default_budget(n_features: int) -> int:
    """``n log2 n`` queries (the paper's largest multiplier), at least 64."""
    return int(max(64, np.ceil(n_features * np.log2(max(n_features, 2)))))


# ---------------------------------------------------------------------------------------------- sampling
def distinct_uniform_masks(m: int, n: int, rng: np.random.Generator, paired: bool = False) -> np.ndarray:
    """``m`` distinct masks drawn uniformly (all ``2^n`` when ``m >= 2^n``); ``paired`` adds complements.

    Works for any ``n`` (no per-size weights that overflow); duplicates, likely only for small ``n``, are
    redrawn so that every mask paid for is a new query.
    """
    if n < 63 and m >= (1 << n):
        ints = rng.permutation(1 << n)
        return ((ints[:, None] >> np.arange(n)) & 1).astype(bool)
    half = (m + 1) // 2 if paired else m
    out = np.zeros((0, n), dtype=bool)
    while len(out) < m:
        draw = rng.random((half, n)) < 0.5
        if paired:
            draw = np.vstack([draw, ~draw]).reshape(2, half, n).transpose(1, 0, 2).reshape(-1, n)
        out = np.vstack([out, draw])
        _, first = np.unique(np.packbits(out, axis=1), axis=0, return_index=True)
        out = out[np.sort(first)]
        half = max(1, (m - len(out) + 1) // 2 if paired else m - len(out))
    return out[:m]


# ---------------------------------------------------------------------------------------------- proxy
def fit_tree_proxy(
    x: np.ndarray,
    y: np.ndarray,
    max_order: int,
    rng: np.random.Generator,
    n_jobs: int,
    depths: tuple[int, ...] | None = None,
    learning_rate: float = 0.2,
) -> tuple[Any, dict[str, Any]]:
    """LightGBM proxy: one validation split with early stopping (choosing the number of trees).

    ``depths`` (default: ``max_order`` only, so that trees can express every order sought) may list several
    depths; the one with the best validation R² wins.
    """
    import lightgbm as lgb

    m = len(y)
    perm = rng.permutation(m)
    n_val = max(2, min(int(round(0.2 * m)), _VAL_MAX_ROWS))  # beyond a few hundred, rows serve the trees better
    val, tr = perm[:n_val], perm[n_val:]
    depths = depths or (max_order,)
    x32 = x.astype(np.float32)
    # 0/1 features: two bins, found from a sample of rows (uniform masks show both values of every feature in
    # it); no feature bundling (the masks are dense and independent, bundling only costs time)
    data_params = {
        "max_bin": 2,
        "min_data_in_bin": 1,
        "bin_construct_sample_cnt": int(min(m, _BIN_SAMPLE)),
        "enable_bundle": False,
        "feature_pre_filter": False,
        "verbosity": -1,
    }
    base = {
        **data_params,
        "objective": "regression",
        "learning_rate": learning_rate,
        "min_data_in_leaf": int(max(2, min(20, len(tr) // 40))),
        "min_sum_hessian_in_leaf": 0.0,
        "lambda_l2": 1e-3,
        "force_row_wise": True,
        "deterministic": True,
        "num_threads": int(n_jobs),
        "seed": int(rng.integers(2**31 - 1)),
    }
    train_set = lgb.Dataset(x32[tr], y[tr], params=data_params, free_raw_data=False)
    val_set = lgb.Dataset(x32[val], y[val], reference=train_set)
    var = float(np.var(y[val])) or 1.0
    best: tuple[float, Any, dict[str, Any]] | None = None
    for depth in depths:
        params = dict(base, max_depth=int(depth), num_leaves=int(max(2, 2**depth)))
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=_MAX_ROUNDS,
            valid_sets=[val_set],
            callbacks=[lgb.early_stopping(_PATIENCE, verbose=False, min_delta=_MIN_GAIN * var)],
            keep_training_booster=True,  # the trees are read once; no round trip through the model text
        )
        mse = float(np.mean((booster.predict(x32[val], num_iteration=booster.best_iteration) - y[val]) ** 2))
        r2 = 1.0 - mse / var
        if best is None or r2 > best[0]:
            best = (r2, booster, {"max_depth": int(depth), "n_trees": int(booster.best_iteration)})
    assert best is not None
    return best[1], dict(best[2], proxy_r2=best[0], learning_rate=learning_rate, _val=val)


# ---------------------------------------------------------------------------------------------- selection
def parity_design(x_t: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``(m, k)`` float32 design ``(-1)^{|T & S|}`` from transposed masks ``x_t`` ``(n + 1, m)`` uint8.

    Same values as :func:`base.fourier_design`, but gathers whole contiguous rows of the transposed masks
    (the last row is all zeros, where ``PAD`` points), which is several times faster for many terms.
    """
    gather = np.where(idx == PAD, x_t.shape[0] - 1, idx)
    if gather.shape[1] == 0:
        return np.ones((x_t.shape[1], len(idx)), dtype=np.float32)
    acc = x_t[gather[:, 0]]
    for j in range(1, gather.shape[1]):
        acc ^= x_t[gather[:, j]]
    return (1.0 - 2.0 * acc.astype(np.float32)).T


def _transposed(x: np.ndarray) -> np.ndarray:
    x_t = np.zeros((x.shape[1] + 1, x.shape[0]), dtype=np.uint8)
    x_t[:-1] = x.T
    return x_t


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
    keys = _row_keys(candidates.idx, candidates.n_features)
    sub, src = _subset_rows(candidates.idx, candidates.degrees)
    sub_keys = _row_keys(sub, candidates.n_features) if sub.shape[1] else np.zeros(len(sub), dtype=np.int64)
    order = np.argsort(keys)
    pos = np.searchsorted(keys[order], sub_keys)
    pos = np.minimum(pos, len(keys) - 1)
    hit = keys[order][pos] == sub_keys
    inherited = scores.copy()
    np.maximum.at(inherited, order[pos[hit]], scores[src[hit]])
    return np.lexsort((candidates.degrees, -inherited))


def _prefix_grid(k_max: int) -> np.ndarray:
    return np.unique(np.round(np.geomspace(1, k_max, num=min(k_max, 30))).astype(int))


def select_prefix(
    design: np.ndarray, y: np.ndarray, folds: np.ndarray, eval_folds: tuple[int, ...] | None = None
) -> tuple[int, float, float]:
    """Validated choice of the prefix length ``K`` (column 0 is the intercept) and ridge strength.

    ``folds[r]`` is the fold of row ``r``; each fold in ``eval_folds`` (default: all, i.e. K-fold CV) is
    predicted from a fit on the other rows. Returns ``(K, alpha, r2)``, ``r2`` being the out-of-fold R² of
    the chosen model on the evaluated rows. Among near-ties the shortest prefix wins.
    """
    m, k_max = design.shape
    n_folds = int(folds.max()) + 1
    evaluated = range(n_folds) if eval_folds is None else eval_folds
    d32 = np.asarray(design, dtype=np.float32)  # ±1 entries: Gram sums are exact in float32 below 2^24 rows
    grams, rhs, yy, sizes = [], [], [], []
    for f in range(n_folds):
        rows = folds == f
        grams.append((d32[rows].T @ d32[rows]).astype(np.float64))
        rhs.append(d32[rows].T.astype(np.float64) @ y[rows])
        yy.append(float(y[rows] @ y[rows]))
        sizes.append(int(rows.sum()))
    gram_all, rhs_all = sum(grams), sum(rhs)
    grid = _prefix_grid(k_max)
    errors = np.full((len(_RIDGE_GRID), len(grid)), np.inf)
    for a, alpha in enumerate(_RIDGE_GRID):
        err = np.zeros(len(grid))
        for f in evaluated:
            pen = np.full(k_max, alpha * (m - sizes[f]))
            pen[0] = 1e-12 * (m - sizes[f])
            try:
                chol = scipy.linalg.cholesky(gram_all - grams[f] + np.diag(pen), lower=True)
            except np.linalg.LinAlgError:
                err[:] = np.inf
                break
            r_train = rhs_all - rhs[f]
            for g, k in enumerate(grid):
                beta = dpotrs(chol[:k, :k], r_train[:k], lower=1)[0]  # LAPACK directly: ~30 such solves per fold
                err[g] += yy[f] - 2.0 * beta @ rhs[f][:k] + beta @ grams[f][:k, :k] @ beta
        errors[a] = err
    # the shortest prefix whose error is within a hair of the best (exact data: zero error is reached
    # as soon as the true support is in, and longer prefixes only add zero-valued terms)
    best = errors.min()
    y_eval = y[np.isin(folds, list(evaluated))]
    total = float(((y_eval - y_eval.mean()) ** 2).sum()) or 1.0
    ok = errors <= best + 1e-3 * abs(best) + 1e-9 * total
    g = int(np.flatnonzero(ok.any(axis=0))[0])
    a = int(np.argmin(np.where(ok[:, g], errors[:, g], np.inf)))
    return int(grid[g]), float(_RIDGE_GRID[a]), 1.0 - float(errors[a, g]) / total


def _solve(design: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge fit with penalty ``alpha * m`` on every column but column 0 (the unpenalised intercept).

    With more columns than rows the equivalent kernel form on centred data is solved instead, so that
    ``m x m`` is the largest system (e.g. all singletons of 10,000 features on a few hundred masks).
    """
    m, k = design.shape
    if k > m:
        x = np.asarray(design[:, 1:], dtype=np.float32)
        mu, y_mean = x.mean(axis=0, dtype=np.float64), float(y.mean())
        kernel = (x @ x.T).astype(np.float64)  # ±1 entries: exact in float32 below 2^24 columns
        row = kernel.mean(axis=0)
        kernel += row.mean() - row[None, :] - row[:, None]  # kernel of the centred design
        kernel[np.diag_indices_from(kernel)] += alpha * m
        dual = scipy.linalg.solve(kernel, y - y_mean, assume_a="pos")
        beta = x.T.astype(np.float64) @ dual - mu * dual.sum()  # (X - 1 mu^T)^T dual
        return np.concatenate([[y_mean - mu @ beta], beta])
    design = np.asarray(design, dtype=np.float64)
    gram = design.T @ design
    pen = np.full(k, alpha * m)
    pen[0] = 0.0
    gram[np.diag_indices_from(gram)] += pen
    try:
        return scipy.linalg.solve(gram, design.T @ y, assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        return np.linalg.lstsq(design, y, rcond=None)[0]


def ridge_cv_predictions(design: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold predictions ``(len(_RIDGE_GRID), m)`` of a ridge fit of the full ``design`` (column 0 the
    intercept), one row per ridge strength; ``inf`` where a system could not be factorised.

    Same model and penalties as :func:`_solve`: Gram form when the columns fit in the training rows, else the
    ``m x m`` kernel of the centred design (e.g. all singletons of 10,000 features on a few hundred masks).
    """
    m, k = design.shape
    d = np.asarray(design, dtype=np.float32)
    kernel_form = k > m - np.bincount(folds).max()
    if kernel_form:
        kernel = (d[:, 1:] @ d[:, 1:].T).astype(np.float64)  # ±1 entries: exact in float32 below 2^24 columns
    pred = np.full((len(_RIDGE_GRID), m), np.inf)
    for f in range(int(folds.max()) + 1):
        val, tr = folds == f, folds != f
        y_t = y[tr]
        if kernel_form:
            k_tt, k_vt = kernel[np.ix_(tr, tr)], kernel[np.ix_(val, tr)]
            row = k_tt.mean(axis=0)  # (1/m_T) 1^T K_TT, i.e. mu^T X_T^T
            centre = float(row.mean())
            system = k_tt - row[None, :] - row[:, None] + centre  # centred training kernel H K H
            cross = k_vt - row[None, :] - k_vt.mean(axis=1)[:, None] + centre  # (X_V - mu) (X_T - mu)^T
            rhs, offset = y_t - y_t.mean(), y_t.mean()
            pen = np.ones(len(y_t))
        else:
            system = (d[tr].T @ d[tr]).astype(np.float64)
            cross, rhs, offset = d[val].astype(np.float64), d[tr].T.astype(np.float64) @ y_t, 0.0
            pen = np.r_[1e-12, np.ones(k - 1)]  # the intercept is (numerically) unpenalised
        for a, alpha in enumerate(_RIDGE_GRID):
            try:
                chol = scipy.linalg.cho_factor(system + np.diag(alpha * len(y_t) * pen), lower=True)
            except np.linalg.LinAlgError:
                continue
            pred[a, val] = offset + cross @ scipy.linalg.cho_solve(chol, rhs)
    return pred


def kfold_labels(m: int, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold of each of ``m`` rows: a random, balanced assignment to ``n_folds`` folds."""
    return rng.permutation(np.arange(m) % n_folds)


def candidate_terms(proxy_fourier: SparseTransform, x: np.ndarray, y: np.ndarray) -> tuple[SparseTransform, np.ndarray]:
    """Proxy terms (without the empty set) plus all singletons, with a magnitude score for each.

    Singletons the trees never split on are scored by their direct estimate ``|mean(y (-1)^{x_i})|``, so a
    feature the proxy missed can still enter the model when the data support it.
    """
    n = x.shape[1]
    proxy = proxy_fourier.prune(tol=0.0)
    proxy = proxy._select(proxy.degrees > 0)
    singles = SparseTransform(np.arange(n)[:, None], np.zeros(n), n)
    merged = proxy + singles  # duplicate supports are summed: singles add 0
    score = np.abs(merged.coefs)
    is_single = merged.degrees == 1
    direct = np.abs((1.0 - 2.0 * x).T @ (y - y.mean())) / len(y)
    feat = merged.idx[is_single, 0]
    score[is_single] = np.maximum(score[is_single], np.where(score[is_single] > 0, 0.0, direct[feat]))
    return merged, score


def _stack_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    width = max(a.shape[1], b.shape[1])
    return np.vstack([pad_columns(a, width), pad_columns(b, width)])


def _with_intercept(idx: np.ndarray) -> np.ndarray:
    """Prepend the empty support (row 0, the intercept) to a padded support matrix."""
    return _stack_rows(np.full((1, idx.shape[1]), PAD), idx)


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
    pool = _stack_rows(unions, rest[:max_pool])
    keys = _row_keys(pool, n)
    _, first = np.unique(keys, return_index=True)
    pool = pool[np.sort(first)]
    known = np.isin(_row_keys(pool, n), _row_keys(_stack_rows(selected, np.zeros((0, pool.shape[1]), int)), n))
    pool = pool[~known & ((pool != PAD).sum(axis=1) > 0)]
    return pool[:max_pool]


def _pipeline(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    max_order: int,
    n_jobs: int,
    max_candidates: int,
    expand_rounds: int,
    max_pool: int,
    prior: SparseTransform | None = None,
    blend_proxy: bool = False,
) -> tuple[SparseTransform, dict[str, Any]]:
    """Proxy -> candidates -> validated prefix (one split) -> hierarchical expansion -> pruning -> final fit
    (-> blend with the trees' own transform, if ``blend_proxy`` and the validation rows favour it)."""
    n = x.shape[1]
    booster, info = fit_tree_proxy(x, y, max_order, rng, n_jobs)
    # Every ranking below (proxy, residual correlations, fitted magnitudes) is computed on the trees' training
    # rows only; prefixes are chosen on the validation rows, which none of those rankings saw.
    folds = np.ones(len(y), dtype=np.int64)
    folds[info.pop("_val")] = 0
    tr = folds == 1
    proxy_fourier = lightgbm_to_fourier(booster, n, num_iteration=booster.best_iteration, max_degree=max_order)
    candidates, scores = candidate_terms(proxy_fourier, x[tr], y[tr])
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

    design_idx = _with_intercept(ranked[:k_cap])
    x_t = _transposed(x)
    design = parity_design(x_t, design_idx)
    k, alpha, val_r2 = select_prefix(design, y, folds, (0,))
    coefs = _solve(design[tr, :k], y[tr], alpha)
    info["first_k"] = k
    rounds = 0
    for _ in range(expand_rounds):
        pool = _expansion_pool(design_idx[1:k], coefs[1:], ranked, max_order, n, max_pool)
        if len(pool) == 0:
            break
        pool_design = parity_design(x_t, pool)
        residual = y[tr] - design[tr, :k] @ coefs
        score = np.abs(pool_design[tr].T @ residual.astype(np.float32)) / len(residual)
        # universal threshold: under "no missing term" each score is ~ N(0, var(r)/m); keep only terms above
        # the expected maximum of len(pool) such scores, so that ranking cannot inject noise terms
        floor = float(np.std(residual)) * np.sqrt(2.0 * np.log(2.0 * len(pool)) / len(residual))
        take = np.argsort(-score, kind="stable")[: max(k_cap - k, k_cap // 4)]
        take = take[score[take] > floor]
        if len(take) == 0:
            break
        new_idx = _stack_rows(design_idx[:k], pool[take])
        new_design = np.hstack([design[:, :k], pool_design[:, take]])
        k2, alpha2, r2 = select_prefix(new_design, y, folds, (0,))
        if r2 <= val_r2 + 1e-9:
            break
        design_idx, design, k, alpha, val_r2 = new_idx, new_design, k2, alpha2, r2
        coefs = _solve(design[tr, :k], y[tr], alpha)
        rounds += 1
    if k > 2:  # pruning: re-rank the kept terms by fitted magnitude (hierarchically), keep the best prefix
        kept = SparseTransform(design_idx[1:k], np.abs(coefs[1:]), n)
        idx2 = _with_intercept(kept.idx[hierarchical_order(kept, kept.coefs)])
        design2 = parity_design(x_t, idx2)
        k2, alpha2, r2 = select_prefix(design2, y, folds, (0,))
        if k2 < len(idx2) and r2 >= val_r2 - 1e-3 * (1.0 - val_r2) - 1e-9:
            design_idx, design, k, alpha, val_r2 = idx2, design2, k2, alpha2, r2
    coefs = _solve(design[:, :k], y, alpha)  # final refit on every fitted query
    fourier = SparseTransform(design_idx[:k], coefs, n).drop_zeros(rtol=1e-10)
    weight = 0.0
    if blend_proxy:
        val = ~tr
        selected = design[val, :k] @ _solve(design[tr, :k], y[tr], alpha)  # honest on the validation rows
        weight, r2 = _proxy_weight(selected, proxy_fourier.predict(x[val]), y[val])
        if weight > 0:
            fourier = fourier.with_coefs((1 - weight) * fourier.coefs) + proxy_fourier.with_coefs(
                weight * proxy_fourier.coefs
            )
            val_r2 = r2
    info.update(
        n_terms=int((fourier.degrees > 0).sum()), ridge_alpha=alpha, cv_r2=val_r2, expand_rounds=rounds,
        proxy_weight=weight,
    )  # fmt: skip
    return fourier, info


def _proxy_weight(selected: np.ndarray, proxy: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Weight ``w`` of the trees' transform in ``(1 - w) · selected + w · proxy`` minimising the error on
    validation rows ``y``, and the blend's R² there."""
    preds = np.stack([selected, proxy])
    w = stack_weights(y, preds)
    total = float(((y - y.mean()) ** 2).sum()) or 1.0
    return float(w[1]), 1.0 - float(((w @ preds - y) ** 2).sum()) / total


def _select_terms(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, **options: Any
) -> tuple[SparseTransform, dict[str, Any]]:
    """The pipeline on many rows; on few, its stack with the singleton ridge and the pair lasso (docstring)."""
    if not 2 * MIN_FIT_QUERIES <= len(y) < CV_MAX_ROWS:
        fourier, info = _pipeline(x, y, rng, blend_proxy=True, **options)
        info["selection"] = "pipeline" if info["proxy_weight"] == 0 else "pipeline+trees"
        return fourier, info
    n = x.shape[1]
    fourier, info = _pipeline(x, y, rng, **options)
    folds = kfold_labels(len(y), _N_FOLDS, rng)
    oof = np.zeros(len(y))  # out-of-fold predictions of the whole pipeline, rerun on each training part
    bag = fourier.with_coefs(0.5 * fourier.coefs)  # half the fit on all rows, half the mean of the fold fits
    for f in range(_N_FOLDS):
        tr, val = folds != f, folds == f
        fold_fit = _pipeline(x[tr], y[tr], rng, **options)[0]
        oof[val] = fold_fit.predict(x[val])
        bag = bag + fold_fit.with_coefs(fold_fit.coefs / (2 * _N_FOLDS))
    single_idx = _with_intercept(np.arange(n)[:, None])
    single_design = parity_design(_transposed(x), single_idx)
    ridge_oof = ridge_cv_predictions(single_design, y, folds)
    a = int(np.argmin(((ridge_oof - y) ** 2).sum(axis=1)))
    single_coefs = _solve(single_design, y, _RIDGE_GRID[a])
    single = SparseTransform(single_idx, single_coefs, n)
    # each model: (what it returns, out-of-fold predictions, its fit on all rows)
    models = {"pipeline": (bag, oof, fourier), "singletons": (single, ridge_oof[a], single)}
    if options["max_order"] >= 2:
        pairs, pairs_oof = fit_pair_lasso(
            single_design[:, 1:].astype(np.float64),
            y,
            single_coefs[1:],
            folds,
            lambda rows: _solve(single_design[rows], y[rows], _RIDGE_GRID[a])[1:],
        )
        models["pairs"] = (pairs, pairs_oof, pairs)
    # Efron's .632 mix of out-of-fold (pessimistic) and training (optimistic) predictions chooses the weights;
    # the pipeline's training predictions are those of its fit on all rows (the bag also holds the fold fits)
    weights = stack_weights(
        y, np.stack([_EFRON * mod[1] + (1 - _EFRON) * mod[2].predict(x) for mod in models.values()])
    )
    blended = sum(
        (mod[0].with_coefs(w * mod[0].coefs) for w, mod in zip(weights, models.values(), strict=True) if w > 0),
        SparseTransform([()], [0.0], n),
    )
    total = float(((y - y.mean()) ** 2).sum()) or 1.0
    oofs = {name: mod[1] for name, mod in models.items()}
    oofs["blend"] = weights @ np.stack(list(oofs.values()))
    scores = {name: 1.0 - float(((pred - y) ** 2).sum()) / total for name, pred in oofs.items()}
    chosen = [name for name, w in zip(models, weights, strict=True) if w > 0]
    info.update(
        selection=chosen[0] if len(chosen) == 1 else "blend",
        blend_weights=dict(zip(models, weights.tolist(), strict=True)),
        cv_r2=scores["blend"],
        split_r2=info["cv_r2"],
        cv_scores=scores,
        singleton_alpha=_RIDGE_GRID[a],
    )
    fourier = blended.drop_zeros(rtol=1e-10)
    info["n_terms"] = int((fourier.degrees > 0).sum())
    return fourier, info


# ---------------------------------------------------------------------------------------------- method
def fit_proxyspex(
    engine,
    *,
    budget: int | None,
    max_order: int = 4,
    random_state: int | np.random.Generator | None = None,
    paired: bool = False,
    holdout_fraction: float | None = None,
    max_candidates: int = 500,
    n_jobs: int | None = None,
    masks: np.ndarray | None = None,
    prior: SparseTransform | None = None,
    expand_rounds: int = 2,
    max_pool: int = 2000,
) -> FitResult:
    """ProxySPEX on the value function behind ``engine`` (see the module docstring for the algorithm).

    Parameters
    ----------
    budget : int, optional
        Distinct model queries to spend (default ``n log2 n``, at least 64), held-out masks included.
    paired : bool
        Query each random mask together with its complement (antithetic sampling).
    holdout_fraction : float, optional
        Share of the budget never used for fitting; returned as ``FitResult.holdout`` for held-out R².
        By default 10 % (at most 500), except when fewer than ``CV_MAX_ROWS`` queries would be fitted: then
        every query is fitted (each one counts at small budgets) and the faithfulness reported is the
        cross-validated R² (``info["cv_r2"]``: every mask predicted by fits that never saw it).
    max_candidates : int
        Most candidate terms considered by the validated selection (also capped at 3/4 of the masks).
    n_jobs : int, optional
        LightGBM threads (default 1: on this data, a few thousand rows of 0/1 features, a second thread cost
        more in synchronisation than it saved on a 2-core machine).
    masks : array, optional
        Extra already-queried masks to fit on as well (used by the ``auto`` method to reuse a pilot).
    prior : SparseTransform, optional
        Terms to try first (e.g. the pilot's support), ahead of the proxy's candidates.
    expand_rounds : int
        Rounds of hierarchy-aware expansion after the first selection: unions of selected terms and the
        remaining candidates are ranked by their correlation with the residual and appended; a round is
        kept only if it raises the validation R².
    max_pool : int
        Most terms scored per expansion round.
    """
    rng = np.random.default_rng(random_state)
    n = int(engine.n_features)
    if int(max_order) < 1:
        raise ValueError(f"max_order must be at least 1, got {max_order}")
    budget = default_budget(n) if budget is None else int(budget)
    if budget < 2:
        raise ValueError(f"ProxySPEX needs a budget of at least 2 queries, got {budget}")
    if holdout_fraction is not None and not 0.0 <= holdout_fraction < 1.0:
        raise ValueError("holdout_fraction must lie in [0, 1)")
    fresh = distinct_uniform_masks(budget, n, rng, paired=paired)
    x_all = fresh if masks is None else np.vstack([np.asarray(masks, dtype=bool), fresh])
    _, first = np.unique(np.packbits(x_all, axis=1), axis=0, return_index=True)
    x_all = x_all[np.sort(first)]
    y_all = engine(x_all)
    if holdout_fraction is None:
        n_hold = min(int(np.floor(0.1 * len(fresh))), _HOLDOUT_MAX_ROWS)
    else:
        n_hold = int(np.floor(holdout_fraction * len(fresh)))
    if len(x_all) - n_hold < (CV_MAX_ROWS if holdout_fraction is None else MIN_FIT_QUERIES):
        n_hold = 0
    x, y = x_all[: len(x_all) - n_hold], y_all[: len(x_all) - n_hold]
    holdout = (x_all[len(x) :], y_all[len(x) :]) if n_hold else None
    fourier, info = fit_from_queries(
        x,
        y,
        max_order=max_order,
        random_state=rng,
        n_jobs=n_jobs,
        max_candidates=max_candidates,
        expand_rounds=expand_rounds,
        max_pool=max_pool,
        prior=prior,
    )
    info = {"method": "proxyspex", "budget": budget, "n_fit": len(y), "n_holdout": n_hold, **info}
    return FitResult(fourier, info, holdout)


def fit_from_queries(
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_order: int = 4,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    max_candidates: int = 500,
    expand_rounds: int = 2,
    max_pool: int = 2000,
    prior: SparseTransform | None = None,
) -> tuple[SparseTransform, dict[str, Any]]:
    """ProxySPEX steps 2-6 (and the small-data CV) on masks ``x`` ``(m, n)`` already queried with values ``y``.

    Returns the transform and diagnostics.

    ``prior`` (a Fourier transform, e.g. from a pilot run) contributes its supports as top-ranked candidates.
    """
    rng = np.random.default_rng(random_state)
    x, y = np.asarray(x, dtype=bool), np.asarray(y, dtype=np.float64)
    n = x.shape[1]
    if len(y) < MIN_FIT_QUERIES:
        message = f"only {len(y)} queries: too few to learn interactions (need {MIN_FIT_QUERIES}); returning the mean"
        return SparseTransform([()], [float(np.mean(y)) if len(y) else 0.0], n), {"message": message}
    n_jobs = int(n_jobs or 1)
    with threadpool_limits(limits=1, user_api="blas"):  # small dense solves: extra threads only contend
        fourier, info = _select_terms(
            x,
            y,
            rng,
            max_order=min(int(max_order), n),
            n_jobs=n_jobs,
            max_candidates=max_candidates,
            expand_rounds=expand_rounds,
            max_pool=max_pool,
            prior=prior,
        )
    # the trees, and the terms selected from them on one validation split, found nothing (pure interactions?)
    info["no_hierarchy"] = bool(info["proxy_r2"] < 0.1 and info.get("split_r2", info["cv_r2"]) < 0.1)
    if len(y) < n:
        info["message"] = (
            f"{len(y)} queries for {n} features: only the strongest effects can be identified;"
            f" about {default_budget(n):,} queries (n log2 n) are recommended"
        )
    return fourier, info
