"""Data attribution value function: retrained models with closed-form answers, brute-force Shapley, groups."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import SVC

import interspect as isp
from interspect.frontends import DataAttributionValueFunction
from interspect.transforms.exact import all_masks

X_TRAIN = np.array([[0.0], [1.0], [2.5], [4.0], [5.0]])
Y_TRAIN = np.array([1.0, 2.0, 0.5, 4.0, 3.0])


def brute_force_shapley(value, n: int) -> np.ndarray:
    """Shapley values of ``value(frozenset)`` by averaging marginal contributions over all orderings."""
    phi = np.zeros(n)
    for order in itertools.permutations(range(n)):
        kept: set[int] = set()
        for i in order:
            before = value(frozenset(kept))
            kept.add(i)
            phi[i] += value(frozenset(kept)) - before
    return phi / math.factorial(n)


def test_dummy_mean_regressor_prediction_and_mse_for_every_mask():
    masks = all_masks(5)
    kept_mean = np.array([Y_TRAIN[m].mean() if m.any() else Y_TRAIN.mean() for m in masks])
    vf = DataAttributionValueFunction(DummyRegressor(strategy="mean"), X_TRAIN, Y_TRAIN, [[3.0]])
    assert vf.score == "prediction" and vf.n_features == 5 and vf.feature_names[2] == "train[2]"
    np.testing.assert_allclose(vf(masks), kept_mean, atol=1e-12)

    y_test = np.array([2.0, -1.0])
    vf = DataAttributionValueFunction(DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0], [9.0]], y_test)
    assert vf.score == "neg_mse"
    expected = -(((kept_mean[:, None] - y_test) ** 2).mean(1))
    np.testing.assert_allclose(vf(masks), expected, atol=1e-12)
    json.dumps(vf.describe())


def test_linear_regression_exact_shapley_matches_brute_force():
    x_test = 3.0

    def closed_form(kept: frozenset) -> float:
        rows = sorted(kept)
        if len(rows) < 2:  # below min_size: the kept (or, when empty, all) rows' mean target
            return float(Y_TRAIN[rows].mean() if rows else Y_TRAIN.mean())
        slope, intercept = np.polyfit(X_TRAIN[rows, 0], Y_TRAIN[rows], 1)
        return float(slope * x_test + intercept)

    vf = DataAttributionValueFunction(LinearRegression(), X_TRAIN, Y_TRAIN, [[x_test]], min_size=2)
    masks = all_masks(5)
    np.testing.assert_allclose(vf(masks), [closed_form(frozenset(np.flatnonzero(m))) for m in masks], atol=1e-10)
    expl = isp.explain(vf, method="exact", max_order=5)
    np.testing.assert_allclose(expl.shapley_values(), brute_force_shapley(closed_form, 5), atol=1e-10)


def test_class_groups_with_prior_classifier_and_empty_and_single_class_subsets():
    rng = np.random.default_rng(0)
    y = np.array(["a", "b", "c", "a", "a", "b"])
    X = rng.normal(size=(6, 2))
    y_test = np.array(["a", "c"])
    vf = DataAttributionValueFunction(DummyClassifier(strategy="prior"), X, y, X[:2], y_test, groups="class")
    assert vf.feature_names == ["a", "b", "c"] and vf.score == "log_prob"
    masks = all_masks(3)
    counts = np.array([3, 2, 1])  # rows of class a, b, c
    freq = np.where(masks, counts, 0) / np.maximum(np.where(masks, counts, 0).sum(1, keepdims=True), 1)
    freq[0] = 1 / 3  # the empty subset: uniform over the classes of y_train
    expected = np.log(np.maximum(freq[:, [0, 2]], 1e-6)).mean(1)
    np.testing.assert_allclose(vf(masks), expected, atol=1e-12)

    # without y_test the label the full model predicts ("a", the majority) is scored by its probability
    vf_pred = DataAttributionValueFunction(DummyClassifier(), X, y, X[:1], groups="class")
    assert vf_pred.score == "prob"
    np.testing.assert_allclose(vf_pred(masks), freq[:, 0], atol=1e-12)


def test_real_classifier_falls_back_to_constant_predictor_on_degenerate_subsets():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 2))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    vf = DataAttributionValueFunction(LogisticRegression(), X, y, X[:3], y[:3], score="prob")
    empty, only_zeros, one_row = np.zeros((3, 8), bool)
    only_zeros[[0, 3, 6]] = True
    one_row[1] = True
    mixed = np.array([[1, 1, 0, 0, 0, 0, 0, 0]], bool)  # classes 0 and 1 only: class 2 gets probability 0
    values = vf(np.vstack([[empty, only_zeros, one_row], mixed]))
    fitted = LogisticRegression().fit(X[:2], y[:2]).predict_proba(X[:3])
    np.testing.assert_allclose(values, [1 / 3, 1 / 3, 1 / 3, (fitted[0, 0] + fitted[1, 1]) / 3], atol=1e-12)
    # log_prob of a label the subset never saw is log(eps)
    vf_log = DataAttributionValueFunction(LogisticRegression(), X, y, X[2:3], y[2:3], eps=1e-4)
    assert vf_log(mixed)[0] == pytest.approx(np.log(1e-4))
    # classifiers without predict_proba are scored by accuracy
    vf_svc = DataAttributionValueFunction(SVC(), X, y, X, y)
    assert vf_svc.score == "accuracy" and vf_svc(np.ones((1, 8), bool))[0] == pytest.approx(
        np.mean(SVC().fit(X, y).predict(X) == y)
    )


class CountingRegressor(RegressorMixin, BaseEstimator):
    """Mean of the kept targets; counts fits in a class attribute (clones share it)."""

    fits = 0

    def fit(self, X, y):
        CountingRegressor.fits += 1
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_repeated_masks_are_fitted_once_and_parallel_fits_agree():
    masks = np.array([[1, 0, 1, 1, 0], [1, 1, 1, 1, 1], [1, 0, 1, 1, 0], [1, 1, 1, 1, 1]], bool)
    vf = DataAttributionValueFunction(CountingRegressor(), X_TRAIN, Y_TRAIN, [[0.0]])
    CountingRegressor.fits = 0
    values = vf(masks)
    assert CountingRegressor.fits == 2
    np.testing.assert_allclose(values, [Y_TRAIN[[0, 2, 3]].mean(), Y_TRAIN.mean()] * 2, atol=1e-12)
    parallel = DataAttributionValueFunction(DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]], n_jobs=2)
    with parallel_config(backend="threading"):  # the same joblib path without starting worker processes
        np.testing.assert_allclose(parallel(masks), values, atol=1e-12)


def test_label_and_index_groups():
    sources = ["web", "book", "web", "book", "wiki"]
    vf = DataAttributionValueFunction(DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]], groups=sources)
    assert vf.feature_names == ["book", "web", "wiki"]
    np.testing.assert_allclose(vf(np.array([[1, 0, 1], [0, 1, 0]], bool)), [Y_TRAIN[[1, 3, 4]].mean(), 0.75])
    by_index = DataAttributionValueFunction(DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]], groups={"first": [0, 1]})
    # rows in no group are always kept
    np.testing.assert_allclose(by_index(np.array([[0], [1]], bool)), [Y_TRAIN[2:].mean(), Y_TRAIN.mean()])
    assert by_index.describe()["groups"] == {"first": [0, 1]}
    listed = DataAttributionValueFunction(DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]], groups=[[4], [0, 2]])
    assert listed.feature_names == ["g0", "g1"]


def test_fingerprint_is_stable_and_tracks_inputs():
    def make(**kw):
        args = {"estimator": DummyRegressor(), "X_test": [[0.0]], "y_test": None} | kw
        return DataAttributionValueFunction(args.pop("estimator"), X_TRAIN, Y_TRAIN, **args).fingerprint

    assert make() == make()
    assert make() != make(estimator=DummyRegressor(strategy="median"))
    assert make() != make(X_test=[[1.0]])
    assert make() != make(y_test=[1.0])
    assert make() != make(min_size=2)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((DummyRegressor(), X_TRAIN, Y_TRAIN[:4], [[0.0]]), {}, "y_train must have shape"),
        ((DummyRegressor(), X_TRAIN, ["a"] * 5, [[0.0]]), {}, "numeric"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, np.zeros((0, 1))), {}, "no rows"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]], [1.0, 2.0]), {}, "y_test must have shape"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]]), {"score": "neg_mse"}, "needs y_test"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]]), {"score": "accuracy"}, "for a regressor"),
        ((DummyClassifier(), X_TRAIN, [0, 1, 0, 1, 0], [[0.0]]), {"score": "neg_mse"}, "for a classifier"),
        ((SVC(), X_TRAIN, [0, 1, 0, 1, 0], [[0.0]], [1]), {"score": "log_prob"}, "predict_proba"),
        ((DummyClassifier(), X_TRAIN, [0, 1, 0, 1, 0], [[0.0]], [2]), {}, "does not occur in y_train"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]]), {"groups": "source"}, "groups must be"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]]), {"groups": ["a", "b"]}, "one entry per training row"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]]), {"groups": [[0, 1], [1]]}, "more than one group"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]]), {"feature_names": ["a"]}, "feature names"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]]), {"min_size": 0}, "min_size"),
        ((DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]]), {"eps": 0.0}, "eps"),
        (("not a model", X_TRAIN, Y_TRAIN, [[0.0]]), {}, "estimator"),
    ],
)
def test_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataAttributionValueFunction(*args, **kwargs)


def test_bad_masks():
    vf = DataAttributionValueFunction(DummyRegressor(), X_TRAIN, Y_TRAIN, [[0.0]])
    with pytest.raises(ValueError, match="masks must have shape"):
        vf(np.ones((1, 4), bool))
    assert vf(np.zeros((0, 5), bool)).shape == (0,)
