"""The "cost and faithfulness" rows of a report: method, budget (and why growth stopped), queries, R², time.

Exact runs show no held-out line (every mask was answered); the surrogate's orders and the requested
``max_order`` are shown side by side in one wording.
"""

from __future__ import annotations

from typing import Any

from .table import method_label

#: metadata / request keys with their own place in the report (not repeated in the details table)
_SHOWN_ELSEWHERE = {"text", "units", "spans", "question", "target", "answer", "feature_names", "request"}
_SHOWN_ELSEWHERE |= {"method", "budget", "max_order", "holdout"}


def _seconds(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f} s"


def _terms_text(explanation: Any, max_order: Any) -> str:
    surrogate = explanation.transform if getattr(explanation, "is_qary", False) else explanation.fourier
    degrees = surrogate.degrees[surrogate.degrees > 0]
    found = f"orders 1 to {int(degrees.max())}" if degrees.size else "constant only"
    asked = "" if max_order is None else f"; max_order {max_order} requested"
    return f"{len(surrogate)} ({found}{asked})"


def cost_rows(explanation: Any) -> list[tuple[str, str]]:
    """``(label, text)`` rows, then the request's and metadata's other plain values."""
    info, meta = explanation.info, explanation.metadata
    request = meta.get("request") or {}
    faith = explanation.faithfulness
    if faith.r2 is None:
        r2_text = "not measured"
    elif faith.kind == "exact":
        r2_text = f"{faith.r2:.3f} (exact: every one of the {faith.n_masks} masks)"
    else:
        r2_text = f"{faith.r2:.3f} ({faith.kind}, {faith.n_masks} masks)"
    budget = request.get("budget", info.get("budget"))
    growth = info.get("budget_growth") or {}
    if budget is None and growth.get("stopped"):
        budget_text = f"grown in {len(growth.get('rounds', []))} rounds: {growth['stopped']}"
    else:
        budget_text = "method default" if budget is None else str(budget)
    held = explanation.n_heldout_queries
    queries = str(explanation.n_queries)
    if held and faith.kind != "exact":
        queries += f" ({explanation.n_fit_queries} fitted + {held} held out for R²)"
    timing = explanation.timing
    rows = [
        ("method", method_label(explanation, reason=True)),
        ("budget", budget_text),
        ("model queries", queries),
        ("faithfulness R²", r2_text),
        (
            "time",
            f"model {_seconds(timing.get('model_s'))}, algorithm {_seconds(timing.get('algorithm_s'))},"
            f" total {_seconds(timing.get('total_s'))}",
        ),
        ("units (features)", str(explanation.n_features)),
        ("surrogate terms", _terms_text(explanation, request.get("max_order", info.get("max_order")))),
    ]
    for key, value in {**request, **meta}.items():
        if key not in _SHOWN_ELSEWHERE and isinstance(value, str | int | float | bool):
            rows.append((str(key), str(value)))
    return rows
