"""Self-contained HTML report of an explanation (binary or q-ary) that explains itself.

The page says first whether to trust the explanation (a warning line when faithfulness is unknown or below
0.8, or the explanation is unreliable), then shows the input with every unit shaded by its first-order
attribution, the attributions as labelled bars, the strongest interactions (drawn and listed, with
"synergy"/"redundancy" in words and their intervals when known; near-zero and sign-uncertain terms are not
called strongest), a short legend in plain words, and the cost. Q-ary explanations show feature and pair
importances and their largest Fourier terms. Every chart scales with the page. The page loads nothing from
outside: styles and the small hover script are inline, and a Content-Security-Policy allows only that
script (by hash), so even a payload slipped past escaping could not run. Every piece of untrusted text —
units, question, answer, feature names, metadata, warnings — goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from .charts import (
    NEGATIVE_RGB,
    POSITIVE_RGB,
    REDUNDANCY_RGB,
    SYNERGY_RGB,
    hex_color,
    interaction_svg,
    value_bars,
)
from .notes import (
    ATTRIBUTION_WORDS,
    INDEX_WORDS,
    INTERACTION_WORDS,
    NEGLIGIBLE_SHARE,
    QARY_WORDS,
    choose_index,
    r2_words,
    relation,
    trust_warnings,
)
from .stats import cost_rows
from .table import format_interval, format_value, shorten, strongest, unit_texts

__all__ = ["NEGATIVE_RGB", "POSITIVE_RGB", "first_order_attributions", "render_html", "unit_colors", "write_html"]

_ATTRIBUTIONS = ("shapley", "banzhaf", "mobius")
#: units listed with their attribution bars; the rest are summarised in one line
MAX_BARS = 30

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
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px;
       color: #222; line-height: 1.5; padding: 0 16px; overflow-wrap: anywhere; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.sub { color: #666; margin-top: 0; }
.answer { background: #f6f6f6; border-left: 4px solid #888; padding: 8px 14px; }
.answer p { margin: 4px 0; } .label { color: #666; font-weight: 600; margin-right: 0.4em; }
.warn { background: #fff4e5; border-left: 4px solid #e08a00; padding: 8px 14px; margin: 12px 0; }
.warn p { margin: 4px 0; }
.text { white-space: pre-wrap; font-size: 1.08em; line-height: 2.1; border: 1px solid #ddd; padding: 12px 16px;
        border-radius: 4px; }
.u { border-radius: 3px; padding: 2px 1px; }
.u.hl { outline: 3px solid #f0b400; }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; font-size: 0.9em; color: #555;
          margin: 8px 0; }
.scale { flex: 0 1 15em; min-width: 5em; height: 14px; border: 1px solid #bbb; }
.key { display: inline-block; width: 12px; height: 12px; border-radius: 6px; vertical-align: -1px; }
.read { font-size: 0.92em; color: #333; } .read p { margin: 6px 0; }
table { border-collapse: collapse; font-size: 0.92em; max-width: 100%; }
td, th { padding: 3px 10px; text-align: left; vertical-align: top; border-bottom: 1px solid #eee; }
th, td.val { overflow-wrap: normal; } td.val { font-variant-numeric: tabular-nums; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.bars { width: 100%; table-layout: fixed; }
table.bars td { padding: 2px 6px; border: 0; vertical-align: middle; }
table.bars td.lab { width: 38%; } table.bars td.num { width: 18%; }
table.bars td.neg, table.bars td.pos { width: 22%; } table.bars td.wide { width: 44%; }
table.bars td.neg { border-right: 1px solid #999; }
table.bars span { display: block; height: 12px; border-radius: 2px; }
table.bars td.neg span { margin-left: auto; }
tr[data-units]:hover { background: #fff6d5; }
body.interactive [data-units] { cursor: pointer; }
.chip { border-radius: 3px; padding: 0 3px; margin: 0 4px 2px 0; display: inline-block; background: #eee; }
.muted { color: #666; font-size: 0.9em; }
.chart { width: 100%; }
svg { display: block; height: auto; }
svg text { font-size: 12px; fill: #333; } svg g.ix:hover line.link { stroke-width: 5; }
.stats td:first-child { color: #666; overflow-wrap: normal; }
"""


