"""The numerics every fit shares, written once: masks, the parity design, row keys, ridge, R², rescaling.

Conventions (``../shared/SPEC.md``):

* a Fourier design has one column per support ``T`` with entries ``(-1)^{|T ∩ S|}``; the empty support is
  the intercept, and a ridge penalty ``alpha * m`` (``m`` rows) applies to every other column, never to it;
* R² is ``1 - Σ(f - f̂)² / Σ(f - mean f)²``; a constant target gives 1.0 if matched exactly, else 0.0;
* support rows are keyed by :func:`~..transforms.sparse.support_keys` (base ``n + 1``), re-exported here;
* fits see values centred and scaled by :class:`StandardisedEngine` (:func:`scale_invariant`), so an offset
  or a factor of any size changes the explanation only by that offset or factor.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import scipy.linalg

from ..contracts import Engine, FitResult
from ..transforms.sparse import PAD, SparseTransform, support_keys

__all__ = [
    "StandardisedEngine", "blas_threads", "check_n_jobs", "distinct_uniform_masks", "heldout_masks", "parity_design",
    "r2_from_sums", "r2_score", "ridge", "ridge_from_gram", "ridge_loo", "row_bytes", "scale_invariant", "support_keys",
    "transposed_masks", "uniform_masks",
]  # fmt: skip

#: a residual this small relative to the target's scale counts as an exact match of a constant target
#: (a few rounding errors of float64 arithmetic)
EXACT_MATCH_RTOL = 1e-12
#: rounds of redrawing duplicate or already-seen masks before giving up (each round keeps the distinct ones;
#: only tiny ``n``, where few masks exist, needs more than one or two)
MAX_DRAW_ROUNDS = 64
#: held-out masks are picked from the full list of ``2^n`` masks when it is this small (2^16 rows) or at most
#: this many times the request; random draws of unseen masks could take many rounds there
ENUMERATE_HELDOUT_BITS = 16
#: distinct masks are drawn from a shuffled list of all ``2^n`` when at least ``1 / ENUMERATE_SHARE`` of them
#: are wanted (random redraws would need ~``2^n ln(2^n / missing)`` draws to find the last few)
ENUMERATE_SHARE = 4
#: ridge strengths (relative to the largest eigenvalue of the Gram matrix) leave-one-out error chooses from:
#: from numerically unpenalised to shrinking every direction
LOO_GRID = np.concatenate([[1e-12], np.logspace(-8, 1, 37)])
ENUMERATE_HELDOUT_FACTOR = 4


# ---------------------------------------------------------------------------------------------- masks
def uniform_masks(n_masks: int, n_features: int, rng: np.random.Generator) -> np.ndarray:
    """``(m, n)`` masks with every feature kept independently with probability 1/2 (repeats possible)."""
    return rng.random((int(n_masks), int(n_features))) < 0.5


def row_bytes(masks: np.ndarray) -> np.ndarray:
    """One hashable, sortable key per mask row (its packed bits), for exact de-duplication."""
    packed = np.ascontiguousarray(np.packbits(np.asarray(masks, dtype=bool), axis=1))
    return packed.view(np.dtype((np.void, packed.shape[1]))).ravel()


def _bits(ints: np.ndarray, n: int) -> np.ndarray:
    """The masks whose bitmasks are ``ints`` (bit ``i`` is feature ``i``)."""
    return ((ints[:, None] >> np.arange(n)) & 1).astype(bool)


def _first_occurrences(masks: np.ndarray) -> np.ndarray:
    _, first = np.unique(row_bytes(masks), return_index=True)
    return masks[np.sort(first)]


def distinct_uniform_masks(
    n_masks: int, n_features: int, rng: np.random.Generator, *, paired: bool = False
) -> np.ndarray:
    """``n_masks`` distinct uniform masks (all ``2^n``, shuffled, when ``n_masks >= 2^n``; never fewer than
    ``min(n_masks, 2^n)``).

    ``paired`` draws each mask with its complement next to it (antithetic sampling). Duplicates, likely only
    for small ``n``, are redrawn, so every mask is a new query.
    """
    m, n = int(n_masks), int(n_features)
    if n < 63 and m * ENUMERATE_SHARE >= (1 << n):  # most masks wanted: redraws would be slow
        if not paired:
            return _bits(rng.permutation(1 << n)[:m], n)
        half = _bits(rng.permutation(1 << (n - 1))[: (m + 1) // 2], n)  # masks without the last feature
        return np.stack([half, ~half], axis=1).reshape(-1, n)[:m]
    out = np.zeros((0, n), dtype=bool)
    for _ in range(MAX_DRAW_ROUNDS):
        if len(out) >= m:
            break
        missing = m - len(out)
        draw = uniform_masks((missing + 1) // 2 if paired else missing, n, rng)
        if paired:
            draw = np.stack([draw, ~draw], axis=1).reshape(-1, n)
        out = _first_occurrences(np.vstack([out, draw]))
    return out[:m]


def heldout_masks(engine: Engine, n_masks: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n_masks`` distinct uniform masks that ``engine`` has not been asked yet (fewer only when not
    that many unseen masks exist). They are not queried here: the caller decides when."""
    n, m = int(engine.n_features), max(0, int(n_masks))
    if n < 63 and (1 << n) <= max(ENUMERATE_HELDOUT_FACTOR * m, 1 << ENUMERATE_HELDOUT_BITS):
        candidates = distinct_uniform_masks(1 << n, n, rng)  # every mask, shuffled
        return candidates[~engine.seen(candidates)][:m]
    out = np.zeros((0, n), dtype=bool)
    for _ in range(MAX_DRAW_ROUNDS):
        if len(out) >= m:
            break
        draw = uniform_masks(m - len(out), n, rng)
        out = _first_occurrences(np.vstack([out, draw[~engine.seen(draw)]]))
    return out[:m]


