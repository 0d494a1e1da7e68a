"""Matplotlib bar chart of the strongest interactions, for notebooks and ``--png`` (matplotlib imported lazily)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..explanation import Explanation
from .html import NEGATIVE_RGB, POSITIVE_RGB
from .table import interaction_label, method_label, unit_texts


def plot_explanation(
    explanation: Explanation,
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
    top = explanation.top(k, index=index, min_order=min_order)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 0.45 * max(len(top), 2) + 1.2))
    labels = [interaction_label(t, texts, max(6, width // len(t.features) - 6)) for t in top][::-1]
    values = [t.value for t in top][::-1]
    colors = [tuple(c / 255 for c in (POSITIVE_RGB if v >= 0 else NEGATIVE_RGB)) for v in values]
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), labels)
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_xlabel(f"{index} value")
    r2 = explanation.faithfulness.r2
    r2_text = "" if r2 is None else f", R² {r2:.2f}"
    ax.set_title(f"{method_label(explanation)}: {explanation.n_queries} queries{r2_text}")
    return ax


def save_png(explanation: Explanation, path: str | Path, k: int = 10, dpi: int = 120, **options: Any) -> Path:
    """Write :func:`plot_explanation` to a PNG file without touching pyplot's global state."""
    from matplotlib.figure import Figure

    n_rows = len(explanation.top(k, index=options.get("index", "mobius"), min_order=options.get("min_order", 1)))
    fig = Figure(figsize=(9, 0.45 * max(n_rows, 2) + 1.4), layout="constrained")
    plot_explanation(explanation, fig.add_subplot(), k, **options)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path
