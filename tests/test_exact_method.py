"""method="exact": all 2^n masks through the engine, checked against the Fourier transform by definition."""

import numpy as np
import pytest

import interspect as isp
from interspect import QueryEngine, SparseTransform
from interspect.algorithms.exact import fit_exact
from interspect.contracts import Faithfulness
from interspect.evaluation.faithfulness import r2_dense
from interspect.indices import shapley_values
from interspect.transforms.exact import all_masks


class TableFunction:
    """A random set function given by its value on every mask (bitmask order); counts model calls."""

    def __init__(self, n: int, seed: int = 0):
        self.n = n
        self.table = np.random.default_rng(seed).normal(size=1 << n)
        self.calls = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.table[masks.astype(np.int64) @ (1 << np.arange(self.n))]


def brute_force_fourier(values: np.ndarray, n: int) -> np.ndarray:
    """``F(T) = 2^-n sum_S (-1)^{|T & S|} f(S)`` from the full sign matrix (no fast transform)."""
    a = all_masks(n).astype(np.int64)
    signs = 1.0 - 2.0 * ((a @ a.T) % 2)
    return signs @ values / (1 << n)


def test_exact_equals_brute_force_fourier_through_the_engine():
    n = 6
    f = TableFunction(n)
    engine = QueryEngine(f, n, batch_size=1 << n)
    result = fit_exact(engine, budget=None, max_order=None, random_state=None)
    assert engine.n_queries == 1 << n and f.calls == 1  # one batched model call
    truth = brute_force_fourier(f.table, n)
    masks = all_masks(n)
    got = {tuple(np.flatnonzero(m)): truth[s] for s, m in enumerate(masks)}
    assert result.fourier.to_dict() == pytest.approx(got, abs=1e-12)
    np.testing.assert_allclose(result.fourier.predict(masks), f.table, atol=1e-12)
    assert result.faithfulness == Faithfulness(1.0, "exact", 1 << n) and result.method == "exact"
    assert result.info["dropped_terms"] == 0 and result.info["dropped_energy_share"] == 0.0


def test_pruning_reports_the_exact_r2_of_what_is_kept():
    n = 7
    f = TableFunction(n, seed=3)
    truth = brute_force_fourier(f.table, n)
    result = fit_exact(QueryEngine(f, n), budget=1 << n, max_order=2, random_state=0)
    assert result.fourier.max_degree == 2
    assert len(result.fourier) == 1 + 7 + 21
    assert result.faithfulness.r2 == pytest.approx(r2_dense(f.table, result.fourier), abs=1e-12)
    assert result.faithfulness.r2 < 0.5  # a random function carries most energy above degree 2
    # it says what truncation dropped: every term above degree 2, and that share of the energy
    assert result.info["dropped_terms"] == (1 << n) - len(result.fourier)
    assert result.info["dropped_energy_share"] == pytest.approx(1 - result.faithfulness.r2, abs=1e-12)
    assert result.fourier.get((2, 5)) == pytest.approx(truth[(1 << 2) | (1 << 5)])

    tol = float(np.quantile(np.abs(truth), 0.75))
    pruned = fit_exact(QueryEngine(f, n), budget=None, max_order=None, random_state=0, tol=tol)
    kept = np.abs(truth) > tol
    kept[0] = True
    assert len(pruned.fourier) == kept.sum() and pruned.fourier.get(()) == pytest.approx(truth[0])
    assert pruned.faithfulness.r2 == pytest.approx(r2_dense(f.table, pruned.fourier), abs=1e-12)


def test_planted_sparse_function_is_recovered_through_explain():
    n = 10
    planted = SparseTransform.from_dict({(): 0.5, (3,): 1.0, (1, 7): -2.0, (0, 4, 9): 0.75}, n)
    expl = isp.explain(planted.predict, n_features=n, method="exact", random_state=0)
    assert expl.n_queries == 1 << n
    assert expl.faithfulness.r2 == pytest.approx(1.0) and expl.faithfulness.kind == "exact"
    assert expl.faithfulness.n_masks == 1 << n
    got = expl.fourier.prune(tol=1e-9).to_dict()
    assert got == pytest.approx(planted.to_dict(), abs=1e-12)
    np.testing.assert_allclose(expl.shapley_values(), shapley_values(planted), atol=1e-12)


def test_no_silent_truncation_every_order_is_kept_by_default():
    n = 8
    f = TableFunction(n, seed=4)  # a random function: energy at every degree
    result = fit_exact(QueryEngine(f, n), budget=None, max_order=None, random_state=0)
    assert len(result.fourier) == 1 << n and result.fourier.max_degree == n
    assert result.faithfulness.r2 == pytest.approx(1.0, abs=1e-12) and result.info["dropped_terms"] == 0


def test_clear_errors_on_bad_input():
    with pytest.raises(ValueError, match="n <= 22"):
        fit_exact(QueryEngine(lambda m: np.zeros(len(m)), 23), budget=None, max_order=None, random_state=None)
    f = TableFunction(5)
    with pytest.raises(ValueError, match="needs all 2\\^5 = 32 masks"):
        fit_exact(QueryEngine(f, 5), budget=31, max_order=None, random_state=None)
    with pytest.raises(ValueError, match="tol"):
        fit_exact(QueryEngine(f, 5), budget=None, max_order=None, random_state=None, tol=-1.0)
    with pytest.raises(ValueError, match="max_order"):
        fit_exact(QueryEngine(f, 5), budget=None, max_order=-1, random_state=None)
    assert f.calls == 0  # nothing was queried before the input was validated
