"""Tabular value function: interventional expectations against closed forms, a real sklearn model, bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

import interspect as isp
from interspect.frontends import TabularValueFunction
from interspect.transforms.exact import all_masks

D = 6
RNG = np.random.default_rng(0)
W = RNG.normal(size=D)
C = 0.7
X = RNG.normal(size=D)
BACKGROUND = RNG.normal(size=(5, D))


def linear(z: np.ndarray) -> np.ndarray:
    return z @ W + C


def test_linear_model_matches_closed_form_for_every_mask_and_exact_shapley():
    # batch_size 7 < B = 5 rows per mask x 64 masks: slices cut through masks
    sizes = []

    def spy(z):
        sizes.append(len(z))
        return linear(z)

    vf = TabularValueFunction(spy, X, BACKGROUND, batch_size=7)
    masks = all_masks(D)
    expected = C + np.where(masks, W * X, W * BACKGROUND.mean(0)).sum(1)
    sizes.clear()
    np.testing.assert_allclose(vf(masks), expected, atol=1e-12)
    assert max(sizes) == 7 and sum(sizes) == 64 * 5
    np.testing.assert_allclose(TabularValueFunction(linear, X, BACKGROUND)(masks), expected, atol=1e-12)
    assert vf.n_features == D and vf.feature_names == [f"x{i}" for i in range(D)] and vf.output is None

    expl = isp.explain(vf, method="exact", max_order=D)
    np.testing.assert_allclose(expl.shapley_values(), W * (X - BACKGROUND.mean(0)), atol=1e-12)
    assert expl.metadata["frontend"] == "tabular" and expl.metadata["n_background"] == 5
    json.dumps(vf.describe())


def test_gradient_boosting_classifier_efficiency_and_direct_average():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(200, 5))
    labels = (data[:, 0] * data[:, 1] + data[:, 2] > 0).astype(int) + (data[:, 3] > 1)  # three classes
    clf = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0).fit(data, labels)
    x, background = data[0], data[1:21]
    vf = TabularValueFunction(clf, x, background, batch_size=50)
    proba_x = clf.predict_proba(x[None])[0]
    assert vf.output == int(np.argmax(proba_x)) and vf.target == str(clf.classes_[vf.output])

    masks = np.random.default_rng(2).random((9, 5)) < 0.5
    direct = [clf.predict_proba(np.where(keep, x, background))[:, vf.output].mean() for keep in masks]
    np.testing.assert_allclose(vf(masks), direct, atol=1e-12)

    full, empty = vf(np.array([[True] * 5, [False] * 5]))
    assert full == pytest.approx(proba_x[vf.output], abs=1e-12)
    assert empty == pytest.approx(clf.predict_proba(background)[:, vf.output].mean(), abs=1e-12)
    phi = isp.explain(vf, method="exact", max_order=5).shapley_values()
    assert phi.sum() == pytest.approx(full - empty, abs=1e-10)

    # an explicit output column, by index and by class label
    other = (vf.output + 1) % 3
    assert TabularValueFunction(clf, x, background, output=other).target == str(other)
    by_label = TabularValueFunction(clf, x, background, output=clf.classes_[other])
    assert by_label(masks[:1]) == pytest.approx(
        clf.predict_proba(np.where(masks[0], x, background))[:, other].mean(), abs=1e-12
    )


def test_groups_move_columns_together():
    groups = {"a": [0, 1], "b": [2], "c": [4, 5]}  # column 3 is in no group: it always keeps x's value
    vf = TabularValueFunction(linear, X, BACKGROUND, groups=groups)
    assert vf.n_features == 3 and vf.feature_names == ["a", "b", "c"] and vf.groups == [[0, 1], [2], [4, 5]]
    masks = all_masks(3)
    columns = np.column_stack([masks[:, 0], masks[:, 0], masks[:, 1], np.ones(8, bool), masks[:, 2], masks[:, 2]])
    expected = C + np.where(columns, W * X, W * BACKGROUND.mean(0)).sum(1)
    np.testing.assert_allclose(vf(masks), expected, atol=1e-12)
    phi = isp.explain(vf, method="exact", max_order=3).shapley_values()
    contrib = W * (X - BACKGROUND.mean(0))
    np.testing.assert_allclose(phi, [contrib[:2].sum(), contrib[2], contrib[4:].sum()], atol=1e-12)
    assert vf.describe()["groups"] == {"a": ["x0", "x1"], "b": ["x2"], "c": ["x4", "x5"]}
    listed = TabularValueFunction(linear, X, BACKGROUND, groups=[[0, 1], [2]], feature_names=["ab", "c"])
    assert listed.feature_names == ["ab", "c"]


def test_fingerprint_is_stable_and_tracks_inputs():
    a = TabularValueFunction(linear, X, BACKGROUND, model="lin")
    assert a.fingerprint == TabularValueFunction(linear, X.copy(), BACKGROUND.copy(), model="lin").fingerprint
    assert a.fingerprint != TabularValueFunction(linear, X + 1, BACKGROUND, model="lin").fingerprint
    assert a.fingerprint != TabularValueFunction(linear, X, BACKGROUND[:3], model="lin").fingerprint
    assert a.fingerprint != TabularValueFunction(linear, X, BACKGROUND, model="other").fingerprint
    assert a.fingerprint != TabularValueFunction(linear, X, BACKGROUND, model="lin", groups=[[0, 1]]).fingerprint


def two_outputs(z):
    return np.column_stack([z.sum(1), -z.sum(1)])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": np.zeros((2, D))}, "x must be one row"),
        ({"x": np.r_[np.nan, np.zeros(D - 1)]}, "x contains NaN"),
        ({"x": ["a"] * D}, "x must be numeric"),
        ({"background": np.zeros((4, D + 1))}, "background must have shape"),
        ({"background": np.zeros((0, D))}, "background must have shape"),
        ({"background": np.full((2, D), np.nan)}, "background contains NaN"),
        ({"groups": [[0, 1], [1, 2]]}, "more than one group"),
        ({"groups": [[0, 0]]}, "twice"),
        ({"groups": [[0, D]]}, "outside"),
        ({"groups": [[]]}, "non-empty"),
        ({"groups": [[0.5]]}, "integer"),
        ({"groups": []}, "at least one group"),
        ({"groups": "abc"}, "groups must be"),
        ({"feature_names": ["a"]}, "feature names"),
        ({"output": 0}, "output must be None"),
        ({"predict": two_outputs, "output": 2}, "out of range"),
        ({"predict": two_outputs, "output": "yes"}, "unknown output"),
        ({"predict": lambda z: np.zeros((len(z), 2, 2))}, "expected \\(N,\\) or \\(N, k\\)"),
        ({"predict": lambda z: np.full(len(z), np.inf)}, "non-finite"),
        ({"predict": 3}, "predict must be"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_input(kwargs, message):
    args = {"predict": linear, "x": X, "background": BACKGROUND} | kwargs
    with pytest.raises(ValueError, match=message):
        TabularValueFunction(args.pop("predict"), args.pop("x"), args.pop("background"), **args)


def test_bad_masks():
    vf = TabularValueFunction(linear, X, BACKGROUND)
    with pytest.raises(ValueError, match="masks must have shape"):
        vf(np.ones((2, D - 1), bool))
    with pytest.raises(ValueError, match="0/1"):
        vf(np.full((1, D), 2))
    assert vf(np.zeros((0, D), bool)).shape == (0,)


def test_dataframe_background_gives_names_and_model_sees_its_columns():
    pd = pytest.importorskip("pandas")
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame(RNG.normal(size=(30, 3)), columns=["age", "income", "debt"])
    reg = LinearRegression().fit(frame, frame @ W[:3] + C)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn warns if a frame-fitted model gets a bare array
        vf = TabularValueFunction(reg, frame.iloc[[0]], frame.iloc[1:6])
        values = vf(all_masks(3))
    assert vf.feature_names == ["age", "income", "debt"] and vf.describe()["x"]["debt"] == frame.iloc[0, 2]
    expected = reg.intercept_ + np.where(all_masks(3), reg.coef_ * frame.iloc[0].to_numpy(), 0).sum(1)
    expected += np.where(all_masks(3), 0, reg.coef_ * frame.iloc[1:6].mean().to_numpy()).sum(1)
    np.testing.assert_allclose(values, expected, atol=1e-12)
