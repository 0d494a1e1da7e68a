"""Sparse set functions: coefficients over a few subsets of ``n`` features.

A :class:`SparseTransform` stores supports as a padded index matrix ``idx`` of shape ``(k, D)``: each row
holds the sorted feature indices of one subset followed by ``-1`` padding, rows are unique and in
lexicographic order (the empty set first). Evaluation on masks gathers the kept-flags of each support's
features, so the cost is ``m * k * D`` — independent of ``n`` — and Fourier<->Möbius conversion expands
each support into its ``2^|T|`` subsets instead of enumerating ``2^n`` sets (see ``docs/math.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

PAD = -1
#: bases whose coefficients define a set function that :meth:`SparseTransform.predict` can evaluate
EVALUABLE = ("fourier", "mobius")
_CACHE_BYTES = 1 << 18  # evaluation works on (supports x masks) uint8 blocks of about this size (L2-resident)
_MAX_EXPANSION = 1 << 26  # subset rows a sparse conversion may create before refusing


def pad_columns(idx: np.ndarray, width: int) -> np.ndarray:
    """``idx`` with ``PAD`` columns appended up to ``width`` (``idx`` itself when it is that wide already).

    ``np.pad`` spends tens of microseconds per call on argument handling, which adds up over many small supports
    (ProxySPEX's cross-validation stacks and merges hundreds per fit)."""
    if idx.shape[1] >= width:
        return idx
    out = np.full((len(idx), width), PAD, dtype=idx.dtype)
    out[:, : idx.shape[1]] = idx
    return out


def canonical_rows(idx: np.ndarray, n_features: int) -> np.ndarray:
    """Sort each row ascending with ``-1`` padding moved to the end; reject repeated features."""
    idx = np.asarray(idx, dtype=np.int64)
    if idx.ndim != 2:
        raise ValueError(f"support index matrix must be 2-D, got shape {idx.shape}")
    if idx.size and (idx.max() >= n_features or idx.min() < PAD):
        raise ValueError(f"feature indices must lie in 0..{n_features - 1}")
    big = np.iinfo(np.int64).max
    s = np.sort(np.where(idx == PAD, big, idx), axis=1)
    if s.shape[1] > 1 and np.any((s[:, 1:] == s[:, :-1]) & (s[:, 1:] != big)):
        raise ValueError("a support lists the same feature twice")
    s[s == big] = PAD
    width = int((s != PAD).sum(axis=1).max(initial=0))
    return s[:, :width].astype(np.int32)


def support_keys(idx: np.ndarray, n_features: int) -> np.ndarray:
    """A sortable key per padded support row: the row read as a number in base ``n + 1`` (``PAD`` -> 0) when it
    fits in an int64 — so key order is the rows' lexicographic order — else the row's raw bytes (exact)."""
    width = idx.shape[1]
    if width == 0:
        return np.zeros(len(idx), dtype=np.int64)
    if width * np.log2(n_features + 1) < 62:
        return (idx.astype(np.int64) + 1) @ ((n_features + 1) ** np.arange(width - 1, -1, -1, dtype=np.int64))
    rows = np.ascontiguousarray(idx.astype(np.int32))
    return rows.view(np.dtype((np.void, 4 * width))).ravel()


def _unique_rows(idx: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(idx, axis=0, return_inverse=True)`` through one int64 key per row when it fits (~20x faster).

    Keys are the rows read as numbers in base ``n + 1`` (padding -> 0), so their order is the rows' lexicographic
    order and the output is identical to the generic path.
    """
    if idx.shape[1] * np.log2(n_features + 1) < 62:
        key = support_keys(idx, n_features)
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        return idx[first], inv
    return np.unique(idx, axis=0, return_inverse=True)


def _pad_supports(supports: Sequence[Iterable[int]] | np.ndarray) -> np.ndarray:
    rows = [tuple(int(j) for j in s) for s in supports]
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), PAD, dtype=np.int64)
    for r, row in enumerate(rows):
        out[r, : len(row)] = row
    return out


def _expand_subsets(idx: np.ndarray, degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All subsets U of every support T: returns (padded U rows, source row of T, |U|)."""
    counts = np.left_shift(np.int64(1), degrees.astype(np.int64))
    total = int(counts.sum())
    if total > _MAX_EXPANSION:
        raise MemoryError(
            f"sparse conversion would create {total:,} subset terms (max degree {int(degrees.max())});"
            " prune the transform or lower its degree first"
        )
    width = idx.shape[1]
    src = np.repeat(np.arange(len(idx)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    pattern = np.arange(total, dtype=np.int64) - starts
    bits = ((pattern[:, None] >> np.arange(width)) & 1).astype(bool)
    sub = np.where(bits, idx[src], PAD)
    return sub, src, bits.sum(axis=1)


class SparseTransform:
    """Coefficients of a set function on a sparse family of subsets of ``n_features`` features.

    ``basis`` is ``"fourier"`` (``f(S) = sum_T F(T) (-1)^{|T & S|}``), ``"mobius"``
    (``f(S) = sum_{T <= S} m(T)``) or the name of an interaction index (values only, not evaluable).
    Duplicate supports are summed.
    """

    def __init__(
        self,
        supports: Sequence[Iterable[int]] | np.ndarray,
        coefs: Sequence[float] | np.ndarray,
        n_features: int,
        basis: str = "fourier",
    ) -> None:
        if int(n_features) < 0:
            raise ValueError("n_features must be non-negative")
        self.n_features = int(n_features)
        self.basis = str(basis)
        coefs = np.asarray(coefs, dtype=np.float64).ravel()
        if isinstance(supports, np.ndarray) and supports.ndim == 2:
            raw = supports
        else:
            raw = _pad_supports(supports)
            if len(raw) == 0:
                raw = raw.reshape(0, 0)
        if len(raw) != len(coefs):
            raise ValueError(f"{len(raw)} supports but {len(coefs)} coefficients")
        idx = canonical_rows(raw, self.n_features)
        if len(idx) and idx.shape[1] == 0:  # only empty supports
            idx, coefs = idx[:1], np.array([coefs.sum()])
        elif len(idx):
            idx, inv = _unique_rows(idx, self.n_features)
            coefs = np.bincount(inv.ravel(), weights=coefs, minlength=len(idx))
        self.idx = idx
        self.coefs = coefs
        self.degrees = (idx != PAD).sum(axis=1)

    # ----------------------------------------------------------------- construction / export
    @classmethod
    def from_dict(cls, d: Mapping[Iterable[int], float], n_features: int, basis: str = "fourier") -> SparseTransform:
        """Build from ``{(i, j, ...): coefficient}``."""
        return cls(list(d.keys()), list(d.values()), n_features, basis)

    @classmethod
    def empty(cls, n_features: int, basis: str = "fourier") -> SparseTransform:
        return cls(np.zeros((0, 0), dtype=np.int64), [], n_features, basis)

    def supports(self) -> list[tuple[int, ...]]:
        """Supports as sorted tuples, in storage order."""
        return [tuple(int(j) for j in row[row != PAD]) for row in self.idx]

    def to_dict(self) -> dict[tuple[int, ...], float]:
        """``{sorted tuple of features: coefficient}``; the empty set is ``()``."""
        return dict(zip(self.supports(), self.coefs.tolist(), strict=True))

    def get(self, support: Iterable[int], default: float = 0.0) -> float:
        """Coefficient of one subset (``default`` if absent)."""
        key = np.full(self.idx.shape[1], PAD)
        s = sorted(int(j) for j in support)
        if len(s) > self.idx.shape[1]:
            return default
        key[: len(s)] = s
        hit = np.flatnonzero((self.idx == key).all(axis=1))
        return float(self.coefs[hit[0]]) if len(hit) else default

    def incidence(self) -> sp.csr_matrix:
        """``(k, n)`` 0/1 matrix with a one where a support contains a feature."""
        mask = self.idx != PAD
        indptr = np.concatenate([[0], np.cumsum(self.degrees)])
        return sp.csr_matrix(
            (np.ones(int(mask.sum()), dtype=np.int8), self.idx[mask], indptr), shape=(len(self), self.n_features)
        )

    def with_coefs(self, coefs: np.ndarray, basis: str | None = None) -> SparseTransform:
        """Same supports, new coefficients (no re-canonicalisation needed)."""
        out = object.__new__(SparseTransform)
        out.n_features, out.basis = self.n_features, basis or self.basis
        out.idx, out.degrees = self.idx, self.degrees
        out.coefs = np.asarray(coefs, dtype=np.float64).reshape(len(self))
        return out

    def __len__(self) -> int:
        return len(self.coefs)

    def __repr__(self) -> str:
        return (
            f"SparseTransform(basis={self.basis!r}, n_features={self.n_features}, terms={len(self)},"
            f" max_degree={self.max_degree})"
        )

    @property
    def max_degree(self) -> int:
        return int(self.degrees.max(initial=0))

    # ----------------------------------------------------------------- evaluation
    def predict(self, masks: np.ndarray) -> np.ndarray:
        """Value of the set function on each row of an ``(m, n)`` 0/1 mask matrix (1 keeps a feature)."""
        if self.basis not in EVALUABLE:
            raise ValueError(f"a {self.basis!r} transform holds index values and cannot be evaluated")
        x = np.asarray(masks)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"masks must have shape (m, {self.n_features}), got {np.shape(masks)}")
        m, n = x.shape[0], self.n_features
        out = np.zeros(m)
        if len(self) == 0:
            return out
        fourier = self.basis == "fourier"
        # Feature-major chunks: each support's basis value is the XOR (Fourier parity) or AND (Möbius product)
        # of a few contiguous kept-flag rows, so the work is m * k * D byte operations on cache-sized blocks.
        # Padding points at an extra row that is never kept (adds no parity) or always kept (for the product).
        gather = np.where(self.idx == PAD, n, self.idx)
        step = max(16, min(4096, _CACHE_BYTES // max(len(self), n + 1)))
        total = float(self.coefs.sum())
        for lo in range(0, m, step):
            chunk = x[lo : lo + step]
            rows = np.empty((n + 1, len(chunk)), dtype=np.uint8)
            rows[:-1] = chunk.T != 0
            rows[-1] = 0 if fourier else 1
            if gather.shape[1] == 0:
                acc = np.full((len(self), len(chunk)), 0 if fourier else 1, dtype=np.uint8)
            else:
                acc = rows[gather[:, 0]]
                for j in range(1, gather.shape[1]):
                    if fourier:
                        acc ^= rows[gather[:, j]]
                    else:
                        acc &= rows[gather[:, j]]
            out[lo : lo + step] = total - 2.0 * (self.coefs @ acc) if fourier else self.coefs @ acc
        return out

    __call__ = predict

    # ----------------------------------------------------------------- conversions
    def to_mobius(self) -> SparseTransform:
        """Möbius transform: ``m(U) = (-2)^{|U|} sum_{T >= U} F(T)``."""
        if self.basis == "mobius":
            return self
        self._require("fourier")
        sub, src, size = _expand_subsets(self.idx, self.degrees)
        weights = self.coefs[src] * np.power(-2.0, size)
        return SparseTransform(sub, weights, self.n_features, "mobius").drop_zeros()

    def to_fourier(self) -> SparseTransform:
        """Fourier transform: ``F(T) = (-1)^{|T|} sum_{U >= T} 2^{-|U|} m(U)``."""
        if self.basis == "fourier":
            return self
        self._require("mobius")
        sub, src, size = _expand_subsets(self.idx, self.degrees)
        weights = self.coefs[src] * np.power(0.5, self.degrees[src]) * np.where(size % 2, -1.0, 1.0)
        return SparseTransform(sub, weights, self.n_features, "fourier").drop_zeros()

    def _require(self, basis: str) -> None:
        if self.basis != basis:
            raise ValueError(f"expected a {basis!r} transform, got {self.basis!r}")

    # ----------------------------------------------------------------- selection
    def drop_zeros(self, rtol: float = 1e-12) -> SparseTransform:
        """Remove coefficients that are zero up to floating-point cancellation."""
        scale = float(np.abs(self.coefs).max(initial=0.0))
        return self._select(np.abs(self.coefs) > rtol * scale)

    def prune(self, tol: float = 0.0, top: int | None = None, max_degree: int | None = None) -> SparseTransform:
        """Keep terms with ``|coef| > tol``, of degree ``<= max_degree``, and at most the ``top`` largest."""
        keep = np.abs(self.coefs) > tol
        if max_degree is not None:
            keep &= self.degrees <= max_degree
        if top is not None and keep.sum() > top:
            order = np.argsort(-np.abs(np.where(keep, self.coefs, 0.0)), kind="stable")
            keep = np.zeros_like(keep)
            keep[order[: max(0, int(top))]] = True
        return self._select(keep)

    def _select(self, keep: np.ndarray) -> SparseTransform:
        out = object.__new__(SparseTransform)
        out.n_features, out.basis = self.n_features, self.basis
        idx = self.idx[keep]
        width = int((idx != PAD).sum(axis=1).max(initial=0))
        out.idx, out.coefs, out.degrees = idx[:, :width], self.coefs[keep], self.degrees[keep]
        return out

    def energy(self, include_empty: bool = False) -> float:
        """Sum of squared coefficients (the variance of ``f`` under uniform masks for Fourier)."""
        c = self.coefs if include_empty else self.coefs[self.degrees > 0]
        return float(np.dot(c, c))

    # ----------------------------------------------------------------- arithmetic
    def _combine(self, other: SparseTransform, sign: float) -> SparseTransform:
        if not isinstance(other, SparseTransform):
            return NotImplemented
        if other.n_features != self.n_features or other.basis != self.basis:
            raise ValueError("transforms must share n_features and basis")
        width = max(self.idx.shape[1], other.idx.shape[1])
        return SparseTransform(
            np.vstack([pad_columns(self.idx, width), pad_columns(other.idx, width)]),
            np.concatenate([self.coefs, sign * other.coefs]),
            self.n_features,
            self.basis,
        )

    def __add__(self, other: SparseTransform) -> SparseTransform:
        return self._combine(other, 1.0)

    def __sub__(self, other: SparseTransform) -> SparseTransform:
        return self._combine(other, -1.0)

    def __mul__(self, scalar: float) -> SparseTransform:
        return self.with_coefs(self.coefs * float(scalar))

    __rmul__ = __mul__

    def __neg__(self) -> SparseTransform:
        return self * -1.0
