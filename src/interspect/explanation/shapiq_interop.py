"""Conversion to and from ``shapiq.InteractionValues`` (shapiq is imported only here, on use).

Every index of ours maps to shapiq's name for it; values are those of our exact index computation on the
surrogate, so a shapiq user can plot or compare them with shapiq's own tools. Reading back is possible only
for Möbius values (Harsanyi dividends), which determine the whole surrogate; other indices lose information.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..transforms.sparse import SparseTransform

if TYPE_CHECKING:
    from .binary import Explanation

#: our index name -> shapiq's
SHAPIQ_INDEX = {
    "mobius": "Moebius",
    "sii": "SII",
    "bii": "BII",
    "stii": "STII",
    "fsii": "FSII",
    "fbii": "FBII",
    "k-sii": "k-SII",
    "shapley": "SV",
    "banzhaf": "BV",
}


def to_shapiq(explanation: Explanation, index: str = "k-sii", order: int = 2) -> Any:
    """``shapiq.InteractionValues`` of ``index`` up to ``order`` (``shapley``/``banzhaf`` give order 1)."""
    from shapiq import InteractionValues

    from ..indices import canonical_index

    key = index.lower().replace("_", "-")
    if key not in ("shapley", "banzhaf"):
        key = canonical_index(index)
    if key not in SHAPIQ_INDEX:
        raise ValueError(f"index {index!r} has no shapiq counterpart; choose one of {sorted(SHAPIQ_INDEX)}")
    n = explanation.n_features
    baseline = float(explanation.predict(np.zeros((1, n), dtype=bool))[0])
    if key in ("shapley", "banzhaf"):
        first = explanation.shapley_values() if key == "shapley" else explanation.banzhaf_values()
        values: dict[tuple[int, ...], float] = {(): baseline, **{(i,): float(v) for i, v in enumerate(first)}}
        order = 1
    else:
        if int(order) < 1:
            raise ValueError(f"order must be at least 1, got {order}")
        terms = explanation.mobius if key == "mobius" else explanation.interactions(key, int(order))
        values = {s: float(c) for s, c in terms.prune(max_degree=int(order)).to_dict().items()}
        values.setdefault((), baseline)
    lookup = {s: i for i, s in enumerate(values)}
    return InteractionValues(
        np.fromiter(values.values(), dtype=np.float64, count=len(values)),
        index=SHAPIQ_INDEX[key],
        max_order=int(order),
        min_order=0,
        n_players=n,
        interaction_lookup=lookup,
        estimated=explanation.faithfulness.kind != "exact",
        estimation_budget=explanation.n_queries,
        baseline_value=baseline,
    )


def from_shapiq(values: Any, feature_names: list[str] | None = None) -> Explanation:
    """An explanation whose surrogate has the Möbius values of ``values`` (``index="Moebius"``)."""
    from .binary import Explanation

    if getattr(values, "index", None) != "Moebius":
        raise ValueError(
            f"only Moebius interaction values determine a surrogate; got index {getattr(values, 'index', None)!r}"
            " (compute them in shapiq with index='Moebius', e.g. from an exact computer)"
        )
    lookup = values.interaction_lookup.items()
    terms: dict[Any, float] = {tuple(sorted(int(i) for i in s)): float(values.values[pos]) for s, pos in lookup}
    mobius = SparseTransform.from_dict(terms, int(values.n_players), basis="mobius")
    return Explanation(
        mobius.to_fourier(),
        feature_names=feature_names,
        method="shapiq",
        n_fit_queries=int(values.estimation_budget or 0),
        info={"source": "shapiq", "estimated": bool(values.estimated)},
    )
