"""Regression baselines (lasso, faith_banzhaf, kernelshap) against exact answers on small n.

Oracles: brute-force Shapley values from the permutation-weight definition, the Fourier transform from its
definition, planted functions with known coefficients, and shapiq's ExactComputer (independent code).
"""

from math import factorial

import numpy as np
import pytest
from planted import planted_sparse
from shapiq import ExactComputer

import interspect as isp
from interspect import QueryEngine, SparseTransform
from interspect.algorithms.kernelshap import fit_kernelshap, kernel_design
from interspect.algorithms.regression import (
    MAX_FAITH_BANZHAF_TERMS,
    fit_faith_banzhaf,
    fit_lasso,
)
from interspect.evaluation.faithfulness import r2_dense
from interspect.indices import interaction_values, shapley_values
from interspect.transforms.exact import all_masks


class TableFunction:
    """A random set function given by its value on every mask (bitmask order)."""

    def __init__(self, n: int, seed: int = 0):
        self.n = n
        self.table = np.random.default_rng(seed).normal(size=1 << n)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        return self.table[masks.astype(np.int64) @ (1 << np.arange(self.n))]


def brute_force_shapley(values: np.ndarray, n: int) -> np.ndarray:
    """``φ_i = sum_{S ∌ i} |S|! (n-|S|-1)! / n! (f(S ∪ i) - f(S))`` over every mask (bitmask order)."""
    masks = all_masks(n)
    sizes = masks.sum(axis=1)
    weight = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)] + [0.0])
    pos = np.arange(1 << n)
    phi = np.zeros(n)
    for i in range(n):
        out = ~masks[:, i]
        phi[i] = np.sum(weight[sizes[out]] * (values[pos[out] | (1 << i)] - values[pos[out]]))
    return phi


def brute_force_fourier(values: np.ndarray, n: int) -> dict[tuple[int, ...], float]:
    a = all_masks(n).astype(np.int64)
    coefs = (1.0 - 2.0 * ((a @ a.T) % 2)) @ values / (1 << n)
    return {tuple(np.flatnonzero(row)): c for row, c in zip(a, coefs, strict=True)}


def planted(n: int, terms: dict) -> SparseTransform:
    return SparseTransform.from_dict(terms, n)


def shapiq_values(values_fn, n: int, index: str, order: int) -> dict[tuple[int, ...], float]:
    result = ExactComputer(values_fn, n_players=n, evaluate_game=True)(index, order=order)
    return {k: v for k, v in result.dict_values.items() if abs(v) > 1e-12}


# ------------------------------------------------------------------------------------------------ kernelshap
def test_kernelshap_is_exact_with_every_mask_and_matches_two_oracles():
    n = 7
    f = TableFunction(n, seed=1)
    engine = QueryEngine(f, n)
    result = fit_kernelshap(engine, budget=1 << n, max_order=1, random_state=0)
    phi = shapley_values(result.fourier)
    np.testing.assert_allclose(phi, brute_force_shapley(f.table, n), atol=1e-9)
    oracle = shapiq_values(f, n, "SV", 1)
    np.testing.assert_allclose(phi, [oracle.get((i,), 0.0) for i in range(n)], atol=1e-9)
    assert engine.n_queries == 1 << n and result.method == "kernelshap" and result.faithfulness is None


def test_kernelshap_converges_with_budget_and_is_efficient_at_every_budget():
    n = 10
    truth = planted(n, {(): 1.0, (0,): 0.8, (1, 2): -1.2, (3, 4, 5): 0.9, (6,): -0.4, (2, 7): 0.6, (8, 9): 0.3})
    exact = shapley_values(truth)
    ends = np.array([[False] * n, [True] * n])
    errors = []
    for budget in (60, 250, 700, 1024):
        engine = QueryEngine(truth.predict, n)
        result = fit_kernelshap(engine, budget=budget, max_order=1, random_state=0)
        phi = shapley_values(result.fourier)
        assert engine.n_queries <= budget
        assert phi.sum() == pytest.approx(np.diff(truth.predict(ends))[0], abs=1e-10)  # efficiency
        np.testing.assert_allclose(result.fourier.predict(ends), truth.predict(ends), atol=1e-10)
        assert result.fourier.max_degree == 1
        errors.append(float(np.abs(phi - exact).max()))
    assert errors[-1] < 1e-9  # every mask: exact
    assert errors[2] < 0.05 * np.abs(exact).max()  # 70 % of the masks (border sizes enumerated)
    assert errors[0] > errors[2]


