"""The q-ary text front-end: keep / remove / replace each word, with a lexicon scorer and with VADER."""

import numpy as np
import pytest

from interspect.frontends.qary_text import QaryTextValueFunction, explain_text_qary, vader_scorer
from interspect.transforms.qary import all_qary_inputs, exact_qary_fourier

LEXICON = {"good": 2.0, "great": 3.0, "bad": -2.0, "awful": -3.0, "fine": 1.0}


def lexicon_scorer(texts):
    """Sum of word valences; "not" right before a rated word flips it (a pairwise interaction)."""
    out = []
    for text in texts:
        words = text.split()
        score = 0.0
        for i, w in enumerate(words):
            v = LEXICON.get(w, 0.0)
            score += -v if i > 0 and words[i - 1] == "not" else v
        out.append(score)
    return out


def test_texts_render_each_state():
    vf = QaryTextValueFunction("the food was good", lexicon_scorer, [["a"], ["meal"], ["is"], ["bad"]])
    assert vf.q == 3 and vf.n_features == 4 and vf.feature_names == ["the", "food", "was", "good"]
    x = np.array([[0, 0, 0, 0], [1, 0, 1, 0], [2, 2, 2, 2], [0, 1, 1, 2]])
    assert vf.texts(x) == ["the food was good", "food good", "a meal is bad", "the bad"]
    np.testing.assert_array_equal(vf(x), [2.0, 2.0, -2.0, -2.0])
    shared = QaryTextValueFunction(["not", "good"], lexicon_scorer, ["great", "awful"], removed="[MASK]")
    assert shared.q == 4
    assert shared.texts(np.array([[1, 2], [3, 0]])) == ["[MASK] great", "awful good"]


def test_recovers_the_exact_transform_of_a_lexicon_scorer():
    text = "food was not good but service was fine"
    alts = [
        ["meal", "soup"],
        ["is", "was"],
        ["very", "so"],
        ["bad", "great"],
        ["and", "yet"],
        ["staff", "service"],
        ["is", "was"],
        ["awful", "bad"],
    ]
    # a removed word leaves "[MASK]" so "not" stays next to the word after it: main effects + one pair
    vf = QaryTextValueFunction(text, lexicon_scorer, alts, removed="[MASK]")
    assert vf.q == 4
    expl = explain_text_qary(text, lexicon_scorer, alts, removed="[MASK]", random_state=0, sparsity=40, holdout=500)
    oracle = exact_qary_fourier(vf, vf.n_features, vf.q, tol=1e-9)
    got = expl.transform.prune(1e-9)
    np.testing.assert_array_equal(got.locations(), oracle.locations())
    np.testing.assert_allclose(got.coefs, oracle.coefs, atol=1e-9)
    assert expl.n_queries < 4**vf.n_features / 4
    assert expl.faithfulness.r2 == pytest.approx(1.0)
    assert expl.metadata["text"] == text
    # "not" (2) x "good" (3) is the only interaction; "good", "not" and "fine" carry the variance
    assert list(expl.pair_importance()) == [(2, 3)]
    assert set(np.argsort(-expl.feature_importance())[:3]) == {2, 3, 7}


def test_vader_scorer_end_to_end():
    pytest.importorskip("vaderSentiment")
    text = "the movie was not great but the acting was good"
    alts = [["a"], ["film"], ["is"], ["very"], ["awful"], ["and"], ["a"], ["plot"], ["is"], ["bad"]]
    vf = QaryTextValueFunction(text, vader_scorer(), alts)
    x = all_qary_inputs(vf.n_features, vf.q)[::331]
    values = vf(x)
    assert values.shape == (len(x),) and np.all(np.abs(values) <= 1)
    expl = explain_text_qary(text, vader_scorer(), alts, random_state=0, noise_robust=True, sparsity=60, holdout=500)
    assert expl.faithfulness.r2 > 0.8
    top_features = set(np.argsort(-expl.feature_importance())[:3])
    assert {3, 4} <= top_features  # "not" and "great"
    assert next(iter(expl.pair_importance())) == (3, 4)


def test_bad_front_end_input():
    with pytest.raises(ValueError, match="no words"):
        QaryTextValueFunction("   ", lexicon_scorer)
    with pytest.raises(ValueError, match="same number"):
        QaryTextValueFunction("a b", lexicon_scorer, [["x"], ["y", "z"]])
    with pytest.raises(ValueError, match="lists of alternatives"):
        QaryTextValueFunction("a b c", lexicon_scorer, [["x"], ["y"]])
    with pytest.raises(TypeError, match="callable"):
        QaryTextValueFunction("a b", "not a scorer")
    vf = QaryTextValueFunction("a b", lambda texts: [0.0], ["x"])
    with pytest.raises(ValueError, match="scores for 2 texts"):
        vf(np.array([[0, 0], [1, 1]]))
    with pytest.raises(ValueError, match="0..2"):
        vf.texts(np.array([[0, 3]]))
