"""q-SFT: exact recovery of planted sparse q-ary functions, agreement with the exact oracles, noise, errors."""

import json

import numpy as np
import pytest
from planted import planted_qary as planted

import interspect
from interspect import QaryExplanation, explain_qary
from interspect.algorithms.qsft import fit_qsft, plan_qsft
from interspect.algorithms.qsft.design import query_count
from interspect.query.engine import QueryError
from interspect.query.qary import QaryQueryEngine
from interspect.transforms.exact import all_masks, exact_fourier
from interspect.transforms.qary import SparseQaryTransform, all_qary_inputs, exact_qary_fourier
from interspect.transforms.sparse import SparseTransform


def assert_same_transform(got: SparseQaryTransform, want: SparseQaryTransform, atol: float = 1e-8) -> None:
    want = want.prune(tol=atol)
    got = got.prune(tol=atol)
    np.testing.assert_array_equal(got.locations(), want.locations())
    np.testing.assert_allclose(got.coefs, want.coefs, atol=atol)


@pytest.mark.parametrize(("q", "n", "pairs"), [(3, 40, 15), (4, 30, 12), (5, 25, 10)])
def test_exact_recovery_of_planted_functions(q, n, pairs):
    truth = planted(n, q, pairs, seed=q)
    expl = explain_qary(lambda x: truth.predict(x), n, q, sparsity=len(truth), random_state=0, holdout=300)
    assert_same_transform(expl.transform, truth)
    plan = plan_qsft(n, q, sparsity=len(truth))
    assert expl.n_fit_queries <= plan.n_queries == expl.info["planned_queries"]
    assert expl.n_fit_queries >= 0.99 * plan.n_queries  # rows rarely coincide at this n
    assert expl.n_heldout_queries == 300 and expl.n_queries == expl.n_fit_queries + 300
    assert expl.faithfulness.kind == "heldout" and expl.faithfulness.r2 == pytest.approx(1.0)
    assert expl.n_heldout_queries == expl.faithfulness.n_masks == 300
    x = np.random.default_rng(1).integers(0, q, size=(200, n))
    np.testing.assert_allclose(expl.predict(x), truth.predict(x), atol=1e-8)
    assert set(expl.timing) == {"algorithm_s", "model_s", "total_s"}


@pytest.mark.parametrize(("n", "q"), [(4, 3), (3, 4), (3, 5)])
def test_agrees_with_the_exact_transform_on_a_dense_function(n, q):
    # with b = n every bin holds one frequency, so the whole (non-sparse) transform is recovered
    table = np.random.default_rng(n + q).normal(size=q**n)

    def f(x):
        return table[np.ravel_multi_index(x.T, (q,) * n)]

    expl = explain_qary(f, n, q, sparsity=q**n, random_state=1)
    assert expl.info["b"] == n
    assert_same_transform(expl.transform, exact_qary_fourier(f, n, q), atol=1e-9)


def test_agrees_with_the_exact_transform_on_a_small_sparse_function():
    n, q = 6, 3
    truth = planted(n, q, 6, seed=11, max_degree=2)
    oracle = exact_qary_fourier(lambda x: truth.predict(x), n, q, tol=1e-9)
    expl = explain_qary(lambda x: truth.predict(x), n, q, sparsity=len(truth), random_state=3)
    assert_same_transform(expl.transform, oracle)
    assert expl.n_queries < q**n  # cheaper than the oracle