# ---------------------------------------------------------------------------------------------- designs
def transposed_masks(masks: np.ndarray) -> np.ndarray:
    """``(n + 1, m)`` uint8 transpose of the masks with a final all-zero row, where ``PAD`` points."""
    x_t = np.zeros((masks.shape[1] + 1, masks.shape[0]), dtype=np.uint8)
    x_t[:-1] = np.asarray(masks).T
    return x_t


def parity_design(masks: np.ndarray | None, idx: np.ndarray, *, x_t: np.ndarray | None = None) -> np.ndarray:
    """``(m, k)`` float32 Fourier design ``(-1)^{|T ∩ S|}`` of supports ``idx`` (``PAD``-padded) on masks.

    Pass ``x_t = transposed_masks(masks)`` to reuse one transpose for several designs: whole contiguous
    rows are gathered and XOR-ed, which is several times faster than indexing the masks for many terms.
    Entries are ±1, exact in float32.
    """
    if x_t is None:
        x_t = transposed_masks(np.asarray(masks) != 0)
    idx = np.asarray(idx)
    gather = np.where(idx == PAD, x_t.shape[0] - 1, idx)
    if gather.ndim < 2 or gather.shape[1] == 0:
        return np.ones((x_t.shape[1], len(idx)), dtype=np.float32)
    acc = x_t[gather[:, 0]]
    for j in range(1, gather.shape[1]):
        acc = acc ^ x_t[gather[:, j]]
    return (1.0 - 2.0 * acc.astype(np.float32)).T


# ---------------------------------------------------------------------------------------------- solves
def ridge_from_gram(
    gram: np.ndarray, rhs: np.ndarray, n_rows: int, alpha: float = 0.0, intercept: int | None = 0
) -> np.ndarray:
    """Solve ``(G + alpha m I') beta = r`` (``I'`` the identity without the intercept column) by Cholesky,
    falling back to minimum-norm least squares when the system is singular."""
    gram = np.array(gram, dtype=np.float64)
    penalty = np.full(len(gram), float(alpha) * int(n_rows))
    if intercept is not None and len(gram):
        penalty[intercept] = 0.0
    gram[np.diag_indices_from(gram)] += penalty
    try:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(gram, lower=True), rhs)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError):
        return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def ridge(design: np.ndarray, y: np.ndarray, alpha: float = 0.0, *, intercept: int | None = 0) -> np.ndarray:
    """Least squares (``alpha = 0``) or ridge coefficients of ``y`` on ``design``; column ``intercept`` (the
    empty support) is never penalised.

    With more columns than rows and ``alpha > 0`` the equivalent kernel form on centred data is solved, so
    ``m x m`` is the largest system (e.g. all singletons of 10,000 features on a few hundred masks).
    """
    y = np.asarray(y, dtype=np.float64)
    m, k = design.shape
    if k > m and alpha > 0 and intercept == 0:
        x = np.asarray(design[:, 1:], dtype=np.float64)
        mu, y_mean = x.mean(axis=0), float(y.mean())
        kernel = x @ x.T
        row = kernel.mean(axis=0)
        kernel += row.mean() - row[None, :] - row[:, None]  # kernel of the centred design
        kernel[np.diag_indices_from(kernel)] += alpha * m
        try:
            dual = scipy.linalg.solve(kernel, y - y_mean, assume_a="pos")
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            dual = np.linalg.lstsq(kernel, y - y_mean, rcond=None)[0]
        beta = x.T @ dual - mu * dual.sum()  # (X - 1 mu^T)^T dual
        return np.concatenate([[y_mean - mu @ beta], beta])
    design = np.asarray(design, dtype=np.float64)
    if alpha == 0:
        try:
            return scipy.linalg.cho_solve(scipy.linalg.cho_factor(design.T @ design, lower=True), design.T @ y)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            return np.linalg.lstsq(design, y, rcond=None)[0]
    return ridge_from_gram(design.T @ design, design.T @ y, m, alpha, intercept)


