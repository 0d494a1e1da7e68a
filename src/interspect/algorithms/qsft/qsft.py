"""The q-SFT fit: plan, query, hash into bins, peel, refit on the found support."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.special import chdtri

from ...contracts import FitResult
from ...params import Choice
from ...query.qary import QaryQueryEngine
from ...transforms.qary import SparseQaryTransform, conjugate_partners, unique_rows
from ..numerics import StandardisedEngine, blas_threads
from .bins import bin_transform
from .coded import DelayCode, delay_code
from .design import DEFAULT_DELAYS, DELAYS, design_queries, offsets, plan_qsft, query_count, subsampling_matrices
from .peeling import Peeler

PRUNE_REL = 1e-12  # coefficients below this fraction of the largest are numerical zeros
#: more of the bins' energy than this left unexplained above the noise floor: the design was too small for
#: the function (peeling collapses once the bins hold several terms each), refused rather than returned
MAX_UNEXPLAINED_SHARE = 0.2


def solve_normal_equations(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``gram⁻¹ rhs`` (least squares if singular); LAPACK gesv: small systems, where NumPy's low call overhead wins."""
    if len(rhs) == 0:
        return np.zeros(0, dtype=np.complex128)
    try:
        return np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def _normal_equations(peeler: Peeler, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gram matrix and right-hand side of the least-squares fit of frequencies ``ks`` to all bins.

    Each group-and-delay block of bins is a unitary (up to scale) transform of that block's queries, so
    this is the least-squares fit to the queries themselves, but the design is sparse: frequency ``k``
    touches one bin per group and delay. A subset of ``ks`` is fitted by the sub-system of these.
    """
    if len(ks) == 0:
        return np.zeros((0, 0), dtype=np.complex128), np.zeros(0, dtype=np.complex128)
    where = peeler.bins_of(ks)  # (K, C)
    sig = peeler.signatures(ks)  # (K, P)
    # frequencies a, b share the bin entries of group c exactly when they hash to the same bin there
    shared = (where[:, None, :] == where[None, :, :]).sum(axis=2)  # (K, K) groups in which they collide
    gram = shared * (sig.conj() @ sig.T)
    seen = peeler.u0[np.arange(peeler.n_groups)[None, :], where]  # (K, C, P) the bins each frequency lands in
    return gram, np.matmul(seen, sig.conj()[:, :, None]).sum(axis=(1, 2))


def _symmetric_solve(gram: np.ndarray, rhs: np.ndarray, support: np.ndarray, q: int) -> np.ndarray:
    """Least-squares coefficients of ``support``, then ``F(-k) = conj(F(k))`` enforced (the function is real)."""
    coefs = solve_normal_equations(gram, rhs)
    return 0.5 * (coefs + np.conj(coefs[conjugate_partners(support, q)]))


def fit_qsft(
    engine: QaryQueryEngine,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    noise_robust: bool = False,
    sparsity: int | None = None,
    n_groups: int | None = None,
    n_repeats: int | None = None,
    delays: str = DEFAULT_DELAYS,
    max_iter: int = 64,
    false_alarm: float = 1e-4,
) -> FitResult:
    """Sparse q-ary Fourier transform of the (real) function behind ``engine`` (a q-ary engine, ``engine.q``).

    Parameters
    ----------
    budget : int, optional
        Most distinct queries; sizes the design through :func:`~.design.plan_qsft`.
    delays : {"coded", "identity"}
        ``"coded"``: about ``2t log_q n`` delays per block from a BCH code (:mod:`.coded`), which decode
        frequencies with up to ``t = max_order`` (default 3) non-zero digits; ``"identity"``: ``n`` delays,
        any degree.
    noise_robust : bool
        Use ``n_repeats`` (default 3) delay blocks with random offsets instead of one, so that the phases
        survive noisy evaluations (costs ``n_repeats`` times more queries per bin); coded delays then also
        correct a wrong symbol.
    sparsity : int, optional
        Expected number of non-zero coefficients (counting ``k`` and ``-k``) when no budget is given.
    max_order : int, optional
        Reject detected frequencies with more non-zero digits (a prior for noisy, low-order functions).
    n_jobs : int, optional
        BLAS threads for peeling and the refit (``None``: the library default).
    false_alarm : float
        False-alarm level of the chi-square tests against the estimated noise floor.

    The values are centred and scaled before the fit (:class:`~..numerics.StandardisedEngine`), so the
    result does not depend on an offset or a unit; ``info["noise_sd_estimate"]`` is in the function's units.
    """
    if not isinstance(engine, QaryQueryEngine):
        raise TypeError(f"fit_qsft needs a QaryQueryEngine, got {type(engine).__name__}")
    if max_order is not None and int(max_order) < 1:
        raise ValueError(f"max_order must be at least 1, got {max_order}")
    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm must lie in (0, 1), got {false_alarm}")
    delays = Choice(DELAYS)("delays", delays)
    scaled = StandardisedEngine(engine, engine.q)
    n, q = scaled.n_features, scaled.q
    rng = np.random.default_rng(random_state)
    plan = plan_qsft(
        n, q, budget, sparsity=sparsity, noise_robust=noise_robust, n_repeats=n_repeats, n_groups=n_groups,
        delays=delays, degree=max_order,
    )  # fmt: skip
    code = delay_code(q, n, plan.t) if plan.delays == "coded" else None
    matrices = subsampling_matrices(plan, rng)
    offs = offsets(plan, rng)
    queries_before = scaled.n_queries
    # one call: one de-duplication pass; the design is ours alone, so the model may be handed slices of it
    rows, index = design_queries(matrices, offs, q, None if code is None else code.matrix)
    values = scaled(rows, scratch=True)[index]
    bins = bin_transform(values, q, plan.b)  # values: (C, q^b, P), by the design's index

    with blas_threads(n_jobs):
        transform, info = _decode(bins, matrices, offs, q, n, max_order, max_iter, false_alarm, code)
    if info["unexplained_above_noise"] > MAX_UNEXPLAINED_SHARE:
        bigger = (
            query_count(n, q, plan.b + 1, max(plan.n_groups, 3), plan.n_repeats, plan.block) if plan.b < n else None
        )
        raise ValueError(
            f"budget {plan.n_queries if budget is None else budget:,} is too small for this function: with"
            f" {q}^{plan.b} bins per group the peeling left {info['unexplained_above_noise']:.0%} of the bins'"
            f" energy (above the noise) unexplained, i.e. more terms than the design can resolve"
            + (f"; it needs at least {bigger:,} queries (b = {plan.b + 1})" if bigger else "")
        )
    noise_sd = info["noise_sd_estimate"] * scaled.scale  # in the function's units
    report: dict[str, Any] = {
        "b": plan.b,
        "n_groups": plan.n_groups,
        "n_repeats": plan.n_repeats,
        "noise_robust": bool(noise_robust),
        "delays": plan.delays,
        "delays_per_block": plan.block,
        "planned_queries": plan.n_queries,
        "queries": scaled.n_queries - queries_before,
        **info,
        "noise_sd_estimate": noise_sd,
    }
    return scaled.restore(FitResult(transform, report, None, "qsft"))


def _decode(
    bins: np.ndarray, matrices: np.ndarray, offs: np.ndarray, q: int, n: int, max_order: int | None,
    max_iter: int, false_alarm: float, code: DelayCode | None,
) -> tuple[SparseQaryTransform, dict[str, float]]:  # fmt: skip
    """Peel the bins, refit the found support, drop terms under the noise floor."""
    decode_start = time.perf_counter()
    n_bins = bins.shape[1]
    total = float(np.sum(np.abs(bins) ** 2))
    peeler = Peeler(bins, matrices, offs, q, alpha=false_alarm, code=code)
    found, _, iterations = peeler.run(max_order=max_order, max_iter=max_iter)
    support = unique_rows(np.concatenate([np.zeros((1, n), dtype=np.int64), found, (-found) % q]))[0]
    gram, rhs = _normal_equations(peeler, support)
    coefs = _symmetric_solve(gram, rhs, support, q)
    numerical_zero = PRUNE_REL * float(np.abs(coefs).max(initial=0.0))
    noise_floor = np.sqrt(peeler.coefficient_noise() * chdtri(2, false_alarm) / 2)
    keep = np.abs(coefs) > max(numerical_zero, noise_floor)
    if not keep.all():
        # dropping numerical zeros changes no other coefficient; dropping terms under the noise floor does
        refit = bool(np.any(np.abs(coefs[~keep]) > numerical_zero))
        support, coefs = support[keep], coefs[keep]
        if refit:  # the kept terms' sub-system of the same normal equations
            coefs = _symmetric_solve(gram[np.ix_(keep, keep)], rhs[keep], support, q)
    noise_share = peeler.noise * bins.size / total if total > 0 else 0.0  # what noise alone leaves in the bins
    info = {
        "peeling_iterations": iterations,
        "n_peeled": len(found),
        "n_terms": len(support),
        "unexplained_bin_energy": peeler.residual_energy(),
        "unexplained_above_noise": max(peeler.residual_energy() - noise_share, 0.0),
        "noise_sd_estimate": float(np.sqrt(peeler.noise * n_bins)),
        "decode_s": time.perf_counter() - decode_start,
    }
    return SparseQaryTransform(support, coefs, n, q), info
