"""What every experiment shares: one memo of model answers for all methods, the methods' runs, metrics, tables.

Methods are compared on the *same* model: :class:`SharedAnswers` remembers every mask's value, so a mask asked
by two methods (or by the evaluation) costs one model call, while each method still runs in its own query engine
and is charged for every distinct mask it asks (budgets stay honest).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: the sparse method and its marginal peers in every comparison (SPEX is added where its design fits)
DEFAULT_METHODS: tuple[str, ...] = ("auto", "lasso", "kernelshap")
#: masks per model call when the value function does not say (each call's answers are stored at once)
CHUNK = 64
#: the SQLite answer cache of the experiment being run (set by :func:`answer_cache`), None: memory only
_CACHE: ContextVar[Path | None] = ContextVar("interspect_experiment_cache", default=None)


@contextlib.contextmanager
def answer_cache(path: str | Path | None) -> Iterator[None]:
    """Within the block every :class:`SharedAnswers` with a fingerprint keeps its answers in ``path`` too."""
    token = _CACHE.set(None if path is None else Path(path))
    try:
        yield
    finally:
        _CACHE.reset(token)


class SharedAnswers:
    """A value function that answers every distinct mask once and remembers it (bit-packed keys).

    Inside :func:`answer_cache` the answers also go to the on-disk cache as each model call returns (keyed by
    the value function's ``fingerprint``), so a crashed or stopped experiment reruns without asking them again.
    """

    def __init__(self, value_function: Callable[[np.ndarray], np.ndarray], n_features: int) -> None:
        self.value_function, self.n_features = value_function, int(n_features)
        self.feature_names = getattr(value_function, "feature_names", None)
        self._memo: dict[bytes, float] = {}
        self.n_model_calls = 0
        self.n_from_disk = 0
        self.chunk = int(getattr(value_function, "batch_size", None) or CHUNK)
        self.disk = None
        path, key = _CACHE.get(), getattr(value_function, "fingerprint", None)
        self.fingerprint, self.batch_size = key, self.chunk  # itself a value function like the one it wraps
        if path is not None and key:
            from ..query.cache import DiskCache

            self.disk = DiskCache(path, f"experiment:{key}")
            packed, values = self.disk.load(-(-self.n_features // 8))
            self._memo.update(zip(map(bytes, packed), values.tolist(), strict=True))
            self.n_from_disk = len(values)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks, dtype=bool).reshape(-1, self.n_features)
        packed = np.packbits(masks, axis=1)
        keys = [row.tobytes() for row in packed]
        missing = list({key: i for i, key in reversed(list(enumerate(keys))) if key not in self._memo}.values())
        for start in range(0, len(missing), self.chunk):
            rows = missing[start : start + self.chunk]
            values = np.asarray(self.value_function(masks[rows]), dtype=np.float64).ravel()
            self.n_model_calls += len(rows)
            if self.disk is not None:
                self.disk.store(packed[rows], values)
            for i, value in zip(rows, values, strict=True):
                self._memo[keys[i]] = float(value)
        return np.array([self._memo[key] for key in keys], dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        describe = getattr(self.value_function, "describe", None)
        return dict(describe()) if callable(describe) else {}


def experiment_config(
    quick: bool, quick_config: dict[str, Any], full_config: dict[str, Any], fixed: dict[str, Any] | None = None,
    **sizes: Any,
) -> dict[str, Any]:
    """An experiment's configuration: its quick or full defaults, ``fixed`` settings, then every size given
    (``None``: keep the default)."""
    chosen = {key: value for key, value in sizes.items() if value is not None}
    return {**(quick_config if quick else full_config), "quick": quick, **(fixed or {}), **chosen}


def run_methods(
    shared: SharedAnswers,
    methods: Sequence[str],
    budget: int,
    *,
    random_state: int = 0,
    max_order: int | None = None,
) -> dict[str, Any]:
    """``method -> Explanation`` at ``budget`` fitted queries each (no held-out masks: see :func:`r2_on`)."""
    import warnings

    from ..api import explain

    out = {}
    for method in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # faithfulness is measured by the experiment itself
            out[method] = explain(
                shared,
                n_features=shared.n_features,
                method=method,
                budget=int(budget),
                max_order=max_order,
                random_state=random_state,
                holdout=0,
                progress=False,
            )
    return out


def test_masks(n_features: int, n_masks: int, random_state: int) -> np.ndarray:
    """Uniform random masks for faithfulness, drawn apart from every method's stream."""
    return np.random.default_rng([random_state, 7]).random((n_masks, n_features)) < 0.5


def r2_on(explanation: Any, masks: np.ndarray, values: np.ndarray) -> float:
    from ..algorithms.numerics import r2_score

    return r2_score(values, explanation.predict(masks))


def precision_at_k(scores: np.ndarray, relevant: Sequence[int], k: int) -> float:
    """Share of the ``k`` highest ``scores`` that are ``relevant`` (ties broken by lower index)."""
    top = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]
    return float(np.isin(top, list(relevant)).mean())


def rank_correlation(scores: np.ndarray, labels: np.ndarray) -> float:
    """Spearman correlation of ``scores`` with 0/1 ``labels`` (0.0 when either is constant)."""
    from scipy.stats import spearmanr

    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if np.ptp(scores) == 0 or np.ptp(labels) == 0:
        return 0.0
    return float(spearmanr(scores, labels).statistic)


def pair_scores(explanation: Any, n_features: int) -> np.ndarray:
    """Each feature's score from the surrogate's pair interactions: its largest Möbius pair term (>= 0)."""
    mobius = explanation.mobius
    score = np.zeros(n_features)
    for features, value in mobius.to_dict().items():
        if len(features) == 2 and value > 0:
            for i in features:
                score[i] = max(score[i], value)
    return score


@dataclass
class ExperimentResult:
    """One experiment's run: its rows (one dict per table line), the rendered table and a short reading."""

    name: str
    config: dict[str, Any]
    rows: list[dict[str, Any]]
    columns: list[str]
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def table(self) -> str:
        return markdown_table(self.rows, self.columns)

    def __str__(self) -> str:
        lines = [f"## experiment {self.name} ({'quick' if self.config.get('quick') else 'full'})", "", self.table]
        lines += ["", *(f"- {note}" for note in self.notes), f"- time: {self.seconds:.0f} s"]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.name, "config": self.config, "columns": self.columns, "rows": self.rows,
                "notes": self.notes, "extra": self.extra, "seconds": self.seconds}

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, default=_plain), encoding="utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return "n/a" if np.isnan(value) else f"{value:.3f}"
        return str(value)

    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def mean_rows(rows: Sequence[dict[str, Any]], keys: Sequence[str], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Rows averaged over everything but ``keys`` (e.g. over questions per method and budget), first-seen order.

    NaN entries (a metric that does not apply to a row) are left out of the mean; NaN when none applies.
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    out = []
    for key, members in groups.items():
        merged = dict(zip(keys, key, strict=True))
        for metric in metrics:
            values = np.array([m[metric] for m in members], dtype=np.float64)
            merged[metric] = float(values[~np.isnan(values)].mean()) if (~np.isnan(values)).any() else float("nan")
        merged["n"] = len(members)
        out.append(merged)
    return out


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
