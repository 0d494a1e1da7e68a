"""ProxySPEX: exact recovery of planted hierarchical functions, reproducibility, tiny budgets, large n."""


import numpy as np
import pytest
from planted import exact_r2, planted_hierarchical
from threadpoolctl import threadpool_info

import interspect as isp
from interspect.algorithms.base import get_method
from interspect.algorithms.numerics import distinct_uniform_masks, parity_design, ridge
from interspect.algorithms.proxyspex import (
    fit_from_queries,
    fit_proxyspex,
    packed,
    proxy,
    sampling,
    selection,
    small_budget,
)
from interspect.algorithms.proxyspex.packed import PackedMasks
from interspect.algorithms.proxyspex.pair_lasso import _least_squares, fit_pair_lasso, stack_weights, strongest_pairs
from interspect.algorithms.proxyspex.proxy import TreeData, fit_tree_proxy
from interspect.algorithms.proxyspex.selection import (
    RIDGE_GRID,
    FoldStats,
    proxy_blend_weight,
    run_pipeline,
    with_intercept,
)
from interspect.algorithms.proxyspex.small_budget import (
    MIN_FIT_QUERIES,
    STACK_MAX_ROWS,
    kfold_labels,
    ridge_cv_predictions,
    uses_stack,
)
from interspect.query.engine import QueryEngine
from interspect.transforms.sparse import PAD, SparseTransform


@pytest.mark.parametrize("n, seed", [(24, 0), (64, 1), (200, 2)])
def test_exact_recovery_of_planted_functions(n, seed):
    truth = planted_hierarchical(n, n_top=4, max_degree=3, seed=seed)
    engine = QueryEngine(truth.predict, n)
    result = fit_proxyspex(engine, budget=1200, max_order=3, random_state=seed)
    assert engine.n_queries == 1200
    assert exact_r2(truth, result.fourier) > 1 - 1e-9
    got = result.fourier.prune(tol=1e-6).to_dict()
    want = truth.to_dict()
    assert set(got) == set(want)
    assert all(abs(got[k] - want[k]) < 1e-6 for k in want)
    assert result.info["proxy_weight"] == 0.0  # the selection is exact: nothing of the trees is blended in
    assert result.info["n_fit_queries"] == 1200  # every query is fitted: held-out masks are explain's


def test_every_query_is_fitted_and_validation_rows_are_capped_at_large_budgets():
    truth = planted_hierarchical(20, n_top=3, max_degree=3, seed=5)
    engine = QueryEngine(truth.predict, 20)
    result = fit_proxyspex(engine, budget=6000, max_order=3, random_state=0)
    assert result.info["n_fit_queries"] == engine.n_queries == 6000 and result.faithfulness is None
    rng = np.random.default_rng(0)
    for m, n_val in ((1000, 200), (4000, 500)):  # 20 %, at most 500
        x = rng.random((m, 20)) < 0.5
        _, info = fit_tree_proxy(x, truth.predict(x), 3, rng, 1)
        assert len(info["validation_rows"]) == n_val


@pytest.mark.parametrize("binned", [False, True])
def test_trees_boosted_from_a_prior_fit_only_its_residual(binned):
    # the prior holds the planted function but its strongest singleton: the trees add that term, in a few rounds
    n = 40
    truth = planted_hierarchical(n, n_top=4, max_degree=3, seed=3)
    strongest = int(np.argmax(np.abs(truth.coefs) * (truth.degrees == 1)))
    prior = truth.with_coefs(np.where(np.arange(len(truth)) == strongest, 0.0, truth.coefs))
    rng = np.random.default_rng(0)
    x = PackedMasks.from_bool(rng.random((2000, n)) < 0.5)
    y, offset = truth.predict(x.rows()), prior.predict(x.rows())
    data = TreeData.build(x, y) if binned else None
    plain, plain_info = fit_tree_proxy(x, y, 3, np.random.default_rng(1), 1, data=data)
    booster, info = fit_tree_proxy(x, y, 3, np.random.default_rng(1), 1, data=data, offset=offset)
    assert info["proxy_r2"] > 0.999  # prior + trees, on the validation rows (early stopping ends near 1)
    assert info["n_trees"] < plain_info["n_trees"]
    x_test = rng.random((500, n)) < 0.5
    residual = truth.predict(x_test) - prior.predict(x_test)
    fitted = booster.predict(x_test.astype(np.float32), num_iteration=booster.best_iteration)
    assert np.mean((fitted - residual) ** 2) < 1e-3 * np.var(truth.predict(x_test))  # the trees are the residual
    fourier, _ = run_pipeline(
        x, y, np.random.default_rng(2), max_order=3, n_jobs=1, max_candidates=500, expand_rounds=2, max_pool=2000,
        prior=prior, boost_from_prior=True,
    )  # fmt: skip
    assert exact_r2(truth, fourier) > 1 - 1e-9


