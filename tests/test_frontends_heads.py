"""Attention-head attribution on SmolLM2-135M-Instruct (30 layers x 9 heads, head_dim 64).

Oracles: the LLM scorer on the unhooked model, one-mask-at-a-time evaluation, and heads ablated by editing the
weights of ``o_proj`` (zeroed input columns; for mean ablation a bias equal to those columns times the mean).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")

pytestmark = pytest.mark.slow

PROMPT = "What is the capital of France? Answer in one word."
LAYERS = (1, 13)  # several heads of these layers change the answer's log-probability by about 1 nat


@pytest.fixture(scope="module")
def vf(smollm2):
    from interspect.frontends.heads import AttentionHeadValueFunction

    model, tokenizer = smollm2
    return AttentionHeadValueFunction(model, tokenizer, PROMPT, layers=LAYERS, batch_size=4, max_new_tokens=8)


def n_hooks(model) -> int:
    return sum(len(layer.self_attn.o_proj._forward_pre_hooks) for layer in model.model.layers)


def unhooked_logprob(vf) -> float:
    """``log p(target | prompt)`` of the model as it is, through the LLM front-end's scorer."""
    return float(vf.scorer.score_ids([vf.prompt_ids])[0])


def test_all_heads_kept_is_the_unablated_model_and_target_is_greedy(smollm2, vf):
    import torch

    from interspect.frontends import CausalLMScorer, PromptTemplate

    model, tokenizer = smollm2
    assert vf.n_features == 18 and vf.feature_names[:2] == ["L1.H0", "L1.H1"] and vf.feature_names[-1] == "L13.H8"
    scorer = CausalLMScorer(model, tokenizer, template=PromptTemplate())
    assert scorer.greedy_answer(PROMPT, max_new_tokens=8) == vf.target and "Paris" in vf.target
    value = vf(np.ones((1, 18), dtype=bool))[0]
    np.testing.assert_allclose(value, scorer([PROMPT])[0], atol=1e-4)
    # independent check of the default target: every target token is the argmax of the unablated model
    ids = torch.tensor([vf.prompt_ids + vf.target_ids])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0].double()
    n = len(vf.target_ids)
    assert logits[-n - 1 : -1].argmax(-1).tolist() == vf.target_ids
    logp = torch.log_softmax(logits[-n - 1 : -1], -1)[torch.arange(n), torch.tensor(vf.target_ids)].sum()
    np.testing.assert_allclose(value, float(logp), atol=1e-4)


def test_batched_masks_equal_one_mask_at_a_time(vf):
    rng = np.random.default_rng(0)
    masks = rng.random((7, vf.n_features)) < 0.6
    masks[0] = True
    masks[1] = False
    masks[2] = masks[3]  # a repeat: evaluated once, returned twice
    batched = vf(masks)  # batches of 4 rows, the last one partial
    single = np.array([vf(row[None])[0] for row in masks])
    np.testing.assert_allclose(batched, single, atol=1e-4)
    assert batched[2] == batched[3] and np.ptp(batched) > 1.0


@pytest.mark.parametrize("ablation", ["zero", "mean"])
def test_hook_ablation_equals_editing_the_weights(smollm2, vf, ablation):
    import torch

    from interspect.frontends.heads import AttentionHeadValueFunction

    model, tokenizer = smollm2
    heads = AttentionHeadValueFunction(
        model, tokenizer, PROMPT, vf.target, layers=LAYERS, ablation=ablation, model_id="smollm2"
    )
    assert heads.target_ids == vf.target_ids
    cases = [[(1, 5)], [(13, 6)], [(1, 3), (13, 0), (13, 7)]]
    masks = np.ones((len(cases), heads.n_features), dtype=bool)
    for row, removed in enumerate(cases):
        masks[row, [heads.feature_names.index(f"L{layer}.H{head}") for layer, head in removed]] = False
    hooked = heads(masks)

    d = heads.head_dim
    means = {}  # the oracle's own capture of each head's mean o_proj input over the prompt tokens

    def capture(layer):
        def hook(module, args, output):
            means[layer] = args[0][0, : len(heads.prompt_ids)].mean(0)

        return hook

    if ablation == "mean":
        handles = [model.model.layers[layer].self_attn.o_proj.register_forward_hook(capture(layer)) for layer in LAYERS]
        try:
            unhooked_logprob(heads)
        finally:
            for handle in handles:
                handle.remove()
    full = unhooked_logprob(heads)
    for row, removed in enumerate(cases):
        saved = {layer: model.model.layers[layer].self_attn.o_proj.weight.clone() for layer in LAYERS}
        try:
            with torch.no_grad():
                for layer, head in removed:
                    proj = model.model.layers[layer].self_attn.o_proj
                    cols = slice(head * d, (head + 1) * d)
                    if ablation == "mean":
                        bias = proj.weight[:, cols] @ means[layer][cols]
                        proj.bias = torch.nn.Parameter(bias if proj.bias is None else proj.bias + bias)
                    proj.weight[:, cols] = 0.0
            edited = unhooked_logprob(heads)
        finally:
            with torch.no_grad():
                for layer in LAYERS:
                    model.model.layers[layer].self_attn.o_proj.weight.copy_(saved[layer])
                    model.model.layers[layer].self_attn.o_proj.bias = None
        np.testing.assert_allclose(hooked[row], edited, atol=1e-4)
        assert abs(edited - full) > 0.1  # the ablation changes the value: the comparison has power
    np.testing.assert_allclose(unhooked_logprob(heads), full, atol=1e-6)  # weights restored


