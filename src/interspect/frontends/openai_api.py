"""OpenAI-compatible API scorers: the value of a masked prompt read off a remote model's log-probabilities.

- :class:`OpenAICompletionScorer` (``--model openai:<name>``) uses the completions endpoint with teacher forcing:
  each prompt *plus* the target is sent with ``echo=True``, ``logprobs=0``, ``max_tokens=0`` (1 for servers that
  refuse 0; the generated token is ignored), and the log-probabilities of the echoed tokens overlapping the
  target's characters (``text_offset``) are summed (or averaged). vLLM and llama-cpp-python's server implement it.
  Several prompts go in one request. An empty prompt (every unit of a bare ``{context}`` template removed) has no
  log-probability for its first token, so its value counts the target's other tokens.
- :class:`OpenAIChatScorer` (``--model openai-chat:<name>``) uses the chat endpoint, which cannot echo: one token is
  generated with ``logprobs=True`` and ``top_logprobs`` candidates, and the value is the log-probability that the
  answer starts with the target (the summed probability of the candidates that begin the target, e.g. ``"True"``
  and ``" True"``). With a label set the value is the log-odds of the target label against the other labels.
  **Floor:** a label absent from the candidates gets the probability of the least likely listed candidate (an
  upper bound on its true probability); such answers are counted and reported (``describe()["api"]``). Images can
  be attached to the user message (vision models).

Requests go through :class:`~.openai_transport.Transport` (many in flight, retries, rate limits). The endpoint is
``$OPENAI_BASE_URL`` and the key ``$OPENAI_API_KEY``; neither the key nor credentials in the URL are ever put into a
fingerprint, a description, a log line or an error message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Literal, cast

import numpy as np

from .base import TextValueFunction
from .build import check_options, llm_value_function, prompt_template
from .llm import PromptTemplate
from .openai_chat import FLOOR_RULE, check_labels, first_token_value, image_url, label_masses, top_candidates
from .openai_transport import MalformedResponse, Transport
from .registry import ModelRequest

#: bumped whenever a change here changes the values returned, so cached answers of older versions are not reused
SCORER_VERSION = 1
DEFAULT_TOP_LOGPROBS = 20  # the largest top_logprobs OpenAI's chat endpoint accepts (vLLM's default limit too)
CHARS_PER_TOKEN = 4  # OpenAI's rule of thumb for English text: used only to estimate tokens for tokens_per_minute
IMAGE_TOKENS = 765  # OpenAI's token count of a 1024x1024 high-detail image: the estimate per attached image
#: the ``ModelRequest.options`` both API kinds read (see :class:`~.openai_transport.Transport`)
TRANSPORT_OPTIONS = ("concurrency", "timeout", "max_retries", "requests_per_minute", "tokens_per_minute")
CHAT_OPTIONS = (*TRANSPORT_OPTIONS, "labels", "images", "top_logprobs")


class _APIScorer:
    """What both API scorers share: the transport, the prompt template, the target and the usage report."""

    kind = "api"

    def __init__(self, model: str, template: PromptTemplate, transport: Transport | None, **transport_options: Any):
        if not isinstance(model, str) or not model.strip():
            raise ValueError(f"model must be a non-empty model name, got {model!r}")
        self.model = model
        self.template = template
        self.transport = transport if transport is not None else Transport(**transport_options)
        self.target: str | None = None

    def prompt(self, context: str) -> str:
        return self.template.fill(context)

    @property
    def engine_batch_size(self) -> int:
        """Masks per engine call: one per request in flight, so each answer is cached as its request returns."""
        return self.transport.concurrency

    def settings(self) -> dict[str, Any]:
        """What, besides the model name, endpoint and texts, determines the values (for cache keys)."""
        return {"scorer": f"openai-{self.kind}-v{SCORER_VERSION}", "endpoint": self.transport.endpoint}

    def report(self) -> dict[str, Any]:
        """Requests, retries by reason and token usage so far."""
        return self.transport.usage()

    def close(self) -> None:
        self.transport.close()

    def _require_target(self) -> str:
        if self.target is None:
            raise RuntimeError("no target: call set_target() or greedy_answer() first")
        return self.target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, endpoint={self.transport.endpoint!r})"


class OpenAICompletionScorer(_APIScorer):
    """``scorer(contexts) -> log p(target | prompt(context))`` by teacher forcing through ``/v1/completions``.

    Parameters
    ----------
    model : str
        Model name on the server.
    template : PromptTemplate, optional
        Raw-text prompt template (the completions endpoint applies no chat template).
    batch_size : int
        Most prompts in one request; a call's prompts are spread over ``concurrency`` requests first.
    reduction : {"sum", "mean"}
    base_url, api_key, concurrency, timeout, max_retries, requests_per_minute, tokens_per_minute, random_state
        See :class:`~.openai_transport.Transport`.
    """

    kind = "completions"

    def __init__(
        self,
        model: str,
        *,
        template: PromptTemplate | None = None,
        batch_size: int = 16,
        reduction: Literal["sum", "mean"] = "sum",
        transport: Transport | None = None,
        **transport_options: Any,
    ) -> None:
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        super().__init__(model, template or PromptTemplate(chat=False), transport, **transport_options)
        self.batch_size = batch_size
        self.reduction = reduction
        self._max_tokens = 0

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "reduction": self.reduction}

    def set_target(self, target: str) -> None:
        """Score ``target`` (a leading space is added after a prompt ending in ``":"``, as the local scorer does)."""
        if not isinstance(target, str) or not target:
            raise ValueError(f"target must be a non-empty string, got {target!r}")
        if not target[0].isspace() and self.template.template.endswith(":"):
            target = " " + target
        self.target = target

    def greedy_answer(self, context: str, max_new_tokens: int = 32) -> str:
        """The model's ``temperature=0`` completion of ``prompt(context)``; also sets it as the target."""
        prompt = self.prompt(context)

        async def send(client: Any, text: str) -> str:
            response = await client.completions.create(
                model=self.model, prompt=text, max_tokens=int(max_new_tokens), temperature=0
            )
            self.transport.count_usage(getattr(response, "usage", None))
            return _field(lambda: response.choices[0].text)

        answer = self.transport.map(send, [prompt], [_estimate(prompt) + max_new_tokens])[0]
        if not answer.strip():
            raise ValueError("the model's greedy answer is empty; pass an explicit target")
        self.target = answer
        return answer

    def __call__(self, contexts: Sequence[str]) -> np.ndarray:
        target = self._require_target()
        prompts = [self.prompt(c) + target for c in contexts]
        if not prompts:
            return np.zeros(0)
        size = max(1, min(self.batch_size, -(-len(prompts) // self.transport.concurrency)))
        chunks = [prompts[i : i + size] for i in range(0, len(prompts), size)]
        costs = [sum(_estimate(p) for p in chunk) for chunk in chunks]
        return np.concatenate(self.transport.map(self._send, chunks, costs))

    async def _send(self, client: Any, texts: list[str]) -> np.ndarray:
        kwargs = {"model": self.model, "prompt": texts, "echo": True, "logprobs": 0, "temperature": 0}
        try:
            response = await client.completions.create(max_tokens=self._max_tokens, **kwargs)
        except Exception as exc:  # servers that refuse max_tokens=0: once with 1 (the generated token is ignored)
            import openai

            if self._max_tokens != 0 or not isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
                raise
            if "max_tokens" not in str(exc):
                raise
            self._max_tokens = 1
            response = await client.completions.create(max_tokens=1, **kwargs)
        self.transport.count_usage(getattr(response, "usage", None))
        return _field(lambda: self._parse(response, texts))

    def _parse(self, response: Any, texts: list[str]) -> np.ndarray:
        choices = sorted(response.choices, key=lambda c: c.index)
        if len(choices) != len(texts):
            raise MalformedResponse(f"{len(choices)} choices for {len(texts)} prompts")
        target = self._require_target()
        out = np.empty(len(texts))
        for row, (text, choice) in enumerate(zip(texts, choices, strict=True)):
            lp = choice.logprobs
            if lp is None or not lp.text_offset or not lp.token_logprobs or not lp.tokens:
                raise MalformedResponse("no echoed logprobs (the server must support echo=True with logprobs)")
            end = len(text)
            start = end - len(target)
            offsets = np.asarray(lp.text_offset)
            token_ends = offsets + np.array([len(t) for t in lp.tokens])
            in_target = (token_ends > start) & (offsets < end)  # tokens overlapping the target's characters
            in_target &= offsets > 0 if start == 0 else True  # an empty prompt: the text's first token has no logprob
            values = np.array([np.nan if v is None else v for v in lp.token_logprobs], dtype=np.float64)[in_target]
            if values.size == 0:
                raise ValueError(f"an empty prompt with the one-token target {target!r} cannot be scored by echo")
            if not np.isfinite(values).all():
                raise MalformedResponse("no log-probabilities for the target's tokens")
            out[row] = values.sum() if self.reduction == "sum" else values.mean()
        return out


class OpenAIChatScorer(_APIScorer):
    """``scorer(contexts) ->`` log-probability (or label log-odds) of the target's first token through the chat API.

    Parameters
    ----------
    model : str
        Model name on the server.
    template : PromptTemplate, optional
        The user message (``template.fill(context)``) and the system message (``template.system``).
    labels : list of str, optional
        At least two answers, none a prefix of another (e.g. ``["True", "False"]``): the value is then
        ``log p(target) - log p(any other label)``.
    images : list of str, optional
        Images attached to the user message: ``data:`` URLs, ``http(s)`` URLs, or paths of image files.
    top_logprobs : int
        Candidates asked for (OpenAI allows at most 20).
    base_url, api_key, concurrency, timeout, max_retries, requests_per_minute, tokens_per_minute, random_state
        See :class:`~.openai_transport.Transport`.
    """

    kind = "chat"

    def __init__(
        self,
        model: str,
        *,
        template: PromptTemplate | None = None,
        labels: Sequence[str] | None = None,
        images: Sequence[str] | None = None,
        top_logprobs: int = DEFAULT_TOP_LOGPROBS,
        transport: Transport | None = None,
        **transport_options: Any,
    ) -> None:
        if isinstance(top_logprobs, bool) or not isinstance(top_logprobs, int) or not 1 <= top_logprobs <= 20:
            raise ValueError(f"top_logprobs must be an integer from 1 to 20, got {top_logprobs!r}")
        self.labels = check_labels(labels)
        self.images = [image_url(image) for image in images or ()]
        super().__init__(model, template or PromptTemplate(chat=True), transport, **transport_options)
        self.top_logprobs = top_logprobs
        self.n_scored = 0
        self.n_floored = 0

    def settings(self) -> dict[str, Any]:
        digests = [hashlib.sha256(url.encode()).hexdigest() for url in self.images]
        value = "label_log_odds" if self.labels else "first_token_log_prob"
        return {**super().settings(), "value": value, "labels": self.labels, "top_logprobs": self.top_logprobs,
                "floor": FLOOR_RULE, "images": digests}  # fmt: skip

    def report(self) -> dict[str, Any]:
        share = self.n_floored / self.n_scored if self.n_scored else 0.0
        return {**super().report(), "scored": self.n_scored, "floored": self.n_floored, "floored_share": share,
                "floor_rule": FLOOR_RULE}  # fmt: skip

    def messages(self, context: str) -> list[dict[str, Any]]:
        """The chat request's messages for one context (system message, then the user's text and images)."""
        return chat_messages(self.prompt(context), self.images, self.template.system)

    def set_target(self, target: str) -> None:
        if not isinstance(target, str) or not target.strip():
            raise ValueError(f"target must be a non-empty string, got {target!r}")
        if self.labels is not None and target not in self.labels:
            raise ValueError(f"target {target!r} is not one of the labels {self.labels}")
        self.target = target

    def greedy_answer(self, context: str, max_new_tokens: int = 32) -> str:
        """The model's answer to the unmasked prompt, set as the target: with labels the most likely label, else
        the ``temperature=0`` reply."""
        if self.labels is not None:
            masses = self._send_all([context])[0]
            self.target = self.labels[int(np.argmax(label_masses(masses, self.labels)))]
            return self.target
        messages = self.messages(context)

        async def send(client: Any, request: list[dict[str, Any]]) -> str:
            response = await client.chat.completions.create(
                model=self.model, messages=request, max_tokens=int(max_new_tokens), temperature=0
            )
            self.transport.count_usage(getattr(response, "usage", None))
            return _field(lambda: response.choices[0].message.content or "")

        answer = self.transport.map(send, [messages], [_cost(messages, max_new_tokens)])[0]
        if not answer.strip():
            raise ValueError("the model's greedy answer is empty; pass an explicit target")
        self.set_target(answer)
        return answer

    def __call__(self, contexts: Sequence[str]) -> np.ndarray:
        target = self._require_target()
        labels = self.labels or [target]
        out = np.empty(len(contexts))
        for row, candidates in enumerate(self._send_all(contexts)):
            out[row], floored = first_token_value(candidates, labels, labels.index(target))
            self.n_floored += floored
        self.n_scored += len(contexts)
        return out

    def _send_all(self, contexts: Sequence[str]) -> list[dict[str, float]]:
        return self.first_token_candidates([self.messages(c) for c in contexts])

    def first_token_candidates(self, requests: Sequence[list[dict[str, Any]]]) -> list[dict[str, float]]:
        """``{token: logprob}`` of the first answer token's top candidates for each request (all in flight)."""
        return self.transport.map(self._send, list(requests), [_cost(m, 1) for m in requests])

    async def _send(self, client: Any, messages: list[dict[str, Any]]) -> dict[str, float]:
        response = await client.chat.completions.create(
            model=self.model, messages=messages, max_tokens=1, temperature=0, logprobs=True,
            top_logprobs=self.top_logprobs,
        )  # fmt: skip
        self.transport.count_usage(getattr(response, "usage", None))
        return _field(lambda: top_candidates(response))


def chat_messages(text: str, images: Sequence[str] = (), system: str | None = None) -> list[dict[str, Any]]:
    """A chat request's messages: the optional system message, then the user's text and ``image_url`` parts."""
    content: Any = text
    if images:
        content = [{"type": "text", "text": text}] + [{"type": "image_url", "image_url": {"url": u}} for u in images]
    head = [{"role": "system", "content": system}] if system is not None else []
    return [*head, {"role": "user", "content": content}]


def _cost(messages: list[dict[str, Any]], max_tokens: int) -> float:
    """Estimated tokens of a chat request: its texts, :data:`IMAGE_TOKENS` per image, the answer."""
    texts, n_images = [], 0
    for message in messages:
        content = message["content"]
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        texts += [part.get("text", "") for part in parts if part.get("type") == "text"]
        n_images += sum(part.get("type") == "image_url" for part in parts)
    return _estimate(json.dumps(texts)) + IMAGE_TOKENS * n_images + max_tokens


def _estimate(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def _field(read: Any) -> Any:
    """``read()``, with a response missing a field (``None`` where an object was expected) made a
    :class:`MalformedResponse` (retried) rather than an AttributeError."""
    try:
        return read()
    except (AttributeError, IndexError, KeyError, TypeError) as exc:
        raise MalformedResponse(f"malformed response ({type(exc).__name__})") from None


# ---------------------------------------------------------------------------------------------------
# Builders for the model registry (``--model openai:<name>`` / ``--model openai-chat:<name>``)
# ---------------------------------------------------------------------------------------------------
class APIValueFunction(TextValueFunction):
    """A text value function whose :meth:`describe` also reports the API usage so far (``"api"``)."""

    scorer: OpenAICompletionScorer | OpenAIChatScorer

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "api": self.scorer.report()}


def _transport_options(request: ModelRequest) -> dict[str, Any]:
    return {name: request.options[name] for name in TRANSPORT_OPTIONS if name in request.options}


def _value_function(
    scorer: OpenAICompletionScorer | OpenAIChatScorer, kind: str, name: str, request: ModelRequest
) -> APIValueFunction:
    model_id = f"{kind}:{name}@{scorer.transport.endpoint}"
    base = llm_value_function(scorer, model_id, request)
    return APIValueFunction(
        base.text_units, scorer, model=base.model, masking=base.masking, filler=base.filler,
        question=base.question, target=base.target, extra=base.extra,
    )  # fmt: skip


def build_completions(name: str, request: ModelRequest) -> APIValueFunction:
    """``openai:<name>``: teacher forcing through the completions endpoint (``batch_size`` prompts a request)."""
    check_options(request, "openai", TRANSPORT_OPTIONS)
    scorer = OpenAICompletionScorer(
        name,
        template=prompt_template(request, chat=False),
        batch_size=request.batch_size,
        reduction=cast(Literal["sum", "mean"], request.reduction),  # the scorer checks it
        **_transport_options(request),
    )
    return _value_function(scorer, "openai", name, request)


def build_chat(name: str, request: ModelRequest) -> APIValueFunction:
    """``openai-chat:<name>``: the target's first-token log-probability (or label log-odds) through chat."""
    check_options(request, "openai-chat", CHAT_OPTIONS)
    if request.reduction != "sum":
        raise ValueError("reduction does not apply to 'openai-chat' (one token is scored); leave it at 'sum'")
    scorer = OpenAIChatScorer(
        name,
        template=prompt_template(request, chat=True),
        labels=request.options.get("labels"),
        images=request.options.get("images"),
        top_logprobs=request.options.get("top_logprobs", DEFAULT_TOP_LOGPROBS),
        **_transport_options(request),
    )
    return _value_function(scorer, "openai-chat", name, request)


__all__ = ["OpenAIChatScorer", "OpenAICompletionScorer", "build_chat", "build_completions"]
