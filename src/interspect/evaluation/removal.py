"""Top-k feature removal: which k features, removed together, move the output the most?

Starting from the all-kept mask, removing a set ``R`` of features changes the surrogate by
``change(R) = f̂(1) - f̂(1 - 1_R)``. :func:`top_k_removal` picks the ``R`` with ``|R| = k`` that
maximises the change (``direction="decrease"``), minimises it (``"increase"``) or maximises ``|change|``
(``"abs"``). Only features that appear in the surrogate can matter, so the search runs over those:

- ``"exact"``: every ``k``-subset of them, evaluated in vectorised batches (small ``k`` / few features);
- ``"milp"``: the Möbius form of the removal function ``h(r) = f̂(1 - r) = sum_T m_h(T) prod_{i in T} r_i``
  with binary removal indicators ``r`` (``sum r = k``, so products of more than ``k`` vanish) and one
  continuous ``y_T`` per product, linearised on the side the objective pushes it (``y_T <= r_i`` when a
  larger product helps, ``y_T >= sum r_i - |T| + 1`` when it hurts), solved by SciPy's ``milp`` (HiGHS);
- ``"greedy"``: removes one feature at a time. It also runs alongside the MILP, whose answer is kept
  unless the time limit stopped it at something worse.

:func:`removal_curve` then measures what the *real* model does when those features are removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain, combinations
from math import comb
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from ..transforms.sparse import PAD, SparseTransform

DIRECTIONS = ("decrease", "increase", "abs")
_EXACT_CHUNK = 4096  # candidate masks evaluated per batch


class Removal(NamedTuple):
    """The chosen features, the surrogate's change ``f̂(1) - f̂(1 - 1_R)``, how they were found."""

    features: tuple[int, ...]
    change: float
    method: str
    optimal: bool


def _removal_masks(n: int, removed: np.ndarray) -> np.ndarray:
    """``(m, n)`` boolean masks keeping everything but the features in each row of ``removed`` ``(m, k)``."""
    masks = np.ones((len(removed), n), dtype=bool)
    masks[np.arange(len(removed))[:, None], removed] = False
    return masks


def _changes(surrogate: SparseTransform, removed: np.ndarray) -> np.ndarray:
    full = surrogate.predict(np.ones((1, surrogate.n_features), dtype=bool))[0]
    return full - surrogate.predict(_removal_masks(surrogate.n_features, removed))


def _score(change: np.ndarray, direction: str) -> np.ndarray:
    return {"decrease": change, "increase": -change, "abs": np.abs(change)}[direction]


def _exact(surrogate: SparseTransform, active: np.ndarray, idle: np.ndarray, k: int, direction: str) -> np.ndarray:
    """Every choice of ``j`` active features (topped up with ``k - j`` idle ones), best by ``direction``."""
    best, best_score = None, -np.inf
    for j in range(max(0, k - len(idle)), min(k, len(active)) + 1):
        total = comb(len(active), j)
        flat = np.fromiter(chain.from_iterable(combinations(range(len(active)), j)), dtype=np.int64, count=total * j)
        subsets = np.hstack([active[flat.reshape(total, j)], np.broadcast_to(idle[: k - j], (total, k - j))])
        for lo in range(0, total, _EXACT_CHUNK):
            score = _score(_changes(surrogate, subsets[lo : lo + _EXACT_CHUNK]), direction)
            i = int(np.argmax(score))
            if score[i] > best_score:
                best, best_score = subsets[lo + i], score[i]
    assert best is not None, "no finite removal score (k <= n always leaves at least one candidate subset)"
    return best


def _greedy(surrogate: SparseTransform, candidates: np.ndarray, k: int, direction: str) -> np.ndarray:
    chosen = np.zeros(0, dtype=np.int64)
    left = candidates
    for _ in range(k):
        trial = np.hstack([np.broadcast_to(chosen, (len(left), len(chosen))), left[:, None]])
        i = int(np.argmax(_score(_changes(surrogate, trial), direction)))
        chosen, left = trial[i], np.delete(left, i)
    return chosen


