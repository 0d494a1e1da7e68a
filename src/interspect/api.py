"""``explain``: one entry point from a value function to an :class:`Explanation`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .algorithms.base import get_method, uniform_masks
from .explanation import Explanation
from .query.engine import QueryEngine, ValueFunction


def _heldout_r2(fourier, masks: np.ndarray, values: np.ndarray) -> float | None:
    from .evaluation.faithfulness import r2_heldout

    return r2_heldout(fourier, masks, values) if len(values) > 1 else None


def explain(
    value_function: ValueFunction | QueryEngine,
    n_features: int | None = None,
    *,
    method: str = "auto",
    budget: int | None = None,
    max_order: int = 4,
    random_state: int | np.random.Generator | None = None,
    feature_names: list[str] | None = None,
    holdout: int = 0,
    batch_size: int = 256,
    cache: str | Path | None = None,
    cache_key: str | None = None,
    progress: bool | None = None,
    metadata: dict[str, Any] | None = None,
    **method_options: Any,
) -> Explanation:
    """Explain ``value_function`` on ``n_features`` features with a sparse Fourier surrogate.

    Parameters
    ----------
    value_function : callable or QueryEngine
        Maps an ``(m, n)`` boolean mask matrix (``True`` keeps a feature) to ``m`` numbers.
    method : str
        ``"auto"``, ``"spex"``, ``"proxyspex"``, ``"lasso"``, ``"faith_banzhaf"``, ``"kernelshap"`` or ``"exact"``.
    budget : int, optional
        Most distinct model queries the method may spend (each method has a default).
    max_order : int
        Largest interaction order sought.
    holdout : int
        Extra uniformly random masks, never used for fitting, on which R² is measured (they are extra
        model queries, reported in ``info["holdout_queries"]``).
    cache, cache_key, batch_size, progress
        Passed to the :class:`~interspect.query.engine.QueryEngine`.
    method_options
        Passed to the method (see its ``fit_*`` function).
    """
    if isinstance(value_function, QueryEngine):
        engine = value_function
    else:
        if n_features is None:
            n_features = getattr(value_function, "n_features", None)
        if n_features is None:
            raise ValueError("n_features is required")
        engine = QueryEngine(
            value_function, n_features, batch_size=batch_size, cache=cache, cache_key=cache_key, progress=progress
        )
    if int(max_order) < 1:
        raise ValueError(f"max_order must be at least 1, got {max_order}")
    if budget is not None and int(budget) < 1:
        raise ValueError(f"budget must be a positive number of queries, got {budget}")
    if int(holdout) < 0:
        raise ValueError("holdout must be non-negative")
    fit = get_method(method)
    method_rng, holdout_rng = np.random.default_rng(random_state).spawn(2)

    start, model_before, queries_before = time.perf_counter(), engine.model_time, engine.n_queries
    result = fit(engine, budget=budget, max_order=int(max_order), random_state=method_rng, **method_options)
    fit_seconds = time.perf_counter() - start
    fit_model_seconds = engine.model_time - model_before
    n_queries = engine.n_queries - queries_before

    masks, values = [], []
    if result.holdout is not None:
        masks.append(np.asarray(result.holdout[0], dtype=bool))
        values.append(np.asarray(result.holdout[1], dtype=np.float64))
    extra = 0
    if holdout:
        candidates = uniform_masks(int(holdout), engine.n_features, holdout_rng)
        fresh = candidates[~engine.seen(candidates)]
        extra_before = engine.n_queries
        masks.append(fresh)
        values.append(engine(fresh))
        extra = engine.n_queries - extra_before
    faithfulness: dict[str, Any] = {"r2": None, "kind": None, "n_masks": 0}
    if "r2_exact" in result.info:
        faithfulness = {"r2": float(result.info["r2_exact"]), "kind": "exact", "n_masks": 1 << engine.n_features}
    elif masks:
        all_masks, all_values = np.vstack(masks), np.concatenate(values)
        faithfulness = {
            "r2": _heldout_r2(result.fourier, all_masks, all_values),
            "kind": "heldout",
            "n_masks": len(all_values),
        }
    elif result.info.get("cv_r2") is not None:  # small budgets: every query fitted, each predicted out of fold
        faithfulness = {"r2": float(result.info["cv_r2"]), "kind": "cross-validated", "n_masks": n_queries}
    info = dict(result.info)
    info["holdout_queries"] = extra
    info["n_evaluated"] = engine.n_evaluated
    if metadata is None:
        describe = getattr(value_function, "describe", None)
        metadata = describe() if callable(describe) else {}
    timing = {
        "algorithm_s": fit_seconds - fit_model_seconds,
        "model_s": engine.model_time - model_before,
        "total_s": time.perf_counter() - start,
    }
    if feature_names is None:
        feature_names = getattr(value_function, "feature_names", None)
    return Explanation(
        result.fourier,
        feature_names=feature_names,
        method=str(info.pop("method", method)),
        n_queries=n_queries,
        faithfulness=faithfulness,
        timing=timing,
        info=info,
        metadata=metadata,
    )