def test_proxy_weight_is_the_validation_optimal_blend():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    noise = rng.normal(size=200)
    assert proxy_blend_weight(y, y + noise, y) == (0.0, 1.0)
    w, r2 = proxy_blend_weight(y + noise, y, y)
    assert w == 1.0 and r2 == 1.0
    w, r2 = proxy_blend_weight(y + noise, y - noise, y)  # errors cancel at w = 1/2
    assert abs(w - 0.5) < 1e-12 and r2 > 1 - 1e-12


def test_dense_functions_blend_in_the_trees_and_gain_on_fresh_masks(squashed_sum):
    n, f = 30, squashed_sum
    rng = np.random.default_rng(0)
    x, x_test = rng.random((3000, n)) < 0.5, rng.random((4000, n)) < 0.5
    y, y_test = f(x), f(x_test)
    scores = {}
    for blend in (False, True):
        fourier, info = run_pipeline(
            x, y, np.random.default_rng(0), max_order=4, n_jobs=1, max_candidates=500, expand_rounds=2,
            max_pool=2000, blend_proxy=blend,
        )  # fmt: skip
        pred = fourier.predict(x_test)
        scores[blend] = 1 - ((pred - y_test) ** 2).sum() / ((y_test - y_test.mean()) ** 2).sum()
    assert 0.1 < info["proxy_weight"] < 0.5 and info["n_terms"] > 1000
    assert scores[True] > scores[False] > 0.8


def test_expansion_finds_a_high_order_term_without_its_own_marginal_signal():
    # f = a + b + c + ab + bc + ac + 2 abc on n = 40: the top term is the union of selected pairs
    n = 40
    terms = {(3,): 1.0, (9,): -0.8, (17,): 0.7, (3, 9): 0.6, (9, 17): -0.5, (3, 17): 0.5, (3, 9, 17): 1.2}
    truth = SparseTransform.from_dict(terms, n)
    result = fit_proxyspex(QueryEngine(truth.predict, n), budget=400, max_order=3, random_state=0)
    assert exact_r2(truth, result.fourier) > 1 - 1e-9


def test_reproducible_with_seed_and_generator():
    truth = planted_hierarchical(50, n_top=3, max_degree=3, seed=5)
    runs = [
        (engine := QueryEngine(truth.predict, 50), fit_proxyspex(engine, budget=300, max_order=3, random_state=seed))
        for seed in (7, 7, 8)
    ]
    assert runs[0][1].fourier.to_dict() == runs[1][1].fourier.to_dict()
    masks = [engine.answered()[0] for engine, _ in runs]
    np.testing.assert_array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[0], masks[2])
    via_rng = fit_proxyspex(
        QueryEngine(truth.predict, 50), budget=300, max_order=3, random_state=np.random.default_rng(7)
    )
    assert via_rng.fourier.to_dict() == runs[0][1].fourier.to_dict()


def test_tiny_budgets():
    n = 100
    truth = SparseTransform.from_dict({(): 1.0, (4,): 2.0, (7,): -1.5, (4, 7): 0.5}, n)
    with pytest.raises(ValueError, match="at least 2"):
        fit_proxyspex(QueryEngine(truth.predict, n), budget=1, max_order=3)
    few = fit_proxyspex(QueryEngine(truth.predict, n), budget=5, max_order=3, random_state=0)
    assert list(few.fourier.to_dict()) == [()] and "too few" in few.info["message"]
    # fewer masks than features: no crash, a message, and the strong effects are still found
    engine = QueryEngine(truth.predict, n)
    small = fit_proxyspex(engine, budget=60, max_order=2, random_state=0)
    assert engine.n_queries == 60
    assert "60 queries for 100 features" in small.info["message"]
    assert abs(small.fourier.get((4,)) - 2.0) < 0.2 and abs(small.fourier.get((7,)) + 1.5) < 0.2


