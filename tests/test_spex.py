"""SPEX end to end: exact recovery of planted functions, agreement with the exact transform, planner
arithmetic, noise, reproducibility and graceful behaviour on bad inputs."""

import numpy as np
import pytest
from planted import assert_same, exact_r2
from planted import planted_sparse as planted

import interspect as isp
from interspect.algorithms.base import get_method
from interspect.algorithms.spex import fit_spex, plan_spex, spex_query_count
from interspect.query.engine import QueryEngine
from interspect.transforms.exact import all_masks, exact_fourier


@pytest.mark.parametrize(
    ("n", "k", "b", "t"),
    [(40, 12, 5, 3), (300, 30, 6, 4), (1000, 60, 7, 5), (10_000, 8, 4, 2)],
)
def test_exact_recovery_of_planted_functions(n, k, b, t):
    truth = planted(n, k, t, seed=n)
    engine = QueryEngine(truth.predict, n)
    result = fit_spex(engine, b=b, max_order=t, random_state=1)
    assert_same(truth, result.fourier)
    assert engine.n_queries <= spex_query_count(n, b, t) == result.info["design_queries"]
    assert result.info["unresolved_bins"] == 0 and "message" not in result.info


def test_agrees_with_exact_transform_small_n():
    n = 10

    def f(x):
        x = x.astype(float)
        return 2 * x[:, 0] * x[:, 1] - x[:, 2] + 3 * x[:, 3] * x[:, 4] * x[:, 5] + 0.5 * x[:, 6] * (1 - x[:, 9]) + 1

    exact = exact_fourier(f, n).prune(tol=1e-12)
    result = isp.explain(f, n_features=n, method="spex", max_order=3, b=5, random_state=0)
    assert_same(exact, result.fourier)
    masks = all_masks(n)
    assert np.allclose(result.predict(masks), f(masks))


def test_noise_is_tolerated_and_soft_decoding_helps():
    n, t = 256, 5
    truth = planted(n, 10, t, seed=5, min_degree=t)  # degree t: no room for hard-decision errors
    truth = truth.with_coefs(np.where(truth.degrees == 0, truth.coefs, np.sign(truth.coefs) * 0.25))
    noise = np.sqrt(0.5 * truth.energy())  # noise variance = half the signal variance: sign errors in most bins

    def fit(soft):
        rng = np.random.default_rng(11)
        engine = QueryEngine(lambda x: truth.predict(x) + noise * rng.normal(size=len(x)), n)
        return fit_spex(engine, b=4, max_order=t, random_state=3, soft=soft)

    hard, soft = fit(False), fit(True)
    assert soft.info["found_soft"] > 0
    assert exact_r2(truth, soft.fourier) > 0.97
    assert exact_r2(truth, soft.fourier) > exact_r2(truth, hard.fourier) + 0.1


def test_planner_arithmetic():
    assert spex_query_count(1024, 8, 5) == 3 * 56 * 256 == 43_008
    assert spex_query_count(1024, 8, 5, n_groups=2) == 2 * 56 * 256
    assert spex_query_count(64, 3, 5) == 3 * 36 * 8
    plan = plan_spex(1024, budget=50_000, max_order=5)
    assert (plan.b, plan.t, plan.n_groups, plan.n_queries) == (8, 5, 3, 43_008) and plan.message is None
    assert plan_spex(1024, budget=43_007, max_order=5).b == 7
    assert plan_spex(1024, None, 5).b == 8 and plan_spex(5, None, 3).b == 5
    assert plan_spex(1024, budget=10**9, max_order=5, b=6).b == 6
    low = plan_spex(1024, budget=500, max_order=5)  # below 3 * 56 * 4 = 672: lower the order
    assert low.feasible and low.t < 5 and low.n_queries <= 500 and "672" in low.message
    none = plan_spex(1024, budget=50, max_order=5)
    assert not none.feasible and "672" in none.message


def test_spex_spends_only_its_design_and_explain_measures_it_on_held_out_masks():
    n = 120
    truth = planted(n, 10, 3, seed=2)
    engine = QueryEngine(truth.predict, n)
    budget = spex_query_count(n, 6, 3) + 700
    result = fit_spex(engine, budget=budget, max_order=3, random_state=0)
    assert result.info["b"] == 6 and engine.n_queries == result.info["distinct_queries"] <= spex_query_count(n, 6, 3)
    assert result.faithfulness is None and result.method == "spex"
    expl = isp.explain(truth.predict, n_features=n, method="spex", budget=budget, max_order=3, random_state=0)
    assert expl.faithfulness.kind == "heldout" and expl.faithfulness.r2 > 0.999999
    assert expl.n_queries <= budget


def test_seed_reproducibility():
    n = 200
    truth = planted(n, 25, 4, seed=9)
    rng_noise = np.random.default_rng(0)
    noisy = rng_noise.normal(size=10**6)

    def run(seed):
        engine = QueryEngine(lambda x: truth.predict(x) + 0.05 * noisy[x.sum(axis=1) + 7 * x[:, 0]], n)
        return fit_spex(engine, budget=20_000, max_order=4, random_state=seed), engine.answered()[0]

    (a, masks_a), (b, masks_b), (_, masks_c) = run(123), run(123), run(124)
    assert a.fourier.to_dict() == b.fourier.to_dict()
    assert np.array_equal(masks_a, masks_b)
    assert not np.array_equal(masks_a, masks_c)
    assert get_method("spex") is fit_spex


def test_graceful_on_non_sparse_function():
    n = 14
    values = np.random.default_rng(0).normal(size=1 << n)  # white noise: every coefficient is non-zero
    weights = 1 << np.arange(n)

    def f(x):
        return values[x.astype(np.int64) @ weights]

    engine = QueryEngine(f, n)
    result = fit_spex(engine, b=5, max_order=3, random_state=0)
    assert result.info["r2_train"] < 0.5
    assert "not sparse enough" in result.info["message"] and "queries (b=7" in result.info["message"]
    assert np.isfinite(result.fourier.coefs).all()


def test_a_budget_below_the_smallest_design_is_refused_with_the_minimum():
    n = 1024
    truth = planted(n, 5, 2, seed=1)
    engine = QueryEngine(truth.predict, n)
    minimum = spex_query_count(n, 2, 1)  # b = 2, order 1: the smallest sound design
    with pytest.raises(ValueError, match=rf"smallest design \(order 1\) needs {minimum:,} queries.*672"):
        fit_spex(engine, budget=40, max_order=5, random_state=0)
    assert engine.n_queries == 0
    assert fit_spex(QueryEngine(truth.predict, n), budget=minimum, max_order=1, random_state=0).info["b"] == 2
    with pytest.raises(ValueError, match="smallest design"):
        fit_spex(QueryEngine(truth.predict, 200), budget=10, random_state=0)  # the case: n = 200, 10 queries
    reduced = fit_spex(QueryEngine(truth.predict, n), budget=600, max_order=5, random_state=0)
    assert reduced.info["t"] < 5 and "recommended" in reduced.info["message"]


def test_rejects_bad_options():
    engine = QueryEngine(lambda x: x.sum(axis=1).astype(float), 8)
    with pytest.raises(ValueError, match="chase_depth"):
        fit_spex(engine, chase_depth=-1)
    with pytest.raises(ValueError, match="n_groups"):
        fit_spex(engine, n_groups=0)
