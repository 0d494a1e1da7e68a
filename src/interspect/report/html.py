"""Self-contained HTML report of an explanation.

The input text is shown with every unit shaded by its first-order attribution (blue lowers, red raises
the explained output), the strongest interactions of order >= 2 are drawn (one row per interaction
joining its units, with a bar for its value) and listed, next to what was explained and what the
explanation cost (method, queries, R², time). The page loads nothing from outside: styles and the small
hover script are inline, and a Content-Security-Policy allows only that script (by hash), so even a
payload slipped past escaping could not run. Every piece of untrusted text — units, question, answer,
feature names, metadata — goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from ..explanation import Explanation, Interaction
from .table import format_value, method_label, shorten, unit_texts

#: end colours of the diverging scale (ColorBrewer RdBu ends): positive attributions red, negative blue
POSITIVE_RGB = (178, 24, 43)
NEGATIVE_RGB = (33, 102, 172)
_ATTRIBUTIONS = ("shapley", "banzhaf", "mobius")
#: metadata / request keys with their own place in the report (not repeated in the details table)
_SHOWN_ELSEWHERE = {"text", "units", "spans", "question", "target", "answer", "feature_names", "request"}
_SHOWN_ELSEWHERE |= {"method", "budget"}

_SCRIPT = """
document.body.classList.add("interactive");
document.querySelectorAll("[data-units]").forEach(function (el) {
  var ids = el.getAttribute("data-units").split(" ");
  function mark(on) {
    ids.forEach(function (i) {
      var u = document.getElementById("u" + i);
      if (u) { u.classList.toggle("hl", on); }
    });
  }
  el.addEventListener("mouseenter", function () { mark(true); });
  el.addEventListener("mouseleave", function () { mark(false); });
});
"""

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px;
       color: #222; line-height: 1.5; padding: 0 16px; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.sub { color: #666; margin-top: 0; }
.answer { background: #f6f6f6; border-left: 4px solid #888; padding: 8px 14px; }
.answer p { margin: 4px 0; } .label { color: #666; font-weight: 600; margin-right: 0.4em; }
.text { white-space: pre-wrap; font-size: 1.08em; line-height: 2.1; border: 1px solid #ddd; padding: 12px 16px;
        border-radius: 4px; }
.u { border-radius: 3px; padding: 2px 1px; }
.u.hl { outline: 3px solid #f0b400; }
.legend { display: flex; align-items: center; gap: 10px; font-size: 0.9em; color: #555; margin: 8px 0; }
.bar { width: 240px; height: 14px; border: 1px solid #bbb; }
table { border-collapse: collapse; font-size: 0.92em; }
td, th { padding: 3px 10px; text-align: left; vertical-align: top; border-bottom: 1px solid #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr[data-units]:hover { background: #fff6d5; }
body.interactive [data-units] { cursor: pointer; }
.chip { border-radius: 3px; padding: 0 3px; margin: 0 4px 2px 0; display: inline-block; }
svg text { font-size: 12px; fill: #333; } svg g.ix:hover line.link { stroke-width: 5; }
.stats td:first-child { color: #666; }
"""


