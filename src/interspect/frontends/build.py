"""``build_text_value_function``: one call from a model name and a text to a value function (used by the CLI)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .base import TextValueFunction
from .classifier import ClassScorer, HFClassifier, resolve_class, vader_scorer
from .llm import CausalLMScorer, PromptTemplate
from .text import DEFAULT_FILLERS, split_units

OFFLINE_MODELS = ("smollm2", "sentiment", "vader")


def _mask_filler(masking: str, filler: str | None, tokenizer_token: str | None) -> str | None:
    if masking == "drop":
        return None
    if filler is not None:
        return filler
    if masking == "mask_token" and tokenizer_token:
        return tokenizer_token
    return DEFAULT_FILLERS[masking]


def _llm_value_function(
    scorer: Any, model_id: str, units: Any, *, question, target, masking, filler, max_new_tokens, extra
) -> TextValueFunction:
    if target is None:
        scorer.greedy_answer(units.text, max_new_tokens=max_new_tokens)
    else:
        scorer.set_target(target)
    extra = {**extra, "template": scorer.template.template, "system": scorer.template.system, "value": "log_prob"}
    return TextValueFunction(
        units,
        scorer,
        model=model_id,
        masking=masking,
        filler=filler,
        question=question,
        target=scorer.target,
        extra=extra,
    )


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
) -> TextValueFunction:
    """A value function explaining ``model``'s output on ``text`` with one feature per unit.

    Parameters
    ----------
    model : str
        ``"smollm2"`` (offline SmolLM2-135M-Instruct: value = log p(answer | masked prompt)),
        ``"sentiment"`` (offline MiniLM + logistic regression: value = ``output`` of class ``target``),
        ``"vader"`` (rule-based: value = VADER score ``target``, default ``"compound"``),
        a local Hugging Face model directory (a sequence classifier or a causal LM, told apart by its
        config), or ``"openai:<model>"`` (an OpenAI-compatible completions API; key from ``OPENAI_API_KEY``,
        endpoint from ``OPENAI_BASE_URL``).
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
        Texts per model forward pass.
    cache_dir : path, optional
        Where offline models are cached (default ``$INTERSPECT_CACHE`` or ``~/.cache/interspect``).
    output : {"log_odds", "prob", "logit"}
        Classifiers only.
    max_new_tokens, template, system, reduction
        LLMs only: greedy answer length, prompt template (``{context}`` and optionally ``{question}``),
        system message for chat models, and ``"sum"`` or ``"mean"`` of the target token log-probs.
    """
    units = split_units(text, unit, spans)
    llm_extra = {"reduction": reduction}
    is_llm_model = model == "smollm2" or model.startswith("openai:")
    if question is not None and not is_llm_model and not Path(model).is_dir():
        raise ValueError(f"question is only used by generative models, not by {model!r}")

    if model == "smollm2":
        from .offline import load_smollm2

        lm, tokenizer = load_smollm2(cache_dir)
        prompt = (
            PromptTemplate(template, question, system, True)
            if template
            else PromptTemplate.for_question(question, system=system)
        )
        scorer = CausalLMScorer(lm, tokenizer, template=prompt, batch_size=batch_size, reduction=reduction)
        filler = _mask_filler(masking, filler, tokenizer.mask_token)
        return _llm_value_function(
            scorer,
            "smollm2-135m-instruct",
            units,
            question=question,
            target=target,
            masking=masking,
            filler=filler,
            max_new_tokens=max_new_tokens,
            extra=llm_extra,
        )

    if model.startswith("openai:"):
        from .openai_api import OpenAICompletionScorer

        name = model.split(":", 1)[1]
        if not name:
            raise ValueError("name the API model: 'openai:<model>'")
        prompt = (
            PromptTemplate(template, question, None, False)
            if template
            else PromptTemplate.for_question(question, chat=False)
        )
        scorer = OpenAICompletionScorer(name, template=prompt, batch_size=batch_size, reduction=reduction)
        base_url = str(getattr(scorer.client, "base_url", "") or "")
        return _llm_value_function(
            scorer,
            f"{model}@{base_url}",
            units,
            question=question,
            target=target,
            masking=masking,
            filler=_mask_filler(masking, filler, None),
            max_new_tokens=max_new_tokens,
            extra=llm_extra,
        )

    if model == "vader":
        score = target or "compound"
        scorer = vader_scorer(score)
        return TextValueFunction(
            units,
            scorer,
            model="vader",
            masking=masking,
            filler=_mask_filler(masking, filler, None),
            target=score,
            extra={"value": f"vader_{score}"},
        )

    if model == "sentiment":
        from .offline import load_sentiment_classifier

        clf = load_sentiment_classifier(cache_dir)
        predict, labels, mask_token, model_id = clf.predict_logits, list(clf.labels), clf.mask_token, "sentiment"
        model_id = f"sentiment-{clf.info['version']}-n{clf.info['n_train']}-seed{clf.info['random_state']}"
    elif Path(model).is_dir():
        from transformers import AutoConfig

        from .offline import configure_torch

        configure_torch()
        architectures = AutoConfig.from_pretrained(model).architectures or []
        if not any(a.endswith("ForSequenceClassification") for a in architectures):
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model)
            lm = AutoModelForCausalLM.from_pretrained(model).eval()
            prompt = (
                PromptTemplate(template, question, system, True)
                if template
                else PromptTemplate.for_question(question, system=system)
            )
            scorer = CausalLMScorer(lm, tokenizer, template=prompt, batch_size=batch_size, reduction=reduction)
            return _llm_value_function(
                scorer,
                str(Path(model).resolve()),
                units,
                question=question,
                target=target,
                masking=masking,
                filler=_mask_filler(masking, filler, tokenizer.mask_token),
                max_new_tokens=max_new_tokens,
                extra=llm_extra,
            )
        if question is not None:
            raise ValueError(f"question is only used by generative models; {model!r} is a classifier")
        hf = HFClassifier(model, batch_size=batch_size)
        predict, labels, mask_token, model_id = hf, hf.labels, hf.mask_token, str(Path(model).resolve())
    else:
        raise ValueError(
            f"unknown model {model!r}: use one of {OFFLINE_MODELS}, a local Hugging Face model directory, "
            "or 'openai:<model>'"
        )

    full = np.asarray(predict([text]), dtype=np.float64)
    class_index = resolve_class(target, labels, full)
    scorer = ClassScorer(predict, class_index, output=output, returns="logits", labels=labels)
    return TextValueFunction(
        units,
        scorer,
        model=model_id,
        masking=masking,
        filler=_mask_filler(masking, filler, mask_token),
        target=labels[class_index],
        extra={"value": output, "class_index": class_index},
    )
