"""Untrusted text in every output: unit texts, feature names, questions and model names carrying markup,
event handlers, SVG breakouts, matplotlib mathtext and terminal escape sequences.

The HTML report is opened in headless Chromium (as in test_report_browser.py): each payload would mark the
document if it ran, and the rendered DOM must carry no mark. The PNG must render with the labels as plain
text, and the terminal table and the CLI's output must pass no control character to the terminal.
"""

import json
import re

import numpy as np
import pytest
from test_report import planted_explanation
from test_report_browser import chromium, run_chromium  # noqa: F401 (chromium is a fixture)

from interspect import cli
from interspect.report import save_png, write_html
from interspect.report.table import format_top_table

# Each payload, if it ever ran, would set data-pwned on the root element (visible in the dumped DOM).
MARK = "document.documentElement.dataset.pwned"
HTML_PAYLOADS = [
    f"<script>{MARK}=1</script>",
    f'<img src=x onerror="{MARK}=2">',
    f"</svg><script>{MARK}=3</script><svg>",
    f'<svg onload="{MARK}=4"></svg>',
    f"\"><iframe srcdoc='<script>parent.{MARK}=5</script>'></iframe>",
    f"' onmouseover='{MARK}=6' x='",
    f"</title></style></textarea><script>{MARK}=7</script>",
    f'<a href="javascript:{MARK}=8">click</a>',
    f"<![CDATA[ ]]><script>{MARK}=9</script>",
]
TERMINAL_PAYLOADS = [
    "\x1b[31mred\x1b[0m",  # colour
    "\x1b]0;owned title\x07",  # window title (OSC)
    "\x1b[2J\x1b[H",  # clear screen
    "before\rafter",  # carriage return overwrites the line
    "back\x08\x08space",
    "\x9b31mC1 CSI",
    "\u202eevil\u202c",  # bidi override (shown, but not a control of the terminal)
]
MATHTEXT_PAYLOADS = [r"$\undefinedmacro{$", "$5 and $6", r"\$ $$ \\", "$x^{2"]


def hostile_explanation(units):
    text = " ".join(units)
    spans, start = [], 0
    for unit in units:
        spans.append((start, start + len(unit)))
        start += len(unit) + 1
    payload = HTML_PAYLOADS[0] + TERMINAL_PAYLOADS[0]
    return planted_explanation(
        units=units, text=text, spans=spans, question=payload, target=HTML_PAYLOADS[1], model=payload, value=payload
    )


def _units(payloads):
    return [payloads[i % len(payloads)] + f" u{i}" for i in range(6)]


def test_html_payloads_never_run_in_a_browser(chromium, tmp_path):  # noqa: F811
    pages = []
    for k in range(0, len(HTML_PAYLOADS), 6):
        batch = (HTML_PAYLOADS[k:] + HTML_PAYLOADS)[:6]
        expl = hostile_explanation(batch)
        expl.warnings = [HTML_PAYLOADS[-1]]
        pages.append(write_html(expl, tmp_path / f"report{k}.html"))
    for page in pages:
        dom = run_chromium(chromium, tmp_path, page.as_uri(), "--virtual-time-budget=3000", "--dump-dom").stdout
        assert '<body class="interactive">' in dom  # the report's own script ran
        assert "data-pwned" not in dom
        assert dom.count("<script") == 1 and "<iframe" not in dom and "<img" not in dom
        assert not re.search(r"<[^>]+\son\w+=", dom)  # no element got an event-handler attribute
        assert not re.search(r"<a\s[^>]*href=", dom)  # the link payload stayed text


@pytest.mark.parametrize("payloads", [HTML_PAYLOADS, TERMINAL_PAYLOADS, MATHTEXT_PAYLOADS])
def test_png_labels_render_as_plain_text(tmp_path, payloads):
    import matplotlib.image

    path = save_png(hostile_explanation(_units(payloads)), tmp_path / "r.png")
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100


def _control_characters(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0]


def test_the_terminal_table_passes_no_control_character():
    table = format_top_table(hostile_explanation(_units(TERMINAL_PAYLOADS)), 10)
    assert _control_characters(table) == []
    assert "\\x1b[31mred" in table  # shown escaped, so the user sees what the text holds


def test_the_cli_report_passes_no_control_character(tmp_path, capsys):
    path = tmp_path / "e.json"
    path.write_text(hostile_explanation(_units(TERMINAL_PAYLOADS)).to_json(), encoding="utf-8")
    assert cli.main(["report", str(path)]) == 0
    out, err = capsys.readouterr()
    assert _control_characters(out + err) == []
    stored = json.loads(path.read_text("utf-8"))
    assert stored["metadata"]["question"].endswith("\x1b[31mred\x1b[0m")  # the data itself is kept as it was
    assert np.isfinite(stored["shapley"]).all()
