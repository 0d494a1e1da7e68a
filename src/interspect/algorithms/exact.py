"""The exact method: every one of the ``2^n`` masks through the model, then one fast Walsh–Hadamard transform.

Ground truth for small ``n`` (``n <= 22``: four million masks). The complete transform has ``R² = 1``;
optional pruning (small coefficients, high degrees) trades that for a compact surrogate, and the R² of
what is kept is still exact by Parseval: ``1 - (energy dropped) / (energy of all non-empty terms)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..transforms.exact import all_masks, fourier_dense
from ..transforms.sparse import PAD, SparseTransform
from .base import FitResult

MAX_EXACT_FEATURES = 22


def fit_exact(
    engine: Any,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    tol: float = 0.0,
) -> FitResult:
    """Exact Fourier transform from all ``2^n`` masks (one batched engine call).

    Parameters
    ----------
    budget : int, optional
        Must allow ``2^n`` queries if given (the method cannot do with fewer).
    max_order : int, optional
        Keep only terms of degree ``<= max_order``; ``None`` keeps every degree.
    tol : float
        Drop terms with ``|F(T)| <= tol`` (the empty set is always kept).

    ``random_state`` is accepted for the common signature and unused. ``info["r2_exact"]`` is the exact R² of
    the returned (possibly pruned) transform against the model; 1.0 when nothing is pruned.
    """
    n = int(engine.n_features)
    if n > MAX_EXACT_FEATURES:
        raise ValueError(
            f"the exact method queries all 2^n masks and supports n <= {MAX_EXACT_FEATURES}, got n = {n}; "
            "use a sampling method such as proxyspex, spex or kernelshap"
        )
    if budget is not None and budget < (1 << n):
        raise ValueError(f"the exact method needs all 2^{n} = {1 << n:,} masks, but the budget is {budget:,}")
    if max_order is not None and (isinstance(max_order, bool) or int(max_order) < 0):
        raise ValueError(f"max_order must be a non-negative integer or None, got {max_order!r}")
    if not float(tol) >= 0.0:
        raise ValueError(f"tol must be non-negative, got {tol}")

    masks = all_masks(n)  # row s is the subset with bitmask s, as fourier_dense indexes coefficients
    coefs = fourier_dense(engine(masks))
    keep = np.abs(coefs) > float(tol)
    if max_order is not None:
        keep &= masks.sum(axis=1) <= int(max_order)
    keep[0] = True
    energy = coefs[1:] @ coefs[1:]
    dropped = coefs[~keep] @ coefs[~keep]
    r2 = 1.0 if energy <= 0.0 else float(1.0 - dropped / energy)
    fourier = SparseTransform(np.where(masks[keep], np.arange(n), PAD), coefs[keep], n)
    info = {"r2_exact": r2, "n_terms": len(fourier), "tol": float(tol), "max_order": max_order}
    return FitResult(fourier, info, None)
