"""The HTML report opened in a real headless browser (Debian's chromium): screenshot pixels, rendered DOM,
and the layout at phone (420 px) and desktop (1,400 px) widths: nothing overflows horizontally.

If chromium is missing it is installed with apt-get when running as root; otherwise the test fails
with the command to run (``apt-get update && apt-get install -y chromium``).
"""

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import matplotlib.image
import numpy as np
import pytest
from test_report import IMG_PAYLOAD, PAYLOAD, SHAPLEY, long_text_explanation, planted_explanation, qary_explanation

from interspect import Faithfulness
from interspect.report import write_html
from interspect.report.charts import NEGATIVE_RGB, POSITIVE_RGB, SHARE_RGB
from interspect.report.html import unit_colors

INSTALL = "apt-get update && apt-get install -y chromium"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["sh", "-c", INSTALL], env=env, capture_output=True, timeout=900, check=False)
        path = shutil.which("chromium")
    if path is None:
        pytest.fail(f"the browser test needs Debian's chromium; install it with: {INSTALL}")
    return path


def run_chromium(chromium: str, tmp_path, url: str, *extra: str) -> subprocess.CompletedProcess:
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *extra,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    units = ["The plot", "is not", PAYLOAD, "at all", IMG_PAYLOAD, "the end"]
    expl = planted_explanation(units=units, question=PAYLOAD, target=IMG_PAYLOAD, model="vader")
    return tmp, write_html(expl, tmp / "report.html")


def unit_box(image: np.ndarray, rgb, min_run: int = 15) -> tuple[int, float] | None:
    """Top row and x-centre of the first horizontal band filled with colour ``rgb`` (a shaded unit)."""
    hits = np.all(np.abs(image[..., :3] * 255 - np.asarray(rgb)) <= 2.5, axis=-1)
    rows = np.flatnonzero(hits.sum(axis=1) >= min_run)  # the legend's gradient has ~1 pixel of each colour
    if len(rows) == 0:
        return None
    band = hits[rows[0] : rows[0] + 12]
    return int(rows[0]), float(np.nonzero(band)[1].mean())


def test_screenshot_shows_the_text_shaded_in_order(chromium, report):
    tmp, path = report
    shot = tmp / "shot.png"
    flags = (f"--screenshot={shot}", "--window-size=1200,900", "--run-all-compositor-stages-before-draw")
    run_chromium(chromium, tmp, path.as_uri(), *flags)
    image = matplotlib.image.imread(shot)
    assert image.shape[:2] == (900, 1200)
    colors, _ = unit_colors(SHAPLEY)
    boxes = [unit_box(image, rgb) for rgb in colors]
    assert all(box is not None for box in boxes), boxes
    # every unit is shaded with its own colour, and the shaded boxes come in reading order (line, then x)
    lines = sorted({top for top, _ in boxes})
    assert sorted(range(6), key=lambda i: (boxes[i][0], boxes[i][1])) == list(range(6)), boxes
    assert lines[0] > 300 and len(lines) <= 3  # below the header and legend, on at most three lines
    # full red for the most positive unit, full blue for the most negative: both clearly visible
    for rgb in colors[:2]:
        assert np.all(np.abs(image[..., :3] * 255 - rgb) <= 2.5, axis=-1).sum() > 400


def test_rendered_dom_has_the_units_escaped_and_no_injected_code(chromium, report):
    tmp, path = report
    dom = run_chromium(chromium, tmp, path.as_uri(), "--dump-dom").stdout
    escaped = (
        "&lt;script&gt;document.body.dataset.pwned=1&lt;/script&gt;",
        '&lt;img src=x onerror="document.body.dataset.pwned=2"&gt;',
    )
    rest = dom
    for text in escaped:
        assert text in dom
        rest = rest.replace(text, "")
    assert "pwned" not in rest  # the payloads survive only as escaped text
    assert "data-pwned" not in dom
    assert '<body class="interactive">' in dom  # our own script ran: the CSP hash is right
    spans = re.findall(r'<span class="u" id="u(\d)"[^>]*>(.*?)</span>', dom)
    assert [int(i) for i, _ in spans] == list(range(6))
    assert (spans[2][1], spans[4][1]) == escaped
    assert len(re.findall(r'<g class="ix"', dom)) == 3
    assert dom.count("<script") == 1 and dom.count("<img") == 0


