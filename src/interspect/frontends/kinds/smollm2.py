"""The ``smollm2`` kind: the offline SmolLM2-135M-Instruct; the value is log p(answer | masked prompt)."""

from __future__ import annotations

from typing import cast

from ..base import TextValueFunction
from ..build import check_options, llm_value_function, prompt_template
from ..digests import model_files_digest
from ..llm import CausalLMScorer, Reduction
from ..offline import DEVICE_OPTIONS, load_smollm2, smollm2_directory
from ..registry import ModelRequest

MODEL_ID = "smollm2-135m-instruct"


def build(name: str, request: ModelRequest) -> TextValueFunction:
    check_options(request, "smollm2", DEVICE_OPTIONS)
    lm, tokenizer = load_smollm2(request.cache_dir, device=request.options.get("device", "auto"))
    scorer = CausalLMScorer(
        lm,
        tokenizer,
        template=prompt_template(request, chat=True),
        batch_size=request.batch_size,
        reduction=cast(Reduction, request.reduction),  # the scorer checks it
    )
    weights = model_files_digest(smollm2_directory(request.cache_dir), request.cache_dir)
    return llm_value_function(scorer, MODEL_ID, request, mask_token=tokenizer.mask_token, weights=weights)
