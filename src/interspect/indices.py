"""Shapley, Banzhaf and interaction indices read off a sparse Fourier (or Möbius) transform.

Every index here is linear in the Möbius transform: ``I(S) = sum_{T >= S} m(T) w(|T|, |S|)`` for
``|S| <= order`` with a weight that depends only on the two sizes (and the order). Substituting
``m(T) = (-2)^|T| sum_{R >= T} F(R)`` gives the same shape over the Fourier transform,
``I(S) = sum_{R >= S} F(R) g(|R|, |S|)`` with ``g(r, s) = sum_t C(r-s, t-s) (-2)^t w(t, s)``. Both weight
tables are built in exact rational arithmetic (they are tiny: degree x order), so an index costs one pass
over the subsets of size ``<= order`` of each support — never an enumeration of ``2^n`` sets and no
Fourier->Möbius blow-up. Conventions (masks, signs, the empty set) are those of ``docs/math.md``.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from itertools import combinations
from math import comb

import numpy as np

from .transforms.sparse import PAD, SparseTransform, pad_columns, support_keys

_MAX_TERMS = 1 << 26  # subset terms an index may expand into before refusing (~2 GB of work arrays)

#: canonical index names, in the order the documentation lists them
INDICES = ("mobius", "fourier", "sii", "bii", "stii", "fsii", "fbii", "k-sii")
_ALIASES = {"mobius": "mobius", "moebius": "mobius", "möbius": "mobius", "fourier": "fourier", "ksii": "k-sii"}
_ALIASES.update({name: name for name in ("sii", "bii", "stii", "fsii", "fbii")})


def canonical_index(index: str) -> str:
    """Normalise an index name: case, dashes, underscores and spaces are ignored (``"k_SII"`` -> ``"k-sii"``)."""
    key = str(index).lower().replace("-", "").replace("_", "").replace(" ", "")
    if key not in _ALIASES:
        raise ValueError(f"unknown interaction index {index!r}; choose one of {', '.join(INDICES)}")
    return _ALIASES[key]


# --------------------------------------------------------------------------- weight tables
@cache
def _bernoulli(m: int) -> tuple[Fraction, ...]:
    """Bernoulli numbers ``B_0 .. B_m`` with ``B_1 = -1/2`` (the convention of Bordt & von Luxburg)."""
    b = [Fraction(1)]
    for j in range(1, m + 1):
        b.append(-sum((comb(j + 1, i) * b[i] for i in range(j)), Fraction(0)) / (j + 1))
    return tuple(b)


def _mobius_weight(index: str, t: int, s: int, k: int) -> Fraction:
    """Share of a Möbius dividend on a set of size ``t`` given to each of its subsets of size ``s <= k``."""
    if s > t:
        return Fraction(0)
    if index == "mobius":
        return Fraction(int(t == s))
    if index == "sii":  # Grabisch & Roubens 1999
        return Fraction(1, t - s + 1)
    if index == "bii":
        return Fraction(1, 2 ** (t - s))
    if index == "fourier":  # F(S) = (-1)^|S| sum_{T >= S} 2^-|T| m(T)
        return Fraction((-1) ** s, 2**t)
    if t <= k:  # the efficient indices keep a low-order dividend where it is
        return Fraction(int(t == s))
    if index == "stii":  # Sundararajan et al. 2020: split evenly over the size-k subsets
        return Fraction(1, comb(t, k)) if s == k else Fraction(0)
    if index == "fsii":  # Tsai, Yeh & Ravikumar 2023, Theorem 19
        return (-1) ** (k - s) * Fraction(s, k + s) * comb(k, s) * Fraction(comb(t - 1, k), comb(t + k - 1, k + s))
    if index == "fbii":  # Möbius transform of the degree-<=k Fourier truncation
        return (-1) ** (k - s) * Fraction(comb(t - s - 1, k - s), 2 ** (t - s))
    if index == "k-sii":  # Bordt & von Luxburg 2023: SII aggregated once with Bernoulli numbers
        if s == 0:
            return Fraction(0)  # the empty set carries f(empty) = m(empty) (efficiency)
        b = _bernoulli(k)
        return sum((b[j] * Fraction(comb(t - s, j), t - s - j + 1) for j in range(min(k - s, t - s) + 1)), Fraction(0))
    raise ValueError(f"unknown interaction index {index!r}")


@cache
def _weight_table(index: str, basis: str, max_degree: int, order: int) -> np.ndarray:
    """``(max_degree+1, order+1)`` float table of weights on the ``basis`` coefficients (exact, then rounded)."""
    table = np.zeros((max_degree + 1, order + 1))
    for r in range(max_degree + 1):
        for s in range(min(r, order) + 1):
            if basis == "mobius":
                w = _mobius_weight(index, r, s, order)
            elif index == "fourier":
                w = Fraction(int(r == s))
            else:
                w = sum(
                    (comb(r - s, t - s) * (-2) ** t * _mobius_weight(index, t, s, order) for t in range(s, r + 1)),
                    Fraction(0),
                )
            table[r, s] = float(w)
    return table


# --------------------------------------------------------------------------- sparse machinery
@cache
def _subset_positions(degree: int, sizes: tuple[int, ...]) -> np.ndarray:
    """Positions (padded with ``degree``) of every subset of ``range(degree)`` whose size is in ``sizes``."""
    width = max(sizes, default=0)
    rows = [c + (degree,) * (width - s) for s in sizes for c in combinations(range(degree), s)]
    return np.array(rows, dtype=np.int64).reshape(len(rows), width)


def _distribute(transform: SparseTransform, table: np.ndarray, basis: str) -> SparseTransform:
    """``I(S) = sum_{T >= S} c(T) table[|T|, |S|]`` over every subset ``S`` of a support with ``|S| <= order``."""
    n, order = transform.n_features, table.shape[1] - 1
    width = min(order, transform.idx.shape[1])
    # a support of degree d has PAD from column d on; the extra column covers d == width of idx
    padded = np.hstack([transform.idx, np.full((len(transform), 1), PAD, dtype=transform.idx.dtype)])
    degrees, counts = np.unique(transform.degrees, return_counts=True)
    plan = []
    for d, count in zip(degrees.tolist(), counts.tolist(), strict=True):
        sizes = tuple(s for s in range(min(order, d) + 1) if table[d, s] != 0.0)
        if sizes:
            plan.append((d, sizes, count * sum(comb(d, s) for s in sizes)))
    total = sum(p[2] for p in plan)
    if total > _MAX_TERMS:
        raise MemoryError(
            f"this index would expand into {total:,} subset terms (max degree {transform.max_degree}, order {order});"
            " lower the order or prune the transform first"
        )
    subs, vals = [np.zeros((0, width), dtype=padded.dtype)], [np.zeros(0)]
    for d, sizes, _ in plan:
        rows = np.flatnonzero(transform.degrees == d)
        pos = _subset_positions(d, sizes)  # (P, w), padded with position d
        sub = padded[rows[:, None, None], pos[None]].reshape(len(rows) * len(pos), pos.shape[1])
        val = transform.coefs[rows, None] * table[d, (pos != d).sum(axis=1)][None, :]
        subs.append(pad_columns(sub, width))
        vals.append(val.ravel())
    sub, val = np.vstack(subs), np.concatenate(vals)
    sub, val = _group_sum(sub, val, n)
    return SparseTransform(sub, val, n, basis).drop_zeros()


def _group_sum(sub: np.ndarray, val: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``val`` over identical rows of ``sub`` (sorted, ``-1`` padded), via an integer key when it fits."""
    if len(sub) == 0:
        return sub, val
    width = sub.shape[1]
    if width == 0:
        return sub[:1], np.array([val.sum()])
    if width * np.log2(n + 1) < 62:
        key = support_keys(sub, n)
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inv = np.unique(sub, axis=0, return_index=True, return_inverse=True)
    return sub[first], np.bincount(inv.ravel(), weights=val, minlength=len(first))


