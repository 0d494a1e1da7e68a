"""Final least-squares / ridge refit of a recovered support on every SPEX query, done in the bin domain.

Within one group and delay the ``2^b`` queries and their bins are related by an orthogonal transform
(``y = 2^b``-scaled Walsh–Hadamard of ``U``), so by Parseval
``sum_l (y_l - g(x_l))^2 = 2^b sum_j (U(j) - G(j))^2`` for any candidate ``g``. Least squares over all
``(P+1) sum_c 2^b_c`` queries is therefore least squares over the bins, group ``c`` weighted by ``2^b_c``, where
each coefficient ``k`` enters one bin per group with the sign pattern ``(-1)^<d_p, k>``: a sparse design with
``C (P+1)`` entries per column.
That keeps the refit cheap even with all ``n`` singletons included at ``n = 10,000``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .design import Design

_DENSE_LIMIT = 300  # solve the normal equations densely up to this many coefficients, by CG beyond
_DENSE_FALLBACK = 4000  # largest system re-solved densely when CG does not converge


@dataclass
class Refit:
    coefs: np.ndarray
    noise: float  # residual variance of one bin entry (0 when the fit is exact or saturated)
    stderr: np.ndarray  # approximate standard error of each coefficient
    r2_bins: float  # in-sample R² over all queries (excluding the mean)


def _design_matrix(design: Design, idx: np.ndarray, scale: np.ndarray) -> sp.csc_matrix:
    """Sparse ``(C 2^b (P+1), K)`` matrix: column ``k`` holds ``scale[c, bin] * (-1)^<d_p, k>`` in its bin of
    every group."""
    n_groups, size, n_delays = design.n_groups, 1 << design.b, design.n_delays
    bins = design.bins_of(idx)  # (K, C)
    signs = design.signs_of(idx)  # (K, P+1)
    k = len(idx)
    rows = ((np.arange(n_groups)[None, :] * size + bins) * n_delays)[:, :, None] + np.arange(n_delays)
    data = signs[:, None, :] * scale[np.arange(n_groups)[None, :], bins][:, :, None]
    cols = np.broadcast_to(np.arange(k)[:, None, None], rows.shape)
    return sp.csc_matrix((data.ravel(), (rows.ravel(), cols.ravel())), shape=(n_groups * size * n_delays, k))


def refit_bins(
    design: Design, bins: np.ndarray, idx: np.ndarray, alpha: float = 0.0, use: np.ndarray | None = None
) -> Refit:
    """Coefficients of the padded supports ``idx`` (the empty support must be one of them) fitted to ``bins``.

    ``alpha`` is the ridge strength on the same scale as :func:`~interspect.algorithms.numerics.ridge`
    (penalty ``alpha * (number of queries)`` on a ±1 design); the empty set is not penalised. ``use``
    (``(C, 2^b)`` bool) restricts the fit to those bins; every support must keep at least one of them.
    """
    scale = np.sqrt(design.weights)[:, None] * (design.valid if use is None else design.valid & use)
    a = _design_matrix(design, idx, scale)
    u = (np.asarray(bins, dtype=np.float64) * scale[:, :, None]).reshape(-1)
    gram = (a.T @ a).tocsr()
    rhs = a.T @ u
    degrees = (np.asarray(idx) >= 0).sum(axis=1)
    penalty = np.where(degrees == 0, 0.0, float(alpha) * float(design.weights.sum()) * design.n_delays)
    gram = gram + sp.diags(penalty)
    diag = gram.diagonal()
    if len(idx) <= _DENSE_LIMIT:
        dense = gram.toarray()
        try:
            factor = scipy.linalg.cho_factor(dense)
            coefs = scipy.linalg.cho_solve(factor, rhs)
            inv_diag = np.diag(scipy.linalg.cho_solve(factor, np.eye(len(idx))))
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            coefs = np.linalg.lstsq(dense, rhs, rcond=None)[0]
            inv_diag = np.diag(np.linalg.pinv(dense))
    else:  # the Gram matrix is sparse and close to diagonal (C (P+1) on the diagonal): CG converges fast
        precond = sp.diags(1.0 / np.maximum(diag, 1e-300))
        coefs, status = spla.cg(gram, rhs, rtol=1e-12, atol=0.0, maxiter=1000, M=precond)
        if status != 0 and len(idx) <= _DENSE_FALLBACK:
            coefs = np.linalg.lstsq(gram.toarray(), rhs, rcond=None)[0]
        # variance inflation from sharing a bin with ``load`` other columns of ±1 signs over P + 1 delays
        # (the mean of an inverse Wishart), instead of inverting a large Gram matrix
        load = len(idx) / (1 << design.b)
        inv_diag = design.n_delays / max(design.n_delays - load - 1.0, 1.0) / np.maximum(diag, 1e-300)
    fitted = a @ coefs
    rss = float(np.sum((u - fitted) ** 2))
    dof = int(np.count_nonzero(scale)) * design.n_delays - len(idx)
    noise = rss / dof if dof > 0 else 0.0
    empty = np.flatnonzero(degrees == 0)
    centred = u - (a[:, empty] @ coefs[empty] if len(empty) else 0.0)
    tss = float(np.sum(centred**2))
    return Refit(
        coefs=coefs,
        noise=noise,
        stderr=np.sqrt(noise * np.maximum(inv_diag, 0.0)),
        r2_bins=1.0 - rss / tss if tss > 0 else 1.0,
    )
