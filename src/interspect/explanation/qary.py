"""The explanation of a function of q-ary inputs: a sparse q-ary Fourier surrogate with provenance."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..contracts import Faithfulness
from ..transforms.qary import SparseQaryTransform
from .base import BaseExplanation


class QaryTerm(NamedTuple):
    """One Fourier term: the features it involves, their names, its frequency digits there, and ``F(k)``."""

    features: tuple[int, ...]
    names: tuple[str, ...]
    digits: tuple[int, ...]
    coef: complex


class QaryExplanation(BaseExplanation):
    """A sparse q-ary Fourier surrogate of a value function on ``Z_q^n``.

    Importances are variance decompositions under uniform inputs (each feature equally likely to take any of
    its ``q`` values): see :meth:`SparseQaryTransform.feature_importance` and ``pair_importance``.
    """

    kind = "qary"

    def __init__(
        self,
        transform: SparseQaryTransform,
        *,
        feature_names: list[str] | None = None,
        method: str = "qsft",
        n_fit_queries: int = 0,
        n_heldout_queries: int = 0,
        faithfulness: Faithfulness | dict[str, Any] | None = None,
        timing: dict[str, float] | None = None,
        info: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        if not isinstance(transform, SparseQaryTransform):
            raise ValueError("a QaryExplanation is built from a SparseQaryTransform")
        self.transform = transform
        self.q = transform.q
        self._set_record(
            transform.n_features, feature_names, method, n_fit_queries, n_heldout_queries,
            faithfulness, timing, info, metadata, warnings,
        )  # fmt: skip

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
    def _surrogate_dict(self) -> dict[str, Any]:
        top = self.top(20)
        return {
            "q": self.q,
            "transform": self.transform.to_records(),
            "feature_importance": self.feature_importance().tolist(),
            "top": [
                {
                    "features": list(t.features),
                    "names": list(t.names),
                    "digits": list(t.digits),
                    "value": [t.coef.real, t.coef.imag],
                }
                for t in top
            ],
        }

    @classmethod
    def _from_surrogate(cls, data: dict[str, Any], record: dict[str, Any]) -> QaryExplanation:
        transform = SparseQaryTransform.from_records(data["transform"], int(data["n_features"]), int(data["q"]))
        return cls(transform, **record)