# Loads the report in a same-origin iframe of the probe page's width and records, after layout, the document's
# scroll width, every SVG's box against its container's, and every block whose content is wider than its box.
PROBE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<pre id="out">pending</pre>
<iframe id="f" src="%(page)s" style="border:0;display:block;width:%(width)dpx;height:4000px"></iframe>
<script>
window.addEventListener("load", function () {
  var d = document.getElementById("f").contentDocument, w = d.defaultView;
  var res = {scrollWidth: d.documentElement.scrollWidth, innerWidth: w.innerWidth, svgs: [], overflowing: []};
  d.querySelectorAll("svg").forEach(function (s) {
    var r = s.getBoundingClientRect(), p = s.parentElement.getBoundingClientRect();
    res.svgs.push([r.left, r.right, p.left, p.right, r.width]);
  });
  d.querySelectorAll("td, th, div, p, h1, h2, table").forEach(function (e) {
    if (e.scrollWidth > e.clientWidth + 1) { res.overflowing.push(e.tagName + "." + e.className); }
  });
  document.getElementById("out").textContent = JSON.stringify(res);
});
</script></body></html>"""
WIDTHS = (420, 1400)
HEIGHT = 4000  # tall enough for the whole of every test page at 420 px


@pytest.fixture(scope="module")
def served_reports(tmp_path_factory):
    """Reports of every shape (planted, long text with intervals, unreliable, q-ary) served over local HTTP."""
    root = tmp_path_factory.mktemp("served")
    unreliable = planted_explanation(question="Is it good?", model="vader")
    unreliable.faithfulness = Faithfulness(0.31, "heldout", 40)
    pages = {
        "planted": planted_explanation(question=PAYLOAD, target=IMG_PAYLOAD, model="vader"),
        "long": long_text_explanation(),
        "unreliable": unreliable,
        "qary": qary_explanation(),
    }
    for name, expl in pages.items():
        write_html(expl, root / f"{name}.html")
        for width in WIDTHS:
            (root / f"probe-{name}-{width}.html").write_text(PROBE % {"page": f"{name}.html", "width": width})
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", sorted(pages)
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_overflows_at_phone_and_desktop_widths(chromium, served_reports, width):
    root, url, names = served_reports
    for name in names:
        dom = run_chromium(
            chromium, root, f"{url}/probe-{name}-{width}.html", "--virtual-time-budget=10000", "--dump-dom",
            f"--window-size={width},1000",
        ).stdout  # fmt: skip
        found = json.loads(re.search(r'<pre id="out">(.*?)</pre>', dom, flags=re.S).group(1))
        assert found["innerWidth"] == width, (name, found)
        assert found["scrollWidth"] <= width, (name, found)
        assert found["overflowing"] == [], (name, found)
        for left, right, parent_left, parent_right, svg_width in found["svgs"]:
            assert parent_left - 0.5 <= left and right <= parent_right + 0.5, (name, found["svgs"])
            assert svg_width > 0
        if name in ("planted", "long"):
            assert len(found["svgs"]) == 1, name  # the interaction chart is there and was measured


@pytest.mark.parametrize("width", WIDTHS)
def test_screenshots_have_the_page_width_and_show_the_charts(chromium, served_reports, width):
    root, url, names = served_reports
    for name in names:
        shot = root / f"shot-{name}-{width}.png"
        flags = (f"--screenshot={shot}", f"--window-size={width},{HEIGHT}", "--run-all-compositor-stages-before-draw")
        run_chromium(chromium, root, f"{url}/{name}.html", *flags)
        assert shot.stat().st_size > 0
        image = matplotlib.image.imread(shot)[..., :3]
        assert image.shape[:2] == (HEIGHT, width), name
        # the page is drawn (text and charts, not a blank image), with each chart's colours on it
        assert (image.min(axis=-1) < 0.9).mean() > 0.005, name
        colours = (SHARE_RGB,) if name == "qary" else (POSITIVE_RGB, NEGATIVE_RGB)
        for rgb in colours:
            assert np.all(np.abs(image * 255 - np.asarray(rgb)) <= 2.5, axis=-1).sum() > 200, (name, rgb)
        if name == "unreliable":  # the warning box is drawn in its own colour near the top
            box = np.all(np.abs(image * 255 - np.asarray((255, 244, 229))) <= 2.5, axis=-1)
            assert np.flatnonzero(box.sum(axis=1) > width // 2)[0] < 400
