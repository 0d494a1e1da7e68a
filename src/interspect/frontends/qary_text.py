"""Text as q-ary features: each word is kept (0), removed (1), or replaced by one of ``q - 2`` alternatives.

Works with any scorer that maps a list of texts to numbers (a sentiment lexicon such as VADER, a classifier's
logit, an LLM's log-probability of an answer). A replacement shows how the output depends on *what* the word
is, not only on whether it is there: "good" → "bad" and "good" → "fine" are different states of one feature.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..explanation import QaryExplanation
from ..transforms.qary import check_inputs

Scorer = Callable[[list[str]], Sequence[float]]
KEEP, REMOVE = 0, 1


class QaryTextValueFunction:
    """Value function over the words of ``text``: input ``x`` (m, n) in ``0 … q-1`` -> ``scorer(texts)``.

    Parameters
    ----------
    text : str or sequence of str
        The text (split on whitespace) or its words.
    scorer : callable
        ``list[str] -> m numbers``.
    alternatives : sequence of str, or one sequence of str per word
        Replacements: value ``v >= 2`` puts ``alternatives[v - 2]`` (shared) or ``alternatives[i][v - 2]``
        (per word) in place of word ``i``. Every word needs the same number of alternatives, so
        ``q = 2 + len(...)``. An empty list gives ``q = 2`` (keep or remove).
    removed : str
        What a removed word becomes (default: nothing; e.g. ``"[MASK]"`` to keep positions).
    """

    def __init__(
        self,
        text: str | Sequence[str],
        scorer: Scorer,
        alternatives: Sequence[str] | Sequence[Sequence[str]] = (),
        *,
        removed: str = "",
    ) -> None:
        words = text.split() if isinstance(text, str) else [str(w) for w in text]
        if not words:
            raise ValueError("the text has no words")
        if not callable(scorer):
            raise TypeError("scorer must be callable: list of texts -> scores")
        self.words = words
        self.n_features = len(words)
        self.scorer = scorer
        table = self._alternatives_table(alternatives)
        self.q = 2 + table.shape[1]
        # choices[i, v]: what word i becomes in state v
        self.choices = np.empty((self.n_features, self.q), dtype=object)
        self.choices[:, KEEP] = words
        self.choices[:, REMOVE] = removed
        self.choices[:, 2:] = table

    def _alternatives_table(self, alternatives: Sequence[str] | Sequence[Sequence[str]]) -> np.ndarray:
        alts = list(alternatives)
        if not alts:
            return np.empty((self.n_features, 0), dtype=object)
        if all(isinstance(a, str) for a in alts):
            return np.array([alts] * self.n_features, dtype=object)
        if len(alts) != self.n_features:
            raise ValueError(f"{len(alts)} lists of alternatives for {self.n_features} words")
        lengths = {len(a) for a in alts}
        if len(lengths) != 1 or any(isinstance(a, str) for a in alts):
            raise ValueError("every word needs a list of the same number of alternatives")
        out = np.empty((self.n_features, lengths.pop()), dtype=object)
        out[:] = [[str(s) for s in a] for a in alts]
        return out

    @property
    def feature_names(self) -> list[str]:
        return list(self.words)

    def texts(self, x: np.ndarray) -> list[str]:
        """The texts for each row of ``x`` (removed words with ``removed=""`` leave no gap)."""
        x = check_inputs(x, self.n_features, self.q)
        tokens = self.choices[np.arange(self.n_features)[None, :], x]
        return [" ".join(t for t in row if t) for row in tokens]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        texts = self.texts(x)
        scores = np.asarray(self.scorer(texts), dtype=np.float64).reshape(-1)
        if scores.shape != (len(texts),):
            raise ValueError(f"scorer returned {scores.shape[0]} scores for {len(texts)} texts")
        return scores


def vader_scorer(key: str = "compound") -> Scorer:
    """VADER sentiment (``vaderSentiment`` package) as a scorer: one polarity score per text."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("vader_scorer needs the vaderSentiment package: pip install vaderSentiment") from exc
    analyzer = SentimentIntensityAnalyzer()
    return lambda texts: [analyzer.polarity_scores(t)[key] for t in texts]


def explain_text_qary(
    text: str | Sequence[str],
    scorer: Scorer,
    alternatives: Sequence[str] | Sequence[Sequence[str]] = (),
    *,
    removed: str = "",
    **kwargs: Any,
) -> QaryExplanation:
    """q-SFT explanation of ``scorer`` on ``text`` with words kept / removed / replaced (``kwargs`` go to
    :func:`~interspect.explain` with ``q``)."""
    vf = QaryTextValueFunction(text, scorer, alternatives, removed=removed)
    metadata = dict(kwargs.pop("metadata", None) or {}, text=" ".join(vf.words), states=vf.choices.tolist())
    from ..api import explain_qary

    return explain_qary(vf, vf.n_features, vf.q, feature_names=vf.feature_names, metadata=metadata, **kwargs)
