"""Bit-packed masks: the fitted queries at 1 bit per feature, and what the pipeline reads off them.

At ``n = 10,000`` and the default ``n log2 n`` budget a bool mask matrix takes 1.3 GB (and a float32 copy for
LightGBM 5.3 GB). Held packed, the same masks take 166 MB; the pipeline unpacks only what it needs: the
trees' rows (streamed to LightGBM in chunks), a few hundred validation rows, and parity designs, which are
XORs of packed feature rows (the parity of ``|T ∩ S|`` is the XOR of the bits of ``S``'s features).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...transforms.sparse import PAD

#: rows unpacked at a time where a whole pass over the masks is needed (about 16 MB of bools at n = 4,096)
CHUNK_CELLS = 1 << 24


def chunk_rows(n_features: int) -> int:
    """Rows per chunk: about ``CHUNK_CELLS`` cells, a multiple of 8 (so that chunks of packed columns align)."""
    return max(8, (CHUNK_CELLS // max(1, n_features)) // 8 * 8)


class PackedMasks:
    """``m`` masks over ``n`` features, 8 to a byte (``np.packbits`` layout, rows ``(m, ceil(n / 8))``)."""

    def __init__(self, bits: np.ndarray, n_features: int) -> None:
        self.bits = np.ascontiguousarray(bits, dtype=np.uint8)
        self.n_features = int(n_features)
        self._columns: np.ndarray | None = None

    @classmethod
    def from_bool(cls, masks: np.ndarray) -> PackedMasks:
        masks = np.asarray(masks, dtype=bool)
        return cls(np.packbits(masks, axis=1), masks.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.bits), self.n_features

    def __len__(self) -> int:
        return len(self.bits)

    def rows(self, index: Any = slice(None)) -> np.ndarray:
        """The masks of ``index`` (rows, a slice or a boolean selector) as a bool array."""
        return np.unpackbits(self.bits[index], axis=1, count=self.n_features).astype(bool)

    def subset(self, index: Any) -> PackedMasks:
        return PackedMasks(self.bits[index], self.n_features)

    def columns(self) -> np.ndarray:
        """``(n + 1, ceil(m / 8))`` packed feature rows (bit ``r`` of row ``i``: mask ``r`` keeps feature ``i``) and
        a final all-zero row, where ``PAD`` points; computed once, chunk by chunk."""
        if self._columns is None:
            m, n = self.shape
            cols = np.zeros((n + 1, (m + 7) // 8), dtype=np.uint8)
            step = chunk_rows(n)
            for lo in range(0, m, step):
                cols[:n, lo // 8 : (lo + step + 7) // 8] = np.packbits(self.rows(slice(lo, lo + step)).T, axis=1)
            self._columns = cols
        return self._columns

    def signed_sums(self, weights: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """``(n,)`` sums ``Σ_r w_r (-1)^{x_ri}`` over ``rows`` (a boolean selector; default all), chunk by chunk."""
        m, n = self.shape
        w = np.zeros(m) if rows is not None else np.asarray(weights, dtype=np.float64)
        if rows is not None:
            w[rows] = weights
        out = np.zeros(n)
        step = chunk_rows(n)
        for lo in range(0, m, step):
            out += (1.0 - 2.0 * self.rows(slice(lo, lo + step))).T @ w[lo : lo + step]
        return out

    def parity_design(self, idx: np.ndarray) -> np.ndarray:
        """``(m, k)`` float32 Fourier design ``(-1)^{|T ∩ S|}`` of supports ``idx`` (``PAD``-padded) on the masks.

        Same values as :func:`~..numerics.parity_design`; the XOR runs on packed bytes (8 masks per byte).
        """
        cols, m = self.columns(), len(self)
        idx = np.asarray(idx)
        if idx.ndim < 2 or idx.shape[1] == 0:
            return np.ones((m, len(idx)), dtype=np.float32)
        gather = np.where(idx == PAD, cols.shape[0] - 1, idx)
        acc = cols[gather[:, 0]]
        for j in range(1, gather.shape[1]):
            acc ^= cols[gather[:, j]]
        return (1.0 - 2.0 * np.unpackbits(acc, axis=1, count=m).astype(np.float32)).T


def as_packed(masks: np.ndarray | PackedMasks) -> PackedMasks:
    return masks if isinstance(masks, PackedMasks) else PackedMasks.from_bool(masks)


def lightgbm_rows(masks: PackedMasks, rows: np.ndarray) -> Any:
    """A ``lightgbm.Sequence`` of the masks ``rows`` as float32, unpacked a chunk at a time while LightGBM
    bins them (the float copy of every row is never held)."""
    import lightgbm as lgb

    class _Rows(lgb.Sequence):
        batch_size = chunk_rows(masks.n_features)

        def __len__(self) -> int:
            return len(rows)

        def __getitem__(self, index: Any) -> np.ndarray:
            picked = rows[index]
            if np.ndim(picked) == 0:  # LightGBM's bin sampling reads single rows, as float64
                return masks.rows([int(picked)])[0].astype(np.float64)
            return masks.rows(picked).astype(np.float32)

    return _Rows()
