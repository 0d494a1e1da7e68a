"""The exact method: every one of the ``2^n`` masks through the model, then one fast Walsh–Hadamard transform.

Ground truth for small ``n`` (``n <= MAX_EXACT_FEATURES``). The complete transform has ``R² = 1``; optional
truncation (``max_order``) or pruning (``tol``) trades that for a compact surrogate, says what it dropped,
and the R² of what is kept is still exact by Parseval: ``1 - (energy dropped) / (energy of all non-empty
terms)``.
"""

from __future__ import annotations

import numpy as np

from ..contracts import Engine, Faithfulness, FitResult
from ..transforms.exact import MAX_EXACT_FEATURES, all_masks, fourier_dense
from ..transforms.sparse import PAD, SparseTransform
from .numerics import r2_from_sums


def fit_exact(
    engine: Engine,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
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

    The transform is linear: values are divided by their largest magnitude for the sums and multiplied back
    (``tol`` is in the function's units). ``random_state``
    and ``n_jobs`` are accepted for the common signature and unused. The faithfulness is
    the exact R² of the returned transform; ``info["dropped_terms"]`` and ``info["dropped_energy_share"]``
    say what truncation and pruning removed (0 when nothing was).
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
    return transform_of_every_mask(np.asarray(engine(masks), dtype=np.float64), max_order, tol)


def transform_of_every_mask(values: np.ndarray, max_order: int | None = None, tol: float = 0.0) -> FitResult:
    """The exact (optionally truncated and pruned) transform from ``values[s] = f(mask with bitmask s)``.

    Any method holding every mask ends here (ProxySPEX too), so each is exact when it has seen everything.
    """
    n = len(values).bit_length() - 1
    masks = all_masks(n)
    magnitude = float(np.abs(values).max(initial=0.0)) or 1.0  # the transform's sums must not overflow
    coefs = fourier_dense(values / magnitude) * magnitude
    keep = np.abs(coefs) > float(tol)
    if max_order is not None:
        keep &= masks.sum(axis=1) <= int(max_order)
    keep[0] = True
    unit = coefs / magnitude  # energies in units of the magnitude, which no finite value can overflow
    energy = float(unit[1:] @ unit[1:])
    dropped = float(unit[~keep] @ unit[~keep])
    fourier = SparseTransform(np.where(masks[keep], np.arange(n), PAD), coefs[keep], n)
    info = {
        "n_terms": len(fourier),
        "tol": float(tol),
        "max_order": max_order,
        "dropped_terms": int((~keep).sum()),
        "dropped_energy_share": dropped / energy if energy > 0 else 0.0,
    }
    faithfulness = Faithfulness(r2_from_sums(dropped, energy), "exact", 1 << n)
    return FitResult(fourier, info, faithfulness, "exact")