def test_hooks_are_removed_after_a_call_and_after_an_error(smollm2, vf):
    import torch

    model, _ = smollm2
    full = vf(np.ones((1, 18), dtype=bool))[0]
    assert n_hooks(model) == 0
    with vf.head_masks(np.zeros(18, dtype=bool)):
        assert n_hooks(model) == len(LAYERS)
    assert n_hooks(model) == 0

    def fail(module, args, output):
        raise RuntimeError("boom")

    handle = model.lm_head.register_forward_hook(fail)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            vf(np.zeros((2, 18), dtype=bool))
    finally:
        handle.remove()
    assert n_hooks(model) == 0
    np.testing.assert_allclose(unhooked_logprob(vf), full, atol=1e-4)
    # a batch of masks whose size does not match the model's batch fails inside the hook, which is removed
    with pytest.raises(ValueError, match="head masks for a batch"), vf.head_masks(np.ones((2, 18), dtype=bool)):
        model(input_ids=torch.tensor([vf.prompt_ids] * 3), use_cache=False, logits_to_keep=1)
    assert n_hooks(model) == 0


def test_bad_input_errors(smollm2, vf):
    from interspect.frontends.heads import AttentionHeadValueFunction

    model, tokenizer = smollm2
    with pytest.raises(ValueError, match="shape"):
        vf(np.ones((2, 17), dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        vf(np.ones(18, dtype=bool))
    with pytest.raises(ValueError, match="0/1"):
        vf(np.full((1, 18), 2))
    with pytest.raises(ValueError, match="ablation"):
        AttentionHeadValueFunction(model, tokenizer, PROMPT, "Paris", ablation="resample")
    with pytest.raises(ValueError, match="out of range"):
        AttentionHeadValueFunction(model, tokenizer, PROMPT, "Paris", layers=[0, 30])
    with pytest.raises(ValueError, match="out of range"):
        AttentionHeadValueFunction(model, tokenizer, PROMPT, "Paris", layers=[-1])
    with pytest.raises(ValueError, match="twice"):
        AttentionHeadValueFunction(model, tokenizer, PROMPT, "Paris", layers=[2, 2])
    with pytest.raises(ValueError, match="batch_size"):
        AttentionHeadValueFunction(model, tokenizer, PROMPT, "Paris", batch_size=0)
    with pytest.raises(TypeError, match="Llama-style"):
        AttentionHeadValueFunction(model.lm_head, tokenizer, PROMPT, "Paris")
    assert n_hooks(model) == 0


def test_fingerprint_and_describe(smollm2, vf):
    from interspect.frontends.heads import AttentionHeadValueFunction

    model, tokenizer = smollm2
    make = AttentionHeadValueFunction
    same = make(model, tokenizer, PROMPT, vf.target, layers=LAYERS[::-1], model_id=vf.model_id)
    assert same.fingerprint == vf.fingerprint and same.feature_names == vf.feature_names
    others = [
        make(model, tokenizer, PROMPT, "Lyon", layers=LAYERS, model_id=vf.model_id),
        make(model, tokenizer, PROMPT, vf.target, layers=(1,), model_id=vf.model_id),
        make(model, tokenizer, PROMPT, vf.target, layers=LAYERS, ablation="mean", model_id=vf.model_id),
        make(model, tokenizer, PROMPT, vf.target, layers=LAYERS, model_id="another-model"),
    ]
    assert len({vf.fingerprint, *(o.fingerprint for o in others)}) == 5
    info = vf.describe()
    assert info["layers"] == [1, 13] and info["n_heads"] == 9 and info["head_dim"] == 64
    assert info["target"] == vf.target and info["ablation"] == "zero" and info["prompt"] == PROMPT


def test_explain_heads_end_to_end(smollm2, vf):
    import interspect
    from interspect.frontends.heads import AttentionHeadValueFunction

    model, tokenizer = smollm2
    vf = AttentionHeadValueFunction(model, tokenizer, PROMPT, vf.target, layers=LAYERS, model_id=vf.model_id)
    explanation = interspect.explain(vf, method="proxyspex", budget=64, random_state=0)
    shapley = explanation.shapley_values()
    assert shapley.shape == (18,) and np.isfinite(shapley).all()
    assert explanation.feature_names == vf.feature_names and explanation.n_queries <= 64
    assert explanation.metadata["frontend"] == "attention_heads"
