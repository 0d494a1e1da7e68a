"""Explanation object: surrogate evaluation, top interactions with names, JSON round trip."""

import json

import numpy as np
import pytest

from interspect import Explanation, Faithfulness, SparseTransform
from interspect.transforms.exact import all_masks


def _planted():
    # f(S) = 1 + 2·[0 ∈ S] - 3·[0,1 ⊆ S] + 0.5·[2 ∈ S] in Möbius form, on 4 features
    mobius = SparseTransform.from_dict({(): 1.0, (0,): 2.0, (0, 1): -3.0, (2,): 0.5}, 4, "mobius")
    return mobius, Explanation(mobius.to_fourier(), feature_names=["the", "cat", "the", "sat"], method="test")


def test_predict_and_mobius_match_the_planted_function():
    mobius, expl = _planted()
    masks = all_masks(4)
    np.testing.assert_allclose(expl.predict(masks), mobius.predict(masks))
    assert expl.mobius.to_dict() == pytest.approx(mobius.to_dict())


def test_top_keeps_duplicate_names_apart():
    _, expl = _planted()
    top = expl.top(3, index="mobius")
    assert [t.features for t in top] == [(0, 1), (0,), (2,)]
    assert top[0].names == ("the", "cat") and top[2].names == ("the",)
    assert top[0].value == pytest.approx(-3.0)
    pairs = expl.top(5, index="mobius", min_order=2)
    assert [t.features for t in pairs] == [(0, 1)]


def test_json_round_trip_preserves_everything():
    _, expl = _planted()
    expl.faithfulness = Faithfulness(float(np.float64(0.97)), "heldout", 100)
    expl.info = {"b": np.int64(6), "note": "x"}
    text = expl.to_json()
    json.loads(text)
    back = Explanation.from_json(text)
    assert back.fourier.to_dict() == pytest.approx(expl.fourier.to_dict())
    assert back.feature_names == expl.feature_names
    assert back.faithfulness == expl.faithfulness and back.info["b"] == 6
    np.testing.assert_allclose(back.predict(all_masks(4)), expl.predict(all_masks(4)))


def test_bad_construction_is_rejected():
    fourier = SparseTransform.from_dict({(0,): 1.0}, 3)
    with pytest.raises(ValueError, match="feature names"):
        Explanation(fourier, feature_names=["a"])
    with pytest.raises(ValueError, match="Fourier"):
        Explanation(fourier.to_mobius())
    with pytest.raises(ValueError, match="not an interspect explanation"):
        Explanation.from_dict({"format_version": 99})
    with pytest.raises(ValueError, match="version"):
        Explanation.from_dict({"format": "interspect.explanation", "version": 99})
    with pytest.raises(ValueError, match="JSON object"):
        Explanation.from_json("[1, 2]")


def test_predict_refuses_masks_that_are_not_zero_one():
    _, expl = _planted()
    for bad in (np.array([[2, 0, 1, 0]]), np.array([[0.5, 1, 0, 0]]), np.zeros((1, 3))):
        with pytest.raises(ValueError, match="mask"):
            expl.predict(bad)
