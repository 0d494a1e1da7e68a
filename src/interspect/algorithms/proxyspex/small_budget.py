"""Small budgets (:func:`uses_stack`: ``m`` below ``CV_MAX_ROWS`` fitted masks, or below ``STACK_MAX_ROWS`` where
``m x n`` is small): four models, cross-validated and stacked.

The 20 % split of the pipeline is then too small to choose from (19 rows at 96 queries), and K-fold CV of the
prefix alone would be optimistic, because the rankings saw most of every held-out fold. So the whole pipeline
is cross-validated honestly with ``N_FOLDS`` folds — rerun on each training part, predicting the rest — and
so, on the same folds, are three simpler models: the intercept plus every singleton, fitted by ridge with its
strength chosen by the same CV (Gram form, or the ``m x m`` kernel of the centred design when there are more
singletons than rows), the singletons alone by a (relaxed) lasso (sparse additive: most words of a text do not
matter; at or below ``LASSO_MIN_ROWS_PER_FEATURE`` rows per feature only where its out-of-fold R² shows it has
found something), and the
singletons plus the pairs of the strongest of them, fitted by a (relaxed) lasso
(:mod:`.pair_lasso`). The result combines the four:

- the pipeline part is *bagged*: half the fit on all rows, half the mean of the fold fits (a mean of sparse
  transforms is one; averaging steadies which terms a few rows can pin down);
- the four are *stacked* (the additive two alone unless the others raise the out-of-fold R² by
  ``ADDITIVE_TOLERANCE``): ``Σ w_i · model_i`` with weights on the simplex minimising the error of the same
  mix of predictions. Out-of-fold predictions alone under-rate the pipeline, whose quality still climbs
  steeply with the rows, and training predictions over-rate it, so each model's predictions are Efron's .632
  mix of the two.

``info["cv_scores"]`` holds the out-of-fold R² of each model and of the blend; the blend's is the fit's
cross-validated faithfulness (conservative: the returned fit saw more rows than each fold fit). The eleven
pipeline fits and the two lassos are independent and run on worker threads; each pipeline draws from its own
random stream, so the answer does not depend on the number of threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.linalg

from ...transforms.sparse import SparseTransform
from ..numerics import r2_score, ridge
from .packed import PackedMasks, as_packed
from .pair_lasso import MAX_TOP, fit_pair_lasso, stack_weights
from .proxy import TreeData
from .selection import RIDGE_GRID, run_pipeline, with_intercept

#: fewer fitted queries than this: the small-budget stack below (one 20 % split is too small to choose from) ...
CV_MAX_ROWS = 1000
#: ... and up to this many where its eleven pipeline fits cost little (rows x features <= STACK_MAX_CELLS): its
#: bagging still gains there over one split (VADER, 150 words, 1,084 queries: R² +0.09; BENCHMARKS.md)
STACK_MAX_ROWS = 2500
STACK_MAX_CELLS = 1 << 20
#: below this many queries no proxy is trained at all (the mean is returned with a message)
MIN_FIT_QUERIES = 8
#: folds of the cross-validation (the usual 10)
N_FOLDS = 10
#: the stack's additive members, and the out-of-fold R² the others must add to be kept (a few thousandths:
#: below the spread of the fold estimates, so an additive function gets an additive explanation)
ADDITIVE_MODELS = ("singletons", "lasso")
ADDITIVE_TOLERANCE = 0.002
#: at or below this many rows per feature the singleton lasso stays in the stack only if its out-of-fold R²
#: reaches ``LASSO_MIN_CV_R2``: below that its cross-validated sparsity is noise (n = 64 on 96 masks of a
#: planted function: out-of-fold R² 0.06, true R² -0.07), above it the lasso is the model to beat (text)
LASSO_MIN_ROWS_PER_FEATURE = 1.5
LASSO_MIN_CV_R2 = 0.25
#: weight of out-of-fold predictions in the .632 estimate (Efron, 1983)
EFRON = 0.632


def uses_stack(m: int, n: int) -> bool:
    """Whether ``m`` fitted masks of ``n`` features go to the stack (else to one pipeline, one validation split)."""
    return m >= 2 * MIN_FIT_QUERIES and (m < CV_MAX_ROWS or (m < STACK_MAX_ROWS and m * n <= STACK_MAX_CELLS))


def kfold_labels(m: int, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Fold of each of ``m`` rows: a random, balanced assignment to ``n_folds`` folds."""
    return rng.permutation(np.arange(m) % n_folds)