def test_more_budget_than_masks_uses_every_mask_once():
    n = 5
    truth = planted_hierarchical(n, n_top=2, max_degree=3, seed=3)
    engine = QueryEngine(truth.predict, n)
    result = fit_proxyspex(engine, budget=1000, max_order=3, random_state=0)
    assert engine.n_queries == 32
    assert exact_r2(truth, result.fourier) > 1 - 1e-9


def test_sampling_at_ten_thousand_features_and_pairing():
    rng = np.random.default_rng(0)
    masks = distinct_uniform_masks(300, 10_000, rng)
    assert masks.shape == (300, 10_000) and abs(masks.mean() - 0.5) < 0.01
    paired = distinct_uniform_masks(40, 30, rng, paired=True)
    np.testing.assert_array_equal(paired[0::2], ~paired[1::2])
    assert len(np.unique(paired, axis=0)) == 40
    n = 10_000
    truth = SparseTransform.from_dict({(): 0.5, (12,): 1.0, (9_000,): -1.0, (12, 9_000): 0.8}, n)
    result = fit_proxyspex(QueryEngine(truth.predict, n), budget=400, max_order=2, random_state=1)
    assert exact_r2(truth, result.fourier) > 0.999


def test_pure_interactions_are_flagged():
    # parities with no marginal effects: greedy trees find nothing, which must be detected
    n = 30
    truth = SparseTransform.from_dict({(0, 1, 2): 1.0, (5, 6, 7): -1.0}, n)
    result = fit_proxyspex(QueryEngine(truth.predict, n), budget=300, max_order=3, random_state=0)
    assert result.info["no_hierarchy"] is True


def test_fit_from_queries_and_explain_integration():
    n = 30
    truth = planted_hierarchical(n, n_top=3, max_degree=2, seed=11)
    x = distinct_uniform_masks(400, n, np.random.default_rng(0))
    result = fit_from_queries(x, truth.predict(x), max_order=2, random_state=0)
    # below CV_MAX_ROWS every query is fitted and the faithfulness is cross-validated over all of them
    assert exact_r2(truth, result.fourier) > 1 - 1e-9
    assert result.faithfulness.kind == "cross-validated" and result.faithfulness.n_masks == 400
    assert result.faithfulness.r2 > 0.999 and "cv_r2" not in result.info
    assert get_method("proxyspex") is fit_proxyspex
    # held-out masks, when asked for, come out of the budget and measure the fit
    expl = isp.explain(
        truth.predict, n_features=n, method="proxyspex", budget=500, max_order=2, holdout=100, random_state=0
    )
    assert expl.n_queries == 500 and expl.n_heldout_queries == 100
    assert expl.faithfulness.kind == "heldout" and expl.faithfulness.n_masks == 100
    assert expl.faithfulness.r2 > 0.999


def test_small_budgets_lean_on_the_singleton_ridge_when_cv_prefers_it():
    # a dense additive function (40 effects) on 54 masks: the tree pipeline cannot pin it down, ridge on all
    # singletons can; the out-of-fold stack must give the pipeline almost no weight and keep the ridge's quality
    n = 40
    rng = np.random.default_rng(0)
    terms = {(i,): float(c) for i, c in enumerate(rng.normal(size=n))}
    terms.update({(): 1.0, (0, 1): 0.5})
    truth = SparseTransform.from_dict(terms, n)
    x = distinct_uniform_masks(54, n, np.random.default_rng(1))
    y = truth.predict(x)
    result = fit_from_queries(x, y, max_order=3, random_state=0)
    fourier, info = result.fourier, result.info
    scores, weights = info["cv_scores"], info["blend_weights"]
    assert scores["singletons"] > scores["pipeline"] + 0.3
    assert weights["pipeline"] < 0.2 and weights["singletons"] > 0.5 and abs(sum(weights.values()) - 1) < 1e-12
    assert result.faithfulness.r2 == scores["blend"] >= scores["singletons"]
    design = parity_design(x, with_intercept(np.arange(n)[:, None]))
    singles = SparseTransform(np.arange(-1, n)[:, None], ridge(design, y, info["singleton_alpha"]), n)
    ridge_part = np.array([weights["singletons"] * singles.get((i,)) for i in range(n)])
    others = np.array([fourier.get((i,)) for i in range(n)]) - ridge_part  # other weights x their fits' (|c| < 3)
    assert np.max(np.abs(others)) <= 3 * (1.0 - weights["singletons"])
    assert exact_r2(truth, fourier) > 0.9


