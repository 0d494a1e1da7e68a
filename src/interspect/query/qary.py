"""The query engine for inputs whose features each take one of ``q`` values (``0 … q-1``).

Everything but the input type is the binary :class:`~.engine.QueryEngine`'s: de-duplication, batching, the
on-disk cache, progress and accounting. Inputs reach the model as ``uint8`` matrices (``q ≤ 256``), the
q-ary counterpart of the boolean masks the binary engine sends: a compact integer matrix that indexes tables
directly (convert with ``x.astype(int)`` before arithmetic that could leave ``0 … 255``). They are keyed by
their digits packed into 1, 2, 4 or 8 bits each.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..transforms.qary import check_inputs, check_q
from .engine import QueryEngine
from .store import pack_bytes

QaryValueFunction = Callable[[np.ndarray], np.ndarray]
_PACK_BYTES = 1 << 18  # digits packed at a time


class QaryQueryEngine(QueryEngine):
    """Calls ``value_function`` on ``(m, n)`` uint8 matrices with entries in ``0 … q-1`` in batches.

    ``n_queries`` counts distinct inputs requested (the cost), ``n_evaluated`` those sent to the model,
    ``model_time`` the seconds spent inside it. Outputs must be one finite number per input. Other
    parameters are those of :class:`~.engine.QueryEngine`.
    """

    unit = "input"

    def __init__(
        self,
        value_function: QaryValueFunction,
        n_features: int,
        q: int,
        *,
        batch_size: int = 256,
        cache: str | Path | None = None,
        cache_key: str | None = None,
        progress: bool | None = None,
        time_limit: float | None = None,
    ) -> None:
        self.q = check_q(q)
        self._bits = next(b for b in (1, 2, 4, 8) if self.q <= 1 << b)  # bits per digit
        super().__init__(
            value_function,
            n_features,
            batch_size=batch_size,
            cache=cache,
            cache_key=cache_key,
            progress=progress,
            time_limit=time_limit,
        )

    def _validate(self, x: np.ndarray) -> np.ndarray:
        """Inputs as ``uint8``; a ``uint8`` matrix passes as it is, its digits checked while :meth:`_words` packs
        them (block by block, in cache: one pass over a large design instead of two)."""
        arr = np.asarray(x)
        if arr.ndim == 2 and arr.dtype == np.uint8 and arr.shape[1] == self.n_features:
            return arr
        return check_inputs(arr, self.n_features, self.q).astype(np.uint8)

    def _check_digits(self, digits: np.ndarray) -> None:
        if digits.size and self.q < 256 and digits.max() >= self.q:
            raise ValueError(f"inputs must lie in 0..{self.q - 1}; found values up to {digits.max()}")

    def _n_words(self) -> int:
        n_bytes = -(-self.n_features * self._bits // 8)
        return -(-n_bytes // 8)

    def _words(self, x: np.ndarray) -> np.ndarray:
        """Digits packed ``p = 8 / bits`` to a byte, then bytes into words.

        Read as one ``8p``-bit integer, ``p`` digit bytes ``d_i`` times ``Σ_i 2^(8(p-1) - (8-bits)·i)`` put
        ``d_i`` at bit ``8(p-1) + bits·i``: the top byte is the packed byte, and the cross terms fall below it
        without overlapping (or above the word and vanish), so one multiply and one shift pack ``p`` digits.
        """
        p = 8 // self._bits
        if p == 1:  # a new array even when the digits are already whole words: the store keeps it
            self._check_digits(x)
            words = pack_bytes(x)
            return words.copy() if np.may_share_memory(words, x) else words
        word = np.dtype(f"uint{8 * p}")
        factor, shift = (
            word.type(sum(1 << (8 * (p - 1) - (8 - self._bits) * i) for i in range(p))),
            word.type(8 * (p - 1)),
        )
        n_bytes = -(-x.shape[1] // p)
        out = np.zeros((len(x), 8 * self._n_words()), dtype=np.uint8)
        rows = max(1, _PACK_BYTES // (n_bytes * p))  # row blocks small enough to stay in cache
        scratch = np.empty((min(rows, len(x)), n_bytes), dtype=word)  # one buffer for every block's product
        for lo in range(0, len(x), rows):
            self._check_digits(x[lo : lo + rows])
            block = _padded(x[lo : lo + rows], n_bytes * p).view(word)
            packed = np.multiply(block, factor, out=scratch[: len(block)])
            packed >>= shift
            out[lo : lo + rows, :n_bytes] = packed
        return out.view(np.uint64)

    def _unwords(self, words: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`_words`: digit ``i`` of a byte sits at bit ``bits · i``."""
        p, mask = 8 // self._bits, np.uint8((1 << self._bits) - 1)
        packed = words.view(np.uint8)[:, : -(-self.n_features // p)]
        shifts = (self._bits * np.arange(p)).astype(np.uint8)
        digits = (packed[:, :, None] >> shifts) & mask
        return np.ascontiguousarray(digits.reshape(len(words), -1)[:, : self.n_features])

    def _describe(self, x: np.ndarray, rows: np.ndarray) -> str:
        shown = [f"row {int(r)} = {x[r].tolist()}" for r in rows[:3]]
        return "; ".join(shown) + (f" (+{len(rows) - 3} more)" if len(rows) > 3 else "")


def _padded(x: np.ndarray, width: int) -> np.ndarray:
    """``x`` with zero columns appended up to ``width`` (``x`` itself when it is already that wide)."""
    if x.shape[1] == width and x.flags.c_contiguous:
        return x
    out = np.zeros((len(x), width), dtype=np.uint8)
    out[:, : x.shape[1]] = x
    return out
