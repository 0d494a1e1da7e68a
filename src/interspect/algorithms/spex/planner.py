"""SPEX budget arithmetic: the closed-form query count and the choice of ``(b, t, C)`` for a budget.

A SPEX design with ``C`` groups, ``2^b`` bins and a BCH code with ``P`` parity bits asks
``C * (P + 1) * 2^b`` masks (one per group, delay row and point of the ``b``-dimensional subspace).
``P`` depends only on ``n`` and ``t`` (through the BCH code), so no dry run is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .bch import code_dimensions

MIN_BITS = 2  #: fewer than 4 bins per group cannot separate even a handful of coefficients
MAX_BITS = 20  #: 2^20 bins per group is far beyond any realistic budget
DEFAULT_BITS = 8
AUTO_GROUPS = (3, 2)  #: group counts ``n_groups=None`` chooses from (3 is the SPEX paper's; 1 rarely peels)


def spex_query_count(n_features: int, b: int, t: int, n_groups: int = 3) -> int:
    """Masks a SPEX design asks for: ``n_groups * (P + 1) * 2^b`` with ``P`` the BCH parity count for ``(n, t)``."""
    if int(b) < 0 or int(n_groups) < 1:
        raise ValueError(f"need b >= 0 and n_groups >= 1, got b={b}, n_groups={n_groups}")
    _, n_parity = code_dimensions(int(n_features), int(t))
    return int(n_groups) * (n_parity + 1) * (1 << int(b))


#: most 1-bit groups a 2-group plan adds with the distinct masks its budget leaves over
MAX_SMALL_GROUPS = 2


@dataclass(frozen=True)
class SpexPlan:
    """Chosen design. ``feasible`` is False when not even the smallest design fits the budget.

    ``small_bits`` lists the bits of extra groups after the ``n_groups`` full ones; with them, ``n_queries``
    counts distinct masks (see :func:`spex_distinct_count`).
    """

    b: int
    t: int
    n_groups: int
    n_queries: int
    feasible: bool = True
    message: str | None = None
    small_bits: tuple[int, ...] = ()


def spex_distinct_count(n_features: int, bits: tuple[int, ...], t: int) -> int:
    """Distinct masks of a design with ``2^b_c`` bins in group ``c``: ``(P+1) (1 + sum_c (2^b_c - 1))`` (every
    group asks each delay row at its zero point)."""
    _, n_parity = code_dimensions(int(n_features), int(t))
    return (n_parity + 1) * (1 + sum((1 << int(bc)) - 1 for bc in bits))


def budget_hint(n_features: int, t: int, n_groups: int, b: int) -> str:
    """A short "about N queries (b=..)" phrase used in advice messages."""
    return f"{spex_query_count(n_features, b, t, n_groups):,} queries (b={b}, t={t}, C={n_groups})"


def plan_spex(
    n_features: int,
    budget: int | None = None,
    max_order: int = 5,
    *,
    b: int | None = None,
    t: int | None = None,
    n_groups: int | None = 3,
) -> SpexPlan:
    """Pick ``(b, t, C)`` for ``n_features`` features within ``budget`` queries.

    ``t`` defaults to ``max_order`` (capped at ``n``); ``b`` defaults to the largest value that fits the budget
    (at most ``b`` if given, else at most ``min(n, 20)``), or to ``min(8, n)`` without a budget. When even
    ``b = 2`` does not fit, the degree bound ``t`` is lowered (with a message); when nothing fits the plan is
    infeasible and the message says how many queries the requested order needs. ``n_groups=None`` also
    chooses ``C`` (see :func:`_most_bins`): a budget between two 3-group designs buys more bins in 2 groups.
    """
    n = int(n_features)
    if n < 1:
        raise ValueError(f"n_features must be at least 1, got {n_features}")
    if n_groups is None:
        return _most_bins(n, budget, max_order, b=b, t=t)
    n_groups = int(n_groups)
    if n_groups < 1:
        raise ValueError(f"n_groups must be at least 1, got {n_groups}")
    want_t = min(int(t if t is not None else max_order), n)
    if want_t < 1:
        raise ValueError(f"the degree bound t must be at least 1, got {want_t}")
    top_b = min(int(b) if b is not None else MAX_BITS, n, MAX_BITS)
    if top_b < 0:
        raise ValueError(f"b must be non-negative, got {b}")
    low_b = min(MIN_BITS, top_b)
    if budget is None:
        chosen = top_b if b is not None else min(DEFAULT_BITS, n)
        return SpexPlan(chosen, want_t, n_groups, spex_query_count(n, chosen, want_t, n_groups))
    budget = int(budget)
    recommended = budget_hint(n, want_t, n_groups, min(DEFAULT_BITS, n))
    for cand_t in range(want_t, 0, -1):
        fits = [bb for bb in range(top_b, low_b - 1, -1) if spex_query_count(n, bb, cand_t, n_groups) <= budget]
        if fits:
            chosen = fits[0]
            message = None
            if cand_t < want_t:
                message = (
                    f"budget {budget:,} is below the {budget_hint(n, want_t, n_groups, low_b)} that decoding"
                    f" interactions up to order {want_t} needs; only orders <= {cand_t} can be decoded."
                    f" About {recommended} are recommended."
                )
            elif b is not None and chosen < int(b):
                message = f"b={b} does not fit budget {budget:,}; using b={chosen}"
            return SpexPlan(chosen, cand_t, n_groups, spex_query_count(n, chosen, cand_t, n_groups), True, message)
    minimum = spex_query_count(n, low_b, 1, n_groups)
    return SpexPlan(
        low_b,
        want_t,
        n_groups,
        spex_query_count(n, low_b, want_t, n_groups),
        False,
        f"budget {budget:,} is too small for SPEX on {n} features: the smallest design (order 1) needs"
        f" {minimum:,} queries, {budget_hint(n, want_t, n_groups, low_b)} for order {want_t},"
        f" and about {recommended} are recommended",
    )


def _most_bins(n: int, budget: int | None, max_order: int, *, b: int | None, t: int | None) -> SpexPlan:
    """The feasible plan with the most bins ``C 2^b`` over ``C`` in :data:`AUTO_GROUPS` (ties: more groups).

    Decoding needs bins more than groups once dominant terms of multitons are peeled: for 20 planted terms at
    ``n = 1,024``, ``C = 2, b = 3`` (896 queries) beats ``C = 3, b = 2`` (672), and ``C = 2, b = 4`` (1,792)
    beats ``C = 3, b = 3`` (1,344) under noise.
    """
    plans = [plan_spex(n, budget, max_order, b=b, t=t, n_groups=c) for c in AUTO_GROUPS]
    feasible = [p for p in plans if p.feasible] or plans[:1]
    best = max(feasible, key=lambda p: (p.t, p.n_groups << p.b, p.n_groups))
    return _with_small_groups(n, budget, best)


def _with_small_groups(n: int, budget: int | None, plan: SpexPlan) -> SpexPlan:
    """A 2-group plan spends the distinct masks left in ``budget`` on up to :data:`MAX_SMALL_GROUPS` 1-bit groups.

    Two groups cannot separate terms that share a bin in both (at 8 bins, 20 terms: a few such pairs or triples);
    a 1-bit group splits each of them with probability 1/2 for ``P + 1`` distinct masks, and its bins resolve
    once the other terms are peeled.
    """
    if budget is None or not plan.feasible or plan.n_groups != 2 or plan.b < 2:
        return plan
    full = (plan.b,) * plan.n_groups
    base = spex_distinct_count(n, full, plan.t)
    step = spex_distinct_count(n, (1,), plan.t) - spex_distinct_count(n, (), plan.t)
    extra = min(MAX_SMALL_GROUPS, max(int(budget) - base, 0) // step)
    if extra == 0:
        return plan
    small = (1,) * extra
    return replace(plan, n_queries=spex_distinct_count(n, full + small, plan.t), small_bits=small)