def test_stack_weights_minimise_the_error_over_the_simplex():
    rng = np.random.default_rng(0)
    y, a, b, c = rng.normal(size=(4, 50))
    w = stack_weights(y, np.stack([a, b, c]))
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
    grid = np.linspace(0, 1, 201)
    best = min(np.sum((y - (g * a + h * b + (1 - g - h) * c)) ** 2) for g in grid for h in grid[grid <= 1 - g + 1e-12])
    assert np.sum((y - w @ np.stack([a, b, c])) ** 2) <= best + 1e-9
    np.testing.assert_array_equal(stack_weights(a, np.stack([a, b])), [1.0, 0.0])  # exact vertices
    np.testing.assert_array_equal(stack_weights(b, np.stack([a, b])), [0.0, 1.0])
    np.testing.assert_array_equal(stack_weights(2 * a - b, np.stack([a, b])), [1.0, 0.0])  # clipped to the simplex
    np.testing.assert_allclose(stack_weights(0.3 * a + 0.7 * c, np.stack([a, b, c])), [0.3, 0.0, 0.7], atol=1e-9)
    assert stack_weights(y, np.stack([a, a])).sum() == 1.0  # identical predictions


def test_strongest_pairs_are_the_pairs_of_the_largest_coefficients():
    coefs = np.array([0.1, -5.0, 0.0, 3.0, -0.2, 4.0])
    np.testing.assert_array_equal(strongest_pairs(coefs, 3), [[1, 3], [1, 5], [3, 5]])  # ceil(sqrt(9)) = 3
    assert len(strongest_pairs(coefs, 1000)) == 15  # capped at every feature


def test_pair_lasso_finds_the_pairs_of_strong_features_with_few_queries():
    """Strong heredity: 6 main effects and 4 pairs among them, exact from 120 masks for 60 features (1,830 pairs)."""
    n, m = 60, 120
    terms = {(): 0.5, (3,): 2.0, (7,): -1.5, (11,): 1.2, (20,): -1.0, (33,): 1.4, (41,): 0.9}
    terms.update({(3, 7): 1.5, (7, 11): -1.0, (20, 33): 1.2, (3, 41): 0.8})
    truth = SparseTransform.from_dict(terms, n)
    x = distinct_uniform_masks(m, n, np.random.default_rng(0))
    y = truth.predict(x)
    signs = 1.0 - 2.0 * x
    design = parity_design(x, with_intercept(np.arange(n)[:, None]))
    rank = lambda rows: ridge(design[rows], y[rows], 1e-2)[1:]  # noqa: E731
    folds = kfold_labels(m, 10, np.random.default_rng(1))
    fit, oof = fit_pair_lasso(signs, y, rank(np.ones(m, dtype=bool)), folds, rank)
    assert exact_r2(truth, fit) > 1 - 1e-9  # the relaxed fit undoes the lasso's shrinkage
    assert set(fit.prune(1e-6).to_dict()) == set(terms)
    r2 = lambda pred, target: 1 - np.sum((pred - target) ** 2) / np.sum((target - target.mean()) ** 2)  # noqa: E731
    assert r2(oof, y) > 1 - 1e-9  # every fold recovers it too
    # honest out-of-fold predictions (ranking and lasso rerun without the fold): pure noise predicts nothing
    noise = np.random.default_rng(5).normal(size=m)
    rank_noise = lambda rows: ridge(design[rows], noise[rows], 1e-2)[1:]  # noqa: E731
    fit, oof = fit_pair_lasso(signs, noise, rank_noise(np.ones(m, dtype=bool)), folds, rank_noise)
    assert r2(oof, noise) < 0.05


