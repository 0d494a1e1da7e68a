"""OpenAI-compatible API scorer: log-probability of a target answer through a remote completions endpoint.

Uses the (legacy) completions endpoint, which OpenAI-compatible servers such as vLLM and llama.cpp's
server implement: the prompt *plus* the target is sent with ``echo=True``, ``logprobs=0`` and
``max_tokens=0`` (retried with ``max_tokens=1`` for servers that refuse 0), and the log-probabilities of
the echoed tokens that overlap the target's characters (found through ``text_offset``) are summed. The
default target is the model's greedy (``temperature=0``) completion of the unmasked prompt.

The ``openai`` package is imported lazily. The API key is read by the client from ``OPENAI_API_KEY``
(and the endpoint from ``OPENAI_BASE_URL`` or ``base_url``); it is never stored by interspect, put into a
fingerprint, written to disk or logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .llm import PromptTemplate


def make_client(base_url: str | None = None, timeout: float = 60.0, max_retries: int = 2) -> Any:
    """An ``openai.OpenAI`` client; the key comes from the environment only."""
    try:
        import openai
    except ImportError as exc:
        raise ImportError("the OpenAI front-end needs the openai package: pip install 'interspect[openai]'") from exc
    return openai.OpenAI(base_url=base_url, timeout=timeout, max_retries=max_retries)


class OpenAICompletionScorer:
    """``scorer(contexts) -> log p(target | prompt(context))`` from an OpenAI-compatible completions API.

    Parameters
    ----------
    model : str
        Model name on the server.
    client : object, optional
        An ``openai.OpenAI``-like client (anything with ``completions.create``); built from the environment
        when omitted.
    template : PromptTemplate, optional
        Raw-text prompt template (the completions endpoint applies no chat template).
    batch_size : int
        Prompts per request (the endpoint takes a list of prompts).
    reduction : {"sum", "mean"}
    """

    def __init__(
        self,
        model: str,
        *,
        client: Any = None,
        base_url: str | None = None,
        template: PromptTemplate | None = None,
        batch_size: int = 16,
        reduction: Literal["sum", "mean"] = "sum",
    ) -> None:
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        self.model = str(model)
        self.client = client if client is not None else make_client(base_url)
        self.template = template or PromptTemplate(chat=False)
        self.batch_size = int(batch_size)
        self.reduction = reduction
        self.target: str | None = None
        self._max_tokens = 0

    def prompt(self, context: str) -> str:
        return self.template.fill(context)

    def set_target(self, target: str) -> None:
        if not target:
            raise ValueError("target must be a non-empty string")
        self.target = target

    def greedy_answer(self, context: str, max_new_tokens: int = 32) -> str:
        """The model's ``temperature=0`` completion of ``prompt(context)``; also sets it as the target."""
        response = self.client.completions.create(
            model=self.model, prompt=self.prompt(context), max_tokens=int(max_new_tokens), temperature=0
        )
        answer = response.choices[0].text
        if not answer.strip():
            raise ValueError("the model's greedy answer is empty; pass an explicit target")
        self.target = answer
        return answer

    def __call__(self, contexts: Sequence[str]) -> np.ndarray:
        if self.target is None:
            raise RuntimeError("no target: call set_target() or greedy_answer() first")
        prompts = [self.prompt(c) for c in contexts]
        out = np.empty(len(prompts))
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            out[start : start + len(chunk)] = self._score(chunk)
        return out

    def _create(self, texts: list[str]) -> Any:
        kwargs = {"model": self.model, "prompt": texts, "echo": True, "logprobs": 0, "temperature": 0}
        try:
            return self.client.completions.create(max_tokens=self._max_tokens, **kwargs)
        except Exception as exc:  # some servers reject max_tokens=0; one retry with 1 (generated token ignored)
            if self._max_tokens != 0 or "max_tokens" not in str(exc):
                raise
            self._max_tokens = 1
            return self.client.completions.create(max_tokens=1, **kwargs)

    def _score(self, prompts: list[str]) -> np.ndarray:
        response = self._create([p + self.target for p in prompts])
        choices = sorted(response.choices, key=lambda c: c.index)
        if len(choices) != len(prompts):
            raise ValueError(f"the API returned {len(choices)} choices for {len(prompts)} prompts")
        out = np.empty(len(prompts))
        for row, (prompt, choice) in enumerate(zip(prompts, choices, strict=True)):
            lp = choice.logprobs
            if lp is None or lp.text_offset is None or lp.token_logprobs is None:
                raise ValueError("the API returned no echoed logprobs; it must support echo=True with logprobs")
            start, end = len(prompt), len(prompt) + len(self.target)
            offsets = np.asarray(lp.text_offset)
            token_ends = offsets + np.array([len(t) for t in lp.tokens])
            in_target = (token_ends > start) & (offsets < end)  # tokens overlapping the target's characters
            values = np.array([np.nan if v is None else v for v in lp.token_logprobs], dtype=np.float64)[in_target]
            if values.size == 0 or np.isnan(values).any():
                raise ValueError("the API returned no log-probabilities for the target tokens")
            out[row] = values.sum() if self.reduction == "sum" else values.mean()
        return out
