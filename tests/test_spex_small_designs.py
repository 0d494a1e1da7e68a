"""SPEX at the smallest designs (2^b = 8 or 16 bins per group): exact recovery of planted hierarchical and flat
(pure interaction) functions, the cause of the old failure (singleton-only peeling), and noise."""

import itertools

import numpy as np
import pytest

from interspect.algorithms.spex import bch_code, fit_spex, plan_spex, spex_query_count
from interspect.algorithms.spex.design import Design
from interspect.algorithms.spex.peeling import peel
from interspect.query.engine import QueryEngine
from interspect.transforms.sparse import SparseTransform

MAX_DEGREE = 5


def planted(n: int, k: int, hierarchical: bool, seed: int) -> SparseTransform:
    """``k`` terms of degree 1..5 with coefficients ±U(0.5, 1.5) plus a mean; hierarchical ones are closed under
    taking subsets (every subset of an interaction is a term too), flat ones are independent supports."""
    rng = np.random.default_rng(seed)
    terms: dict[tuple[int, ...], float] = {(): 1.0}
    while len(terms) < k + 1:
        top = tuple(sorted(rng.choice(n, int(rng.integers(1, MAX_DEGREE + 1)), replace=False).tolist()))
        family = [s for d in range(1, len(top) + 1) for s in itertools.combinations(top, d)] if hierarchical else [top]
        for s in family[: k + 1 - len(terms)]:
            terms.setdefault(s, float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)))
    return SparseTransform.from_dict(terms, n)


def assert_exact(truth: SparseTransform, fit: SparseTransform, tol: float = 1e-8) -> None:
    got, want = fit.prune(tol=tol).to_dict(), truth.to_dict()
    assert set(got) == set(want)
    assert np.allclose([got[s] for s in want], list(want.values()), atol=tol)


@pytest.mark.parametrize("hierarchical", [True, False], ids=["hierarchical", "flat"])
@pytest.mark.parametrize("n", [64, 256, 1024])
@pytest.mark.parametrize(("k", "b"), [(20, 3), (20, 4), (50, 4)])
def test_exact_recovery_at_small_designs(n, k, b, hierarchical):
    truth = planted(n, k, hierarchical, seed=n + k)
    engine = QueryEngine(truth.predict, n)
    result = fit_spex(engine, budget=spex_query_count(n, b, MAX_DEGREE), max_order=MAX_DEGREE, random_state=0)
    assert result.info["b"] == b
    assert_exact(truth, result.fourier)
    assert engine.n_queries <= spex_query_count(n, b, MAX_DEGREE)
    # noise-free data: the noise floor falls to zero once the residual is empty, and nothing is left unresolved
    assert result.info["noise_bin_var"] < 1e-12 and result.info["unresolved_bins"] == 0
    assert "message" not in result.info


def test_exact_recovery_with_many_terms():
    n, k, b = 1024, 100, 5
    truth = planted(n, k, False, seed=3)
    result = fit_spex(QueryEngine(truth.predict, n), b=b, max_order=MAX_DEGREE, random_state=0)
    assert_exact(truth, result.fourier)


@pytest.mark.parametrize("hierarchical", [True, False], ids=["hierarchical", "flat"])
def test_dominant_terms_of_multitons_are_what_small_designs_need(hierarchical):
    """At b = 3 with 20 terms almost every bin is a multiton: accepting only clean singletons (share = 1) stalls
    with terms missing, decoding each bin's dominant term and refitting jointly recovers everything."""
    n, b = 256, 3
    truth = planted(n, 20, hierarchical, seed=11)
    design = Design.random(bch_code(n, MAX_DEGREE), b, 3, np.random.default_rng(0))
    bins = design.query_bins(QueryEngine(truth.predict, n))
    strict = peel(design, bins, max_degree=MAX_DEGREE, chase_depth=6, share=1.0)
    dominant = peel(design, bins, max_degree=MAX_DEGREE, chase_depth=6)
    want = {tuple(s) for s in truth.supports()}
    found = {tuple(int(i) for i in row if i >= 0) for row in dominant.idx}
    assert want <= found
    assert len(want & {tuple(int(i) for i in row if i >= 0) for row in strict.idx}) <= len(want) // 2
    assert dominant.unresolved_energy < 1e-9 < strict.unresolved_energy