@pytest.mark.parametrize("n, m, hierarchical", [(64, 96, True), (64, 150, False), (30, 40, True), (64, 300, False)])
def test_small_budgets_are_never_worse_than_the_singleton_ridge(n, m, hierarchical):
    if hierarchical:
        truth = planted_hierarchical(n, n_top=6, max_degree=4, seed=n)
    else:  # pure interactions mixed with main effects: no hierarchy for the trees to follow
        truth = SparseTransform.from_dict({(): 1.0, (0, 1): 1.0, (2, 3, 4): -1.0, (5,): 0.7, (6, 7): 0.5}, n)
    x = distinct_uniform_masks(m, n, np.random.default_rng(0))
    y = truth.predict(x)
    runs = [fit_from_queries(x, y, max_order=4, random_state=3) for _ in range(2)]
    assert runs[0].fourier.to_dict() == runs[1].fourier.to_dict()  # reproducible, CV folds included
    fourier, info = runs[0].fourier, runs[0].info
    assert set(info["cv_scores"]) - {"lasso"} == {"pipeline", "singletons", "pairs", "blend"}
    assert runs[0].faithfulness.r2 == info["cv_scores"]["blend"] <= 1.0
    # on all 2^n masks (exact, by Parseval) at least as good as ridge on every singleton with a CV-chosen strength
    design = parity_design(x, with_intercept(np.arange(n)[:, None]))
    sse = ((ridge_cv_predictions(design, y, kfold_labels(m, 5, np.random.default_rng(0))) - y) ** 2).sum(axis=1)
    baseline = SparseTransform(np.arange(-1, n)[:, None], ridge(design, y, RIDGE_GRID[int(np.argmin(sse))]), n)
    assert exact_r2(truth, fourier) >= exact_r2(truth, baseline) - 0.01
    if m >= 300:  # enough masks for the pipeline to find interactions: it is kept and wins by far
        assert info["blend_weights"]["pipeline"] > 0.8 and exact_r2(truth, fourier) > exact_r2(truth, baseline) + 0.2


def test_kernel_and_gram_forms_of_the_ridge_agree_with_a_directridge():
    rng = np.random.default_rng(0)
    m = 60
    folds = kfold_labels(m, 5, rng)
    assert np.bincount(folds).tolist() == [12] * 5
    for k in (81, 30):  # more columns than training rows (kernel form), and fewer (Gram form)
        design = np.where(rng.random((m, k)) < 0.5, 1.0, -1.0)
        design[:, 0] = 1.0
        y = 2.0 + design[:, 1:6] @ rng.normal(size=5) + rng.normal(size=m)
        for alpha in (1e-4, 0.1, 1.0):
            gram = design.T @ design + np.diag(np.r_[0.0, np.full(k - 1, alpha * m)])
            np.testing.assert_allclose(ridge(design, y, alpha), np.linalg.solve(gram, design.T @ y), atol=1e-9)
        pred = ridge_cv_predictions(design, y, folds)
        for a, alpha in enumerate(RIDGE_GRID[1:], start=1):
            for f in range(5):
                tr, val = folds != f, folds == f
                d = design[tr]
                gram = d.T @ d + np.diag(np.r_[0.0, np.full(k - 1, alpha * tr.sum())])
                np.testing.assert_allclose(pred[a, val], design[val] @ np.linalg.solve(gram, d.T @ y[tr]), atol=1e-6)


def test_every_mask_gives_the_exact_answer_even_at_tiny_n():
    from interspect.indices import shapley_values

    additive = QueryEngine(lambda x: x.sum(axis=1).astype(float), 3)  # x0 + x1 + x2, all 8 masks
    result = fit_proxyspex(additive, budget=8, random_state=0)
    np.testing.assert_array_equal(shapley_values(result.fourier), [1.0, 1.0, 1.0])
    assert result.faithfulness.kind == "exact" and result.faithfulness.r2 == 1.0 and additive.n_queries == 8
    one = fit_proxyspex(QueryEngine(lambda x: 1.0 + 2.0 * x[:, 0], 1), budget=None, random_state=0)  # n = 1
    assert one.fourier.to_dict() == pytest.approx({(): 2.0, (0,): -1.0}, abs=1e-15)
    np.testing.assert_array_equal(shapley_values(one.fourier), [2.0])
    # too few queries for anything but the mean: Shapley values are zeros, and floats
    mean_only = fit_proxyspex(QueryEngine(lambda x: x.sum(axis=1).astype(float), 12), budget=5, random_state=0)
    phi = shapley_values(mean_only.fourier)
    assert list(mean_only.fourier.to_dict()) == [()] and phi.dtype == np.float64 and not phi.any()


# ------------------------------------------------------------------------ memory-saving paths (packed masks)


