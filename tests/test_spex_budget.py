"""SPEX at 1,000 queries for 20 planted terms of degree <= 5 at n = 1,024 (issue 20, point 3): two groups of 8 bins
plus two 1-bit groups (952 distinct masks), and the trimmed residual that resolves terms hashed together."""

import numpy as np
import pytest
from test_spex_small_designs import MAX_DEGREE, assert_exact, planted

from interspect.algorithms.spex import bch_code, fit_spex, plan_spex
from interspect.algorithms.spex.design import Design
from interspect.algorithms.spex.peeling import peel
from interspect.query.engine import QueryEngine
from interspect.transforms.sparse import pad_columns

N, K, BUDGET = 1024, 20, 1000


def padded(truth) -> np.ndarray:
    return pad_columns(truth.idx, MAX_DEGREE)


def budget_design(truth) -> tuple[Design, np.ndarray]:
    """The design ``fit_spex(budget=1000, n_groups=None, random_state=0)`` builds, and its bins of ``truth``."""
    plan = plan_spex(N, BUDGET, MAX_DEGREE, n_groups=None)
    design = Design.random(bch_code(N, plan.t), plan.b, plan.n_groups, np.random.default_rng(0), plan.small_bits)
    return design, design.query_bins(QueryEngine(truth.predict, N))


@pytest.mark.parametrize("seed", [1044, 1045])
@pytest.mark.parametrize("hierarchical", [True, False], ids=["hierarchical", "flat"])
def test_exact_recovery_at_1000_queries(hierarchical, seed):
    truth = planted(N, K, hierarchical, seed)
    engine = QueryEngine(truth.predict, N)
    result = fit_spex(engine, budget=BUDGET, max_order=MAX_DEGREE, n_groups=None, random_state=0)
    assert result.info["bits"] == [3, 3, 1, 1]
    assert engine.n_queries == result.info["design_distinct"] <= BUDGET
    r2 = 1.0 - (result.fourier - truth).energy(include_empty=True) / truth.energy()
    assert r2 > 0.999
    assert_exact(truth, result.fourier)


def test_groups_with_fewer_bits_give_the_bins_of_the_transform():
    """Bin ``j`` of group ``c`` and delay ``p`` is ``sum_{k: M_c^T k = j} F(k) (-1)^<d_p, k>`` in every group,
    the 2-bin ones included (their other bins stay empty)."""
    truth = planted(N, K, False, seed=3)
    design, bins = budget_design(truth)
    want = np.zeros_like(bins)
    where = design.bins_of(padded(truth))  # (K + 1, C)
    contrib = truth.coefs[:, None, None] * design.signs_of(padded(truth))[:, None, :]
    np.add.at(want, (np.broadcast_to(np.arange(design.n_groups), where.shape), where), contrib)
    assert np.allclose(bins, want, atol=1e-9)
    assert not np.any(bins[~design.valid])


def test_stalled_peel_decodes_terms_sharing_a_bin_in_every_group():
    """Seed 1045 (flat) hashes two terms into one bin in all four groups: the joint refit with them missing biases
    the terms next to them and peeling stalls; refitting on the other bins frees the pair, which then decode."""
    truth = planted(N, K, False, seed=1045)
    design, bins = budget_design(truth)
    where = design.bins_of(padded(truth))
    shared = (where[:, None, :] == where[None, :, :]).all(axis=2) & ~np.eye(len(where), dtype=bool)
    assert shared[truth.degrees > 0][:, truth.degrees > 0].any()
    peeled = peel(design, bins, max_degree=MAX_DEGREE, chase_depth=6)
    found = dict(zip((tuple(int(i) for i in row if i >= 0) for row in peeled.idx), peeled.coefs, strict=True))
    want = truth.to_dict()
    assert set(want) <= set(found)
    assert np.allclose([found[s] - want.get(s, 0.0) for s in found], 0.0, atol=1e-8)  # extra supports refit to 0
    assert peeled.unresolved_energy < 1e-9
