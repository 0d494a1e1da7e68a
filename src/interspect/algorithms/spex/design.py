"""The SPEX query design: random subsampling matrices, BCH delays, the masks they imply, and bin hashing.

Group ``c`` has a random ``M_c`` in ``F_2^{n x b}``. Its queries are ``x = M_c l XOR d_p`` for every ``l`` in
``F_2^b`` and every delay row ``d_p`` (row 0 all-zero, rows 1..P the BCH parity columns). With the mask
convention ``f(x) = sum_k F(k) (-1)^<k, x>``, the ``2^b``-point Walsh–Hadamard transform over ``l`` of one
group and delay gives the bins ``U_{c,p}(j) = sum_{k : M_c^T k = j} F(k) (-1)^<d_p, k>``.

Groups may have fewer bits ``b_c < b`` (their ``M_c`` has zero columns past ``b_c``, so bins ``j >= 2^b_c`` stay
empty). Every group asks ``d_p`` itself at ``l = 0``, so the design has ``(P+1) (1 + sum_c (2^b_c - 1))``
distinct masks: a 1-bit group adds ``P + 1`` of them.
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
    matrices: np.ndarray  # (C, n, b) uint8: M_c (zero columns past b_c)
    bits: tuple[int, ...] = ()  # b_c per group (empty: b for every group)

    @classmethod
    def random(
        cls, code: BCHCode, b: int, n_groups: int, rng: np.random.Generator, small_bits: tuple[int, ...] = ()
    ) -> Design:
        """``n_groups`` groups of ``2^b`` bins, then one group of ``2^s`` bins per entry ``s`` of ``small_bits``."""
        matrices = rng.integers(0, 2, size=(int(n_groups), code.n_message, int(b)), dtype=np.uint8)
        if small_bits:
            extra = rng.integers(0, 2, size=(len(small_bits), code.n_message, int(b)), dtype=np.uint8)
            extra *= (np.arange(int(b))[None, None, :] < np.asarray(small_bits)[:, None, None]).astype(np.uint8)
            matrices = np.concatenate([matrices, extra])
        return cls(code, int(b), matrices, tuple([int(b)] * int(n_groups) + [int(s) for s in small_bits]))

    def __post_init__(self) -> None:
        if not self.bits:
            object.__setattr__(self, "bits", (self.b,) * self.n_groups)

    @property
    def n_groups(self) -> int:
        return self.matrices.shape[0]

    @cached_property
    def weights(self) -> np.ndarray:
        """``(C,)`` ``2^(b_c - b)``: a bin entry of group ``c`` averages ``2^b_c`` queries (its noise is ``1/w`` times
        that of a full group), so least squares over queries weights its bins by ``w``."""
        return np.exp2(np.asarray(self.bits, dtype=np.float64) - self.b)

    @cached_property
    def valid(self) -> np.ndarray:
        """``(C, 2^b)`` bool: bins that exist (``j < 2^b_c``)."""
        return np.arange(1 << self.b)[None, :] < (1 << np.asarray(self.bits, dtype=np.int64))[:, None]

    @cached_property
    def full_bins(self) -> np.ndarray:
        """``(C, 2^b)`` bool: the bins of the groups with all ``b`` bits, the ones refits use. A group with fewer
        bits holds more of the terms not found yet in each bin, which would bias every refitted coefficient (on noisy
        planted functions, refitting on them too lowers R²); it serves to split the terms that share a bin in every
        full group."""
        return self.valid & (np.asarray(self.bits) == self.b)[:, None]

    @property
    def n_distinct(self) -> int:
        """Distinct masks of the design: ``(P+1) (1 + sum_c (2^b_c - 1))``."""
        return self.n_delays * (1 + sum((1 << bc) - 1 for bc in self.bits))

    @property
    def n_delays(self) -> int:
        """``P + 1`` delay rows (the zero row and one per parity bit)."""
        return self.code.n_parity + 1

    @property
    def n_queries(self) -> int:
        """Masks asked group by group, ``(P+1) sum_c 2^b_c`` (the shared ``d_p`` counted once per group)."""
        return self.n_delays * sum(1 << bc for bc in self.bits)

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
            own = 1 << self.bits[c]  # points l >= 2^b_c repeat those below (M_c has zero columns there)
            base = parity[points[:own] & self.hashes[c, None, :n]]  # (2^b_c, n): bit i of M_c l is <row i of M_c, l>
            for lo in range(0, self.n_delays, per_call):
                block = (base[None, :, :] ^ delays[lo : lo + per_call, None, :]).view(bool).reshape(-1, n)
                answers = np.asarray(engine(block), dtype=np.float64).reshape(-1, own)
                values[c, lo : lo + per_call] = answers[:, points[:, 0] & (own - 1)]
        bins = np.ascontiguousarray(np.moveaxis(values, 2, 0)).reshape(size, -1)  # (2^b, C * (P+1))
        fwht(bins)
        bins /= size
        return np.moveaxis(bins.reshape(size, self.n_groups, self.n_delays), 0, 1).copy()
