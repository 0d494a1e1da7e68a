"""Image regions + a question -> the answer: the zero-shot caption scorer (planted and real), the question adapter,
the chat path through a real HTTP server with image content parts, and the vlm experiment's compositional case."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax

from interspect.frontends.vision import ImageValueFunction
from interspect.frontends.vlm import VisualQuestion, check_options, multiple_choice_prompt, parse_multiple_choice
from interspect.frontends.zero_shot_vlm import ZeroShotCaptionScorer, square_crops

sys.path.insert(0, str(Path(__file__).parent))


def test_square_crops_cover_the_longer_side_with_half_overlap():
    images = np.arange(2 * 4 * 8 * 3, dtype=np.float32).reshape(2, 4, 8, 3)
    crops = square_crops(images)
    assert crops.shape == (2, 3, 4, 4, 3)
    for k, start in enumerate((0, 2, 4)):
        np.testing.assert_array_equal(crops[:, k], images[:, :, start : start + 4])
    assert square_crops(images[:, :4, :4]).shape == (2, 1, 4, 4, 3)
    tall = square_crops(np.transpose(images, (0, 2, 1, 3)))
    np.testing.assert_array_equal(tall[:, 2], np.transpose(images, (0, 2, 1, 3))[:, 4:8])


def test_multiple_choice_prompt_round_trip_and_bad_options():
    options = ["a cat", "a dog: big", "nothing"]
    text = multiple_choice_prompt("What is it?", options)
    assert text.splitlines()[:2] == ["What is it?", "A: a cat"]
    assert parse_multiple_choice(text) == options
    for bad in (["only one"], ["same", "same"], ["two\nlines", "b"], "ab"):
        with pytest.raises(ValueError, match="options"):
            check_options("q", bad)
    with pytest.raises(ValueError, match="question"):
        check_options(" ", ["a", "b"])


class _ColourClassifier:
    """Two classes: logit of "red thing" = 20 x mean red, of "blue thing" = 20 x mean blue."""

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return 20.0 * np.stack([images[..., 0].mean(axis=(1, 2)), images[..., 2].mean(axis=(1, 2))], axis=1)


class _Encoder:
    """Planted embeddings: class prompts and captions on two axes, the joint caption on their diagonal."""

    vectors = {"a photo of a red thing": [1, 0], "a photo of a blue thing": [0, 1], "red": [1, 0], "blue": [0, 1],
               "red and blue": [0.7071, 0.7071], "neither": [-0.7071, -0.7071]}  # fmt: skip

    def encode(self, texts):
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


def test_zero_shot_scorer_is_the_convex_combination_of_class_embeddings():
    scorer = ZeroShotCaptionScorer(_ColourClassifier(), _Encoder(), ["red thing", "blue thing"], top_classes=2,
                                   temperature=0.1)  # fmt: skip
    red, blue = np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 3), np.float32)
    red[..., 0], blue[..., 2] = 1.0, 1.0
    scene = np.concatenate([red, blue], axis=1)  # 4 x 8: crops all red, half and half, all blue
    captions = ["red", "blue", "red and blue", "neither"]
    log_probs = scorer(np.stack([scene, np.concatenate([red, red], axis=1)]), captions)
    np.testing.assert_allclose(np.exp(log_probs).sum(axis=1), 1.0)
    assert np.argmax(log_probs[0]) == 2 and np.argmax(log_probs[1]) == 0
    # by hand: crop probabilities softmax(20 * mean colour), summed embedding, cosine / temperature, softmax
    crop_probs = softmax(np.array([[20.0, 0.0], [10.0, 10.0], [0.0, 20.0]]), axis=1)  # red, half-half, blue crops
    embedding = crop_probs.sum(axis=0) / np.linalg.norm(crop_probs.sum(axis=0))
    cosine = _Encoder().encode(captions).astype(np.float64) @ embedding
    expected = cosine / 0.1 - np.log(np.exp(cosine / 0.1).sum())
    np.testing.assert_allclose(log_probs[0], expected, atol=1e-5)
    with pytest.raises(ValueError, match="two captions"):
        scorer(scene[None], ["red"])
    with pytest.raises(ValueError, match="class_prompt"):
        ZeroShotCaptionScorer(_ColourClassifier(), _Encoder(), ["a", "b"], class_prompt="no slot")


@pytest.fixture(scope="module")
def real_scorer():
    pytest.importorskip("torch")
    return ZeroShotCaptionScorer()


@pytest.mark.slow
def test_vlm_experiment_finds_the_two_objects_needed_together(real_scorer, tmp_path):
    from interspect.experiments import run

    result = run("vlm", True, budget=200, n_test=60, methods=("auto", "lasso"), vlm=real_scorer,
                 json=tmp_path / "vlm.json")  # fmt: skip
    rows = {row["method"]: row for row in result.rows}
    joint = rows["auto"]["joint_model"]
    assert joint > 2.0  # the real model: the joint answer needs the cat's side and the coffee's side together
    assert rows["lasso"]["joint_surrogate"] == pytest.approx(0.0, abs=1e-9)  # additive: no joint effect
    assert 0.25 * joint < rows["auto"]["joint_surrogate"] < 1.5 * joint
    assert rows["auto"]["r2"] > rows["lasso"]["r2"] + 0.1
    assert rows["auto"]["crossing_share"] > 0.0
    assert '"joint_model"' in (tmp_path / "vlm.json").read_text()


@pytest.mark.slow
def test_chat_vlm_sends_masked_images_to_a_real_server_and_matches_the_local_model(real_scorer, monkeypatch):
    pytest.importorskip("openai")
    pytest.importorskip("fastapi")
    from openai_server import KEY, CaptionVLMBackend, OpenAIServer

    from interspect.experiments.vlm import OPTIONS, QUESTION, TARGET, cat_and_coffee
    from interspect.frontends.vlm import ChatVLM

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    image = np.rint(cat_and_coffee() * 255) / 255  # what survives the PNG round trip
    masks = np.random.default_rng(3).random((6, 8)) < 0.5
    local = ImageValueFunction(VisualQuestion(real_scorer, QUESTION, OPTIONS), image, regions=(2, 4), target=TARGET,
                               output="log_odds", masking="gray")  # fmt: skip
    with OpenAIServer(CaptionVLMBackend(real_scorer)) as server:
        vlm = ChatVLM("zero-shot-vlm", base_url=server.url, api_key=KEY, concurrency=3)
        remote = ImageValueFunction(VisualQuestion(vlm, QUESTION, OPTIONS), image, regions=(2, 4), target=TARGET,
                                    output="log_odds", masking="gray")  # fmt: skip
        values = remote(masks)
        bodies = list(server.app.state.requests)
    # the server saw each masked image as an 8-bit PNG: the local model on the same pixels gives the same answers
    renders = np.rint(local.render(masks) * 255) / 255
    log_probs = np.asarray(real_scorer(renders.astype(np.float32), list(OPTIONS)))
    target = OPTIONS.index(TARGET)
    others = np.log(np.exp(np.delete(log_probs, target, axis=1)).sum(axis=1))
    np.testing.assert_allclose(values, log_probs[:, target] - others, atol=1e-4)
    np.testing.assert_allclose(values, local(masks), atol=0.5)  # 8-bit rounding of the gray moves it a little
    assert np.ptp(values) > 1.0  # the masks change the answer
    parts = bodies[-1]["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert parse_multiple_choice(parts[0]["text"]) == list(OPTIONS)
    assert vlm.report()["scored"] == len(masks) + 1 and vlm.report()["floored"] == 0
    assert KEY not in repr(vlm) and KEY not in str(vlm.report())
