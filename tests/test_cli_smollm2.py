"""``interspect explain`` on the offline default LLM (SmolLM2-135M-Instruct).

The bundled question over four of the six bundled context sentences, explained exhaustively (2^4 = 16
queries) so the explanation is exact and can be checked against the real model in CI time.
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


def test_default_llm_explains_a_question_over_four_sentences(tmp_path):
    demo = qa_demo()
    context = (
        "Anna was born in Porto. Porto is a city in Portugal. Her brother lives in Madrid. Today she works in Berlin."
    )
    assert all(sentence in demo["context"] for sentence in context.split(". "))
    out_json, out_html = tmp_path / "qa.json", tmp_path / "qa.html"
    argv = "explain --method exact --max-order 4 --holdout 0 --no-progress".split()
    argv += ["--text", context, "--question", demo["question"], "--json", str(out_json), "--html", str(out_html)]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(argv)  # no --model: the offline default LLM
    assert code == 0
    expl = Explanation.from_json(out_json.read_text())
    meta = expl.metadata
    assert meta["model"] == "smollm2-135m-instruct" and meta["question"] == demo["question"]
    assert meta["text"] == context and expl.n_features == 4 and meta["unit"] == "sentence"
    assert "Portugal" in meta["target"]  # the answer needs "born in Porto" + "Porto is in Portugal"
    assert expl.n_queries == 16
    assert expl.faithfulness.kind == "exact" and expl.faithfulness.n_masks == 16
    assert expl.faithfulness.r2 == pytest.approx(1.0)
    printed = out.getvalue()
    assert f"explained: {meta['target']}" in printed and "faithfulness: R² = 1.000 (exact, 16 masks)" in printed

    # the saved surrogate gives the real model's log p(answer) on masked contexts
    vf = build_text_value_function(text=context, question=demo["question"], target=meta["target"])
    masks = np.array([[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 1], [1, 0, 1, 1]], dtype=bool)
    np.testing.assert_allclose(expl.predict(masks), vf(masks), atol=2e-3)
    # the two sentences that carry the answer raise its log-probability the most
    assert set(np.argsort(-expl.shapley_values())[:2]) == {0, 1}

    page = out_html.read_text()
    assert page.count('<span class="u" id="u') == 4
    assert demo["question"] in page and meta["target"] in page
