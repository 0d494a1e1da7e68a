"""The q-ary Fourier convention, the dense FFT oracle and the sparse q-ary transform type."""

import numpy as np
import pytest

from interspect.transforms.qary import (
    SparseQaryTransform,
    all_qary_inputs,
    exact_qary_fourier,
    qary_dense_to_sparse,
    qary_fourier_dense,
    qary_inverse_dense,
    qary_sparse_to_dense,
)


def _table_function(table: np.ndarray, n: int, q: int):
    return lambda x: table[np.ravel_multi_index(np.asarray(x).T, (q,) * n)]


def test_fft_oracle_matches_the_definition():
    # F(k) = q^-n sum_x f(x) w^{-<k,x>} written out as a matrix, for a complex f
    rng = np.random.default_rng(0)
    n, q = 3, 3
    x = all_qary_inputs(n, q)
    f = rng.normal(size=q**n) + 1j * rng.normal(size=q**n)
    w = np.exp(2j * np.pi / q)
    dft = w ** (-(x @ x.T))  # rows: frequencies k, columns: inputs x (same enumeration)
    expected = dft @ f / q**n
    np.testing.assert_allclose(qary_fourier_dense(f, n, q), expected, atol=1e-12)
    np.testing.assert_allclose(qary_inverse_dense(expected, n, q), f, atol=1e-12)


@pytest.mark.parametrize(("n", "q"), [(4, 3), (3, 4), (3, 5), (6, 2)])
def test_exact_transform_reconstructs_the_function(n, q):
    rng = np.random.default_rng(n * q)
    table = rng.normal(size=q**n)
    t = exact_qary_fourier(_table_function(table, n, q), n, q)
    assert len(t) == q**n and t.is_real()
    x = all_qary_inputs(n, q)
    np.testing.assert_allclose(t.predict(x), table, atol=1e-10)
    np.testing.assert_allclose(qary_sparse_to_dense(t), qary_fourier_dense(table, n, q), atol=1e-12)
    # F(0) is the mean and Parseval gives the variance
    assert t.get(np.zeros(n, dtype=int)).real == pytest.approx(table.mean())
    assert t.variance() == pytest.approx(table.var())


def test_compact_storage_and_round_trips():
    n, q = 7, 5
    rows = np.array([[0, 0, 3, 0, 0, 0, 1], [2, 0, 0, 0, 0, 0, 0], [0] * 7, [0, 0, 3, 0, 0, 0, 1]])
    t = SparseQaryTransform(rows, [1 + 2j, -0.5, 0.25, 1.0], n, q)
    assert len(t) == 3  # the duplicate row is summed
    assert t.get([0, 0, 3, 0, 0, 0, 1]) == pytest.approx(2 + 2j)
    assert t.idx.shape == (3, 2) and t.max_degree == 2
    d = t.to_dict()
    assert d[((2, 3), (6, 1))] == pytest.approx(2 + 2j) and d[()] == pytest.approx(0.25)
    for other in (SparseQaryTransform.from_dict(d, n, q), SparseQaryTransform.from_records(t.to_records(), n, q)):
        np.testing.assert_array_equal(other.locations(), t.locations())
        np.testing.assert_allclose(other.coefs, t.coefs)
    x = np.random.default_rng(1).integers(0, q, size=(50, n))
    dense_rows = t.locations()
    expected = np.exp(2j * np.pi * (x @ dense_rows.T) / q) @ t.coefs
    np.testing.assert_allclose(t.predict(x), expected, atol=1e-12)  # complex: not conjugate-symmetric
    assert not t.is_real()


def test_predict_is_real_for_conjugate_symmetric_coefficients():
    n, q = 5, 4
    k = np.array([[1, 0, 2, 0, 3], [0, 0, 0, 1, 0]])
    c = np.array([0.3 - 1j, 2.0 + 0.5j])
    t = SparseQaryTransform(np.vstack([k, (-k) % q]), np.concatenate([c, c.conj()]), n, q)
    assert t.is_real()
    x = all_qary_inputs(n, q)
    values = t.predict(x)
    assert values.dtype == np.float64
    np.testing.assert_allclose(values, np.real(qary_inverse_dense(qary_sparse_to_dense(t), n, q)), atol=1e-12)


