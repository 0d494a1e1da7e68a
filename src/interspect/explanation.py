"""The result object users hold: a sparse surrogate of the model plus the indices people read off it."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from .transforms.sparse import SparseTransform

_FORMAT_VERSION = 1


class Interaction(NamedTuple):
    """One interaction: feature indices, their names, and its value under the chosen index."""

    features: tuple[int, ...]
    names: tuple[str, ...]
    value: float


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


class ExplanationRecord:
    """What every explanation carries besides its surrogate: names, cost, faithfulness, timing, provenance.

    Subclasses set the surrogate and implement ``to_dict``/``from_dict``; JSON and ``repr`` come from here.
    """

    def _set_record(
        self,
        n_features: int,
        feature_names: list[str] | None,
        method: str,
        n_queries: int,
        faithfulness: dict[str, Any] | None,
        timing: dict[str, float] | None,
        info: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
    ) -> None:
        self.n_features = int(n_features)
        names = [f"x{i}" for i in range(self.n_features)] if feature_names is None else [str(s) for s in feature_names]
        if len(names) != self.n_features:
            raise ValueError(f"{len(names)} feature names for {self.n_features} features")
        self.feature_names = names
        self.method = method
        self.n_queries = int(n_queries)
        self.faithfulness = faithfulness or {"r2": None, "kind": None, "n_masks": 0}
        self.timing = timing or {}
        self.info = info or {}
        self.metadata = metadata or {}

    def _r2_text(self) -> str:
        r2 = self.faithfulness.get("r2")
        return "n/a" if r2 is None else f"{r2:.3f} ({self.faithfulness.get('kind')})"

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExplanationRecord:
        raise NotImplementedError

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), default=_json_default, indent=indent)

    @classmethod
    def from_json(cls, text: str) -> ExplanationRecord:
        return cls.from_dict(json.loads(text))


class Explanation(ExplanationRecord):
    """A sparse Fourier surrogate of a value function, with provenance (method, queries, R², timing).

    Every index (Shapley, Banzhaf, SII, BII, STII, FSII, FBII, k-SII, Möbius) is computed from
    :attr:`fourier` on demand. Feature names are carried through; repeated names (two "the") stay
    distinct features because interactions refer to feature indices.
    """

    def __init__(
        self,
        fourier: SparseTransform,
        *,
        feature_names: list[str] | None = None,
        method: str = "",
        n_queries: int = 0,
        faithfulness: dict[str, Any] | None = None,
        timing: dict[str, float] | None = None,
        info: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if fourier.basis != "fourier":
            raise ValueError("an Explanation is built from a Fourier transform")
        self.fourier = fourier
        self._set_record(fourier.n_features, feature_names, method, n_queries, faithfulness, timing, info, metadata)

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
        return self.fourier.predict(masks)

    # ------------------------------------------------------------------ indices
    def shapley_values(self) -> np.ndarray:
        from . import indices

        return indices.shapley_values(self.fourier)

    def banzhaf_values(self) -> np.ndarray:
        from . import indices

        return indices.banzhaf_values(self.fourier)

    def interactions(self, index: str = "fsii", order: int = 2) -> SparseTransform:
        """Interactions of size ``<= order`` for ``index`` (mobius, fourier, sii, bii, stii, fsii, fbii, k-sii)."""
        from . import indices

        return indices.interaction_values(self.fourier, index, order)

    def top(
        self, k: int = 10, index: str = "mobius", order: int | None = None, min_order: int = 1
    ) -> list[Interaction]:
        """The ``k`` interactions of size ``>= min_order`` with the largest absolute value under ``index``."""
        key = index.lower()
        if key == "mobius" and order is None:
            values = self.mobius
        elif key == "fourier" and order is None:
            values = self.fourier
        else:
            values = self.interactions(index, order if order is not None else max(1, self.fourier.max_degree))
        values = values.prune(max_degree=order)
        keep = np.flatnonzero(values.degrees >= min_order)
        keep = keep[np.argsort(-np.abs(values.coefs[keep]), kind="stable")][: max(0, int(k))]
        supports = values.supports()
        return [
            Interaction(supports[i], tuple(self.feature_names[j] for j in supports[i]), float(values.coefs[i]))
            for i in keep
        ]

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": _FORMAT_VERSION,
            "n_features": self.n_features,
            "feature_names": self.feature_names,
            "method": self.method,
            "n_queries": self.n_queries,
            "faithfulness": self.faithfulness,
            "timing": self.timing,
            "info": self.info,
            "metadata": self.metadata,
            "fourier": {"supports": [list(s) for s in self.fourier.supports()], "coefs": self.fourier.coefs.tolist()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Explanation:
        if data.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported explanation format version {data.get('format_version')!r}")
        fourier = SparseTransform(data["fourier"]["supports"], data["fourier"]["coefs"], data["n_features"])
        return cls(
            fourier,
            feature_names=data["feature_names"],
            method=data["method"],
            n_queries=data["n_queries"],
            faithfulness=data["faithfulness"],
            timing=data["timing"],
            info=data["info"],
            metadata=data["metadata"],
        )