def test_kernelshap_recovers_an_additive_function_from_few_queries():
    n = 60
    rng = np.random.default_rng(4)
    w = rng.normal(size=n)
    result = fit_kernelshap(QueryEngine(lambda x: 3.0 + x @ w, n), budget=200, max_order=1, random_state=1)
    np.testing.assert_allclose(shapley_values(result.fourier), w, atol=1e-7)
    assert result.fourier.predict(np.ones((1, n), dtype=bool))[0] == pytest.approx(3.0 + w.sum())


def test_kernelshap_samples_ten_thousand_features_without_overflow():
    n = 10_000
    rng = np.random.default_rng(0)
    masks, weights, enumerated = kernel_design(n, 402, rng, paired=True)
    assert masks.shape == (400, n) and enumerated == 0
    sizes = masks.sum(axis=1)
    assert sizes.min() >= 1 and sizes.max() <= n - 1
    np.testing.assert_array_equal(masks[0::2], ~masks[1::2])  # antithetic pairs
    assert np.all(np.isfinite(weights)) and np.all(weights > 0)
    s = np.arange(1, n)
    assert weights.sum() == pytest.approx(np.sum((n - 1) / (s * (n - s))))  # the whole kernel mass
    # sizes follow the kernel: 1 and n-1 are ~(n-1)/(n-1) / sum ≈ 5.4 % each, the middle sizes rare
    assert 0.02 < np.mean(sizes == 1) < 0.10

    w = np.zeros(n)
    w[[5, 500, 9000]] = [2.0, -1.0, 0.5]
    engine = QueryEngine(lambda x: x @ w + 1.0, n)
    result = fit_kernelshap(engine, budget=300, max_order=1, random_state=2)
    phi = shapley_values(result.fourier)
    assert engine.n_queries == 300 and np.all(np.isfinite(phi))
    assert phi.sum() == pytest.approx(1.5, abs=1e-9)
    # 300 queries for 10,000 unknowns: the minimum-norm solution is shrunk, but the top feature stands out
    assert int(np.argmax(np.abs(phi))) == 5 and phi[5] > 0


def test_kernelshap_through_explain_with_holdout_and_reproducibility():
    n = 12
    truth = planted(n, {(): 0.2, (0,): 1.0, (1, 2): -0.7, (5,): 0.4})
    kw = dict(n_features=n, method="kernelshap", budget=400, random_state=7)
    a = isp.explain(truth.predict, holdout=100, **kw)
    b = isp.explain(truth.predict, holdout=100, **kw)
    c = isp.explain(truth.predict, holdout=100, **{**kw, "random_state": 8})
    np.testing.assert_array_equal(a.shapley_values(), b.shapley_values())
    assert not np.array_equal(a.shapley_values(), c.shapley_values())
    assert a.n_queries <= 400 and a.faithfulness.kind == "heldout" and a.faithfulness.n_masks >= 50
    np.testing.assert_allclose(a.shapley_values(), shapley_values(truth), atol=0.1)
    # the method spends exactly its budget and buys no held-out masks of its own
    engine = QueryEngine(truth.predict, n)
    result = fit_kernelshap(engine, budget=300, max_order=1, random_state=0)
    assert engine.n_queries == result.info["n_fit_queries"] == 300


