"""The ``hf`` kind: a local Hugging Face directory, a causal LM or a sequence classifier (told apart by its
config's architectures). Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from ..base import TextValueFunction
from ..build import check_options, classifier_value_function, llm_value_function, prompt_template
from ..digests import model_files_digest
from ..offline import DEVICE_OPTIONS, configure_torch, resolve_device
from ..registry import ModelRequest


def is_sequence_classifier(path: str | Path) -> bool:
    """Whether the directory's config declares a ``...ForSequenceClassification`` architecture."""
    from transformers import AutoConfig

    architectures = AutoConfig.from_pretrained(path).architectures or []
    return any(a.endswith("ForSequenceClassification") for a in architectures)


def build(name: str, request: ModelRequest) -> TextValueFunction:
    check_options(request, "hf", DEVICE_OPTIONS)
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ValueError(f"model 'hf:{name}': {path} is not a directory")
    configure_torch()
    device = resolve_device(request.options.get("device", "auto"))
    model_id, weights = str(path.resolve()), model_files_digest(path, request.cache_dir)
    if is_sequence_classifier(path):
        from ..classifier import HFClassifier

        hf = HFClassifier(str(path), batch_size=request.batch_size, device=device)
        return classifier_value_function(
            hf, hf.labels, model_id, request, mask_token=hf.mask_token, weights=weights, **hf.settings()
        )

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..llm import CausalLMScorer, Reduction

    tokenizer = AutoTokenizer.from_pretrained(path)
    # transformers declares PreTrainedModel.to through functools.wraps(Module.to), read as an unbound function
    lm = AutoModelForCausalLM.from_pretrained(path).to(device).eval()  # type: ignore[arg-type]
    scorer = CausalLMScorer(
        lm,
        tokenizer,
        template=prompt_template(request, chat=True),
        batch_size=request.batch_size,
        reduction=cast(Reduction, request.reduction),  # the scorer checks it
    )
    return llm_value_function(scorer, model_id, request, mask_token=tokenizer.mask_token, weights=weights)
