"""Query design for q-SFT: subsampling matrices, delays, and a budget planner with closed-form query counts.

Group ``c`` uses a random ``M_c ∈ Z_q^{n×b}`` and queries ``x = M_c l + d`` for all ``l ∈ Z_q^b`` and every
delay ``d``. A ``q^b``-point FFT over ``l`` then hashes frequency ``k`` into bin ``j = M_c^T k`` with phase
``ω^{⟨k, d⟩}``. Delays come in ``R`` blocks ``{o_r, o_r + d_1, …, o_r + d_r}``: identity delays ``d_i = e_i``
(``r = n``) read digit ``k_i`` off one phase ratio; coded delays (:mod:`.coded`, ``r ≈ 2t log_q n``) read the
parity symbols of a BCH codeword of ``k``. The noiseless design is one block with ``o = 0``; the noise-robust
design uses ``R`` random offsets ``o_r`` so each symbol is read from ``R`` independent phase differences.

Every group shares the delays, so the ``l = 0`` rows (``x = d``) are the same in every group: the number of
distinct queries is ``P · (C · (q^b − 1) + 1)`` with ``P = R · (r + 1)`` delays and ``C`` groups (fewer only
when two different rows happen to coincide, which is rare unless ``n`` is small).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .coded import DEFAULT_DEGREE, code_rows

DEFAULT_SPARSITY = 100  # target when neither budget nor sparsity is given
LOAD = 0.8  # frequencies per bin that three-group peeling resolves reliably
DEFAULT_REPEATS = 3  # delay blocks of the noise-robust design
MAX_GROUPS = 8
#: with noise, the coded delays correct this many wrong symbols on top of the non-zero digits
NOISE_MARGIN = 1
DELAYS = ("coded", "identity")
DEFAULT_DELAYS = "coded"


@dataclass(frozen=True)
class QsftPlan:
    """Sizes of a q-SFT run: ``q^b`` bins per group, ``n_groups`` groups, ``n_repeats`` delay blocks of identity or
    coded delays (the latter correcting ``t`` errors: non-zero digits plus wrong symbols)."""

    n_features: int
    q: int
    b: int
    n_groups: int
    n_repeats: int
    random_offsets: bool
    delays: str = "identity"
    t: int = DEFAULT_DEGREE

    @property
    def block(self) -> int:
        """Delays per block: ``o_r`` and ``o_r + d_i``."""
        return delay_block(self.n_features, self.q, self.delays, self.t)

    @property
    def n_bins(self) -> int:
        return self.q**self.b

    @property
    def n_delays(self) -> int:
        return self.n_repeats * self.block

    @property
    def n_queries(self) -> int:
        """Closed-form count of distinct queries (an upper bound when rows collide by chance)."""
        return query_count(self.n_features, self.q, self.b, self.n_groups, self.n_repeats, self.block)


def delay_block(n_features: int, q: int, delays: str, t: int) -> int:
    """``r + 1`` delays per block: ``n + 1`` identity delays, or the coded design's ``r`` plus delay 0."""
    return n_features + 1 if delays == "identity" else code_rows(q, n_features, t) + 1


def query_count(n_features: int, q: int, b: int, n_groups: int, n_repeats: int = 1, block: int | None = None) -> int:
    """``P · (C · (q^b − 1) + 1)`` distinct queries, ``P = R · block`` (``block = n + 1``: identity delays)."""
    return n_repeats * (n_features + 1 if block is None else block) * (n_groups * (q**b - 1) + 1)


