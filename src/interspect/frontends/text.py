"""Text units and masking: split a text into features and render it under a mask.

A text is cut into *units* (words, sentences, paragraphs, or user-given character spans); each unit is one
feature, kept apart from every other unit even when two units read the same (two "the" are two features).
Everything between units (spaces, punctuation in word mode, line breaks) is fixed context that no mask
touches. How a removed unit is rendered is an explicit setting because it changes model outputs a lot:

- ``"drop"``: the unit disappears and the whitespace around it is merged, so "a b c" without "b" is "a c";
- ``"mask_token"``: the unit is replaced by a mask token (``filler``, by default ``"[MASK]"``; the model
  front-ends pass the tokenizer's own mask or unknown token);
- ``"filler"``: the unit is replaced by a custom string (``filler``, by default ``"___"``).

Units are cut on Unicode text, not bytes or code points: a word is a run of whole grapheme clusters
(UAX #29, via the ``regex`` package), so combining marks stay with their letter (Devanagari vowel signs,
decomposed "résumé"), and an emoji sequence (a ZWJ family, a flag, a skin tone) is one unit of its own.
Scripts written without spaces between words have no word boundary a rule can find, so they fall back to
runs: Japanese is cut where the script changes (kanji | hiragana | katakana runs, roughly "私|は|学生|です");
Thai, Lao, Khmer and Myanmar keep each space-separated run (a phrase) as one unit. For true word units pass
``spans=`` from a dictionary segmenter (e.g. PyThaiNLP's or a Japanese morphological analyser's offsets).
Sentences end at ``.``/``!``/``?`` before an upper-case letter, a letter of a caseless script (Arabic, Hebrew,
Devanagari, CJK ...) or a digit, at ``؟``/``۔``/``।``/``॥`` before a space, at ``。！？`` (no space needed), at a
space between two Thai runs (Thai marks sentence ends with a space) and at blank lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import regex

from ..query.engine import check_masks

Unit = Literal["word", "sentence", "paragraph"]
Masking = Literal["drop", "mask_token", "filler"]
UNITS: tuple[str, ...] = ("word", "sentence", "paragraph")
MASKINGS: tuple[str, ...] = ("drop", "mask_token", "filler")
DEFAULT_FILLERS = {"mask_token": "[MASK]", "filler": "___"}

# Word characters of the scripts whose words are cut into script runs (the katakana-hiragana prolonged
# sound mark "ー" belongs to either kana run).
_KANA_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}ー"
# Grapheme clusters (\X) that start with a word character of a spaced script.
_RUN = rf"(?:(?=[\w--[{_KANA_CJK}]])\X)+"
# A word: runs of letters/digits joined by inner apostrophes, hyphens, dots or commas ("don't", "well-known",
# "3.5", "1,000", "e.g"); a kanji, hiragana or katakana run; or one emoji cluster. Other punctuation and
# symbols stay fixed context.
_WORD = regex.compile(
    rf"(?V1){_RUN}(?:[-'’.,]{_RUN})*"
    r"|(?:(?=\p{Han})\X)+|(?:(?=[\p{Hiragana}ー])\X)+|(?:(?=[\p{Katakana}ー])\X)+"
    r"|(?=[\p{Extended_Pictographic}\p{Regional_Indicator}])\X"
)
_CLOSE = r"[\"'”’)\]»」』）]*"  # closing quotes and brackets that belong to the sentence they end
# A sentence ends at terminal punctuation (plus closing quotes/brackets) followed by whitespace and a
# character that can start a sentence (an upper-case letter, a caseless script's letter, a digit); at the
# terminators of Arabic/Urdu/Devanagari scripts before whitespace; at CJK full stops (no space follows
# them); at a space between two Thai runs; or at a blank line.
_SENTENCE_END = regex.compile(
    rf"[.!?…]+{_CLOSE}(?=\s+[\"'“‘(\[«]?[\p{{Lu}}\p{{Lt}}\p{{Lo}}\p{{N}}])"
    rf"|[؟۔।॥]+{_CLOSE}(?=\s)"
    rf"|[。！？]+{_CLOSE}"
    r"|(?<=\p{Thai}\p{M}*)(?=\s+\p{Thai})"
    r"|\n\s*\n"
)
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e cf fig no al approx dept est inc ltd co corp jan feb mar apr jun "
    "jul aug sep sept oct nov dec mt ft".split()
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_DROPPED = "\uffff"  # sentinel (a Unicode noncharacter) marking a dropped unit until whitespace is merged
_DROP_RUN = re.compile("(\\s*)\uffff(?:\\s*\uffff)*(\\s*)")


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``(start, end)`` shrunk to exclude surrounding whitespace, or None when nothing is left."""
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return None
    lead = len(piece) - len(piece.lstrip())
    return start + lead, start + lead + len(stripped)


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if match.group().startswith((".", "…")) and not match.group().startswith(".."):
            word = re.search(r"(\S+)$", text[start : match.start()])
            token = word.group(1).lower().lstrip("(\"'") if word else ""
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue  # "Dr. Smith", "J. Doe": not a sentence end
        span = _trimmed(text, start, end)
        if span is not None:
            spans.append(span)
        start = end
    last = _trimmed(text, start, len(text))
    if last is not None:
        spans.append(last)
    return spans


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        span = _trimmed(text, start, match.start())
        if span is not None:
            spans.append(span)
        start = match.end()
    last = _trimmed(text, start, len(text))
    if last is not None:
        spans.append(last)
    return spans


