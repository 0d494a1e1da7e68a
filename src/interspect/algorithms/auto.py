"""``auto``: choose exact enumeration, ProxySPEX, SPEX or a ProxySPEX pilot handing over to SPEX.

The rule, from ``n``, the budget and what a cheap pilot sees:

* ``2^n <= budget`` (tiny ``n``): enumerate every mask, the answer is exact;
* the budget cannot pay a SPEX design with ``b = MIN_SPEX_BITS`` at the requested order after a pilot:
  ProxySPEX alone — with ``~n log n`` queries only a proxy can learn anything;
* otherwise a ProxySPEX **pilot** on ``pilot_fraction`` of the budget (less, down to ``MIN_PILOT_FRACTION``,
  where SPEX's design needs more of it; uniform masks): if the trees nearly
  explain the function (out-of-sample R² of the pilot ``>= min_pilot_r2``) the interactions are hierarchical
  and ProxySPEX continues on the whole budget, reusing the pilot's masks and support; if not —
  interactions without marginal effects (pure interactions, parities), which greedy trees miss, may be what
  is left — the rest of the budget goes to SPEX, whose aliasing-based decoding does not need hierarchy.
  The pilot masks, which SPEX never saw, then measure SPEX's held-out R²; should SPEX do worse than the pilot
  there, ProxySPEX is refit on every query made (the pilot's and SPEX's design masks) with SPEX's terms and
  the pilot's as prior candidates, and that hybrid is returned instead: no query is wasted.

Options are routed to the method that takes them (``paired`` to ProxySPEX, ``b`` to SPEX, ``tol`` to exact).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..contracts import Engine, Faithfulness, FitResult
from ..transforms.exact import MAX_EXACT_FEATURES
from .base import AUTO_SUBMETHODS, check_options, get_method, method_options
from .numerics import distinct_uniform_masks, r2_score, scale_invariant
from .proxyspex import DEFAULT_MAX_ORDER, MIN_FIT_QUERIES, default_budget, fit_from_queries, query_masks

PILOT_FRACTION = 0.3  # share of the budget the pilot spends: enough rows for the pilot's R² to be reliable
MIN_PILOT_R2 = 0.9  # the trees explain this much: the function is hierarchical, ProxySPEX goes on
MIN_SPEX_BITS = 4  # b = 3 (8 bins per group) proved too coarse to beat the proxy (BENCHMARKS.md, "auto")
#: where ``pilot_fraction`` would leave too little for SPEX's design, the pilot shrinks down to this share of
#: the budget (a pilot of ~430 masks at n = 256 still tells pure interactions, R² ~ 0, from hierarchy)
MIN_PILOT_FRACTION = 0.15


def pilot_size(
    n_features: int, budget: int, max_order: int | None = None, pilot_fraction: float = PILOT_FRACTION
) -> int:
    """Masks the pilot spends so that the rest pays SPEX's smallest design (``0``: no room for both)."""
    from .spex.planner import spex_query_count

    t = min(DEFAULT_MAX_ORDER if max_order is None else int(max_order), n_features)
    spex_min = spex_query_count(n_features, min(MIN_SPEX_BITS, n_features), t)
    size = min(int(pilot_fraction * budget), budget - spex_min)
    return max(MIN_FIT_QUERIES, size) if size >= min(pilot_fraction, MIN_PILOT_FRACTION) * budget else 0


def choose_method(
    n_features: int, budget: int, max_order: int | None = None, pilot_fraction: float = PILOT_FRACTION
) -> str:
    """What ``auto`` does before looking at the function: ``"exact"``, ``"proxyspex"`` or ``"pilot"``."""
    if n_features <= MAX_EXACT_FEATURES and (1 << n_features) <= budget:
        return "exact"
    return "pilot" if pilot_size(n_features, budget, max_order, pilot_fraction) else "proxyspex"


