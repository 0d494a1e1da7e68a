"""The model kinds a text explanation can use, registered in one place: name -> lazily imported builder.

A model is named ``kind`` or ``kind:name`` (``"smollm2"``, ``"openai-chat:gpt-4o-mini"``, ``"hf:/models/x"``);
a bare path to an existing directory is the ``hf`` kind. Each kind's builder lives in its own small module and
is imported only when that kind is built, so listing the kinds (``--model`` help in the CLI) imports nothing
heavy. Adding a kind is one module with a ``build(name, request)`` function plus one line in
:data:`MODEL_KINDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import TextValueFunction


@dataclass(frozen=True)
class ModelRequest:
    """Everything a builder needs to turn a model and a text into a value function (see
    :func:`~interspect.frontends.build.build_text_value_function` for the meaning of each field).

    ``options`` holds kind-specific settings: ``labels``, ``concurrency``, ``timeout``, ``max_retries``,
    ``requests_per_minute``, ``tokens_per_minute``, ``device``, ``images``. A builder reads the ones it knows.
    """

    text: str
    question: str | None = None
    target: str | None = None
    unit: str = "sentence"
    masking: str = "drop"
    filler: str | None = None
    batch_size: int = 16
    cache_dir: str | None = None
    spans: list[tuple[int, int]] | None = None
    template: str | None = None
    system: str | None = None
    reduction: str = "sum"
    max_new_tokens: int = 32
    output: str = "log_odds"
    options: Mapping[str, Any] = field(default_factory=dict)


#: ``builder(name, request)``: ``name`` is the part after ``"kind:"`` (``""`` when there is none)
Builder = Callable[[str, ModelRequest], "TextValueFunction"]


@dataclass(frozen=True)
class ModelKind:
    """One registered model kind.

    ``builder`` is ``"module:function"`` (imported on first use); ``generative`` tells whether the model
    answers a question (LLMs: sentence units, question-answering demo) or scores a text (classifiers: word
    units); ``needs_name`` whether ``kind:<name>`` must carry a name.
    """

    builder: str
    help: str
    generative: bool = True
    needs_name: bool = False

    def load(self) -> Builder:
        """The builder function, imported now."""
        module, _, function = self.builder.partition(":")
        builder = getattr(importlib.import_module(module), function, None)
        if builder is None:
            raise ImportError(f"model builder {self.builder!r} is missing in this installation of interspect")
        return builder


MODEL_KINDS: dict[str, ModelKind] = {
    "smollm2": ModelKind(
        "interspect.frontends.kinds.smollm2:build", "offline SmolLM2-135M-Instruct (value: log p(answer | prompt))"
    ),
    "sentiment": ModelKind(
        "interspect.frontends.kinds.sentiment:build",
        "offline MiniLM + logistic-regression sentiment classifier",
        generative=False,
    ),
    "vader": ModelKind("interspect.frontends.kinds.vader:build", "rule-based VADER sentiment", generative=False),
    "hf": ModelKind(
        "interspect.frontends.kinds.local_hf:build",
        "a local Hugging Face directory (causal LM or sequence classifier; a bare path works too)",
        needs_name=True,
    ),
    "openai": ModelKind(
        "interspect.frontends.openai_api:build_completions",
        "an OpenAI-compatible completions endpoint (teacher forcing via echo + logprobs)",
        needs_name=True,
    ),
    "openai-chat": ModelKind(
        "interspect.frontends.openai_api:build_chat",
        "an OpenAI-compatible chat endpoint (log-probability of the answer's first token)",
        needs_name=True,
    ),
}

#: the kind a bare path to an existing directory stands for
DIRECTORY_KIND = "hf"


def parse_model(model: str) -> tuple[str, str]:
    """``(kind, name)`` of a model string: ``"kind"``, ``"kind:name"`` or a local directory.

    Raises ValueError naming the registered kinds when the string matches none of them.
    """
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model must be a non-empty string, got {model!r}")
    kind, sep, name = model.partition(":")
    if kind in MODEL_KINDS:
        if MODEL_KINDS[kind].needs_name and not name:
            raise ValueError(f"model {model!r}: name the model as '{kind}:<name>'")
        if name and not MODEL_KINDS[kind].needs_name:
            raise ValueError(f"model {model!r}: the {kind!r} kind takes no name")
        return kind, name
    if Path(model).expanduser().is_dir():
        return DIRECTORY_KIND, model
    raise ValueError(f"unknown model {model!r}: use {describe_kinds()}, or a local Hugging Face model directory")


def model_kind(model: str) -> ModelKind:
    """The registered kind of a model string (see :func:`parse_model`)."""
    return MODEL_KINDS[parse_model(model)[0]]


def describe_kinds() -> str:
    """The kinds as the user writes them: ``"smollm2", "sentiment", ..., "openai:<name>"``."""
    return ", ".join(f'"{k}:<name>"' if kind.needs_name else f'"{k}"' for k, kind in MODEL_KINDS.items())


def build_model(model: str, request: ModelRequest) -> TextValueFunction:
    """The value function of ``model`` for ``request``, from the kind's builder."""
    kind, name = parse_model(model)
    return MODEL_KINDS[kind].load()(name, request)
