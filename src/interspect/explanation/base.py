"""What every explanation carries besides its surrogate, and the one versioned JSON envelope they share.

An explanation records its cost (fit and held-out queries), how faithful the surrogate is (a typed
:class:`~interspect.contracts.Faithfulness`), whether it can be trusted, timing and provenance. Binary
(:class:`~.binary.Explanation`) and q-ary (:class:`~.qary.QaryExplanation`) results share this record and the
envelope ``{"format": "interspect.explanation", "version": 2, "kind": ...}``; :func:`load` reads any of them.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any, ClassVar

import numpy as np

from ..contracts import Faithfulness

FORMAT = "interspect.explanation"
VERSION = 2
#: below this held-out / exact R² an explanation is flagged unreliable (issue-level policy, docs/math.md)
RELIABLE_R2 = 0.5
#: below this R² (or when unknown) users are warned and a larger budget is suggested
WARN_R2 = 0.8


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.bool_):
        return bool(obj)
    return str(obj)


def faithfulness_warnings(faithfulness: Faithfulness, n_queries: int) -> list[str]:
    """Plain-language warnings when a surrogate should not be trusted (R² unknown or below :data:`WARN_R2`)."""
    suggestion = f"try a larger budget (e.g. budget={max(2 * n_queries, 256)})"
    if faithfulness.r2 is None:
        return [f"faithfulness could not be measured; {suggestion} or holdout= masks"]
    if faithfulness.r2 < WARN_R2:
        return [f"the surrogate explains only R² = {faithfulness.r2:.2f} of the model's output; {suggestion}"]
    return []


class BaseExplanation:
    """Record shared by every explanation; subclasses add the surrogate and ``_surrogate_dict``."""

    kind: ClassVar[str] = ""
    _kinds: ClassVar[dict[str, type[BaseExplanation]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            BaseExplanation._kinds[cls.kind] = cls

    def _set_record(
        self,
        n_features: int,
        feature_names: list[str] | None,
        method: str,
        n_fit_queries: int,
        n_heldout_queries: int,
        faithfulness: Faithfulness | dict[str, Any] | None,
        timing: dict[str, float] | None,
        info: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        warnings: list[str] | None,
    ) -> None:
        self.n_features = int(n_features)
        names = [f"x{i}" for i in range(self.n_features)] if feature_names is None else [str(s) for s in feature_names]
        if len(names) != self.n_features:
            raise ValueError(f"{len(names)} feature names for {self.n_features} features")
        self.feature_names = names
        self.method = str(method)
        self.n_fit_queries = int(n_fit_queries)
        self.n_heldout_queries = int(n_heldout_queries)
        if not isinstance(faithfulness, Faithfulness):
            faithfulness = Faithfulness.from_dict(faithfulness)
        self.faithfulness = faithfulness
        self.timing = dict(timing or {})
        self.info = dict(info or {})
        self.metadata = dict(metadata or {})
        self.warnings = list(warnings or [])

    # ------------------------------------------------------------------ cost and trust
    @property
    def n_queries(self) -> int:
        """Every distinct model query the explanation cost: fitted plus held out."""
        return self.n_fit_queries + self.n_heldout_queries

    @property
    def reliable(self) -> bool:
        """Whether faithfulness was measured and is at least :data:`RELIABLE_R2`."""
        r2 = self.faithfulness.r2
        return r2 is not None and r2 >= RELIABLE_R2

    @property
    def is_qary(self) -> bool:
        return self.kind == "qary"

    def _r2_text(self) -> str:
        f = self.faithfulness
        return "n/a" if f.r2 is None else f"{f.r2:.3f} ({f.kind})"

    # ------------------------------------------------------------------ serialisation
    def _surrogate_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_surrogate(cls, data: dict[str, Any], record: dict[str, Any]) -> BaseExplanation:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe envelope: the record, the surrogate, and ready-made attributions for other tools."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "kind": self.kind,
            "n_features": self.n_features,
            "feature_names": self.feature_names,
            "method": self.method,
            "n_queries": self.n_queries,
            "n_fit_queries": self.n_fit_queries,
            "n_heldout_queries": self.n_heldout_queries,
            "faithfulness": self.faithfulness.to_dict(),
            "reliable": self.reliable,
            "warnings": self.warnings,
            "timing": self.timing,
            "info": self.info,
            "metadata": self.metadata,
            **self._surrogate_dict(),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), default=_json_default, indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BaseExplanation:
        """Rebuild an explanation of the kind ``data`` names (version-1 files of either kind are read too)."""
        if not isinstance(data, dict):
            raise ValueError(f"an explanation is a JSON object, got {type(data).__name__}")
        data = _upgrade(data)
        target = cls._kinds.get(data.get("kind", ""))
        if target is None:
            raise ValueError(f"unknown explanation kind {data.get('kind')!r}; expected one of {sorted(cls._kinds)}")
        if cls is not BaseExplanation and not issubclass(target, cls):
            raise ValueError(f"this file holds a {data['kind']} explanation, not a {cls.__name__}")
        try:
            record = {
                "feature_names": data.get("feature_names"),
                "method": data.get("method", ""),
                "n_fit_queries": int(data.get("n_fit_queries", data.get("n_queries", 0))),
                "n_heldout_queries": int(data.get("n_heldout_queries", 0)),
                "faithfulness": Faithfulness.from_dict(data.get("faithfulness")),
                "timing": data.get("timing"),
                "info": data.get("info"),
                "metadata": data.get("metadata"),
                "warnings": data.get("warnings"),
            }
            return target._from_surrogate(data, record)
        except (KeyError, TypeError) as err:
            raise ValueError(f"malformed explanation: {err!r}") from None

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | IO[str]) -> BaseExplanation:
        """Read an explanation from a JSON string, a path to a JSON file, or an open file object."""
        if hasattr(source, "read"):
            text = source.read()
        elif isinstance(source, os.PathLike) or (isinstance(source, str) and source.lstrip()[:1] not in ("{", "[")):
            with open(source, encoding="utf-8-sig") as fh:
                text = fh.read()
        else:
            text = str(source)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not an explanation JSON file: {err}") from None
        return cls.from_dict(data)


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Version-1 envelopes (``format_version`` for binary, ``format``/``version`` for q-ary) in today's shape."""
    if data.get("format") == FORMAT:
        if data.get("version") != VERSION:
            raise ValueError(f"unsupported explanation version {data.get('version')!r} (this is version {VERSION})")
        return data
    if data.get("format_version") == 1:
        old_heldout = int((data.get("info") or {}).get("holdout_queries", 0))
        return {**data, "kind": "binary", "n_fit_queries": data.get("n_queries", 0), "n_heldout_queries": old_heldout}
    if data.get("format") == "interspect.qary_explanation" and data.get("version") == 1:
        old_heldout = int((data.get("info") or {}).get("holdout_queries", 0))
        return {**data, "kind": "qary", "n_fit_queries": data.get("n_queries", 0), "n_heldout_queries": old_heldout}
    raise ValueError("not an interspect explanation (no 'format': 'interspect.explanation' field)")


def load(source: str | os.PathLike[str] | IO[str]) -> BaseExplanation:
    """Any explanation (binary or q-ary) from a JSON string, path or file object."""
    return BaseExplanation.from_json(source)
