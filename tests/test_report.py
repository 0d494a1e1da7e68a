"""Text table, HTML rendering (escaping, shading, self-containment) and the matplotlib plot helper."""

import base64
import hashlib
import re

import numpy as np
import pytest

from interspect import Explanation, Faithfulness, SparseTransform
from interspect.report import format_top_table, plot_explanation, render_html, save_png, write_html
from interspect.report.html import NEGATIVE_RGB, POSITIVE_RGB, first_order_attributions, unit_colors

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


def test_table_lists_strongest_interactions_aligned_with_unit_texts():
    expl = planted_explanation(units=["the", "cat", "the", "sat", "on", "mat"])
    table = format_top_table(expl, 4)
    lines = table.splitlines()
    assert len(lines) == 2 + 4
    rows = [line.split(None, 3) for line in lines[2:]]
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    assert [r[1] for r in rows] == ["1", "1", "2", "3"]
    assert [float(r[2]) for r in rows] == pytest.approx([2.0, -1.9, 1.2, 0.9])
    # duplicate words stay apart through their indices
    assert rows[2][3] == "[2] the × [3] sat" and rows[3][3] == "[0] the × [2] the × [5] mat"
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
    # half-way values sit half-way between white and the end colour
    np.testing.assert_allclose(colors[3], (255 + np.array(POSITIVE_RGB)) / 2, atol=0.51)
    np.testing.assert_allclose(colors[4], (255 + np.array(NEGATIVE_RGB)) / 2, atol=0.51)
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
    for needle in ("Is it good?", "positive", "0.987 (heldout, 40 masks)", "incl. 40 held out", "model 1.50 s"):
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
    assert [b.get_facecolor()[:3] for b in bars[-2:]] == pytest.approx(
        [tuple(c / 255 for c in NEGATIVE_RGB), tuple(c / 255 for c in POSITIVE_RGB)]
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
