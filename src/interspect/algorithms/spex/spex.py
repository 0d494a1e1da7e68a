"""SPEX: sparse Fourier recovery with BCH-coded delays (Kang et al., 2025), end to end.

1. plan ``(b, t, C)`` from the budget (:mod:`.planner`);
2. query ``C (P+1) 2^b`` structured masks (plus ``P+1`` per 1-bit group a 2-group budget has room for) and
   Walsh–Hadamard them into bins (:mod:`.design`);
3. peel each bin's dominant term once verified (its BCH-decoded support hashes back to the bin and explains
   enough of its energy), refitting every support found jointly each round (:mod:`.peeling`);
4. refit the recovered support plus the empty set and all singletons on every query (:mod:`.refit`).

A budget below the smallest design is refused (the message states the minimum); held-out masks are bought
by :func:`interspect.explain`, never here.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ...contracts import Engine, FitResult
from ...transforms.sparse import PAD, SparseTransform, pad_columns
from ..numerics import blas_threads, scale_invariant
from .bch import bch_code
from .design import Design
from .peeling import peel
from .planner import MAX_BITS, budget_hint, plan_spex
from .refit import refit_bins

DEFAULT_MAX_ORDER = 5  # interactions up to order 5: the SPEX paper's largest setting


def _sorted_rows(idx: np.ndarray) -> np.ndarray:
    big = np.iinfo(np.int64).max
    s = np.sort(np.where(idx < 0, big, idx), axis=1)
    return np.where(s == big, PAD, s)


def _refit(design: Design, bins: np.ndarray, peeled, n: int, singletons: bool, alpha: float, z: float):
    """Refit peeled supports + ∅ (+ all singletons when the design can identify them) on the bins of the full
    groups (:attr:`Design.full_bins`); drop insignificant terms."""
    width = max(design.code.t, 1)
    parts = [pad_columns(peeled.idx, width), np.full((1, width), PAD, dtype=np.int64)]
    # singletons only when every bin keeps far fewer columns than it has delays (else they are not identifiable)
    with_singletons = singletons and (len(peeled.idx) + n + 1) / (1 << design.b) <= design.n_delays / 2
    if with_singletons:
        parts.append(pad_columns(np.arange(n)[:, None], width))
    support = np.unique(_sorted_rows(np.vstack(parts)), axis=0)
    fit = refit_bins(design, bins, support, alpha, use=design.full_bins)
    degree = (support >= 0).sum(axis=1)
    empty = degree == 0
    scale = np.abs(fit.coefs[~empty]).max(initial=0.0)
    threshold = np.full(len(support), z)
    if with_singletons:  # all n singletons are tested, not only decoded ones: the universal threshold
        # sqrt(2 ln n) keeps the expected number of false ones below one (z = 3 admits 0.7 of 256)
        decoded = peeled.idx[(peeled.idx >= 0).sum(axis=1) == 1].max(axis=1, initial=PAD)
        added = (degree == 1) & ~np.isin(support.max(axis=1), decoded)
        threshold[added] = max(z, float(np.sqrt(2.0 * np.log(n))))
    keep = empty | ((np.abs(fit.coefs) > threshold * fit.stderr) & (np.abs(fit.coefs) > 1e-7 * scale))
    if not keep.all():
        support = support[keep]
        fit = refit_bins(design, bins, support, alpha, use=design.full_bins)
    return SparseTransform(support, fit.coefs, n), fit, with_singletons


@scale_invariant
def fit_spex(
    engine: Engine,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    b: int | None = None,
    t: int | None = None,
    n_groups: int | None = 3,
    soft: bool = True,
    chase_depth: int = 6,
    alpha: float = 0.0,
    noise_z: float = 3.0,
    refit_singletons: bool = True,
) -> FitResult:
    """Recover a sparse Fourier transform of degree at most ``t`` with SPEX.

    Parameters
    ----------
    engine : Engine
        Source of model values.
    budget : int, optional
        Most distinct queries to spend. The design takes ``C (P+1) 2^b`` of them (see
        :func:`~interspect.algorithms.spex.planner.spex_query_count`); a budget below the smallest design
        is a ValueError stating the minimum.
    max_order : int, optional
        Largest interaction order sought (default 5); the BCH code corrects ``t = max_order`` errors unless
        ``t`` is given.
    random_state : None, int or Generator
        Seeds the subsampling matrices.
    n_jobs : int, optional
        BLAS threads for decoding and refitting (``None``: the library default).
    b, t, n_groups : int, optional
        Override the planner: ``2^b`` bins per group, degree bound ``t``, ``C = n_groups`` groups
        (``n_groups=None``: 2 or 3, whichever gives the budget's design more bins; a 2-group design adds up to
        two 1-bit groups with the distinct masks the budget leaves over).
    soft, chase_depth : bool, int
        Chase soft decoding: bins that hard decoding does not verify get ``2^chase_depth`` test words with
        the least reliable sign bits flipped.
    alpha : float
        Ridge strength of the final refit (penalty ``alpha * m`` on the ``±1`` design, intercept unpenalised).
    noise_z : float
        How many standard deviations above the estimated noise a bin may stay and still count as resolved.
    refit_singletons : bool
        Add every first-order term to the final refit (kept only where significant: those not decoded at
        ``max(noise_z, sqrt(2 ln n))`` standard errors, as ``n`` of them are tested).
    """
    rng = np.random.default_rng(random_state)
    n = int(engine.n_features)
    max_order = DEFAULT_MAX_ORDER if max_order is None else int(max_order)
    plan = plan_spex(n, budget, max_order, b=b, t=t, n_groups=n_groups)
    if chase_depth < 0:
        raise ValueError(f"chase_depth must be non-negative, got {chase_depth}")
    if not plan.feasible:
        raise ValueError(plan.message)
    degree_bound = min(max_order, plan.t)
    timing: dict[str, float] = {}
    clock = time.perf_counter()
    with blas_threads(n_jobs):
        code = bch_code(n, plan.t)
    design = Design.random(code, plan.b, plan.n_groups, rng, plan.small_bits)
    timing["code_s"] = time.perf_counter() - clock

    before, clock = engine.n_queries, time.perf_counter()
    bins = design.query_bins(engine)
    used = engine.n_queries - before
    timing["query_s"] = time.perf_counter() - clock  # includes the model's own time

    with blas_threads(n_jobs):
        clock = time.perf_counter()
        peeled = peel(design, bins, max_degree=degree_bound, chase_depth=chase_depth if soft else 0, noise_z=noise_z)
        timing["decode_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        fourier, fit, with_singletons = _refit(design, bins, peeled, n, refit_singletons, alpha, noise_z)
        timing["refit_s"] = time.perf_counter() - clock

    info: dict[str, Any] = {
        "b": plan.b,
        "t": plan.t,
        "n_groups": plan.n_groups,
        "bits": list(design.bits),
        "n_delays": design.n_delays,
        "design_queries": design.n_queries,
        "design_distinct": design.n_distinct,
        "distinct_queries": used,
        "code": {"m": code.m, "n_parity": code.n_parity, "length": code.length},
        "rounds": peeled.rounds,
        "found_hard": peeled.n_hard,
        "found_soft": peeled.n_soft,
        "n_terms": len(fourier),
        "refit_singletons": bool(with_singletons),
        "noise_bin_var": float(peeled.noise),
        "unresolved_bins": peeled.n_unresolved,
        "unresolved_energy": peeled.unresolved_energy,
        "r2_train": fit.r2_bins,
        "timing": timing,
    }
    messages = [plan.message] if plan.message else []
    bigger = min(plan.b + 2, n, MAX_BITS)
    advice = f" Try a budget of at least {budget_hint(n, plan.t, plan.n_groups, bigger)}." if bigger > plan.b else ""
    if peeled.unresolved_energy > 0.05 and peeled.n_unresolved > 0:
        messages.append(
            f"peeling left {peeled.unresolved_energy:.0%} of the signal energy in {peeled.n_unresolved} unresolved"
            f" bins: the function is not sparse enough for {1 << plan.b} bins per group (b={plan.b})." + advice
        )
    elif fit.r2_bins < 0.5:
        messages.append(
            f"the recovered terms explain only {max(fit.r2_bins, 0.0):.0%} of the variance of the queried values:"
            " the function looks noisy or not sparse enough at this budget." + advice
        )
    if messages:
        info["message"] = " ".join(messages)
    return FitResult(fourier, info, None, "spex")
