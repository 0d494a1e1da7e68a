"""Singletons plus the pairs of the strongest singletons, fitted by cross-validated lasso.

A small-budget companion of ProxySPEX. With about ``n`` queries, boosted trees rarely find the pairs of a
hierarchical function, and a lasso over all ``n (n - 1) / 2`` pairs needs more queries than there are. Strong
heredity (a pair matters only when both of its features do) shrinks the candidates to the pairs of the
``K = ceil(sqrt(3 m))`` features with the largest ridge coefficients (at most 24), about ``1.5 m`` pairs on
``m`` queries, which an L1 fit can search. The ranking and the lasso are rerun on every training part of the
folds, so the out-of-fold predictions (used to weigh this model against the others) are honest.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotrs
from sklearn import config_context
from sklearn.linear_model import lasso_path

from ...transforms.sparse import PAD, SparseTransform

LASSO_GRID = np.geomspace(1.0, 1e-2, 10)  # lasso strengths relative to the smallest one that zeroes every term
MAX_TOP = 24  # at most the pairs of this many features (276): beyond a few hundred rows the trees find the pairs
#: the lasso runs on the Gram matrix up to this many columns (32 MB), else on the data
GRAM_MAX_COLUMNS = 2048
#: a Cholesky factor whose smallest diagonal entry is below this share of its largest marks collinear columns
COLLINEAR = 1e-6
#: the cross-validated walk down the strengths stops after this many strengths without a lower error
PATH_PATIENCE = 2
#: most bytes the folds' designs and Gram matrices may take while they walk the strengths together
PATH_MAX_BYTES = 256 << 20


def strongest_pairs(coefs: np.ndarray, m: int, max_top: int = MAX_TOP) -> np.ndarray:
    """``(P, 2)`` pairs of the ``min(ceil(sqrt(3 m)), max_top)`` features with the largest ``|coefs|`` (ascending
    in each row)."""
    k = int(min(len(coefs), np.ceil(np.sqrt(3 * m)), max_top))
    top = np.sort(np.argsort(-np.abs(coefs), kind="stable")[:k])
    a, b = np.triu_indices(k, k=1)
    return np.stack([top[a], top[b]], axis=1)


def _design(signs: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Columns ``(-1)^{x_i}`` of every feature, then ``(-1)^{x_i + x_j}`` of every pair."""
    return np.hstack([signs, signs[:, pairs[:, 0]] * signs[:, pairs[:, 1]]])


