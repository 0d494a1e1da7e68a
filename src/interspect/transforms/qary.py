"""Fourier transforms of functions of ``n`` q-ary features (each feature takes a value in ``0 … q-1``).

Convention (``docs/qary.md``), with ``ω = exp(2πi/q)`` and ``⟨k, x⟩ = Σ_i k_i x_i``:

    f(x) = Σ_{k ∈ Z_q^n} F(k) ω^{⟨k, x⟩},        F(k) = q^{-n} Σ_{x ∈ Z_q^n} f(x) ω^{-⟨k, x⟩}.

For ``q = 2`` this is the binary Walsh–Hadamard convention of ``docs/math.md`` when ``x_i = 1`` means "keep".
A real ``f`` has ``F(-k) = conj(F(k))``. The components ``Σ_{supp k = U} F(k) ω^{⟨k,x⟩}`` are the
functional-ANOVA terms of ``f`` under uniform inputs, so variances (Sobol indices) are sums of ``|F(k)|²``.

:class:`SparseQaryTransform` stores each frequency ``k`` compactly as its non-zero positions ``idx`` (padded
with ``-1``) and the values ``vals`` there, so evaluation costs ``m * K * D`` (``D`` the largest degree),
independent of ``n``. The dense oracle (:func:`exact_qary_fourier`) is ``np.fft.fftn`` on the
``(q, …, q)``-shaped table, where input ``x`` sits at C-order position ``Σ_i x_i q^{n-1-i}``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .sparse import PAD, SparseTransform

MAX_EXACT_INPUTS = 1 << 22  # q^n inputs the dense oracle may enumerate
MAX_Q = 256  # frequency values are stored as uint8
_CHUNK_ELEMENTS = 1 << 22  # inputs x frequencies x width per evaluation chunk

QaryKey = tuple[tuple[int, int], ...]


def check_q(q: int) -> int:
    """Validate the alphabet size."""
    if isinstance(q, bool) or not isinstance(q, int | np.integer):
        raise TypeError(f"q must be an integer, got {type(q).__name__}")
    if not 2 <= int(q) <= MAX_Q:
        raise ValueError(f"q must be between 2 and {MAX_Q}, got {q}")
    return int(q)


def check_inputs(x: np.ndarray, n_features: int, q: int, what: str = "inputs") -> np.ndarray:
    """Validate an ``(m, n)`` matrix of q-ary inputs and return it as ``int64``."""
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[1] != n_features:
        raise ValueError(f"{what} must have shape (m, {n_features}), got {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    integral = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and not np.any(arr != np.round(arr))
    )
    if not integral:
        raise ValueError(f"{what} must be integers in 0..{q - 1}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= q):
        raise ValueError(f"{what} must lie in 0..{q - 1}; found values in {arr.min()}..{arr.max()}")
    return arr


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique rows of an ``(m, n)`` matrix of digits ``0 … 255`` and the inverse map (via byte keys)."""
    packed = np.ascontiguousarray(rows, dtype=np.uint8)
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel() if packed.shape[1] else np.zeros(len(packed))
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return np.asarray(rows)[first].astype(np.int64), inverse.ravel()


def conjugate_partners(rows: np.ndarray, q: int) -> np.ndarray:
    """Index of ``-k mod q`` among ``rows`` for each row ``k`` (``-1`` where absent)."""
    both = np.concatenate([rows, (-rows) % q])
    _, inv = unique_rows(both)
    where = np.full(len(both), -1)
    where[inv[: len(rows)]] = np.arange(len(rows))
    return where[inv[len(rows) :]]


@functools.cache
def roots_of_unity(q: int) -> np.ndarray:
    """``ω^t`` for ``t = 0 … q-1`` (exact ``±1``/``±i`` where they occur); a cached, read-only array."""
    out = np.exp(2j * np.pi * np.arange(q) / q)
    out.real[np.abs(out.real) < 1e-15] = 0.0
    out.imag[np.abs(out.imag) < 1e-15] = 0.0
    out.flags.writeable = False
    return out


