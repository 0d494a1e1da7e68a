"""One pipeline for every method and input kind: accounting, faithfulness, options, results, interop."""

import io
import warnings

import numpy as np
import pytest

import interspect as isp
from interspect.transforms.qary import SparseQaryTransform
from interspect.transforms.sparse import SparseTransform

PLANTED = SparseTransform.from_dict({(): 0.5, (0,): 1.0, (3,): -0.7, (1, 2): 0.8, (4, 5): -0.4}, 10)


class Counting:
    """A value function that counts the masks it is asked about."""

    def __init__(self, transform, n_features=None):
        self.transform, self.calls = transform, 0
        self.n_features = n_features or transform.n_features

    def __call__(self, masks):
        self.calls += len(masks)
        return self.transform.predict(masks)


@pytest.mark.parametrize(
    ("method", "budget"), [("lasso", 300), ("faith_banzhaf", 300), ("kernelshap", 300), ("proxyspex", 300)]
)
def test_budget_covers_fit_and_heldout_queries(method, budget):
    f = Counting(PLANTED)
    expl = isp.explain(f, method=method, budget=budget, max_order=2, random_state=0, holdout=40)
    assert f.calls == expl.n_queries == expl.n_fit_queries + expl.n_heldout_queries
    assert expl.n_queries <= budget and expl.n_heldout_queries == 40
    assert expl.faithfulness.kind == "heldout" and expl.faithfulness.n_masks == 40
    assert expl.faithfulness.r2 is not None


@pytest.mark.parametrize(("method", "options"), [("kernelshap", {"budget": 400}), ("spex", {}), ("lasso", {})])
def test_every_method_reports_faithfulness_by_default(method, options):
    n = 40
    planted = SparseTransform.from_dict({(): 1.0, (3,): 2.0, (7,): -1.0, (3, 7): 1.5, (10, 11, 12): 0.5}, n)
    expl = isp.explain(Counting(planted), method=method, random_state=1, **options)
    assert expl.faithfulness.kind in ("heldout", "cross-validated", "exact")
    assert expl.faithfulness.r2 is not None and expl.faithfulness.n_masks > 0


def test_budget_covering_every_mask_gives_exact_faithfulness_even_with_holdout():
    planted = SparseTransform.from_dict({(): 0.5, (0,): 1.0, (3,): -0.7, (1, 2): 0.8, (4, 5): -0.4}, 8)
    expl = isp.explain(Counting(planted), method="proxyspex", budget=1 << 8, holdout=100, random_state=0)
    # held-out masks are bought only among masks the fit left: with 256 of them, every mask is answered
    assert expl.n_queries == 256 and expl.faithfulness.kind == "exact"
    small = Counting(SparseTransform.from_dict({(0,): 1.0, (1, 2): 2.0}, 5))
    expl = isp.explain(small, method="proxyspex", budget=64, random_state=0)
    assert expl.faithfulness.kind == "exact" and expl.faithfulness.n_masks == 32
    assert expl.faithfulness.r2 == pytest.approx(1.0)


def test_exact_keeps_every_order_and_truncation_is_reported():
    planted = SparseTransform.from_dict({(0,): 1.0, (0, 1, 2, 3, 4, 5): 2.0, (6, 7): -1.0}, 8)
    full = isp.explain(Counting(planted), method="exact")
    assert full.faithfulness.kind == "exact" and full.faithfulness.r2 == pytest.approx(1.0)
    assert full.fourier.max_degree == 6
    with pytest.warns(UserWarning):
        cut = isp.explain(Counting(planted), method="exact", max_order=4)
    assert cut.fourier.max_degree <= 4 and cut.faithfulness.r2 < 0.9
    assert cut.info["dropped_terms"] > 0


def test_unknown_and_misrouted_options_raise_with_the_valid_names():
    with pytest.raises(ValueError, match="paired") as err:
        isp.explain(Counting(PLANTED), method="lasso", budget=100, paired=True)
    assert "its options are" in str(err.value)
    with pytest.raises(ValueError, match="did you mean"):
        isp.explain(Counting(PLANTED), method="proxyspex", budget=100, pairedd=True)
    # auto takes the options of the methods it hands over to
    expl = isp.explain(Counting(PLANTED), method="auto", budget=200, random_state=0, paired=True)
    assert expl.n_queries <= 200


def test_qary_inputs_go_through_the_same_pipeline():
    n, q = 12, 3
    truth = SparseQaryTransform.from_dict({(): 1.0, ((0, 1),): 0.5 + 0.25j, ((0, 2),): 0.5 - 0.25j}, n, q)

    def f(x):
        return truth.predict(x, real=True)

    expl = isp.explain(f, n, q=q, random_state=0, holdout=50)
    assert isinstance(expl, isp.QaryExplanation) and expl.is_qary and expl.q == q
    assert expl.n_queries == expl.n_fit_queries + expl.n_heldout_queries
    assert expl.faithfulness.kind == "heldout" and expl.faithfulness.r2 == pytest.approx(1.0)
    alias = isp.explain_qary(f, n, q, random_state=0, holdout=50)
    assert alias.transform.to_records() == expl.transform.to_records()
    back = isp.load(expl.to_json())
    assert isinstance(back, isp.QaryExplanation) and back.n_queries == expl.n_queries
    with pytest.raises(ValueError, match="q-ary inputs"):
        isp.explain(f, n, q=q, method="lasso")


