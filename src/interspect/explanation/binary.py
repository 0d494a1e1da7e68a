"""The explanation of a function of 0/1 masks: a sparse Fourier surrogate and the indices read off it."""

from __future__ import annotations

from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from ..contracts import Faithfulness
from ..transforms.sparse import SparseTransform, pad_columns
from .base import BaseExplanation

#: interval coverage of ``Interaction.low``/``high`` (two-sided)
INTERVAL_LEVEL = 0.9


class Interaction(NamedTuple):
    """One interaction: feature indices, their names, its value under the chosen index, and an interval.

    ``low``/``high`` bound the value at :data:`INTERVAL_LEVEL` coverage under the refit's sampling error
    (``None`` when the fit gave no uncertainty). A positive interaction is a *synergy* (the features add more
    together than apart), a negative one a *redundancy*.
    """

    features: tuple[int, ...]
    names: tuple[str, ...]
    value: float
    low: float | None = None
    high: float | None = None

    @property
    def significant(self) -> bool:
        """False when the interval contains 0 (the sign is not established)."""
        return self.low is None or self.high is None or self.low > 0 or self.high < 0

    @property
    def relation(self) -> str:
        """``"synergy"`` or ``"redundancy"`` for interactions of two or more features, else ``"effect"``."""
        if len(self.features) < 2:
            return "effect"
        return "synergy" if self.value > 0 else "redundancy"


