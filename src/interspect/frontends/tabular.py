"""Tabular models: explain one row of a model's input with removed features replaced by background rows.

The value of a mask is the interventional (marginal) expectation
``v(S) = (1/B) Σ_b f(x_S, z^{(b)}_{not S})``: kept features take the explained row's values, removed ones
take the values of each of the ``B`` background rows, and the model outputs are averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..query.engine import check_masks
from .base import array_digest, fingerprint, model_name

Groups = Sequence[Sequence[int]] | Mapping[str, Sequence[int]]


def index_groups(groups: Groups, size: int, what: str) -> tuple[list[str], np.ndarray]:
    """Validated groups of indices ``0 … size-1``: their names and the owner of each index.

    ``groups`` is a list of index lists (names ``"g0"``, ``"g1"``, …) or a dict name -> indices. Every
    index belongs to at most one group and no group is empty. ``owner[i]`` is the group of index ``i``,
    or ``len(groups)`` for an index in no group.
    """
    if isinstance(groups, Mapping):
        names, members = [str(k) for k in groups], list(groups.values())
    elif isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
        raise ValueError(f"groups must be a list of lists of {what} indices or a dict name -> indices")
    else:
        names, members = [f"g{j}" for j in range(len(groups))], list(groups)
    if not members:
        raise ValueError("groups must contain at least one group")
    owner = np.full(size, len(members), dtype=np.intp)
    for j, (name, idx) in enumerate(zip(names, members, strict=True)):
        arr = np.asarray(idx)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
            raise ValueError(f"group {name!r} must be a non-empty list of integer {what} indices, got {idx!r}")
        if arr.min() < 0 or arr.max() >= size:
            raise ValueError(f"group {name!r} has a {what} index outside 0..{size - 1}: {arr.tolist()}")
        if len(np.unique(arr)) != arr.size:
            raise ValueError(f"group {name!r} lists a {what} twice: {arr.tolist()}")
        taken = arr[owner[arr] != len(members)]
        if taken.size:
            raise ValueError(f"{what} {int(taken[0])} appears in more than one group")
        owner[arr] = j
    if len(set(names)) != len(names):
        raise ValueError("group names must be unique")
    return names, owner


def expand_masks(masks: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Group masks ``(m, g)`` -> per-index masks ``(m, len(owner))``; indices in no group are always kept."""
    extended = np.column_stack([masks, np.ones(len(masks), dtype=bool)])
    return extended[:, owner]


def _float_matrix(a: Any, name: str) -> np.ndarray:
    try:
        out = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if np.isnan(out).any():
        raise ValueError(f"{name} contains NaN; impute missing values first")
    return out


