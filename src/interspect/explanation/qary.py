"""The result of :func:`~interspect.algorithms.qsft.api.explain_qary`: a sparse q-ary surrogate with provenance."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ...explanation import ExplanationRecord
from ...transforms.qary import SparseQaryTransform

_FORMAT_VERSION = 1


class QaryTerm(NamedTuple):
    """One Fourier term: the features it involves, their names, its frequency digits there, and ``F(k)``."""

    features: tuple[int, ...]
    names: tuple[str, ...]
    digits: tuple[int, ...]
    coef: complex


class QaryExplanation(ExplanationRecord):
    """A sparse q-ary Fourier surrogate of a value function on ``Z_q^n``.

    Importances are variance decompositions under uniform inputs (each feature equally likely to take any of
    its ``q`` values): see :meth:`SparseQaryTransform.feature_importance` and ``pair_importance``.
    """

    def __init__(
        self,
        transform: SparseQaryTransform,
        *,
        feature_names: list[str] | None = None,
        n_queries: int = 0,
        faithfulness: dict[str, Any] | None = None,
        timing: dict[str, float] | None = None,
        info: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.transform = transform
        self.q = transform.q
        self._set_record(transform.n_features, feature_names, "qsft", n_queries, faithfulness, timing, info, metadata)

    def __repr__(self) -> str:
        return (
            f"QaryExplanation(n_features={self.n_features}, q={self.q}, terms={len(self.transform)},"
            f" n_queries={self.n_queries}, r2={self._r2_text()})"
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Surrogate values (real) on an ``(m, n)`` matrix of inputs in ``0 … q-1``."""
        return self.transform.predict(x, real=True)

    def feature_importance(self, kind: str = "total", normalize: bool = True) -> np.ndarray:
        """``(n,)`` variance shares per feature (``"total"`` or ``"main"`` effect)."""
        return self.transform.feature_importance(kind, normalize)

    def pair_importance(
        self, kind: str = "interaction", normalize: bool = True, top: int | None = None
    ) -> dict[tuple[int, int], float]:
        """``{(i, j): variance share}`` for pairs, largest first (``"interaction"`` or ``"total"``)."""
        return self.transform.pair_importance(kind, normalize, top)

    def top(self, k: int = 10) -> list[QaryTerm]:
        """The ``k`` largest non-constant terms by ``|F(k)|`` (``k`` and ``-k`` appear as separate terms)."""
        t = self.transform
        order = [i for i in np.argsort(-np.abs(t.coefs), kind="stable") if t.degrees[i] > 0][: int(k)]
        keys = t.keys()
        return [
            QaryTerm(
                tuple(f for f, _ in keys[i]),
                tuple(self.feature_names[f] for f, _ in keys[i]),
                tuple(v for _, v in keys[i]),
                complex(t.coefs[i]),
            )
            for i in order
        ]

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "interspect.qary_explanation",
            "version": _FORMAT_VERSION,
            "n_features": self.n_features,
            "q": self.q,
            "feature_names": self.feature_names,
            "method": self.method,
            "n_queries": self.n_queries,
            "faithfulness": self.faithfulness,
            "timing": self.timing,
            "info": self.info,
            "metadata": self.metadata,
            "transform": self.transform.to_records(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QaryExplanation:
        if data.get("format") != "interspect.qary_explanation":
            raise ValueError("not a q-ary explanation")
        transform = SparseQaryTransform.from_records(data["transform"], int(data["n_features"]), int(data["q"]))
        return cls(
            transform,
            feature_names=data.get("feature_names"),
            n_queries=data.get("n_queries", 0),
            faithfulness=data.get("faithfulness"),
            timing=data.get("timing"),
            info=data.get("info"),
            metadata=data.get("metadata"),
        )