def test_kernelshap_has_no_error_spike_near_a_budget_of_two_n():
    # at budget ~ 2n the folded paired system is square: minimum-norm least squares fitted the higher-order
    # terms exactly (relative errors 3-60 here); the leave-one-out-chosen ridge keeps the error below the
    # all-zero answer's (1.0) plus a margin, and no worse than at a smaller budget by much
    n = 100
    truth = planted_sparse(n, 30, 3, seed=1)
    phi = shapley_values(truth)

    def error(budget: int, seed: int) -> float:
        fit = fit_kernelshap(QueryEngine(truth.predict, n), budget=budget, random_state=seed)
        return float(np.linalg.norm(shapley_values(fit.fourier) - phi) / np.linalg.norm(phi))

    near = [error(b, s) for b in (190, 200, 210) for s in range(4)]
    assert max(near) < 1.5 and np.mean(near) < 1.0
    assert np.mean([error(4000, s) for s in range(2)]) < np.mean(near)


def test_kernelshap_rejects_bad_input():
    engine = QueryEngine(lambda x: x.sum(axis=1), 4)
    with pytest.raises(ValueError, match="at least 2"):
        fit_kernelshap(engine, budget=1, max_order=1, random_state=0)
    with pytest.raises(TypeError, match="integer"):
        fit_kernelshap(engine, budget=10.5, max_order=1, random_state=0)
    assert engine.n_queries == 0


# ------------------------------------------------------------------------------------------------ faith-banzhaf
def test_faith_banzhaf_recovers_a_planted_low_degree_function():
    n = 14
    truth = planted(n, {(): -0.5, (2,): 1.5, (0, 13): -2.0, (4, 5): 0.7, (9,): 0.25, (3, 11): 1.1})
    engine = QueryEngine(truth.predict, n)
    result = fit_faith_banzhaf(engine, budget=300, max_order=2, random_state=0)
    assert engine.n_queries <= 300 and result.info["n_terms"] == 1 + 14 + 91
    assert result.fourier.prune(tol=1e-8).to_dict() == pytest.approx(truth.to_dict(), abs=1e-9)
    held = np.random.default_rng(9).random((200, n)) < 0.5  # fresh masks: the fit is the function
    np.testing.assert_allclose(result.fourier.predict(held), truth.predict(held), atol=1e-9)


def test_faith_banzhaf_at_full_enumeration_is_the_truncated_transform_and_shapiq_fbii():
    n, k = 6, 2
    f = TableFunction(n, seed=5)
    result = fit_faith_banzhaf(QueryEngine(f, n), budget=1 << n, max_order=k, random_state=0)
    full = brute_force_fourier(f.table, n)
    truncated = {t: c for t, c in full.items() if len(t) <= k}
    assert result.fourier.to_dict() == pytest.approx(truncated, abs=1e-10)
    kept = sum(c * c for t, c in truncated.items() if t)
    total = sum(c * c for t, c in full.items() if t)
    assert r2_dense(f.table, result.fourier) == pytest.approx(kept / total, abs=1e-10)
    fbii = interaction_values(result.fourier, "fbii", k).to_dict()
    assert fbii == pytest.approx(shapiq_values(f, n, "FBII", k), abs=1e-9)


def test_faith_banzhaf_estimates_the_truncation_from_samples():
    n, k = 9, 2
    truth = planted(n, {(): 1.0, (0,): 1.0, (1, 2): -0.8, (3,): 0.5, (4, 5, 6): 0.2, (0, 7, 8): -0.15})
    result = fit_faith_banzhaf(QueryEngine(truth.predict, n), budget=450, max_order=k, random_state=3)
    low = truth.prune(max_degree=k)
    # the degree-3 terms act as noise on the degree-<=2 fit: error shrinks like 1/sqrt(m)
    assert float(np.abs((result.fourier - low).coefs).max()) < 0.1


