"""Data attribution: features are training samples (or groups of them); a mask is a training subset.

The value of a mask is the score on the test point(s) of the estimator retrained, from scratch, on the
kept training rows (``sklearn.base.clone(estimator).fit``). Every distinct mask costs one fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils import _safe_indexing

from ..query.engine import check_masks
from .base import array_digest, fingerprint
from .tabular import expand_masks, index_groups

CLASSIFIER_SCORES: tuple[str, ...] = ("log_prob", "prob", "accuracy")
REGRESSOR_SCORES: tuple[str, ...] = ("neg_mse", "prediction")


def _n_rows(a: Any) -> int:
    return int(a.shape[0]) if hasattr(a, "shape") else len(a)


def _float_targets(y: Any, name: str) -> np.ndarray:
    try:
        out = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric for a regressor") from None
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return out


def _as_table(a: Any) -> Any:
    """Arrays, DataFrames and sparse matrices pass through; lists become arrays."""
    return a if hasattr(a, "shape") else np.asarray(a)


class DataAttributionValueFunction:
    """Training-subset value function: ``(m, n)`` bool masks -> ``(m,)`` scores of the retrained model.

    Parameters
    ----------
    estimator : scikit-learn estimator
        Unfitted template; each mask fits ``clone(estimator)`` on the kept rows. Fix its ``random_state``
        if it has one: the query engine and its cache assume the same mask always gets the same value.
    X_train, y_train : array-like, shapes (N, ...) and (N,)
        Training data (arrays, DataFrames or sparse matrices).
    X_test : array-like, shape (t, ...)
        The point(s) the retrained models are scored on.
    y_test : array-like, shape (t,), optional
        Their labels / targets. Without them a classifier is scored on the labels the model trained on
        all the data predicts, and a regressor by its mean prediction.
    groups : None, "class", labels, list of lists or dict name -> row indices
        ``None``: each training row is a feature. ``"class"``: one feature per class of ``y_train``.
        An array of ``N`` labels (e.g. the data source of each row): one feature per distinct label.
        Lists / dicts of row indices: explicit groups; rows in no group are always kept.
    score : str
        Classifiers: ``"log_prob"`` (mean log-probability of the target labels, probabilities clipped at
        ``eps``), ``"prob"`` (mean probability of the target labels) or ``"accuracy"``.
        Regressors: ``"neg_mse"`` (minus the mean squared error) or ``"prediction"`` (the mean prediction
        over the test rows: the prediction itself for a single row). ``"auto"``, for classifiers:
        ``"log_prob"`` with ``y_test``, else ``"prob"`` (``"accuracy"`` without ``predict_proba``); for
        regressors: ``"neg_mse"`` with ``y_test``, else ``"prediction"``.
    min_size : int
        Subsets with fewer kept rows (and, for classifiers, subsets with fewer than two classes) are not
        fitted; a constant predictor stands in: a classifier predicts the kept rows' class frequencies
        (uniform over the classes of ``y_train`` for the empty subset; its accuracy is that of guessing from
        those frequencies), a regressor the kept rows' mean target (the mean of all of ``y_train`` for the
        empty subset). Raise it for estimators that need several rows (e.g. k nearest neighbours).
    eps : float
        Probability floor for ``"log_prob"``: a model giving a target label probability 0 scores ``log(eps)``.
    n_jobs : int
        Parallel fits (joblib); 1 fits in this process, -1 uses every CPU of the backend.
    parallel_backend : str, optional
        joblib backend of the parallel fits (default joblib's own, local processes). ``"ray"`` runs the fits
        on a Ray cluster (``pip install 'interspect[ray]'``; joins a running Ray or starts a local one).
    feature_names : sequence of str, optional
    model : str, optional
        Identifier for the disk-cache fingerprint; default: the estimator's class and parameters.
    """

    def __init__(
        self,
        estimator: Any,
        X_train: Any,
        y_train: Any,
        X_test: Any,
        y_test: Any = None,
        *,
        groups: str | Sequence[Any] | Mapping[str, Sequence[int]] | None = None,
        score: str = "auto",
        min_size: int = 1,
        eps: float = 1e-6,
        n_jobs: int = 1,
        parallel_backend: str | None = None,
        feature_names: Sequence[str] | None = None,
        model: str | None = None,
    ) -> None:
        if not hasattr(estimator, "fit"):
            raise ValueError("estimator must be a scikit-learn estimator (with fit)")
        self.estimator = estimator
        self.is_classifier = bool(is_classifier(estimator))
        self.X_train, self.X_test = _as_table(X_train), _as_table(X_test)
        self.y_train = np.asarray(y_train) if self.is_classifier else _float_targets(y_train, "y_train")
        n = _n_rows(self.X_train)
        if self.y_train.shape != (n,) or n == 0:
            raise ValueError(f"y_train must have shape ({n},) for {n} training rows, got {self.y_train.shape}")
        t = _n_rows(self.X_test)
        if t == 0:
            raise ValueError("X_test has no rows")
        if y_test is None or self.is_classifier:
            self.y_test = None if y_test is None else np.asarray(y_test)
        else:
            self.y_test = _float_targets(y_test, "y_test")
        if self.y_test is not None and self.y_test.shape != (t,):
            raise ValueError(f"y_test must have shape ({t},) for {t} test rows, got {self.y_test.shape}")
        if int(min_size) < 1:
            raise ValueError(f"min_size must be at least 1, got {min_size}")
        self.min_size = int(min_size)
        if not 0.0 < float(eps) < 1.0:
            raise ValueError(f"eps must be in (0, 1), got {eps}")
        self.eps = float(eps)
        self.n_jobs = int(n_jobs)
        self.parallel_backend = parallel_backend
        self.score = self._resolve_score(score)

        names, self._owner = self._groups(groups)
        if feature_names is not None:
            if len(feature_names) != len(names):
                raise ValueError(f"{len(feature_names)} feature names for {len(names)} features")
            names = [str(s) for s in feature_names]
        self.feature_names = names

        self.classes: np.ndarray | None = None
        self._target: np.ndarray | None = None  # index into classes of each test row's scored label
        if self.is_classifier:
            self.classes = np.unique(self.y_train)
            labels = self.y_test
            if labels is None:  # the labels the model trained on all the data predicts
                labels = clone(estimator).fit(self.X_train, self.y_train).predict(self.X_test)
            unknown = ~np.isin(labels, self.classes)
            if unknown.any():
                raise ValueError(f"test label {labels[unknown][0]!r} does not occur in y_train")
            self._target = np.searchsorted(self.classes, labels)
        self.model = model or f"{type(estimator).__name__}({sorted(estimator.get_params(deep=True).items())})"
        self.fingerprint = fingerprint(
            frontend="data_attribution",
            model=self.model,
            X_train=self._digest(self.X_train),
            y_train=array_digest(self.y_train),
            X_test=self._digest(self.X_test),
            y_test=None if self.y_test is None else array_digest(self.y_test),
            owner=self._owner.tolist(),
            score=self.score,
            min_size=self.min_size,
            eps=self.eps,
        )

    @staticmethod
    def _digest(a: Any) -> str:
        if hasattr(a, "toarray"):  # scipy sparse
            a = a.toarray()
        return array_digest(np.asarray(a))

    def _resolve_score(self, score: str) -> str:
        allowed = CLASSIFIER_SCORES if self.is_classifier else REGRESSOR_SCORES
        if score == "auto":
            if self.is_classifier:
                if not hasattr(self.estimator, "predict_proba"):
                    return "accuracy"
                return "log_prob" if self.y_test is not None else "prob"
            return "neg_mse" if self.y_test is not None else "prediction"
        if score not in allowed:
            kind = "classifier" if self.is_classifier else "regressor"
            raise ValueError(f"score for a {kind} must be 'auto' or one of {allowed}, got {score!r}")
        if score == "neg_mse" and self.y_test is None:
            raise ValueError("score='neg_mse' needs y_test")
        if score in ("log_prob", "prob") and not hasattr(self.estimator, "predict_proba"):
            raise ValueError(f"score={score!r} needs an estimator with predict_proba; use score='accuracy'")
        return score

    def _groups(self, groups: Any) -> tuple[list[str], np.ndarray]:
        n = len(self.y_train)
        if groups is None:
            return [f"train[{i}]" for i in range(n)], np.arange(n)
        if isinstance(groups, str):
            if groups != "class":
                raise ValueError(f"groups must be None, 'class', labels, lists or a dict, got {groups!r}")
            groups = self.y_train
        if isinstance(groups, Mapping) or np.ndim(next(iter(groups), [])) > 0:
            return index_groups(groups, n, "training row")
        labels = np.asarray(groups)
        if labels.shape != (n,):
            raise ValueError(f"group labels must have one entry per training row ({n}), got shape {labels.shape}")
        names, owner = np.unique(labels, return_inverse=True)
        return [str(s) for s in names], owner.reshape(-1)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    # ------------------------------------------------------------------ one subset
    def _class_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """``classes`` and ``_target``, which ``__init__`` sets for every classifier."""
        assert self.classes is not None and self._target is not None, "only classifiers score class labels"
        return self.classes, self._target

    def _constant_probs(self, rows: np.ndarray) -> np.ndarray:
        classes, _ = self._class_labels()
        k = len(classes)
        if rows.size == 0:
            return np.full(k, 1.0 / k)
        return np.bincount(np.searchsorted(classes, self.y_train[rows]), minlength=k) / rows.size

    def _mean_prob_score(self, p: np.ndarray) -> float:
        """Mean of the target labels' probabilities ``p`` (their clipped logs for ``"log_prob"``)."""
        return float(np.mean(np.log(np.maximum(p, self.eps)) if self.score == "log_prob" else p))

    def _classifier_score(self, rows: np.ndarray) -> float:
        classes, target = self._class_labels()
        if rows.size < self.min_size or np.unique(self.y_train[rows]).size < 2:
            return self._mean_prob_score(self._constant_probs(rows)[target])
        fitted = clone(self.estimator).fit(_safe_indexing(self.X_train, rows), self.y_train[rows])
        if self.score == "accuracy":
            predicted = np.searchsorted(classes, fitted.predict(self.X_test))
            return float(np.mean(predicted == target))
        probs = np.zeros((len(target), len(classes)))  # classes the subset lacks get probability 0
        probs[:, np.searchsorted(classes, fitted.classes_)] = fitted.predict_proba(self.X_test)
        return self._mean_prob_score(probs[np.arange(len(target)), target])

    def _regressor_score(self, rows: np.ndarray) -> float:
        t = _n_rows(self.X_test)
        if rows.size < self.min_size:
            pred = np.full(t, np.mean(self.y_train[rows] if rows.size else self.y_train, dtype=np.float64))
        else:
            fitted = clone(self.estimator).fit(_safe_indexing(self.X_train, rows), self.y_train[rows])
            pred = np.asarray(fitted.predict(self.X_test), dtype=np.float64).reshape(t)
        if self.score == "prediction":
            return float(np.mean(pred))
        assert self.y_test is not None, "score='neg_mse' is only chosen with y_test"
        return float(-np.mean((pred - self.y_test) ** 2))

    def value_of_rows(self, rows: np.ndarray) -> float:
        """The score of the model trained on training rows ``rows`` (indices)."""
        rows = np.asarray(rows, dtype=np.intp)
        return self._classifier_score(rows) if self.is_classifier else self._regressor_score(rows)

    # ------------------------------------------------------------------ value function
    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = check_masks(masks, self.n_features)
        if len(masks) == 0:
            return np.zeros(0)
        unique, inverse = np.unique(masks, axis=0, return_inverse=True)
        subsets = [np.flatnonzero(keep) for keep in expand_masks(unique, self._owner)]
        if self.n_jobs == 1 and self.parallel_backend is None:
            values = [self.value_of_rows(rows) for rows in subsets]
        else:
            from joblib import Parallel, delayed

            if self.parallel_backend == "ray":
                from ray.util.joblib import register_ray

                register_ray()
            parallel = Parallel(n_jobs=self.n_jobs, backend=self.parallel_backend)
            values = parallel(delayed(self.value_of_rows)(rows) for rows in subsets)
        return np.asarray(values, dtype=np.float64)[inverse.reshape(-1)]

    def describe(self) -> dict[str, Any]:
        """Metadata for reports: estimator, score, data sizes, the groups."""
        return {
            "frontend": "data_attribution",
            "model": self.model,
            "target": self.score,
            "score": self.score,
            "n_train": len(self.y_train),
            "n_test": _n_rows(self.X_test),
            "groups": {name: np.flatnonzero(self._owner == j).tolist() for j, name in enumerate(self.feature_names)},
            "min_size": self.min_size,
        }

    def __repr__(self) -> str:
        return (
            f"DataAttributionValueFunction(model={type(self.estimator).__name__}, n_features={self.n_features}, "
            f"n_train={len(self.y_train)}, score={self.score!r})"
        )
