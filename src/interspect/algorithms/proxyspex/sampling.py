"""The queries ProxySPEX pays for: distinct uniform masks (optionally with their complements)."""

from __future__ import annotations

import numpy as np

from ...contracts import Engine
from ..numerics import distinct_uniform_masks, row_bytes, uniform_masks
from .packed import PackedMasks, chunk_rows

#: smallest default budget: below ~64 masks even the singleton ridge has too few rows per feature to be useful
MIN_DEFAULT_BUDGET = 64
#: above this many cells (masks x features) the masks are drawn, queried and kept packed, a chunk at a time
PACKED_MIN_CELLS = 1 << 26


def default_budget(n_features: int) -> int:
    """``n log2 n`` queries (the ProxySPEX paper's largest multiplier), at least ``MIN_DEFAULT_BUDGET``."""
    return int(max(MIN_DEFAULT_BUDGET, np.ceil(n_features * np.log2(max(n_features, 2)))))


def query_masks(
    engine: Engine,
    budget: int,
    rng: np.random.Generator,
    *,
    paired: bool = False,
    known: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``budget`` new distinct uniform masks and their values, after the ``known`` masks and values (e.g.
    ``auto``'s pilot) when given; masks drawn twice are queried and returned once."""
    n = int(engine.n_features)
    fresh = distinct_uniform_masks(budget, n, rng, paired=paired)
    if known is None:
        return fresh, engine(fresh)
    known_masks = np.asarray(known[0], dtype=bool)
    fresh = fresh[~np.isin(row_bytes(fresh), row_bytes(known_masks))]
    return np.vstack([known_masks, fresh]), np.concatenate([np.asarray(known[1], dtype=np.float64), engine(fresh)])


def query_packed_masks(
    engine: Engine, budget: int, rng: np.random.Generator, *, paired: bool = False
) -> tuple[PackedMasks, np.ndarray]:
    """:func:`query_masks` without ``known``, the masks returned packed; above ``PACKED_MIN_CELLS`` cells they
    are drawn (the same random stream as :func:`~..numerics.distinct_uniform_masks` when no mask repeats),
    queried and packed a chunk at a time, so no ``(budget, n)`` bool matrix is ever held."""
    n = int(engine.n_features)
    if budget * n <= PACKED_MIN_CELLS or n < 63:
        x, y = query_masks(engine, budget, rng, paired=paired)
        return PackedMasks.from_bool(x), y
    step = chunk_rows(n)
    bits, values, seen = [], [], set()  # hashes of the rows so far: a collision only redraws a mask
    have = 0
    while have < budget:
        want = min(step, budget - have)
        draw = uniform_masks((want + 1) // 2 if paired else want, n, rng)
        if paired:
            draw = np.stack([draw, ~draw], axis=1).reshape(-1, n)[:want]
        packed = np.packbits(draw, axis=1)
        fresh = []
        for i, key in enumerate(map(hash, map(bytes, packed))):
            if key not in seen:
                seen.add(key)
                fresh.append(i)
        draw, packed = draw[fresh], packed[fresh]
        values.append(np.asarray(engine(draw), dtype=np.float64))
        bits.append(packed)
        have += len(fresh)
    return PackedMasks(np.vstack(bits), n), np.concatenate(values)
