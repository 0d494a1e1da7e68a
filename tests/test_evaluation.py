"""Evaluation: exact / dense / held-out R², top-k removal (MILP vs exhaustive), removal curves, recall@k."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interspect import QueryEngine
from interspect.evaluation.faithfulness import r2_dense, r2_exact, r2_heldout
from interspect.evaluation.recall import shapley_recall_at_k
from interspect.evaluation.removal import Removal, removal_curve, top_k_removal
from interspect.indices import shapley_values
from interspect.transforms.exact import all_masks, dense_to_sparse, fourier_dense
from interspect.transforms.sparse import SparseTransform


def random_sparse(n, k, max_degree, seed, basis="fourier"):
    rng = np.random.default_rng(seed)
    supports = [rng.choice(n, size=rng.integers(0, min(n, max_degree) + 1), replace=False) for _ in range(k)]
    return SparseTransform(supports, rng.normal(size=k), n, basis)


def r2_reference(values, predicted):
    return 1 - np.sum((values - predicted) ** 2) / np.sum((values - values.mean()) ** 2)


# --------------------------------------------------------------------------- R²
def test_r2_exact_equals_dense_and_brute_force():
    n = 9
    true = random_sparse(n, 40, 4, seed=0)
    estimate = true.prune(top=15) + SparseTransform.from_dict({(0, 3): 0.2, (): 0.1}, n)
    values = true.predict(all_masks(n))
    expect = r2_reference(values, estimate.predict(all_masks(n)))
    assert 0.0 < expect < 1.0
    assert r2_exact(true, estimate) == pytest.approx(expect, abs=1e-12)
    assert r2_exact(true, estimate.to_mobius()) == pytest.approx(expect, abs=1e-12)
    assert r2_dense(values, estimate) == pytest.approx(expect, abs=1e-12)
    assert r2_heldout(estimate, all_masks(n), values) == pytest.approx(expect, abs=1e-12)
    assert r2_exact(true, true) == 1.0
    assert r2_exact(true, SparseTransform.from_dict({(): true.get(())}, n)) == pytest.approx(0.0, abs=1e-12)


def test_r2_heldout_on_random_masks_uses_their_own_mean():
    n = 50
    true, estimate = random_sparse(n, 30, 3, seed=1), random_sparse(n, 30, 3, seed=1).prune(top=20)
    masks = np.random.default_rng(2).integers(0, 2, size=(500, n)).astype(bool)
    values = true.predict(masks)
    assert r2_heldout(estimate, masks, values) == pytest.approx(r2_reference(values, estimate.predict(masks)))


def test_r2_constant_target_and_bad_input():
    const = SparseTransform.from_dict({(): 2.0}, 3)
    assert r2_exact(const, const) == 1.0
    assert r2_exact(const, const * 2) == 0.0
    with pytest.raises(ValueError, match="2\\^3"):
        r2_dense(np.zeros(7), const)
    with pytest.raises(ValueError, match="masks"):
        r2_heldout(const, np.zeros((3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="features"):
        r2_exact(const, SparseTransform.from_dict({(): 2.0}, 4))
    with pytest.raises(TypeError):
        r2_exact(const, np.zeros(8))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_property_r2_exact_matches_dense(n, seed):
    true = random_sparse(n, 12, 4, seed)
    values = true.predict(all_masks(n))
    estimate = dense_to_sparse(fourier_dense(values + np.random.default_rng(seed).normal(size=1 << n)), n)
    if values.var() == 0:
        return
    assert r2_exact(true, estimate) == pytest.approx(r2_dense(values, estimate), abs=1e-9)


# --------------------------------------------------------------------------- removal
def brute_removal(surrogate, k, direction):
    n = surrogate.n_features
    full = surrogate.predict(np.ones((1, n), dtype=bool))[0]
    best, best_score = None, -np.inf
    for removed in combinations(range(n), k):
        mask = np.ones((1, n), dtype=bool)
        mask[0, list(removed)] = False
        change = full - surrogate.predict(mask)[0]
        score = {"decrease": change, "increase": -change, "abs": abs(change)}[direction]
        if score > best_score + 1e-12:
            best, best_score = removed, score
    return best, best_score


@pytest.mark.parametrize("direction", ["decrease", "increase", "abs"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_milp_and_exhaustive_search_agree(direction, seed):
    n = 10
    surrogate = random_sparse(n, 25, 4, seed=seed)
    for k in (1, 2, 3, 5):
        _, best_score = brute_removal(surrogate, k, direction)
        for method in ("exact", "milp"):
            result = top_k_removal(surrogate, k, direction=direction, method=method)
            assert isinstance(result, Removal) and len(result.features) == k
            assert result.method == method and result.optimal
            score = {"decrease": result.change, "increase": -result.change, "abs": abs(result.change)}[direction]
            assert score == pytest.approx(best_score, abs=1e-9), (method, k)
            mask = np.ones((1, n), dtype=bool)
            mask[0, list(result.features)] = False
            full = surrogate.predict(np.ones((1, n), dtype=bool))[0]
            assert result.change == pytest.approx(full - surrogate.predict(mask)[0])
        greedy = top_k_removal(surrogate, k, direction=direction, method="greedy")
        assert len(greedy.features) == k and not greedy.optimal


@settings(max_examples=25, deadline=None)
@given(
    st.integers(2, 9),
    st.integers(1, 20),
    st.integers(0, 2**31 - 1),
    st.sampled_from(["decrease", "increase", "abs"]),
    st.data(),
)
def test_property_milp_matches_exhaustive_search(n, terms, seed, direction, data):
    surrogate = random_sparse(n, terms, 4, seed)
    k = data.draw(st.integers(0, n))
    _, best = brute_removal(surrogate, k, direction)
    result = top_k_removal(surrogate, k, direction=direction, method="milp")
    score = {"decrease": result.change, "increase": -result.change, "abs": abs(result.change)}[direction]
    assert len(set(result.features)) == k and result.optimal
    assert score == pytest.approx(best, abs=1e-9)


def test_milp_on_a_planted_interaction_greedy_misses():
    # change(R) = sum of the dividends m(T) with T ∩ R ≠ ∅: {0}: 1, {1}: 1, {2}: 3, {0, 1}: 6, {0, 2}: 4
    n = 30
    mobius = SparseTransform.from_dict({(): 1.0, (0,): 5.0, (1,): 5.0, (0, 1): -4.0, (2,): 3.0}, n, "mobius")
    surrogate = mobius.to_fourier()
    for method in ("milp", "exact", "auto"):
        result = top_k_removal(surrogate, 2, direction="decrease", method=method)
        assert result.features == (0, 1) and result.change == pytest.approx(6.0) and result.optimal
    greedy = top_k_removal(surrogate, 2, direction="decrease", method="greedy")
    assert set(greedy.features) & {2} and greedy.change == pytest.approx(4.0)
    # every removal lowers the output, so the smallest change removes features the surrogate ignores
    for method in ("milp", "exact"):
        low = top_k_removal(surrogate, 2, direction="increase", method=method)
        assert low.change == pytest.approx(0.0) and not set(low.features) & {0, 1, 2}
    # k beyond the features the surrogate uses
    many = top_k_removal(surrogate, 6, direction="decrease", method="milp")
    assert len(many.features) == 6 and set(many.features) >= {0, 1, 2} and many.change == pytest.approx(9.0)
    assert top_k_removal(surrogate, 0).features == ()


def test_milp_at_scale_beats_or_matches_greedy():
    surrogate = random_sparse(400, 150, 4, seed=9)
    milp = top_k_removal(surrogate, 4, direction="decrease", method="milp", time_limit=20)
    greedy = top_k_removal(surrogate, 4, direction="decrease", method="greedy")
    assert milp.change >= greedy.change - 1e-9
    assert milp.method in ("milp", "greedy")


def test_removal_errors():
    surrogate = random_sparse(5, 5, 2, seed=0)
    with pytest.raises(ValueError, match="direction"):
        top_k_removal(surrogate, 1, direction="up")
    with pytest.raises(ValueError, match="method"):
        top_k_removal(surrogate, 1, method="gurobi")
    with pytest.raises(ValueError, match="0..5"):
        top_k_removal(surrogate, 6)
    with pytest.raises(TypeError):
        top_k_removal(np.zeros(5), 1)


def test_removal_curve_measures_the_real_model_in_one_batch():
    n = 12
    weights = np.arange(n, dtype=float)
    calls = []

    def model(masks):
        calls.append(len(masks))
        return masks @ weights

    engine = QueryEngine(model, n)
    ranking = np.argsort(-weights)
    curve = removal_curve(engine, ranking, [0, 1, 3])
    np.testing.assert_allclose(curve, [0.0, 11.0, 11 + 10 + 9])
    assert calls == [3] and engine.n_queries == 3  # k = 0 repeats the all-kept mask: the engine dedups it
    surrogate = SparseTransform(np.arange(n)[:, None], weights, n, "mobius")
    np.testing.assert_allclose(removal_curve(engine, surrogate, [2], direction="decrease"), [21.0])
    np.testing.assert_allclose(removal_curve(model, lambda k: list(range(k)), [2], n_features=n), [1.0])
    with pytest.raises(ValueError, match="n_features"):
        removal_curve(model, ranking, [1])
    with pytest.raises(ValueError, match="returned"):
        removal_curve(model, lambda k: [0], [2], n_features=n)


# --------------------------------------------------------------------------- recall
def test_shapley_recall_at_k():
    true = np.array([5.0, -4.0, 3.0, 0.1, 0.0])
    assert shapley_recall_at_k(true, true, 3) == 1.0
    assert shapley_recall_at_k(np.array([5.0, 0.0, 3.0, -4.5, 0.0]), true, 3) == pytest.approx(2 / 3)
    assert shapley_recall_at_k(-true, true, 2) == 1.0  # ranked by magnitude
    fourier = random_sparse(20, 30, 3, seed=4)
    phi = shapley_values(fourier)
    assert shapley_recall_at_k(fourier, phi, 5) == 1.0
    assert shapley_recall_at_k(fourier.prune(max_degree=0), phi, 20) == 1.0
    with pytest.raises(ValueError, match="k must"):
        shapley_recall_at_k(true, true, 0)
    with pytest.raises(ValueError, match="shape"):
        shapley_recall_at_k(true[:3], true, 2)