@pytest.mark.parametrize("keep_value", [1, 0])
def test_q2_agrees_with_the_binary_path(keep_value):
    n = 12
    rng = np.random.default_rng(5)
    binary = SparseTransform([(0,), (3, 7), (1, 2, 9), (5,), (4, 11)], rng.normal(size=5) * 3, n)

    def masks_value_function(masks):
        return binary.predict(masks)

    def qary_value_function(x):
        return masks_value_function(x == keep_value)

    expl = explain_qary(qary_value_function, n, 2, sparsity=8, random_state=2)
    got = expl.transform.to_binary(keep_value=keep_value).prune(1e-9)
    want = exact_fourier(masks_value_function, n).prune(1e-9)
    assert got.to_dict().keys() == want.to_dict().keys()
    np.testing.assert_allclose(list(got.to_dict().values()), list(want.to_dict().values()), atol=1e-9)
    # the same function seen through the q-ary convention: F_q(k) = F_bin(T) (keep = 1) or (-1)^|T| F_bin(T)
    masks = all_masks(n)[::97]
    np.testing.assert_allclose(
        expl.predict(masks.astype(int) if keep_value else (~masks).astype(int)), binary.predict(masks), atol=1e-9
    )


def test_seeds_reproduce():
    n, q = 30, 4
    truth = planted(n, q, 8, seed=21)

    def noisy(seed):
        noise = np.random.default_rng(seed)
        return lambda x: truth.predict(x) + 0.05 * noise.normal(size=len(x))

    a = explain_qary(noisy(0), n, q, random_state=7, noise_robust=True, sparsity=16)
    b = explain_qary(noisy(0), n, q, random_state=7, noise_robust=True, sparsity=16)
    c = explain_qary(noisy(0), n, q, random_state=8, noise_robust=True, sparsity=16)
    np.testing.assert_array_equal(a.transform.locations(), b.transform.locations())
    np.testing.assert_array_equal(a.transform.coefs, b.transform.coefs)
    assert not (len(a.transform) == len(c.transform) and np.array_equal(a.transform.coefs, c.transform.coefs))


def test_noise_robust_design_degrades_gracefully():
    n, q = 40, 3
    truth = planted(n, q, 10, seed=31)
    sd = np.sqrt(truth.variance())
    x = np.random.default_rng(2).integers(0, q, size=(2000, n))
    y = truth.predict(x)
    scores = []
    for level in (0.05, 0.3):
        noise = np.random.default_rng(4)
        expl = explain_qary(
            lambda z, level=level, noise=noise: truth.predict(z) + level * sd * noise.normal(size=len(z)),
            n,
            q,
            sparsity=len(truth),
            noise_robust=True,
            random_state=5,
        )
        assert expl.info["n_repeats"] == 3
        assert expl.info["noise_sd_estimate"] == pytest.approx(level * sd, rel=0.2)
        scores.append(1 - np.sum((y - expl.predict(x)) ** 2) / np.sum((y - y.mean()) ** 2))
    assert scores[0] > 0.999 and scores[1] > 0.95


def test_budget_planner_closed_form():
    n, q = 50, 3
    for budget in (3_000, 20_000, 200_000):
        plan = plan_qsft(n, q, budget)
        assert plan.n_queries <= budget
        assert plan.n_queries == plan.n_delays * (plan.n_groups * (q**plan.b - 1) + 1)
        bigger = query_count(n, q, plan.b + 1, 3, 1, plan.block) if plan.b < n else np.inf
        assert bigger > budget  # b is the largest that fits three groups
    robust = plan_qsft(n, q, 200_000, noise_robust=True)
    assert robust.n_repeats == 3 and robust.n_delays == 3 * robust.block
    truth = planted(n, q, 5, seed=41)
    expl = explain_qary(lambda x: truth.predict(x), n, q, budget=20_000, random_state=0)
    assert expl.n_queries <= 20_000
    assert_same_transform(expl.transform, truth)
    with pytest.raises(ValueError, match="too small"):
        plan_qsft(n, q, 40)  # one group of 3 bins needs 3 blocks of 17 coded delays


