"""The proxy: LightGBM trees fitted to the queries, and the candidate terms read off them exactly.

Influential interactions are hierarchical (a strong ``{i, j, k}`` comes with strong subsets), which greedy tree
splits find with few queries. One fit with early stopping on one validation split chooses the number of trees
(the hyper-parameter that matters) instead of the references' 5-fold grids of 40-60 fits; the ensemble's
Fourier transform is then read off the trees exactly (:mod:`..tree_fourier`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...transforms.sparse import SparseTransform
from .packed import PackedMasks, as_packed, lightgbm_rows

#: share of the rows that validate the trees (the usual 80/20 split) ...
VALIDATION_SHARE = 0.2
#: ... and at most this many: they choose a handful of sizes, while the trees gain from every extra row
#: (measured on VADER, BENCHMARKS.md "ProxySPEX")
VALIDATION_MAX_ROWS = 500
#: a high rate with early stopping: few rounds, and the number of trees still adapts to the data
LEARNING_RATE = 0.2
#: early-stopping patience in rounds, and the most rounds ever run
PATIENCE = 25
#: ... and on the residual of a prior (``offset``), which has left the trees little to find
RESIDUAL_PATIENCE = 5
MAX_ROUNDS = 800
#: a round must cut the validation MSE by this share of the variance to count as progress
MIN_GAIN = 1e-4
#: rows sampled to find the two bins of each 0/1 feature (uniform masks show both values with certainty)
BIN_SAMPLE_ROWS = 1000
#: up to this many rows LightGBM runs on one thread unless ``n_jobs`` says otherwise: on small data the threads'
#: synchronisation outweighs the work (LightGBM's docs); on a loaded 2-core machine 6x slower per round
SINGLE_THREAD_MAX_ROWS = 20_000
#: a tiny L2 penalty on leaf values: keeps leaves with a single row finite without shrinking the others
LEAF_L2 = 1e-3
#: the trees train on at most ``max(TREE_MIN_ROWS, TREE_MAX_CELLS / n)`` of the training rows (a random subset):
#: a round costs rows x features, the trees only propose candidates, and the selection and refit use every row
#: (planted functions at n = 1,024: the same R² from 2,441 tree rows as from 9,740, 3.5x faster; n = 10,000 at
#: 132,878 queries: exact from 2,000; no case of the text or VADER grids reaches the cap). Where the cap leaves
#: rows out and the trees still keep at least one row per feature, each tree also learns from a gradient-based
#: share of the rows it keeps (LightGBM's GOSS: the largest gradients plus a sample of the rest), so a round
#: costs about a third; with fewer rows than features the sampled trees miss terms (n = 10,000, BENCHMARKS.md)
TREE_MAX_CELLS = 2_500_000
TREE_MIN_ROWS = 2_000
#: above this many training cells the rows reach LightGBM as a stream of unpacked chunks (no float copy held)
STREAM_MIN_CELLS = 1 << 24


def _data_params(m: int) -> dict[str, Any]:
    """LightGBM's Dataset parameters for ``m`` rows of 0/1 features: two bins, found from a sample of rows
    (uniform masks show both values of every feature in it); no feature bundling (the masks are dense and
    independent, bundling only costs time)."""
    return {
        "max_bin": 2,
        "min_data_in_bin": 1,
        "bin_construct_sample_cnt": int(min(m, BIN_SAMPLE_ROWS)),
        "enable_bundle": False,
        "feature_pre_filter": False,
        "verbosity": -1,
    }


class TreeData:
    """The masks binned once by LightGBM, cut into row subsets for each fit.

    The small-budget stack fits the trees on eleven overlapping row sets (all rows and ten folds); binning the
    rows once and taking LightGBM subsets of them gives the same bins (two per 0/1 feature) at a fraction of the
    cost of building each Dataset from its own float copy.
    """

    def __init__(self, base: Any, rows: np.ndarray, params: dict[str, Any]) -> None:
        self.base, self.rows, self.params = base, rows, params  # params: the Dataset parameters of the binning

    @classmethod
    def build(cls, x: PackedMasks, y: np.ndarray) -> TreeData:
        """Bin the masks ``x`` (labels ``y``)."""
        import lightgbm as lgb

        params = _data_params(len(y))
        base = lgb.Dataset(x.rows().astype(np.float32), y, params=params, free_raw_data=False)
        return cls(base.construct(), np.arange(len(y)), params)

    def restrict(self, index: np.ndarray) -> TreeData:
        """The same binned rows, seen through the rows ``index`` (positions, or a boolean selector) of this view."""
        return TreeData(self.base, self.rows[index], self.params)

    def subset(self, index: np.ndarray) -> Any:
        """A LightGBM Dataset of the rows ``index`` (positions in this view), in increasing order (LightGBM sorts a
        subset's rows)."""
        return self.base.subset(self.rows[index])


def tree_rows(n_rows: int, n_features: int) -> int:
    """How many training rows the trees see (the rest still rank, select and refit)."""
    return int(min(n_rows, max(TREE_MIN_ROWS, TREE_MAX_CELLS // max(1, n_features))))


def fit_tree_proxy(
    x: np.ndarray | PackedMasks,
    y: np.ndarray,
    max_order: int,
    rng: np.random.Generator,
    n_jobs: int | None,
    depths: tuple[int, ...] | None = None,
    learning_rate: float = LEARNING_RATE,
    data: TreeData | None = None,
    offset: np.ndarray | None = None,
) -> tuple[Any, dict[str, Any]]:
    """LightGBM proxy: one validation split with early stopping (choosing the number of trees).

    ``depths`` (default: ``max_order`` only, so that trees can express every order sought) may list several
    depths; the one with the best validation R² wins. ``n_jobs`` LightGBM threads (``None``: its default).
    ``data``: the rows of ``x``, already binned (:class:`TreeData`). Returns the booster and its diagnostics,
    ``"validation_rows"`` the rows it was validated on.
    """
    import lightgbm as lgb

    masks = as_packed(x)
    m, n = masks.shape
    perm = rng.permutation(m)
    n_val = max(2, min(int(round(VALIDATION_SHARE * m)), VALIDATION_MAX_ROWS))
    val, tr = perm[:n_val], perm[n_val:]
    kept = tree_rows(len(tr), n)
    goss = n <= kept < len(tr)  # capped, and still a row per feature: see TREE_MAX_CELLS
    tr = tr[:kept]  # a random subset: perm is a random order
    if data is not None:  # LightGBM keeps a subset's rows in increasing order: so must the labels and offsets
        tr, val = np.sort(tr), np.sort(val)
    depths = depths or (max_order,)
    x_val = masks.rows(val).astype(np.float32)
    data_params = _data_params(m) if data is None else data.params  # a subset keeps its base's binning
    base = {
        **data_params,
        "objective": "regression",
        "learning_rate": learning_rate,
        "min_data_in_leaf": int(max(2, min(20, len(tr) // 40))),  # LightGBM's default 20, fewer on small data
        "min_sum_hessian_in_leaf": 0.0,
        "lambda_l2": LEAF_L2,
        "force_row_wise": True,
        "deterministic": True,
        "num_threads": (0 if m > SINGLE_THREAD_MAX_ROWS else 1) if n_jobs is None else int(n_jobs),  # 0: OpenMP's
        "seed": int(rng.integers(2**31 - 1)),
        **({"data_sample_strategy": "goss"} if goss else {}),
    }
    if data is not None:
        train_set, val_set = data.subset(tr), data.subset(val)
    else:
        streamed = len(tr) * n > STREAM_MIN_CELLS
        train_x = lightgbm_rows(masks, tr) if streamed else masks.rows(tr).astype(np.float32)
        train_set = lgb.Dataset(train_x, y[tr], params=data_params, free_raw_data=streamed)
        val_set = lgb.Dataset(x_val, y[val], params=data_params, reference=train_set)
    if offset is not None:  # after construction: a subset of TreeData takes no init score before it
        train_set.construct().set_init_score(offset[tr])
        val_set.construct().set_init_score(offset[val])
    start = np.zeros(len(val)) if offset is None else offset[val]
    patience = PATIENCE if offset is None else RESIDUAL_PATIENCE
    var = float(np.var(y[val])) or 1.0
    best: tuple[float, Any, dict[str, Any]] | None = None
    for depth in depths:
        params = dict(base, max_depth=int(depth), num_leaves=int(max(2, 2**depth)))
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[val_set],
            callbacks=[lgb.early_stopping(patience, verbose=False, min_delta=MIN_GAIN * var)],
            keep_training_booster=True,  # the trees are read once; no round trip through the model text
        )
        mse = float(np.mean((start + booster.predict(x_val, num_iteration=booster.best_iteration) - y[val]) ** 2))
        r2 = 1.0 - mse / var
        if best is None or r2 > best[0]:
            best = (r2, booster, {"max_depth": int(depth), "n_trees": int(booster.best_iteration)})
    assert best is not None
    info = dict(best[2], proxy_r2=best[0], learning_rate=learning_rate, validation_rows=val, tree_rows=len(tr))
    info["goss"] = goss
    return best[1], info


def candidate_terms(
    proxy_fourier: SparseTransform, x: PackedMasks, y: np.ndarray, rows: np.ndarray
) -> tuple[SparseTransform, np.ndarray]:
    """Proxy terms (without the empty set) plus all singletons, with a magnitude score for each.

    Singletons the trees never split on are scored by their direct estimate ``|mean(y (-1)^{x_i})|`` over the
    ``rows`` (a boolean selector), so a feature the proxy missed can still enter the model when the data
    support it.
    """
    n = x.n_features
    proxy = proxy_fourier.prune(tol=0.0)
    proxy = proxy._select(proxy.degrees > 0)
    singles = SparseTransform(np.arange(n)[:, None], np.zeros(n), n)
    merged = proxy + singles  # duplicate supports are summed: singles add 0
    score = np.abs(merged.coefs)
    is_single = merged.degrees == 1
    y_r = y[rows]
    direct = np.abs(x.signed_sums(y_r - y_r.mean(), rows)) / len(y_r)
    feat = merged.idx[is_single, 0]
    score[is_single] = np.maximum(score[is_single], np.where(score[is_single] > 0, 0.0, direct[feat]))
    return merged, score