class TabularValueFunction:
    """One row ``x`` of a tabular model as a value function: ``(m, n)`` bool masks -> ``(m,)`` float.

    Removed features (or groups of columns) take the values of every background row in turn and the
    model's outputs are averaged (interventional expectation); kept ones take ``x``'s values. So
    ``v(all kept) = f(x)`` and ``v(none kept)`` is the model's mean over the background.

    Parameters
    ----------
    predict : estimator or callable
        An estimator (its ``predict_proba`` is used if it has one, else ``predict``) or a callable mapping
        an ``(N, d)`` float array to ``(N,)`` or ``(N, k)`` outputs.
    x : array-like, shape (d,)
        The row to explain.
    background : array-like, shape (B, d)
        Reference rows that stand in for removed features (e.g. a sample of the training data).
    feature_names : sequence of str, optional
        One name per feature (per group when ``groups`` is given). Defaults to the background's column
        names (a DataFrame) or ``x0, x1, …``; with groups, to the group names.
    groups : list of lists or dict name -> list of column indices, optional
        Columns removed and kept together (e.g. a one-hot block); then ``n_features`` is the number of
        groups. A column in no group always keeps ``x``'s value.
    output : int or class label, optional
        Which column of a 2-D model output is explained: an ``int`` is a column index, any other value a
        label looked up in the estimator's ``classes_``. Default: the column with the largest output for
        ``x`` (the predicted class of a classifier). Must be ``None`` for 1-D outputs.
    model : str, optional
        Identifier of the model for the disk-cache fingerprint; default: a hash of the pickled model
        (its qualified name if it cannot be pickled — pass ``model`` then).
    batch_size : int
        Most rows (masks × background rows) sent to the model in one call; bounds memory.
    """

    def __init__(
        self,
        predict: Any,
        x: Any,
        background: Any,
        *,
        feature_names: Sequence[str] | None = None,
        groups: Groups | None = None,
        output: Any = None,
        model: str | None = None,
        batch_size: int = 65536,
    ) -> None:
        if hasattr(predict, "predict_proba"):
            self._predict: Callable[[Any], Any] = predict.predict_proba
        elif hasattr(predict, "predict"):
            self._predict = predict.predict
        elif callable(predict):
            self._predict = predict
        else:
            raise ValueError("predict must be an estimator with predict/predict_proba or a callable")
        self.estimator = predict
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        columns = getattr(background, "columns", None)
        self.x = _float_matrix(x, "x")
        if self.x.ndim == 2 and len(self.x) == 1:  # one row given as a (1, d) matrix or DataFrame
            self.x = self.x[0]
        if self.x.ndim != 1 or self.x.size == 0:
            raise ValueError(f"x must be one row of shape (d,), got shape {self.x.shape}")
        d = self.x.size
        self.background = _float_matrix(background, "background")
        if self.background.ndim != 2 or self.background.shape[1] != d or len(self.background) == 0:
            raise ValueError(f"background must have shape (B, {d}) with B >= 1, got {self.background.shape}")
        self.column_names = [str(c) for c in columns] if columns is not None else [f"x{i}" for i in range(d)]
        if groups is None:
            names, self._owner = list(self.column_names), np.arange(d)
            self.groups: list[list[int]] | None = None
        else:
            names, self._owner = index_groups(groups, d, "column")
            self.groups = [np.flatnonzero(self._owner == j).tolist() for j in range(len(names))]
        if feature_names is not None:
            if len(feature_names) != len(names):
                raise ValueError(f"{len(feature_names)} feature names for {len(names)} features")
            names = [str(s) for s in feature_names]
        self.feature_names = names
        self._columns_in = getattr(predict, "feature_names_in_", None)

        raw = self._raw(self.x[None, :])
        classes = getattr(predict, "classes_", None)
        if raw.ndim == 1:
            if output is not None:
                raise ValueError("output must be None for a model with one output per row")
            self.output: int | None = None
            self.target: str | None = None
        else:
            self.output = self._resolve_output(output, raw[0], classes)
            self.target = str(classes[self.output]) if classes is not None else f"output {self.output}"
        self.model = model_name(predict) if model is None else str(model)
        self.fingerprint = fingerprint(
            frontend="tabular",
            model=self.model,
            x=self.x.tolist(),
            background=array_digest(self.background),
            owner=self._owner.tolist(),
            output=self.output,
        )

    @staticmethod
    def _resolve_output(output: Any, row: np.ndarray, classes: Any) -> int:
        k = row.size
        if output is None:
            return int(np.argmax(row))
        if isinstance(output, (int, np.integer)) and not isinstance(output, bool):
            if not 0 <= int(output) < k:
                raise ValueError(f"output column {output} is out of range for {k} model outputs")
            return int(output)
        labels = [] if classes is None else list(classes)
        if output not in labels:
            raise ValueError(f"unknown output {output!r}: pass a column index or one of the classes {labels}")
        return labels.index(output)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def _raw(self, rows: np.ndarray) -> np.ndarray:
        """The model's output on ``rows``, checked to be ``(N,)`` or ``(N, k)`` and finite."""
        if self._columns_in is not None:
            import pandas as pd

            rows = pd.DataFrame(rows, columns=self._columns_in)
        out = np.asarray(self._predict(rows), dtype=np.float64)
        if out.ndim not in (1, 2) or out.shape[0] != len(rows):
            raise ValueError(f"the model returned shape {out.shape} for {len(rows)} rows; expected (N,) or (N, k)")
        if not np.isfinite(out).all():
            raise ValueError("the model returned non-finite outputs")
        return out

    def _outputs(self, rows: np.ndarray) -> np.ndarray:
        out = self._raw(rows)
        if self.output is None:
            if out.ndim != 1:
                raise ValueError(f"the model returned shape {out.shape}; it returned one output per row before")
            return out
        if out.ndim != 2 or out.shape[1] <= self.output:
            raise ValueError(f"the model returned shape {out.shape}; expected at least {self.output + 1} columns")
        return out[:, self.output]

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = check_masks(masks, self.n_features)
        m, n_bg = len(masks), len(self.background)
        keep = expand_masks(masks, self._owner)  # (m, d) column masks
        totals = np.zeros(m)
        # Row r of the virtual (m·B, d) matrix is mask r // B over background row r % B; build it in slices.
        for start in range(0, m * n_bg, self.batch_size):
            r = np.arange(start, min(start + self.batch_size, m * n_bg))
            which = r // n_bg
            rows = np.where(keep[which], self.x, self.background[r % n_bg])
            totals += np.bincount(which, weights=self._outputs(rows), minlength=m)
        return totals / n_bg

    def describe(self) -> dict[str, Any]:
        """Metadata for reports: model, explained output, the row, background size and groups."""
        groups = None
        if self.groups is not None:
            groups = {
                name: [self.column_names[c] for c in cols]
                for name, cols in zip(self.feature_names, self.groups, strict=True)
            }
        return {
            "frontend": "tabular",
            "model": self.model,
            "target": self.target,
            "value": "interventional expectation over background rows",
            "x": dict(zip(self.column_names, self.x.tolist(), strict=True)),
            "n_background": len(self.background),
            "groups": groups,
        }

    def __repr__(self) -> str:
        return (
            f"TabularValueFunction(model={self.model!r}, n_features={self.n_features}, "
            f"n_background={len(self.background)}, target={self.target!r})"
        )