def ridge_loo(design: np.ndarray, y: np.ndarray, grid: np.ndarray = LOO_GRID) -> tuple[np.ndarray, float]:
    """Ridge coefficients (no intercept) with the strength chosen by exact leave-one-out error (PRESS).

    Near the interpolation threshold (about as many rows as columns) least squares, even minimum-norm, fits
    the noise with huge coefficients. The leave-one-out residual of ridge is ``e_i / (1 - h_ii)`` (``h`` the
    hat matrix), so every strength of ``grid`` is scored exactly from one eigendecomposition of the
    smaller of ``D^T D`` and ``D D^T``; with many rows the choice is nearly unpenalised. (Generalised CV, which
    replaces ``h_ii`` by its mean, fails exactly here: below the threshold every leverage is close to 1.)
    Returns ``(coefficients, strength)``, the strength relative to the largest eigenvalue.
    """
    m, k = design.shape
    y = np.asarray(y, dtype=np.float64)
    primal = m >= k
    eigval, eigvec = np.linalg.eigh(design.T @ design if primal else design @ design.T)
    top = float(eigval.max(initial=0.0))
    if top <= 0.0:
        return np.zeros(k), 0.0
    live = eigval > top * max(m, k) * np.finfo(np.float64).eps
    s2, vec = eigval[live], eigvec[:, live]
    left = design @ vec / np.sqrt(s2) if primal else vec  # U: orthonormal columns spanning D's range
    proj = left.T @ y
    strengths = top * np.asarray(grid, dtype=np.float64)
    gains = s2[None, :] / (s2[None, :] + strengths[:, None])  # (grid, rank): eigenvalues of the hat matrix
    fitted = (gains * proj) @ left.T  # (grid, m)
    leverage = gains @ (left**2).T
    press = (((y - fitted) / np.maximum(1.0 - leverage, 1e-12)) ** 2).sum(axis=1)
    best = int(np.argmin(press))
    inverse = 1.0 / (s2 + strengths[best])
    coefs = vec @ (np.sqrt(s2) * inverse * proj) if primal else design.T @ (vec @ (inverse * proj))
    return coefs, float(grid[best])


# ---------------------------------------------------------------------------------------------- R²
def r2_from_sums(residual_ss: float, total_ss: float, scale_ss: float = 0.0) -> float:
    """R² from sums of squares. A constant target (``total_ss == 0``) gives 1.0 if matched exactly (residual
    within rounding of ``scale_ss``, the target's sum of squares) and 0.0 otherwise."""
    if not total_ss > 0.0:
        return 1.0 if residual_ss <= EXACT_MATCH_RTOL**2 * scale_ss else 0.0
    return float(1.0 - residual_ss / total_ss)