def test_explanation_outputs_and_json_round_trip():
    n, q = 20, 3
    truth = SparseQaryTransform(
        np.array([[1] + [0] * 19, [2] + [0] * 19, [0, 1, 1] + [0] * 17, [0, 2, 2] + [0] * 17]),
        [2.0, 2.0, 1 - 1j, 1 + 1j],
        n,
        q,
    )
    names = [f"w{i}" for i in range(n)]
    expl = explain_qary(lambda x: truth.predict(x), n, q, sparsity=8, random_state=0, feature_names=names)
    imp = expl.feature_importance()
    assert imp.shape == (n,) and imp[0] == pytest.approx(8 / 12) and imp[1] == imp[2] == pytest.approx(4 / 12)
    assert expl.feature_importance("main")[1] == pytest.approx(0.0, abs=1e-12)
    assert list(expl.pair_importance()) == [(1, 2)]
    top = expl.top(2)
    assert {t.features for t in top} == {(0,)} and top[0].names == ("w0",)
    back = QaryExplanation.from_json(expl.to_json())
    assert back.n_queries == expl.n_queries and back.feature_names == names and back.q == q
    x = np.random.default_rng(0).integers(0, q, size=(30, n))
    np.testing.assert_allclose(back.predict(x), expl.predict(x))
    assert json.loads(expl.to_json())["info"]["b"] == expl.info["b"]
    assert "q=3" in repr(expl)


def test_package_level_entry_point():
    assert interspect.explain_qary is explain_qary


def test_query_engine_dedups_and_counts():
    calls = []

    def f(x):
        calls.append(len(x))
        return x.sum(axis=1).astype(float)

    engine = QaryQueryEngine(f, 4, 5, batch_size=3)
    x = np.array([[0, 1, 2, 3], [4, 4, 4, 4], [0, 1, 2, 3], [1, 1, 1, 1]])
    np.testing.assert_array_equal(engine(x), [6, 16, 6, 4])
    assert engine.n_queries == 3 and calls == [3]
    np.testing.assert_array_equal(engine(np.vstack([x, [[2, 2, 2, 2]]])), [6, 16, 6, 4, 8])
    assert engine.n_queries == 4 and engine.n_evaluated == 4
    np.testing.assert_array_equal(engine.seen(np.array([[2, 2, 2, 2], [3, 3, 3, 3]])), [True, False])
    big = all_qary_inputs(5, 5)
    np.testing.assert_array_equal(
        QaryQueryEngine(lambda z: z @ (7 ** np.arange(5)), 5, 5, batch_size=1000)(big), big @ (7 ** np.arange(5))
    )


@pytest.mark.parametrize(("q", "n"), [(200, 16), (4, 32), (3, 13)])
def test_stored_answers_survive_a_model_that_writes_into_scratch_inputs(q, n):
    """With ``scratch=True`` the model may scribble over the rows; the store's keys must be its own."""

    def scribble(x):
        out = x.sum(axis=1).astype(float)
        x[:] = 0
        return out

    x = np.unique(np.random.default_rng(0).integers(0, q, size=(60, n)).astype(np.uint8), axis=0)
    original = x.copy()
    engine = QaryQueryEngine(scribble, n, q, batch_size=7)
    np.testing.assert_array_equal(engine(x, scratch=True), original.sum(axis=1))
    np.testing.assert_array_equal(engine(original.copy()), original.sum(axis=1))  # answered from the store
    assert engine.n_evaluated == len(original)


@pytest.mark.parametrize(
    ("value_function", "error", "match"),
    [
        (lambda x: np.full(len(x), np.nan), QueryError, "non-finite"),
        (lambda x: np.zeros(len(x) + 1), QueryError, "shape"),
        (lambda x: np.zeros((len(x), 2)), QueryError, "shape"),
        (lambda x: np.zeros(len(x), dtype=complex) + 1j, QueryError, "real numbers"),
        (lambda x: 1 / 0, QueryError, "ZeroDivisionError"),
    ],
)
def test_bad_value_functions_give_clear_errors(value_function, error, match):
    with pytest.raises(error, match=match):
        explain_qary(value_function, 5, 3, sparsity=4, random_state=0)


