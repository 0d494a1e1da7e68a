"""Text table, HTML rendering (escaping, shading, self-containment) and the matplotlib plot helper."""

import base64
import hashlib
import re

import numpy as np
import pytest

from interspect import Explanation, Faithfulness, QaryExplanation, SparseTransform, load
from interspect.report import format_top_table, plot_explanation, render_html, save_png, write_html
from interspect.report.charts import NEGATIVE_RGB, POSITIVE_RGB
from interspect.report.html import first_order_attributions, unit_colors
from interspect.report.notes import choose_index, trust_warnings
from interspect.transforms.qary import SparseQaryTransform

PAYLOAD = "<script>document.body.dataset.pwned=1</script>"
IMG_PAYLOAD = '<img src=x onerror="document.body.dataset.pwned=2">'

# Möbius dividends chosen so the Shapley values (sum over T ∋ i of m(T)/|T|) are known by hand:
# φ = [2 + 0.9/3, -1.9 - 0.8/2, 1.2/2 + 0.9/3, 1.2/2, -0.8/2, 0.9/3] = [2.3, -2.3, 0.9, 0.6, -0.4, 0.3]
PLANTED = {(): 0.5, (0,): 2.0, (1,): -1.9, (2, 3): 1.2, (1, 4): -0.8, (0, 2, 5): 0.9}
SHAPLEY = np.array([2.3, -2.3, 0.9, 0.6, -0.4, 0.3])


def planted_explanation(units=None, **metadata) -> Explanation:
    units = units or ["The plot", "is not", "bad", "at all", "and", "the"]
    mobius = SparseTransform.from_dict(PLANTED, 6, "mobius")
    return Explanation(
        mobius.to_fourier(),
        feature_names=units,
        method="exact",
        n_fit_queries=24,
        n_heldout_queries=40,
        faithfulness=Faithfulness(0.987, "heldout", 40),
        timing={"model_s": 1.5, "algorithm_s": 0.25, "total_s": 1.8},
        metadata=metadata,
    )


#: a planted 40-unit explanation: two clear pairs, a pair whose interval crosses 0, a noise-level pair
LONG_PLANTED = {(): 0.2, (0,): 1.0, (3,): -0.8, (3, 17): 1.5, (5, 30): -1.0, (8, 9): 0.6, (1, 2): 0.003}
UNCERTAIN_PAIR = (8, 9)


def long_text_explanation() -> Explanation:
    """40 sentence units (one an unbroken 150-character token) with coefficient replicates: the pair (8, 9)
    is drawn with a wide spread so its interval contains 0."""
    units = [f"Sentence {i} says something fairly long about document {i % 4} and its topic." for i in range(40)]
    units[12] = "https://example.org/" + "a" * 130
    fourier = SparseTransform.from_dict(LONG_PLANTED, 40, "mobius").to_fourier()
    rng = np.random.default_rng(0)
    spread = np.full(len(fourier), 1e-3)
    spread[[s == UNCERTAIN_PAIR for s in fourier.supports()].index(True)] = 0.4
    replicates = fourier.coefs + spread * rng.standard_normal((40, len(fourier)))
    return Explanation(
        fourier,
        feature_names=units,
        method="proxyspex",
        n_fit_queries=900,
        n_heldout_queries=100,
        faithfulness=Faithfulness(0.93, "heldout", 100),
        metadata={"question": "Which documents matter?", "target": "document 1", "request": {"max_order": 4}},
        replicates=replicates,
    )


def qary_explanation() -> QaryExplanation:
    """q = 3, five features: feature 0 alone and features 1 x 2 jointly (conjugate pairs keep it real)."""
    terms = {(): 1.0, ((0, 1),): 0.5, ((0, 2),): 0.5, ((1, 1), (2, 1)): 0.3, ((1, 2), (2, 2)): 0.3}
    transform = SparseQaryTransform.from_dict(terms, 5, 3)
    return QaryExplanation(
        transform,
        feature_names=["colour", "size", "shape", "<b>bold</b>", "weight"],
        n_fit_queries=243,
        faithfulness=Faithfulness(1.0, "exact", 243),
    )


