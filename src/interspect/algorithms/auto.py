"""``auto``: choose exact enumeration, ProxySPEX, SPEX or a ProxySPEX pilot handing over to SPEX.

The rule, from ``n``, the budget and what a cheap pilot sees:

* ``2^n <= budget`` (tiny ``n``): enumerate every mask, the answer is exact;
* the budget cannot pay a SPEX design with ``b = 4`` (16 bins per group) at the requested order after a
  pilot: ProxySPEX alone — with ``~n log n`` queries only a proxy can learn anything;
* otherwise a ProxySPEX **pilot** on ``pilot_fraction`` of the budget (uniform masks): if the trees nearly
  explain the function (cross-validated R² of the pilot ``>= min_pilot_r2``, default 0.9) the interactions
  are hierarchical and ProxySPEX continues on the whole budget, reusing the pilot's masks and support; if not
  — interactions without marginal effects (pure interactions, parities), which greedy trees miss, may be
  what is left — the rest of the budget goes to SPEX, whose aliasing-based decoding does not need hierarchy.
  The pilot masks, which SPEX never saw, then measure SPEX's held-out R²; should SPEX do worse than the pilot
  there (a dense function, or a hierarchical one SPEX's bins cannot resolve), ProxySPEX is refit on every
  query made (the pilot's, SPEX's design and held-out masks) with SPEX's terms and the pilot's as prior
  candidates, and that hybrid is returned instead: no query is wasted whichever way the test goes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import FitResult, get_method
from .proxyspex import MIN_FIT_QUERIES, default_budget, distinct_uniform_masks, fit_from_queries, fit_proxyspex

PILOT_FRACTION = 0.3
MIN_PILOT_R2 = 0.9
MIN_SPEX_BITS = 4  # b = 3 (8 bins per group) proved too coarse to beat the proxy in the benchmark
MAX_EXACT_FEATURES = 20


def _r2(fourier, masks: np.ndarray, values: np.ndarray) -> float:
    total = float(((values - values.mean()) ** 2).sum())
    return 1.0 - float(((fourier.predict(masks) - values) ** 2).sum()) / total if total > 0 else 0.0


def choose_method(n_features: int, budget: int, max_order: int, pilot_fraction: float = PILOT_FRACTION) -> str:
    """What ``auto`` does before looking at the function: ``"exact"``, ``"proxyspex"`` or ``"pilot"``."""
    from .spex.planner import spex_query_count

    if n_features <= MAX_EXACT_FEATURES and (1 << n_features) <= budget:
        return "exact"
    t = min(int(max_order), n_features)
    spex_min = spex_query_count(n_features, min(MIN_SPEX_BITS, n_features), t)
    if (1.0 - pilot_fraction) * budget < spex_min:
        return "proxyspex"
    return "pilot"


def fit_auto(
    engine,
    *,
    budget: int | None,
    max_order: int = 4,
    random_state: int | np.random.Generator | None = None,
    pilot_fraction: float = PILOT_FRACTION,
    min_pilot_r2: float = MIN_PILOT_R2,
    **options: Any,
) -> FitResult:
    """Pick and run the method that suits ``n``, the budget and the function (see the module docstring).

    ``options`` go to ProxySPEX (e.g. ``paired``, ``holdout_fraction``). ``info["method"]`` is ``"auto"`` and
    ``info["auto"]`` records the choice (``exact``, ``proxyspex``, ``spex`` or ``hybrid``) and why.
    """
    rng = np.random.default_rng(random_state)
    n = int(engine.n_features)
    budget = default_budget(n) if budget is None else int(budget)
    if budget < 2:
        raise ValueError(f"auto needs a budget of at least 2 queries, got {budget}")
    if not 0.0 < pilot_fraction < 1.0:
        raise ValueError("pilot_fraction must lie in (0, 1)")
    choice = choose_method(n, budget, max_order, pilot_fraction)

    if choice == "exact":
        result = get_method("exact")(engine, budget=budget, max_order=max_order, random_state=rng)
        result.info.update(method="auto", auto={"choice": "exact", "reason": f"2^{n} = {1 << n} masks fit the budget"})
        return result
    if choice == "proxyspex":
        result = fit_proxyspex(engine, budget=budget, max_order=max_order, random_state=rng, **options)
        reason = "budget too small for a SPEX design after a pilot"
        result.info.update(method="auto", auto={"choice": "proxyspex", "reason": reason})
        return result

    pilot_masks = distinct_uniform_masks(max(MIN_FIT_QUERIES, int(pilot_fraction * budget)), n, rng)
    pilot_values = engine(pilot_masks)
    pilot_fourier, pilot_info = fit_from_queries(pilot_masks, pilot_values, max_order=max_order, random_state=rng)
    pilot_r2 = float(pilot_info.get("cv_r2", 0.0))
    remaining = budget - len(pilot_values)
    decision: dict[str, Any] = {"pilot_queries": len(pilot_values), "pilot_cv_r2": pilot_r2}
    if pilot_r2 >= min_pilot_r2:
        result = fit_proxyspex(
            engine,
            budget=remaining,
            max_order=max_order,
            random_state=rng,
            masks=pilot_masks,
            prior=pilot_fourier,
            **options,
        )
        reason = "the pilot's trees found hierarchical structure"
        result.info.update(method="auto", auto=dict(decision, choice="proxyspex", reason=reason))
        return result

    spex = get_method("spex")(engine, budget=remaining, max_order=max_order, random_state=rng)
    spex_r2 = _r2(spex.fourier, pilot_masks, pilot_values)
    decision.update(spex_r2_on_pilot=spex_r2)
    if spex_r2 >= pilot_r2:
        masks = [pilot_masks] + ([spex.holdout[0]] if spex.holdout is not None else [])
        values = [pilot_values] + ([spex.holdout[1]] if spex.holdout is not None else [])
        spex.holdout = (np.vstack(masks), np.concatenate(values))
        reason = "no hierarchical structure in the pilot (e.g. pure interactions)"
        spex.info.update(method="auto", auto=dict(decision, choice="spex", reason=reason))
        return spex
    # SPEX did worse than the pilot on masks it never saw: hybrid refit on every query made (SPEX's design masks
    # included), with SPEX's terms and the pilot's as prior candidates
    masks, values = engine.answered()
    prior = pilot_fourier + spex.fourier.with_coefs(np.zeros(len(spex.fourier)))
    fourier, info = fit_from_queries(masks, values, max_order=max_order, random_state=rng, prior=prior)
    reason = "SPEX did worse than the pilot on the pilot's masks"
    decision.update(hybrid_queries=len(values))
    info = dict(info, method="auto", auto=dict(decision, choice="hybrid", reason=reason))
    return FitResult(fourier, info, None)