def unit_colors(values: np.ndarray, vmax: float | None = None) -> tuple[np.ndarray, float]:
    """``(n, 3)`` RGB colours of ``values`` on the white-centred blue/red scale, and the scale's ``vmax``.

    The unit with the largest ``|value|`` gets the full end colour and zero is white; in between the colour
    grows with the square root of ``|value| / vmax`` so one dominant unit does not wash out all the others.
    """
    values = np.asarray(values, dtype=np.float64)
    if vmax is None:
        vmax = float(np.max(np.abs(values))) if values.size else 0.0
    t = np.clip(values / vmax, -1.0, 1.0) if vmax > 0 else np.zeros_like(values)
    depth = np.sqrt(np.abs(t))
    ends = np.where(t[:, None] >= 0, np.array(POSITIVE_RGB), np.array(NEGATIVE_RGB))
    rgb = 255.0 + depth[:, None] * (ends - 255.0)
    return np.rint(rgb).astype(int), vmax


def first_order_attributions(explanation: Any, attribution: str = "shapley") -> np.ndarray:
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


def _ink(rgb: Sequence[int]) -> str:
    return "#fff" if np.mean(rgb) < 150 else "#111"


def _text_html(texts: list[str], colors: np.ndarray, values: np.ndarray, what: str, layout, text) -> str:
    parts = []
    cursor = 0
    for i, (unit, rgb, value) in enumerate(zip(texts, colors, values, strict=True)):
        if layout is not None:
            start, end = layout[i]
            parts.append(escape(text[cursor:start]))
            unit, cursor = text[start:end], end
        elif i:
            parts.append(" ")
        parts.append(
            f'<span class="u" id="u{i}" data-value="{value:.6g}" style="background-color:{hex_color(rgb)};'
            f'color:{_ink(rgb)}" title="[{i}] {escape(what)} {format_value(value)}">{escape(unit)}</span>'
        )
    if layout is not None:
        parts.append(escape(text[cursor:]))
    return "".join(parts)


def _scale_legend(vmax: float, what: str) -> str:
    gradient = f"linear-gradient(to right, {hex_color(NEGATIVE_RGB)}, #ffffff, {hex_color(POSITIVE_RGB)})"
    return (
        f'<div class="legend"><span>{format_value(-vmax)}</span><div class="scale" style="background:{gradient}">'
        f"</div><span>{format_value(vmax)}</span><span>{escape(what)}: blue lowers, red raises the explained"
        " output</span></div>"
    )


def _warnings_html(explanation: Any) -> str:
    messages = trust_warnings(explanation)
    if not messages:
        return ""
    lines = "".join(f"<p>⚠ {escape(m)}</p>" for m in messages)
    return f'<div class="warn" id="warnings" role="alert">{lines}</div>'


def _chip(i: int, texts: list[str], suffix: str = "") -> str:
    return f'<span class="chip">[{i}] {escape(shorten(texts[i], 60))}{suffix}</span>'