def _check_transform(transform: SparseTransform) -> None:
    if not isinstance(transform, SparseTransform):
        raise TypeError(f"expected a SparseTransform, got {type(transform).__name__}")
    if transform.basis not in ("fourier", "mobius"):
        raise ValueError(f"indices are computed from a 'fourier' or 'mobius' transform, got {transform.basis!r}")


# --------------------------------------------------------------------------- public API
def shapley_values(transform: SparseTransform) -> np.ndarray:
    """Shapley values ``(n,)``: ``-2 sum_{T ∋ i, |T| odd} F(T)/|T|`` (or ``sum_{T ∋ i} m(T)/|T|`` from Möbius)."""
    _check_transform(transform)
    deg = np.maximum(transform.degrees, 1)
    if transform.basis == "fourier":
        share = np.where(transform.degrees % 2 == 1, -2.0 * transform.coefs / deg, 0.0)
    else:
        share = np.where(transform.degrees > 0, transform.coefs / deg, 0.0)
    return _spread(transform, share)


def banzhaf_values(transform: SparseTransform) -> np.ndarray:
    """Banzhaf values ``(n,)``: ``-2 F({i})`` (or ``sum_{T ∋ i} m(T) / 2^(|T|-1)`` from Möbius)."""
    _check_transform(transform)
    if transform.basis == "fourier":
        share = np.where(transform.degrees == 1, -2.0 * transform.coefs, 0.0)
    else:
        share = transform.coefs * np.power(0.5, transform.degrees - 1.0)
    return _spread(transform, share)


def _spread(transform: SparseTransform, share: np.ndarray) -> np.ndarray:
    """Add ``share[t]`` to every feature of support ``t``."""
    member = transform.idx != PAD
    rows = np.broadcast_to(share[:, None], transform.idx.shape)[member]
    # float even when no support has a feature (bincount of nothing is an integer array)
    return np.bincount(transform.idx[member], weights=rows, minlength=transform.n_features).astype(np.float64)


def interaction_values(transform: SparseTransform, index: str = "fsii", order: int | None = 2) -> SparseTransform:
    """Every interaction of size ``<= order`` under ``index``, as a ``SparseTransform`` with ``basis=index``.

    ``index`` is one of ``mobius``, ``fourier``, ``sii``, ``bii``, ``stii``, ``fsii``, ``fbii``, ``k-sii``
    (case, dashes and underscores are ignored). For ``stii``, ``fsii``, ``fbii`` and ``k-sii`` the order is
    the explanation order ``k`` of the index itself; for the others it only truncates. ``order=None`` uses
    the transform's maximum degree. Interactions absent from the result are zero. The empty set carries
    ``f(∅)`` for the efficient indices (STII, FSII, k-SII; so all values sum to ``f([n])``), the mean of
    ``f`` for BII and Fourier, and the textbook value otherwise. The ``mobius`` and ``fourier`` results are
    the truncated transforms and stay evaluable; the others hold values only.
    """
    _check_transform(transform)
    name = canonical_index(index)
    if order is None:
        order = max(1, transform.max_degree)
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    order = int(min(order, max(1, transform.n_features)))
    if name == transform.basis:
        return transform.prune(max_degree=order)
    table = _weight_table(name, transform.basis, transform.max_degree, order)
    return _distribute(transform, table, name)
