"""explain(): the public entry point, its accounting, held-out R² and input validation."""

import numpy as np
import pytest

import interspect as isp
from interspect.transforms.sparse import SparseTransform

PLANTED = SparseTransform.from_dict({(): 0.5, (0,): 1.0, (3,): -0.7, (1, 2): 0.8, (4,): 0.3}, 8)


class Planted:
    fingerprint = "planted-v1"
    feature_names = [f"w{i}" for i in range(8)]

    def __init__(self):
        self.calls = 0

    def __call__(self, masks):
        self.calls += len(masks)
        return PLANTED.predict(masks)


def test_faith_banzhaf_recovers_planted_function_with_heldout_r2():
    f = Planted()
    expl = isp.explain(f, n_features=8, method="faith_banzhaf", budget=200, max_order=2, random_state=0, holdout=50)
    assert expl.fourier.prune(tol=1e-9).to_dict() == pytest.approx(PLANTED.to_dict())
    assert expl.faithfulness.kind == "heldout" and expl.faithfulness.r2 == pytest.approx(1.0)
    assert expl.feature_names == Planted.feature_names
    # every model call is accounted: the held-out masks come out of the budget
    assert expl.n_heldout_queries == 50 == expl.faithfulness.n_masks
    assert f.calls == expl.n_queries == expl.n_fit_queries + expl.n_heldout_queries
    assert expl.n_queries <= 200
    assert expl.timing["algorithm_s"] >= 0 and expl.timing["model_s"] > 0
    np.testing.assert_allclose(expl.banzhaf_values()[[0, 3]], [-2.0, 1.4])


def test_heldout_masks_are_never_fitting_masks():
    f = Planted()
    engine = isp.QueryEngine(f, 8)
    expl = isp.explain(engine, method="faith_banzhaf", budget=400, max_order=2, random_state=1, holdout=300)
    # 2^8 = 256 masks exist: the held-out ones are those the fit did not use, fewer than asked for
    assert expl.n_heldout_queries == engine.n_queries - expl.n_fit_queries
    assert 0 < expl.n_heldout_queries < 300 and engine.n_queries <= 256


def test_seed_reproduces():
    a = isp.explain(Planted(), n_features=8, method="lasso", budget=120, random_state=3)
    b = isp.explain(Planted(), n_features=8, method="lasso", budget=120, random_state=3)
    assert a.fourier.to_dict() == b.fourier.to_dict()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "nope"}, "unknown method"),
        ({"budget": 0}, "budget"),
        ({"max_order": 0}, "max_order"),
        ({"holdout": -1}, "holdout"),
        ({"budget": 4.5}, "budget must be an integer"),
        ({"holdout": "some"}, "holdout"),
        ({"target_r2": 2.0}, "target_r2"),
        ({"backend": "spark"}, "backend"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        isp.explain(Planted(), n_features=8, **kwargs)


def test_n_features_taken_from_value_function_or_required():
    with pytest.raises(ValueError, match="n_features"):
        isp.explain(lambda m: m.sum(1))
    with pytest.raises(ValueError, match="n_features must be an integer"):
        isp.explain(lambda m: m.sum(1), n_features=4.5)
    with pytest.raises(TypeError, match="method must be a string"):
        isp.explain(lambda m: m.sum(1), n_features=4, method=None)
