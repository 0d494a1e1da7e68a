"""The SPEX query design: random subsampling matrices, BCH delays, the masks they imply, and bin hashing.

Group ``c`` has a random ``M_c`` in ``F_2^{n x b}``. Its queries are ``x = M_c l XOR d_p`` for every ``l`` in
``F_2^b`` and every delay row ``d_p`` (row 0 all-zero, rows 1..P the BCH parity columns). With the mask
convention ``f(x) = sum_k F(k) (-1)^<k, x>``, the ``2^b``-point Walsh–Hadamard transform over ``l`` of one
group and delay gives the bins ``U_{c,p}(j) = sum_{k : M_c^T k = j} F(k) (-1)^<d_p, k>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...transforms.exact import fwht
from .bch import BCHCode

_MASK_CHUNK = 1 << 24  # mask entries (rows x features) handed to the engine per call


@dataclass(frozen=True, eq=False)
class Design:
    """Subsampling matrices (as per-feature bin contributions) and the BCH code that supplies the delays."""

    code: BCHCode
    b: int
    matrices: np.ndarray  # (C, n, b) uint8: M_c

    @classmethod
    def random(cls, code: BCHCode, b: int, n_groups: int, rng: np.random.Generator) -> Design:
        matrices = rng.integers(0, 2, size=(int(n_groups), code.n_message, int(b)), dtype=np.uint8)
        return cls(code, int(b), matrices)

    @property
    def n_groups(self) -> int:
        return self.matrices.shape[0]

    @property
    def n_delays(self) -> int:
        """``P + 1`` delay rows (the zero row and one per parity bit)."""
        return self.code.n_parity + 1

    @property
    def n_queries(self) -> int:
        return self.n_groups * self.n_delays * (1 << self.b)

    def delays(self) -> np.ndarray:
        """``(P + 1, n)`` uint8 delay rows: zeros, then ``parity.T``."""
        zero = np.zeros((1, self.code.n_message), dtype=np.uint8)
        return np.ascontiguousarray(np.vstack([zero, self.code.parity.T]))

    @cached_property
    def hashes(self) -> np.ndarray:
        """``(C, n + 1)`` int64: bin index ``M_c^T e_i`` of each feature, plus a zero column for padding."""
        weights = np.left_shift(np.int64(1), np.arange(self.b, dtype=np.int64))
        h = (self.matrices.astype(np.int64) * weights).sum(axis=2)
        return np.hstack([h, np.zeros((self.n_groups, 1), dtype=np.int64)])

    def bins_of(self, idx: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Bin of each padded support: ``(r, C)`` for every group, or ``(r,)`` in ``groups[r]`` if given."""
        idx = np.asarray(idx)
        h = self.hashes
        if idx.shape[1] == 0:
            return np.zeros((len(idx),) if groups is not None else (len(idx), self.n_groups), dtype=np.int64)
        gather = np.where(idx < 0, self.code.n_message, idx)
        if groups is not None:
            return np.bitwise_xor.reduce(h[np.asarray(groups)[:, None], gather], axis=1)
        return np.bitwise_xor.reduce(h[:, gather], axis=2).T

    def signs_of(self, idx: np.ndarray) -> np.ndarray:
        """``(r, P + 1)`` signs ``(-1)^<d_p, k>`` of padded supports ``k`` (column 0 is always +1)."""
        par = self.code.parity_of(idx)
        out = np.ones((len(par), self.n_delays))
        out[:, 1:] -= 2.0 * par
        return out

    def query_bins(self, engine) -> np.ndarray:
        """Ask the engine every design mask and return the bins ``U`` with shape ``(C, 2^b, P + 1)``.

        Masks are generated and sent a few delay rows at a time so memory stays bounded at large ``n``.
        """
        n, size = self.code.n_message, 1 << self.b
        parity = np.zeros(1, dtype=np.uint8)  # parity[v] = popcount(v) mod 2, built by doubling
        while len(parity) < size:
            parity = np.concatenate([parity, 1 - parity])
        points = np.arange(size)[:, None]
        delays = self.delays()  # uint8 0/1: XOR on bytes is several times faster than on numpy bools
        per_call = max(1, _MASK_CHUNK // max(1, size * n))
        values = np.empty((self.n_groups, self.n_delays, size))
        for c in range(self.n_groups):
            base = parity[points & self.hashes[c, None, :n]]  # (2^b, n): bit i of M_c l is <row i of M_c, l>
            for lo in range(0, self.n_delays, per_call):
                block = (base[None, :, :] ^ delays[lo : lo + per_call, None, :]).view(bool).reshape(-1, n)
                values[c, lo : lo + per_call] = np.asarray(engine(block), dtype=np.float64).reshape(-1, size)
        bins = np.ascontiguousarray(np.moveaxis(values, 2, 0)).reshape(size, -1)  # (2^b, C * (P+1))
        fwht(bins)
        bins /= size
        return np.moveaxis(bins.reshape(size, self.n_groups, self.n_delays), 0, 1).copy()