def test_packed_masks_give_the_plain_parity_design_and_signed_sums(monkeypatch):
    monkeypatch.setattr(packed, "CHUNK_CELLS", 64)  # many chunks, each a multiple of 8 rows
    rng = np.random.default_rng(0)
    x = rng.random((101, 13)) < 0.5  # neither size a multiple of 8
    idx = np.array([[PAD, PAD, PAD], [0, PAD, PAD], [3, 12, PAD], [1, 5, 12], [12, PAD, PAD]])
    masks = PackedMasks.from_bool(x)
    assert np.array_equal(masks.rows(), x) and np.array_equal(masks.subset([4, 2]).rows(), x[[4, 2]])
    np.testing.assert_array_equal(masks.parity_design(idx), parity_design(x, idx))
    w = rng.normal(size=101)
    rows = rng.random(101) < 0.7
    np.testing.assert_allclose(masks.signed_sums(w[rows], rows), (1.0 - 2.0 * x[rows]).T @ w[rows], atol=1e-12)
    np.testing.assert_allclose(masks.signed_sums(w), (1.0 - 2.0 * x).T @ w, atol=1e-12)


@pytest.mark.parametrize("paired", [False, True])
def test_chunked_packed_sampling_draws_the_plain_masks(monkeypatch, paired):
    monkeypatch.setattr(sampling, "PACKED_MIN_CELLS", 0)
    monkeypatch.setattr(packed, "CHUNK_CELLS", 800)  # 8 rows a chunk at n = 70
    n, budget = 70, 61
    truth = planted_hierarchical(n, n_top=2, max_degree=2, seed=0)
    engine = QueryEngine(truth.predict, n)
    masks, y = sampling.query_packed_masks(engine, budget, np.random.default_rng(3), paired=paired)
    plain = distinct_uniform_masks(budget, n, np.random.default_rng(3), paired=paired)
    assert np.array_equal(masks.rows(), plain)
    np.testing.assert_array_equal(y, truth.predict(plain))


def test_streamed_trees_equal_the_in_memory_trees(monkeypatch):
    truth = planted_hierarchical(30, n_top=3, max_degree=3, seed=1)
    rng = np.random.default_rng(0)
    x = rng.random((600, 30)) < 0.5
    fits = []
    for stream_min in (1 << 60, 0):
        monkeypatch.setattr(proxy, "STREAM_MIN_CELLS", stream_min)
        monkeypatch.setattr(packed, "CHUNK_CELLS", 30 * 64)  # 64 rows per streamed chunk
        booster, info = fit_tree_proxy(x, truth.predict(x), 3, np.random.default_rng(1), 1)
        fits.append(booster.model_to_string(num_iteration=booster.best_iteration).split("feature_importances")[0])
    assert fits[0] == fits[1]


def test_trees_on_a_row_subset_still_recover_a_planted_function_exactly(monkeypatch):
    monkeypatch.setattr(proxy, "TREE_MAX_CELLS", 64 * 300)
    monkeypatch.setattr(proxy, "TREE_MIN_ROWS", 100)
    truth = planted_hierarchical(64, n_top=4, max_degree=3, seed=2)
    result = fit_proxyspex(QueryEngine(truth.predict, 64), budget=2500, max_order=3, random_state=0)
    assert result.info["tree_rows"] == 300 and result.info["goss"]  # of 2,000 training rows, gradient-sampled
    assert exact_r2(truth, result.fourier) > 1 - 1e-9
    # fewer kept rows than features: no gradient sampling on top of the cap
    monkeypatch.setattr(proxy, "TREE_MAX_CELLS", 64 * 40)
    monkeypatch.setattr(proxy, "TREE_MIN_ROWS", 40)
    x = np.random.default_rng(0).random((400, 64)) < 0.5
    _, info = fit_tree_proxy(x, truth.predict(x), 3, np.random.default_rng(1), 1)
    assert info["tree_rows"] == 40 and not info["goss"]


