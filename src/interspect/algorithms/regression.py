"""Regression baselines: a first-order LIME-like surrogate, Faith-Banzhaf regression and (in
:mod:`.kernelshap`) KernelSHAP, with the helpers they share.

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
from ..transforms.exact import MAX_EXACT_FEATURES
from ..transforms.sparse import PAD, SparseTransform, pad_columns
from .numerics import (
    distinct_uniform_masks,
    parity_design,
    ridge_from_gram,
    scale_invariant,
)

MAX_FAITH_BANZHAF_TERMS = 10_000  # the Gram matrix is terms x terms
DEFAULT_FAITH_BANZHAF_ORDER = 2  # pairwise interactions: the usual Faith-Banzhaf target
CHUNK_ELEMENTS = 1 << 22  # mask rows x columns handled per vectorised chunk

#: ridge strengths (shared scale, ``alpha * m``) that RidgeCV chooses from for ``lasso(penalty="ridge")``:
#: 28 log-spaced values spanning the well-conditioned to the nearly-constant fit
RIDGE_GRID = np.logspace(-9, 0, 28)


# ---------------------------------------------------------------------------------------------- helpers
def check_budget(budget: int | None, default: int, minimum: int, method: str) -> int:
    if budget is None:
        return default
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer):
        raise TypeError(f"budget must be an integer number of queries, got {budget!r}")
    if budget < minimum:
        raise ValueError(f"{method} needs a budget of at least {minimum} queries, got {budget}")
    return int(budget)


def covers_every_mask(budget: int, n: int) -> bool:
    """Whether the budget pays for all ``2^n`` masks (and they can be enumerated)."""
    return n <= MAX_EXACT_FEATURES and budget >= (1 << n)


def first_order_transform(intercept: float, linear: np.ndarray) -> SparseTransform:
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
    step = max(1, CHUNK_ELEMENTS // max(1, p * max(1, idx.shape[1])))
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
    budget = check_budget(budget, default_lasso_budget(n), 4, "lasso")
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
    fourier = first_order_transform(float(model.intercept_), np.asarray(model.coef_, dtype=np.float64))
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
    budget = check_budget(budget, default, 1, "faith_banzhaf")
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
    if not covers_every_mask(len(values), n) and alpha == 0 and len(values) < 2 * p:
        info["message"] = (
            f"{len(values):,} fitted queries for {p:,} terms: least squares this close to interpolation is unstable;"
            f" use a budget of about {2 * p:,} or a ridge penalty (alpha > 0)"
        )
    return FitResult(fourier.drop_zeros(), info, None, "faith_banzhaf")
