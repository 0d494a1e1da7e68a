"""The typed contracts between layers: value functions, engines, fit results and faithfulness.

Every layer imports these names from here, so one definition says what crosses each boundary:
front-ends produce a :class:`ValueFunction`, the query engine (an :class:`Engine`) answers masks, an
algorithm returns a :class:`FitResult`, and the explanation carries a :class:`Faithfulness`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from .transforms.qary import SparseQaryTransform
    from .transforms.sparse import SparseTransform

#: how a faithfulness figure was measured
FaithfulnessKind = Literal["exact", "heldout", "cross-validated"]


@runtime_checkable
class ValueFunction(Protocol):
    """``f(masks) -> values``: an ``(m, n)`` boolean mask matrix (``True`` keeps a feature) to ``m`` numbers.

    Front-ends may also provide ``n_features``, ``feature_names`` (one name per feature), ``fingerprint``
    (a cache key covering everything that determines the answers) and ``describe()`` (JSON-safe provenance
    written into the explanation's metadata); :func:`interspect.explain` reads them when present.
    """

    def __call__(self, masks: np.ndarray, /) -> Any: ...


@runtime_checkable
class Engine(Protocol):
    """What an algorithm may use of the query engine (:class:`~interspect.query.engine.QueryEngine`)."""

    n_features: int

    @property
    def n_queries(self) -> int: ...

    def __call__(self, masks: np.ndarray, *, scratch: bool = False) -> np.ndarray: ...

    def seen(self, masks: np.ndarray) -> np.ndarray: ...

    def answered(self) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class Faithfulness:
    """How faithful a surrogate is and how that was measured.

    ``r2`` is ``1 - Σ(f - f̂)² / Σ(f - mean f)²`` over ``n_masks`` masks; ``kind`` is ``"exact"`` (every
    mask), ``"heldout"`` (masks the fit never saw) or ``"cross-validated"`` (out-of-fold predictions of
    the fitted queries). ``r2`` and ``kind`` are ``None`` only when nothing could be measured.
    """

    r2: float | None = None
    kind: FaithfulnessKind | None = None
    n_masks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Faithfulness:
        if not data:
            return cls()
        r2 = data.get("r2")
        return cls(None if r2 is None else float(r2), data.get("kind"), int(data.get("n_masks", 0) or 0))


@dataclass
class FitResult:
    """What every ``fit_*`` algorithm returns.

    ``transform`` is the recovered sparse Fourier transform (a :class:`SparseTransform` for 0/1 masks, a
    :class:`SparseQaryTransform` for q-ary inputs). ``faithfulness`` is set only when the method measured it
    itself from what it already queried (``"exact"`` when it saw every mask, ``"cross-validated"``); held-out
    masks are bought by :func:`interspect.explain`, never by a method. ``info`` holds method-specific
    diagnostics (chosen parameters, messages) that end up in ``Explanation.info``; ``method`` names the method
    that actually produced the transform (``auto`` reports its choice).
    """

    transform: SparseTransform | SparseQaryTransform
    info: dict[str, Any] = field(default_factory=dict)
    faithfulness: Faithfulness | None = None
    method: str | None = None

    @property
    def fourier(self) -> SparseTransform:
        """The binary transform (an error for q-ary results, whose transform is not a ``SparseTransform``)."""
        from .transforms.sparse import SparseTransform

        if not isinstance(self.transform, SparseTransform):
            raise TypeError("a q-ary fit has no binary Fourier transform; use .transform")
        return self.transform