def _brute_force_sobol(table: np.ndarray, n: int, q: int):
    """Main, total and pairwise-interaction variances straight from the conditional expectations."""
    cube = table.reshape((q,) * n)
    all_axes = set(range(n))

    def cond_var(keep):
        return np.var(cube.mean(axis=tuple(sorted(all_axes - set(keep)))))

    main = np.array([cond_var([i]) for i in range(n)])
    total = np.array([table.var() - cond_var(sorted(all_axes - {i})) for i in range(n)])
    pairs = {(i, j): cond_var([i, j]) - main[i] - main[j] for i in range(n) for j in range(i + 1, n)}
    return main, total, pairs


def test_variance_decomposition_matches_sobol_indices():
    n, q = 4, 3
    table = np.random.default_rng(3).normal(size=q**n)
    t = exact_qary_fourier(_table_function(table, n, q), n, q)
    main, total, pairs = _brute_force_sobol(table, n, q)
    np.testing.assert_allclose(t.feature_importance("main", normalize=False), main, atol=1e-12)
    np.testing.assert_allclose(t.feature_importance("total", normalize=False), total, atol=1e-12)
    np.testing.assert_allclose(t.feature_importance("main"), main / table.var(), atol=1e-12)
    got = t.pair_importance(normalize=False)
    assert set(got) == set(pairs)
    for key, value in pairs.items():
        assert got[key] == pytest.approx(value, abs=1e-12)
    ranked = list(t.pair_importance(top=2).values())
    assert len(ranked) == 2 and ranked[0] >= ranked[1]
    # "total" pair importance adds the higher-order terms containing the pair
    tot = t.pair_importance("total", normalize=False)
    assert all(tot[key] >= got[key] - 1e-12 for key in got)


def test_to_binary_conventions():
    n = 4
    rng = np.random.default_rng(4)
    table = rng.normal(size=2**n)
    t = exact_qary_fourier(_table_function(table, n, 2), n, 2)
    masks = all_qary_inputs(n, 2).astype(bool)
    # value 1 = keep: the binary transform evaluated on the same masks gives f
    np.testing.assert_allclose(t.to_binary(keep_value=1).predict(masks), table, atol=1e-12)
    # value 0 = keep: the mask is the complement of x
    np.testing.assert_allclose(t.to_binary(keep_value=0).predict(~masks), table, atol=1e-12)
    with pytest.raises(ValueError, match="q = 2"):
        SparseQaryTransform(np.zeros((1, 3), int), [1.0], 3, 3).to_binary()


def test_prune_and_dense_to_sparse():
    n, q = 3, 3
    coefs = np.zeros(q**n, dtype=complex)
    coefs[[1, 5, 9]] = [1.0, 1e-9, -2.0]
    t = qary_dense_to_sparse(coefs, n, q)
    assert len(t) == 3
    assert len(t.prune(tol=1e-6)) == 2
    top = t.prune(top=1)
    assert len(top) == 1 and top.coefs[0] == pytest.approx(-2.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: SparseQaryTransform(np.zeros((1, 3), int), [1.0], 3, 1), "q must be between"),
        (lambda: SparseQaryTransform(np.zeros((1, 3), int), [1.0], 3, 2.5), "q must be an integer"),
        (lambda: SparseQaryTransform(np.array([[0, 3, 0]]), [1.0], 3, 3), "0..2"),
        (lambda: SparseQaryTransform(np.zeros((2, 3), int), [1.0], 3, 3), "coefficients"),
        (lambda: SparseQaryTransform(np.zeros((1, 4), int), [1.0], 3, 3), "shape"),
        (lambda: SparseQaryTransform(np.zeros((1, 3), int), [np.nan], 3, 3).predict(np.zeros((1, 3), int)), "finite"),
        (lambda: SparseQaryTransform.empty(3, 3).predict(np.array([[0, 1, -1]])), "0..2"),
        (lambda: SparseQaryTransform.empty(3, 3).predict(np.array([[0.5, 1, 1]])), "integers"),
        (lambda: all_qary_inputs(30, 3), "q\\^n"),
    ],
)
def test_bad_input_is_rejected(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
