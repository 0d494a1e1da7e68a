"""The HTML report opened in a real headless browser (Debian's chromium): screenshot pixels and rendered DOM.

If chromium is missing it is installed with apt-get when running as root; otherwise the test fails
with the command to run (``apt-get update && apt-get install -y chromium``).
"""

import os
import re
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pytest
from test_report import IMG_PAYLOAD, PAYLOAD, SHAPLEY, planted_explanation

from interspect.report import write_html
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
    assert 300 < lines[0] and len(lines) <= 3  # below the header and legend, on at most three lines
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
