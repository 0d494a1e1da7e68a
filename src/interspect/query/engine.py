"""The query engine: the only path from an algorithm to the model.

It validates masks, answers repeated masks (within a call, across calls, and from an on-disk cache of an
earlier, interrupted run) without touching the model, sends the rest in batches, validates what comes back,
and keeps exact accounts: distinct masks requested (the cost a method needs), masks actually evaluated,
and seconds spent inside the model. Inputs are keyed by their packed bits in an :class:`~.store.AnswerStore`
(hash-sorted, exact), so no Python loop runs per input. :class:`~.qary.QaryQueryEngine` is the same engine for
inputs whose features take ``q`` values.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .cache import DiskCache
from .store import AnswerStore, pack_bytes

ValueFunction = Callable[[np.ndarray], np.ndarray]


class _NoBar:
    """Stands in for a disabled progress bar (building a disabled ``tqdm`` costs more than a small call's work)."""

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


_NO_BAR = _NoBar()


def _progress_bar(total: int, unit: str, enabled: bool):
    """A ``tqdm`` bar over ``total`` model queries, or a do-nothing stand-in when progress is off."""
    if not enabled:
        return _NO_BAR
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, desc="model queries", leave=False)


class QueryError(RuntimeError):
    """The value function failed or returned something unusable; the message names the masks."""


def _describe_masks(masks: np.ndarray, rows: np.ndarray, limit: int = 3) -> str:
    shown = [f"row {int(r)} keeps {np.flatnonzero(masks[r]).tolist()}" for r in rows[:limit]]
    more = f" (+{len(rows) - limit} more)" if len(rows) > limit else ""
    return "; ".join(shown) + more


def check_masks(masks: object, n_features: int) -> np.ndarray:
    """``masks`` as an ``(m, n_features)`` bool matrix (``True`` keeps a feature), or a ValueError.

    The one mask check shared by the query engine and every front-end.
    """
    x = np.asarray(masks)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(f"masks must have shape (m, {n_features}), got {x.shape}")
    if x.dtype != bool:
        if not np.isin(x, (0, 1)).all():
            raise ValueError("masks must contain only 0/1 (or booleans)")
        x = x.astype(bool)
    return x


def _not_a_number(value: object) -> bool:
    return value is None or isinstance(value, str | bytes)