@pytest.mark.parametrize(("n", "b"), [(256, 4), (1024, 4)])
def test_noise_at_small_designs(n, b):
    truth = planted(n, 20, False, seed=n)
    sd = np.sqrt(0.1 * truth.energy())  # noise variance = 10 % of the signal variance
    rng = np.random.default_rng(1)

    def noisy(x):
        return truth.predict(x) + sd * rng.normal(size=len(x))

    result = fit_spex(QueryEngine(noisy, n), b=b, max_order=MAX_DEGREE, random_state=0)
    r2 = 1.0 - (result.fourier - truth).energy(include_empty=True) / truth.energy()
    assert r2 > 0.99
    # the noise floor read off the residual bins is that of one bin entry, sd^2 / 2^b
    design = Design.random(bch_code(n, MAX_DEGREE), b, 3, np.random.default_rng(0))
    peeled = peel(design, design.query_bins(QueryEngine(noisy, n)), max_degree=MAX_DEGREE, chase_depth=6)
    assert abs(peeled.noise / (sd**2 / (1 << b)) - 1.0) < 0.3


def test_budget_between_designs_buys_more_bins_in_two_groups():
    n = 1024
    plan = plan_spex(n, budget=1000, max_order=MAX_DEGREE, n_groups=None)
    # 2 groups of 8 bins ask 840 distinct masks (56 delays x 15 points), two 1-bit groups 56 more each
    assert (plan.n_groups, plan.b, plan.small_bits, plan.n_queries) == (2, 3, (1, 1), 952)
    assert plan_spex(n, budget=1000, max_order=MAX_DEGREE).b == 2  # three groups: only 4 bins each
    assert plan_spex(n, budget=1344, max_order=MAX_DEGREE, n_groups=None).n_groups == 3  # ties: more groups
    assert plan_spex(n, budget=2000, max_order=MAX_DEGREE, n_groups=None).b == 4
    truth = planted(n, 20, False, seed=5)
    engine = QueryEngine(truth.predict, n)
    result = fit_spex(engine, budget=1000, max_order=MAX_DEGREE, n_groups=None, random_state=0)
    assert result.info["n_groups"] == 2 and engine.n_queries <= 1000
    assert_exact(truth, result.fourier)
    three = fit_spex(QueryEngine(truth.predict, n), budget=1000, max_order=MAX_DEGREE, random_state=0)
    assert (three.fourier - truth).energy(include_empty=True) > 0.5 * truth.energy()


def test_the_refit_admits_few_false_singletons_under_noise():
    # the refit tests all n singletons, not only the decoded ones: at the per-term z = 3 about 0.7 of 256
    # false ones pass per fit, at the universal sqrt(2 ln n) about 0.2 (on these six fits: 6 at z = 3, 3 now)
    n, false_singletons, r2s = 256, 0, []
    for seed in range(6):
        truth = planted(n, 20, False, seed=100 + seed)
        sd = np.sqrt(0.1 * truth.energy())
        rng = np.random.default_rng(seed)

        def noisy(x, truth=truth, sd=sd, rng=rng):
            return truth.predict(x) + sd * rng.normal(size=len(x))

        fit = fit_spex(QueryEngine(noisy, n), b=4, max_order=MAX_DEGREE, random_state=0).fourier
        true_terms = set(truth.to_dict())
        false_singletons += sum(len(s) == 1 and s not in true_terms for s in fit.to_dict())
        r2s.append(1.0 - (fit - truth).energy(include_empty=True) / truth.energy())
    assert min(r2s) > 0.99
    assert false_singletons <= 3, false_singletons