def test_bad_arguments_give_clear_errors():
    f = lambda x: np.zeros(len(x))  # noqa: E731
    with pytest.raises(ValueError, match="q must be an integer >= 2"):
        explain_qary(f, 5, 1)
    with pytest.raises(ValueError, match="required"):
        explain_qary(f, 5)
    with pytest.raises(ValueError, match="budget"):
        explain_qary(f, 5, 3, budget=0)
    with pytest.raises(ValueError, match="holdout"):
        explain_qary(f, 5, 3, holdout=-1)
    engine = QaryQueryEngine(f, 5, 3)
    with pytest.raises(ValueError, match="0..2"):
        engine(np.array([[0, 1, 2, 3, 0]]))
    with pytest.raises(ValueError, match="shape"):
        engine(np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match="does not match"):
        explain_qary(engine, q=4)
    with pytest.raises(TypeError, match="QaryQueryEngine"):
        fit_qsft(f)
    with pytest.raises(ValueError, match="max_order"):
        fit_qsft(engine, max_order=0)


def test_binary_method_adapter_matches_the_exact_binary_transform():
    from interspect.algorithms.qsft.binary import fit_qsft_binary
    from interspect.query.engine import QueryEngine

    n = 16
    rng = np.random.default_rng(9)
    binary = SparseTransform([(), (2,), (4, 9), (1, 5, 14), (7,), (0, 15)], rng.normal(size=6) * 2, n)
    engine = QueryEngine(binary.predict, n)
    fit = fit_qsft_binary(engine, budget=3_000, max_order=3, random_state=0)
    want = exact_fourier(binary.predict, n).prune(1e-9)
    got = fit.fourier.prune(1e-9)
    assert got.to_dict().keys() == want.to_dict().keys()
    np.testing.assert_allclose(list(got.to_dict().values()), list(want.to_dict().values()), atol=1e-9)
    assert engine.n_queries == fit.info["queries"] <= 3_000


@pytest.mark.parametrize(("q", "n", "robust"), [(3, 20, False), (5, 7, True), (4, 30, True), (200, 6, True)])
def test_design_queries_are_subsampled_lattices_plus_delays(q, n, robust):
    from interspect.algorithms.qsft.design import all_digits, design_queries, offsets, subsampling_matrices

    plan = plan_qsft(n, q, sparsity=30, noise_robust=robust)
    rng = np.random.default_rng(0)
    matrices, offs = subsampling_matrices(plan, rng), offsets(plan, rng)
    unit = np.vstack([np.zeros((1, n), dtype=np.int64), np.eye(n, dtype=np.int64)])
    delays = (offs[:, None, :] + unit[None]).reshape(-1, n)  # o_r, then o_r + e_i
    lattice = np.einsum("lb,cnb->cln", all_digits(plan.b, q), matrices)
    expected = (lattice[:, None, :, :] + delays[None, :, None, :]) % q
    rows, index = design_queries(matrices, offs, q)
    np.testing.assert_array_equal(rows[index], expected.transpose(0, 2, 1, 3))  # (C, q^b, P, n)
    assert len(rows) == query_count(n, q, plan.b, plan.n_groups, plan.n_repeats)  # each shared l = 0 row once


def _noisy_r2(n, q, sparsity, level, seed, delays="identity"):
    truth = planted(n, q, sparsity, seed=seed)
    sd = np.sqrt(truth.variance())
    noise = np.random.default_rng(seed + 1)
    expl = explain_qary(
        lambda z: truth.predict(z) + level * sd * noise.normal(size=len(z)),
        n, q, sparsity=sparsity, noise_robust=True, random_state=seed, batch_size=4096, delays=delays,
    )  # fmt: skip
    x = np.random.default_rng(2).integers(0, q, size=(4000, n))
    y = truth.predict(x)
    return 1 - np.sum((y - expl.predict(x)) ** 2) / np.sum((y - y.mean()) ** 2)