def check_values(raw: object, batch: np.ndarray, describe: Callable[[np.ndarray], str]) -> np.ndarray:
    """What a model returned for ``batch`` as ``(len(batch),)`` finite floats, or a :class:`QueryError`.

    ``describe(rows)`` names the offending inputs in the message. Shared by the binary and q-ary engines.
    """
    try:
        values = np.asarray(raw)
        if np.iscomplexobj(values):
            raise TypeError("complex output")
        if values.dtype.kind in "USV" or (values.dtype.kind == "O" and any(map(_not_a_number, values.flat))):
            raise TypeError("text or None")  # "1.0" would convert, but a model answering in text is a bug
        values = values.astype(np.float64, copy=False)  # the engine copies answers into its store
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
    time_limit : float, optional
        Wall-clock seconds the engine may run, counted from its creation: past them the next batch raises a
        :class:`QueryError` instead of calling the model (answers so far are kept, and cached), so a slow or
        stalling model ends a run in bounded time. ``None``: no limit.
    """

    unit = "mask"

    def __init__(
        self,
        value_function: ValueFunction,
        n_features: int,
        *,
        batch_size: int = 256,
        cache: str | Path | None = None,
        cache_key: str | None = None,
        progress: bool | None = None,
        time_limit: float | None = None,
    ) -> None:
        if not callable(value_function):
            raise TypeError(f"value_function must be callable: {self.unit}s (m, n) -> values (m,)")
        if int(n_features) < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.value_function = value_function
        self.n_features = int(n_features)
        self.batch_size = int(batch_size)
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        if time_limit is not None and not float(time_limit) > 0:
            raise ValueError(f"time_limit must be a positive number of seconds or None, got {time_limit!r}")
        self.time_limit = None if time_limit is None else float(time_limit)
        self._started = time.monotonic()
        self._store = AnswerStore(self._n_words())
        self.n_evaluated = 0
        self.model_time = 0.0
        self.disk: DiskCache | None = None
        if cache is not None:
            fingerprint = cache_key or getattr(value_function, "fingerprint", None)
            self.disk = DiskCache(cache, fingerprint)
            packed, values = self.disk.load(8 * self._store.n_words)
            words = packed.view(np.uint64)
            d = self._store.distinct(words)
            self._store.insert(words, values[d.first], hashes=d.sorted_hashes, rows=d.first)

    # ------------------------------------------------------------------ what subclasses change
    def _validate(self, masks: np.ndarray) -> np.ndarray:
        """The checked ``(m, n)`` input matrix in the dtype the model receives."""
        return check_masks(masks, self.n_features)

    def _n_words(self) -> int:
        """Words ``W`` per packed input."""
        return -(-self.n_features // 64)

    def _words(self, x: np.ndarray) -> np.ndarray:
        """Validated inputs packed exactly into a new ``(m, W)`` uint64 array (the store's keys; it may keep them)."""
        return pack_bytes(np.packbits(x, axis=1))

    def _unwords(self, words: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`_words`: the inputs of packed rows."""
        return np.unpackbits(words.view(np.uint8), axis=1, count=self.n_features).view(bool)

    def _describe(self, x: np.ndarray, rows: np.ndarray) -> str:
        """Names of the inputs ``x[rows]`` for error messages."""
        return _describe_masks(x, rows)

    # ------------------------------------------------------------------ accounting
    @property
    def n_queries(self) -> int:
        """Distinct inputs requested so far: what the explanation cost, whether or not the cache answered.

        ``n_queries - n_evaluated`` of them were answered from the on-disk cache of an earlier run.
        """
        return int(self._store.asked.sum())

    def answered(self) -> tuple[np.ndarray, np.ndarray]:
        """Every input requested through this engine and its value, in the order they were first stored: what a
        later fit can reuse without asking the model again (e.g. ``auto`` refitting on a SPEX design's masks)."""
        store = self._store
        slots = np.sort(store.slot[store.asked])
        position = np.empty(len(store.slot), dtype=np.intp)
        position[store.slot] = np.arange(len(store.slot))  # sorted position of each arrival slot
        return self._unwords(store.words[slots]), store.values[position[slots]]

    def seen(self, masks: np.ndarray) -> np.ndarray:
        """Whether each input was already requested through this engine (e.g. to keep held-out masks fresh)."""
        pos, found = self._store.locate(self._words(self._validate(masks)))
        found[found] = self._store.asked[pos[found]]
        return found

    # ------------------------------------------------------------------ querying
    def __call__(self, masks: np.ndarray, *, scratch: bool = False) -> np.ndarray:
        """Model values for each row of ``masks``, querying the model only for inputs never seen before.

        The model receives copies of the caller's rows (it may modify them freely), except with ``scratch=True``:
        the caller promises never to read ``masks`` again, so slices of it are sent as they are.
        """
        x = self._validate(masks)
        if len(x) == 0:
            return np.zeros(0)
        words = self._words(x)
        batch = self._store.distinct(words)
        first = batch.first
        pos, found = self._store.locate(words, batch.sorted_hashes, rows=first)
        if not found.all():
            was_empty = len(self._store) == 0
            # the model may write into its batches: they are slices of x only where nobody else reads x
            owned = scratch or not (isinstance(masks, np.ndarray) and np.may_share_memory(x, masks))
            new = ~found
            answers = self._evaluate(x, first[new], batch.sorted_hashes[new], words, owned)
            if was_empty and len(self._store) == len(first):  # the store is these rows, in their order in first
                self._store.asked[:] = True
                # a first call of distinct rows: the answers are in input order already
                return answers if batch.all_distinct else self._store.values[batch.inverse]
            pos = self._store.positions(words, batch.sorted_hashes, first)
        self._store.asked[pos] = True
        return self._store.values[pos][batch.inverse]

    def _evaluate(
        self, x: np.ndarray, rows: np.ndarray, hashes: np.ndarray, words: np.ndarray, owned: bool
    ) -> np.ndarray:
        """Send ``x[rows]`` (``hashes`` theirs) to the model batch by batch; every finished batch is kept even if a
        later one fails. Returns the answers in input order.

        ``rows`` come in hash order; the model sees them in input order (sequential reads of ``x``). Answers
        join the in-memory store once per call (also when a batch fails), and the disk cache as each batch
        returns. Batches are slices of ``x`` when its rows are consecutive and ``owned`` (nobody else reads ``x``),
        else copies.
        """
        every = len(rows) == len(x)  # every row is new and distinct (a first call): answers line up with x
        if every:
            todo = np.arange(len(x))
        else:
            todo = np.zeros(len(x), dtype=bool)
            todo[rows] = True
            todo = np.flatnonzero(todo)
            rank = np.empty(len(x), dtype=np.intp)
            rank[todo] = np.arange(len(todo))
        bar = _progress_bar(len(todo), self.unit, self.progress)
        answers: list[np.ndarray] = []
        done = 0
        try:
            for lo in range(0, len(todo), self.batch_size):
                self._check_time(done, len(todo))
                batch = todo[lo : lo + self.batch_size]
                contiguous = batch[-1] - batch[0] == len(batch) - 1
                if contiguous:
                    rows_x = x[batch[0] : batch[-1] + 1] if owned else x[batch[0] : batch[-1] + 1].copy()
                else:
                    rows_x = np.take(x, batch, axis=0)
                values = self._call_model(rows_x)
                answers.append(values)
                if self.disk is not None:
                    self.disk.store(np.take(words, batch, axis=0).view(np.uint8), values)
                done += len(batch)
                bar.update(len(batch))
        finally:
            answered = np.concatenate(answers) if answers else np.zeros(0)
            if answers:
                kept = slice(None) if done == len(todo) else (rows < done if every else rank[rows] < done)
                where = rows[kept] if every else rank[rows[kept]]
                self._store.insert(words, answered[where], hashes=hashes[kept], rows=rows[kept])
            self.n_evaluated += done
            bar.close()
        return answered

    def _check_time(self, done: int, total: int) -> None:
        """Raise a :class:`QueryError` once the engine has run longer than ``time_limit``."""
        if self.time_limit is None:
            return
        elapsed = time.monotonic() - self._started
        if elapsed > self.time_limit:
            kept = " (kept in the cache: rerun to resume)" if self.disk is not None else ""
            raise QueryError(
                f"time_limit={self.time_limit:g}s reached after {elapsed:.1f}s: {done} of {total} new {self.unit}s "
                f"of this call were answered{kept}"
            )

    def _call_model(self, batch: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        try:
            raw = self.value_function(batch)
        except Exception as exc:
            raise QueryError(
                f"value function raised {type(exc).__name__}: {exc} on a batch of {len(batch)} {self.unit}s "
                f"({self._describe(batch, np.arange(len(batch)))})"
            ) from exc
        finally:
            self.model_time += time.perf_counter() - start
        return check_values(raw, batch, lambda rows: self._describe(batch, rows))

    def close(self) -> None:
        if self.disk is not None:
            self.disk.close()
