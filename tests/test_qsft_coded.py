"""q-SFT with coded delays: the BCH decoder against brute force, exact recovery, query counts, noise, errors."""

import itertools

import numpy as np
import pytest
from planted import planted_qary as planted

from interspect import explain_qary
from interspect.algorithms.qsft import fit_qsft, plan_qsft
from interspect.algorithms.qsft.coded import delay_code
from interspect.algorithms.qsft.gf import bch_code, field
from interspect.query.qary import QaryQueryEngine


def assert_exact(got, truth):
    got, want = got.prune(1e-8), truth.prune(1e-8)
    np.testing.assert_array_equal(got.locations(), want.locations())
    np.testing.assert_allclose(got.coefs, want.coefs, atol=1e-8)


def _sparse_words(rng, count, n, q, t):
    k = np.zeros((count, n), dtype=np.int64)
    for row, w in zip(k, rng.integers(0, t + 1, size=count), strict=True):
        row[rng.choice(n, size=w, replace=False)] = rng.integers(1, q, size=w)
    return k


@pytest.mark.parametrize(("p", "m"), [(2, 5), (3, 3), (5, 2), (7, 2)])
def test_field_tables_are_a_field(p, m):
    gf = field(p, m)
    elems = np.arange(1, p**m)
    assert len(np.unique(gf.exp[: gf.order])) == gf.order  # α is primitive
    np.testing.assert_array_equal(gf.mul(elems, gf.inv(elems)), 1)
    a, b, c = np.random.default_rng(p * m).integers(0, p**m, size=(3, 500))
    np.testing.assert_array_equal(gf.mul(a, gf.add(b, c)), gf.add(gf.mul(a, b), gf.mul(a, c)))  # distributive


@pytest.mark.parametrize(("p", "n", "t"), [(2, 20, 2), (3, 12, 2), (5, 8, 2)])
def test_bch_code_separates_every_low_weight_pattern(p, n, t):
    """Brute force: every message with at most t non-zero symbols has its own parity and decodes from it."""
    code = bch_code(p, n, t)
    words = [np.zeros(n, dtype=np.int64)]
    for w in range(1, t + 1):
        for pos in itertools.combinations(range(n), w):
            for vals in itertools.product(range(1, p), repeat=w):
                k = np.zeros(n, dtype=np.int64)
                k[list(pos)] = vals
                words.append(k)
    k = np.array(words)
    parity = code.encode(k)
    assert len(np.unique(parity, axis=0)) == len(k)
    got, ok = code.decode(parity)
    assert ok.all()
    np.testing.assert_array_equal(got, k)


@pytest.mark.parametrize(("q", "n", "t"), [(3, 60, 3), (4, 60, 3), (5, 40, 3), (6, 30, 2), (9, 30, 2)])
def test_delay_code_decodes_phases_and_corrects_wrong_symbols(q, n, t):
    rng = np.random.default_rng(q + n)
    code = delay_code(q, n, t)
    k = _sparse_words(rng, 400, n, q, t - 1)
    symbols = (k @ code.matrix.T) % q
    got, ok = code.decode(symbols + rng.uniform(-0.45, 0.45, size=symbols.shape))  # phases off by < half a step
    assert ok.all()
    np.testing.assert_array_equal(got, k)
    wrong = symbols.astype(float)
    wrong[np.arange(len(k)), rng.integers(0, code.r, size=len(k))] += rng.choice([-1.0, 1.0], size=len(k))
    got, ok = code.decode(wrong)  # support ≤ t - 1 plus one wrong symbol: within t errors
    assert ok.all()
    np.testing.assert_array_equal(got, k)


@pytest.mark.parametrize(("q", "n", "pairs"), [(3, 60, 12), (4, 50, 10), (5, 40, 10)])
def test_exact_recovery_with_coded_delays(q, n, pairs):
    truth = planted(n, q, pairs, seed=q + 7)
    expl = explain_qary(lambda x: truth.predict(x), n, q, sparsity=len(truth), random_state=0, holdout=0)
    assert expl.info["delays"] == "coded"
    assert_exact(expl.transform, truth)
    assert expl.n_fit_queries <= plan_qsft(n, q, sparsity=len(truth)).n_queries


