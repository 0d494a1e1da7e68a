"""``interspect explain`` on the offline default LLM (SmolLM2-135M-Instruct) and the bundled QA demo.

This is the README's first command, exhaustively on the six demo sentences (2^6 = 64 queries) so the
explanation is exact and can be checked against the real model.
"""

import contextlib
import io

import numpy as np
import pytest

from interspect import Explanation
from interspect.cli import main
from interspect.data import qa_demo
from interspect.frontends.build import build_text_value_function

pytestmark = pytest.mark.slow


def test_default_llm_explains_the_bundled_question(tmp_path):
    out_json, out_html = tmp_path / "qa.json", tmp_path / "qa.html"
    argv = ["explain", "--method", "exact", "--holdout", "0", "--no-progress", "--json", str(out_json),
            "--html", str(out_html)]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(argv)
    assert code == 0
    demo = qa_demo()
    expl = Explanation.from_json(out_json.read_text())
    meta = expl.metadata
    assert meta["model"] == "smollm2-135m-instruct" and meta["question"] == demo["question"]
    assert meta["text"] == demo["context"] and expl.n_features == 6 and meta["unit"] == "sentence"
    assert "Portugal" in meta["target"]  # the demo's answer needs "born in Porto" + "Porto is in Portugal"
    assert expl.n_queries == 64 and expl.faithfulness == {"r2": pytest.approx(1.0), "kind": "exact", "n_masks": 64}
    printed = out.getvalue()
    assert f"explained: {meta['target']}" in printed and "faithfulness: R² = 1.000 (exact, 64 masks)" in printed

    # the saved surrogate gives the real model's log p(answer) on masked contexts
    vf = build_text_value_function(text=demo["context"], question=demo["question"], target=meta["target"])
    masks = np.array([[1] * 6, [0] * 6, [1, 1, 0, 0, 0, 0], [0, 1, 1, 0, 1, 1], [1, 0, 1, 1, 0, 1]], dtype=bool)
    np.testing.assert_allclose(expl.predict(masks), vf(masks), atol=2e-3)
    # removing the two sentences that give the answer must hurt it
    assert expl.predict(masks[[0]])[0] > expl.predict(np.array([[0, 0, 1, 1, 1, 1]], dtype=bool))[0]

    page = out_html.read_text()
    assert page.count('<span class="u" id="u') == 6
    assert demo["question"] in page and meta["target"] in page
