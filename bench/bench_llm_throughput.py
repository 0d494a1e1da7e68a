"""Local LLM scoring throughput: interspect's ``CausalLMScorer`` against the raw batched forward pass.

Workload: SmolLM2-135M-Instruct (offline), the QA demo context cut into word units, ``--prompts`` random
masks (keep probability 0.7), the chat QA template and a fixed multi-token answer. Three ways to score the
same prompts, run interleaved ``--repeats`` times (best time kept: the machine is shared):

- **raw forward**: the prompts already tokenised, sorted by length and left-padded per batch of
  ``--batch-size``, one ``model(input_ids, attention_mask, logits_to_keep=len(answer) + 1)`` per batch; no
  log-softmax, no tokenising, no bookkeeping. This is the floor any scorer built on the model pays;
- **scorer**: ``CausalLMScorer(...)(contexts)``, everything included (chat template, tokenising, the
  shared-prefix cache, log-probabilities);
- **scorer, no prefix sharing**: the same with ``share_prefix=False``.

Throughput is prompts per second; the ratio column is throughput / raw forward (>= 1: faster than the
raw forward because the shared prefix is computed once). The scores are checked against each other.

Usage::

    OMP_WAIT_POLICY=PASSIVE python bench/bench_llm_throughput.py [--prompts 64] [--batch-size 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from interspect.data import qa_demo  # noqa: E402
from interspect.frontends import CausalLMScorer, PromptTemplate, split_units  # noqa: E402
from interspect.frontends.offline import load_smollm2  # noqa: E402

ANSWER = "Anna was born in Porto, a city in Portugal."


def raw_forward(model, sequences: list[list[int]], n_answer: int, batch_size: int, pad_id: int) -> None:
    """The floor: one padded forward per batch of pre-tokenised ``prompt + answer`` sequences."""
    import torch

    order = np.argsort([len(s) for s in sequences], kind="stable")
    for start in range(0, len(order), batch_size):
        batch = [sequences[i] for i in order[start : start + batch_size]]
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros_like(ids)
        for row, seq in enumerate(batch):
            ids[row, width - len(seq) :] = torch.tensor(seq)
            attention[row, width - len(seq) :] = 1
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=attention, logits_to_keep=n_answer + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    model, tokenizer = load_smollm2()
    demo = qa_demo()
    units = split_units(demo["context"], "word")
    masks = np.random.default_rng(args.seed).random((args.prompts, units.n_units)) < 0.7
    contexts = units.render(masks)
    template = PromptTemplate.for_question(demo["question"])
    shared = CausalLMScorer(model, tokenizer, template=template, batch_size=args.batch_size)
    plain = CausalLMScorer(model, tokenizer, template=template, batch_size=args.batch_size, share_prefix=False)
    for scorer in (shared, plain):
        scorer.set_target(ANSWER)
    sequences = [ids + shared.target_ids for ids in shared.encode(contexts)]
    n_answer = len(shared.target_ids)

    runs = {
        "raw forward": lambda: raw_forward(model, sequences, n_answer, args.batch_size, shared.pad_id),
        "scorer": lambda: shared(contexts),
        "scorer, no prefix sharing": lambda: plain(contexts),
    }
    best = dict.fromkeys(runs, np.inf)
    runs["scorer"]()  # warm-up (allocator, kernels)
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    difference = float(np.max(np.abs(shared(contexts) - plain(contexts))))

    mean_tokens = float(np.mean([len(s) for s in sequences]))
    print(
        f"SmolLM2-135M-Instruct, {args.prompts} prompts of {mean_tokens:.0f} tokens on average, "
        f"batch {args.batch_size}, answer {n_answer} tokens, torch threads {torch.get_num_threads()}, "
        f"best of {args.repeats}"
    )
    print(f"{'way':<28} {'seconds':>8} {'prompts/s':>10} {'ratio':>6}")
    for name in runs:
        ratio = best["raw forward"] / best[name]
        print(f"{name:<28} {best[name]:8.2f} {args.prompts / best[name]:10.1f} {ratio:6.2f}")
    print(f"max |shared - unshared| score difference: {difference:.2e}")


if __name__ == "__main__":
    main()
