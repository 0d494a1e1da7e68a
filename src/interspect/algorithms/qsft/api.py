"""``explain_qary``: from a value function of q-ary inputs to a :class:`QaryExplanation`."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ...query.qary import QaryQueryEngine, QaryValueFunction
from ...transforms.qary import check_q
from .explanation import QaryExplanation
from .qsft import fit_qsft


def heldout_r2(predicted: np.ndarray, values: np.ndarray) -> float | None:
    """``1 - Σ(f - f̂)² / Σ(f - mean f)²`` (None for fewer than two points or constant values)."""
    values = np.asarray(values, dtype=np.float64)
    denom = float(np.sum((values - values.mean()) ** 2)) if len(values) > 1 else 0.0
    if denom <= 0:
        return None
    return 1.0 - float(np.sum((values - predicted) ** 2)) / denom


def explain_qary(
    value_function: QaryValueFunction | QaryQueryEngine,
    n_features: int | None = None,
    q: int | None = None,
    *,
    budget: int | None = None,
    random_state: int | np.random.Generator | None = None,
    noise_robust: bool = False,
    holdout: int = 0,
    batch_size: int = 256,
    feature_names: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    **options: Any,
) -> QaryExplanation:
    """Explain a function of ``n_features`` features that each take one of ``q`` values, with q-SFT.

    Parameters
    ----------
    value_function : callable or QaryQueryEngine
        Maps an ``(m, n)`` integer matrix with entries in ``0 … q-1`` to ``m`` real numbers. The matrix is
        ``uint8`` (compact, indexes tables directly); convert before arithmetic that can leave ``0 … 255``.
    budget : int, optional
        Most distinct model queries for the fit (see :func:`~.design.plan_qsft`; by default the design is
        sized for about 100 non-zero coefficients, or ``sparsity=`` if given).
    noise_robust : bool
        Robust delay design (random offsets, repeated delays) for noisy or not exactly sparse functions.
    holdout : int
        Extra uniformly random inputs, never used for fitting, on which R² is measured (extra queries,
        reported in ``info["holdout_queries"]``, not in ``n_queries``).
    options
        Passed to :func:`~.qsft.fit_qsft`: ``sparsity``, ``n_groups``, ``n_repeats``, ``max_order``,
        ``max_iter``, ``alpha``.
    """
    if isinstance(value_function, QaryQueryEngine):
        engine = value_function
    else:
        if n_features is None:
            n_features = getattr(value_function, "n_features", None)
        if q is None:
            q = getattr(value_function, "q", None)
        if n_features is None or q is None:
            raise ValueError("n_features and q are required")
        engine = QaryQueryEngine(value_function, n_features, check_q(q), batch_size=batch_size)
    if q is not None and check_q(q) != engine.q:
        raise ValueError(f"q={q} does not match the engine's q={engine.q}")
    if budget is not None and int(budget) < 1:
        raise ValueError(f"budget must be a positive number of queries, got {budget}")
    if int(holdout) < 0:
        raise ValueError("holdout must be non-negative")
    fit_rng, holdout_rng = np.random.default_rng(random_state).spawn(2)

    start, model_before, queries_before = time.perf_counter(), engine.model_time, engine.n_queries
    result = fit_qsft(engine, budget=budget, random_state=fit_rng, noise_robust=noise_robust, **options)
    fit_seconds = time.perf_counter() - start
    fit_model_seconds = engine.model_time - model_before
    n_queries = engine.n_queries - queries_before

    faithfulness: dict[str, Any] = {"r2": None, "kind": None, "n_masks": 0}
    extra = 0
    if holdout:
        inputs = holdout_rng.integers(0, engine.q, size=(int(holdout), engine.n_features))
        inputs = np.unique(inputs[~engine.seen(inputs)], axis=0)
        before = engine.n_queries
        values = engine(inputs)
        extra = engine.n_queries - before
        r2 = heldout_r2(result.transform.predict(inputs, real=True), values)
        faithfulness = {"r2": r2, "kind": "heldout" if r2 is not None else None, "n_masks": len(inputs)}
    total = time.perf_counter() - start
    timing = {
        "algorithm_s": fit_seconds - fit_model_seconds,
        "model_s": engine.model_time - model_before,
        "total_s": total,
    }
    info = dict(result.info, holdout_queries=extra)
    return QaryExplanation(
        result.transform,
        feature_names=feature_names,
        n_queries=n_queries,
        faithfulness=faithfulness,
        timing=timing,
        info=info,
        metadata=metadata,
    )
