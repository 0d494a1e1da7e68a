"""The shared numerics (one home for ridge, R², masks, designs, keys) and the invariance they give every fit."""

import itertools
import warnings

import numpy as np
import pytest
from planted import exact_r2, planted_sparse

from interspect.algorithms.base import get_method
from interspect.algorithms.numerics import (
    blas_threads,
    check_n_jobs,
    distinct_uniform_masks,
    heldout_masks,
    parity_design,
    r2_score,
    ridge,
    ridge_from_gram,
    support_keys,
)
from interspect.query.engine import QueryEngine
from interspect.transforms.sparse import PAD, SparseTransform


# ---------------------------------------------------------------------------------------------- solves
def test_least_squares_and_ridge_with_an_unpenalised_intercept():
    rng = np.random.default_rng(0)
    design = np.column_stack([np.ones(50), rng.normal(size=(50, 4))])
    y = 3.0 + design[:, 1:] @ rng.normal(size=4) + 0.1 * rng.normal(size=50)
    np.testing.assert_allclose(ridge(design, y), np.linalg.lstsq(design, y, rcond=None)[0], atol=1e-10)
    for alpha in (0.1, 10.0):  # the direct solve of (D'D + alpha m I') beta = D'y, intercept column unpenalised
        gram = design.T @ design + np.diag(np.r_[0.0, np.full(4, alpha * 50)])
        np.testing.assert_allclose(ridge(design, y, alpha), np.linalg.solve(gram, design.T @ y), atol=1e-10)
    huge = ridge(design, y, 1e12)  # every slope shrunk to zero, the intercept is not: it is the mean
    assert np.abs(huge[1:]).max() < 1e-9 and huge[0] == pytest.approx(y.mean() - design[:, 1:].mean(0) @ huge[1:])


def test_kernel_form_with_more_columns_than_rows_matches_the_gram_form():
    rng = np.random.default_rng(1)
    design = np.where(rng.random((30, 80)) < 0.5, 1.0, -1.0)
    design[:, 0] = 1.0
    y = rng.normal(size=30)
    gram = design.T @ design + np.diag(np.r_[0.0, np.full(79, 0.5 * 30)])
    np.testing.assert_allclose(ridge(design, y, 0.5), np.linalg.solve(gram, design.T @ y), atol=1e-9)
    np.testing.assert_allclose(ridge(design.astype(np.float32), y, 0.5), ridge(design, y, 0.5), atol=1e-9)


def test_a_singular_system_falls_back_to_minimum_norm_least_squares():
    design = np.column_stack([np.ones(6), np.arange(6.0), np.arange(6.0)])  # two equal columns
    y = 1.0 + 2.0 * np.arange(6.0)
    beta = ridge_from_gram(design.T @ design, design.T @ y, 6)
    np.testing.assert_allclose(beta, [1.0, 1.0, 1.0], atol=1e-8)  # the minimum-norm split of the slope


# ---------------------------------------------------------------------------------------------- R²
def test_r2_has_one_convention_for_constant_targets_and_any_magnitude():
    y = np.array([1.0, 2.0, 4.0])
    assert r2_score(y, y) == 1.0 and r2_score(y, np.full(3, y.mean())) == 0.0
    assert r2_score(np.full(4, 7.0), np.full(4, 7.0)) == 1.0  # a constant matched exactly
    assert r2_score(np.full(4, 7.0), np.full(4, 7.5)) == 0.0  # ... and missed
    tiny = 1e-300 * np.array([1.0, 3.0, 2.0, 5.0])  # squares underflow: a naive R² calls the mean "perfect"
    assert r2_score(tiny, np.full(4, tiny.mean())) == pytest.approx(0.0, abs=1e-12)
    assert r2_score(tiny, tiny) == 1.0
    big = 1e300 * np.array([1.0, 3.0, 2.0, 5.0])  # squares overflow
    assert r2_score(big, 0.5 * big) == pytest.approx(r2_score(big / 1e300, 0.5 * big / 1e300))


# ---------------------------------------------------------------------------------------------- masks
def test_distinct_uniform_masks_and_pairing():
    rng = np.random.default_rng(0)
    every = distinct_uniform_masks(100, 5, rng)
    assert len(every) == 32 and len(np.unique(every, axis=0)) == 32  # all 2^5 masks, once each
    masks = distinct_uniform_masks(40, 6, rng)
    assert len(np.unique(masks, axis=0)) == 40
    near_all = distinct_uniform_masks(1000, 10, rng)  # 1000 of 1024: never fewer than asked
    assert len(np.unique(near_all, axis=0)) == 1000
    near_pairs = distinct_uniform_masks(1000, 10, rng, paired=True)
    assert len(np.unique(near_pairs, axis=0)) == 1000 and (near_pairs[0::2] == ~near_pairs[1::2]).all()
    paired = distinct_uniform_masks(40, 30, rng, paired=True)
    np.testing.assert_array_equal(paired[0::2], ~paired[1::2])
    wide = distinct_uniform_masks(300, 10_000, rng)
    assert wide.shape == (300, 10_000) and abs(wide.mean() - 0.5) < 0.01