def fit_threads(n_jobs: int | None, n_fits: int) -> int:
    """Worker threads for ``n_fits`` independent fits: ``n_jobs``, or every CPU this process may use (joblib's
    count, which respects CPU affinity and container quotas)."""
    from joblib import cpu_count

    return max(1, min(n_fits, cpu_count() if n_jobs is None else n_jobs))


def ridge_cv_predictions(design: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold predictions ``(len(RIDGE_GRID), m)`` of a ridge fit of the full ``design`` (column 0 the
    intercept), one row per ridge strength; ``inf`` where a system could not be factorised.

    Same model and penalties as :func:`~..numerics.ridge`: Gram form when the columns fit in the training rows, else the
    ``m x m`` kernel of the centred design (e.g. all singletons of 10,000 features on a few hundred masks).
    """
    m, k = design.shape
    d = np.asarray(design, dtype=np.float32)
    kernel_form = k > m - np.bincount(folds).max()
    if kernel_form:
        kernel = (d[:, 1:] @ d[:, 1:].T).astype(np.float64)  # ±1 entries: exact in float32 below 2^24 columns
    pred = np.full((len(RIDGE_GRID), m), np.inf)
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
        for a, alpha in enumerate(RIDGE_GRID):
            try:
                chol = scipy.linalg.cho_factor(system + np.diag(alpha * len(y_t) * pen), lower=True)
            except np.linalg.LinAlgError:
                continue
            pred[a, val] = offset + cross @ scipy.linalg.cho_solve(chol, rhs)
    return pred


def fit_small_budget(
    x: np.ndarray | PackedMasks, y: np.ndarray, rng: np.random.Generator, **options: Any
) -> tuple[SparseTransform, dict[str, Any], float]:
    """The bagged pipeline, the singleton ridge and the pair lasso, stacked (module docstring).

    ``options`` are the pipeline's. Returns the transform, diagnostics and the blend's out-of-fold R².
    Meant to run with one BLAS thread (its caller sets it): the worker threads are the parallelism.
    """
    masks = as_packed(x)
    x = masks.rows()  # below STACK_MAX_ROWS rows: small
    n = x.shape[1]
    tree_data = TreeData.build(masks, y)  # binned once for the eleven tree fits
    folds = kfold_labels(len(y), N_FOLDS, rng)
    single_idx = with_intercept(np.arange(n)[:, None])
    single_design = masks.parity_design(single_idx)
    signs = single_design[:, 1:].astype(np.float64)
    ridge_oof = ridge_cv_predictions(single_design, y, folds)
    a = int(np.argmin(((ridge_oof - y) ** 2).sum(axis=1)))
    single_coefs = ridge(single_design, y, RIDGE_GRID[a])
    single = SparseTransform(single_idx, single_coefs, n)
    rank_singles = lambda rows: ridge(single_design[rows], y[rows], RIDGE_GRID[a])[1:]  # noqa: E731
    # eleven pipelines (all rows, then each fold's training part, each with its own random stream) and the two
    # lassos are independent: they run on worker threads (LightGBM, BLAS and coordinate descent release the GIL)
    parts = [np.ones(len(y), dtype=bool)] + [folds != f for f in range(N_FOLDS)]
    threads = fit_threads(options["n_jobs"], len(parts) + 2)
    per_fit = dict(options, n_jobs=1) if threads > 1 else options  # the threads are the fits: one LightGBM

    def pipeline(part: np.ndarray, stream: np.random.Generator) -> tuple[SparseTransform, dict[str, Any]]:
        return run_pipeline(masks.subset(part), y[part], stream, tree_data=tree_data.restrict(part), **per_fit)

    def lasso(max_top: int) -> tuple[SparseTransform, np.ndarray]:
        return fit_pair_lasso(signs, y, single_coefs[1:], folds, rank_singles, max_top=max_top)

    tops = (0, MAX_TOP) if options["max_order"] >= 2 else (0,)  # the sparse additive lasso, then with pairs
    with ThreadPoolExecutor(threads) as pool:
        lassos = [pool.submit(lasso, top) for top in tops]
        fits = list(pool.map(pipeline, parts, rng.spawn(len(parts))))
        (lasso_fit, lasso_oof), *pair_fits = [job.result() for job in lassos]
    fourier, info = fits[0]
    oof = np.zeros(len(y))  # out-of-fold predictions of the whole pipeline, rerun on each training part
    bag = fourier.with_coefs(0.5 * fourier.coefs)  # half the fit on all rows, half the mean of the fold fits
    for f, (fold_fit, _) in enumerate(fits[1:]):
        val = folds == f
        oof[val] = fold_fit.predict(x[val])
        bag = bag + fold_fit.with_coefs(fold_fit.coefs / (2 * N_FOLDS))
    # each model: (what it returns, out-of-fold predictions, its fit on all rows)
    models = {"pipeline": (bag, oof, fourier), "singletons": (single, ridge_oof[a], single)}
    if len(y) > LASSO_MIN_ROWS_PER_FEATURE * n or r2_score(y, lasso_oof) >= LASSO_MIN_CV_R2:
        models["lasso"] = (lasso_fit, lasso_oof, lasso_fit)
    for pairs, pairs_oof in pair_fits:
        models["pairs"] = (pairs, pairs_oof, pairs)
    # Efron's .632 mix of out-of-fold (pessimistic) and training (optimistic) predictions chooses the weights;
    # the pipeline's training predictions are those of its fit on all rows (the bag also holds the fold fits)
    mixed = np.stack([EFRON * mod[1] + (1 - EFRON) * mod[2].predict(x) for mod in models.values()])
    weights = stack_weights(y, mixed)
    # the additive members alone are the candidate to beat: interactions stay only where they raise the
    # out-of-fold R² by more than ADDITIVE_TOLERANCE
    additive = np.array([name in ADDITIVE_MODELS for name in models])
    additive_weights = np.zeros(len(models))
    additive_weights[additive] = stack_weights(y, mixed[additive])
    oof_stack = np.stack([mod[1] for mod in models.values()])
    gain = r2_score(y, weights @ oof_stack) - r2_score(y, additive_weights @ oof_stack)
    if gain <= ADDITIVE_TOLERANCE:
        weights = additive_weights
    blended = sum(
        (mod[0].with_coefs(w * mod[0].coefs) for w, mod in zip(weights, models.values(), strict=True) if w > 0),
        SparseTransform([()], [0.0], n),
    )
    oofs = {name: mod[1] for name, mod in models.items()}
    oofs["blend"] = weights @ np.stack(list(oofs.values()))
    scores = {name: r2_score(y, pred) for name, pred in oofs.items()}
    chosen = [name for name, w in zip(models, weights, strict=True) if w > 0]
    info.update(
        selection=chosen[0] if len(chosen) == 1 else "blend",
        blend_weights=dict(zip(models, weights.tolist(), strict=True)),
        cv_scores=scores,
        singleton_alpha=RIDGE_GRID[a],
        interaction_gain=gain,
    )
    fourier = blended.drop_zeros(rtol=1e-10)
    info["n_terms"] = int((fourier.degrees > 0).sum())
    return fourier, info, scores["blend"]
