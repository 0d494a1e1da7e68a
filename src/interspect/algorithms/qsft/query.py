"""Batched, de-duplicated, accounted access to a value function of q-ary inputs.

The binary :class:`~interspect.query.engine.QueryEngine` handles 0/1 masks; this is its q-ary counterpart.
Rows are keyed by their digits packed into 1, 2, 4 or 8 bits each and kept in a sorted array,
so de-duplication within and across calls is a sort and a ``searchsorted`` — no Python loop per row.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ...query.engine import QueryError, check_values
from ...transforms.qary import check_inputs, check_q

QaryValueFunction = Callable[[np.ndarray], np.ndarray]
_KEY_CHUNK = 1 << 16  # rows packed into keys at a time


class QaryQueryEngine:
    """Calls ``value_function`` on ``(m, n)`` int64 matrices with entries in ``0 … q-1`` in batches.

    ``n_queries`` counts distinct inputs requested (the cost), ``n_evaluated`` those sent to the model,
    ``model_time`` the seconds spent inside it. Outputs must be one finite number per input.
    """

    def __init__(self, value_function: QaryValueFunction, n_features: int, q: int, *, batch_size: int = 256) -> None:
        if not callable(value_function):
            raise TypeError("value_function must be callable: inputs (m, n) -> values (m,)")
        if int(n_features) < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.value_function = value_function
        self.n_features = int(n_features)
        self.q = check_q(q)
        self.batch_size = int(batch_size)
        # keys: each digit takes a byte of a row; `per_word` row words are OR-ed together at shifts of `bits`
        bits = next(b for b in (1, 2, 4, 8) if self.q <= 1 << b)
        self._bits, self._per_word = bits, 8 // bits
        self._width = -(-self.n_features // (8 * self._per_word)) * 8 * self._per_word  # padded row bytes
        self._key_dtype = np.dtype((np.void, self._width // self._per_word))
        self._keys = np.zeros(0, dtype=self._key_dtype)  # sorted, unique
        self._values = np.zeros(0)
        self._asked = np.zeros(0, dtype=bool)
        self.n_evaluated = 0
        self.model_time = 0.0

    @property
    def n_queries(self) -> int:
        """Distinct inputs requested so far."""
        return int(self._asked.sum())

    def _validate(self, x: np.ndarray) -> np.ndarray:
        arr = np.asarray(x)
        if arr.ndim == 2 and arr.dtype == np.uint8 and arr.shape[1] == self.n_features:
            if arr.size and arr.max() >= self.q:
                raise ValueError(f"inputs must lie in 0..{self.q - 1}")
            return arr
        return check_inputs(arr, self.n_features, self.q).astype(np.uint8)

    def _keys_of(self, x: np.ndarray) -> np.ndarray:
        """Exact keys: the row's digits, ``bits`` bits each, packed by bitwise ops on 64-bit words."""
        out = np.empty(len(x), dtype=self._key_dtype)
        for lo in range(0, len(x), _KEY_CHUNK):
            chunk = x[lo : lo + _KEY_CHUNK]
            buf = np.zeros((len(chunk), self._width), dtype=np.uint8)
            buf[:, : self.n_features] = chunk
            words = buf.view(np.uint64).reshape(len(chunk), -1, self._per_word)
            key = words[:, :, 0].copy()
            for j in range(1, self._per_word):
                key |= words[:, :, j] << np.uint64(j * self._bits)
            out[lo : lo + _KEY_CHUNK] = key.view(self._key_dtype).ravel()
        return out

    def _locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Insertion positions of ``keys`` in the store and whether each is already there."""
        pos = np.searchsorted(self._keys, keys)
        found = np.zeros(len(keys), dtype=bool)
        inside = pos < len(self._keys)
        found[inside] = self._keys[pos[inside]] == keys[inside]
        return pos, found

    def seen(self, x: np.ndarray) -> np.ndarray:
        """Whether each input row was already requested through this engine."""
        pos, found = self._locate(self._keys_of(self._validate(x)))
        found[found] = self._asked[pos[found]]
        return found

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Model values for each row of ``x``; only inputs never seen before reach the model."""
        x = self._validate(x)
        if len(x) == 0:
            return np.zeros(0)
        unique, first, inverse = np.unique(self._keys_of(x), return_index=True, return_inverse=True)
        pos, found = self._locate(unique)
        new = ~found
        if new.any():
            todo = x[first[new]]
            values = np.concatenate(
                [self._call_model(todo[lo : lo + self.batch_size]) for lo in range(0, len(todo), self.batch_size)]
            )
            # both sides are sorted: insert the new keys in place, then shift every position by the new keys before it
            at = pos[new]
            self._keys = np.insert(self._keys, at, unique[new])
            self._values = np.insert(self._values, at, values)
            self._asked = np.insert(self._asked, at, False)
            pos = pos + np.cumsum(new) - new
        self._asked[pos] = True
        return self._values[pos][inverse.ravel()]

    def _call_model(self, batch: np.ndarray) -> np.ndarray:
        batch = batch.astype(np.int64)
        start = time.perf_counter()
        try:
            raw = self.value_function(batch)
        except Exception as exc:
            raise QueryError(
                f"value function raised {type(exc).__name__}: {exc} on a batch of {len(batch)} inputs"
            ) from exc
        finally:
            self.model_time += time.perf_counter() - start
        self.n_evaluated += len(batch)
        return check_values(raw, batch, lambda rows: f"input {batch[rows[0]].tolist()}")
