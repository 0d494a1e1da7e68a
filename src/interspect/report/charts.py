"""The report's charts, each with one colour meaning, sized by the page (no fixed pixel widths).

- :func:`value_bars` — one row per unit with its value printed and a bar (HTML/CSS, so labels wrap and stay
  legible on a phone): red raises / blue lowers the output for signed attributions, one hue for shares.
- :func:`interaction_svg` — one row per interaction, dots on its units joined by a line and a bar for its
  value, purple for synergy and green for redundancy; an SVG with a ``viewBox`` that shrinks with its container.

Untrusted text (unit texts) is escaped here; values are numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from .table import format_value, shorten

#: end colours of the effect scale (ColorBrewer RdBu ends): raises the output red, lowers it blue
POSITIVE_RGB = (178, 24, 43)
NEGATIVE_RGB = (33, 102, 172)
#: interaction colours (ColorBrewer PRGn ends), distinct from the effect scale: synergy purple, redundancy green
SYNERGY_RGB = (118, 42, 131)
REDUNDANCY_RGB = (27, 120, 55)
#: one hue for unsigned shares (q-ary variance importances)
SHARE_RGB = (84, 39, 143)


def hex_color(rgb: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def _bar(share: float, rgb: Sequence[int]) -> str:
    return f'<span style="width:{share:.1f}%;background:{hex_color(rgb)}"></span>'


def value_bars(rows: Sequence[tuple[str, float]], *, signed: bool = True, caption: str = "") -> str:
    """Rows of ``(label, value)`` as a table of bars with the value printed (labels are plain text).

    Signed values get a diverging bar (right and red when positive, left and blue when negative); unsigned
    shares a single-hue bar from the left. Bars are scaled to the largest ``|value|`` shown.
    """
    vmax = max((abs(v) for _, v in rows), default=0.0)
    out = [f'<table class="bars" aria-label="{escape(caption)}">']
    for label, value in rows:
        share = 100.0 * abs(value) / vmax if vmax > 0 else 0.0
        if signed:
            bars = (
                f'<td class="neg">{_bar(share, NEGATIVE_RGB) if value < 0 else ""}</td>'
                f'<td class="pos">{_bar(share, POSITIVE_RGB) if value > 0 else ""}</td>'
            )
            number = f"{value:+.3g}"
        else:
            bars = f'<td class="pos wide">{_bar(share, SHARE_RGB)}</td>'
            number = f"{value:.1%}"
        out.append(f'<tr><td class="lab">{escape(label)}</td>{bars}<td class="num">{number}</td></tr>')
    out.append("</table>")
    return "".join(out)


def interaction_svg(terms: Sequence[Any], texts: Sequence[str]) -> str:
    """One row per interaction (``features``, ``value``): dots on its units (columns in text order) joined
    by a line, and a bar for its value labelled with the value and "synergy"/"redundancy"."""
    cols = sorted({i for t in terms for i in t.features})
    where = {unit: c for c, unit in enumerate(cols)}
    labels = {unit: f"[{unit}] {shorten(texts[unit], 18)}" for unit in cols}
    col_w, row_h, bar_w, note_w, left = 30, 26, 160, 130, 20
    label_h = 24 + int(4.8 * max(len(label) for label in labels.values()))  # rotated labels rise ~0.64 x 7.5 px/char
    grid_w = left + col_w * len(cols)
    width, height = grid_w + bar_w + note_w, label_h + row_h * len(terms) + 10
    vmax = max(abs(t.value) for t in terms)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%"'
        f' style="max-width:{width}px" preserveAspectRatio="xMinYMin meet" role="img"'
        ' aria-label="strongest interactions between units">'
    ]
    for c, unit in enumerate(cols):
        x = left + c * col_w + col_w // 2
        out.append(f'<line x1="{x}" y1="{label_h - 4}" x2="{x}" y2="{height - 6}" stroke="#eee"/>')
        out.append(
            f'<text transform="translate({x + 4},{label_h - 8}) rotate(-40)">'
            f"<title>[{unit}] {escape(texts[unit])}</title>{escape(labels[unit])}</text>"
        )
    for r, t in enumerate(terms):
        y = label_h + r * row_h + row_h // 2
        synergy = t.value > 0
        color = hex_color(SYNERGY_RGB if synergy else REDUNDANCY_RGB)
        xs = [left + where[i] * col_w + col_w // 2 for i in t.features]
        word = "synergy" if synergy else "redundancy"
        label = " × ".join(f"[{i}] {texts[i]}" for i in t.features)
        out.append(
            f'<g class="ix" data-units="{" ".join(map(str, t.features))}">'
            f"<title>{escape(label)}: {format_value(t.value)} ({word})</title>"
        )
        out.append(f'<rect x="0" y="{y - row_h // 2}" width="{width}" height="{row_h}" fill="transparent"/>')
        out.append(
            f'<line class="link" x1="{min(xs)}" y1="{y}" x2="{max(xs)}" y2="{y}" stroke="{color}" stroke-width="3"/>'
        )
        out.extend(f'<circle cx="{x}" cy="{y}" r="6" fill="{color}"/>' for x in xs)
        length = max(1.0, bar_w * abs(t.value) / vmax) if vmax > 0 else 1.0
        out.append(f'<rect x="{grid_w + 6}" y="{y - 7}" width="{length:.1f}" height="14" fill="{color}"/>')
        out.append(f'<text x="{grid_w + 12 + length:.1f}" y="{y + 4}">{format_value(t.value)} {word}</text></g>')
    out.append("</svg>")
    return "".join(out)