def _hex(rgb: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def unit_colors(values: np.ndarray, vmax: float | None = None) -> tuple[np.ndarray, float]:
    """``(n, 3)`` RGB colours of ``values`` on the white-centred blue/red scale, and the scale's ``vmax``.

    The unit with the largest ``|value|`` gets the full end colour; zero is white.
    """
    values = np.asarray(values, dtype=np.float64)
    if vmax is None:
        vmax = float(np.max(np.abs(values))) if values.size else 0.0
    t = np.clip(values / vmax, -1.0, 1.0) if vmax > 0 else np.zeros_like(values)
    ends = np.where(t[:, None] >= 0, np.array(POSITIVE_RGB), np.array(NEGATIVE_RGB))
    rgb = 255.0 + np.abs(t)[:, None] * (ends - 255.0)
    return np.rint(rgb).astype(int), vmax


def first_order_attributions(explanation: Explanation, attribution: str = "shapley") -> np.ndarray:
    """Per-unit attribution: Shapley value, Banzhaf value, or the first-order Möbius coefficient."""
    key = attribution.lower()
    if key == "shapley":
        return np.asarray(explanation.shapley_values(), dtype=np.float64)
    if key == "banzhaf":
        return np.asarray(explanation.banzhaf_values(), dtype=np.float64)
    if key == "mobius":
        first = explanation.mobius.prune(max_degree=1)
        values = np.zeros(explanation.n_features)
        singles = first.degrees == 1
        values[first.idx[singles, 0]] = first.coefs[singles]
        return values
    raise ValueError(f"unknown attribution {attribution!r}; choose one of {list(_ATTRIBUTIONS)}")


def _spans_layout(text: str | None, spans: Any, n: int) -> list[tuple[int, int]] | None:
    """Validated ``(start, end)`` spans into ``text`` (sorted, non-overlapping), or None to join units instead."""
    if text is None or spans is None or len(spans) != n:
        return None
    pairs = [(int(s), int(e)) for s, e in spans]
    ends = [0] + [e for _, e in pairs[:-1]]
    if all(prev <= s <= e <= len(text) for (s, e), prev in zip(pairs, ends, strict=True)):
        return pairs
    return None


def _text_html(texts: list[str], colors: np.ndarray, values: np.ndarray, attribution: str, layout, text) -> str:
    parts = []
    cursor = 0
    for i, (unit, rgb, value) in enumerate(zip(texts, colors, values, strict=True)):
        if layout is not None:
            start, end = layout[i]
            parts.append(escape(text[cursor:start]))
            unit, cursor = text[start:end], end
        elif i:
            parts.append(" ")
        ink = "#fff" if np.mean(rgb) < 150 else "#111"
        parts.append(
            f'<span class="u" id="u{i}" data-value="{value:.6g}" style="background-color:{_hex(rgb)};color:{ink}"'
            f' title="[{i}] {escape(attribution)} {format_value(value)}">{escape(unit)}</span>'
        )
    if layout is not None:
        parts.append(escape(text[cursor:]))
    return "".join(parts)


def _legend_html(vmax: float, attribution: str) -> str:
    gradient = f"linear-gradient(to right, {_hex(NEGATIVE_RGB)}, #ffffff, {_hex(POSITIVE_RGB)})"
    return (
        f'<div class="legend"><span>{format_value(-vmax)}</span><div class="bar" style="background:{gradient}"></div>'
        f"<span>{format_value(vmax)}</span><span>{escape(attribution)} value: blue lowers, red raises the"
        " explained output</span></div>"
    )


def _interaction_svg(top: list[Interaction], texts: list[str]) -> str:
    """One row per interaction: dots on its units (columns, in text order) joined by a line, and a value bar."""
    cols = sorted({i for t in top for i in t.features})
    where = {unit: c for c, unit in enumerate(cols)}
    labels = {unit: f"[{unit}] {shorten(texts[unit], 18)}" for unit in cols}
    col_w, row_h, bar_w = 30, 26, 180
    label_h = 24 + int(4.8 * max(len(label) for label in labels.values()))  # rotated labels rise ~0.64 x 7.5 px/char
    left = 20
    grid_w = left + col_w * len(cols)
    width, height = grid_w + bar_w + 90, label_h + row_h * len(top) + 10
    vmax = max(abs(t.value) for t in top)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img"'
        ' aria-label="strongest interactions between units">'
    ]
    for c, unit in enumerate(cols):
        x = left + c * col_w + col_w // 2
        out.append(f'<line x1="{x}" y1="{label_h - 4}" x2="{x}" y2="{height - 6}" stroke="#eee"/>')
        out.append(
            f'<text transform="translate({x + 4},{label_h - 8}) rotate(-40)">'
            f"<title>[{unit}] {escape(texts[unit])}</title>{escape(labels[unit])}</text>"
        )
    for r, t in enumerate(top):
        y = label_h + r * row_h + row_h // 2
        color = _hex(POSITIVE_RGB if t.value >= 0 else NEGATIVE_RGB)
        xs = [left + where[i] * col_w + col_w // 2 for i in t.features]
        label = " × ".join(f"[{i}] {texts[i]}" for i in t.features)
        out.append(
            f'<g class="ix" data-units="{" ".join(map(str, t.features))}">'
            f"<title>{escape(label)}: {format_value(t.value)}</title>"
        )
        out.append(f'<rect x="0" y="{y - row_h // 2}" width="{width}" height="{row_h}" fill="transparent"/>')
        out.append(
            f'<line class="link" x1="{min(xs)}" y1="{y}" x2="{max(xs)}" y2="{y}" stroke="{color}" stroke-width="3"/>'
        )
        out.extend(f'<circle cx="{x}" cy="{y}" r="6" fill="{color}"/>' for x in xs)
        length = max(1.0, bar_w * abs(t.value) / vmax) if vmax > 0 else 1.0
        out.append(f'<rect x="{grid_w + 10}" y="{y - 7}" width="{length:.1f}" height="14" fill="{color}"/>')
        out.append(f'<text x="{grid_w + 16 + length:.1f}" y="{y + 4}">{format_value(t.value)}</text></g>')
    out.append("</svg>")
    return "".join(out)


def _interaction_rows(top: list[Interaction], texts: list[str], colors: np.ndarray) -> str:
    rows = []
    for r, t in enumerate(top, start=1):
        chips = "".join(
            f'<span class="chip" style="background-color:{_hex(colors[i])};color:'
            f'{"#fff" if np.mean(colors[i]) < 150 else "#111"}">[{i}] {escape(shorten(texts[i], 60))}</span>'
            for i in t.features
        )
        rows.append(
            f'<tr data-units="{" ".join(map(str, t.features))}"><td class="num">{r}</td>'
            f'<td class="num">{len(t.features)}</td><td class="num">{format_value(t.value)}</td><td>{chips}</td></tr>'
        )
    return "".join(rows)


def _seconds(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f} s"


def _stats(explanation: Explanation) -> list[tuple[str, str]]:
    info, meta = explanation.info, explanation.metadata
    request = meta.get("request") or {}
    faith = explanation.faithfulness
    r2 = faith.r2
    r2_text = "not measured" if r2 is None else f"{r2:.3f} ({faith.kind}, {faith.n_masks} masks)"
    budget = request.get("budget", info.get("budget"))
    holdout = explanation.n_heldout_queries
    timing = explanation.timing
    rows = [
        ("method", method_label(explanation, reason=True)),
        ("budget", "method default" if budget is None else str(budget)),
        ("model queries", f"{explanation.n_queries}" + (f" (incl. {holdout} held out for R²)" if holdout else "")),
        ("faithfulness R²", r2_text),
        (
            "time",
            f"model {_seconds(timing.get('model_s'))}, algorithm {_seconds(timing.get('algorithm_s'))},"
            f" total {_seconds(timing.get('total_s'))}",
        ),
        ("units (features)", str(explanation.n_features)),
        ("surrogate terms", f"{len(explanation.fourier)} (max order {explanation.fourier.max_degree})"),
    ]
    for key, value in {**request, **meta}.items():
        if key not in _SHOWN_ELSEWHERE and isinstance(value, str | int | float | bool):
            rows.append((str(key), str(value)))
    return rows


def render_html(
    explanation: Explanation,
    *,
    units: Sequence[str] | None = None,
    text: str | None = None,
    spans: Sequence[tuple[int, int]] | None = None,
    question: str | None = None,
    answer: str | None = None,
    attribution: str = "shapley",
    interaction_index: str = "mobius",
    k: int = 10,
    title: str | None = None,
) -> str:
    """The report as one HTML string with no external resources.

    Parameters
    ----------
    explanation : Explanation
    units : list of str, optional
        Text of each feature; defaults to ``metadata["units"]``, then the feature names.
    text, spans : optional
        The original input and each unit's ``(start, end)`` character span in it (defaults:
        ``metadata["text"]``, ``metadata["spans"]``); when both are valid the text is shown with its own
        spacing and line breaks, otherwise the units are joined by spaces.
    question, answer : str, optional
        The question asked and the answer (target) being explained; default ``metadata["question"]`` and
        ``metadata["target"]`` (or ``metadata["answer"]``).
    attribution : {"shapley", "banzhaf", "mobius"}
        First-order attribution that shades the units.
    interaction_index : str
        Index under which the ``k`` strongest interactions of order >= 2 are drawn (see ``Explanation.top``).
    """
    meta = explanation.metadata
    texts = unit_texts(explanation, units)
    text = meta.get("text") if text is None else text
    layout = _spans_layout(text, meta.get("spans") if spans is None else spans, len(texts))
    question = meta.get("question") if question is None else question
    answer = (meta.get("target") or meta.get("answer")) if answer is None else answer
    values = first_order_attributions(explanation, attribution)
    colors, vmax = unit_colors(values)
    top = explanation.top(k, index=interaction_index, min_order=2)

    full, empty = explanation.predict(np.arange(2)[:, None] == np.zeros(explanation.n_features, int))
    summary = []
    if question:
        summary.append(f'<p><span class="label">Question</span>{escape(str(question))}</p>')
    if answer:
        summary.append(f'<p><span class="label">Answer explained</span>{escape(str(answer))}</p>')
    if meta.get("value"):
        summary.append(f'<p><span class="label">Value</span>{escape(str(meta["value"]))}</p>')
    summary.append(
        f'<p><span class="label">Surrogate output</span>all units kept {full:.4g}, all removed {empty:.4g}</p>'
    )

    if top:
        drawing = (
            f"{_interaction_svg(top, texts)}<table><thead><tr><th>#</th><th>order</th>"
            f"<th>{escape(interaction_index)}</th><th>units</th></tr></thead>"
            f"<tbody>{_interaction_rows(top, texts, colors)}</tbody></table>"
        )
    else:
        drawing = "<p>The surrogate has no interactions of order 2 or more: the units act additively.</p>"
    stats = "".join(f"<tr><td>{escape(a)}</td><td>{escape(b)}</td></tr>" for a, b in _stats(explanation))
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'"
    heading = escape(title or f"interspect: {meta.get('model', 'model')} explained")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}</title><style>{_STYLE}</style></head>
<body>
<h1>{heading}</h1>
<p class="sub">Which parts of the input drive the model's output, and which act together.</p>
<div class="answer">{"".join(summary)}</div>
<h2>Input, each unit shaded by its {escape(attribution)} value</h2>
{_legend_html(vmax, attribution)}
<div class="text" id="text">{_text_html(texts, colors, values, attribution, layout, text)}</div>
<h2>Strongest interactions (order 2 and higher, {escape(interaction_index)})</h2>
<div id="interactions">{drawing}</div>
<h2>Cost and faithfulness</h2>
<table class="stats">{stats}</table>
<script>{_SCRIPT}</script>
</body></html>
"""


def write_html(explanation: Explanation, path: str | Path, **options: Any) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(render_html(explanation, **options), encoding="utf-8")
    return path
