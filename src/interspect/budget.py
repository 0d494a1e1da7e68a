"""How :func:`interspect.explain` spends a budget: held-out masks set aside, and budgets grown in rounds.

One held-out mechanism serves every method: ``holdout="auto"`` sets a tenth of the budget aside (at most
:data:`MAX_HOLDOUT`) unless the method cross-validates at that budget or the budget covers every input.
Without a budget, ``auto`` and ``proxyspex`` fit in rounds of doubling size, each round repeating the masks
of the last (the method's random stream restarts), until held-out R² reaches ``target_r2`` or stops
improving, within :func:`growth_cap`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .algorithms.numerics import heldout_masks
from .contracts import FitResult

#: share of a given budget set aside for held-out R² under ``holdout="auto"``
HOLDOUT_SHARE = 0.1
#: most held-out masks bought by default: enough for R² (its standard error is about 0.06·(1 - R²) at 500)
MAX_HOLDOUT = 500
#: fewer held-out masks than this measure nothing useful; ``"auto"`` then buys none
MIN_HOLDOUT = 5
#: default held-out size when no budget is given: ``n_fit / 10`` clipped to this range
FREE_HOLDOUT_RANGE = (32, 500)
#: methods that cross-validate their own fit below :data:`CV_MAX_QUERIES` fitted queries (ProxySPEX's rule)
CV_METHODS = frozenset({"auto", "proxyspex"})
CV_MAX_QUERIES = 1000
#: methods whose budget is free (random queries), so it can grow in rounds
GROWING_METHODS = frozenset({"auto", "proxyspex"})
#: held-out masks of a growing budget: ``cap / 20`` clipped to this range
GROWTH_HOLDOUT_RANGE = (32, 300)
#: a round must raise held-out R² by this much to be worth another doubling
MIN_ROUND_GAIN = 0.01
#: a growing budget may cover every input of functions this small (exact answer)
GROWTH_ENUMERATE = 4096


def growth_cap(n_inputs: int, n_features: int) -> int:
    """Most queries a growing budget spends: ``n log2 n`` (at least 64), or every input when there are few."""
    n_log_n = max(64, math.ceil(n_features * math.log2(max(n_features, 2))))
    return max(n_log_n, min(n_inputs, GROWTH_ENUMERATE))


@dataclass(frozen=True)
class HoldoutPlan:
    """The held-out masks and fit budget chosen before fitting (see the module docstring)."""

    requested: int | str
    budget: int | None
    reserved: int  # held-out masks set aside from ``budget``
    fit_budget: int | None
    grow: bool
    n_inputs: int
    qary: bool

    def wants_heldout(self, result: FitResult, n_answered: int) -> bool:
        """Whether held-out masks are bought after the fit."""
        if n_answered >= self.n_inputs:
            return False  # every input answered: faithfulness is exact
        if isinstance(self.requested, int):
            return self.requested > 0
        if self.budget is not None:
            return self.reserved > 0
        return result.faithfulness is None

    def heldout_size(self, n_fit: int) -> int:
        if isinstance(self.requested, int):
            return self.requested
        if self.budget is not None:
            return self.reserved
        low, high = FREE_HOLDOUT_RANGE
        return int(np.clip(n_fit // 10, low, high))

    def buy(self, engine: Any, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``size`` uniformly random inputs the engine has not seen, and their values."""
        inputs = fresh_inputs(engine, size, rng, engine.q if self.qary else None)
        return inputs, engine(inputs)


def plan_holdout(holdout: int | str, budget: int | None, method: str, n_inputs: int, qary: bool) -> HoldoutPlan:
    """Split ``budget`` into fit and held-out queries (see the module docstring)."""
    reserved = 0
    covers_all = budget is not None and budget >= n_inputs
    if isinstance(holdout, int):
        if budget is not None and holdout >= budget:
            raise ValueError(f"holdout={holdout} leaves nothing of budget={budget} to fit")
        reserved = holdout if budget is not None else 0
    elif budget is not None and not covers_all:
        cross_validates = method in CV_METHODS and not qary and budget < CV_MAX_QUERIES
        share = min(MAX_HOLDOUT, int(HOLDOUT_SHARE * budget))
        reserved = 0 if cross_validates or share < MIN_HOLDOUT else share
    fit_budget = None if budget is None else budget - reserved
    grow = budget is None and method in GROWING_METHODS and not qary and holdout != 0
    return HoldoutPlan(holdout, budget, reserved, fit_budget, grow, n_inputs, qary)


def fresh_inputs(engine: Any, size: int, rng: np.random.Generator, q: int | None = None, rounds: int = 8) -> np.ndarray:
    """Up to ``size`` distinct uniform inputs (0/1 masks, or digits below ``q``) that ``engine`` has not answered."""
    if q is None:
        return heldout_masks(engine, size, rng)
    found = np.zeros((0, engine.n_features), dtype=np.uint8)
    for _ in range(rounds):
        need = size - len(found)
        if need <= 0:
            break
        draw = rng.integers(0, q, size=(2 * need, engine.n_features)).astype(np.uint8)
        draw = draw[~engine.seen(draw)]
        if len(found):
            draw = draw[~rows_in(draw, found)]
        _, first = np.unique(draw.astype(np.uint8), axis=0, return_index=True)
        found = np.concatenate([found, draw[np.sort(first)][:need]])
    return found


def rows_in(rows: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Whether each row of ``rows`` occurs in ``among``."""
    both = np.concatenate([among, rows]).astype(np.uint8)
    _, inverse = np.unique(both, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    return np.isin(inverse[len(among) :], inverse[: len(among)])


def grow_budget(
    fit: Callable[[int], FitResult],
    engine: Any,
    plan: HoldoutPlan,
    target_r2: float,
    rng: np.random.Generator,
    r2_of: Callable[[FitResult, np.ndarray, np.ndarray], float],
) -> tuple[FitResult, dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """Fit with doubling budgets until held-out R² reaches ``target_r2``, stops improving, or hits the cap.

    Returns the best round's fit, a record of the rounds and why growth stopped, and the held-out masks.
    """
    cap = growth_cap(plan.n_inputs, engine.n_features)
    low, high = GROWTH_HOLDOUT_RANGE
    heldout = plan.buy(engine, int(np.clip(cap // 20, low, high)), rng)
    budgets = [cap]
    while budgets[0] // 2 >= max(64, cap // 8):
        budgets.insert(0, budgets[0] // 2)
    rounds: list[dict[str, Any]] = []
    best: tuple[float, FitResult] | None = None
    reason = f"reached the cap of {cap} queries"
    for budget in budgets:
        result = fit(budget)
        r2 = r2_of(result, *heldout)
        rounds.append({"budget": budget, "heldout_r2": r2})
        if best is None or r2 > best[0]:
            best = (r2, result)
        if r2 >= target_r2:
            reason = f"held-out R² {r2:.3f} reached target_r2={target_r2}"
            break
        if len(rounds) >= 2 and r2 - rounds[-2]["heldout_r2"] < MIN_ROUND_GAIN:
            reason = f"held-out R² stopped improving ({rounds[-2]['heldout_r2']:.3f} -> {r2:.3f})"
            break
    assert best is not None
    return best[1], {"rounds": rounds, "cap": cap, "stopped": reason}, heldout