def test_table_lists_strongest_interactions_aligned_with_unit_texts():
    expl = planted_explanation(units=["the", "cat", "the", "sat", "on", "mat"])
    table = format_top_table(expl, 4)
    lines = table.splitlines()
    assert len(lines) == 2 + 4
    rows = [line.split(None, 4) for line in lines[2:]]
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    assert [r[1] for r in rows] == ["1", "1", "2", "3"]
    assert [float(r[2]) for r in rows] == pytest.approx([2.0, -1.9, 1.2, 0.9])
    assert [r[3] for r in rows] == ["raises", "lowers", "synergy", "synergy"]
    # duplicate words stay apart through their indices
    assert rows[2][4] == "[2] the × [3] sat" and rows[3][4] == "[0] the × [2] the × [5] mat"
    # the value column is right-aligned: every row ends it at the same character position
    ends = {line.index("  [") for line in lines[2:]}
    assert len(ends) == 1
    pairs = format_top_table(expl, 10, min_order=2).splitlines()[2:]
    assert len(pairs) == 3 and all(float(p.split()[2]) for p in pairs)


def test_table_cuts_long_units_and_rejects_wrong_unit_count():
    expl = planted_explanation()
    long_units = ["word " * 30] + ["x"] * 5
    first = format_top_table(expl, 1, units=long_units, width=12).splitlines()[2]
    assert first.endswith("[0] word word w…")  # 12 characters including the ellipsis
    with pytest.raises(ValueError, match="5 units"):
        format_top_table(expl, 3, units=["a"] * 5)


def test_attributions_and_colour_scale():
    expl = planted_explanation()
    np.testing.assert_allclose(first_order_attributions(expl, "shapley"), SHAPLEY, atol=1e-12)
    np.testing.assert_allclose(first_order_attributions(expl, "mobius"), [2.0, -1.9, 0, 0, 0, 0], atol=1e-12)
    with pytest.raises(ValueError, match="attribution"):
        first_order_attributions(expl, "lime")
    colors, vmax = unit_colors(np.array([2.0, -2.0, 0.0, 1.0, -1.0]))
    assert vmax == 2.0
    assert tuple(colors[0]) == POSITIVE_RGB and tuple(colors[1]) == NEGATIVE_RGB
    assert tuple(colors[2]) == (255, 255, 255)
    # depth grows with sqrt(|v| / vmax): a quarter of vmax sits half-way between white and the end colour,
    # so one dominant unit does not wash out the others
    colors, _ = unit_colors(np.array([4.0, 1.0, -1.0, -4.0]))
    np.testing.assert_allclose(colors[1], (255 + np.array(POSITIVE_RGB)) / 2, atol=0.51)
    np.testing.assert_allclose(colors[2], (255 + np.array(NEGATIVE_RGB)) / 2, atol=0.51)
    assert (unit_colors(np.zeros(3))[0] == 255).all()


def test_html_shades_units_by_shapley_and_draws_interactions():
    expl = planted_explanation(question="Is it good?", target="positive", model="vader")
    page = render_html(expl, k=5)
    spans = re.findall(r'<span class="u" id="u(\d)" data-value="([^"]+)" style="background-color:(#[0-9a-f]{6})', page)
    assert [int(s[0]) for s in spans] == list(range(6))
    np.testing.assert_allclose([float(s[1]) for s in spans], SHAPLEY, atol=1e-6)
    hexes = ["#" + "".join(f"{c:02x}" for c in rgb) for rgb in (POSITIVE_RGB, NEGATIVE_RGB)]
    assert [spans[0][2], spans[1][2]] == hexes
    # the three interactions of order >= 2 are drawn (one svg row each) and listed, strongest first
    assert re.findall(r'<g class="ix" data-units="([\d ]+)"', page) == ["2 3", "0 2 5", "1 4"]
    assert re.findall(r'<tr data-units="([\d ]+)"', page) == ["2 3", "0 2 5", "1 4"]
    for needle in (
        "Is it good?",
        "positive",
        "0.987 (heldout, 40 masks)",
        "24 fitted + 40 held out for R²",
        "model 1.50 s",
    ):
        assert needle in page


