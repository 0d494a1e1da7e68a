"""``build_text_value_function``: one call from a model name and a text to a value function (used by the CLI).

The model kinds live in :mod:`.registry`; this module turns keyword arguments into a
:class:`~.registry.ModelRequest` and holds the pieces every kind's builder shares (mask filler, prompt template,
the LLM and classifier value functions).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from typing import Any, cast

import numpy as np

from .base import TextValueFunction
from .registry import ModelRequest, build_model
from .text import DEFAULT_FILLERS, TextUnits, split_units


def build_text_value_function(
    model: str = "smollm2",
    text: str = "",
    question: str | None = None,
    target: str | None = None,
    unit: str = "sentence",
    masking: str = "drop",
    filler: str | None = None,
    batch_size: int = 16,
    cache_dir: str | os.PathLike | None = None,
    *,
    spans: list[tuple[int, int]] | None = None,
    output: str = "log_odds",
    max_new_tokens: int = 32,
    template: str | None = None,
    system: str | None = None,
    reduction: str = "sum",
    options: Mapping[str, Any] | None = None,
) -> TextValueFunction:
    """A value function explaining ``model``'s output on ``text`` with one feature per unit.

    Parameters
    ----------
    model : str
        A registered kind (:data:`~interspect.frontends.registry.MODEL_KINDS`): ``"smollm2"`` (offline
        SmolLM2-135M-Instruct: value = log p(answer | masked prompt)), ``"sentiment"`` (offline MiniLM +
        logistic regression: value = ``output`` of class ``target``), ``"vader"`` (rule-based: value = VADER
        score ``target``, default ``"compound"``), ``"hf:<dir>"`` or a bare local Hugging Face model directory
        (a sequence classifier or a causal LM, told apart by its config), ``"openai:<model>"`` (completions
        API) or ``"openai-chat:<model>"`` (chat API); API key from ``OPENAI_API_KEY``, endpoint from
        ``OPENAI_BASE_URL``.
    text : str
        The input; its units are the features.
    question : str, optional
        LLMs only: a fixed question appended after the (masked) context, for QA / RAG.
    target : str, optional
        LLMs: the answer whose log-probability is explained (default: the model's greedy answer to the
        unmasked prompt). Classifiers: the class label or index (default: the predicted class).
    unit : {"word", "sentence", "paragraph"}
        How the text is cut into features (``spans`` overrides it).
    masking : {"drop", "mask_token", "filler"}
        How a removed unit is rendered; ``"mask_token"`` uses the model's mask (or unknown) token unless
        ``filler`` is given.
    batch_size : int
        Texts per model forward pass (or per API request).
    cache_dir : path, optional
        Where offline models are cached (default ``$INTERSPECT_CACHE`` or ``~/.cache/interspect``).
    output : {"log_odds", "prob", "logit"}
        Classifiers only.
    max_new_tokens, template, system, reduction
        LLMs only: greedy answer length, prompt template (``{context}`` and optionally ``{question}``),
        system message for chat models, and ``"sum"`` or ``"mean"`` of the target token log-probs.
    options : mapping, optional
        Kind-specific settings (``device`` for local models: ``"auto"``, ``"cpu"`` or ``"cuda"``; ``labels``,
        ``concurrency``, ``timeout``, ... for API models). A kind refuses options it does not use.
    """
    split_units(text, unit, spans)  # a bad text, unit or span fails before any model is loaded
    request = ModelRequest(
        text=text,
        question=question,
        target=target,
        unit=unit,
        masking=masking,
        filler=filler,
        batch_size=int(batch_size),
        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
        spans=spans,
        template=template,
        system=system,
        reduction=reduction,
        max_new_tokens=int(max_new_tokens),
        output=output,
        options=dict(options or {}),
    )
    return build_model(model, request)


# ---------------------------------------------------------------------------------------------------
# Pieces shared by the kinds' builders
# ---------------------------------------------------------------------------------------------------
def check_options(request: ModelRequest, kind: str, allowed: Collection[str]) -> None:
    """Refuse options ``kind`` does not use (a misspelt or misplaced option must not be ignored silently)."""
    unknown = sorted(set(request.options) - set(allowed))
    if unknown:
        allowed_text = ", ".join(sorted(allowed)) or "none"
        raise ValueError(f"options {unknown} are not used by the {kind!r} model (its options: {allowed_text})")


def refuse_question(request: ModelRequest, kind: str) -> None:
    """Classifiers score the text itself: a question would be ignored, so it is an error."""
    if request.question is not None:
        raise ValueError(f"question is only used by generative models, not by {kind!r}")


def request_units(request: ModelRequest) -> TextUnits:
    """The request's text cut into its units (the features)."""
    return split_units(request.text, request.unit, request.spans)


def mask_filler(request: ModelRequest, model_mask_token: str | None) -> str | None:
    """What replaces a removed unit: nothing (drop), the given filler, the model's mask token, or a default."""
    if request.masking == "drop":
        return None
    if request.filler is not None:
        return request.filler
    if request.masking == "mask_token" and model_mask_token:
        return model_mask_token
    return DEFAULT_FILLERS[request.masking]


def prompt_template(request: ModelRequest, *, chat: bool) -> Any:
    """The request's :class:`~.llm.PromptTemplate` (its own template, else the default QA one)."""
    from .llm import PromptTemplate

    system = request.system if chat else None
    if request.template:
        return PromptTemplate(request.template, request.question, system, chat)
    return PromptTemplate.for_question(request.question, chat=chat, system=system)


def llm_value_function(
    scorer: Any, model_id: str, request: ModelRequest, *, mask_token: str | None = None, **extra: Any
) -> TextValueFunction:
    """An LLM scorer as a value function: the target is ``request.target`` or the greedy answer.

    ``extra`` (anything else that determines the answers, e.g. a digest of the weights) joins the template,
    system message, reduction and the scorer's own ``settings()`` in the fingerprint and the description.
    """
    units = request_units(request)
    if request.target is None:
        scorer.greedy_answer(units.text, max_new_tokens=request.max_new_tokens)
    else:
        scorer.set_target(request.target)
    settings = {
        "reduction": request.reduction,
        "template": scorer.template.template,
        "system": scorer.template.system,
        "value": "log_prob",
        **(scorer.settings() if hasattr(scorer, "settings") else {}),
        **extra,
    }
    return TextValueFunction(
        units,
        scorer,
        model=model_id,
        masking=request.masking,
        filler=mask_filler(request, mask_token),
        question=request.question,
        target=scorer.target,
        extra=settings,
    )


def classifier_value_function(
    predict: Callable[[list[str]], Any],
    labels: list[str],
    model_id: str,
    request: ModelRequest,
    *,
    mask_token: str | None = None,
    **extra: Any,
) -> TextValueFunction:
    """A ``texts -> (m, C)`` logits classifier as a value function of class ``request.target`` (default: the
    class predicted for the whole text)."""
    from .classifier import ClassScorer, Output, resolve_class

    refuse_question(request, model_id)
    units = request_units(request)
    full = np.asarray(predict([request.text]), dtype=np.float64)
    class_index = resolve_class(request.target, labels, full)
    output = cast(Output, request.output)  # ClassScorer checks it
    scorer = ClassScorer(predict, class_index, output=output, returns="logits", labels=labels)
    return TextValueFunction(
        units,
        scorer,
        model=model_id,
        masking=request.masking,
        filler=mask_filler(request, mask_token),
        target=labels[class_index],
        extra={"value": request.output, "class_index": class_index, **extra},
    )
