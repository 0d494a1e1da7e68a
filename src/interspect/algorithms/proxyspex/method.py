"""The ProxySPEX method: sample, fit the proxy, select and refit (the package docstring has the algorithm)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...contracts import Engine, Faithfulness, FitResult
from ...transforms.exact import MAX_EXACT_FEATURES
from ...transforms.sparse import SparseTransform
from ..exact import transform_of_every_mask
from ..numerics import blas_threads, check_n_jobs, scale_invariant
from .packed import PackedMasks, as_packed
from .sampling import default_budget, query_packed_masks
from .selection import run_pipeline
from .small_budget import MIN_FIT_QUERIES, fit_small_budget, uses_stack

DEFAULT_MAX_ORDER = 4  # the ProxySPEX paper's tree depth: interactions up to order 4
#: the trees, and the terms selected from them, explain less than this share of the variance out of sample:
#: no hierarchical structure was found (pure interactions?), reported as ``info["no_hierarchy"]``
NO_HIERARCHY_R2 = 0.1
#: BLAS threads of the fit when ``n_jobs`` is None, and of the small-budget stack always: its matrices are small
#: (rows x candidate terms), where extra OpenBLAS threads only spin; on a loaded 2-core machine the default threads
#: made a 207-query fit 28x slower
FIT_BLAS_THREADS = 1


def fit_from_queries(
    x: np.ndarray | PackedMasks,
    y: np.ndarray,
    *,
    max_order: int = DEFAULT_MAX_ORDER,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    max_candidates: int = 500,
    expand_rounds: int = 2,
    max_pool: int = 2000,
    prior: SparseTransform | None = None,
    boost_from_prior: bool = False,
) -> FitResult:
    """ProxySPEX on masks ``x`` ``(m, n)`` (bool, or packed) already queried with values ``y`` (everything after
    sampling).

    ``prior`` (a Fourier transform, e.g. from a pilot run) contributes its supports as top-ranked candidates; with
    ``boost_from_prior`` (for a prior already validated on held-out masks) the trees also fit its residual.
    Where the small-budget stack runs (:func:`~.small_budget.uses_stack`) the faithfulness is its cross-validated R².
    """
    rng = np.random.default_rng(random_state)
    x, y = as_packed(x), np.asarray(y, dtype=np.float64)
    n = x.n_features
    table = _every_mask(x, y)
    if table is not None:  # nothing left to learn: the exact transform (truncated to max_order)
        result = transform_of_every_mask(table, max_order=min(int(max_order), n))
        result.info["selection"] = "every mask"
        result.method = "proxyspex"
        return result
    if len(y) < MIN_FIT_QUERIES:
        message = f"only {len(y)} queries: too few to learn interactions (need {MIN_FIT_QUERIES}); returning the mean"
        fourier = SparseTransform([()], [float(np.mean(y)) if len(y) else 0.0], n)
        return FitResult(fourier, {"message": message}, None, "proxyspex")
    options: dict[str, Any] = {
        "max_order": min(int(max_order), n),
        "n_jobs": check_n_jobs(n_jobs),
        "max_candidates": max_candidates,
        "expand_rounds": expand_rounds,
        "max_pool": max_pool,
        "prior": prior,
        "boost_from_prior": boost_from_prior,
    }
    faithfulness = None
    stacked = uses_stack(len(y), n)
    # the stack's worker threads are its parallelism: one BLAS thread whatever n_jobs (OpenBLAS threads woken by
    # its serial parts spin on beside the workers, taking their cores: n_jobs = 2 cost 1.5x the CPU)
    with blas_threads(FIT_BLAS_THREADS if n_jobs is None or stacked else n_jobs):
        if stacked:
            fourier, info, cv_r2 = fit_small_budget(x, y, rng, **options)
            faithfulness = Faithfulness(cv_r2, "cross-validated", len(y))
        else:
            fourier, info = run_pipeline(x, y, rng, blend_proxy=True, **options)
            info["selection"] = "pipeline" if info["proxy_weight"] == 0 else "pipeline+trees"
    info["no_hierarchy"] = bool(info["proxy_r2"] < NO_HIERARCHY_R2 and info["validation_r2"] < NO_HIERARCHY_R2)
    if len(y) < n:
        info["message"] = (
            f"{len(y)} queries for {n} features: only the strongest effects can be identified;"
            f" about {default_budget(n):,} queries (n log2 n) are recommended"
        )
    return FitResult(fourier, info, faithfulness, "proxyspex")


def _every_mask(x: PackedMasks, y: np.ndarray) -> np.ndarray | None:
    """``f`` on every mask in bitmask order when the queries hold all ``2^n`` masks, else None."""
    n = x.n_features
    if n > MAX_EXACT_FEATURES or len(y) < (1 << n):
        return None
    codes = x.rows().astype(np.int64) @ (1 << np.arange(n, dtype=np.int64))
    table = np.full(1 << n, np.nan)
    table[codes] = y
    return None if np.isnan(table).any() else table


@scale_invariant
def fit_proxyspex(
    engine: Engine,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    paired: bool = False,
    max_candidates: int = 500,
    expand_rounds: int = 2,
    max_pool: int = 2000,
) -> FitResult:
    """ProxySPEX on the value function behind ``engine`` (see :mod:`interspect.algorithms.proxyspex`).

    Parameters
    ----------
    budget : int, optional
        Distinct model queries to spend, every one of them fitted (default ``n log2 n``, at least 64).
    max_order : int, optional
        Depth of the trees and largest interaction order kept (default 4).
    n_jobs : int, optional
        Threads: the small-budget stack's worker threads, one LightGBM and BLAS thread each (``None``: every
        CPU); above it LightGBM's and BLAS's threads (``None``: the libraries' defaults).
    paired : bool
        Query each random mask together with its complement (antithetic sampling).
    max_candidates : int
        Most candidate terms considered by the validated selection (also capped at 3/4 of the masks).
    expand_rounds : int
        Rounds of hierarchy-aware expansion after the first selection: unions of selected terms and the
        remaining candidates are ranked by their correlation with the residual and appended; a round is
        kept only if it raises the validation R².
    max_pool : int
        Most terms scored per expansion round.
    """
    rng = np.random.default_rng(random_state)
    n = int(engine.n_features)
    max_order = DEFAULT_MAX_ORDER if max_order is None else int(max_order)
    if max_order < 1:
        raise ValueError(f"max_order must be at least 1, got {max_order}")
    budget = default_budget(n) if budget is None else int(budget)
    if budget < 2:
        raise ValueError(f"ProxySPEX needs a budget of at least 2 queries, got {budget}")
    x, y = query_packed_masks(engine, budget, rng, paired=paired)
    result = fit_from_queries(
        x, y, max_order=max_order, random_state=rng, n_jobs=n_jobs, max_candidates=max_candidates,
        expand_rounds=expand_rounds, max_pool=max_pool,
    )  # fmt: skip
    result.info = {"budget": budget, "n_fit_queries": len(y), **result.info}
    return result