def test_one_json_envelope_read_from_a_string_a_path_or_a_file(tmp_path):
    expl = isp.explain(Counting(PLANTED), method="lasso", budget=200, random_state=0)
    text = expl.to_json()
    data = __import__("json").loads(text)
    assert data["format"] == "interspect.explanation" and data["kind"] == "binary"
    assert len(data["shapley"]) == 10 and data["top"][0]["features"]
    assert data["n_queries"] == data["n_fit_queries"] + data["n_heldout_queries"]
    path = tmp_path / "e.json"
    path.write_text(text)
    for source in (text, path, str(path), io.StringIO(text)):
        back = isp.Explanation.from_json(source)
        np.testing.assert_allclose(back.shapley_values(), expl.shapley_values())
    with pytest.raises(ValueError, match="null"):
        bad = dict(data, fourier={"supports": [[0]], "coefs": [None]})
        isp.Explanation.from_dict(bad)


def test_shapiq_interop_matches_shapiq_exact_computer():
    shapiq = pytest.importorskip("shapiq")
    n = 6
    planted = SparseTransform.from_dict({(): 0.2, (0,): 1.0, (1, 2): 0.8, (2, 3, 4): -0.6, (5,): 0.3}, n)
    expl = isp.explain(Counting(planted), method="exact")
    ours = expl.to_shapiq("k-sii", 2)
    assert isinstance(ours, shapiq.InteractionValues) and ours.index == "k-SII"

    def game(coalitions):
        return planted.predict(np.asarray(coalitions, dtype=bool))

    exact = shapiq.ExactComputer(game, n_players=n)
    reference = exact("k-SII", order=2)
    for s, pos in reference.interaction_lookup.items():
        if len(s) >= 1:
            assert ours[s] == pytest.approx(reference.values[pos], abs=1e-9)
    back = isp.Explanation.from_shapiq(exact("Moebius", order=n))
    masks = np.random.default_rng(0).random((50, n)) < 0.5
    np.testing.assert_allclose(back.predict(masks), planted.predict(masks), atol=1e-9)
    with pytest.raises(ValueError, match="Moebius"):
        isp.Explanation.from_shapiq(reference)


def test_growing_budget_stops_early_on_an_easy_function():
    n = 300
    easy = SparseTransform.from_dict({(): 1.0, (5,): 2.0, (9,): -1.0, (5, 9): 1.0}, n)
    f = Counting(easy)
    expl = isp.explain(f, method="auto", random_state=0)
    growth = expl.info["budget_growth"]
    assert f.calls == expl.n_queries < growth["cap"]
    assert "target_r2" in growth["stopped"] and expl.faithfulness.r2 >= 0.9


def test_untrustworthy_results_are_flagged_and_warned():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(60, 60))

    def rough(masks):
        x = masks.astype(float)
        return np.sin(3 * np.einsum("mi,ij,mj->m", x, weights, x))

    with pytest.warns(UserWarning, match="budget"):
        expl = isp.explain(rough, 60, method="lasso", budget=100, random_state=0)
    assert not expl.reliable and expl.warnings
    assert expl.to_dict()["reliable"] is False


def test_intervals_cover_the_truth_and_noise_only_terms_cross_zero():
    n = 12
    planted = SparseTransform.from_dict({(): 0.0, (0,): 1.0, (1, 2): 0.6}, n)
    rng = np.random.default_rng(0)

    def noisy(masks):
        return planted.predict(masks) + 0.1 * rng.standard_normal(len(masks))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expl = isp.explain(noisy, n, method="faith_banzhaf", budget=800, max_order=2, random_state=0)
    top = {t.features: t for t in expl.top(100, index="fourier")}
    assert top[(0,)].low <= 1.0 <= top[(0,)].high and top[(0,)].significant
    assert top[(1, 2)].low <= 0.6 <= top[(1, 2)].high
    noise_terms = [t for s, t in top.items() if s not in ((0,), (1, 2))]
    assert noise_terms and sum(not t.significant for t in noise_terms) >= 0.8 * len(noise_terms)


def test_value_function_suggests_its_batch_size():
    sizes = []

    class Batched(Counting):
        batch_size = 7

        def __call__(self, masks):
            sizes.append(len(masks))
            return super().__call__(masks)

    isp.explain(Batched(PLANTED), method="lasso", budget=60, random_state=0)
    assert max(sizes) <= 7 and sum(sizes) == 60
    sizes.clear()
    isp.explain(Batched(PLANTED), method="lasso", budget=60, random_state=0, batch_size=30)
    assert max(sizes) == 30


def test_time_limit_stops_a_slow_run_with_a_clear_error():
    import time

    def slow(masks):
        time.sleep(0.02)
        return masks.sum(axis=1).astype(float)

    with pytest.raises(isp.QueryError, match="time"):
        isp.explain(slow, 30, method="lasso", budget=400, batch_size=4, time_limit=0.2, random_state=0)


def test_qary_explain_works_at_the_largest_q():
    def waves(x):
        x = x.astype(float)
        return np.cos(2 * np.pi * x[:, 0] / 256) + 0.5 * np.sin(2 * np.pi * 3 * x[:, 1] / 256)

    expl = isp.explain(waves, 3, q=256, random_state=0, holdout=50)
    assert expl.faithfulness.r2 == pytest.approx(1.0) and len(expl.transform) == 5