def plan_qsft(
    n_features: int,
    q: int,
    budget: int | None = None,
    *,
    sparsity: int | None = None,
    noise_robust: bool = False,
    n_repeats: int | None = None,
    n_groups: int | None = None,
    delays: str = DEFAULT_DELAYS,
    degree: int | None = None,
) -> QsftPlan:
    """Choose ``b``, the number of groups and delay blocks.

    With a ``budget`` (distinct queries) the plan takes the largest ``b`` for which ``n_groups`` (default 3)
    groups fit, then as many groups (up to 8) as the budget allows. Without one it sizes ``q^b`` for
    ``sparsity`` (default 100) non-zero coefficients at ``LOAD`` per bin, with three groups. Coded delays decode
    frequencies with up to ``degree`` (default 3) non-zero digits, ``NOISE_MARGIN`` more when noise-robust; where
    they would need more delays than the identity design (small ``n``), the plan uses identity delays.
    """
    if delays not in DELAYS:
        raise ValueError(f"delays must be one of {', '.join(map(repr, DELAYS))}; got {delays!r}")
    if degree is not None and int(degree) < 1:
        raise ValueError(f"degree must be at least 1, got {degree}")
    n = int(n_features)
    repeats = int(n_repeats) if n_repeats is not None else (DEFAULT_REPEATS if noise_robust else 1)
    if repeats < 1:
        raise ValueError(f"n_repeats must be at least 1, got {n_repeats}")
    if n_groups is not None and int(n_groups) < 1:
        raise ValueError(f"n_groups must be at least 1, got {n_groups}")
    want_groups = int(n_groups) if n_groups is not None else 3
    offsets = bool(noise_robust)
    t = (DEFAULT_DEGREE if degree is None else int(degree)) + (NOISE_MARGIN if noise_robust else 0)
    block = delay_block(n, q, delays, t)
    if block > n + 1:  # a few features: identity delays are fewer, and decode any degree
        delays, block = "identity", n + 1
    if budget is None:
        target = int(sparsity) if sparsity is not None else DEFAULT_SPARSITY
        if target < 1:
            raise ValueError(f"sparsity must be positive, got {sparsity}")
        b = min(n, max(1, math.ceil(math.log(target / LOAD) / math.log(q) - 1e-9)))
        return QsftPlan(n, q, b, want_groups, repeats, offsets, delays, t)
    budget = int(budget)
    fits = [b for b in range(1, n + 1) if query_count(n, q, b, want_groups, repeats, block) <= budget]
    if not fits:
        if n_groups is None:
            small = [c for c in (2, 1) if query_count(n, q, 1, c, repeats, block) <= budget]
            if small:
                return QsftPlan(n, q, 1, small[0], repeats, offsets, delays, t)
        need = query_count(n, q, 1, 1 if n_groups is None else want_groups, repeats, block)
        raise ValueError(
            f"budget {budget} is too small for q-SFT on n={n}, q={q} with {repeats} block(s) of {delays} delays: "
            f"it needs at least {need} queries"
        )
    b = max(fits)
    groups = want_groups
    if n_groups is None:
        groups = max(c for c in range(want_groups, MAX_GROUPS + 1) if query_count(n, q, b, c, repeats, block) <= budget)
    return QsftPlan(n, q, b, groups, repeats, offsets, delays, t)


def subsampling_matrices(plan: QsftPlan, rng: np.random.Generator) -> np.ndarray:
    """``(C, n, b)`` random matrices over ``Z_q`` whose maps ``l -> M l`` are injective (resampled otherwise).

    The map is linear, so it is injective exactly when no ``l != 0`` maps to zero; a few rows of a random ``M``
    almost always show that already, so all ``n`` rows are looked at only for the draws they do not clear.
    """
    n, q, b = plan.n_features, plan.q, plan.b
    out = rng.integers(0, q, size=(plan.n_groups, n, b))
    for _ in range(100):
        doubtful = np.flatnonzero(~_injective(out[:, : 2 * b + 16], q))
        if len(doubtful) == 0:
            return out
        singular = doubtful[~_injective(out[doubtful], q)]
        if len(singular) == 0:
            return out
        out[singular] = rng.integers(0, q, size=(len(singular), n, b))
    raise ValueError(f"could not draw an injective {n}x{b} subsampling matrix over Z_{q}; lower b")


def _injective(m: np.ndarray, q: int) -> np.ndarray:
    """Whether each ``l -> m l`` over ``Z_q`` (``m`` ``(C, n, b)``) maps no ``l != 0`` to zero (float products:
    exact, and BLAS)."""
    images = np.matmul(all_digits(m.shape[2], q)[1:].astype(np.float64), m.transpose(0, 2, 1).astype(np.float64))
    return (images % q != 0).any(axis=2).all(axis=1)


