"""Matplotlib bar chart of the strongest interactions (q-ary: feature importances), for notebooks and ``--png``.

matplotlib is imported lazily. One colour meaning per chart: the sign of the value (red: raises the output,
or a synergy for two or more units; blue: lowers it, or a redundancy); q-ary importances in one hue.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .charts import NEGATIVE_RGB, POSITIVE_RGB, SHARE_RGB
from .notes import NEGLIGIBLE_SHARE
from .table import interaction_label, method_label, shorten, strongest, unit_texts


def plot_explanation(
    explanation: Any,
    ax: Any = None,
    k: int = 10,
    *,
    index: str = "mobius",
    min_order: int = 1,
    units: Sequence[str] | None = None,
    width: int = 48,
) -> Any:
    """Horizontal bars of the ``k`` strongest interactions under ``index`` (red raises, blue lowers the output).

    Draws on ``ax`` (a new figure when None) and returns the axes; the strongest interaction is on top.
    Each bar's label shows its units as ``[i] text``, cut so the whole label fits in about ``width`` characters.
    """
    texts = unit_texts(explanation, units)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 0.45 * max(_n_rows(explanation, k, index, min_order), 2) + 1.2))
    if getattr(explanation, "is_qary", False):
        shares = explanation.feature_importance()
        order = list(reversed(sorted(range(len(shares)), key=lambda i: -shares[i])[:k]))
        ax.barh(range(len(order)), [shares[i] for i in order], color=tuple(c / 255 for c in SHARE_RGB))
        ax.set_yticks(range(len(order)), [f"[{i}] {shorten(texts[i], width)}" for i in order], parse_math=False)
        ax.set_xlabel("share of the output's variance the feature takes part in")
    else:
        top = _terms(explanation, k, index, min_order)
        labels = [interaction_label(t, texts, max(6, width // len(t.features) - 6)) for t in top][::-1]
        values = [t.value for t in top][::-1]
        colors = [tuple(c / 255 for c in (POSITIVE_RGB if v >= 0 else NEGATIVE_RGB)) for v in values]
        ax.barh(range(len(values)), values, color=colors)
        ax.set_yticks(range(len(values)), labels, parse_math=False)  # "$" in a unit is text, not mathtext
        ax.axvline(0.0, color="0.3", linewidth=0.8)
        ax.set_xlabel(f"{index} value (red: raises the output / synergy; blue: lowers it / redundancy)")
    r2 = explanation.faithfulness.r2
    r2_text = "" if r2 is None else f", R² {r2:.2f}"
    ax.set_title(f"{method_label(explanation)}: {explanation.n_queries} queries{r2_text}", parse_math=False)
    return ax


def _terms(explanation: Any, k: int, index: str, min_order: int) -> list[Any]:
    """The ``k`` strongest terms whose sign is established and that are not noise-level."""
    terms = explanation.top(k, index=index, min_order=min_order)
    sure, _ = strongest(terms, NEGLIGIBLE_SHARE * max((abs(t.value) for t in terms), default=0.0))
    return sure


def _n_rows(explanation: Any, k: int, index: str, min_order: int) -> int:
    if getattr(explanation, "is_qary", False):
        return min(k, explanation.n_features)
    return len(_terms(explanation, k, index, min_order))


def save_png(explanation: Any, path: str | Path, k: int = 10, dpi: int = 120, **options: Any) -> Path:
    """Write :func:`plot_explanation` to a PNG file without touching pyplot's global state."""
    from matplotlib.figure import Figure

    n_rows = _n_rows(explanation, k, options.get("index", "mobius"), options.get("min_order", 1))
    fig = Figure(figsize=(9, 0.45 * max(n_rows, 2) + 1.4), layout="constrained")
    plot_explanation(explanation, fig.add_subplot(), k, **options)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path
