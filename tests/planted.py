"""Planted functions with known transforms and exact R², shared by the algorithm tests (the oracles)."""

from __future__ import annotations

import itertools

import numpy as np

from interspect.transforms.qary import SparseQaryTransform
from interspect.transforms.sparse import SparseTransform


def planted_sparse(n: int, k: int, max_degree: int, seed: int, min_degree: int = 1) -> SparseTransform:
    """``k`` distinct random supports of degree ``min_degree..max_degree`` with coefficients of size 0.5–1.5."""
    rng = np.random.default_rng(seed)
    supports: dict[tuple[int, ...], float] = {(): float(rng.normal())}
    while len(supports) < k + 1:
        d = int(rng.integers(min_degree, max_degree + 1))
        s = tuple(sorted(rng.choice(n, d, replace=False).tolist()))
        supports.setdefault(s, float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)))
    return SparseTransform.from_dict(supports, n)


def planted_hierarchical(n: int, n_top: int, max_degree: int, seed: int) -> SparseTransform:
    """Random top-level interactions plus all their subsets (decaying weights): a hierarchical function."""
    rng = np.random.default_rng(seed)
    terms: dict[tuple[int, ...], float] = {(): float(rng.normal())}
    for _ in range(n_top):
        top = tuple(sorted(rng.choice(n, int(rng.integers(2, max_degree + 1)), replace=False).tolist()))
        for r in range(1, len(top) + 1):
            for sub in itertools.combinations(top, r):
                terms.setdefault(sub, float(rng.choice([-1, 1]) * rng.uniform(0.3, 1.0) * 0.8 ** (len(top) - r)))
    return SparseTransform.from_dict(terms, n)


def planted_qary(n: int, q: int, n_pairs: int, seed: int, max_degree: int = 3) -> SparseQaryTransform:
    """A real function with ``2 * n_pairs`` non-zero coefficients (each ``k`` with its conjugate ``-k``)."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((n_pairs, n), dtype=np.int64)
    degrees = rng.integers(1, max_degree + 1, size=n_pairs)
    for r, d in enumerate(degrees):
        rows[r, rng.choice(n, size=d, replace=False)] = rng.integers(1, q, size=d)
    coefs = rng.normal(size=n_pairs) + 1j * rng.normal(size=n_pairs)
    coefs *= 1 + np.abs(coefs)  # keep them away from zero
    if q == 2:
        return SparseQaryTransform(rows, coefs.real, n, q)
    return SparseQaryTransform(np.vstack([rows, (-rows) % q]), np.concatenate([coefs, coefs.conj()]), n, q)


def exact_r2(truth: SparseTransform, fitted: SparseTransform) -> float:
    """Exact R² over all ``2^n`` masks by Parseval (the mean term does not count as explained variance)."""
    return 1.0 - (fitted - truth).energy(include_empty=True) / truth.energy()


def assert_same(truth: SparseTransform, fit: SparseTransform, tol: float = 1e-8) -> None:
    """The fit has exactly the truth's supports (after dropping ``|F| <= tol``) and its coefficients."""
    got = fit.prune(tol=tol).to_dict()
    want = truth.to_dict()
    assert set(got) == set(want)
    assert np.allclose([got[s] for s in want], list(want.values()), atol=tol)