def test_faith_banzhaf_refuses_what_the_budget_cannot_fit():
    engine = QueryEngine(lambda x: x.sum(axis=1), 40)
    with pytest.raises(ValueError, match=r"821 Fourier terms.*at least 821.*max_order to 1 \(41 terms\)"):
        fit_faith_banzhaf(engine, budget=500, max_order=2, random_state=0)
    with pytest.raises(ValueError, match=f"more than the {MAX_FAITH_BANZHAF_TERMS:,}"):
        fit_faith_banzhaf(engine, budget=None, max_order=4, random_state=0)
    with pytest.raises(ValueError, match="alpha"):
        fit_faith_banzhaf(engine, budget=None, max_order=1, random_state=0, alpha=-1.0)
    assert engine.n_queries == 0


def test_faith_banzhaf_through_explain_is_reproducible():
    n = 8
    truth = planted(n, {(): 1.0, (0, 1): 0.5, (2,): -0.3, (3, 4, 5): 0.4})
    kw = dict(n_features=n, method="faith_banzhaf", budget=120, max_order=2)
    a = isp.explain(truth.predict, random_state=0, **kw)
    b = isp.explain(truth.predict, random_state=0, **kw)
    assert a.fourier.to_dict() == b.fourier.to_dict() and a.n_queries <= 120
    assert a.faithfulness.kind in ("heldout", "exact") and a.faithfulness.r2 is not None


# ------------------------------------------------------------------------------------------------ lasso
def test_lasso_recovers_a_planted_first_order_function():
    n = 30
    truth = planted(n, {(): 2.0, (3,): 1.0, (7,): -0.6, (19,): 0.4, (25,): -1.5})
    engine = QueryEngine(truth.predict, n)
    result = fit_lasso(engine, budget=300, max_order=1, random_state=0)
    got = result.fourier
    assert engine.n_queries <= 300 and result.info["alpha"] > 0 and result.info["order"] == 1
    assert set(np.argsort(-np.abs([got.get((i,)) for i in range(n)]))[:4]) == {3, 7, 19, 25}
    for support, coef in truth.to_dict().items():
        assert got.get(support) == pytest.approx(coef, abs=0.02)

    ridge = fit_lasso(QueryEngine(truth.predict, n), budget=300, max_order=1, random_state=0, penalty="ridge")
    for support in [()] + [(i,) for i in range(n)]:
        assert ridge.fourier.get(support) == pytest.approx(truth.get(support), abs=1e-3)
    assert ridge.info["penalty"] == "ridge" and ridge.method == "lasso"


def test_lasso_with_every_mask_and_no_penalty_is_the_first_order_truncation():
    n = 6
    f = TableFunction(n, seed=2)
    result = fit_lasso(QueryEngine(f, n), budget=1 << n, max_order=1, random_state=0, penalty="ridge", alpha=0.0)
    full = brute_force_fourier(f.table, n)
    assert result.fourier.to_dict() == pytest.approx({t: c for t, c in full.items() if len(t) <= 1}, abs=1e-10)
    assert result.info["alpha"] == 0.0 and "r2_exact" not in result.info


def test_lasso_is_reproducible_and_rejects_bad_input():
    n = 10
    truth = planted(n, {(): 1.0, (1,): 0.5, (2, 3): 0.4})
    kw = dict(n_features=n, method="lasso", budget=100)
    a, b = isp.explain(truth.predict, random_state=1, **kw), isp.explain(truth.predict, random_state=1, **kw)
    assert a.fourier.to_dict() == b.fourier.to_dict()
    engine = QueryEngine(truth.predict, n)
    with pytest.raises(ValueError, match="penalty"):
        fit_lasso(engine, budget=100, max_order=1, random_state=0, penalty="elastic")
    with pytest.raises(ValueError, match="alpha"):
        fit_lasso(engine, budget=100, max_order=1, random_state=0, alpha=-0.1)
    with pytest.raises(ValueError, match="at least 4"):
        fit_lasso(engine, budget=2, max_order=1, random_state=0)
    with pytest.raises(ValueError, match="cv must be at least 2"):
        fit_lasso(engine, budget=100, max_order=1, random_state=0, cv=1)
    assert engine.n_queries == 0
