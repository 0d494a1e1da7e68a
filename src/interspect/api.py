"""``explain``: the one pipeline from a value function (0/1 masks or q-ary inputs) to an explanation.

Steps, the same for every method: check the parameters, build the query engine, set held-out masks aside
from the budget, fit (growing the budget in rounds when none is given, see :mod:`.budget`), measure
faithfulness (exactly when every input was queried, else on the held-out masks, else the method's own
cross-validation), attach the refit's uncertainty, and warn when the result should not be trusted.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .algorithms.base import check_options, get_method, method_key
from .budget import grow_budget, plan_holdout, rows_in
from .contracts import Faithfulness, FitResult, ValueFunction
from .explanation import Explanation, QaryExplanation
from .explanation.base import faithfulness_warnings
from .params import Choice, Flag, Int, IntOr, Names, Real, Seed, validate
from .query.engine import QueryEngine
from .query.qary import QaryQueryEngine
from .uncertainty import coefficient_replicates

#: every parameter of :func:`explain` that is checked before any model call
EXPLAIN_RULES = {
    "n_features": Int(minimum=1, optional=True),
    "q": Int(minimum=2, maximum=256, optional=True),
    "budget": Int(minimum=1, optional=True),
    "max_order": Int(minimum=1, optional=True),
    "random_state": Seed(),
    "feature_names": Names(),
    "holdout": IntOr(Int(minimum=0), ("auto",)),
    "target_r2": Real(0.0, 1.0),
    "batch_size": Int(minimum=1, optional=True),
    "progress": Flag(optional=True),
    "backend": Choice(("local", "ray")),
    "n_jobs": Int(minimum=1, optional=True),
    "time_limit": Real(minimum=0.0, maximum=1e9, optional=True),
}
#: masks per model call when neither the caller nor the value function chooses
DEFAULT_BATCH_SIZE = 256
#: the most inputs enumerated to measure faithfulness exactly (all 2^n masks / q^n inputs answered)
MAX_EXACT_INPUTS = 1 << 20
#: coefficient intervals are computed when the answered masks fit in this many cells (64 MB of booleans)
MAX_ANSWERED_CELLS = 1 << 26


def explain(
    value_function: ValueFunction | QueryEngine,
    n_features: int | None = None,
    *,
    q: int | None = None,
    method: str = "auto",
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    feature_names: list[str] | None = None,
    holdout: int | str = "auto",
    target_r2: float = 0.9,
    batch_size: int | None = None,
    cache: str | Path | None = None,
    cache_key: str | None = None,
    progress: bool | None = None,
    metadata: dict[str, Any] | None = None,
    backend: str = "local",
    backend_options: dict[str, Any] | None = None,
    n_jobs: int | None = None,
    time_limit: float | None = None,
    **method_options_: Any,
) -> Explanation | QaryExplanation:
    """Explain ``value_function`` with a sparse Fourier surrogate; see README.md for a tour.

    Parameters
    ----------
    value_function : callable or QueryEngine
        Maps an ``(m, n)`` boolean mask matrix (``True`` keeps a feature) to ``m`` numbers; with ``q``, an
        ``(m, n)`` uint8 matrix of inputs in ``0 … q-1``.
    n_features : int, optional
        Number of features (default: ``value_function.n_features``).
    q : int, optional
        Each feature takes one of ``q`` values (q-ary inputs, fitted by q-SFT); ``None`` for 0/1 masks.
    method : str
        ``"auto"``, ``"spex"``, ``"proxyspex"``, ``"lasso"``, ``"faith_banzhaf"``, ``"kernelshap"``, ``"exact"``,
        ``"qsft"`` (binary q-SFT); q-ary inputs: ``"auto"`` or ``"qsft"``.
    budget : int, optional
        Most distinct model queries in all, held-out ones included. Without one, ``auto`` and ``proxyspex``
        grow the budget in rounds until held-out R² reaches ``target_r2`` or stops improving; other methods
        use their design's size.
    max_order : int, optional
        Largest interaction order sought (default: the method's, 4 for the sparse methods, every order for
        ``exact``).
    holdout : int or "auto"
        Masks set aside, never fitted, on which R² is measured. ``"auto"``: a tenth of the budget (at most 500),
        none when the method cross-validates (ProxySPEX below 1,000 queries) or sees every mask.
    target_r2 : float
        Held-out R² at which a growing budget stops.
    batch_size : int, optional
        Masks per model call, each batch written to ``cache`` as it returns (default: the value function's
        ``batch_size`` if it has one, else 256).
    cache, cache_key, progress
        Passed to the query engine (``cache`` is an SQLite file; an interrupted run resumes from it).
    backend, backend_options
        ``"ray"`` evaluates batches on a Ray cluster (``pip install interspect[ray]``).
    n_jobs : int, optional
        Threads for BLAS and LightGBM (default: the libraries' own defaults).
    time_limit : float, optional
        Seconds after which the next model call stops the run with a ``QueryError`` (answers so far stay in
        ``cache``).
    method_options
        Options of the method (its ``fit_*`` keyword arguments); unknown names raise ``ValueError``.
    """
    p = validate(EXPLAIN_RULES, locals())
    key = method_key(method)
    engine = _engine(value_function, p, cache, cache_key, backend_options)
    qary = isinstance(engine, QaryQueryEngine)
    fit_function = get_method(key, qary)
    check_options(key, method_options_, qary)

    n = engine.n_features
    names = p["feature_names"] if p["feature_names"] is not None else getattr(value_function, "feature_names", None)
    if names is not None and len(names) != n:
        raise ValueError(f"feature_names has {len(names)} names for n_features={n}")
    n_inputs = engine.q**n if qary else 1 << n  # type: ignore[attr-defined]
    plan = plan_holdout(p["holdout"], p["budget"], key, n_inputs, qary)
    seed = int(np.random.default_rng(p["random_state"]).integers(1 << 63))
    common = {"max_order": p["max_order"], "n_jobs": p["n_jobs"]}

    start, model_before, queries_before = time.perf_counter(), engine.model_time, engine.n_queries

    def fit(fit_budget: int | None) -> FitResult:
        rng = np.random.default_rng(seed)  # the same stream every round: a grown budget repeats earlier masks
        return fit_function(engine, budget=fit_budget, random_state=rng, **common, **method_options_)

    heldout_rng = np.random.default_rng([seed, 1])
    growth: dict[str, Any] | None = None
    with _thread_limit(p["n_jobs"]):
        if plan.grow:
            result, growth, heldout = grow_budget(fit, engine, plan, p["target_r2"], heldout_rng, _heldout_r2)
        else:
            result = fit(plan.fit_budget)
            heldout = None
        n_fit = engine.n_queries - queries_before - (0 if heldout is None else len(heldout[1]))
        replicates = None
        if not qary and engine.n_queries * n <= MAX_ANSWERED_CELLS:
            fit_masks, fit_values = _fitted_queries(engine, heldout)
            interval_rng = np.random.default_rng([seed, 2])  # its own stream: held-out masks never depend on it
            replicates = coefficient_replicates(result.fourier, fit_masks, fit_values, interval_rng)
        if heldout is None and plan.wants_heldout(result, engine.n_queries):
            heldout = plan.buy(engine, plan.heldout_size(n_fit), heldout_rng)
        faithfulness = _faithfulness(result, engine, heldout, n_inputs)
    model_seconds = engine.model_time - model_before
    n_heldout = 0 if heldout is None else len(heldout[1])
    total_seconds = time.perf_counter() - start

    info = dict(result.info)
    if growth is not None:
        info["budget_growth"] = growth
    info["n_evaluated"] = engine.n_evaluated
    record: dict[str, Any] = {
        "feature_names": names,
        "method": result.method or key,
        "n_fit_queries": n_fit,
        "n_heldout_queries": n_heldout,
        "faithfulness": faithfulness,
        "timing": {"algorithm_s": total_seconds - model_seconds, "model_s": model_seconds, "total_s": total_seconds},
        "info": info,
        "metadata": _metadata(value_function, metadata),
        "warnings": faithfulness_warnings(faithfulness, n_fit + n_heldout) + list(info.get("warnings", [])),
    }
    for message in record["warnings"]:
        warnings.warn(message, UserWarning, stacklevel=2)
    if qary:
        return QaryExplanation(result.transform, **record)  # type: ignore[arg-type]
    return Explanation(result.fourier, replicates=replicates, **record)


def explain_qary(
    value_function: ValueFunction | QaryQueryEngine,
    n_features: int | None = None,
    q: int | None = None,
    **kwargs: Any,
) -> QaryExplanation:
    """:func:`explain` for q-ary inputs (``q`` from the argument or ``value_function.q``), by q-SFT."""
    q = q if q is not None else getattr(value_function, "q", None)  # a q-ary engine or function may say
    if q is None:
        raise ValueError("q is required: the number of values each feature takes")
    kwargs.setdefault("method", "qsft")
    result = explain(value_function, n_features, q=q, **kwargs)
    assert isinstance(result, QaryExplanation)
    return result


# ---------------------------------------------------------------------------------------------- steps
def _engine(
    value_function: Any, p: dict[str, Any], cache: Any, cache_key: str | None, backend_options: dict[str, Any] | None
) -> QueryEngine:
    """The query engine: the caller's own, or a new binary / q-ary one around the value function."""
    q = p["q"]
    if isinstance(value_function, QueryEngine):
        if p["backend"] != "local":
            raise ValueError(f"backend={p['backend']!r} needs a value function, not a QueryEngine")
        if p["n_features"] is not None and p["n_features"] != value_function.n_features:
            raise ValueError(f"n_features={p['n_features']} does not match the engine's {value_function.n_features}")
        engine_q = value_function.q if isinstance(value_function, QaryQueryEngine) else None
        if q is not None and q != engine_q:
            raise ValueError(f"q={q} does not match the engine's q={engine_q}")
        return value_function
    if not callable(value_function):
        raise TypeError(f"value_function must be callable (masks -> values), got {type(value_function).__name__}")
    n = p["n_features"] if p["n_features"] is not None else getattr(value_function, "n_features", None)
    if n is None:
        raise ValueError("n_features is required (the value function has no n_features attribute)")
    n = Int(minimum=1)("n_features", n)
    if p["backend"] == "ray":
        from .query.ray_backend import distribute

        value_function = distribute(value_function, **(backend_options or {}))
    batch_size = p["batch_size"] or getattr(value_function, "batch_size", None) or DEFAULT_BATCH_SIZE
    options = {
        "batch_size": batch_size,
        "cache": cache,
        "cache_key": cache_key,
        "progress": p["progress"],
        "time_limit": p["time_limit"],
    }
    if q is not None:
        return QaryQueryEngine(value_function, n, q, **options)
    return QueryEngine(value_function, n, **options)


def _predictor(result: FitResult):
    """Real surrogate values on inputs (binary masks or q-ary digits)."""
    from .transforms.sparse import SparseTransform

    transform = result.transform
    if isinstance(transform, SparseTransform):
        return transform.predict
    return lambda x: transform.predict(x, real=True)


def _heldout_r2(result: FitResult, inputs: np.ndarray, values: np.ndarray) -> float:
    from .algorithms.numerics import r2_score

    return r2_score(values, _predictor(result)(inputs))


def _fitted_queries(engine: QueryEngine, heldout: tuple[np.ndarray, np.ndarray] | None):
    """Every answered input that is not held out, with its value (what the fit could use)."""
    masks, values = engine.answered()
    if heldout is None or len(masks) == 0:
        return masks, values
    fitted = ~rows_in(masks, heldout[0])
    return masks[fitted], values[fitted]


def _faithfulness(
    result: FitResult, engine: QueryEngine, heldout: tuple[np.ndarray, np.ndarray] | None, n_inputs: int
) -> Faithfulness:
    """Exact when every input was answered, else held-out, else the method's own (cross-validated) figure."""
    from .algorithms.numerics import r2_score

    predict = _predictor(result)
    if n_inputs <= MAX_EXACT_INPUTS and engine.n_queries >= n_inputs:
        masks, values = engine.answered()
        return Faithfulness(r2_score(values, predict(masks)), "exact", len(values))
    if heldout is not None and len(heldout[1]) >= 2:
        return Faithfulness(r2_score(heldout[1], predict(heldout[0])), "heldout", len(heldout[1]))
    return result.faithfulness or Faithfulness()


def _metadata(value_function: Any, metadata: dict[str, Any] | None) -> dict[str, Any]:
    if metadata is not None:
        return dict(metadata)
    describe = getattr(value_function, "describe", None)
    return dict(describe()) if callable(describe) else {}


class _thread_limit:
    """``threadpoolctl`` limits for BLAS while fitting, only when the user asked for ``n_jobs``."""

    def __init__(self, n_jobs: int | None) -> None:
        self.n_jobs, self._limits = n_jobs, None

    def __enter__(self) -> None:
        if self.n_jobs is not None:
            from threadpoolctl import threadpool_limits

            self._limits = threadpool_limits(limits=self.n_jobs, user_api="blas")

    def __exit__(self, *exc: object) -> None:
        if self._limits is not None:
            self._limits.unregister()