def _compact(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``(K, n)`` frequencies -> padded positions ``(K, D)`` int32 and values ``(K, D)`` uint8."""
    nz = rows != 0
    width = int(nz.sum(axis=1).max(initial=0))
    order = np.argsort(~nz, axis=1, kind="stable")[:, :width]
    keep = np.take_along_axis(nz, order, axis=1)
    idx = np.where(keep, order, PAD).astype(np.int32)
    vals = np.where(keep, np.take_along_axis(rows, order, axis=1), 0).astype(np.uint8)
    return idx, vals


class SparseQaryTransform:
    """Complex Fourier coefficients of a function on ``Z_q^n`` at a few frequencies ``k``.

    Parameters
    ----------
    locations : (K, n) int array
        Frequencies, entries in ``0 … q-1``. Duplicate rows are summed.
    coefs : (K,) complex array
        ``F(k)`` for each row.
    n_features, q : int
        Number of features and alphabet size.
    """

    def __init__(self, locations: np.ndarray, coefs: Iterable[complex] | np.ndarray, n_features: int, q: int) -> None:
        self.q = check_q(q)
        if int(n_features) < 1:
            raise ValueError(f"n_features must be at least 1, got {n_features}")
        self.n_features = int(n_features)
        rows = np.asarray(locations)
        if rows.size == 0:
            rows = np.zeros((0, self.n_features), dtype=np.int64)
        rows = check_inputs(rows, self.n_features, self.q, "frequency locations")
        coefs = np.asarray(coefs, dtype=np.complex128).reshape(-1)
        if len(coefs) != len(rows):
            raise ValueError(f"{len(rows)} frequencies but {len(coefs)} coefficients")
        if not np.all(np.isfinite(coefs)):
            raise ValueError("coefficients must be finite")
        if len(rows):
            rows, inv = unique_rows(rows)
            coefs = np.bincount(inv, coefs.real, len(rows)) + 1j * np.bincount(inv, coefs.imag, len(rows))
        self.idx, self.vals = _compact(rows)
        self.coefs = coefs
        self.degrees = (self.idx != PAD).sum(axis=1)

    # ----------------------------------------------------------------- construction / export
    @classmethod
    def from_compact(
        cls, idx: np.ndarray, vals: np.ndarray, coefs: np.ndarray, n_features: int, q: int
    ) -> SparseQaryTransform:
        """Build from padded positions ``idx`` (``-1`` padding) and the values ``vals`` at those positions."""
        idx = np.asarray(idx, dtype=np.int64).reshape(len(coefs), -1)
        vals = np.asarray(vals, dtype=np.int64).reshape(idx.shape)
        rows = np.zeros((len(idx), int(n_features)), dtype=np.int64)
        if idx.size and (idx.max() >= n_features or idx.min() < PAD):
            raise ValueError(f"feature positions must lie in 0..{n_features - 1}")
        r, c = np.nonzero(idx != PAD)
        counts = np.zeros(rows.shape, dtype=np.int64)
        np.add.at(counts, (r, idx[r, c]), 1)
        if counts.max(initial=0) > 1:
            raise ValueError("a frequency lists the same feature twice")
        rows[r, idx[r, c]] = vals[r, c]
        return cls(rows, coefs, n_features, q)

    @classmethod
    def from_dict(cls, d: Mapping[Iterable[tuple[int, int]], complex], n_features: int, q: int) -> SparseQaryTransform:
        """Build from ``{((feature, value), ...): coefficient}``; ``()`` is the constant term."""
        keys = [tuple((int(i), int(v)) for i, v in key) for key in d]
        width = max((len(key) for key in keys), default=0)
        idx = np.full((len(keys), width), PAD, dtype=np.int64)
        vals = np.zeros((len(keys), width), dtype=np.int64)
        for r, key in enumerate(keys):
            if key:
                idx[r, : len(key)], vals[r, : len(key)] = zip(*key, strict=True)
        if vals.size and (vals.min() < 0 or vals.max() >= q):
            raise ValueError(f"frequency values must lie in 0..{q - 1}")
        return cls.from_compact(idx, vals, np.asarray(list(d.values()), dtype=np.complex128), n_features, q)

    @classmethod
    def empty(cls, n_features: int, q: int) -> SparseQaryTransform:
        return cls(np.zeros((0, n_features), dtype=np.int64), [], n_features, q)

    def locations(self) -> np.ndarray:
        """Dense ``(K, n)`` int64 frequency matrix."""
        rows = np.zeros((len(self), self.n_features), dtype=np.int64)
        r, c = np.nonzero(self.idx != PAD)
        rows[r, self.idx[r, c]] = self.vals[r, c]
        return rows

    def keys(self) -> list[QaryKey]:
        """Each frequency as ``((feature, value), ...)`` over its non-zero entries, in storage order."""
        mask = self.idx != PAD
        pairs = zip(self.idx, self.vals, mask, strict=True)
        return [tuple(zip(i[m].tolist(), v[m].tolist(), strict=True)) for i, v, m in pairs]

    def to_dict(self) -> dict[QaryKey, complex]:
        """``{((feature, value), ...): coefficient}`` (features ascending)."""
        return dict(zip(self.keys(), self.coefs.tolist(), strict=True))

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-friendly list of ``{"k": [[feature, value], ...], "re": …, "im": …}``."""
        return [
            {"k": [list(p) for p in key], "re": float(c.real), "im": float(c.imag)}
            for key, c in zip(self.keys(), self.coefs, strict=True)
        ]

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], n_features: int, q: int) -> SparseQaryTransform:
        """Inverse of :meth:`to_records`."""
        return cls.from_dict({tuple(map(tuple, r["k"])): complex(r["re"], r["im"]) for r in records}, n_features, q)

    def get(self, location: Iterable[int], default: complex = 0.0) -> complex:
        """Coefficient at one dense frequency vector (``default`` if absent)."""
        row = check_inputs(np.asarray(location).reshape(1, -1), self.n_features, self.q, "location")
        hit = np.flatnonzero((self.locations() == row).all(axis=1))
        return complex(self.coefs[hit[0]]) if len(hit) else default

    def with_coefs(self, coefs: np.ndarray) -> SparseQaryTransform:
        """Same frequencies, new coefficients."""
        out = object.__new__(SparseQaryTransform)
        out.q, out.n_features, out.idx, out.vals = self.q, self.n_features, self.idx, self.vals
        out.degrees = self.degrees
        out.coefs = np.asarray(coefs, dtype=np.complex128).reshape(len(self))
        return out

    def __len__(self) -> int:
        return len(self.coefs)

    def __repr__(self) -> str:
        return f"SparseQaryTransform(n_features={self.n_features}, q={self.q}, terms={len(self)})"

    # ----------------------------------------------------------------- structure
    @property
    def max_degree(self) -> int:
        return int(self.degrees.max(initial=0))

    def is_real(self, rtol: float = 1e-9) -> bool:
        """Whether the coefficients satisfy ``F(-k) = conj(F(k))``, i.e. the function is real-valued."""
        if len(self) == 0:
            return True
        partner = conjugate_partners(self.locations(), self.q)
        scale = rtol * max(float(np.abs(self.coefs).max()), 1e-300)
        if np.any((partner < 0) & (np.abs(self.coefs) > scale)):
            return False
        have = partner >= 0
        return bool(np.all(np.abs(self.coefs[have] - np.conj(self.coefs[partner[have]])) <= scale))

    # ----------------------------------------------------------------- evaluation
    def phases(self, x: np.ndarray) -> np.ndarray:
        """``⟨k, x⟩ mod q`` as an ``(m, K)`` int matrix for validated inputs ``x``."""
        x = check_inputs(x, self.n_features, self.q)
        m, width = len(x), self.idx.shape[1]
        out = np.zeros((m, len(self)), dtype=np.int64)
        if width == 0 or len(self) == 0:
            return out
        xp = np.zeros((m, self.n_features + 1), dtype=np.int32)
        xp[:, :-1] = x
        gather = np.where(self.idx == PAD, self.n_features, self.idx)
        vals = self.vals.astype(np.int32)
        step = max(1, _CHUNK_ELEMENTS // max(1, len(self) * width))
        for lo in range(0, m, step):
            out[lo : lo + step] = (xp[lo : lo + step][:, gather] * vals).sum(axis=2) % self.q
        return out

    def predict(self, x: np.ndarray, real: bool | None = None) -> np.ndarray:
        """``f(x)`` for each row of the ``(m, n)`` input matrix.

        Returns real values when ``real`` is true, or when ``real`` is None and the transform is
        conjugate-symmetric (a real function); complex values otherwise.
        """
        x = check_inputs(x, self.n_features, self.q)
        # coefs[k] * ω^t for every phase t: evaluation is a gather and a row sum (no small BLAS calls)
        table = (self.coefs[:, None] * roots_of_unity(self.q)[None, :]).ravel()
        offset = self.q * np.arange(len(self))
        out = np.zeros(len(x), dtype=np.complex128)
        step = max(1, _CHUNK_ELEMENTS // max(1, len(self) * max(1, self.idx.shape[1])))
        for lo in range(0, len(x), step):
            out[lo : lo + step] = table[self.phases(x[lo : lo + step]) + offset].sum(axis=1)
        if real is None:
            real = self.is_real()
        return out.real.copy() if real else out

    # ----------------------------------------------------------------- variance decomposition
    def variance(self) -> float:
        """Variance of ``f`` under uniform inputs: ``Σ_{k ≠ 0} |F(k)|²`` (Parseval)."""
        return float(np.sum(np.abs(self.coefs[self.degrees > 0]) ** 2))

    def feature_importance(self, kind: str = "total", normalize: bool = True) -> np.ndarray:
        """Per-feature variance shares (Sobol indices) under uniform inputs.

        ``kind="total"`` sums ``|F(k)|²`` over every ``k`` with ``k_i ≠ 0`` (all effects involving feature ``i``);
        ``kind="main"`` only over ``k`` whose sole non-zero entry is ``i`` (the first-order effect).
        With ``normalize`` the values are divided by :meth:`variance`.
        """
        if kind not in ("total", "main"):
            raise ValueError(f"kind must be 'total' or 'main', got {kind!r}")
        power = np.abs(self.coefs) ** 2
        rows = np.ones(len(self), dtype=bool) if kind == "total" else self.degrees == 1
        sel = (self.idx != PAD) & rows[:, None]
        out = np.bincount(
            self.idx[sel], weights=np.broadcast_to(power[:, None], self.idx.shape)[sel], minlength=self.n_features
        )
        return self._normalized(out, normalize)

    def pair_importance(
        self, kind: str = "interaction", normalize: bool = True, top: int | None = None
    ) -> dict[tuple[int, int], float]:
        """Per-pair variance shares, largest first.

        ``kind="interaction"``: the second-order Sobol index, ``Σ |F(k)|²`` over ``k`` non-zero exactly on ``{i, j}``;
        ``kind="total"``: over every ``k`` non-zero on both ``i`` and ``j`` (all interactions involving the pair).
        """
        if kind not in ("interaction", "total"):
            raise ValueError(f"kind must be 'interaction' or 'total', got {kind!r}")
        width = self.idx.shape[1]
        if width < 2:
            return {}
        power = np.abs(self.coefs) ** 2
        a, b = np.triu_indices(width, k=1)
        rows = self.degrees >= 2 if kind == "total" else self.degrees == 2
        first, second = self.idx[rows][:, a].ravel(), self.idx[rows][:, b].ravel()
        weight = np.repeat(power[rows], len(a))
        ok = (first != PAD) & (second != PAD)
        keys = first[ok].astype(np.int64) * self.n_features + second[ok]
        uniq, inv = np.unique(keys, return_inverse=True)
        sums = self._normalized(np.bincount(inv.ravel(), weights=weight[ok], minlength=len(uniq)), normalize)
        order = np.argsort(-sums, kind="stable")[: top if top is not None else None]
        return {(int(uniq[o] // self.n_features), int(uniq[o] % self.n_features)): float(sums[o]) for o in order}

    def _normalized(self, values: np.ndarray, normalize: bool) -> np.ndarray:
        var = self.variance()
        return values / var if normalize and var > 0 else values

    # ----------------------------------------------------------------- conversions
    def prune(self, tol: float = 0.0, top: int | None = None) -> SparseQaryTransform:
        """Drop coefficients with ``|F(k)| <= tol`` and keep at most ``top`` of the largest."""
        keep = np.flatnonzero(np.abs(self.coefs) > tol)
        if top is not None:
            keep = keep[np.argsort(-np.abs(self.coefs[keep]), kind="stable")[: int(top)]]
        return SparseQaryTransform(self.locations()[np.sort(keep)], self.coefs[np.sort(keep)], self.n_features, self.q)

    def to_binary(self, keep_value: int = 1) -> SparseTransform:
        """For ``q = 2``: the binary Fourier transform over masks (``docs/math.md``).

        ``keep_value`` is the q-ary value that means "feature kept": with ``1`` the coefficients are the same,
        with ``0`` (the q-ary text front-end's convention) ``F_bin(T) = (-1)^{|T|} F_q(k)``.
        """
        if self.q != 2:
            raise ValueError(f"only a q = 2 transform has a binary equivalent (q = {self.q})")
        if keep_value not in (0, 1):
            raise ValueError("keep_value must be 0 or 1")
        sign = 1.0 if keep_value == 1 else (-1.0) ** self.degrees
        return SparseTransform(self.idx.astype(np.int64), sign * self.coefs.real, self.n_features, "fourier")


# --------------------------------------------------------------------------- dense oracle
def _check_size(n_features: int, q: int) -> None:
    if q**n_features > MAX_EXACT_INPUTS:
        raise ValueError(f"exact q-ary transform needs q^n <= {MAX_EXACT_INPUTS}, got {q}^{n_features}")


def all_qary_inputs(n_features: int, q: int) -> np.ndarray:
    """The ``(q^n, n)`` matrix of every input, in C order (``x_0`` the most significant digit)."""
    q = check_q(q)
    _check_size(n_features, q)
    grid = np.indices((q,) * n_features, dtype=np.int64)
    return grid.reshape(n_features, -1).T.copy()


def qary_fourier_dense(values: np.ndarray, n_features: int, q: int) -> np.ndarray:
    """``F`` on all ``q^n`` frequencies (same C-order indexing as :func:`all_qary_inputs`)."""
    table = np.asarray(values).reshape((q,) * n_features)
    return (np.fft.fftn(table) / q**n_features).reshape(-1)


def qary_inverse_dense(coefs: np.ndarray, n_features: int, q: int) -> np.ndarray:
    """``f`` on all ``q^n`` inputs from dense coefficients: ``f(x) = Σ_k F(k) ω^{⟨k,x⟩}``."""
    table = np.asarray(coefs, dtype=np.complex128).reshape((q,) * n_features)
    return (np.fft.ifftn(table) * q**n_features).reshape(-1)


def qary_dense_to_sparse(coefs: np.ndarray, n_features: int, q: int, tol: float = 0.0) -> SparseQaryTransform:
    """Wrap dense coefficients as a :class:`SparseQaryTransform`, dropping ``|F| <= tol``."""
    coefs = np.asarray(coefs).reshape(-1)
    keep = np.flatnonzero(np.abs(coefs) > tol)
    return SparseQaryTransform(all_qary_inputs(n_features, q)[keep], coefs[keep], n_features, q)


def qary_sparse_to_dense(transform: SparseQaryTransform) -> np.ndarray:
    """Dense coefficient vector of a sparse transform on few features."""
    n, q = transform.n_features, transform.q
    _check_size(n, q)
    weights = q ** np.arange(n - 1, -1, -1, dtype=np.int64)
    out = np.zeros(q**n, dtype=np.complex128)
    np.add.at(out, transform.locations() @ weights, transform.coefs)
    return out


def exact_qary_fourier(
    value_function: Callable[[np.ndarray], np.ndarray], n_features: int, q: int, tol: float = 0.0
) -> SparseQaryTransform:
    """The complete q-ary Fourier transform of ``value_function`` from all ``q^n`` inputs (one batched call)."""
    inputs = all_qary_inputs(n_features, q)
    values = np.asarray(value_function(inputs)).reshape(-1)
    if values.shape != (len(inputs),):
        raise ValueError(f"value function returned {values.shape} values for {len(inputs)} inputs")
    return qary_dense_to_sparse(qary_fourier_dense(values, n_features, q), n_features, q, tol)