def test_chase_decoding_recovers_terms_that_phase_rounding_loses(monkeypatch):
    """At noise 0.5·sd(f), flipping the least reliable digits of failed bins recovers what rounding loses."""
    from interspect.algorithms.qsft.peeling import Peeler

    with_chase = _noisy_r2(100, 4, 40, 0.5, seed=1)
    monkeypatch.setattr(Peeler, "chase", lambda self, u, det: det)
    without = _noisy_r2(100, 4, 40, 0.5, seed=1)
    assert with_chase > 0.92 and with_chase > without + 0.03


@pytest.mark.parametrize("seed", range(6))
def test_exact_data_is_never_treated_as_noisy(seed):
    """Float cancellation in the residuals of exact data must not switch on the noisy-data rules."""
    from interspect.algorithms.qsft.bins import bin_transform
    from interspect.algorithms.qsft.design import design_queries, offsets, subsampling_matrices
    from interspect.algorithms.qsft.peeling import REL_TOL, Peeler

    q, n = (3, 4, 5)[seed % 3], 60
    truth = planted(n, q, 30, seed=seed)
    plan = plan_qsft(n, q, sparsity=30)
    rng = np.random.default_rng(seed)
    matrices, offs = subsampling_matrices(plan, rng), offsets(plan, rng)
    rows, index = design_queries(matrices, offs, q)
    peeler = Peeler(bin_transform(truth.predict(rows)[index], q, plan.b), matrices, offs, q)
    assert peeler.digit_bias == 0 and peeler.ratio == REL_TOL


@pytest.mark.parametrize(("q", "n", "b"), [(4, 2, 2), (6, 3, 2), (2, 3, 3), (3, 4, 3)])
def test_subsampling_matrices_are_injective(q, n, b):
    """Small n makes singular draws common (zero divisors of Z_4 and Z_6 included): every kept M is injective."""
    from interspect.algorithms.qsft.design import QsftPlan, all_digits, subsampling_matrices

    plan = QsftPlan(n, q, b, 40, 1, False)
    for m in subsampling_matrices(plan, np.random.default_rng(0)):
        images = (all_digits(b, q) @ m.T) % q
        assert len(np.unique(images, axis=0)) == q**b


def test_peeling_stops_when_noise_only_returns_known_frequencies():
    """At noise = sd(f) a peeled estimate is off enough for its bins to yield the same frequency again; peeling
    it over and over (up to ``max_iter``) would only chase noise, which the final refit corrects anyway."""
    truth = planted(100, 4, 20, seed=6)  # a case that used to peel 64 times
    sd = np.sqrt(truth.variance())
    noise = np.random.default_rng(6)
    expl = explain_qary(
        lambda z: truth.predict(z, real=True) + sd * noise.normal(size=len(z)),
        100, 4, sparsity=40, noise_robust=True, n_groups=3, n_repeats=3, random_state=6, batch_size=4096,
    )  # fmt: skip
    assert expl.info["peeling_iterations"] <= 5
    x = np.random.default_rng(2).integers(0, 4, size=(4000, 100))
    y = truth.predict(x, real=True)
    assert 1 - np.sum((y - expl.predict(x)) ** 2) / np.sum((y - y.mean()) ** 2) > 0.6


@pytest.mark.parametrize("robust", [True, False])
def test_functions_without_structure_give_empty_or_constant_transforms(robust):
    """All-zero data leaves no bin to peel; pure noise leaves none above its own threshold (both sides of the
    noisy/exact switch): the fit returns at most a constant, not a crash or a pile of noise terms."""
    zero = explain_qary(lambda z: np.zeros(len(z)), 30, 4, sparsity=20, noise_robust=robust, random_state=0)
    assert len(zero.transform) == 0 and zero.info["n_peeled"] == 0
    noise = np.random.default_rng(1)
    pure = explain_qary(
        lambda z: noise.normal(size=len(z)), 30, 4, sparsity=20, noise_robust=robust, random_state=0
    )  # fmt: skip
    assert pure.info["n_peeled"] <= 1 and len(pure.transform) <= 1
    assert np.all(pure.transform.degrees == 0)  # nothing but (perhaps) the constant term