def _interaction_table(terms: list[Any], texts: list[str], index: str, uncertain: bool = False) -> str:
    """Rank, value with synergy/redundancy in words (and its 90 % interval when known), units. Three columns,
    so the units keep room on a phone; the order is the number of units shown."""
    rows = []
    for r, t in enumerate(terms, start=1):
        chips = "".join(_chip(i, texts) for i in t.features)
        word = "sign uncertain" if uncertain else relation(t.value, len(t.features))
        interval = format_interval(t)
        value = f'{format_value(t.value)} <span class="word">{word}</span>'
        if interval:
            value += f'<br><span class="muted">{interval}</span>'
        rows.append(
            f'<tr data-units="{" ".join(map(str, t.features))}"><td class="num">{r}</td>'
            f'<td class="val">{value}</td><td>{chips}</td></tr>'
        )
    value_head = f"{escape(index)} (90% interval)" if any(format_interval(t) for t in terms) else escape(index)
    return (
        f"<table><thead><tr><th>#</th><th>{value_head}</th><th>units</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _binary_sections(explanation: Any, texts: list[str], attribution: str, index: str, k: int, layout, text) -> str:
    values = first_order_attributions(explanation, attribution)
    colors, vmax = unit_colors(values)
    what = f"{attribution.capitalize()} value"
    order = np.argsort(-np.abs(values), kind="stable")
    visible = np.abs(values[order]) > NEGLIGIBLE_SHARE * np.max(np.abs(values), initial=0.0)
    shown = order[visible][:MAX_BARS]  # sorted by |value|: the visible ones come first
    rest = order[len(shown) :]
    bars = value_bars([(f"[{i}] {shorten(texts[i], 60)}", float(values[i])) for i in shown], caption=what)
    if len(rest):
        names = ", ".join(f"[{i}] {shorten(texts[i], 20)}" for i in sorted(rest)[:MAX_BARS])
        more = "…" if len(rest) > MAX_BARS else ""
        bars += f'<p class="muted">{len(rest)} more units with values near zero: {escape(names)}{more}</p>'

    terms = explanation.top(max(k, 1) * 3, index=index, min_order=2)
    largest = max([float(np.max(np.abs(values), initial=0.0))] + [abs(t.value) for t in terms])
    floor = NEGLIGIBLE_SHARE * largest
    sure, unsure = strongest(terms, floor)
    sure, unsure = sure[:k], unsure[:k]
    if sure:
        key = (
            f'<div class="legend"><span><span class="key" style="background:{hex_color(SYNERGY_RGB)}"></span>'
            f' synergy (positive)</span><span><span class="key" style="background:{hex_color(REDUNDANCY_RGB)}">'
            "</span> redundancy (negative)</span></div>"
        )
        drawing = (
            f'{key}<div class="chart">{interaction_svg(sure, texts)}</div>{_interaction_table(sure, texts, index)}'
        )
    elif terms:
        drawing = "<p>No interaction of two or more units stands out from zero: the units act (nearly) additively.</p>"
    else:
        drawing = "<p>The surrogate has no interactions of order 2 or more: the units act additively.</p>"
    if unsure:
        drawing += (
            f'<p class="muted">{len(unsure)} further interaction(s) whose 90 % interval contains 0 (their sign is not'
            f" established, so they are not counted as strongest):</p>{_interaction_table(unsure, texts, index, True)}"
        )
    omitted = sum(abs(t.value) <= floor for t in terms)
    if omitted:
        drawing += (
            f'<p class="muted">{omitted} interaction(s) smaller than {NEGLIGIBLE_SHARE:.0%} of the largest value'
            " are left out as noise-level.</p>"
        )
    return f"""<h2>Input, each unit shaded by its {escape(attribution.capitalize())} value</h2>
{_scale_legend(vmax, what)}
<div class="text" id="text">{_text_html(texts, colors, values, what, layout, text)}</div>
<h2>{escape(what)} of each unit</h2>
<div class="chart" id="attributions">{bars}</div>
<h2>Strongest interactions (pairs and larger sets, {escape(index)} values)</h2>
<div id="interactions">{drawing}</div>
<h2>How to read this</h2>
<div class="read" id="legend"><p>{ATTRIBUTION_WORDS.get(attribution, ATTRIBUTION_WORDS["shapley"])}</p>
<p>{INTERACTION_WORDS}</p><p>{INDEX_WORDS.get(index, "")}</p><p>{r2_words()}</p></div>"""


def _qary_sections(explanation: Any, texts: list[str], k: int) -> str:
    importance = np.asarray(explanation.feature_importance(), dtype=np.float64)
    order = np.argsort(-importance, kind="stable")[:MAX_BARS]
    bars = value_bars(
        [(f"[{i}] {shorten(texts[i], 60)}", float(importance[i])) for i in order], signed=False, caption="importance"
    )
    pairs = explanation.pair_importance(top=k)
    floor = NEGLIGIBLE_SHARE * max(pairs.values(), default=0.0)
    pair_rows = "".join(
        f'<tr data-units="{i} {j}"><td class="num">{share:.1%}</td><td>{_chip(i, texts)}{_chip(j, texts)}</td></tr>'
        for (i, j), share in pairs.items()
        if share > floor
    )
    pair_table = (
        f"<table><thead><tr><th>share</th><th>pair</th></tr></thead><tbody>{pair_rows}</tbody></table>"
        if pair_rows
        else "<p>No pair of features interacts noticeably: the features act additively.</p>"
    )
    term_rows = "".join(
        f'<tr data-units="{" ".join(map(str, t.features))}"><td class="num">{r}</td><td class="num">'
        f'{len(t.features)}</td><td class="num">{abs(t.coef):.4g}</td><td>'
        + "".join(_chip(f, texts, f" = {d}") for f, d in zip(t.features, t.digits, strict=True))
        + "</td></tr>"
        for r, t in enumerate(explanation.top(k), start=1)
    )
    return f"""<h2>Importance of each feature (share of the output's variance, q = {explanation.q})</h2>
<div class="chart" id="attributions">{bars}</div>
<h2>Strongest pair interactions</h2>
<div id="interactions">{pair_table}</div>
<h2>Largest Fourier terms</h2>
<table><thead><tr><th>#</th><th>order</th><th>|F(k)|</th><th>features = frequency digit</th></tr></thead>
<tbody>{term_rows}</tbody></table>
<h2>How to read this</h2>
<div class="read" id="legend"><p>{QARY_WORDS}</p><p>{r2_words()}</p></div>"""


def render_html(
    explanation: Any,
    *,
    units: Sequence[str] | None = None,
    text: str | None = None,
    spans: Sequence[tuple[int, int]] | None = None,
    question: str | None = None,
    answer: str | None = None,
    index: str | None = None,
    attribution: str = "shapley",
    interaction_index: str = "mobius",
    k: int = 10,
    title: str | None = None,
) -> str:
    """The report as one HTML string with no external resources, for any explanation (binary or q-ary).

    Parameters
    ----------
    explanation : Explanation or QaryExplanation
    units : list of str, optional
        Text of each feature; defaults to ``metadata["units"]``, then the feature names.
    text, spans : optional
        The original input and each unit's ``(start, end)`` character span in it (defaults:
        ``metadata["text"]``, ``metadata["spans"]``); when both are valid the text is shown with its own
        spacing and line breaks, otherwise the units are joined by spaces.
    question, answer : str, optional
        The question asked and the answer (target) being explained; default ``metadata["question"]`` and
        ``metadata["target"]`` (or ``metadata["answer"]``).
    index : str, optional
        One choice for both lists (see :data:`~.notes.INDEX_CHOICES`): ``"shapley"`` shades by Shapley values
        and lists SII interactions, ``"banzhaf"`` Banzhaf and BII, an interaction index (``"fsii"``...) lists
        that index next to the matching first-order values. Overrides ``attribution``/``interaction_index``.
    attribution : {"shapley", "banzhaf", "mobius"}
        First-order attribution that shades the units.
    interaction_index : str
        Index under which the ``k`` strongest interactions of order >= 2 are drawn (see ``Explanation.top``).
    """
    if index is not None:
        attribution, interaction_index = choose_index(index)
    meta = explanation.metadata
    texts = unit_texts(explanation, units)
    question = meta.get("question") if question is None else question
    answer = (meta.get("target") or meta.get("answer")) if answer is None else answer
    summary = []
    if question:
        summary.append(f'<p><span class="label">Question</span>{escape(str(question))}</p>')
    if answer:
        summary.append(f'<p><span class="label">Answer explained</span>{escape(str(answer))}</p>')
    if meta.get("value"):
        summary.append(f'<p><span class="label">Value</span>{escape(str(meta["value"]))}</p>')
    if getattr(explanation, "is_qary", False):
        body = _qary_sections(explanation, texts, k)
    else:
        text = meta.get("text") if text is None else text
        layout = _spans_layout(text, meta.get("spans") if spans is None else spans, len(texts))
        full, empty = explanation.predict(np.arange(2)[:, None] == np.zeros(explanation.n_features, int))
        summary.append(
            f'<p><span class="label">Surrogate output</span>all units kept {full:.4g}, all removed {empty:.4g}</p>'
        )
        body = _binary_sections(explanation, texts, attribution, interaction_index, k, layout, text)
    stats = "".join(f"<tr><td>{escape(a)}</td><td>{escape(b)}</td></tr>" for a, b in cost_rows(explanation))
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
{_warnings_html(explanation)}
{f'<div class="answer">{"".join(summary)}</div>' if summary else ""}
{body}
<h2>Cost and faithfulness</h2>
<table class="stats">{stats}</table>
<script>{_SCRIPT}</script>
</body></html>
"""


def write_html(explanation: Any, path: str | Path, **options: Any) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(render_html(explanation, **options), encoding="utf-8")
    return path