def r2_score(values: np.ndarray, predicted: np.ndarray) -> float:
    """R² of ``predicted`` against ``values``, computed on rescaled values (no overflow or underflow at any
    finite magnitude)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    predicted = np.asarray(predicted, dtype=np.float64).ravel()
    if len(values) == 0:
        raise ValueError("R² needs at least one value")
    scale = float(np.abs(values).max())
    if scale == 0.0:
        scale = float(np.abs(predicted).max()) or 1.0
    v, p = values / scale, predicted / scale
    centred, residual = v - v.mean(), v - p
    return r2_from_sums(float(residual @ residual), float(centred @ centred), float(v @ v))


# ---------------------------------------------------------------------------------------------- threads
@contextlib.contextmanager
def blas_threads(n_jobs: int | None) -> Iterator[None]:
    """Limit BLAS to ``n_jobs`` threads inside the block; ``None`` leaves the library default untouched."""
    if n_jobs is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=check_n_jobs(n_jobs), user_api="blas"):
        yield


def check_n_jobs(n_jobs: int | None) -> int | None:
    """``n_jobs`` validated: ``None`` (the library default) or a positive integer."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs < 1:
        raise ValueError(f"n_jobs must be None (the library default) or a positive integer, got {n_jobs!r}")
    return int(n_jobs)


# ---------------------------------------------------------------------------------------------- rescaling
class StandardisedEngine:
    """An engine whose answers are ``(f - offset) / scale``, the two fixed from the first batch it answers.

    Fits then see values of order one whatever the function's offset (``1e12``) or magnitude (``1e-300``
    … ``1e300``), so thresholds, penalties and LightGBM's float32 histograms behave the same at any scale.
    """

    def __init__(self, engine: Engine, q: int = 2) -> None:
        self._engine = engine
        self.n_features = engine.n_features
        self.q = q  # the alphabet of a q-ary engine (2: 0/1 masks)
        self.offset = 0.0
        self.magnitude = 1.0  # largest |f| of the first batch
        self.spread = 1.0  # standard deviation of the first batch in units of ``magnitude``
        self._fixed = False

    @property
    def n_queries(self) -> int:
        return self._engine.n_queries

    @property
    def scale(self) -> float:
        return self.magnitude * self.spread

    def _fix(self, raw: np.ndarray) -> None:
        self._fixed = True
        magnitude = float(np.abs(raw).max(initial=0.0))
        if magnitude == 0.0:
            return
        unit = raw / magnitude
        self.magnitude, self.offset = magnitude, float(unit.mean()) * magnitude
        self.spread = float(np.std(unit)) or 1.0

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if not self._fixed and len(raw):
            self._fix(raw)
        return (raw - self.offset) / self.magnitude / self.spread

    def __call__(self, masks: np.ndarray, *, scratch: bool = False) -> np.ndarray:
        return self.standardise(self._engine(masks, scratch=scratch))

    def seen(self, masks: np.ndarray) -> np.ndarray:
        return self._engine.seen(masks)

    def answered(self) -> tuple[np.ndarray, np.ndarray]:
        masks, values = self._engine.answered()
        return masks, self.standardise(values)

    def restore(self, result: FitResult) -> FitResult:
        """The fit in the function's own units: coefficients times the scale, the offset added to ``F(∅)``."""
        transform = result.transform
        coefs = transform.coefs * self.spread * self.magnitude
        empty = np.flatnonzero(transform.degrees == 0)
        if len(empty) or self.offset == 0.0:
            if len(empty):
                coefs[empty[0]] += self.offset
            result.transform = transform.with_coefs(coefs)
        elif isinstance(transform, SparseTransform):
            constant = SparseTransform([()], [self.offset], transform.n_features)
            result.transform = transform.with_coefs(coefs) + constant
        else:
            constant_qary = type(transform)(np.zeros((1, transform.n_features), dtype=np.int64), [self.offset],
                                            transform.n_features, transform.q)  # fmt: skip
            result.transform = _add_qary(transform.with_coefs(coefs), constant_qary)
        return result


def _add_qary(a: Any, b: Any) -> Any:
    """Sum of two sparse q-ary transforms (duplicate frequencies are summed by the constructor)."""
    return type(a)(
        np.vstack([a.locations(), b.locations()]), np.concatenate([a.coefs, b.coefs]), a.n_features, a.q
    )


Fit = TypeVar("Fit", bound=Callable[..., FitResult])


def scale_invariant(fit: Fit) -> Fit:
    """Decorate a ``fit_*`` so that it fits standardised values and returns the transform in the function's
    units (see :class:`StandardisedEngine`)."""

    @functools.wraps(fit)
    def wrapper(engine: Engine, /, **kwargs: Any) -> FitResult:
        standard = StandardisedEngine(engine)
        return standard.restore(fit(standard, **kwargs))

    return wrapper  # type: ignore[return-value]
