"""Classifier scorers: texts -> one number (logit, probability or log-odds of a chosen class).

Works with any callable ``texts -> (m, C)`` scores (logits or probabilities), with a Hugging Face
sequence-classification model (:class:`HFClassifier`), and with VADER (:func:`vader_scorer`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from scipy.special import log_softmax, logsumexp

Output = Literal["logit", "prob", "log_odds"]
OUTPUTS: tuple[str, ...] = ("logit", "prob", "log_odds")


def _class_log_odds(log_probs: np.ndarray, cls: int) -> np.ndarray:
    """``log p_c - log(1 - p_c)`` computed stably from log-probabilities ``(m, C)``."""
    others = np.delete(log_probs, cls, axis=1)
    return log_probs[:, cls] - logsumexp(others, axis=1)


class ClassScorer:
    """``scorer(texts) -> (m,)``: one class's logit, probability or log-odds from a multi-class model.

    Parameters
    ----------
    predict : callable
        ``texts -> (m, C)`` array of logits (``returns="logits"``) or probabilities (``returns="probs"``).
        A ``(m,)`` result is read as the score of the positive class of a binary model (a logit, or a
        probability with ``returns="probs"``) and becomes two columns.
    class_index : int
        The class whose value is explained.
    output : {"logit", "prob", "log_odds"}
        ``"logit"``: the raw class logit (needs ``returns="logits"``); ``"prob"``: its softmax probability;
        ``"log_odds"``: ``log p / (1 - p)`` (additive-friendly; the default for explanations).
    returns : {"logits", "probs"}
    labels : sequence of str, optional
        Class names, for display.
    """

    def __init__(
        self,
        predict: Callable[[list[str]], Any],
        class_index: int,
        *,
        output: Output = "log_odds",
        returns: Literal["logits", "probs"] = "logits",
        labels: Sequence[str] | None = None,
        eps: float = 1e-12,
    ) -> None:
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if returns not in ("logits", "probs"):
            raise ValueError(f"returns must be 'logits' or 'probs', got {returns!r}")
        if output == "logit" and returns == "probs":
            raise ValueError("output='logit' needs a model that returns logits; use 'log_odds' or 'prob'")
        self.predict = predict
        self.class_index = int(class_index)
        self.output = output
        self.returns = returns
        self.labels = list(labels) if labels is not None else None
        self.eps = float(eps)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """The model's raw ``(m, C)`` output (a 1-D binary output becomes two columns)."""
        raw = np.asarray(self.predict(list(texts)), dtype=np.float64)
        if raw.ndim == 1:
            raw = np.column_stack([1.0 - raw, raw]) if self.returns == "probs" else np.column_stack([0 * raw, raw])
        if raw.ndim != 2 or raw.shape[0] != len(texts):
            raise ValueError(f"predict returned shape {raw.shape} for {len(texts)} texts; expected (m, C)")
        if not 0 <= self.class_index < raw.shape[1]:
            raise ValueError(f"class_index {self.class_index} is out of range for {raw.shape[1]} classes")
        return raw

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        raw = self.scores(texts)
        c = self.class_index
        if self.output == "logit":
            return raw[:, c]
        if self.returns == "logits":
            log_probs = log_softmax(raw, axis=1)
        else:
            log_probs = np.log(np.clip(raw / raw.sum(axis=1, keepdims=True), self.eps, 1.0))
        if self.output == "prob":
            return np.exp(log_probs[:, c])
        return _class_log_odds(log_probs, c)


def resolve_class(label: int | str | None, labels: Sequence[str] | None, full_scores: np.ndarray) -> int:
    """Class index from an index, a label name (case-insensitive), or ``None`` = the predicted class."""
    n_classes = full_scores.shape[-1]
    if label is None:
        return int(np.argmax(full_scores.reshape(-1)))
    if isinstance(label, (int, np.integer)) or (isinstance(label, str) and label.lstrip("-").isdigit()):
        index = int(label)
        if not 0 <= index < n_classes:
            raise ValueError(f"class {index} is out of range for {n_classes} classes")
        return index
    names = [str(x).lower() for x in (labels or [])]
    if str(label).lower() not in names:
        raise ValueError(f"unknown class {label!r}; the model's classes are {list(labels or range(n_classes))}")
    return names.index(str(label).lower())


class HFClassifier:
    """A Hugging Face sequence classifier as ``texts -> (m, C)`` logits, batched by sorted length.

    Loads from a local path with ``HF_HUB_OFFLINE=1`` (nothing is downloaded) or wraps given objects; a loaded
    model is moved to ``device`` (``"auto"``: the GPU when present), a given one is used where it is.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any | None = None,
        *,
        batch_size: int = 32,
        max_length: int = 512,
        device: str = "auto",
    ) -> None:
        from .offline import configure_torch, resolve_device

        configure_torch()
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForSequenceClassification.from_pretrained(model).to(resolve_device(device))
        if tokenizer is None:
            raise ValueError("a tokenizer is required when passing a model object")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        id2label = getattr(model.config, "id2label", None) or {}
        self.labels = [str(id2label.get(i, i)) for i in range(model.config.num_labels)]

    @property
    def mask_token(self) -> str:
        return self.tokenizer.mask_token or self.tokenizer.unk_token or "[MASK]"

    def settings(self) -> dict[str, Any]:
        """What, besides the model files and the texts, determines the logits (for cache keys)."""
        return {"max_length": self.max_length, "dtype": str(self.model.dtype)}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        texts = list(texts)
        out = np.zeros((len(texts), len(self.labels)))
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [texts[r] for r in rows], padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            ).to(self.model.device)
            with torch.inference_mode():
                out[rows] = self.model(**batch).logits.double().cpu().numpy()
        return out


VADER_SCORES: tuple[str, ...] = ("compound", "pos", "neg", "neu")


def vader_scorer(score: str = "compound") -> Callable[[Sequence[str]], np.ndarray]:
    """``texts -> (m,)`` VADER sentiment (``compound`` in [-1, 1] by default, or ``pos``/``neg``/``neu``)."""
    if score not in VADER_SCORES:
        raise ValueError(f"VADER score must be one of {VADER_SCORES}, got {score!r}")
    from .offline import load_vader

    analyzer = load_vader()

    def scorer(texts: Sequence[str]) -> np.ndarray:
        return np.array([analyzer.polarity_scores(t)[score] for t in texts], dtype=np.float64)

    return scorer
