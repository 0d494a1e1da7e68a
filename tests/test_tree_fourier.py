"""Tree -> Fourier extraction is exact: it reproduces the trees' own predictions on every mask."""

import lightgbm as lgb
import numpy as np
import pytest

from interspect.algorithms.tree_fourier import (
    TreeArrays,
    lightgbm_to_fourier,
    parse_lightgbm_model,
    trees_to_fourier,
)
from interspect.transforms.exact import all_masks, fourier_dense

N = 7
MASKS = all_masks(N)


def _evaluate_tree(tree: TreeArrays, x: np.ndarray) -> np.ndarray:
    """Independent brute-force evaluation following LightGBM's numerical decision rule for 0/1 inputs."""
    out = np.empty(len(x))
    for r, row in enumerate(x.astype(float)):
        node = 0 if len(tree.split_feature) else -1
        while node >= 0:
            value, dtype = row[tree.split_feature[node]], tree.decision_type[node]
            if ((dtype >> 2) & 3) == 1 and value == 0.0:  # zero-as-missing: follow the default direction
                left = bool(dtype & 2)
            else:
                left = value <= tree.threshold[node]
            node = tree.left_child[node] if left else tree.right_child[node]
        out[r] = tree.leaf_value[~node]
    return out


def _random_tree(rng: np.random.Generator, n_features: int, n_internal: int) -> TreeArrays:
    """A random binary tree that may split on the same feature repeatedly along a path (any direction)."""
    left, right = np.zeros(n_internal, dtype=np.int64), np.zeros(n_internal, dtype=np.int64)
    open_slots, n_leaves = [], 0
    for j in range(1, n_internal):  # attach internal node j to a random free slot of nodes < j
        open_slots = [(p, s) for p in range(j) for s in (0, 1) if (left, right)[s][p] == 0 and p != j]
        p, s = open_slots[rng.integers(len(open_slots))]
        (left, right)[s][p] = j
    for p in range(n_internal):
        for arr in (left, right):
            if arr[p] == 0:
                arr[p] = ~n_leaves
                n_leaves += 1
    return TreeArrays(
        split_feature=rng.integers(0, min(3, n_features) if rng.random() < 0.5 else n_features, n_internal),
        threshold=rng.choice([1e-35, 0.5, -0.5, 1.5], n_internal),  # incl. degenerate splits
        decision_type=rng.choice([0, 2, 4, 6, 8, 10], n_internal),  # default_left x {none, zero, NaN} missing
        left_child=left,
        right_child=right,
        leaf_value=rng.normal(size=n_leaves),
    )


@pytest.mark.parametrize("seed", range(40))
def test_random_ensembles_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    trees = [_random_tree(rng, N, int(rng.integers(1, 12))) for _ in range(int(rng.integers(1, 6)))]
    expected = sum(_evaluate_tree(t, MASKS) for t in trees)
    fourier = trees_to_fourier(trees, N)
    np.testing.assert_allclose(fourier.predict(MASKS), expected, atol=1e-12)
    # and the coefficients are the exact transform, not just some representation
    dense = fourier_dense(expected)
    got = dict(fourier.to_dict())
    for s, value in enumerate(dense):
        key = tuple(int(i) for i in np.flatnonzero((s >> np.arange(N)) & 1))
        assert abs(got.get(key, 0.0) - value) < 1e-12


def test_repeated_split_on_one_path():
    # root splits x0; its x0 = 1 branch splits x0 again (consistent), the x0 = 0 branch splits x0 with x0 = 1
    # unreachable; expected f = 3 [x0=1] + 5 [x0=0] only.
    tree = TreeArrays(
        split_feature=np.array([0, 0, 0]),
        threshold=np.full(3, 0.5),
        decision_type=np.zeros(3, dtype=np.int64),
        left_child=np.array([1, ~0, ~2]),
        right_child=np.array([2, ~1, ~3]),
        leaf_value=np.array([5.0, 100.0, -100.0, 3.0]),
    )
    fourier = trees_to_fourier([tree], 2)
    assert fourier.to_dict() == pytest.approx({(): 4.0, (0,): 1.0})


def test_single_leaf_and_degree_truncation():
    leaf = TreeArrays(*(np.zeros(0, dtype=np.int64),) * 5, leaf_value=np.array([2.5]))
    assert trees_to_fourier([leaf], 3).to_dict() == pytest.approx({(): 2.5})
    rng = np.random.default_rng(7)
    trees = [_random_tree(rng, N, 10) for _ in range(3)]
    full, low = trees_to_fourier(trees, N), trees_to_fourier(trees, N, max_degree=2)
    assert low.max_degree <= 2
    assert low.to_dict() == pytest.approx({k: v for k, v in full.to_dict().items() if len(k) <= 2})


@pytest.mark.parametrize("seed", range(6))
def test_lightgbm_boosters_match_predict_on_every_mask(seed):
    rng = np.random.default_rng(seed)
    x = (rng.random((400, N)) < 0.5).astype(np.float64)
    y = rng.normal(size=400) + 2 * x[:, 0] * x[:, 1] - x[:, 2] + x[:, 3] * x[:, 4] * x[:, 5]
    params = {
        "objective": "regression",
        "max_depth": int(rng.integers(1, 6)),
        "num_leaves": 24,
        "min_data_in_leaf": 3,
        "learning_rate": 0.3,
        "verbosity": -1,
        "num_threads": 1,
        "zero_as_missing": bool(seed % 2),
    }
    if seed == 5:
        params.update(boosting="rf", bagging_fraction=0.7, bagging_freq=1)  # averaged output
    booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=25)
    fourier = lightgbm_to_fourier(booster, N)
    np.testing.assert_allclose(fourier.predict(MASKS), booster.predict(MASKS.astype(np.float64)), atol=1e-9)
    half = lightgbm_to_fourier(booster, N, num_iteration=10)
    np.testing.assert_allclose(half.predict(MASKS), booster.predict(MASKS.astype(float), num_iteration=10), atol=1e-9)


def test_parser_rejects_multiclass():
    rng = np.random.default_rng(0)
    x = (rng.random((200, 4)) < 0.5).astype(float)
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1, "num_threads": 1},
        lgb.Dataset(x, rng.integers(0, 3, 200)),
        num_boost_round=2,
    )
    with pytest.raises(ValueError, match="single-output"):
        parse_lightgbm_model(booster.model_to_string())


def test_feature_out_of_range_is_an_error():
    tree = TreeArrays(np.array([5]), np.array([0.5]), np.array([0]), np.array([~0]), np.array([~1]), np.ones(2))
    with pytest.raises(ValueError, match="n_features"):
        trees_to_fourier([tree], 3)