def _milp(
    surrogate: SparseTransform, candidates: np.ndarray, sizes: tuple[int, int], sign: float, time_limit: float
) -> tuple[np.ndarray | None, bool]:
    """Maximise ``sign * f̂(1 - r)`` over removal indicators ``r`` on ``candidates``, ``lo <= sum r <= hi``.

    ``h(R) = f̂(1 - 1_R)`` has Fourier coefficients ``(-1)^|T| F(T)``; in its Möbius form ``sum_T m_h(T) prod r_i``
    every product of more than ``hi`` indicators vanishes, so those terms are dropped.
    """
    fourier = surrogate.to_fourier()
    flipped = fourier.with_coefs(np.where(fourier.degrees % 2 == 1, -fourier.coefs, fourier.coefs))
    mob = flipped.to_mobius().prune(max_degree=sizes[1])
    local = np.full(surrogate.n_features + 1, -1, dtype=np.int64)  # feature -> variable (PAD maps to -1)
    local[candidates] = np.arange(len(candidates))
    idx = np.where(mob.idx == PAD, surrogate.n_features, mob.idx)
    var = local[idx]  # (terms, D) variable of each feature in each term, -1 for padding
    gain = sign * mob.coefs  # maximise sum gain_T * prod r
    nx = len(candidates)
    c = np.zeros(nx)
    singles = mob.degrees == 1
    if singles.any():
        np.add.at(c, var[singles, 0], -gain[singles])  # milp minimises
    multi = np.flatnonzero(mob.degrees >= 2)
    ny = len(multi)
    y_of = nx + np.arange(ny)
    c = np.concatenate([c, -gain[multi]])
    rows, cols, vals, lb, ub = [], [], [], [], []
    n_rows = 0
    # larger product helps: y_T - r_i <= 0 for every i in T
    up = multi[gain[multi] > 0]
    if len(up):
        member = var[up] >= 0
        t_of, pos = np.nonzero(member)
        r = n_rows + np.arange(len(t_of))
        y_cols = y_of[np.searchsorted(multi, up)][t_of]
        rows += [r, r]
        cols += [y_cols, var[up][t_of, pos]]
        vals += [np.ones(len(r)), -np.ones(len(r))]
        lb.append(np.full(len(r), -np.inf))
        ub.append(np.zeros(len(r)))
        n_rows += len(r)
    # larger product hurts: y_T - sum_{i in T} r_i >= 1 - |T|
    down = multi[gain[multi] < 0]
    if len(down):
        member = var[down] >= 0
        t_of, pos = np.nonzero(member)
        r = n_rows + np.arange(len(down))
        rows += [r, r[t_of]]
        cols += [y_of[np.searchsorted(multi, down)], var[down][t_of, pos]]
        vals += [np.ones(len(down)), -np.ones(len(t_of))]
        lb.append(1.0 - mob.degrees[down])
        ub.append(np.full(len(down), np.inf))
        n_rows += len(down)
    # between lo and hi of the candidates removed
    rows.append(np.full(nx, n_rows))
    cols.append(np.arange(nx))
    vals.append(np.ones(nx))
    lb.append(np.array([sizes[0]]))
    ub.append(np.array([sizes[1]]))
    a = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows + 1, nx + ny))
    res = milp(
        c,
        integrality=np.concatenate([np.ones(nx), np.zeros(ny)]),
        bounds=Bounds(0.0, 1.0),
        constraints=LinearConstraint(a, np.concatenate(lb), np.concatenate(ub)),
        options={"time_limit": float(time_limit), "mip_rel_gap": 1e-9},  # HiGHS stops at 1e-4 by default
    )
    if res.x is None:
        return None, False
    removed = candidates[np.flatnonzero(res.x[:nx] > 0.5)]
    return (removed, res.status == 0) if sizes[0] <= len(removed) <= sizes[1] else (None, False)


