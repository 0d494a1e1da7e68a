"""Shared front-end pieces: cache-key helpers and ``TextValueFunction`` (masks over text units -> rendered texts
-> one number per mask from a model)."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from ..query.engine import check_masks
from .text import MASKINGS, Masking, TextUnits

TextScorer = Callable[[list[str]], np.ndarray]


def fingerprint(**parts: Any) -> str:
    """Stable SHA-256 hex digest of JSON-serialisable parts (the query engine's disk-cache key)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def model_name(model: Any) -> str:
    """An identifier of a model for cache keys: a hash of its pickle, else its qualified name."""
    try:
        blob = pickle.dumps(model, protocol=4)
    except Exception:  # lambdas, closures, objects holding locks: fall back to the name
        return f"{type(model).__module__}.{getattr(model, '__qualname__', type(model).__qualname__)}"
    return f"{type(model).__name__}:{hashlib.sha256(blob).hexdigest()[:16]}"


def array_digest(a: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (object arrays through ``repr`` of their items)."""
    a = np.asarray(a)
    if a.dtype.kind == "O":
        payload = repr(a.tolist()).encode("utf-8")
    else:
        payload = np.ascontiguousarray(a).tobytes()
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + payload).hexdigest()


class TextValueFunction:
    """A value function over the units of one text: ``(m, n)`` bool masks -> ``(m,)`` float.

    Each mask renders the text with the removed units dropped or replaced (``masking``), the distinct
    rendered texts go to ``scorer`` (a model wrapper mapping a list of texts to one number each), and the
    numbers are returned in mask order.

    Attributes
    ----------
    units : list of str
        The unit strings (features), repeats kept apart.
    feature_names : list of str
        Unique display names ("the", "the#2", ...).
    n_features : int
    target : str or None
        What is explained: the LLM answer, the class label, or the score name.
    fingerprint : str
        Stable hash of model id, text, question, target, unit, masking and filler.
    """

    def __init__(
        self,
        text_units: TextUnits,
        scorer: TextScorer,
        *,
        model: str,
        masking: str = "drop",
        filler: str | None = None,
        question: str | None = None,
        target: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if masking not in MASKINGS:
            raise ValueError(f"masking must be one of {MASKINGS}, got {masking!r}")
        self.text_units = text_units
        self.scorer = scorer
        self.model = str(model)
        self.masking = cast(Masking, masking)  # checked against MASKINGS above
        self.filler = filler
        self.question = question
        self.target = target
        self.extra = dict(extra or {})
        self.fingerprint = fingerprint(
            model=self.model,
            text=text_units.text,
            spans=list(text_units.spans),
            unit=text_units.unit,
            masking=masking,
            filler=filler,
            question=question,
            target=target,
            extra=self.extra,
        )

    @property
    def units(self) -> list[str]:
        return self.text_units.units

    @property
    def feature_names(self) -> list[str]:
        return self.text_units.feature_names

    @property
    def n_features(self) -> int:
        return self.text_units.n_units

    @property
    def text(self) -> str:
        return self.text_units.text

    @property
    def batch_size(self) -> int | None:
        """Masks per model call that suits the scorer (an API scorer's requests in flight), if it says."""
        size = getattr(self.scorer, "engine_batch_size", None) or getattr(self.scorer, "batch_size", None)
        return size if isinstance(size, int) else None

    def render(self, masks: np.ndarray | Sequence[bool]) -> str | list[str]:
        """The model input text(s) for ``masks`` under this function's masking."""
        return self.text_units.render(masks, self.masking, self.filler)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = check_masks(masks, self.n_features)
        if len(masks) == 0:
            return np.zeros(0)
        texts = self.render(masks)
        # Different masks can render the same text ("the the" without either "the"): score it once.
        unique, inverse = np.unique(np.array(texts, dtype=object), return_inverse=True)
        scores = np.asarray(self.scorer(list(unique)), dtype=np.float64).reshape(-1)
        if scores.shape != (len(unique),):
            raise ValueError(f"scorer returned {scores.shape[0]} values for {len(unique)} texts")
        return scores[inverse.reshape(-1)]

    def describe(self) -> dict[str, Any]:
        """Metadata for reports: model, unit, masking, filler, question, target, text, units."""
        return {
            "model": self.model,
            "unit": self.text_units.unit,
            "masking": self.masking,
            "filler": self.filler,
            "question": self.question,
            "target": self.target,
            "text": self.text,
            "units": self.units,
            "spans": [list(s) for s in self.text_units.spans],
            **self.extra,
        }

    def __repr__(self) -> str:
        return (
            f"TextValueFunction(model={self.model!r}, n_features={self.n_features}, unit={self.text_units.unit!r}, "
            f"masking={self.masking!r}, target={self.target!r})"
        )