@pytest.mark.parametrize("level", [0.0, 0.5])
def test_unexplained_energy_tracks_the_peeled_bins(level):
    """The bins' energy is kept up to date as peeling changes them: it equals a recount over all bins."""
    from interspect.algorithms.qsft.bins import bin_transform
    from interspect.algorithms.qsft.design import design_queries, offsets, subsampling_matrices
    from interspect.algorithms.qsft.peeling import Peeler

    q, n = 4, 40
    truth = planted(n, q, 30, seed=3)
    plan = plan_qsft(n, q, sparsity=30, noise_robust=level > 0)
    rng = np.random.default_rng(3)
    matrices, offs = subsampling_matrices(plan, rng), offsets(plan, rng)
    rows, index = design_queries(matrices, offs, q)
    y = truth.predict(rows, real=True) + level * np.sqrt(truth.variance()) * rng.normal(size=len(rows))
    peeler = Peeler(bin_transform(y[index], q, plan.b), matrices, offs, q)
    found, _, _ = peeler.run()
    assert len(found) > 0
    recount = np.sum(np.abs(peeler.u) ** 2) / np.sum(np.abs(peeler.u0) ** 2)
    assert peeler.residual_energy() == pytest.approx(recount, rel=1e-9, abs=1e-15)
    assert (peeler.residual_energy() < 1e-12) == (level == 0)


@pytest.mark.parametrize(("q", "b", "p"), [(3, 3, 7), (4, 2, 5), (2, 4, 3), (5, 2, 4)])
@pytest.mark.parametrize("work", [0, 1 << 40])  # forces the FFT, then the DFT-matrix product
def test_bin_transform_is_the_q_ary_dft_either_way(q, b, p, work, monkeypatch):
    from interspect.algorithms.qsft import bins
    from interspect.algorithms.qsft.design import all_digits

    monkeypatch.setattr(bins, "MATMUL_DFT_WORK", work)
    samples = np.random.default_rng(q * b).normal(size=(2, q**b, p))
    digits = all_digits(b, q)
    kernel = np.exp(-2j * np.pi * ((digits @ digits.T) % q) / q) / q**b  # [j, l]
    np.testing.assert_allclose(bins.bin_transform(samples, q, b), kernel @ samples, atol=1e-12)


@pytest.mark.parametrize(("q", "n"), [(3, 50), (16, 9), (17, 4)])
def test_out_of_range_uint8_inputs_are_refused_before_the_model_runs(q, n):
    """uint8 inputs are range-checked block by block as they are packed: a bad digit in the last block of a large
    call still stops it before any model call."""
    calls = []
    engine = QaryQueryEngine(lambda z: calls.append(len(z)) or np.zeros(len(z)), n, q)
    x = np.random.default_rng(0).integers(0, q, size=(30_000, n)).astype(np.uint8)
    x[-1, -1] = q
    with pytest.raises(ValueError, match=f"0..{q - 1}"):
        engine(x)
    with pytest.raises(ValueError, match=f"0..{q - 1}"):
        engine.seen(x)
    assert not calls and engine.n_queries == 0


def test_a_budget_the_design_cannot_support_is_refused_with_the_minimum():
    # 1,788 terms in 4^4 = 256 bins per group: peeling collapses (R² ~0.6 before), so the fit is refused
    n, q = 20, 4
    truth = planted(n, q, 1500, seed=1)
    engine = QaryQueryEngine(lambda x: truth.predict(x, real=True), n, q)
    needed = query_count(n, q, 5, 4, 1, plan_qsft(n, q, 24_000).block)
    with pytest.raises(ValueError, match=rf"too small for this function.*at least {needed:,} queries \(b = 5\)"):
        fit_qsft(engine, budget=24_000, random_state=0)
    fine = fit_qsft(QaryQueryEngine(lambda x: truth.predict(x, real=True), n, q), budget=150_000, random_state=0)
    assert fine.info["unexplained_above_noise"] < 1e-6
