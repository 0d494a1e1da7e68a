"""The query engine: the only path from an algorithm to the model.

It validates masks, answers repeated masks (within a call, across calls, and from an on-disk cache of an
earlier, interrupted run) without touching the model, sends the rest in batches, validates what comes back,
and keeps exact accounts: distinct masks requested (the cost a method needs), masks actually evaluated,
and seconds spent inside the model. Masks are keyed by their bit-packed bytes; look-ups are sorted-array
searches, so no Python loop runs per mask.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .cache import DiskCache

ValueFunction = Callable[[np.ndarray], np.ndarray]


class QueryError(RuntimeError):
    """The value function failed or returned something unusable; the message names the masks."""


def _describe_masks(masks: np.ndarray, rows: np.ndarray, limit: int = 3) -> str:
    shown = [f"row {int(r)} keeps {np.flatnonzero(masks[r]).tolist()}" for r in rows[:limit]]
    more = f" (+{len(rows) - limit} more)" if len(rows) > limit else ""
    return "; ".join(shown) + more


def check_values(raw: object, batch: np.ndarray, describe: Callable[[np.ndarray], str]) -> np.ndarray:
    """What a model returned for ``batch`` as ``(len(batch),)`` finite floats, or a :class:`QueryError`.

    ``describe(rows)`` names the offending inputs in the message. Shared by the binary and q-ary engines.
    """
    try:
        values = np.asarray(raw)
        if np.iscomplexobj(values):
            raise TypeError("complex output")
        values = values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"value function returned {type(raw).__name__}, not numbers: expected real numbers") from exc
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.shape != (len(batch),):
        raise QueryError(
            f"value function returned shape {values.shape} for a batch of {len(batch)} inputs;"
            f" expected ({len(batch)},) — one number per input"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise QueryError(
            f"value function returned {len(bad)} non-finite value(s) (e.g. {values[bad[0]]}) for: " + describe(bad)
        )
    return values


class QueryEngine:
    """Batched, de-duplicated, cached and accounted access to a value function.

    Parameters
    ----------
    value_function : callable
        Takes an ``(m, n)`` boolean mask matrix (``True`` keeps a feature) and returns ``m`` numbers.
    n_features : int
        Number of features ``n``.
    batch_size : int
        Largest number of masks sent to the model in one call.
    cache : path, optional
        SQLite file that stores every answer as soon as its batch returns; a rerun with the same
        ``cache_key`` resumes without repeating a completed query.
    cache_key : str, optional
        Fingerprint of the value function and its input. Defaults to ``value_function.fingerprint``.
    progress : bool, optional
        Show a progress bar with ETA; by default only when stderr is a terminal.
    """

    def __init__(
        self,
        value_function: ValueFunction,
        n_features: int,
        *,
        batch_size: int = 256,
        cache: str | Path | None = None,
        cache_key: str | None = None,
        progress: bool | None = None,
    ) -> None:
        if not callable(value_function):
            raise TypeError("value_function must be callable: masks (m, n) -> values (m,)")
        if int(n_features) < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.value_function = value_function
        self.n_features = int(n_features)
        self.batch_size = int(batch_size)
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self._key_bytes = (self.n_features + 7) // 8
        self._key_dtype = np.dtype((np.void, self._key_bytes))
        self._keys = np.zeros(0, dtype=self._key_dtype)  # sorted, unique
        self._values = np.zeros(0)
        self._asked = np.zeros(0, dtype=bool)
        self.n_evaluated = 0
        self.model_time = 0.0
        self.disk: DiskCache | None = None
        if cache is not None:
            fingerprint = cache_key or getattr(value_function, "fingerprint", None)
            self.disk = DiskCache(cache, fingerprint)
            packed, values = self.disk.load(self._key_bytes)
            self._merge(self._as_keys(packed), values)

    # ------------------------------------------------------------------ accounting
    @property
    def n_queries(self) -> int:
        """Distinct masks requested so far: what the explanation cost, whether or not the cache answered.

        ``n_queries - n_evaluated`` of them were answered from the on-disk cache of an earlier run.
        """
        return int(self._asked.sum())

    def seen(self, masks: np.ndarray) -> np.ndarray:
        """Whether each mask was already requested through this engine (e.g. to keep held-out masks fresh)."""
        x = self._validate_masks(masks)
        pos, found = self._locate(self._as_keys(np.packbits(x, axis=1)))
        return found & self._asked[pos] if len(self._asked) else found

    # ------------------------------------------------------------------ querying
    def __call__(self, masks: np.ndarray) -> np.ndarray:
        """Model values for each row of ``masks``, querying the model only for masks never seen before."""
        x = self._validate_masks(masks)
        if len(x) == 0:
            return np.zeros(0)
        keys = self._as_keys(np.packbits(x, axis=1))
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        pos, found = self._locate(unique)
        todo = first[~found]
        if len(todo):
            self._evaluate(x[todo], keys[todo])
            pos, found = self._locate(unique)
        self._asked[pos] = True
        return self._values[pos][inverse.ravel()]

    def _validate_masks(self, masks: np.ndarray) -> np.ndarray:
        x = np.asarray(masks)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"masks must have shape (m, {self.n_features}), got {x.shape}")
        if x.dtype != bool:
            if not np.isin(x, (0, 1)).all():
                raise ValueError("masks must contain only 0/1 (or booleans)")
            x = x.astype(bool)
        return x

    def _as_keys(self, packed: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(packed, dtype=np.uint8).view(self._key_dtype).ravel()

    def _locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.searchsorted(self._keys, keys)
        found = np.zeros(len(keys), dtype=bool)
        inside = pos < len(self._keys)
        found[inside] = self._keys[pos[inside]] == keys[inside]
        return np.minimum(pos, max(len(self._keys) - 1, 0)), found

    def _merge(self, keys: np.ndarray, values: np.ndarray) -> None:
        all_keys = np.concatenate([self._keys, keys])
        order = np.argsort(all_keys, kind="stable")
        self._keys = all_keys[order]
        self._values = np.concatenate([self._values, values])[order]
        self._asked = np.concatenate([self._asked, np.zeros(len(keys), dtype=bool)])[order]

    def _evaluate(self, masks: np.ndarray, keys: np.ndarray) -> None:
        """Send masks to the model batch by batch; every finished batch is kept even if a later one fails.

        Answers are merged into the sorted store once per call (also when a batch fails), and written to the
        disk cache as each batch returns.
        """
        from tqdm.auto import tqdm

        bar = tqdm(total=len(masks), unit="query", desc="model queries", disable=not self.progress, leave=False)
        answers: list[np.ndarray] = []
        done = 0
        try:
            for lo in range(0, len(masks), self.batch_size):
                batch = masks[lo : lo + self.batch_size]
                values = self._call_model(batch)
                answers.append(values)
                if self.disk is not None:
                    self.disk.store(np.packbits(batch, axis=1), values)
                done += len(batch)
                bar.update(len(batch))
        finally:
            if answers:
                self._merge(keys[:done], np.concatenate(answers))
            self.n_evaluated += done
            bar.close()

    def _call_model(self, batch: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        try:
            raw = self.value_function(batch.copy())
        except Exception as exc:
            raise QueryError(
                f"value function raised {type(exc).__name__}: {exc} on a batch of {len(batch)} masks "
                f"({_describe_masks(batch, np.arange(len(batch)))})"
            ) from exc
        finally:
            self.model_time += time.perf_counter() - start
        return check_values(raw, batch, lambda rows: _describe_masks(batch, rows))

    def close(self) -> None:
        if self.disk is not None:
            self.disk.close()
