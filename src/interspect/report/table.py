"""Plain-text table of the strongest interactions, for terminals and logs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: what terminals read as commands


def printable(text: Any) -> str:
    """``text`` with control characters written out (``\\x1b``), so none reaches a terminal as a command."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def shorten(text: str, width: int) -> str:
    """``text`` on one line (control characters written out), cut to at most ``width`` characters."""
    line = printable(" ".join(str(text).split()))
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


def unit_texts(explanation: Any, units: Sequence[str] | None = None) -> list[str]:
    """The text of each feature: ``units`` if given, else ``metadata["units"]``, else the feature names."""
    if units is None:
        units = explanation.metadata.get("units") or explanation.feature_names
    units = [str(u) for u in units]
    if len(units) != explanation.n_features:
        raise ValueError(f"{len(units)} units for an explanation of {explanation.n_features} features")
    return units


def interaction_label(interaction: Any, units: Sequence[str], width: int = 40) -> str:
    """``[i] text × [j] text`` for the units of one interaction, each cut to ``width`` characters."""
    return " × ".join(f"[{i}] {shorten(units[i], width)}" for i in interaction.features)


def method_label(explanation: Any, reason: bool = False) -> str:
    """The method name, with the method ``auto`` chose (and, with ``reason``, why): ``auto → exact (...)``."""
    choice = explanation.info.get("auto")
    if not isinstance(choice, dict) or "choice" not in choice:
        return printable(explanation.method)
    why = f" ({choice['reason']})" if reason and choice.get("reason") else ""
    return printable(f"auto → {choice['choice']}{why}")


def format_value(value: float) -> str:
    return f"{value:+.4g}"


def format_interval(term: Any) -> str:
    """``[low, high]`` of a term's interval, or ``""`` when the fit gave none."""
    low, high = getattr(term, "low", None), getattr(term, "high", None)
    return "" if low is None or high is None else f"[{low:+.3g}, {high:+.3g}]"


def strongest(terms: Sequence[Any], floor: float) -> tuple[list[Any], list[Any]]:
    """Split ranked terms into those whose sign is established and that exceed ``floor`` in size, and the
    uncertain ones (interval crossing 0); terms at or below ``floor`` are dropped as noise-level."""
    from .notes import crosses_zero

    sized = [t for t in terms if abs(t.value) > floor]
    return [t for t in sized if not crosses_zero(t)], [t for t in sized if crosses_zero(t)]


def format_top_table(
    explanation: Any,
    k: int = 10,
    *,
    index: str = "mobius",
    min_order: int = 1,
    units: Sequence[str] | None = None,
    width: int = 40,
) -> str:
    """The ``k`` strongest interactions under ``index`` as an aligned table: rank, order, value, interval, units.

    Units are shown as ``[i] text`` (index into the input, text cut to ``width`` characters) so repeated
    words stay distinguishable; values are signed (positive raises the explained output; for two or more
    units positive is a synergy, negative a redundancy). Terms below :data:`~.notes.NEGLIGIBLE_SHARE` of the
    largest are left out; terms whose interval contains 0 are marked ``uncertain``. Q-ary explanations list
    their largest Fourier terms with each feature's frequency digit.
    """
    from .notes import NEGLIGIBLE_SHARE, choose_index, relation

    texts = unit_texts(explanation, units)
    if getattr(explanation, "is_qary", False):
        return _qary_table(explanation, k, texts, width)
    if index in ("shapley", "banzhaf"):  # first-order indices: their interaction generalisation (SII, BII)
        index = choose_index(index)[1]
    terms = explanation.top(k, index=index, min_order=min_order)
    floor = NEGLIGIBLE_SHARE * max((abs(t.value) for t in terms), default=0.0)
    sure, unsure = strongest(terms, floor)
    header: tuple[str, ...] = ("rank", "order", f"value ({index})", "90% interval", "reads as", "units")
    rows: list[tuple[str, ...]] = [
        (
            str(r),
            str(len(t.features)),
            format_value(t.value),
            format_interval(t),
            "uncertain" if t in unsure else relation(t.value, len(t.features)),
            interaction_label(t, texts, width),
        )
        for r, t in enumerate([*sure, *unsure], start=1)
    ]
    if not rows:
        return f"(no interactions of order >= {min_order} in the surrogate)"
    left_out = len(terms) - len(rows)
    if not any(row[3] for row in rows):  # no intervals: no empty column
        header, rows = header[:3] + header[4:], [row[:3] + row[4:] for row in rows]
    lines = _aligned(header, rows)
    if left_out:
        lines.append(f"({left_out} near-zero terms, below {NEGLIGIBLE_SHARE:.0%} of the largest, left out)")
    return "\n".join(lines)


def _aligned(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Right-aligned columns, the last (free text) left-aligned, with a rule under the header."""
    last = len(header) - 1
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(last)]
    lines = [
        "  ".join(cell.rjust(w) for cell, w in zip(row[:last], widths, strict=True)) + "  " + row[last]
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * min(max(len(r[last]) for r in rows), 60))
    return lines


def _qary_table(explanation: Any, k: int, texts: list[str], width: int) -> str:
    terms = explanation.top(k)
    if not terms:
        return "(the surrogate is constant: no feature matters)"
    header = ("rank", "order", "|F(k)|", "features = frequency digit")
    rows = [
        (
            str(r),
            str(len(t.features)),
            f"{abs(t.coef):.4g}",
            " × ".join(f"[{f}] {shorten(texts[f], width)}={d}" for f, d in zip(t.features, t.digits, strict=True)),
        )
        for r, t in enumerate(terms, start=1)
    ]
    return "\n".join(_aligned(header, rows))
