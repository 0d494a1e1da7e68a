"""The real-model test: the batched LLM scorer on SmolLM2-135M-Instruct equals a slow token-by-token reference.

The first run de-quantises the packaged GGUF and saves an fp32 copy in the interspect cache (~20 s); later
runs load the copy in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")

pytestmark = pytest.mark.slow

CONTEXT = (
    "The Eiffel Tower is in Paris. It was completed in 1889. "
    "Gustave Eiffel's company designed and built it. The tower is 330 metres tall."
)
QUESTION = "How tall is the tower?"


def reference_logprob(model, prompt_ids: list[int], target_ids: list[int]) -> tuple[float, list[int]]:
    """One prompt at a time, one target token at a time (incremental decoding), no padding, full logits.

    Returns the total log-probability and the greedy (argmax) token at every target position.
    """
    import torch

    total, argmaxes = 0.0, []
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([prompt_ids]), use_cache=True)
        for token in target_ids:
            logits = out.logits[0, -1].double()
            total += float(torch.log_softmax(logits, -1)[token])
            argmaxes.append(int(logits.argmax()))
            out = model(input_ids=torch.tensor([[token]]), past_key_values=out.past_key_values, use_cache=True)
    return total, argmaxes


def test_batched_scorer_equals_token_by_token_reference(smollm2):
    from interspect.frontends import CausalLMScorer, PromptTemplate, split_units
    from interspect.frontends.llm import reusable_prefix_length

    model, tokenizer = smollm2
    scorer = CausalLMScorer(model, tokenizer, template=PromptTemplate.for_question(QUESTION), batch_size=3)
    answer = scorer.greedy_answer(CONTEXT, max_new_tokens=12)
    assert "330" in answer
    units = split_units(CONTEXT, "sentence")
    masks = np.array([[1, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 0, 0]], dtype=bool)
    contexts = units.render(masks)
    values = scorer(contexts)  # 4 prompts of different lengths in batches of 3: sorting + left padding
    prompt_ids = scorer.encode(contexts)
    reference = [reference_logprob(model, ids, scorer.target_ids) for ids in prompt_ids]
    np.testing.assert_allclose(values, [r[0] for r in reference], atol=2e-3, rtol=1e-4)
    # the default target is the greedy answer: every target token is the argmax on the full prompt
    assert reference[0][1] == scorer.target_ids
    # the shared-prefix cache is an optimisation only: without it the values are the same
    assert scorer.share_prefix and reusable_prefix_length(prompt_ids) > scorer.MIN_SHARED_PREFIX
    scorer.share_prefix = False
    np.testing.assert_allclose(scorer(contexts), values, atol=2e-4)
    scorer.share_prefix = True
    # the context matters: without the sentence holding "330 metres" the answer is much less likely
    assert values[3] < values[0] - 1 and values[2] < values[0] - 1

    # an explicit string target, mean reduction
    scorer.set_target("330 metres.")
    scorer.reduction = "mean"
    mean_values = scorer(contexts[:2])
    ref = [reference_logprob(model, ids, scorer.target_ids)[0] / len(scorer.target_ids) for ids in prompt_ids[:2]]
    np.testing.assert_allclose(mean_values, ref, atol=2e-4)


def test_builder_on_smollm2(smollm2):
    from interspect.frontends import build_text_value_function

    vf = build_text_value_function("smollm2", CONTEXT, question=QUESTION, unit="sentence", max_new_tokens=12)
    assert vf.n_features == 4 and "330" in vf.target
    info = vf.describe()
    assert info["model"] == "smollm2-135m-instruct" and info["question"] == QUESTION and info["target"] == vf.target
    same = build_text_value_function("smollm2", CONTEXT, question=QUESTION, target=vf.target, unit="sentence")
    other = build_text_value_function(
        "smollm2", CONTEXT, question=QUESTION, target="It is 100 metres tall.", unit="sentence"
    )
    assert same.fingerprint == vf.fingerprint != other.fingerprint
    full = np.ones((1, 4), dtype=bool)
    np.testing.assert_allclose(vf(full), same(full), atol=1e-4)
    assert float(vf(full)[0]) > float(other(full)[0])


def test_builder_on_a_local_causal_lm_directory(smollm2):
    """A local Hugging Face directory holding a causal LM is scored like the packaged default."""
    from interspect.frontends import build_text_value_function
    from interspect.frontends.offline import cache_dir

    path = cache_dir() / "smollm2-135m-instruct-fp32"
    target = "It is 330 metres tall."
    local = build_text_value_function(str(path), CONTEXT, question=QUESTION, target=target, unit="sentence")
    default = build_text_value_function("smollm2", CONTEXT, question=QUESTION, target=target, unit="sentence")
    masks = np.array([[1, 1, 1, 1], [1, 0, 0, 1]], dtype=bool)
    np.testing.assert_allclose(local(masks), default(masks), atol=1e-4)
    assert local.describe()["model"] == str(path.resolve()) and local.target == default.target