def offsets(plan: QsftPlan, rng: np.random.Generator) -> np.ndarray:
    """``(R, n)`` delay offsets: zero for the noiseless design, uniform over ``Z_q^n`` for the robust one."""
    if not plan.random_offsets:
        return np.zeros((plan.n_repeats, plan.n_features), dtype=np.int64)
    return rng.integers(0, plan.q, size=(plan.n_repeats, plan.n_features))


def all_digits(b: int, q: int) -> np.ndarray:
    """All ``q^b`` vectors of ``Z_q^b`` in C order (first digit most significant), as used by ``np.fft.fftn``."""
    return np.indices((q,) * b, dtype=np.int64).reshape(b, -1).T


def design_queries(
    matrices: np.ndarray, offs: np.ndarray, q: int, delays: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct queries of every group and delay, ``(rows, index)``: query ``M_c l + d_p`` (``l`` in C order) is
    ``rows[index[c, l, p]]``, the layout of the bins. Delay block ``r`` is ``o_r`` followed by ``o_r + d_i`` for the
    rows ``d_i`` of ``delays`` (``None``: identity delays ``e_0 … e_{n-1}``), ``P = R (r + 1)``.

    The ``l = 0`` queries ``d_p`` are the same in every group, so they are listed once (with group 0's): the
    model is asked each query once and the engine receives rows it can hand over in contiguous batches. An identity
    delay ``o_r + e_i`` changes one digit of the block's base rows ``M_c l + o_r``, so each block is one broadcast
    copy of its base rows plus a fix-up of one column per delay: one pass over the output, no temporaries.
    """
    n_groups, n, b = matrices.shape
    block_size = n + 1 if delays is None else len(delays) + 1
    n_bins, n_delays = q**b, len(offs) * block_size
    base = np.matmul(all_digits(b, q), matrices.transpose(0, 2, 1))  # (C, q^b, n), C-contiguous: rows copy whole
    rows = np.empty((n_delays * n_bins + (n_groups - 1) * n_delays * (n_bins - 1), n), dtype=np.uint8)
    first = rows[: n_delays * n_bins].reshape(len(offs), block_size, n_bins, n)  # group 0, every l
    rest = rows[n_delays * n_bins :].reshape(n_groups - 1, len(offs), block_size, n_bins - 1, n)  # l > 0
    cols = np.arange(n)
    for r, offset in enumerate(offs):  # a handful of delay blocks
        if delays is not None:
            shifts = (np.vstack([np.zeros((1, n), dtype=np.int64), delays]) + offset)[:, None, :]  # (r + 1, 1, n)
            first[r] = (base[0] + shifts) % q
            rest[:, r] = (base[1:, None, 1:] + shifts) % q
            continue
        block = ((base + offset) % q).astype(np.uint8)
        plus_one = block + np.uint8(1)  # uint8 wraps at 256, which is the reduction when q = 256
        if q < 256:
            plus_one %= np.uint8(q)
        shifted = np.moveaxis(plus_one, 2, 0)  # (n, C, q^b): digit i of each row plus one
        first[r] = block[0]
        first[r, 1 + cols, :, cols] = shifted[:, 0]
        rest[:, r] = block[1:, None, 1:]
        rest[:, r, 1 + cols, :, cols] = shifted[:, 1:, 1:]  # advanced indices first: (n, C - 1, q^b - 1)
    index = np.empty((n_groups, n_bins, n_delays), dtype=np.intp)
    index[0] = np.arange(n_delays * n_bins).reshape(n_delays, n_bins).T
    index[1:, 0] = index[0, 0]
    index[1:, 1:] = (
        n_delays * n_bins
        + np.arange((n_groups - 1) * n_delays * (n_bins - 1)).reshape(n_groups - 1, n_delays, n_bins - 1)
    ).transpose(0, 2, 1)
    return rows, index


def bin_weights(b: int, q: int) -> np.ndarray:
    """Flat bin index of ``j ∈ Z_q^b`` is ``j @ bin_weights``."""
    return q ** np.arange(b - 1, -1, -1, dtype=np.int64)