class LassoPath:
    """The lasso path of one design on centred columns, one strength at a time (each warm-started from the
    last, as along a full path), with the same path relaxed: least squares on each lasso support.

    The relaxed fits undo the lasso's shrinkage of the terms it keeps, which matters on exact or nearly exact
    data; cross-validation chooses between the two per strength. Stepping one strength at a time lets the
    cross-validation stop descending once the out-of-fold error has stopped falling.
    """

    def __init__(self, z: np.ndarray, y: np.ndarray) -> None:
        self.mu, self.y_mean = z.mean(axis=0), float(y.mean())
        zc, self.yc = z - self.mu, y - self.y_mean
        self.alpha_max = max(float(np.abs(zc.T @ self.yc).max(initial=0.0)) / len(y), 1e-12)
        self.zc = np.asfortranarray(zc)  # validated here, so scikit-learn's per-call input checks are skipped
        # the Gram matrix: coordinate descent then costs O(columns) per coordinate that moves instead of O(rows)
        # per coordinate visited (most stay at zero), and the relaxed fits read their normal equations off it
        self.gram = self.xy = None
        if zc.shape[1] <= GRAM_MAX_COLUMNS:
            self.gram = self.zc.T @ self.zc
            self.xy = np.empty(zc.shape[1])
            np.dot(self.zc.T, self.yc, out=self.xy)  # as scikit-learn computes it (same bits)
        self.coef, self.relaxed = np.zeros(zc.shape[1]), np.zeros(zc.shape[1])
        self.support: np.ndarray | None = None

    def step(self, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Lasso and relaxed coefficients at strength ``scale`` x the smallest one that zeroes every term."""
        with config_context(skip_parameter_validation=True):  # the arguments are ours; validation ~0.3 ms a call
            _, coefs, _ = lasso_path(
                self.zc, self.yc, alphas=[self.alpha_max * scale], precompute=False if self.gram is None else self.gram,
                Xy=self.xy, coef_init=self.coef, max_iter=2000, tol=1e-4, check_input=False,
            )  # fmt: skip
        self.coef = coefs[:, 0]
        keep = np.flatnonzero(self.coef)
        if self.support is None or not np.array_equal(keep, self.support):  # neighbours often share a support
            self.relaxed = self.coef.copy()
            if 0 < len(keep) < len(self.yc) - 1:
                self.relaxed[:] = 0.0
                gram = None if self.gram is None else self.gram[np.ix_(keep, keep)]
                self.relaxed[keep] = _least_squares(self.zc[:, keep], self.yc, gram)
        self.support = keep
        return self.coef, self.relaxed

    def predict(self, z: np.ndarray, coefs: np.ndarray) -> np.ndarray:
        """Predictions ``(k, rows)`` of ``coefs`` ``(columns, k)`` on the uncentred design ``z``."""
        return (self.y_mean + (z - self.mu) @ coefs).T


def _least_squares(z: np.ndarray, y: np.ndarray, gram: np.ndarray | None) -> np.ndarray:
    """Least squares by a Cholesky factor of the normal equations (several times cheaper than the SVD of
    ``lstsq``), falling back to ``lstsq`` when the columns are (nearly) collinear."""
    gram = z.T @ z if gram is None else gram
    factor, info = dpotrf(gram, lower=1, clean=0)
    diag = np.abs(np.diag(factor))
    if info == 0 and diag.min(initial=np.inf) > COLLINEAR * diag.max(initial=0.0):
        return dpotrs(factor, z.T @ y, lower=1)[0]
    return np.linalg.lstsq(z, y, rcond=None)[0]


def fit_pair_lasso(
    signs: np.ndarray,
    y: np.ndarray,
    ranking: np.ndarray,
    folds: np.ndarray,
    rank_fit: Callable[[np.ndarray], np.ndarray],
    max_top: int = MAX_TOP,
) -> tuple[SparseTransform, np.ndarray]:
    """The fit on all rows and its out-of-fold predictions ``(m,)``.

    ``max_top = 0`` fits the singletons alone: the sparse additive model (most words of a text do not matter).

    ``signs`` ``(m, n)`` holds ``(-1)^{x_i}``; ``ranking`` are the singleton coefficients fitted on all rows, and
    ``rank_fit(rows)`` refits them on a training part. The lasso strength (relative to the smallest one that
    zeroes every term), plain or relaxed, is chosen by the out-of-fold error over ``folds``. The strengths are
    walked down from the largest on every fold at once and the walk stops once ``PATH_PATIENCE`` strengths in
    a row have not lowered the error: the weak strengths, where coordinate descent takes most of its
    iterations, are then never fitted (when the folds' paths fit in ``PATH_MAX_BYTES``; else each fold walks
    the whole grid in turn).
    """
    m, n = signs.shape
    n_folds = int(folds.max()) + 1
    oof = np.full((2 * len(LASSO_GRID), m), np.nan)

    def fold_path(f: int) -> tuple[LassoPath, np.ndarray, np.ndarray]:
        tr, val = folds != f, folds == f
        pairs = strongest_pairs(rank_fit(tr) if max_top else ranking, int(tr.sum()), max_top)  # no ranking: no pairs
        return LassoPath(_design(signs[tr], pairs), y[tr]), _design(signs[val], pairs), val

    def record(s: int, path: LassoPath, z_val: np.ndarray, val: np.ndarray) -> None:
        """Out-of-fold predictions of strength ``s``, plain (row ``s``) and relaxed (row ``len(grid) + s``)."""
        pred = path.predict(z_val, np.stack(path.step(float(LASSO_GRID[s])), axis=1))
        oof[s, val], oof[len(LASSO_GRID) + s, val] = pred

    p = n + len(strongest_pairs(ranking, m, max_top))
    if n_folds * (p * m + (p * p if p <= GRAM_MAX_COLUMNS else 0)) * 8 <= PATH_MAX_BYTES:
        paths = [fold_path(f) for f in range(n_folds)]
        best_s, best_err = 0, np.inf
        for s in range(len(LASSO_GRID)):
            for path in paths:
                record(s, *path)
            err = float(np.min(((oof[[s, len(LASSO_GRID) + s]] - y) ** 2).sum(axis=1)))
            if err < best_err:
                best_s, best_err = s, err
            elif s - best_s >= PATH_PATIENCE:
                break
        del paths
    else:
        for f in range(n_folds):
            path = fold_path(f)
            for s in range(len(LASSO_GRID)):
                record(s, *path)
    sse = np.where(np.isnan(oof).any(axis=1), np.inf, ((oof - y) ** 2).sum(axis=1))
    best = int(np.argmin(sse))
    strength, relaxed = best % len(LASSO_GRID), best >= len(LASSO_GRID)
    pairs = strongest_pairs(ranking, m, max_top)
    full = LassoPath(_design(signs, pairs), y)
    for s in range(strength + 1):
        beta_plain, beta_relaxed = full.step(float(LASSO_GRID[s]))
    beta = beta_relaxed if relaxed else beta_plain
    support = np.full((1 + n + len(pairs), 2), PAD, dtype=np.int64)
    support[1 : n + 1, 0] = np.arange(n)
    support[n + 1 :] = pairs
    fit = SparseTransform(support, np.concatenate([[full.y_mean - full.mu @ beta], beta]), n).drop_zeros(rtol=0.0)
    return fit, oof[best]


def stack_weights(y: np.ndarray, preds: np.ndarray) -> np.ndarray:
    """Weights ``w >= 0``, ``sum(w) = 1``, minimising ``‖y − wᵀ preds‖²`` for predictions ``preds`` ``(k, m)``.

    Exact: the optimum lies in the relative interior of one face of the simplex, so every face (subset of the
    models, a handful) is solved as an equality-constrained least-squares problem and the best feasible one kept.
    """
    k = len(preds)
    best_w, best_err = np.eye(k)[0], np.inf
    for mask in range(1, 1 << k):
        face = np.flatnonzero((mask >> np.arange(k)) & 1)
        last, rest = face[-1], face[:-1]
        w = np.zeros(k)
        if len(rest):  # substitute w_last = 1 - sum(w_rest)
            diff = (preds[rest] - preds[last]).T
            w[rest] = np.linalg.lstsq(diff, y - preds[last], rcond=None)[0]
        w[last] = 1.0 - w[rest].sum()
        if np.any(w < -1e-12):
            continue
        w = np.clip(w, 0.0, None)
        err = float(((y - w @ preds) ** 2).sum())
        if err < best_err * (1 - 1e-12):  # a tie keeps the face enumerated first
            best_w, best_err = w / w.sum(), err
    return best_w
