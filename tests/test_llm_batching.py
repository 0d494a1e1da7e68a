"""The batched LLM scorer (sorting, left padding, a shared-prefix key/value cache) gives the scores of
one-prompt-at-a-time calls on real SmolLM2, for the templates people use: chat QA, a bare context for a base
model (where the shortest prompt of a call is a token prefix of the others), the question before the context,
and long multi-token targets."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow

CONTEXT = "The Eiffel Tower is in Paris. It was completed in 1889. The tower is 330 metres tall."
QUESTION = "How tall is the tower?"
TOLERANCE = 1e-4  # float32 forward passes of different padded shapes agree to ~1e-5 here


def templates():
    from interspect.frontends.llm import PromptTemplate

    return {
        "chat QA": (PromptTemplate.for_question(QUESTION), "It is 330 metres tall."),
        "base model, context only": (PromptTemplate("{context}", chat=False), " It is a landmark."),
        "question before context": (
            PromptTemplate("Question: {question}\nContext: {context}\nAnswer:", QUESTION, chat=False),
            " 330 metres",
        ),
        "multi-token target": (
            PromptTemplate.for_question(QUESTION, system="Answer in one full sentence."),
            "The Eiffel Tower in Paris is 330 metres tall and was completed in 1889.",
        ),
    }


def contexts_for(rng: np.random.Generator) -> list[str]:
    """Random word masks, the empty context, and the context with its last words dropped (prompts that are
    token prefixes of each other under a bare-context template)."""
    from interspect.frontends import split_units

    units = split_units(CONTEXT, "word")
    random = units.render(rng.random((3, units.n_units)) < 0.6)
    ends = [units.spans[-k][1] for k in (1, 4)]
    return [*random, "", *(CONTEXT[:end] for end in ends)]


@pytest.mark.parametrize("name", list(templates()))
def test_batched_scores_equal_one_prompt_at_a_time(smollm2, name):
    from interspect.frontends import CausalLMScorer
    from interspect.frontends.llm import reusable_prefix_length

    model, tokenizer = smollm2
    template, target = templates()[name]
    scorer = CausalLMScorer(model, tokenizer, template=template, batch_size=4)
    scorer.set_target(target)
    contexts = contexts_for(np.random.default_rng(sum(map(ord, name))))
    batched = scorer(contexts)
    single = np.array([scorer([c])[0] for c in contexts])
    np.testing.assert_allclose(batched, single, rtol=0, atol=TOLERANCE)
    assert np.isfinite(batched).all() and np.ptp(batched) > 0.1  # the masks change the scores

    # the prefix-only call: under a bare context its shortest prompt is a token prefix of every other prompt
    prefix_calls = contexts[4:]
    ids = scorer.encode(prefix_calls)
    shortest = min(ids, key=len)
    if name == "base model, context only":
        assert all(p[: len(shortest)] == shortest for p in ids)
    assert reusable_prefix_length(ids) >= scorer.MIN_SHARED_PREFIX  # the prefix cache is really used
    np.testing.assert_allclose(scorer(prefix_calls), single[4:], rtol=0, atol=TOLERANCE)
    assert len(target) > 10 and len(scorer.target_ids) >= 3  # multi-token targets everywhere
