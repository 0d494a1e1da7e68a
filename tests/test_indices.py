"""Interaction indices against textbook brute force over all 2^n masks, shapiq 1.4.1, and their axioms."""

import math
import warnings
from itertools import permutations

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from interspect.indices import INDICES, banzhaf_values, canonical_index, interaction_values, shapley_values
from interspect.transforms.exact import all_masks, dense_to_sparse, fourier_dense
from interspect.transforms.sparse import SparseTransform

shapiq = pytest.importorskip("shapiq")


# --------------------------------------------------------------------------- textbook references
def _pc(x: int) -> int:
    return bin(x).count("1")


def _submasks(mask: int):
    sub = mask
    while True:
        yield sub
        if sub == 0:
            return
        sub = (sub - 1) & mask


def _tuple(mask: int) -> tuple[int, ...]:
    return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


def _delta(v, s_mask, t_mask):
    """Discrete derivative of f along S at T (T disjoint from S)."""
    return sum((-1) ** (_pc(s_mask) - _pc(sub)) * v[t_mask | sub] for sub in _submasks(s_mask))


def _sets_upto(n, k):
    return [s for s in range(1 << n) if _pc(s) <= k]


def brute_index(v, n, index, k):
    """Index values of every S with |S| <= k, straight from the definitions (sums over subsets)."""
    full = (1 << n) - 1
    out = {}
    for s_mask in _sets_upto(n, k):
        s, rest = _pc(s_mask), full & ~s_mask
        if index == "mobius":
            val = _delta(v, s_mask, 0)
        elif index == "fourier":
            val = sum((-1) ** _pc(s_mask & x) * v[x] for x in range(1 << n)) / 2**n
        elif index == "sii":
            val = sum(
                math.factorial(n - _pc(t) - s)
                * math.factorial(_pc(t))
                / math.factorial(n - s + 1)
                * _delta(v, s_mask, t)
                for t in _submasks(rest)
            )
        elif index == "bii":
            val = sum(_delta(v, s_mask, t) for t in _submasks(rest)) / 2 ** (n - s)
        elif index == "stii":
            if s < k:
                val = _delta(v, s_mask, 0)
            else:
                val = k / n * sum(_delta(v, s_mask, t) / math.comb(n - 1, _pc(t)) for t in _submasks(rest))
        else:
            raise AssertionError(index)
        out[_tuple(s_mask)] = val
    return out


def _design(n, k):
    sets = _sets_upto(n, k)
    x = np.array([[(t & ~mask) == 0 for t in sets] for mask in range(1 << n)], dtype=float)
    return sets, x


def brute_fsii(v, n, k):
    """Faith-Shap: Shapley-kernel weighted least squares with f(∅) and f(N) matched exactly (KKT system)."""
    sets, x = _design(n, k)
    sizes = np.array([_pc(m) for m in range(1 << n)])
    inner = (sizes > 0) & (sizes < n)
    mu = np.zeros(1 << n)
    mu[inner] = (n - 1) / (scipy.special.comb(n, sizes[inner]) * sizes[inner] * (n - sizes[inner]))
    a = x[inner] * np.sqrt(mu[inner])[:, None]
    b = v[inner] * np.sqrt(mu[inner])
    c = x[[0, -1]]
    kkt = np.block([[2 * a.T @ a, c.T], [c, np.zeros((2, 2))]])
    sol = np.linalg.solve(kkt, np.concatenate([2 * a.T @ b, v[[0, -1]]]))
    return {_tuple(m): val for m, val in zip(sets, sol[: len(sets)], strict=True)}


def brute_fbii(v, n, k):
    """Faith-Banzhaf: unweighted least squares over all masks."""
    sets, x = _design(n, k)
    sol = np.linalg.lstsq(x, v, rcond=None)[0]
    return {_tuple(m): val for m, val in zip(sets, sol, strict=True)}


def brute_ksii(v, n, k):
    """n-Shapley values (Bordt & von Luxburg 2023), by their recursion over the order from SII."""
    sii = brute_index(v, n, "sii", k)
    bern = scipy.special.bernoulli(k)
    phi = {(i,): sii[(i,)] for i in range(n)}
    for j in range(2, k + 1):
        top = {s: val for s, val in sii.items() if len(s) == j}
        for s in list(phi):
            phi[s] += bern[j - len(s)] * sum(val for t, val in top.items() if set(s) <= set(t))
        phi.update(top)
    phi[()] = v[0]
    return phi


