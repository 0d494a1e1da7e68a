"""Generative LLM scorer: log-probability of a target answer given a (masked) prompt.

The value of a masked context is ``log p(target | prompt(context))`` under teacher forcing. All prompts
of a batch go through the model in **one** forward pass: sequences are ``prompt ids + target ids``,
left-padded so every answer ends at the same position, and only the last ``len(target) + 1`` positions
are turned into vocabulary logits (``logits_to_keep``), which keeps memory at
``batch * len(target) * vocab`` instead of ``batch * seq_len * vocab``. Sequences are sorted by length
and padded per batch (dynamic padding). The token prefix shared by every prompt of a call (system prompt,
instruction, unmasked leading units) is run once and its key/value cache reused by every batch, so only
the differing suffixes are recomputed; the shared part stops at least one token before the end of the
shortest prompt, because a prompt's last token must go through the forward pass (its logits predict the
first target token). Inputs are created on the model's device (CPU or GPU). The default target is the
model's own greedy answer to the unmasked prompt.

Prompts are built from a template with a masked context part and a fixed question part; instruct models
get the tokenizer's chat template. torch and transformers are imported lazily.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

#: bumped whenever a change in this module changes the scores it returns, so cached answers of older versions
#: are not reused (2: the shared prefix stops before the shortest prompt's last token; empty prompts get BOS)
SCORER_VERSION = 2
QA_TEMPLATE = "Answer the question using the context.\n\nContext: {context}\n\nQuestion: {question}"
BASE_QA_TEMPLATE = "Context: {context}\n\nQuestion: {question}\nAnswer:"
Reduction = Literal["sum", "mean"]


@dataclass(frozen=True)
class PromptTemplate:
    """How a (masked) context and a fixed question become the prompt text.

    ``template`` must contain ``{context}`` and may contain ``{question}``; substitution is literal (braces
    in the context or question are left alone). With ``chat=True`` the filled template is the user
    message of the tokenizer's chat template (with ``system`` as system message when given).
    """

    template: str = "{context}"
    question: str | None = None
    system: str | None = None
    chat: bool = True

    def __post_init__(self) -> None:
        if "{context}" not in self.template:
            raise ValueError("template must contain '{context}'")
        if "{question}" in self.template and self.question is None:
            raise ValueError("template has '{question}' but no question was given")

    @classmethod
    def for_question(cls, question: str | None, *, chat: bool = True, system: str | None = None) -> PromptTemplate:
        """The default template: the context alone, or context + question for QA / RAG."""
        if question is None:
            return cls("{context}", None, system, chat)
        return cls(QA_TEMPLATE if chat else BASE_QA_TEMPLATE, question, system, chat)

    def fill(self, context: str) -> str:
        text = self.template.replace("{context}", context)
        return text.replace("{question}", self.question) if self.question is not None else text


class CausalLMScorer:
    """``scorer(contexts) -> log p(target | prompt(context))`` for a Hugging Face causal LM.

    Parameters
    ----------
    model, tokenizer
        A ``transformers`` causal LM (eval mode, CPU or GPU) and its tokenizer.
    template : PromptTemplate, optional
        Defaults to the bare context; ``chat`` is switched off when the tokenizer has no chat template.
    batch_size : int
        Prompts per forward pass.
    reduction : {"sum", "mean"}
        Total log-probability of the target (default) or its per-token mean.
    share_prefix : bool
        Run the prompts' common token prefix once and reuse its key/value cache (same values up to float
        rounding; switched off automatically if the model's cache does not support it).
    """

    MIN_SHARED_PREFIX = 8  # tokens; shorter common prefixes are not worth a separate forward pass

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        template: PromptTemplate | None = None,
        batch_size: int = 16,
        reduction: Reduction = "sum",
        share_prefix: bool = True,
    ) -> None:
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        template = template or PromptTemplate()
        if template.chat and not getattr(tokenizer, "chat_template", None):
            template = PromptTemplate(template.template, template.question, template.system, chat=False)
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.batch_size = int(batch_size)
        self.reduction = reduction
        self.share_prefix = bool(share_prefix)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = int(pad if pad is not None else 0)
        self.target_ids: list[int] | None = None

    # -- prompts ---------------------------------------------------------------------------------
    def prompt(self, context: str) -> str:
        """The full prompt text for one context."""
        user = self.template.fill(context)
        if not self.template.chat:
            return user
        messages = [{"role": "user", "content": user}]
        if self.template.system is not None:
            messages.insert(0, {"role": "system", "content": self.template.system})
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def encode(self, contexts: Sequence[str]) -> list[list[int]]:
        """Token ids of the prompts (chat prompts already hold their special tokens as text).

        An empty prompt (a bare ``{context}`` template with every unit removed) becomes the start-of-text
        token (BOS, else EOS, as lm-evaluation-harness does): the first target token needs something to be
        predicted from.
        """
        prompts = [self.prompt(c) for c in contexts]
        encoded = self.tokenizer(prompts, add_special_tokens=not self.template.chat)["input_ids"]
        return [list(ids) if len(ids) else [self._start_id()] for ids in encoded]

    def _start_id(self) -> int:
        for token in (self.tokenizer.bos_token_id, self.tokenizer.eos_token_id):
            if token is not None:
                return int(token)
        raise ValueError("an empty prompt cannot be scored: the tokenizer has no BOS or EOS token")

    # -- target ----------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """What, besides the model files and the texts, determines the scores (for cache keys)."""
        parameter = next(iter(self.model.parameters()), None)
        return {
            "scorer": f"causal-lm-v{SCORER_VERSION}",
            "chat": self.template.chat,
            "dtype": None if parameter is None else str(parameter.dtype),
            "target_ids": self.target_ids,
        }

    def set_target(self, target: str) -> None:
        """Score ``target`` (a string; a leading space is added after a base-model "Answer:" prompt)."""
        if not target:
            raise ValueError("target must be a non-empty string")
        if not self.template.chat and not target[0].isspace() and self.template.template.endswith(":"):
            target = " " + target
        ids = self.tokenizer(target, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"target {target!r} encodes to no tokens")
        self.target_ids = [int(i) for i in ids]

    def greedy_answer(self, context: str, max_new_tokens: int = 32) -> str:
        """The model's greedy answer to ``prompt(context)``; also sets it as the target (as token ids)."""
        import torch

        ids = torch.tensor([self.encode([context])[0]], device=self.device)
        eos = self._stop_ids()
        with torch.inference_mode():
            out = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=int(max_new_tokens),
                do_sample=False,
                pad_token_id=self.pad_id,
                eos_token_id=sorted(eos) or None,
            )
        new = [int(t) for t in out[0, ids.shape[1] :].tolist()]
        cut = next((i for i, t in enumerate(new) if t in eos), len(new))
        new = new[:cut]
        if not new:
            raise ValueError("the model's greedy answer is empty; pass an explicit target")
        self.target_ids = new
        return self.tokenizer.decode(new, skip_special_tokens=True)

    def _stop_ids(self) -> set[int]:
        stops = set()
        for source in (getattr(self.model, "generation_config", None), self.tokenizer):
            eos = getattr(source, "eos_token_id", None)
            if eos is not None:
                stops.update([eos] if isinstance(eos, int) else list(eos))
        return {int(s) for s in stops}

    @property
    def device(self) -> Any:
        """Where the model's weights are (inputs are created there)."""
        return getattr(self.model, "device", "cpu")

    @property
    def target(self) -> str | None:
        if self.target_ids is None:
            return None
        return self.tokenizer.decode(self.target_ids, skip_special_tokens=True)

    # -- scoring ---------------------------------------------------------------------------------
    def __call__(self, contexts: Sequence[str]) -> np.ndarray:
        """``log p(target | prompt(context))`` for each context (sum or mean over target tokens)."""
        if self.target_ids is None:
            raise RuntimeError("no target: call set_target() or greedy_answer() first")
        prompts = self.encode(contexts)
        return self.score_ids(prompts)

    def score_ids(self, prompts: Sequence[Sequence[int]]) -> np.ndarray:
        """Target log-probabilities for already tokenised prompts, batched by sorted length."""
        if self.target_ids is None:
            raise RuntimeError("no target: call set_target() or greedy_answer() first")
        if len(prompts) == 0:
            return np.zeros(0)
        if min(len(p) for p in prompts) == 0:
            raise ValueError("every prompt needs at least one token before the target")
        shared = reusable_prefix_length(prompts) if self.share_prefix and len(prompts) > 1 else 0
        if shared < self.MIN_SHARED_PREFIX:
            return self._score_batches(prompts, 0)
        try:
            return self._score_batches(prompts, shared)
        except (AttributeError, NotImplementedError, TypeError):  # a model/cache without prefix reuse
            self.share_prefix = False
            return self._score_batches(prompts, 0)

    def _score_batches(self, prompts: Sequence[Sequence[int]], shared: int) -> np.ndarray:
        past = self._prefix_cache(list(prompts[0][:shared])) if shared else None
        suffixes = [list(p[shared:]) for p in prompts]
        order = np.argsort([len(p) for p in suffixes], kind="stable")
        out = np.empty(len(prompts))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._forward([suffixes[r] for r in rows], past, shared)
        return out

    def _prefix_cache(self, prefix: list[int]) -> Any:
        import torch

        with torch.inference_mode():
            output = self.model(input_ids=torch.tensor([prefix], device=self.device), use_cache=True)
        # read the cache under the name this transformers version uses (``past_key_values`` warns in >= 5.2)
        return getattr(output, _cache_keyword(self.model))

    def _forward(self, prompts: list[Sequence[int]], past: Any = None, shared: int = 0) -> np.ndarray:
        """One forward pass over ``shared`` cached prefix tokens + left-padded ``prompt + target`` rows."""
        import torch

        target_ids = self.target_ids
        assert target_ids is not None, "score_ids checks that a target is set"
        n_target = len(target_ids)
        seqs = [list(p) + target_ids for p in prompts]
        width = max(len(s) for s in seqs)
        padded_ids = np.full((len(seqs), width), self.pad_id, dtype=np.int64)
        padded_attention = np.zeros((len(seqs), width), dtype=np.int64)
        for row, seq in enumerate(seqs):  # left padding: every answer ends at the last position
            padded_ids[row, width - len(seq) :] = seq
            padded_attention[row, width - len(seq) :] = 1
        ids = torch.from_numpy(padded_ids).to(self.device)
        attention = torch.from_numpy(padded_attention).to(self.device)
        target = torch.tensor(target_ids, device=self.device)
        positions = shared + (attention.cumsum(-1) - 1).clamp(min=0)
        kwargs: dict[str, Any] = {"use_cache": False}
        if past is not None:
            cache = copy.deepcopy(past)  # the forward pass appends to the cache: keep the prefix intact
            cache.batch_repeat_interleave(len(seqs))
            prefix_attention = torch.ones((len(seqs), shared), dtype=torch.long, device=self.device)
            attention = torch.cat([prefix_attention, attention], dim=1)
            kwargs = {_cache_keyword(self.model): cache, "use_cache": True}
        with torch.inference_mode():
            logits = self.model(
                input_ids=ids, attention_mask=attention, position_ids=positions, logits_to_keep=n_target + 1, **kwargs
            ).logits
            logits = logits[:, -(n_target + 1) : -1, :].float()  # position t predicts target token t
            chosen = logits.gather(-1, target.expand(len(seqs), -1).unsqueeze(-1)).squeeze(-1)
            logp = chosen - torch.logsumexp(logits, dim=-1)
            total = logp.sum(-1) if self.reduction == "sum" else logp.mean(-1)
        return total.double().cpu().numpy()


def _cache_keyword(model: Any) -> str:
    """The forward pass's key/value-cache argument: ``cache`` in recent transformers, ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def reusable_prefix_length(prompts: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all prompts share and may take from one key/value cache.

    The longest common token prefix, but at most the shortest prompt's length minus one: a prompt's last
    token must be in the forward pass, because its logits predict the first target token (a prompt that is
    a prefix of the others would otherwise read that prediction off a padding position).
    """
    shortest = min(len(p) for p in prompts)
    if shortest <= 1:
        return 0
    head = np.array([list(p[: shortest - 1]) for p in prompts])
    differs = np.flatnonzero((head != head[0]).any(axis=0))
    return int(differs[0]) if len(differs) else shortest - 1