def _routed(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The options each method of ``AUTO_SUBMETHODS`` takes (an option may go to several)."""
    return {sub: {k: v for k, v in options.items() if k in method_options(get_method(sub))} for sub in AUTO_SUBMETHODS}


@scale_invariant
def fit_auto(
    engine: Engine,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    pilot_fraction: float = PILOT_FRACTION,
    min_pilot_r2: float = MIN_PILOT_R2,
    **options: Any,
) -> FitResult:
    """Pick and run the method that suits ``n``, the budget and the function (see the module docstring).

    ``options`` are routed to the exact method, ProxySPEX or SPEX, whichever takes them (a ValueError names
    the valid ones otherwise). ``info["auto"]`` records the choice (``exact``, ``proxyspex``, ``spex`` or
    ``hybrid``) and why; ``FitResult.method`` is the method that produced the transform.
    """
    check_options("auto", options)
    routed = _routed(options)
    rng = np.random.default_rng(random_state)
    n = int(engine.n_features)
    budget = default_budget(n) if budget is None else int(budget)
    if budget < 2:
        raise ValueError(f"auto needs a budget of at least 2 queries, got {budget}")
    if not 0.0 < pilot_fraction < 1.0:
        raise ValueError(f"pilot_fraction must lie in (0, 1), got {pilot_fraction}")
    choice = choose_method(n, budget, max_order, pilot_fraction)
    common = {"max_order": max_order, "random_state": rng, "n_jobs": n_jobs}

    if choice == "exact":
        result = get_method("exact")(engine, budget=budget, **common, **routed["exact"])
        result.info["auto"] = {"choice": "exact", "reason": f"2^{n} = {1 << n} masks fit the budget"}
        return result
    if choice == "proxyspex":
        result = get_method("proxyspex")(engine, budget=budget, **common, **routed["proxyspex"])
        reason = f"budget {budget:,} too small for a SPEX design (b = {MIN_SPEX_BITS}) after a pilot"
        result.info["auto"] = {"choice": "proxyspex", "reason": reason}
        return result

    proxy_options = {k: v for k, v in routed["proxyspex"].items() if k != "paired"}
    order = DEFAULT_MAX_ORDER if max_order is None else int(max_order)
    n_before = engine.n_queries
    answered_before = len(engine.answered()[1])
    pilot_masks = distinct_uniform_masks(pilot_size(n, budget, max_order, pilot_fraction), n, rng)
    pilot_values = engine(pilot_masks)
    pilot = fit_from_queries(pilot_masks, pilot_values, max_order=order, random_state=rng, n_jobs=n_jobs,
                             **proxy_options)  # fmt: skip
    measured = pilot.faithfulness.r2 if pilot.faithfulness is not None else None
    pilot_r2 = float(pilot.info.get("validation_r2", 0.0) if measured is None else measured)
    decision: dict[str, Any] = {"pilot_queries": len(pilot_values), "pilot_r2": pilot_r2}
    remaining = budget - (engine.n_queries - n_before)
    if pilot_r2 >= min_pilot_r2:
        known = (pilot_masks, pilot_values)
        x, y = query_masks(engine, remaining, rng, paired=routed["proxyspex"].get("paired", False), known=known)
        result = fit_from_queries(x, y, max_order=order, random_state=rng, n_jobs=n_jobs, prior=pilot.fourier,
                                  boost_from_prior=True, **proxy_options)  # fmt: skip
        result.info.update(budget=budget, n_fit_queries=len(y))
        reason = "the pilot's trees found hierarchical structure"
        result.info["auto"] = dict(decision, choice="proxyspex", reason=reason)
        return result

    spex = get_method("spex")(engine, budget=remaining, **common, **routed["spex"])
    spex_r2 = r2_score(pilot_values, spex.fourier.predict(pilot_masks))
    decision.update(spex_r2_on_pilot=spex_r2)
    if spex_r2 >= pilot_r2:
        reason = "no hierarchical structure in the pilot (e.g. pure interactions)"
        spex.info["auto"] = dict(decision, choice="spex", reason=reason)
        spex.faithfulness = Faithfulness(spex_r2, "heldout", len(pilot_values))  # SPEX never saw the pilot masks
        return spex
    # SPEX did worse than the pilot on masks it never saw: hybrid refit on every query made here (SPEX's
    # design masks included, and fresh masks for what SPEX's design left of the budget), with SPEX's terms
    # and the pilot's as prior candidates
    masks, values = engine.answered()
    known = (masks[answered_before:], values[answered_before:])
    masks, values = query_masks(engine, budget - (engine.n_queries - n_before), rng, known=known)
    prior = pilot.fourier + spex.fourier.with_coefs(np.zeros(len(spex.fourier)))
    result = fit_from_queries(masks, values, max_order=order, random_state=rng, n_jobs=n_jobs, prior=prior,
                              **proxy_options)  # fmt: skip
    decision.update(hybrid_queries=len(values))
    result.info["auto"] = dict(decision, choice="hybrid", reason="SPEX did worse than the pilot on the pilot's masks")
    return result