def test_the_stack_runs_below_a_thousand_rows_and_up_to_its_cell_limit():
    assert uses_stack(999, 10_000) and not uses_stack(1000, 10_000)  # one 20 % split is too small below 1,000
    assert uses_stack(2000, 250) and not uses_stack(STACK_MAX_ROWS, 250)  # cheap: 500,000 cells
    assert not uses_stack(1500, 1000) and not uses_stack(2 * MIN_FIT_QUERIES - 1, 30)
    truth = planted_hierarchical(40, n_top=4, max_degree=3, seed=5)
    x = distinct_uniform_masks(1500, 40, np.random.default_rng(1))
    stacked = fit_from_queries(x, truth.predict(x), max_order=3, random_state=0)
    assert stacked.faithfulness.kind == "cross-validated" and stacked.faithfulness.n_masks == 1500
    assert exact_r2(truth, stacked.fourier) > 1 - 1e-9


def test_the_small_budget_stack_does_not_depend_on_its_thread_count():
    # each of the eleven pipelines has its own random stream, so worker threads change the time, not the answer
    truth = planted_hierarchical(40, n_top=4, max_degree=3, seed=3)
    fits = [
        fit_proxyspex(QueryEngine(truth.predict, 40), budget=300, max_order=3, random_state=2, n_jobs=jobs)
        for jobs in (1, 2, None)
    ]
    assert fits[0].info["selection"] != "every mask" and not fits[0].info["goss"]
    for other in fits[1:]:
        assert other.fourier.to_dict() == fits[0].fourier.to_dict()
        assert other.faithfulness.r2 == fits[0].faithfulness.r2


def test_the_small_budget_stack_keeps_blas_on_one_thread_whatever_n_jobs(monkeypatch):
    # BLAS threads woken by the stack's serial parts spin on and take the cores of its worker threads
    seen = []
    original = small_budget.ridge_cv_predictions

    def recording(*args):
        seen.append({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return original(*args)

    monkeypatch.setattr(small_budget, "ridge_cv_predictions", recording)
    truth = planted_hierarchical(40, n_top=4, max_degree=3, seed=3)
    fit_proxyspex(QueryEngine(truth.predict, 40), budget=200, max_order=3, random_state=2, n_jobs=2)
    assert seen == [{1}]


def test_blockwise_paths_give_the_same_transform(monkeypatch):
    truth = planted_hierarchical(80, n_top=4, max_degree=3, seed=4)
    fits = []
    for tiny in (False, True):
        if tiny:  # every block / chunk size down to a few rows or terms, the packed sampler and streamed trees
            monkeypatch.setattr(packed, "CHUNK_CELLS", 80 * 16)
            monkeypatch.setattr(selection, "POOL_BLOCK_CELLS", 1500 * 3)
            monkeypatch.setattr(sampling, "PACKED_MIN_CELLS", 0)
            monkeypatch.setattr(proxy, "STREAM_MIN_CELLS", 0)
        result = fit_proxyspex(QueryEngine(truth.predict, 80), budget=1500, max_order=3, random_state=5)
        fits.append(result.fourier.to_dict())
    assert fits[0].keys() == fits[1].keys()
    assert all(abs(fits[0][k] - fits[1][k]) < 1e-9 for k in fits[0])


def test_fold_statistics_ridge_is_the_ridge_on_those_rows():
    rng = np.random.default_rng(0)
    x = rng.random((300, 12)) < 0.5
    idx = with_intercept(np.array([[0, PAD], [3, PAD], [2, 7], [5, 11]]))
    design, y = parity_design(x, idx), rng.normal(size=300)
    folds = (rng.random(300) < 0.2).astype(np.int64) ^ 1  # fold 1 the large one (computed by subtraction)
    stats = FoldStats(design, y, folds)
    cols = np.array([0, 2, 4])
    np.testing.assert_allclose(stats.ridge(4, 0.1, without=0), ridge(design[folds == 1, :4], y[folds == 1], 0.1))
    np.testing.assert_allclose(stats.ridge(5, 1e-8), ridge(design, y, 1e-8), atol=1e-10)
    np.testing.assert_allclose(stats.ridge(5, 0.1, columns=cols), ridge(design[:, cols], y, 0.1), atol=1e-12)


def test_relaxed_least_squares_falls_back_on_collinear_columns():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 4))
    y = rng.normal(size=50)
    np.testing.assert_allclose(_least_squares(z, y, None), np.linalg.lstsq(z, y, rcond=None)[0], atol=1e-10)
    z = np.hstack([z, z[:, :1]])  # a repeated column: the normal equations are singular
    np.testing.assert_allclose(_least_squares(z, y, z.T @ z), np.linalg.lstsq(z, y, rcond=None)[0], atol=1e-8)