@pytest.mark.parametrize(("q", "n"), [(3, 120), (4, 130), (5, 100)])
def test_coded_delays_need_at_most_a_fifth_of_the_identity_queries(q, n):
    truth = planted(n, q, 15, seed=q)
    counts = {}
    for delays in ("coded", "identity"):
        expl = explain_qary(
            lambda x: truth.predict(x), n, q, sparsity=len(truth), random_state=1, holdout=0, delays=delays
        )
        assert expl.info["delays"] == delays
        assert_exact(expl.transform, truth)
        counts[delays] = expl.n_queries
    assert counts["coded"] * 5 <= counts["identity"]


def test_noisy_r2_not_below_identity_at_equal_query_count():
    """σ = 0.3·sd(f): 9 blocks of 33 coded delays against 3 blocks of 101 identity delays (56,430 vs 57,570)."""
    q, n = 4, 100
    truth = planted(n, q, 20, seed=1)
    sd = np.sqrt(truth.variance())
    x = np.random.default_rng(2).integers(0, q, size=(3000, n))
    y = truth.predict(x)
    scores, queries = {}, {}
    for delays, repeats in (("identity", 3), ("coded", 9)):
        noise = np.random.default_rng(2)
        expl = explain_qary(
            lambda z, noise=noise: truth.predict(z) + 0.3 * sd * noise.normal(size=len(z)), n, q, sparsity=40,
            noise_robust=True, n_repeats=repeats, random_state=1, holdout=0, delays=delays, batch_size=4096,
        )  # fmt: skip
        scores[delays] = 1 - np.sum((y - expl.predict(x)) ** 2) / np.sum((y - y.mean()) ** 2)
        queries[delays] = expl.n_queries
    assert queries["coded"] <= queries["identity"]
    assert scores["coded"] >= scores["identity"] and scores["coded"] > 0.99


def test_small_n_falls_back_to_identity_delays():
    plan = plan_qsft(5, 3, sparsity=20)  # 16 coded delays > 5 identity delays
    assert plan.delays == "identity" and plan.block == 6


def test_bad_delay_arguments_are_refused():
    engine = QaryQueryEngine(lambda x: np.zeros(len(x)), 30, 3)
    with pytest.raises(ValueError, match="delays must be one of 'coded', 'identity'; got 'bch'"):
        fit_qsft(engine, delays="bch")
    with pytest.raises(ValueError, match="delays must be one of"):
        explain_qary(lambda x: np.zeros(len(x)), 30, 3, delays=None)
    with pytest.raises(ValueError, match="delays must be one of"):
        plan_qsft(30, 3, delays="Coded")
    with pytest.raises(ValueError, match="degree must be at least 1"):
        plan_qsft(30, 3, degree=0)


@pytest.mark.parametrize(("q", "n", "robust"), [(3, 40, False), (4, 60, True), (6, 30, True)])
def test_coded_design_queries_are_lattices_plus_coded_delays(q, n, robust):
    from interspect.algorithms.qsft.design import all_digits, design_queries, offsets, query_count, subsampling_matrices

    plan = plan_qsft(n, q, sparsity=30, noise_robust=robust)
    assert plan.delays == "coded" and plan.block == delay_code(q, n, plan.t).r + 1 < n + 1
    rng = np.random.default_rng(0)
    matrices, offs = subsampling_matrices(plan, rng), offsets(plan, rng)
    code = delay_code(q, n, plan.t)
    unit = np.vstack([np.zeros((1, n), dtype=np.int64), code.matrix])
    delays = (offs[:, None, :] + unit[None]).reshape(-1, n)  # o_r, then o_r + d_i
    lattice = np.einsum("lb,cnb->cln", all_digits(plan.b, q), matrices)
    expected = (lattice[:, None, :, :] + delays[None, :, None, :]) % q
    rows, index = design_queries(matrices, offs, q, code.matrix)
    np.testing.assert_array_equal(rows[index], expected.transpose(0, 2, 1, 3))  # (C, q^b, P, n)
    assert len(rows) == query_count(n, q, plan.b, plan.n_groups, plan.n_repeats, plan.block) == plan.n_queries
