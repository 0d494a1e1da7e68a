"""Text units on non-Latin scripts: grapheme clusters, caseless and unspaced scripts, emoji, byte-order marks."""

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interspect.frontends.text import split_units

HINDI = "मैं हिंदी में लिखता हूँ"  # 5 words, each with vowel signs or a virama
NFD_FRENCH = unicodedata.normalize("NFD", "Mon résumé est prêt")
THAI = "ฉันรักภาษาไทย มากที่สุด"
JAPANESE = "私は学生です。コーヒーが好きです！"
ARABIC = "مرحبا بالعالم. كيف حالك؟ أنا بخير."
HEBREW = "שלום עולם. מה שלומך? אני בסדר!"
EMOJI = "I ❤️ NY 👨‍👩‍👧 🇫🇷 great😀"
SAMPLES = [HINDI, NFD_FRENCH, THAI, JAPANESE, ARABIC, HEBREW, EMOJI, "यह पहला वाक्य है। यह दूसरा है॥", "من می‌خواهم"]


def _joined(units) -> str:
    gaps = units.gaps()
    return "".join(g + u for g, u in zip(gaps, [*units.units, ""], strict=True))


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize("unit", ["word", "sentence", "paragraph"])
def test_units_join_back_to_the_original_text(text, unit):
    units = split_units(text, unit)
    assert _joined(units) == text
    assert units.render(np.ones(units.n_units, dtype=bool)) == text


def test_combining_marks_stay_with_their_letter():
    assert split_units(HINDI).units == ["मैं", "हिंदी", "में", "लिखता", "हूँ"]
    words = split_units(NFD_FRENCH).units
    assert len(words) == 4 and words[1] == unicodedata.normalize("NFD", "résumé")


def test_no_unit_starts_or_ends_inside_a_grapheme_cluster():
    import regex

    for text in SAMPLES:
        bounds = {0}
        for cluster in regex.finditer(r"\X", text):
            bounds.add(cluster.end())
        for start, end in split_units(text).spans:
            assert start in bounds and end in bounds, (text, text[start:end])


def test_emoji_are_units_of_their_own():
    assert split_units(EMOJI).units == ["I", "❤️", "NY", "👨‍👩‍👧", "🇫🇷", "great", "😀"]


def test_unspaced_scripts_fall_back_to_runs():
    assert split_units(JAPANESE).units == ["私", "は", "学生", "です", "コーヒー", "が", "好", "きです"]
    assert split_units(THAI).units == ["ฉันรักภาษาไทย", "มากที่สุด"]  # Thai: one unit per spaced run


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ARABIC, ["مرحبا بالعالم.", "كيف حالك؟", "أنا بخير."]),
        (HEBREW, ["שלום עולם.", "מה שלומך?", "אני בסדר!"]),
        (JAPANESE, ["私は学生です。", "コーヒーが好きです！"]),
        ("यह पहला वाक्य है। यह दूसरा है॥ तीसरा?", ["यह पहला वाक्य है।", "यह दूसरा है॥", "तीसरा?"]),
        ("یہ پہلا جملہ ہے۔ یہ دوسرا ہے", ["یہ پہلا جملہ ہے۔", "یہ دوسرا ہے"]),
        (THAI, ["ฉันรักภาษาไทย", "มากที่สุด"]),
        ("Dr. Smith left. It was 3.5 km! ok. Done", ["Dr. Smith left.", "It was 3.5 km! ok.", "Done"]),
    ],
)
def test_sentences_end_at_the_scripts_own_terminators(text, expected):
    assert split_units(text, "sentence").units == expected


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=80))
def test_any_text_splits_into_ordered_units_that_join_back(text):
    for unit in ("word", "sentence"):
        try:
            units = split_units(text, unit)
        except ValueError as exc:  # only a text without any unit is refused
            assert "empty" in str(exc) or "no " in str(exc)
            continue
        assert _joined(units) == text
        starts = [a for a, _ in units.spans]
        assert starts == sorted(starts) and all(a < b for a, b in units.spans)


def test_a_file_with_a_byte_order_mark_is_read_without_it(tmp_path, monkeypatch):
    from interspect import cli

    path = tmp_path / "input.txt"
    path.write_bytes("\ufeffBonjour le monde".encode())
    args = cli.build_parser().parse_args(["explain", "--file", str(path), "--model", "vader"])
    text, _ = cli._read_input(args)
    assert text == "Bonjour le monde"
