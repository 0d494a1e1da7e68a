"""Text units and masking: splitting, duplicates, punctuation, rendering, the value-function wrapper."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from interspect.frontends import TextValueFunction, split_units
from interspect.frontends.base import fingerprint


def test_words_keep_repeats_apart_with_spans():
    tu = split_units("the cat saw the dog, the end.", "word")
    assert tu.units == ["the", "cat", "saw", "the", "dog", "the", "end"]
    assert tu.feature_names == ["the", "cat", "saw", "the#2", "dog", "the#3", "end"]
    assert len(set(tu.feature_names)) == tu.n_units == 7
    assert all(tu.text[a:b] == u for (a, b), u in zip(tu.spans, tu.units, strict=True))
    # the fixed text between units holds the punctuation
    assert tu.gaps() == ["", " ", " ", " ", " ", ", ", " ", "."]


def test_feature_names_stay_unique_when_a_suffix_is_in_the_text():
    tu = split_units("a a#2 a", spans=[(0, 1), (2, 5), (6, 7)])
    assert tu.units == ["a", "a#2", "a"]
    assert len(set(tu.feature_names)) == 3


def test_word_punctuation_and_inner_symbols():
    tu = split_units("Don't panic: it's a well-known, 3.5-star film (really)!", "word")
    assert tu.units == ["Don't", "panic", "it's", "a", "well-known", "3.5-star", "film", "really"]
    full = tu.render(np.ones(tu.n_units, bool))
    assert full == tu.text


def test_sentences_abbreviations_quotes_and_paragraphs():
    text = 'Dr. Smith said it never fails to impress! "Really?" Yes, e.g. twice.\n\nIt costs 3.5 dollars.  The end'
    tu = split_units(text, "sentence")
    assert tu.units == [
        "Dr. Smith said it never fails to impress!",
        '"Really?"',
        "Yes, e.g. twice.",
        "It costs 3.5 dollars.",
        "The end",
    ]
    paragraphs = split_units(text, "paragraph")
    assert paragraphs.n_units == 2
    assert paragraphs.units[1] == "It costs 3.5 dollars.  The end"


def test_drop_merges_whitespace_and_matches_a_reference_join():
    tu = split_units("one two three four five", "word")
    for bits in itertools.product([False, True], repeat=tu.n_units):
        mask = np.array(bits)
        expected = " ".join(u for u, keep in zip(tu.units, bits, strict=True) if keep)
        assert tu.render(mask, "drop") == expected


def test_drop_keeps_paragraph_breaks():
    tu = split_units("First doc.\n\nSecond doc.\n\nThird doc.", "paragraph")
    assert tu.render([True, False, True]) == "First doc.\n\nThird doc."
    assert tu.render([False, True, True]) == "Second doc.\n\nThird doc."
    assert tu.render([True, True, False]) == "First doc.\n\nSecond doc."


def test_mask_token_and_filler_replace_each_unit():
    tu = split_units("the cat saw the dog.", "word")
    masks = np.array([[1, 0, 1, 0, 1], [0, 0, 0, 0, 0]], dtype=bool)
    assert tu.render(masks, "mask_token") == ["the [MASK] saw [MASK] dog.", "[MASK] [MASK] [MASK] [MASK] [MASK]."]
    assert tu.render(masks[0], "mask_token", filler="<unk>") == "the <unk> saw <unk> dog."
    assert tu.render(masks[0], "filler", filler="...") == "the ... saw ... dog."
    assert tu.render(masks[0], "filler") == "the ___ saw ___ dog."


def test_vectorised_render_equals_one_by_one():
    tu = split_units("A b, c; d. E f g!  H i?", "word")
    masks = np.random.default_rng(0).random((50, tu.n_units)) < 0.5
    for masking in ("drop", "mask_token", "filler"):
        many = tu.render(masks, masking)
        assert many == [tu.render(m, masking) for m in masks]


def test_user_spans():
    text = "alpha beta gamma"
    tu = split_units(text, spans=[(11, 16), (0, 10)])
    assert tu.units == ["alpha beta", "gamma"] and tu.unit == "span"
    assert tu.render([False, True]) == "gamma"
    with pytest.raises(ValueError, match="overlap"):
        split_units(text, spans=[(0, 6), (5, 9)])
    with pytest.raises(ValueError, match="outside"):
        split_units(text, spans=[(3, 30)])


@pytest.mark.parametrize("bad", ["", "   \n\t "])
def test_empty_input_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="empty"):
        split_units(bad, "word")


def test_no_units_and_bad_arguments():
    with pytest.raises(ValueError, match="no word units"):
        split_units("?!...", "word")
    with pytest.raises(ValueError, match="unit must be"):
        split_units("a b", "token")
    tu = split_units("a b", "word")
    with pytest.raises(ValueError, match="masking"):
        tu.render([True, True], "blank")
    with pytest.raises(ValueError, match="shape"):
        tu.render([True, True, True])


def test_text_value_function_renders_dedups_and_orders():
    calls: list[list[str]] = []

    def scorer(texts):
        calls.append(list(texts))
        return np.array([float(len(t)) for t in texts])

    tu = split_units("the the cat", "word")
    vf = TextValueFunction(tu, scorer, model="len", masking="drop")
    masks = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 1], [0, 0, 0]], dtype=bool)
    values = vf(masks)
    # dropping either "the" renders the same text: scored once, returned for both masks
    np.testing.assert_array_equal(values, [11.0, 7.0, 7.0, 0.0])
    assert sorted(calls[0]) == sorted({"the the cat", "the cat", ""})
    assert vf.n_features == 3 and vf.feature_names == ["the", "the#2", "cat"]
    info = vf.describe()
    assert info["model"] == "len" and info["unit"] == "word" and info["units"] == ["the", "the", "cat"]
    with pytest.raises(ValueError, match="shape"):
        vf(np.ones((2, 4), bool))


def test_fingerprint_is_stable_and_sensitive():
    tu = split_units("a b c", "word")
    base = TextValueFunction(tu, len, model="m", masking="drop", target="x").fingerprint
    assert base == TextValueFunction(split_units("a b c", "word"), len, model="m", target="x").fingerprint
    assert base != TextValueFunction(tu, len, model="m", masking="filler", filler="_", target="x").fingerprint
    assert base != TextValueFunction(tu, len, model="m2", target="x").fingerprint
    assert base != TextValueFunction(tu, len, model="m", target="y").fingerprint
    assert base != TextValueFunction(split_units("a b c", "sentence"), len, model="m", target="x").fingerprint
    assert fingerprint(a=1, b="x") == fingerprint(b="x", a=1)


def test_importing_frontends_stays_light():
    """torch, transformers and openai are imported only when a model is built."""
    import subprocess
    import sys

    code = (
        "import sys, interspect.frontends as f; "
        "heavy = [m for m in ('torch', 'transformers', 'openai', 'vaderSentiment') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_reusable_prefix_length_stops_before_the_shortest_prompts_last_token():
    from interspect.frontends.llm import reusable_prefix_length

    assert reusable_prefix_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert reusable_prefix_length([[1, 2], [1, 2, 3]]) == 1  # the shorter prompt's last token is recomputed
    assert reusable_prefix_length([[7, 2], [1, 2]]) == 0
    assert reusable_prefix_length([[], [1]]) == 0
