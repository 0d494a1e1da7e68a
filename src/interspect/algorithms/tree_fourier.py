"""Exact sparse Fourier transform of a LightGBM regression ensemble on 0/1 inputs.

A regression tree is a sum over its leaves of ``value * [x reaches the leaf]``, and the indicator of a path
is a product of per-split conditions ``[x_i = b] = (1 + (-1)^b (-1)^{x_i}) / 2``. Expanding that product
gives the leaf's Fourier coefficients: with the path's distinct constraints ``(i_1, b_1) ... (i_d, b_d)``,
every subset ``U`` of ``{i_1 .. i_d}`` gets ``value * 2^{-d} * prod_{j in U} (-1)^{b_j}``. This is the same
as the recursion ``F(T) = (F_L(T) + F_R(T)) / 2``, ``F(T + i) = (F_L(T) - F_R(T)) / 2`` (L the ``x_i = 0``
child), accumulated over the tree. A feature split twice on one path contributes ``(-1)^{2 x_i} = 1``: a
repeated consistent constraint is counted once, and contradictory constraints make the leaf unreachable
(its indicator is identically zero), so both are resolved before expansion.

Everything runs on LightGBM's own flat tree arrays (``Booster.model_to_string``: ``split_feature``,
``threshold``, ``decision_type``, ``left_child``, ``right_child``, ``leaf_value``), vectorised over all
leaves of all trees at once; the only Python loops are over trees while parsing and over tree depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..transforms.sparse import PAD, SparseTransform, pad_columns
from .numerics import support_keys

_ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold: |x| below it counts as zero
_MISSING_ZERO = 1  # LightGBM decision_type bits 2-3: 0 none, 1 zero-as-missing, 2 NaN
_DEFAULT_LEFT = 2  # decision_type bit 1
_CATEGORICAL = 1  # decision_type bit 0
_INT_FIELDS = ("split_feature", "decision_type", "left_child", "right_child")
_NO_CONSTRAINT, _UNREACHABLE = 2, 3  # edge codes besides 0 / 1 (the value of x_i on that edge)


@dataclass
class TreeArrays:
    """One regression tree in LightGBM's flat layout.

    Internal node ``j`` tests feature ``split_feature[j]`` against ``threshold[j]`` (go left when
    ``x <= threshold``, with LightGBM's missing-value rules encoded in ``decision_type[j]``); a child index
    ``c >= 0`` is an internal node and ``c < 0`` is leaf ``~c``. A tree without splits has one leaf.
    """

    split_feature: np.ndarray
    threshold: np.ndarray
    decision_type: np.ndarray
    left_child: np.ndarray
    right_child: np.ndarray
    leaf_value: np.ndarray


def parse_lightgbm_model(model_string: str) -> tuple[list[TreeArrays], float]:
    """Tree arrays of a LightGBM text model and the factor to apply to their sum (``1/T`` for random forests)."""
    trees: list[TreeArrays] = []
    header, *blocks = model_string.split("\nTree=")
    fields = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
    if int(fields.get("num_tree_per_iteration", "1")) != 1:
        raise ValueError("only single-output regression boosters can be converted to a Fourier transform")
    average = "average_output" in header.splitlines()
    for block in blocks:
        block = block.split("\nend of trees")[0]
        kv = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        leaf_value = np.array(kv["leaf_value"].split(), dtype=np.float64)
        if int(kv.get("num_cat", "0")) > 0:
            raise ValueError("categorical splits are not supported: masks are 0/1 numerical features")
        if int(kv["num_leaves"]) == 1:
            empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
            trees.append(TreeArrays(empty_i, empty_f, empty_i, empty_i, empty_i, leaf_value))
            continue
        arrays = {key: np.array(kv[key].split(), dtype=np.int64) for key in _INT_FIELDS}
        threshold = np.array(kv["threshold"].split(), dtype=np.float64)
        trees.append(TreeArrays(threshold=threshold, leaf_value=leaf_value, **arrays))
    return trees, (1.0 / len(trees) if average and trees else 1.0)


def _edge_codes(trees: list[TreeArrays]) -> tuple[np.ndarray, ...]:
    """Concatenate all trees; per child edge, the value of the split feature that leads there.

    Returns, for every internal node and leaf (in global numbering), its parent internal node (``-1`` at a
    root) and the code of the edge from the parent: ``0``/``1`` (only that value of the feature leads
    here), ``_NO_CONSTRAINT`` (both do) or ``_UNREACHABLE`` (neither does).
    """
    n_int = np.array([len(t.split_feature) for t in trees], dtype=np.int64)
    n_leaf = np.array([len(t.leaf_value) for t in trees], dtype=np.int64)
    int_off, leaf_off = np.cumsum(n_int) - n_int, np.cumsum(n_leaf) - n_leaf
    cat = lambda name: np.concatenate([getattr(t, name) for t in trees]) if trees else np.zeros(0)  # noqa: E731
    feature = cat("split_feature").astype(np.int64)
    threshold = cat("threshold").astype(np.float64)
    dtype = cat("decision_type").astype(np.int64)
    tree_of_node = np.repeat(np.arange(len(trees)), n_int)
    if np.any(dtype & _CATEGORICAL):
        raise ValueError("categorical splits are not supported: masks are 0/1 numerical features")

    default_left = (dtype & _DEFAULT_LEFT) != 0
    zero_missing = ((dtype >> 2) & 3) == _MISSING_ZERO
    left0 = np.where(zero_missing, default_left, threshold >= 0.0)  # x_i = 0 goes left?
    left1 = threshold >= 1.0  # x_i = 1 goes left?

    total_int, total_leaf = int(n_int.sum()), int(n_leaf.sum())
    # global ids: internal nodes 0..total_int-1, leaves total_int..total_int+total_leaf-1
    parent = np.full(total_int + total_leaf, -1, dtype=np.int64)
    code = np.full(total_int + total_leaf, _NO_CONSTRAINT, dtype=np.int64)
    for side, goes0, goes1 in (("left_child", left0, left1), ("right_child", ~left0, ~left1)):
        child = cat(side).astype(np.int64)
        gid = np.where(child >= 0, child + int_off[tree_of_node], total_int + leaf_off[tree_of_node] + ~child)
        parent[gid] = np.arange(total_int)
        code[gid] = np.select([goes0 & goes1, goes0, goes1], [_NO_CONSTRAINT, 0, 1], _UNREACHABLE)
    leaves = np.arange(total_int, total_int + total_leaf)
    return feature, parent, code, leaves, cat("leaf_value").astype(np.float64)


def _leaf_constraints(
    feature: np.ndarray, parent: np.ndarray, code: np.ndarray, leaves: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per leaf: sorted distinct constrained features ``(L, D)`` (``PAD``-padded), their required values, liveness."""
    feats, vals = [], []
    node, alive = leaves.copy(), np.ones(len(leaves), dtype=bool)
    while True:
        up = parent[node]
        active = up >= 0
        if not active.any():
            break
        c = np.where(active, code[node], _NO_CONSTRAINT)
        alive &= c != _UNREACHABLE
        constrained = active & (c <= 1)
        feats.append(np.where(constrained, feature[np.maximum(up, 0)], PAD))
        vals.append(np.where(constrained, c, 0))
        node = np.where(active, up, node)
    if not feats:
        return np.zeros((len(leaves), 0), dtype=np.int64), np.zeros((len(leaves), 0), dtype=np.int64), alive
    f, v = np.stack(feats, axis=1), np.stack(vals, axis=1)
    big = np.iinfo(np.int64).max
    key = np.where(f == PAD, big, f * 2 + v)
    order = np.argsort(key, axis=1, kind="stable")
    f, v = np.take_along_axis(f, order, axis=1), np.take_along_axis(v, order, axis=1)
    same = (f[:, 1:] == f[:, :-1]) & (f[:, 1:] != PAD)
    alive &= ~np.any(same & (v[:, 1:] != v[:, :-1]), axis=1)  # x_i = 0 and x_i = 1 on one path
    dup = np.zeros_like(f, dtype=bool)
    dup[:, 1:] = same  # a repeated consistent constraint: (-1)^{2 x_i} = 1, keep it once
    f, v = np.where(dup, PAD, f), np.where(dup, 0, v)
    order = np.argsort(np.where(f == PAD, big, f), axis=1, kind="stable")
    f, v = np.take_along_axis(f, order, axis=1), np.take_along_axis(v, order, axis=1)
    width = int((f != PAD).sum(axis=1).max(initial=0))
    return f[:, :width], v[:, :width], alive


def aggregate_terms(idx: np.ndarray, coefs: np.ndarray, n_features: int) -> SparseTransform:
    """Sum coefficients of equal support rows (each row sorted ascending, ``PAD`` at the end)."""
    if len(idx) == 0:
        return SparseTransform.empty(n_features)
    keys = support_keys(idx, n_features)
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    summed = np.bincount(inverse.ravel(), weights=coefs, minlength=len(uniq))
    return SparseTransform(idx[first], summed, n_features).drop_zeros()


def trees_to_fourier(
    trees: list[TreeArrays], n_features: int, *, scale: float = 1.0, max_degree: int | None = None
) -> SparseTransform:
    """Exact Fourier transform of ``scale * sum of trees`` as a function of ``x in {0,1}^n``.

    ``max_degree`` drops higher-degree terms (the result is then the degree-truncated transform, i.e. the
    best degree-``max_degree`` approximation of the ensemble under uniform masks).
    """
    if not trees:
        return SparseTransform.empty(n_features)
    feature, parent, code, leaves, values = _edge_codes(trees)
    if feature.size and (feature.max() >= n_features or feature.min() < 0):
        raise ValueError(f"the trees split on feature {int(feature.max())}, but n_features is {n_features}")
    f, v, alive = _leaf_constraints(feature, parent, code, leaves)
    f, v, values = f[alive], v[alive], values[alive] * scale
    depth = (f != PAD).sum(axis=1)
    limit = depth.max(initial=0) if max_degree is None else min(int(max_degree), int(depth.max(initial=0)))
    rows, coefs = [], []
    for d in np.unique(depth):
        sel = depth == d
        fd, sd = f[sel][:, :d], np.where(v[sel][:, :d] == 0, 1.0, -1.0)  # sign of (-1)^{x_i} for [x_i = b]
        patterns = ((np.arange(1 << d)[:, None] >> np.arange(d)) & 1).astype(bool)  # (2^d, d)
        patterns = patterns[patterns.sum(axis=1) <= limit]
        sub = np.where(patterns[None], fd[:, None, :], PAD)  # (leaves, P, d), still ascending
        sign = np.where(patterns[None], sd[:, None, :], 1.0).prod(axis=2)
        c = (values[sel] * 0.5**d)[:, None] * sign
        # move PAD to the end of each row while keeping features ascending
        sub = np.sort(np.where(sub == PAD, np.iinfo(np.int64).max, sub), axis=2)
        sub = np.where(sub == np.iinfo(np.int64).max, PAD, sub).reshape(len(c) * c.shape[1], d)
        rows.append(pad_columns(sub, int(limit))[:, :limit])
        coefs.append(c.ravel())
    return aggregate_terms(np.vstack(rows), np.concatenate(coefs), n_features)


def lightgbm_to_fourier(booster, n_features: int, *, num_iteration: int | None = None, max_degree: int | None = None):
    """Exact Fourier transform of a LightGBM regression ``Booster`` (or ``LGBMRegressor``) on 0/1 masks."""
    booster = getattr(booster, "booster_", booster)
    trees, scale = parse_lightgbm_model(booster.model_to_string(num_iteration=num_iteration))
    return trees_to_fourier(trees, n_features, scale=scale, max_degree=max_degree)