def top_k_removal(
    surrogate: SparseTransform,
    k: int,
    *,
    direction: str = "abs",
    method: str = "auto",
    max_exact: int = 200_000,
    time_limit: float = 60.0,
) -> Removal:
    """The ``k`` features whose joint removal from the all-kept mask changes the surrogate most.

    ``method="auto"`` searches exhaustively when there are at most ``max_exact`` candidate subsets and
    solves the MILP otherwise (``time_limit`` seconds per solve; ``"abs"`` solves two). ``"greedy"`` is the
    fast heuristic; it also runs next to the MILP and its answer is kept when the MILP, stopped by the time
    limit, found nothing better (``Removal.method`` then says ``"greedy"``). ``Removal.optimal`` is True only
    for a proven optimum (exhaustive search or a MILP solved to optimality).
    """
    if not isinstance(surrogate, SparseTransform) or surrogate.basis not in ("fourier", "mobius"):
        raise TypeError("surrogate must be a Fourier or Möbius SparseTransform")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if method not in ("auto", "exact", "milp", "greedy"):
        raise ValueError(f"method must be 'auto', 'exact', 'milp' or 'greedy', got {method!r}")
    n, k = surrogate.n_features, int(k)
    if not 0 <= k <= n:
        raise ValueError(f"k must lie in 0..{n}, got {k}")
    active = np.unique(surrogate.idx[surrogate.idx != PAD]).astype(np.int64)
    # removing a feature the surrogate ignores changes nothing: up to k of them are "skip" moves
    idle = np.setdiff1d(np.arange(n), active)[:k]
    sizes = (max(0, k - len(idle)), min(k, len(active)))
    if method == "auto":
        total = sum(comb(len(active), j) for j in range(sizes[0], sizes[1] + 1))
        method = "exact" if total <= max_exact else "milp"
    if sizes[1] == 0:  # nothing the surrogate uses may be removed (k = 0 or no active features)
        method = "exact"
    optimal = method == "exact"
    if method == "exact":
        features = _exact(surrogate, active, idle, k, direction)
    elif method == "greedy":
        features = _greedy(surrogate, np.concatenate([active, idle]), k, direction)
    else:
        signs = {"decrease": [-1.0], "increase": [1.0], "abs": [-1.0, 1.0]}[direction]
        found = [_milp(surrogate, active, sizes, s, time_limit) for s in signs]
        solved = [np.concatenate([r, idle[: k - len(r)]]) for r, _ in found if r is not None]
        optimal = len(solved) == len(found) and all(ok for _, ok in found)
        options = [*solved, _greedy(surrogate, np.concatenate([active, idle]), k, direction)]
        score = _score(_changes(surrogate, np.array(options)), direction)
        best = int(np.argmax(score))  # ties keep the MILP answer
        if best == len(solved):
            method, optimal = "greedy", False
        features = options[best]
    features = np.sort(np.asarray(features, dtype=np.int64))
    change = float(_changes(surrogate, features[None, :])[0])
    return Removal(tuple(int(i) for i in features), change, method, bool(optimal))


def removal_curve(
    value_function: Callable[[np.ndarray], np.ndarray],
    selection: Sequence[int] | np.ndarray | SparseTransform | Callable[[int], Sequence[int]],
    ks: Sequence[int],
    *,
    n_features: int | None = None,
    **removal_options,
) -> np.ndarray:
    """The real model's change ``f(1) - f(1 - 1_R_k)`` for each ``k`` in ``ks``, in one batched call.

    ``selection`` is a ranking of features (``R_k`` = its first ``k``; e.g. ``np.argsort(-abs(shapley))``),
    a surrogate ``SparseTransform`` (``R_k`` from :func:`top_k_removal` with ``removal_options``), or a
    callable ``k -> features``. ``n_features`` defaults to ``value_function.n_features`` (a QueryEngine)
    or the surrogate's.
    """
    if n_features is None:
        n_features = getattr(value_function, "n_features", getattr(selection, "n_features", None))
    if n_features is None:
        raise ValueError("pass n_features (the value function does not expose it)")
    pick: Callable[[int], Sequence[int] | np.ndarray]
    if isinstance(selection, SparseTransform):
        pick = lambda k: top_k_removal(selection, k, **removal_options).features  # noqa: E731
    elif callable(selection):
        pick = selection
    else:
        ranking = np.asarray(selection, dtype=np.int64).ravel()
        pick = lambda k: ranking[:k]  # noqa: E731
    masks = np.ones((len(ks) + 1, int(n_features)), dtype=bool)
    for row, k in enumerate(ks, start=1):
        if not 0 <= int(k) <= n_features:
            raise ValueError(f"k must lie in 0..{n_features}, got {k}")
        chosen = np.asarray(pick(int(k)), dtype=np.int64)
        if len(chosen) != int(k):
            raise ValueError(f"selection returned {len(chosen)} features for k={k}")
        masks[row, chosen] = False
    values = np.asarray(value_function(masks), dtype=np.float64).reshape(len(masks))
    return values[0] - values[1:]