@pytest.mark.parametrize("n", [4, 40])
def test_heldout_masks_are_fresh_distinct_and_not_queried(n):
    engine = QueryEngine(lambda x: x.sum(axis=1), n)
    engine(distinct_uniform_masks(10, n, np.random.default_rng(0)))
    held = heldout_masks(engine, 20, np.random.default_rng(1))
    assert not engine.seen(held).any() and len(np.unique(held, axis=0)) == len(held)
    assert len(held) == (6 if n == 4 else 20)  # only 2^4 - 10 unseen masks exist at n = 4
    assert engine.n_queries == 10  # picking them costs nothing


# ---------------------------------------------------------------------------------------------- designs
def test_parity_design_is_the_fourier_basis():
    n = 5
    masks = np.array(list(itertools.product([0, 1], repeat=n)), dtype=bool)
    supports = [(), (0,), (1, 3), (0, 2, 4)]
    idx = np.array([list(s) + [PAD] * (3 - len(s)) for s in supports])
    want = np.array([[(-1.0) ** sum(int(m[i]) for i in s) for s in supports] for m in masks])
    np.testing.assert_array_equal(parity_design(masks, idx), want)


def test_support_keys_are_exact_and_ordered_like_the_rows():
    n = 9
    rows = np.array([[0, 3, PAD], [PAD, PAD, PAD], [0, 2, 8], [1, PAD, PAD], [0, 3, 5]])
    keys = support_keys(rows, n)
    canonical = np.where(rows == PAD, -1, rows).tolist()
    assert np.argsort(keys).tolist() == sorted(range(len(rows)), key=lambda r: canonical[r])
    wide = np.tile(np.arange(40), (3, 1))  # too wide for an int64 key: raw bytes, still exact
    wide[1, -1] = 41
    assert len(set(support_keys(wide, 50).tolist())) == 2


def test_threads_are_left_alone_unless_asked():
    from threadpoolctl import threadpool_info

    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    with blas_threads(None):
        assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
    with blas_threads(1):
        assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    assert check_n_jobs(None) is None and check_n_jobs(3) == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs"):
            check_n_jobs(bad)


# ---------------------------------------------------------------------------------------------- invariance
SCALED_METHODS = {
    "exact": {},
    "lasso": {"budget": 600},
    "faith_banzhaf": {"budget": 600, "max_order": 3},
    "kernelshap": {"budget": 600},
    "spex": {"budget": 2000, "max_order": 3},
    "proxyspex": {"budget": 1000, "max_order": 3},  # the one-split path (the CV path: test_proxyspex.py)
    "qsft": {"budget": 2000, "max_order": 3},
    "auto": {"budget": 1000, "max_order": 3},
}


@pytest.mark.parametrize("method", sorted(SCALED_METHODS))
def test_offset_and_scale_change_the_explanation_only_by_that_offset_and_scale(method):
    n = 10
    truth = planted_sparse(n, 5, 3, seed=4)
    options = SCALED_METHODS[method]
    reference = get_method(method)(QueryEngine(truth.predict, n), random_state=0, **options).fourier.to_dict()
    for factor in (1e30, 1e-30, 1e300, 1e-300):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no overflow or underflow inside NumPy
            fit = get_method(method)(
                QueryEngine(lambda x, a=factor: a * truth.predict(x), n), random_state=0, **options
            ).fourier.to_dict()
        for support in set(fit) | set(reference):
            want = reference.get(support, 0.0) * factor
            assert fit.get(support, 0.0) == pytest.approx(want, abs=1e-9 * factor, rel=1e-9), (factor, support)
    # an offset of 1e12: float64 carries f only to 1e12 * 2^-52 ~ 2e-4 there, which may flip a tie in the trees,
    # so the shifted fit must be as faithful as the reference (exact R² over all masks), and carry the offset
    offset = get_method(method)(QueryEngine(lambda x: 1e12 + truth.predict(x), n), random_state=0, **options)
    shifted = offset.fourier - SparseTransform.from_dict({(): 1e12}, n)
    assert exact_r2(truth, shifted) >= exact_r2(truth, SparseTransform.from_dict(reference, n)) - 1e-3
    assert offset.fourier.get(()) == pytest.approx(1e12 + reference.get((), 0.0), abs=1e-2)


def test_constant_functions_give_the_constant():
    n = 12
    for method in ("spex", "proxyspex", "kernelshap", "lasso"):
        fit = get_method(method)(QueryEngine(lambda x: np.full(len(x), 1e12), n), budget=1500, random_state=0)
        assert fit.fourier.prune(tol=1e-6).to_dict() == pytest.approx({(): 1e12}), method
        assert SparseTransform.from_dict({(): 1e12}, n).predict(np.ones((1, n), bool))[0] == 1e12
