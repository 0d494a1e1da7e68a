"""The additive candidate rule of ``auto``: interactions are kept only where they raise the validated R².

A purely additive function (with or without noise) gets an explanation without any interaction term, at a
small budget (cross-validated stack) and at a large one (validated pipeline); a function with an AND of two
features gets that interaction, with the coefficient the planted function implies; pure interactions (no
hierarchy) go to SPEX's design whenever a pilot and that design fit the budget.
"""

from __future__ import annotations

import numpy as np
import pytest

from interspect.algorithms.auto import choose_method, fit_auto
from interspect.algorithms.spex.planner import spex_query_count
from interspect.query.engine import QueryEngine
from interspect.transforms.sparse import SparseTransform

N = 16


def additive(noise: float):
    weights = np.random.default_rng(3).normal(size=N)
    noise_rng = np.random.default_rng(4)
    return lambda masks: masks.astype(float) @ weights + noise * noise_rng.normal(size=len(masks))


def with_and(masks: np.ndarray) -> np.ndarray:
    """``3 · [0 and 1 kept]`` plus small additive effects: the pair's Fourier coefficient is ``3/4``."""
    return 3.0 * (masks[:, 0] & masks[:, 1]) + 0.1 * masks.astype(float) @ np.linspace(-1, 1, N)


@pytest.mark.parametrize("budget", [160, 1100])
@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_additive_function_gets_an_additive_explanation(budget: int, noise: float) -> None:
    fit = fit_auto(QueryEngine(additive(noise), N), budget=budget, random_state=0)
    fourier = fit.fourier
    assert fourier.max_degree <= 1, fourier.supports()[:10]
    weights = np.random.default_rng(3).normal(size=N)
    singles = np.array([fourier.get((i,)) for i in range(N)])
    assert np.allclose(singles, -weights / 2, atol=0.05 + noise)  # f = sum w_i x_i: F({i}) = -w_i / 2


@pytest.mark.parametrize("budget", [160, 1100])
def test_and_function_gets_its_interaction(budget: int) -> None:
    fourier = fit_auto(QueryEngine(with_and, N), budget=budget, random_state=0).fourier
    assert fourier.get((0, 1)) == pytest.approx(0.75, abs=0.05)
    strongest = max((s for s in fourier.supports() if len(s) >= 2), key=lambda s: abs(fourier.get(s)))
    assert strongest == (0, 1)


def test_pure_interactions_go_to_spex_when_a_smaller_pilot_leaves_room_for_its_design() -> None:
    # between 1/0.85 and 1/0.7 times SPEX's smallest design: the 30 % pilot would not leave room for it
    n = 64
    budget = int(spex_query_count(n, 4, 4) / 0.8)
    assert choose_method(n, budget, 4, pilot_fraction=0.3) == "pilot"
    rng = np.random.default_rng(0)
    terms = {(): 1.0} | {tuple(sorted(rng.choice(n, 2 + i % 3, replace=False).tolist())): 1.0 for i in range(12)}
    truth = SparseTransform.from_dict(terms, n)  # pairs and triples without their subsets: no hierarchy
    engine = QueryEngine(truth.predict, n)
    fit = fit_auto(engine, budget=budget, max_order=4, random_state=0)
    assert engine.n_queries <= budget
    assert fit.info["auto"]["choice"] == "spex"
    assert 1.0 - (fit.fourier - truth).energy(include_empty=True) / truth.energy() > 0.99


def test_sparse_additive_function_below_one_and_a_half_rows_per_feature_gets_the_lasso() -> None:
    # 60 features, 8 of them matter, 89 queries: the singleton lasso is in the stack and the fit is additive
    n, budget = 60, 89
    rng = np.random.default_rng(5)
    weights = np.zeros(n)
    weights[rng.choice(n, 8, replace=False)] = rng.normal(scale=2.0, size=8)
    noise_rng = np.random.default_rng(6)
    fn = lambda masks: masks.astype(float) @ weights + 0.05 * noise_rng.normal(size=len(masks))  # noqa: E731
    res = fit_auto(QueryEngine(fn, n), budget=budget, random_state=0)
    fourier = res.fourier
    assert fourier.degrees.max() <= 1
    stack = res.info["blend_weights"]
    assert "lasso" in stack and stack["lasso"] > 0
    masks = np.random.default_rng(7).random((2000, n)) < 0.5
    truth = masks.astype(float) @ weights
    pred = fourier.predict(masks)
    assert 1 - ((truth - pred) ** 2).sum() / ((truth - truth.mean()) ** 2).sum() > 0.9
