"""What every algorithm shares: the method registry and the checking of method options."""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from ..contracts import FitResult

#: method name -> "module:function" (relative to ``interspect.algorithms``), imported on first use so a
#: user of one method never pays for another's imports.
METHODS: dict[str, str] = {
    "exact": "exact:fit_exact",
    "lasso": "regression:fit_lasso",
    "faith_banzhaf": "regression:fit_faith_banzhaf",
    "kernelshap": "kernelshap:fit_kernelshap",
    "spex": "spex.spex:fit_spex",
    "proxyspex": "proxyspex:fit_proxyspex",
    "qsft": "qsft.binary:fit_qsft_binary",
    "auto": "auto:fit_auto",
}
#: methods for q-ary inputs (``explain(..., q=...)``): ``auto`` is q-SFT there
QARY_METHODS: dict[str, str] = {"auto": "qsft.qsft:fit_qsft", "qsft": "qsft.qsft:fit_qsft"}
#: the methods ``auto`` may hand over to; its options are theirs too
AUTO_SUBMETHODS = ("exact", "proxyspex", "spex")


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
COMMON_PARAMETERS = frozenset({"engine", "budget", "max_order", "random_state", "n_jobs"})


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
