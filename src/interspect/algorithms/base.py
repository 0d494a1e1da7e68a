"""What every algorithm shares: the result type, the method registry and the final least-squares refit."""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from ..transforms.sparse import PAD, SparseTransform

#: method name -> "module:function" (relative to ``interspect.algorithms``), imported on first use so a
#: user of one method never pays for another's imports.
METHODS: dict[str, str] = {
    "exact": "exact:fit_exact",
    "lasso": "regression:fit_lasso",
    "faith_banzhaf": "regression:fit_faith_banzhaf",
    "kernelshap": "regression:fit_kernelshap",
    "spex": "spex.spex:fit_spex",
    "proxyspex": "proxyspex:fit_proxyspex",
    "qsft": "qsft.binary:fit_qsft_binary",
    "auto": "auto:fit_auto",
}
#: methods for q-ary inputs (``explain(..., q=...)``): ``auto`` is q-SFT there
QARY_METHODS: dict[str, str] = {"auto": "qsft.qsft:fit_qsft", "qsft": "qsft.qsft:fit_qsft"}
#: the methods ``auto`` may hand over to; its options are theirs too
AUTO_SUBMETHODS = ("exact", "proxyspex", "spex")


@dataclass
class FitResult:
    """What an algorithm returns.

    ``fourier`` is the recovered sparse Fourier transform; ``holdout`` optionally carries masks the fit never
    used and their model values (already paid for), from which held-out R² is measured; ``info`` holds
    method-specific diagnostics (chosen parameters, messages) that end up in ``Explanation.info``.
    """

    fourier: SparseTransform
    info: dict[str, Any] = field(default_factory=dict)
    holdout: tuple[np.ndarray, np.ndarray] | None = None


def method_key(name: object) -> str:
    """The registry key of a method name (case and ``-``/``_`` insensitive), or a ValueError naming the choices."""
    if not isinstance(name, str):
        raise TypeError(f"method must be a string, one of {sorted(METHODS)}; got {name!r}")
    key = name.strip().lower().replace("-", "_")
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    return key


def get_method(name: str, qary: bool = False) -> Callable[..., FitResult]:
    """Resolve a registered method name to its ``fit_*`` function (``qary``: among the q-ary methods)."""
    key = method_key(name)
    if qary and key not in QARY_METHODS:
        raise ValueError(f"q-ary inputs are explained by {sorted(QARY_METHODS)}, not method={name!r}")
    module, func = (QARY_METHODS if qary else METHODS)[key].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), func)


#: parameters every ``fit_*`` receives from :func:`interspect.explain`, never user options
COMMON_PARAMETERS = frozenset({"engine", "budget", "max_order", "random_state"})


def method_options(fit: Callable[..., Any]) -> frozenset[str]:
    """The keyword options a ``fit_*`` function accepts beyond the common ones."""
    params = inspect.signature(fit).parameters.values()
    return frozenset(
        p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in COMMON_PARAMETERS
    )


def accepted_options(method: str, qary: bool = False) -> frozenset[str]:
    """Every option ``method`` takes; for ``auto`` also those it routes to the methods it may choose."""
    accepted = method_options(get_method(method, qary))
    if method_key(method) == "auto" and not qary:
        for sub in AUTO_SUBMETHODS:
            accepted |= method_options(get_method(sub))
    return accepted


def check_options(method: str, options: dict[str, Any], qary: bool = False) -> None:
    """Raise a ValueError naming the valid options when ``options`` holds one that ``method`` does not take."""
    valid = accepted_options(method, qary)
    unknown = sorted(set(options) - valid)
    if unknown:
        close = {u: difflib.get_close_matches(u, valid, n=1) for u in unknown}
        hints = "".join(f" (did you mean {c[0]!r} for {u!r}?)" for u, c in close.items() if c)
        raise ValueError(
            f"method {method!r} has no option {', '.join(map(repr, unknown))}{hints};"
            f" its options are: {', '.join(sorted(valid)) or 'none'}"
        )


def fourier_design(masks: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``(m, k)`` matrix of Fourier basis functions ``(-1)^{|T & S|}`` for supports ``idx`` on ``masks``."""
    x = np.asarray(masks) != 0
    xp = np.zeros((x.shape[0], x.shape[1] + 1), dtype=np.uint8)
    xp[:, :-1] = x
    gather = np.where(idx == PAD, x.shape[1], idx)
    hits = xp[:, gather].sum(axis=2, dtype=np.uint8)
    return 1.0 - 2.0 * (hits & 1)


def refit_fourier(
    masks: np.ndarray,
    values: np.ndarray,
    support: SparseTransform,
    alpha: float = 0.0,
    always_include_empty: bool = True,
) -> SparseTransform:
    """Least-squares (``alpha = 0``) or ridge refit of the coefficients of ``support`` on observed queries.

    The empty set (intercept) is always added and never penalised. Solved through the normal equations
    with a Cholesky factorisation, falling back to ``lstsq`` when the design is rank deficient.
    """
    if always_include_empty:
        support = support + SparseTransform([()], [0.0], support.n_features)
    design = fourier_design(masks, support.idx)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    gram = design.T @ design
    rhs = design.T @ y
    penalty = np.full(len(support), float(alpha) * len(y))
    penalty[support.degrees == 0] = 0.0
    gram[np.diag_indices_from(gram)] += penalty
    # small dense solves: multi-threaded BLAS only adds contention on a 2-core machine
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            coefs = scipy.linalg.solve(gram, rhs, assume_a="pos")
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            solver_input = (design, y) if alpha == 0 else (gram, rhs)
            coefs = np.linalg.lstsq(*solver_input, rcond=None)[0]
    return support.with_coefs(coefs)


def uniform_masks(n_masks: int, n_features: int, rng: np.random.Generator) -> np.ndarray:
    """``(m, n)`` masks with every feature kept independently with probability 1/2."""
    return rng.random((int(n_masks), int(n_features))) < 0.5
