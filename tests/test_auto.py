"""The ``auto`` method: exact for tiny n, ProxySPEX at small budgets, SPEX hand-over on pure interactions."""

import numpy as np
import pytest
from planted import exact_r2

import interspect as isp
from interspect.algorithms.auto import choose_method, fit_auto
from interspect.algorithms.proxyspex import fit_proxyspex
from interspect.algorithms.spex.planner import spex_query_count
from interspect.query.engine import QueryEngine
from interspect.transforms.sparse import SparseTransform


def test_choice_rule():
    assert choose_method(8, 256, 4) == "exact"
    assert choose_method(64, 384, 4) == "proxyspex"  # n log2 n: no SPEX design fits after a pilot
    big = int(spex_query_count(64, 4, 4) / 0.7) + 1
    assert choose_method(64, big, 4) == "pilot"


def test_tiny_n_is_exact():
    truth = SparseTransform.from_dict({(): 1.0, (0, 2): 0.5, (1,): -2.0}, 5)
    engine = QueryEngine(truth.predict, 5)
    result = fit_auto(engine, budget=100, max_order=3, random_state=0)
    assert result.info["auto"]["choice"] == "exact" and engine.n_queries == 32
    assert exact_r2(truth, result.fourier) > 1 - 1e-12


def test_hierarchical_function_stays_with_proxyspex():
    n = 40
    truth = SparseTransform.from_dict(
        {(): 0.3, (1,): 1.0, (2,): -0.7, (1, 2): 0.5, (5,): 0.4, (5, 9): -0.6, (9,): 0.3, (1, 2, 5): 0.4}, n
    )
    budget = int(spex_query_count(n, 3, 3) / 0.7) + 50
    engine = QueryEngine(truth.predict, n)
    result = fit_auto(engine, budget=budget, max_order=3, random_state=1)
    assert result.info["auto"]["choice"] == "proxyspex"
    assert engine.n_queries <= budget
    assert exact_r2(truth, result.fourier) > 1 - 1e-9


def test_pure_interactions_are_handed_to_spex():
    n = 64
    terms = {(0, 1, 2): 1.0, (5, 6, 40, 41): -1.0, (10, 20, 30): 0.7, (3, 33, 50): 0.5, (7, 8, 9, 11): 0.8}
    terms[(12, 13, 14)] = -0.6
    truth = SparseTransform.from_dict(terms, n)
    budget = 2 * spex_query_count(n, 4, 4)
    engine = QueryEngine(truth.predict, n)
    result = fit_auto(engine, budget=budget, max_order=4, random_state=0)
    assert result.info["auto"]["choice"] == "spex"
    assert engine.n_queries <= budget
    assert exact_r2(truth, result.fourier) > 0.99
    # the pilot masks, never seen by SPEX, measure it
    assert result.faithfulness.kind == "heldout" and result.faithfulness.n_masks == result.info["auto"]["pilot_queries"]
    assert result.faithfulness.r2 == result.info["auto"]["spex_r2_on_pilot"] > 0.99


def test_a_pure_interaction_beside_a_hierarchy_goes_to_spex():
    # the trees explain the hierarchical part but not (10, 20, 30): a pilot below 0.9 tries SPEX, which is exact
    n = 64
    terms = {(): 0.5, (1,): 1.0, (2,): -0.8, (1, 2): 0.6, (10, 20, 30): 1.0}
    truth = SparseTransform.from_dict(terms, n)
    budget = int(spex_query_count(n, 4, 4) / 0.7) + 10
    engine = QueryEngine(truth.predict, n)
    result = fit_auto(engine, budget=budget, max_order=4, random_state=0)
    assert result.info["auto"]["pilot_r2"] < 0.9 and result.info["auto"]["choice"] == "spex"
    assert exact_r2(truth, result.fourier) > 1 - 1e-9


