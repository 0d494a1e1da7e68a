"""Oracle and property tests of the core transforms (transforms/sparse.py, transforms/exact.py).

References are written from the definitions in docs/math.md: explicit Hadamard / zeta matrices and sums
over subsets, plus shapiq's Möbius transform as an independent implementation.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interspect.transforms.exact import (
    all_masks,
    dense_to_sparse,
    exact_fourier,
    fourier_dense,
    fwht,
    mobius_dense,
    sparse_to_dense,
    zeta_dense,
)
from interspect.transforms.sparse import PAD, SparseTransform, pad_columns


def parity_matrix(n):
    """H[t, s] = (-1)^{|T ∩ S|} over bitmasks."""
    s = np.arange(1 << n)
    inter = s[:, None] & s[None, :]
    pc = np.zeros_like(inter)
    for i in range(n):
        pc += (inter >> i) & 1
    return np.where(pc % 2, -1.0, 1.0)


def subset_matrix(n):
    """Z[s, t] = 1 if T ⊆ S."""
    s = np.arange(1 << n)
    return ((s[None, :] & ~s[:, None]) == 0).astype(float)


def brute_fourier_eval(transform, masks):
    """sum_T F(T) (-1)^{|T ∩ S|}, one term at a time."""
    out = np.zeros(len(masks))
    for support, coef in transform.to_dict().items():
        out += coef * (-1.0) ** masks[:, list(support)].sum(axis=1)
    return out


def brute_mobius_eval(transform, masks):
    """sum_{T ⊆ S} m(T), one term at a time."""
    out = np.zeros(len(masks))
    for support, coef in transform.to_dict().items():
        out += coef * masks[:, list(support)].all(axis=1)
    return out


def random_sparse(n, k, max_degree, seed, basis="fourier"):
    rng = np.random.default_rng(seed)
    supports = [rng.choice(n, size=rng.integers(0, max_degree + 1), replace=False) for _ in range(k)]
    return SparseTransform(supports, rng.normal(size=k), n, basis)


# --------------------------------------------------------------------------- exact.py
@pytest.mark.parametrize("n", [0, 1, 3, 7, 10])
def test_all_masks_bit_order(n):
    masks = all_masks(n)
    assert masks.shape == (1 << n, n) and masks.dtype == bool
    np.testing.assert_array_equal((masks.astype(np.int64) << np.arange(n)).sum(axis=1), np.arange(1 << n))


@pytest.mark.parametrize("n", [1, 4, 9])
def test_fwht_is_the_hadamard_matrix_in_place(n):
    rng = np.random.default_rng(n)
    a = rng.normal(size=1 << n)
    expect = parity_matrix(n) @ a
    out = fwht(a)
    assert out is a
    np.testing.assert_allclose(a, expect, atol=1e-10)
    np.testing.assert_allclose(fwht(a.copy()) / (1 << n), parity_matrix(n) @ expect / (1 << n), atol=1e-10)
    two = rng.normal(size=(1 << n, 3))  # batched along axis 1
    np.testing.assert_allclose(fwht(two.copy()), parity_matrix(n) @ two, atol=1e-10)


def test_fourier_dense_inverts_with_the_spec_convention():
    n = 8
    v = np.random.default_rng(0).normal(size=1 << n)
    f = fourier_dense(v)
    np.testing.assert_allclose(parity_matrix(n) @ f, v, atol=1e-12)  # f(S) = sum_T F(T) (-1)^{|T∩S|}
    assert f[0] == pytest.approx(v.mean())


@pytest.mark.parametrize("n", [1, 5, 8])
def test_mobius_and_zeta_dense_match_subset_sums(n):
    v = np.random.default_rng(n).normal(size=1 << n)
    z = subset_matrix(n)
    m = mobius_dense(v.copy())
    np.testing.assert_allclose(z @ m, v, atol=1e-10)  # f(S) = sum_{T ⊆ S} m(T)
    np.testing.assert_allclose(zeta_dense(m.copy()), v, atol=1e-10)


def test_mobius_dense_matches_shapiq():
    shapiq = pytest.importorskip("shapiq")
    n = 6
    v = np.random.default_rng(4).normal(size=1 << n)
    game = lambda c: v[(np.asarray(c, dtype=np.int64) << np.arange(n)).sum(axis=1)]  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = shapiq.ExactComputer(game, n_players=n).moebius_transform
    ours = dense_to_sparse(mobius_dense(v.copy()), n, "mobius").to_dict()
    for s, i in iv.interaction_lookup.items():
        assert ours[s] == pytest.approx(iv.values[i], abs=1e-10)


def test_bad_lengths_and_sizes_are_rejected():
    with pytest.raises(ValueError, match="power of two"):
        fwht(np.zeros(6))
    with pytest.raises(ValueError):
        all_masks(-1)
    with pytest.raises(ValueError):
        dense_to_sparse(np.zeros(5), 2)


def test_exact_fourier_and_dense_round_trip():
    n = 7
    fourier = random_sparse(n, 20, 4, seed=1)
    calls = []

    def f(masks):
        calls.append(len(masks))
        return brute_fourier_eval(fourier, masks)

    exact = exact_fourier(f, n)
    assert calls == [1 << n]
    np.testing.assert_allclose(sparse_to_dense(exact), sparse_to_dense(fourier), atol=1e-12)
    np.testing.assert_allclose(sparse_to_dense(dense_to_sparse(sparse_to_dense(fourier), n)), sparse_to_dense(fourier))


# --------------------------------------------------------------------------- sparse.py: evaluation and conversion
@pytest.mark.parametrize("basis", ["fourier", "mobius"])
def test_predict_matches_term_by_term_sums(basis):
    n = 60
    transform = random_sparse(n, 80, 6, seed=2, basis=basis)
    masks = np.random.default_rng(3).integers(0, 2, size=(300, n)).astype(bool)
    brute = brute_fourier_eval if basis == "fourier" else brute_mobius_eval
    np.testing.assert_allclose(transform.predict(masks), brute(transform, masks), atol=1e-10)
    np.testing.assert_allclose(transform.predict(masks.astype(np.int8)), transform.predict(masks))
    assert transform.predict(masks[0]).shape == (1,)


def test_predict_counts_past_255_features_in_one_support():
    # a uint8 count of kept features wraps at 256: 44 of 300 kept must not look like all 300 kept
    n = 300
    mobius = SparseTransform.from_dict({tuple(range(n)): 1.0}, n, "mobius")
    fourier = SparseTransform.from_dict({tuple(range(257)): 1.0}, n)
    masks = np.zeros((3, n), dtype=bool)
    masks[0, :44] = True
    masks[1] = True
    masks[2, :257] = True
    np.testing.assert_array_equal(mobius.predict(masks), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(fourier.predict(masks), [1.0, -1.0, -1.0])


def test_predict_handles_odd_shapes():
    const = SparseTransform.from_dict({(): 3.0}, 5)
    np.testing.assert_allclose(const.predict(np.zeros((4, 5), dtype=bool)), 3.0)
    empty = SparseTransform.empty(5)
    np.testing.assert_allclose(empty.predict(np.ones((2, 5), dtype=bool)), 0.0)
    with pytest.raises(ValueError, match="shape"):
        const.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="cannot be evaluated"):
        const.with_coefs(const.coefs, basis="sii").predict(np.zeros((1, 5)))


@pytest.mark.parametrize("n", [4, 9])
def test_sparse_conversions_match_dense_transforms(n):
    fourier = random_sparse(n, 3 * n, min(n, 5), seed=n)
    values = brute_fourier_eval(fourier, all_masks(n))
    mobius = fourier.to_mobius()
    assert mobius.basis == "mobius"
    np.testing.assert_allclose(sparse_to_dense(mobius), mobius_dense(values.copy()), atol=1e-10)
    dense_mobius = dense_to_sparse(mobius_dense(values.copy()), n, "mobius")
    np.testing.assert_allclose(sparse_to_dense(dense_mobius.to_fourier()), fourier_dense(values), atol=1e-10)


def test_conversion_formulas_on_a_planted_function():
    # f(S) = [0 ∈ S]·[1 ∈ S] = (1 - x0')(1 - x1')/4 with x' = (-1)^{x}: F = {∅: 1/4, 0: -1/4, 1: -1/4, 01: 1/4}
    mobius = SparseTransform.from_dict({(0, 1): 1.0}, 3, "mobius")
    assert mobius.to_fourier().to_dict() == pytest.approx({(): 0.25, (0,): -0.25, (1,): -0.25, (0, 1): 0.25})
    fourier = SparseTransform.from_dict({(2,): 1.0}, 3)  # f = (-1)^{x2} = 1 - 2·x2
    assert fourier.to_mobius().to_dict() == pytest.approx({(): 1.0, (2,): -2.0})


def test_sparse_conversion_at_scale_never_enumerates():
    fourier = random_sparse(1000, 200, 5, seed=4)
    mobius = fourier.to_mobius()
    assert len(mobius) <= 200 * 32
    masks = np.random.default_rng(5).integers(0, 2, size=(200, 1000)).astype(bool)
    np.testing.assert_allclose(mobius.predict(masks), fourier.predict(masks), atol=1e-9)
    back = mobius.to_fourier()
    assert back.to_dict().keys() == fourier.drop_zeros().to_dict().keys()
    np.testing.assert_allclose(back.coefs, fourier.drop_zeros().coefs, atol=1e-12)


def test_construction_canonicalises_and_sums_duplicates():
    t = SparseTransform([(3, 1), (1, 3), (), (2,)], [1.0, 2.0, 0.5, -1.0], 4)
    assert t.to_dict() == {(): 0.5, (1, 3): 3.0, (2,): -1.0}
    assert t.idx.dtype == np.int32 and (t.idx[0] == PAD).all()
    assert t.get((3, 1)) == 3.0 and t.get((0,)) == 0.0 and t.get((0, 1, 2, 3)) == 0.0
    padded = SparseTransform(np.array([[2, -1], [-1, 0]]), [1.0, 2.0], 3)
    assert padded.to_dict() == {(0,): 2.0, (2,): 1.0}
    np.testing.assert_array_equal(t.incidence().toarray(), [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0]])
    with pytest.raises(ValueError, match="twice"):
        SparseTransform([(1, 1)], [1.0], 3)
    with pytest.raises(ValueError, match="0..2"):
        SparseTransform([(3,)], [1.0], 3)
    with pytest.raises(ValueError, match="coefficients"):
        SparseTransform([(0,)], [1.0, 2.0], 3)


def test_prune_energy_and_arithmetic():
    t = SparseTransform.from_dict({(): 5.0, (0,): 3.0, (1, 2): -4.0, (0, 1, 2): 0.5}, 3)
    assert t.energy() == pytest.approx(9 + 16 + 0.25)
    assert t.energy(include_empty=True) == pytest.approx(25 + 9 + 16 + 0.25)
    assert t.prune(tol=1.0).to_dict() == {(): 5.0, (0,): 3.0, (1, 2): -4.0}
    assert t.prune(top=2).to_dict() == {(): 5.0, (1, 2): -4.0}
    assert t.prune(max_degree=1).to_dict() == {(): 5.0, (0,): 3.0}
    assert (t - t).drop_zeros().to_dict() == {}
    assert (2 * t).to_dict() == pytest.approx({s: 2 * c for s, c in t.to_dict().items()})
    assert (-t).get((1, 2)) == 4.0
    with pytest.raises(ValueError):
        t + SparseTransform.from_dict({(0,): 1.0}, 4)
    with pytest.raises(ValueError):
        t + t.to_mobius()


def test_predict_speed_budget():
    """10,000 masks x n = 1,000 x 500 terms must be well under a second (bench/ has the full timing)."""
    import time

    fourier = random_sparse(1000, 500, 5, seed=6)
    masks = np.random.default_rng(7).integers(0, 2, size=(10_000, 1000)).astype(bool)
    fourier.predict(masks[:10])
    start = time.perf_counter()
    fourier.predict(masks)
    assert time.perf_counter() - start < 2.0  # generous: a loaded 2-core box


# --------------------------------------------------------------------------- properties
@st.composite
def sparse_transforms(draw, basis="fourier", max_n=10):
    n = draw(st.integers(1, max_n))
    k = draw(st.integers(0, 15))
    supports = [draw(st.sets(st.integers(0, n - 1), max_size=min(n, 6))) for _ in range(k)]
    coefs = draw(st.lists(st.floats(-100, 100, allow_nan=False), min_size=k, max_size=k))
    return SparseTransform(supports, coefs, n, basis)


@settings(max_examples=60, deadline=None)
@given(sparse_transforms())
def test_property_fourier_mobius_round_trip_and_evaluation(fourier):
    n = fourier.n_features
    masks = all_masks(n)
    values = fourier.predict(masks)
    scale = 1 + np.abs(fourier.coefs).sum() * 2**6
    np.testing.assert_allclose(values, brute_fourier_eval(fourier, masks), atol=1e-9 * scale)
    mobius = fourier.to_mobius()
    np.testing.assert_allclose(mobius.predict(masks), values, atol=1e-9 * scale)
    np.testing.assert_allclose(sparse_to_dense(mobius), mobius_dense(values.copy()), atol=1e-9 * scale)
    np.testing.assert_allclose(sparse_to_dense(mobius.to_fourier()), sparse_to_dense(fourier), atol=1e-9 * scale)
    np.testing.assert_allclose(fourier_dense(values), sparse_to_dense(fourier), atol=1e-9 * scale)


@settings(max_examples=60, deadline=None)
@given(sparse_transforms(basis="mobius"), st.floats(-5, 5, allow_nan=False))
def test_property_mobius_input_arithmetic_and_dict_round_trip(mobius, scalar):
    n = mobius.n_features
    masks = all_masks(n)
    values = mobius.predict(masks)
    scale = 1 + np.abs(mobius.coefs).sum()
    np.testing.assert_allclose(values, brute_mobius_eval(mobius, masks), atol=1e-9 * scale)
    np.testing.assert_allclose(mobius.to_fourier().predict(masks), values, atol=1e-9 * scale)
    other = SparseTransform.from_dict(mobius.to_dict(), n, "mobius")
    np.testing.assert_array_equal(other.idx, mobius.idx)
    np.testing.assert_array_equal(other.coefs, mobius.coefs)
    np.testing.assert_allclose((mobius + other * scalar).predict(masks), values * (1 + scalar), atol=1e-9 * scale * 6)
    np.testing.assert_allclose((mobius - other).predict(masks), 0.0, atol=1e-9 * scale)


@settings(max_examples=40, deadline=None)
@given(sparse_transforms())
def test_property_parseval_energy(fourier):
    values = fourier.predict(all_masks(fourier.n_features))
    assert fourier.energy() == pytest.approx(values.var(), rel=1e-9, abs=1e-9)


def test_pad_columns_appends_pad_and_keeps_wide_rows():
    idx = np.array([[0, 3], [2, -1]])
    np.testing.assert_array_equal(pad_columns(idx, 4), [[0, 3, -1, -1], [2, -1, -1, -1]])
    assert pad_columns(idx, 2) is idx and pad_columns(idx, 1) is idx
    assert pad_columns(np.zeros((0, 1), dtype=np.int64), 3).shape == (0, 3)