def test_html_escapes_every_untrusted_string_and_loads_nothing_external():
    units = [PAYLOAD, "is & <b>", IMG_PAYLOAD, "'quoted\"", "x", "y"]
    expl = planted_explanation(units=units, question=PAYLOAD, target=IMG_PAYLOAD, model=PAYLOAD, value=IMG_PAYLOAD)
    page = render_html(expl, title=PAYLOAD)
    assert "<script>document" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;document.body.dataset.pwned=1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;document.body.dataset.pwned=2&quot;&gt;" in page
    assert "is &amp; &lt;b&gt;" in page and "&#x27;quoted&quot;" in page
    # our own script is the only one, and the Content-Security-Policy allows exactly it
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page and "default-src 'none'" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page


def test_html_keeps_the_original_spacing_when_spans_are_given(tmp_path):
    text = "Good  film.\nNot bad at all!"
    units = ["Good", "film.", "Not", "bad", "at", "all!"]
    spans = [(0, 4), (6, 11), (12, 15), (16, 19), (20, 22), (23, 27)]
    assert [text[s:e] for s, e in spans] == units
    expl = planted_explanation(units=units, text=text, spans=spans)
    body = re.search(r'<div class="text" id="text">(.*?)</div>', render_html(expl), flags=re.S).group(1)
    assert re.sub(r"<[^>]+>", "", body) == text
    # without valid spans the units are joined with single spaces
    plain = re.search(r'<div class="text" id="text">(.*?)</div>', render_html(expl, spans=[(0, 4)]), flags=re.S)
    assert re.sub(r"<[^>]+>", "", plain.group(1)) == " ".join(units)
    path = write_html(expl, tmp_path / "r.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_html_without_interactions_says_so():
    additive = Explanation(SparseTransform.from_dict({(0,): 1.0, (1,): -0.5}, 2), feature_names=["a", "b"])
    page = render_html(additive)
    assert "act additively" in page and '<g class="ix"' not in page


def test_plot_draws_the_top_bars_with_signed_colours(tmp_path):
    from matplotlib.figure import Figure

    expl = planted_explanation(units=["the", "cat", "the", "sat", "on", "mat"])
    ax = plot_explanation(expl, Figure().add_subplot(), k=4)
    bars = ax.patches
    assert [b.get_width() for b in bars] == pytest.approx([0.9, 1.2, -1.9, 2.0])  # strongest on top
    assert np.array([b.get_facecolor()[:3] for b in bars[-2:]]) == pytest.approx(
        np.array([NEGATIVE_RGB, POSITIVE_RGB]) / 255
    )
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["[0] the × [2] the × [5] mat", "[2] the × [3] sat"]
    assert "64 queries" in ax.get_title() and "R² 0.99" in ax.get_title()

    import matplotlib.image

    png = save_png(expl, tmp_path / "p.png", k=4)
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300
    red = np.all(np.abs(image[..., :3] - np.array(POSITIVE_RGB) / 255) < 0.02, axis=-1)
    assert red.sum() > 500


def test_auto_method_choice_is_reported_everywhere():
    from matplotlib.figure import Figure

    from interspect.report.table import method_label

    expl = planted_explanation()
    assert method_label(expl) == "exact"
    expl.method, expl.info["auto"] = "auto", {"choice": "proxyspex", "reason": "2^40 masks <too> many"}
    assert method_label(expl) == "auto → proxyspex"
    assert method_label(expl, reason=True) == "auto → proxyspex (2^40 masks <too> many)"
    assert "<td>auto → proxyspex (2^40 masks &lt;too&gt; many)</td>" in render_html(expl)
    assert plot_explanation(expl, Figure().add_subplot()).get_title().startswith("auto → proxyspex: 64 queries")


def _section(page: str, element_id: str) -> str:
    return re.search(rf'<div[^>]* id="{element_id}"[^>]*>(.*?)</div>\n', page, flags=re.S).group(1)


def test_html_explains_itself_in_plain_words_and_shows_values_without_hovering():
    page = render_html(planted_explanation())
    legend = _section(page, "legend")
    for words in ("Shapley value is its fair share", "synergy", "redundancy", "R² (faithfulness)", "Möbius"):
        assert words in legend
    # every Shapley value is printed next to its unit's bar (not only in a tooltip), largest |value| first
    bars = re.findall(
        r'<td class="lab">\[(\d)\][^<]*</td>.*?<td class="num">([^<]+)</td>', _section(page, "attributions")
    )
    assert [int(i) for i, _ in bars] == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose([float(v) for _, v in bars], SHAPLEY, atol=1e-9)
    # interactions say synergy / redundancy in words next to each pair, and the chart has its own colour key
    rows = re.findall(r'<tr data-units="([\d ]+)">.*?<span class="word">(\w+)</span>', page)
    assert rows == [("2 3", "synergy"), ("0 2 5", "synergy"), ("1 4", "redundancy")]
    assert "synergy (positive)" in page and "redundancy (negative)" in page
    # the unit chips are neutral: the interaction list does not reuse the Shapley colours
    assert 'class="chip" style' not in page


def test_charts_scale_with_the_page():
    page = render_html(long_text_explanation())
    svg = re.search(r"<svg [^>]*>", page).group(0)
    assert re.search(r'viewBox="0 0 \d+ \d+"', svg) and 'width="100%"' in svg
    assert not re.search(r'<svg[^>]* width="\d+"', page) and "height=" not in svg
    style = page.split("<style>")[1].split("</style>")[0].replace("max-width", "")
    assert not re.search(r"\bwidth:\s*\d{3,}px", style)  # no fixed widths beyond colour swatches


def test_warning_line_when_faithfulness_is_low_unknown_or_unreliable():
    good = planted_explanation()
    assert trust_warnings(good) == [] and 'id="warnings"' not in render_html(good)
    low = planted_explanation()
    low.faithfulness = Faithfulness(0.7, "heldout", 40)
    (message,) = trust_warnings(low)
    assert "R² = 0.70" in message and "budget=" in message
    unknown = planted_explanation()
    unknown.faithfulness = Faithfulness()
    messages = trust_warnings(unknown)
    assert len(messages) == 2 and "could not be measured" in messages[0] and "unreliable" in messages[1]
    page = render_html(unknown)
    warn = re.search(r'<div class="warn" id="warnings" role="alert">(.*?)</div>', page, flags=re.S).group(1)
    assert warn.count("<p>") == 2 and "budget=" in warn and "unreliable" in warn
    # warnings the explanation already carries are shown once, escaped
    unknown.warnings = [PAYLOAD, messages[0]]
    warn = re.search(r'<div class="warn"[^>]*>(.*?)</div>', render_html(unknown), flags=re.S).group(1)
    assert warn.count("<p>") == 3 and "&lt;script&gt;" in warn and "<script>" not in warn


def test_exact_runs_have_no_held_out_line_and_order_labels_agree():
    expl = planted_explanation(request={"max_order": 4, "holdout": "auto"})
    expl.n_heldout_queries, expl.n_fit_queries = 0, 64
    expl.faithfulness = Faithfulness(1.0, "exact", 64)
    stats = re.search(r'<table class="stats">(.*?)</table>', render_html(expl), flags=re.S).group(1)
    assert "held out" not in stats and "holdout" not in stats
    assert "<td>64</td>" in stats and "exact: every one of the 64 masks" in stats
    # one wording for the order: what the surrogate holds and what was requested, side by side
    assert "<td>13 (orders 1 to 3; max_order 4 requested)</td>" in stats
    assert "max order" not in stats and "<td>max_order</td>" not in stats


def test_near_zero_and_sign_uncertain_terms_are_not_called_strongest():
    expl = long_text_explanation()
    (pair,) = [t for t in expl.top(50, min_order=2) if t.features == UNCERTAIN_PAIR]
    assert pair.low < 0 < pair.high  # the planted spread does cross 0
    page = render_html(expl, k=10)
    strongest = re.search(r'<div id="interactions">(.*?)further interaction', page, flags=re.S).group(1)
    drawn = re.findall(r'<g class="ix" data-units="([\d ]+)"', strongest)
    assert drawn == ["3 17", "5 30"]  # not (8, 9): its sign is uncertain; not (1, 2): 0.003 is noise-level
    assert re.findall(r'<tr data-units="([\d ]+)">', strongest) == ["3 17", "5 30"]
    uncertain = page.split("further interaction")[1]
    assert '<tr data-units="8 9">' in uncertain and "sign uncertain" in uncertain
    assert "smaller than 5% of the largest value" in page and 'data-units="1 2"' not in page
    # units whose Shapley value is near zero are summarised in one line instead of drawn as empty bars
    shapley = expl.shapley_values()
    drawn_units = re.findall(r'<td class="lab">\[(\d+)\]', _section(page, "attributions"))
    assert sorted(map(int, drawn_units)) == sorted(np.flatnonzero(np.abs(shapley) > 0.05 * np.abs(shapley).max()))
    assert f"{40 - len(drawn_units)} more units with values near zero" in page
    # the per-term interval is printed next to each value
    first = expl.top(1, min_order=2)[0]
    assert f"[{first.low:+.3g}, {first.high:+.3g}]" in strongest and "90% interval" in strongest
    table = format_top_table(expl, 10, min_order=2)
    assert "uncertain" in table and "[1] " not in table.split("near-zero")[0].split("uncertain")[-1]
    assert "near-zero terms" in table


def test_index_choice_sets_both_lists():
    expl = planted_explanation()
    assert choose_index("shapley") == ("shapley", "sii") and choose_index("Banzhaf") == ("banzhaf", "bii")
    assert choose_index("k_SII") == ("shapley", "k-sii") and choose_index("FBII") == ("banzhaf", "fbii")
    with pytest.raises(ValueError, match="unknown index 'lime'; choose one of shapley, banzhaf"):
        choose_index("lime")
    page = render_html(expl, index="banzhaf")
    assert "Banzhaf value of each unit" in page and "bii values" in page
    # the values listed are the explanation's own BII values
    bii = {t.features: t.value for t in expl.top(20, index="bii", min_order=2)}
    listed = re.findall(r'<tr data-units="([\d ]+)"><td class="num">\d+</td><td class="val">([^ <]+) ', page)
    assert listed and all(float(v) == pytest.approx(bii[tuple(map(int, u.split()))], abs=5e-4) for u, v in listed)


def test_qary_explanations_render_importances_and_top_terms(tmp_path):
    expl = qary_explanation()
    page = render_html(load(expl.to_json()))
    importance = re.findall(
        r'<td class="lab">\[(\d)\][^<]*</td>.*?<td class="num">([\d.]+)%</td>', _section(page, "attributions")
    )
    shares = expl.feature_importance()
    assert [int(i) for i, _ in importance] == list(np.argsort(-shares, kind="stable"))
    np.testing.assert_allclose([float(v) / 100 for _, v in importance], np.sort(shares)[::-1], atol=1e-3)
    assert '<tr data-units="1 2">' in page  # the planted pair
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page
    assert "Each feature takes one of q values" in page and "q = 3" in page
    table = format_top_table(expl, 4)
    assert "[0] colour=1" in table and "[1] size=1 × [2] shape=1" in table
    assert write_html(expl, tmp_path / "q.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    import matplotlib.image

    from interspect.report.charts import SHARE_RGB

    image = matplotlib.image.imread(save_png(expl, tmp_path / "q.png"))
    assert np.all(np.abs(image[..., :3] - np.array(SHARE_RGB) / 255) < 0.02, axis=-1).sum() > 500