@dataclass(frozen=True)
class TextUnits:
    """A text cut into units (features) with their character spans.

    Attributes
    ----------
    text : str
        The original text.
    spans : tuple of (start, end)
        Character spans of the units, sorted and non-overlapping; ``text[start:end]`` is the unit.
    unit : str
        How the text was split (``"word"``, ``"sentence"``, ``"paragraph"`` or ``"span"``).
    """

    text: str
    spans: tuple[tuple[int, int], ...]
    unit: str

    @property
    def units(self) -> list[str]:
        """The unit strings, in text order (repeats included)."""
        return [self.text[a:b] for a, b in self.spans]

    @property
    def n_units(self) -> int:
        return len(self.spans)

    def __len__(self) -> int:
        return len(self.spans)

    @property
    def feature_names(self) -> list[str]:
        """Unique display names: the unit itself, with ``#k`` on its k-th repeat ("the", "the#2").

        Long units (sentences) are shortened to their first words with an ellipsis.
        """
        names: list[str] = []
        seen: Counter[str] = Counter()
        for unit in self.units:
            short = " ".join(unit.split())
            if len(short) > 40:
                short = short[:37].rstrip() + "…"
            seen[short] += 1
            names.append(short if seen[short] == 1 else f"{short}#{seen[short]}")
        # A name such as "the#2" may itself appear verbatim in the text; make every name unique.
        counts = Counter(names)
        if len(counts) < len(names):
            used: Counter = Counter()
            for i, name in enumerate(names):
                used[name] += 1
                if counts[name] > 1 and used[name] > 1:
                    names[i] = f"{name}@{i}"
        return names

    def gaps(self) -> list[str]:
        """The fixed text around the units: ``n_units + 1`` pieces (before, between, after)."""
        bounds = [0, *(x for span in self.spans for x in span), len(self.text)]
        return [self.text[bounds[2 * i] : bounds[2 * i + 1]] for i in range(len(self.spans) + 1)]

    def render(
        self, masks: np.ndarray | Sequence[bool], masking: Masking = "drop", filler: str | None = None
    ) -> str | list[str]:
        """The text with the units where ``mask`` is False removed or replaced.

        Parameters
        ----------
        masks : (n,) or (m, n) array of bool
            ``True`` keeps a unit. A single mask gives a string, a matrix a list of ``m`` strings.
        masking : {"drop", "mask_token", "filler"}
            How a removed unit is rendered (see the module docstring).
        filler : str, optional
            Replacement string for ``"mask_token"`` / ``"filler"``; ignored for ``"drop"``.
        """
        if masking not in MASKINGS:
            raise ValueError(f"masking must be one of {MASKINGS}, got {masking!r}")
        single = np.ndim(masks) == 1
        arr = check_masks(np.atleast_2d(masks), self.n_units)
        if masking == "drop":
            replacement = _DROPPED
        else:
            replacement = DEFAULT_FILLERS[masking] if filler is None else str(filler)
        # One object-array table of pieces: gap_0, unit_0 | replacement, gap_1, ..., gap_n.
        units = np.array(self.units, dtype=object)
        body = np.where(arr, units[None, :], replacement)
        gaps = np.array(self.gaps(), dtype=object)
        pieces = np.empty((arr.shape[0], 2 * self.n_units + 1), dtype=object)
        pieces[:, 0::2] = gaps[None, :]
        pieces[:, 1::2] = body
        texts = ["".join(row) for row in pieces]
        if masking == "drop":
            texts = [_merge_dropped(t) if _DROPPED in t else t for t in texts]
        return texts[0] if single else texts