def brute_shapley(v, n):
    """Average marginal contribution over all orderings."""
    phi = np.zeros(n)
    for order in permutations(range(n)):
        mask = 0
        for i in order:
            phi[i] += v[mask | 1 << i] - v[mask]
            mask |= 1 << i
    return phi / math.factorial(n)


def brute_banzhaf(v, n):
    return np.array(
        [sum(v[t | 1 << i] - v[t] for t in range(1 << n) if not t >> i & 1) / 2 ** (n - 1) for i in range(n)]
    )


def reference(v, n, index, k):
    if index == "fsii":
        return brute_fsii(v, n, k)
    if index == "fbii":
        return brute_fbii(v, n, k)
    if index == "k-sii":
        return brute_ksii(v, n, k)
    return brute_index(v, n, index, k)


def assert_matches(ours: SparseTransform, ref: dict, atol=1e-9, skip_empty=False):
    got = ours.to_dict()
    if skip_empty:
        got.pop((), None)
        ref = {s: val for s, val in ref.items() if s}
    for s in set(got) | set(ref):
        assert got.get(s, 0.0) == pytest.approx(ref.get(s, 0.0), abs=atol), s


def _random_function(n, seed):
    return np.random.default_rng(seed).normal(size=1 << n)


def _random_sparse(n, k, max_degree, seed):
    rng = np.random.default_rng(seed)
    supports = [rng.choice(n, size=rng.integers(0, max_degree + 1), replace=False) for _ in range(k)]
    return SparseTransform(supports, rng.normal(size=k), n)


# --------------------------------------------------------------------------- brute force
N_BRUTE = 6
V_BRUTE = _random_function(N_BRUTE, 0)
F_BRUTE = dense_to_sparse(fourier_dense(V_BRUTE), N_BRUTE)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("index", INDICES)
def test_index_matches_textbook_definition(index, order):
    ref = reference(V_BRUTE, N_BRUTE, index, order)
    assert interaction_values(F_BRUTE, index, order).max_degree <= order
    assert_matches(interaction_values(F_BRUTE, index, order), ref)
    assert_matches(interaction_values(F_BRUTE.to_mobius(), index, order), ref)


@pytest.mark.parametrize("index", ["sii", "stii", "fsii", "fbii", "k-sii"])
def test_sparse_input_matches_brute_force_of_its_values(index):
    n = 7
    fourier = _random_sparse(n, 12, 5, seed=3)
    v = fourier.predict(all_masks(n))
    assert_matches(interaction_values(fourier, index, 3), reference(v, n, index, 3))


def test_shapley_and_banzhaf_match_definitions():
    phi, beta = brute_shapley(V_BRUTE, N_BRUTE), brute_banzhaf(V_BRUTE, N_BRUTE)
    for transform in (F_BRUTE, F_BRUTE.to_mobius()):
        np.testing.assert_allclose(shapley_values(transform), phi, atol=1e-12)
        np.testing.assert_allclose(banzhaf_values(transform), beta, atol=1e-12)


def test_banzhaf_is_minus_two_first_order_fourier():
    fourier = _random_sparse(300, 400, 4, seed=5)
    expect = np.array([-2 * fourier.get((i,)) for i in range(300)])
    np.testing.assert_array_equal(banzhaf_values(fourier), expect)
    np.testing.assert_allclose(banzhaf_values(fourier.to_mobius()), expect, atol=1e-10)


# --------------------------------------------------------------------------- shapiq oracle
def _shapiq_dict(iv, order):
    return {s: float(iv.values[i]) for s, i in iv.interaction_lookup.items() if len(s) <= order}


SHAPIQ_NAMES = {"sii": "SII", "bii": "BII", "stii": "STII", "fsii": "FSII", "fbii": "FBII", "k-sii": "k-SII"}


@pytest.fixture(scope="module")
def shapiq_exact():
    n = 7
    v = _random_function(n, 11)
    game = lambda coalitions: v[(np.asarray(coalitions, dtype=np.int64) << np.arange(n)).sum(axis=1)]  # noqa: E731
    return dense_to_sparse(fourier_dense(v), n), shapiq.ExactComputer(game, n_players=n)


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("index", [*SHAPIQ_NAMES, "mobius"])
def test_matches_shapiq_exact_computer(shapiq_exact, index, order):
    fourier, computer = shapiq_exact
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iv = computer("Moebius" if index == "mobius" else SHAPIQ_NAMES[index], order=order)
    # shapiq puts f(∅) on the empty set of SII of order 1 (its Shapley-value convention); we keep the textbook SII(∅)
    atol = 1e-7 if index == "fsii" else 1e-10  # shapiq solves FSII by least squares with a big-M weight
    skip = index == "sii" and order == 1
    assert_matches(interaction_values(fourier, index, order), _shapiq_dict(iv, order), atol=atol, skip_empty=skip)


