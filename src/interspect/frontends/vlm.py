"""Image regions + a question -> the answer: a vision-language model seen as an image model over answer options.

A VLM here is anything with ``answer_log_probs(images, question, options) -> (B, K)``: the log-probability of
each answer option for each image. :class:`VisualQuestion` fixes the question and the options, which turns the
VLM into the ``(B, H, W, C) -> (B, K)`` model that :class:`~.vision.ImageValueFunction` masks region by region;
``target=<option>, output="log_odds"`` then explains why the model gives that answer rather than the others.

VLMs: :class:`ChatVLM`, any OpenAI-compatible chat endpoint that takes images (each masked image is sent as a
PNG ``image_url`` content part, the options are lettered in the prompt, and the letters' first-token
log-probabilities are read; the floor rule of :mod:`.openai_chat` fills in a letter absent from the top
candidates), and the offline :class:`~.zero_shot_vlm.ZeroShotCaptionScorer` for tests and experiments.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from scipy.special import log_softmax

from .openai_chat import floored_masses, png_data_url


class VLM(Protocol):
    def answer_log_probs(self, images: np.ndarray, question: str, options: Sequence[str]) -> np.ndarray: ...


def multiple_choice_prompt(question: str, options: Sequence[str]) -> str:
    """The question, one lettered line per option (``A: ...``), and the instruction to answer with the letter."""
    lines = [f"{letter}: {option}" for letter, option in zip(string.ascii_uppercase, options, strict=False)]
    return "\n".join([question.strip(), *lines, "Answer with the letter only."])


def parse_multiple_choice(text: str) -> list[str]:
    """The options of a :func:`multiple_choice_prompt` text, in letter order (what a server reads back)."""
    options: list[str] = []
    for line in text.splitlines():
        letter, sep, option = line.partition(": ")
        if sep and letter == string.ascii_uppercase[len(options)]:
            options.append(option.strip())
    return options


def check_options(question: str, options: Sequence[str]) -> list[str]:
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string, got {question!r}")
    if isinstance(options, str) or len(options) < 2 or len(options) > len(string.ascii_uppercase):
        raise ValueError(f"options must be a list of 2 to 26 answers, got {options!r}")
    if not all(isinstance(o, str) and o.strip() and "\n" not in o for o in options) or len(set(options)) < len(options):
        raise ValueError(f"options must be distinct non-empty one-line strings, got {options!r}")
    return list(options)


class VisualQuestion:
    """``model(images) -> (B, K)`` answer log-probabilities of ``vlm`` for one question and its options.

    ``labels`` are the options, so :class:`~.vision.ImageValueFunction` accepts an option as ``target``.
    """

    def __init__(self, vlm: VLM, question: str, options: Sequence[str]) -> None:
        self.labels = check_options(question, options)
        self.vlm, self.question = vlm, question
        self.name = f"{getattr(vlm, 'name', type(vlm).__name__)} | question={question!r} | options={self.labels!r}"

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.vlm.answer_log_probs(images, self.question, self.labels), dtype=np.float64)

    def __repr__(self) -> str:
        return f"VisualQuestion({self.name})"


class ChatVLM:
    """An OpenAI-compatible chat model with image input as a :class:`VLM` (module docstring).

    Parameters
    ----------
    model : str
        Model name on the server.
    top_logprobs : int
        First-token candidates asked for (at most 20); options beyond them get the floor.
    base_url, api_key, concurrency, timeout, max_retries, requests_per_minute, tokens_per_minute, random_state
        See :class:`~.openai_transport.Transport` (the key comes from ``$OPENAI_API_KEY`` by default).
    """

    def __init__(self, model: str, *, top_logprobs: int = 20, **transport_options: Any) -> None:
        from .openai_api import OpenAIChatScorer

        self.scorer = OpenAIChatScorer(model, top_logprobs=top_logprobs, **transport_options)
        self.name = f"openai-chat:{model}@{self.scorer.transport.endpoint}"
        self.n_scored = self.n_floored = 0

    def answer_log_probs(self, images: np.ndarray, question: str, options: Sequence[str]) -> np.ndarray:
        from .openai_api import chat_messages

        letters = list(string.ascii_uppercase[: len(check_options(question, options))])
        text = multiple_choice_prompt(question, options)
        requests = [chat_messages(text, [png_data_url(image)]) for image in np.asarray(images)]
        out = np.empty((len(requests), len(letters)))
        for row, candidates in enumerate(self.scorer.first_token_candidates(requests)):
            masses, absent = floored_masses(candidates, letters)
            out[row] = log_softmax(np.log(masses))
            self.n_floored += bool(absent.any())
        self.n_scored += len(requests)
        return out

    def report(self) -> dict[str, Any]:
        """Requests, retries and tokens so far, and how many answers needed the floor."""
        return {**self.scorer.transport.usage(), "scored": self.n_scored, "floored": self.n_floored}

    def __repr__(self) -> str:
        return f"ChatVLM({self.name!r})"