def _merge_dropped(text: str) -> str:
    """Remove dropped-unit sentinels, merging the whitespace around each run of them."""

    def repl(match: re.Match) -> str:
        if match.start() == 0 or match.end() == len(text):
            return ""  # no dangling whitespace at either end of the text
        before, after = match.group(1), match.group(2)
        return before if len(before) >= len(after) else after

    return _DROP_RUN.sub(repl, text)


def split_units(text: str, unit: Unit | str = "word", spans: Sequence[tuple[int, int]] | None = None) -> TextUnits:
    """Cut ``text`` into units, each one feature.

    Parameters
    ----------
    text : str
        The input text; must contain at least one unit.
    unit : {"word", "sentence", "paragraph"}
        ``"word"``: runs of letters/digits in whole grapheme clusters (inner ``'``, ``-``, ``.``, ``,``
        allowed: "don't", "3.5"), or one emoji; punctuation stays fixed context; unspaced scripts fall back
        to runs (see the module docstring). ``"sentence"``: split after ``.``/``!``/``?`` before a capital,
        a caseless letter or a digit (common abbreviations and initials excepted), after ``؟ ۔ । ॥ 。！？``,
        and at blank lines. ``"paragraph"``: split at blank lines (also the way to pass several documents).
    spans : sequence of (start, end), optional
        User-given character spans; overrides ``unit``. They must be non-empty, inside the text and
        non-overlapping; they are sorted and each is one unit.

    Raises
    ------
    ValueError
        If the text is empty or has no unit, on an unknown ``unit``, or on bad spans.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty: there is nothing to explain")
    if spans is not None:
        cleaned = sorted((int(a), int(b)) for a, b in spans)
        if not cleaned:
            raise ValueError("spans is empty")
        for (a, b), nxt in zip(cleaned, [*cleaned[1:], None], strict=True):
            if not 0 <= a < b <= len(text):
                raise ValueError(f"span ({a}, {b}) is empty or outside the text of length {len(text)}")
            if nxt is not None and nxt[0] < b:
                raise ValueError(f"spans ({a}, {b}) and {nxt} overlap")
        return TextUnits(text, tuple(cleaned), "span")
    if unit == "word":
        found = [m.span() for m in _WORD.finditer(text)]
    elif unit == "sentence":
        found = _sentence_spans(text)
    elif unit == "paragraph":
        found = _paragraph_spans(text)
    else:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    if not found:
        raise ValueError(f"text has no {unit} units: {text[:60]!r}")
    return TextUnits(text, tuple(found), unit)