def test_shapley_and_banzhaf_match_shapiq(shapiq_exact):
    fourier, computer = shapiq_exact
    sv, bv = computer("SV", order=1), computer("BV", order=1)
    n = fourier.n_features
    np.testing.assert_allclose(shapley_values(fourier), [sv[(i,)] for i in range(n)], atol=1e-12)
    np.testing.assert_allclose(banzhaf_values(fourier), [bv[(i,)] for i in range(n)], atol=1e-12)


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("index", ["SII", "STII", "FSII", "FBII", "k-SII"])
def test_matches_shapiq_moebius_converter_on_a_large_sparse_game(index, order):
    n = 40
    fourier = _random_sparse(n, 25, 5, seed=7)
    mobius = fourier.to_mobius()
    iv = shapiq.InteractionValues(
        values=mobius.coefs.copy(),
        index="Moebius",
        max_order=n,
        min_order=0,
        n_players=n,
        interaction_lookup={s: i for i, s in enumerate(mobius.supports())},
        baseline_value=mobius.get(()),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _shapiq_dict(shapiq.game_theory.moebius_converter.MoebiusConverter(iv)(index, order), order)
    # shapiq's converter leaves the empty set of SII out
    assert_matches(interaction_values(fourier, index, order), ref, atol=1e-9, skip_empty=index == "SII")


# --------------------------------------------------------------------------- axioms and limits
@pytest.fixture(scope="module")
def big():
    fourier = _random_sparse(500, 300, 5, seed=13)
    ends = fourier.predict(np.array([np.zeros(500), np.ones(500)], dtype=bool))
    return fourier, ends


def test_shapley_efficiency(big):
    fourier, (empty, full) = big
    assert shapley_values(fourier).sum() == pytest.approx(full - empty, abs=1e-9)
    v = _random_function(10, 2)
    assert shapley_values(dense_to_sparse(fourier_dense(v), 10)).sum() == pytest.approx(v[-1] - v[0], abs=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("index", ["k-sii", "stii", "fsii"])
def test_efficient_indices_sum_to_the_full_value(big, index, order):
    fourier, (empty, full) = big
    values = interaction_values(fourier, index, order)
    assert values.basis == index and values.max_degree <= order
    assert values.get(()) == pytest.approx(empty, abs=1e-9)
    assert values.coefs.sum() == pytest.approx(full, abs=1e-8)


def test_k_sii_is_aggregated_once(shapiq_exact):
    """Aggregating SII to k-SII a second time (a known pitfall) breaks efficiency; ours is aggregated once."""
    from shapiq.game_theory.aggregation import aggregate_base_interaction

    fourier, _ = shapiq_exact
    n, order = fourier.n_features, 3
    empty, full = fourier.predict(np.array([np.zeros(n), np.ones(n)], dtype=bool))
    ksii = interaction_values(fourier, "k-sii", order)
    assert ksii.coefs.sum() == pytest.approx(full, abs=1e-10)
    sii = interaction_values(fourier, "sii", order)
    supports = sii.supports()
    iv = shapiq.InteractionValues(
        values=sii.coefs.copy(),
        index="SII",
        max_order=order,
        min_order=0,
        n_players=n,
        interaction_lookup={s: i for i, s in enumerate(supports)},
        baseline_value=float(empty),
    )
    once = aggregate_base_interaction(iv, order)
    assert_matches(ksii, _shapiq_dict(once, order), atol=1e-10)
    twice = aggregate_base_interaction(once, order)
    assert abs(sum(_shapiq_dict(twice, order).values()) - full) > 1e-3


def test_first_order_indices_are_shapley_and_banzhaf(big):
    fourier = big[0]
    phi, beta = shapley_values(fourier), banzhaf_values(fourier)
    for index, expect in [("sii", phi), ("k-sii", phi), ("fsii", phi), ("stii", phi), ("bii", beta), ("fbii", beta)]:
        values = interaction_values(fourier, index, 1)
        got = np.array([values.get((i,)) for i in range(fourier.n_features)])
        np.testing.assert_allclose(got, expect, atol=1e-10, err_msg=index)


@pytest.mark.parametrize("index", ["k-sii", "stii", "fsii", "fbii"])
def test_order_at_least_the_degree_gives_the_mobius_transform(big, index):
    fourier = big[0]
    mobius = fourier.to_mobius()
    assert_matches(interaction_values(fourier, index, 5), mobius.to_dict(), atol=1e-9)
    assert_matches(interaction_values(fourier, index, None), mobius.to_dict(), atol=1e-9)


def test_fbii_is_the_mobius_transform_of_the_truncated_fourier(big):
    fourier = big[0]
    for k in (1, 2, 3):
        expect = fourier.prune(max_degree=k).to_mobius().to_dict()
        assert_matches(interaction_values(fourier, "fbii", k), expect, atol=1e-10)


def test_truncating_indices_keep_their_lower_orders(big):
    fourier = big[0]
    for index in ("mobius", "fourier", "sii", "bii"):
        low, high = interaction_values(fourier, index, 2), interaction_values(fourier, index, 4)
        assert_matches(low, high.prune(max_degree=2).to_dict(), atol=1e-12)


def test_names_and_errors():
    assert [canonical_index(s) for s in ("K-SII", "k_sii", "kSII", "Moebius", "möbius", "FSII")] == [
        "k-sii",
        "k-sii",
        "k-sii",
        "mobius",
        "mobius",
        "fsii",
    ]
    fourier = _random_sparse(5, 4, 2, seed=0)
    assert interaction_values(fourier, "K_SII", 2).basis == "k-sii"
    with pytest.raises(ValueError, match="unknown interaction index"):
        interaction_values(fourier, "shap", 2)
    with pytest.raises(ValueError, match="positive integer"):
        interaction_values(fourier, "sii", 0)
    with pytest.raises(ValueError, match="'fourier' or 'mobius'"):
        shapley_values(interaction_values(fourier, "sii", 2))
    with pytest.raises(TypeError):
        banzhaf_values(np.zeros(3))
    with pytest.raises(MemoryError, match="lower the order"):
        interaction_values(SparseTransform.from_dict({tuple(range(30)): 1.0}, 30), "sii", 30)


def test_empty_and_constant_transforms():
    const = SparseTransform.from_dict({(): 2.5}, 4)
    np.testing.assert_array_equal(shapley_values(const), np.zeros(4))
    for index in INDICES:
        values = interaction_values(const, index, 2)
        assert values.to_dict() == pytest.approx({(): 2.5}), index
    empty = SparseTransform.empty(3)
    assert len(interaction_values(empty, "fsii", 2)) == 0
    np.testing.assert_array_equal(banzhaf_values(empty), np.zeros(3))


# --------------------------------------------------------------------------- properties
@st.composite
def sparse_fourier(draw):
    n = draw(st.integers(1, 9))
    k = draw(st.integers(1, 12))
    supports = [draw(st.sets(st.integers(0, n - 1), max_size=min(n, 5))) for _ in range(k)]
    coefs = draw(st.lists(st.floats(-10, 10, allow_nan=False), min_size=k, max_size=k))
    return SparseTransform(supports, coefs, n)


@settings(max_examples=40, deadline=None)
@given(sparse_fourier(), st.sampled_from(INDICES), st.integers(1, 4))
def test_property_sparse_fourier_mobius_and_dense_routes_agree(fourier, index, order):
    n = fourier.n_features
    from_fourier = interaction_values(fourier, index, order)
    from_mobius = interaction_values(fourier.to_mobius(), index, order)
    dense = dense_to_sparse(fourier_dense(fourier.predict(all_masks(n))), n)
    from_dense = interaction_values(dense, index, order)
    scale = 1 + np.abs(fourier.coefs).sum()
    ref = from_fourier.to_dict()
    assert_matches(from_mobius, ref, atol=1e-9 * scale * 2**order)
    assert_matches(from_dense, ref, atol=1e-9 * scale * 2**order)


@settings(max_examples=40, deadline=None)
@given(sparse_fourier(), st.integers(1, 4))
def test_property_efficiency_and_shapley_consistency(fourier, order):
    n = fourier.n_features
    empty, full = fourier.predict(np.array([np.zeros(n), np.ones(n)], dtype=bool))
    scale = 1 + np.abs(fourier.coefs).sum() * 2**5
    phi = shapley_values(fourier)
    assert phi.sum() == pytest.approx(full - empty, abs=1e-9 * scale)
    np.testing.assert_allclose(phi, shapley_values(fourier.to_mobius()), atol=1e-9 * scale)
    for index in ("k-sii", "stii", "fsii"):
        assert interaction_values(fourier, index, order).coefs.sum() == pytest.approx(full, abs=1e-9 * scale)
