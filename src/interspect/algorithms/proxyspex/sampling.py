"""The queries ProxySPEX pays for: distinct uniform masks (optionally with their complements)."""

from __future__ import annotations

import numpy as np

from ...contracts import Engine
from ..numerics import distinct_uniform_masks, row_bytes

#: smallest default budget: below ~64 masks even the singleton ridge has too few rows per feature to be useful
MIN_DEFAULT_BUDGET = 64


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
