"""Plain-text table of the strongest interactions, for terminals and logs."""

from __future__ import annotations

from collections.abc import Sequence

from ..explanation import Explanation, Interaction


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to at most ``width`` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


def unit_texts(explanation: Explanation, units: Sequence[str] | None = None) -> list[str]:
    """The text of each feature: ``units`` if given, else ``metadata["units"]``, else the feature names."""
    if units is None:
        units = explanation.metadata.get("units") or explanation.feature_names
    units = [str(u) for u in units]
    if len(units) != explanation.n_features:
        raise ValueError(f"{len(units)} units for an explanation of {explanation.n_features} features")
    return units


def interaction_label(interaction: Interaction, units: Sequence[str], width: int = 40) -> str:
    """``[i] text × [j] text`` for the units of one interaction, each cut to ``width`` characters."""
    return " × ".join(f"[{i}] {shorten(units[i], width)}" for i in interaction.features)


def method_label(explanation: Explanation, reason: bool = False) -> str:
    """The method name, with the method ``auto`` chose (and, with ``reason``, why): ``auto → exact (...)``."""
    choice = explanation.info.get("auto")
    if not isinstance(choice, dict) or "choice" not in choice:
        return str(explanation.method)
    why = f" ({choice['reason']})" if reason and choice.get("reason") else ""
    return f"auto → {choice['choice']}{why}"


def format_value(value: float) -> str:
    return f"{value:+.4g}"


def format_top_table(
    explanation: Explanation,
    k: int = 10,
    *,
    index: str = "mobius",
    min_order: int = 1,
    units: Sequence[str] | None = None,
    width: int = 40,
) -> str:
    """The ``k`` strongest interactions under ``index`` as an aligned table: rank, order, value, units.

    Units are shown as ``[i] text`` (index into the input, text cut to ``width`` characters) so repeated
    words stay distinguishable; values are signed (positive raises the explained output).
    """
    texts = unit_texts(explanation, units)
    top = explanation.top(k, index=index, min_order=min_order)
    header = ("rank", "order", f"value ({index})", "units")
    rows = [
        (str(r), str(len(t.features)), format_value(t.value), interaction_label(t, texts, width))
        for r, t in enumerate(top, start=1)
    ]
    if not rows:
        return f"(no interactions of order >= {min_order} in the surrogate)"
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(3)]
    lines = []
    for row in [header, *rows]:
        lines.append("  ".join(cell.rjust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * min(max(len(r[3]) for r in rows), 60))
    return "\n".join(lines)