def _matching_rows(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(i, j)`` with ``a[i] == b[j]`` for two padded support matrices (rows unique in each)."""
    width = max(a.shape[1], b.shape[1])
    a, b = pad_columns(a, width), pad_columns(b, width)
    keys = np.concatenate([a, b]).astype(np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    pos_a = np.full(inverse.max() + 1 if len(inverse) else 0, -1)
    pos_a[inverse[: len(a)]] = np.arange(len(a))
    hit = pos_a[inverse[len(a) :]]
    found = hit >= 0
    return hit[found], np.flatnonzero(found)


class Explanation(BaseExplanation):
    """A sparse Fourier surrogate of a value function of 0/1 masks, with provenance (method, queries, R²).

    Every index (Shapley, Banzhaf, SII, BII, STII, FSII, FBII, k-SII, Möbius) is computed from
    :attr:`fourier` on demand. Repeated feature names (two "the") stay distinct features because interactions
    refer to indices. ``replicates`` optionally holds ``(B, k)`` draws of the Fourier coefficients from the
    refit's sampling distribution; every index is linear in them, which gives the intervals of :meth:`top`.
    """

    kind = "binary"
    q = 2

    def __init__(
        self,
        fourier: SparseTransform,
        *,
        feature_names: list[str] | None = None,
        method: str = "",
        n_fit_queries: int = 0,
        n_heldout_queries: int = 0,
        faithfulness: Faithfulness | dict[str, Any] | None = None,
        timing: dict[str, float] | None = None,
        info: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
        replicates: np.ndarray | None = None,
    ) -> None:
        if not isinstance(fourier, SparseTransform) or fourier.basis != "fourier":
            raise ValueError("an Explanation is built from a SparseTransform in the Fourier basis")
        self.fourier = fourier
        if replicates is not None:
            replicates = np.asarray(replicates, dtype=np.float64)
            if replicates.ndim != 2 or replicates.shape[1] != len(fourier) or not np.isfinite(replicates).all():
                raise ValueError(f"replicates must be a finite (B, {len(fourier)}) array")
        self.replicates = replicates
        self._set_record(
            fourier.n_features, feature_names, method, n_fit_queries, n_heldout_queries,
            faithfulness, timing, info, metadata, warnings,
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"Explanation(method={self.method!r}, n_features={self.n_features}, terms={len(self.fourier)},"
            f" n_queries={self.n_queries}, r2={self._r2_text()})"
        )

    # ------------------------------------------------------------------ surrogate
    @cached_property
    def mobius(self) -> SparseTransform:
        """Möbius transform (Harsanyi dividends) of the surrogate."""
        return self.fourier.to_mobius()

    def predict(self, masks: np.ndarray) -> np.ndarray:
        """Surrogate value on each row of an ``(m, n)`` 0/1 mask matrix."""
        from ..query.engine import check_masks

        return self.fourier.predict(check_masks(masks, self.n_features))

    # ------------------------------------------------------------------ indices
    def shapley_values(self) -> np.ndarray:
        from .. import indices

        return indices.shapley_values(self.fourier)

    def banzhaf_values(self) -> np.ndarray:
        from .. import indices

        return indices.banzhaf_values(self.fourier)

    def interactions(self, index: str = "fsii", order: int = 2) -> SparseTransform:
        """Interactions of size ``<= order`` for ``index`` (mobius, fourier, sii, bii, stii, fsii, fbii, k-sii)."""
        from .. import indices

        return indices.interaction_values(self.fourier, index, order)

    def _values(self, fourier: SparseTransform, index: str, order: int | None) -> SparseTransform:
        from .. import indices

        key = indices.canonical_index(index)
        if key == "mobius" and order is None:
            return fourier.to_mobius()
        if key == "fourier" and order is None:
            return fourier
        return indices.interaction_values(fourier, key, order if order is not None else max(1, fourier.max_degree))

    def top(
        self, k: int = 10, index: str = "mobius", order: int | None = None, min_order: int = 1
    ) -> list[Interaction]:
        """The ``k`` interactions of size ``>= min_order`` with the largest absolute value under ``index``.

        With uncertainty available, each carries its interval; interactions whose interval crosses 0 rank
        after those whose sign is established.
        """
        values = self._values(self.fourier, index, order).prune(max_degree=order)
        keep = np.flatnonzero(values.degrees >= min_order)
        low, high = self._intervals(values, index, order)
        strength = np.abs(values.coefs[keep])
        if low is not None and high is not None:
            crosses = (low[keep] <= 0) & (high[keep] >= 0)
            keep = keep[np.lexsort((-strength, crosses))]
        else:
            keep = keep[np.argsort(-strength, kind="stable")]
        keep = keep[: max(0, int(k))]
        supports = values.supports()
        return [
            Interaction(
                supports[i],
                tuple(self.feature_names[j] for j in supports[i]),
                float(values.coefs[i]),
                None if low is None else float(low[i]),
                None if high is None else float(high[i]),
            )
            for i in keep
        ]

    def _intervals(
        self, values: SparseTransform, index: str, order: int | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Percentile intervals of ``values``' terms over the coefficient replicates (None without replicates)."""
        if self.replicates is None or len(self.replicates) < 2:
            return None, None
        draws = np.zeros((len(self.replicates), len(values)))
        for b, coefs in enumerate(self.replicates):
            replicate = self._values(self.fourier.with_coefs(coefs), index, order).prune(max_degree=order)
            target, source = _matching_rows(values.idx, replicate.idx)
            draws[b, target] = replicate.coefs[source]
        tail = 50 * (1 - INTERVAL_LEVEL)
        low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
        return np.minimum(low, values.coefs), np.maximum(high, values.coefs)

    # ------------------------------------------------------------------ serialisation
    def _surrogate_dict(self) -> dict[str, Any]:
        top = self.top(20, index="mobius") if len(self.fourier) else []
        data: dict[str, Any] = {
            "fourier": {"supports": [list(s) for s in self.fourier.supports()], "coefs": self.fourier.coefs.tolist()},
            "shapley": self.shapley_values().tolist(),
            "banzhaf": self.banzhaf_values().tolist(),
            "top": [
                {"features": list(t.features), "names": list(t.names), "value": t.value, "low": t.low, "high": t.high}
                for t in top
            ],
        }
        if self.replicates is not None:
            data["replicates"] = self.replicates.tolist()
        return data

    @classmethod
    def _from_surrogate(cls, data: dict[str, Any], record: dict[str, Any]) -> Explanation:
        fourier_data = data["fourier"]
        coefs = fourier_data["coefs"]
        if any(c is None for c in coefs):
            raise ValueError("malformed explanation: null Fourier coefficient")
        fourier = SparseTransform(fourier_data["supports"], np.asarray(coefs, dtype=np.float64), data["n_features"])
        if not np.isfinite(fourier.coefs).all():
            raise ValueError("malformed explanation: non-finite Fourier coefficient")
        return cls(fourier, replicates=data.get("replicates"), **record)

    # ------------------------------------------------------------------ shapiq interop
    def to_shapiq(self, index: str = "k-sii", order: int = 2) -> Any:
        """This surrogate's ``index`` values up to ``order`` as a ``shapiq.InteractionValues`` (needs shapiq)."""
        from .shapiq_interop import to_shapiq

        return to_shapiq(self, index, order)

    @classmethod
    def from_shapiq(cls, values: Any, feature_names: list[str] | None = None) -> Explanation:
        """An explanation from ``shapiq.InteractionValues`` of a Möbius-complete index (``Moebius``)."""
        from .shapiq_interop import from_shapiq

        return from_shapiq(values, feature_names)