def test_dense_function_gets_the_hybrid_fitted_on_every_query(squashed_sum):
    # SPEX's coarse bins (b = 3) cannot resolve a squashed sum, so ProxySPEX is refit on all queries, SPEX's
    # design included (at b = 4 SPEX and the pilot tie on it, so which wins depends on the seed)
    n, f = 30, squashed_sum
    budget = int(spex_query_count(n, 4, 4) / 0.7) + 10
    engine = QueryEngine(f, n)
    result = fit_auto(engine, budget=budget, max_order=4, random_state=0, b=3)
    decision = result.info["auto"]
    assert decision["choice"] == "hybrid" and decision["spex_r2_on_pilot"] < decision["pilot_r2"]
    assert decision["hybrid_queries"] == engine.n_queries == budget
    test = np.random.default_rng(9).random((4000, n)) < 0.5
    y = f(test)

    def r2(fourier):
        return 1 - ((fourier.predict(test) - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()

    # far better than SPEX's fit, and close to ProxySPEX on as many uniform masks (SPEX's structured design
    # masks inform a regression a little less than uniform ones)
    alone = fit_proxyspex(QueryEngine(f, n), budget=budget, max_order=4, random_state=0).fourier
    assert r2(result.fourier) > decision["spex_r2_on_pilot"] + 0.1
    assert r2(result.fourier) >= r2(alone) - 0.02 and r2(alone) > 0.8


def test_explain_auto_and_bad_input():
    n = 30
    truth = SparseTransform.from_dict({(): 1.0, (3,): 1.0, (4,): 0.5, (3, 4): 0.5}, n)
    expl = isp.explain(truth.predict, n_features=n, method="auto", budget=200, max_order=2, random_state=0)
    assert expl.info["auto"]["choice"] == "proxyspex" and expl.faithfulness.r2 > 0.999
    with pytest.raises(ValueError, match="pilot_fraction"):
        fit_auto(QueryEngine(truth.predict, n), budget=200, max_order=2, pilot_fraction=1.5)


def test_auto_routes_each_option_to_the_method_that_takes_it():
    n = 30
    truth = SparseTransform.from_dict({(): 1.0, (3,): 1.0, (4,): 0.5, (3, 4): 0.5}, n)
    engine = QueryEngine(truth.predict, n)
    paired = fit_auto(engine, budget=200, max_order=2, random_state=0, paired=True, noise_z=2.0)  # ProxySPEX's, SPEX's
    masks = engine.answered()[0]
    np.testing.assert_array_equal(masks[0::2], ~masks[1::2])  # ProxySPEX got paired=True
    assert paired.info["auto"]["choice"] == "proxyspex"
    small = SparseTransform.from_dict({(): 1.0, (0,): 1.0, (1, 2): 0.5}, 4)
    tiny = fit_auto(QueryEngine(small.predict, 4), budget=100, random_state=0, tol=0.6)  # the exact method's
    assert tiny.info["auto"]["choice"] == "exact" and tiny.info["tol"] == 0.6
    with pytest.raises(ValueError, match=r"no option 'pairde'.*did you mean 'paired'"):
        fit_auto(QueryEngine(truth.predict, n), budget=200, pairde=True)


def test_handover_when_the_pilot_is_below_the_threshold():
    # 24 terms with no hierarchy; a pilot below min_pilot_r2 hands over to SPEX, and whichever of SPEX or the
    # hybrid refit wins on the pilot's masks must beat both the mean and SPEX's own held-out score by margin
    n, rng = 64, np.random.default_rng(64)
    terms = {(): 1.0}
    while len(terms) < 25:
        terms[tuple(sorted(rng.choice(n, int(rng.integers(1, 5)), replace=False).tolist()))] = float(rng.normal())
    truth = SparseTransform.from_dict(terms, n)
    budget = int(spex_query_count(n, 4, 4) / 0.7) + 10
    engine = QueryEngine(truth.predict, n)
    result = fit_auto(engine, budget=budget, max_order=4, random_state=0, min_pilot_r2=0.99)
    assert result.info["auto"]["choice"] in ("hybrid", "spex")
    assert engine.n_queries <= budget
    assert exact_r2(truth, result.fourier) > max(0.2, result.info["auto"]["spex_r2_on_pilot"] - 0.1)
