"""Attention-head attribution: features are the attention heads of a causal LM, a mask keeps heads.

The value of a mask is ``log p(target | prompt)`` (teacher-forced, summed over the target tokens) of the
model with the removed heads ablated. A head's output is the ``head_dim`` slice of the input of its layer's
attention output projection (``self_attn.o_proj`` in Llama-style models: Llama, SmolLM2, Mistral, Qwen2,
Gemma). Ablation ``"zero"`` sets that slice to zero; ``"mean"`` replaces it by the head's mean output over the
prompt tokens of the unablated model.

Different masks go into different batch rows of **one** forward pass: a forward pre-hook on every explained
layer's ``o_proj`` multiplies its ``(B, T, H*D)`` input by a per-row head mask of shape ``(B, 1, H*D)`` (and
adds ``(1 - mask) * mean`` for mean ablation) while the prompt + target tokens are repeated across the batch.
The hooks live only inside a context manager and are removed on exit, also on error.
torch is imported lazily.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..query.engine import check_masks
from .base import fingerprint
from .llm import CausalLMScorer, PromptTemplate

ABLATIONS: tuple[str, ...] = ("zero", "mean")


def output_projections(model: Any) -> list[Any]:
    """The attention output projection (``layer.self_attn.o_proj``) of every decoder layer of ``model``."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else getattr(model, "model", model)
    layers = getattr(decoder, "layers", None)
    projections = [getattr(getattr(layer, "self_attn", None), "o_proj", None) for layer in layers or ()]
    if not projections or any(p is None or not hasattr(p, "in_features") for p in projections):
        raise TypeError(
            f"{type(model).__name__} is not a Llama-style causal LM: expected decoder layers with a linear "
            "self_attn.o_proj"
        )
    return projections


@contextlib.contextmanager
def _pre_hooks(modules: Sequence[Any], hooks: Sequence[Callable[..., Any]]) -> Iterator[None]:
    """Forward pre-hooks ``hooks[i]`` on ``modules[i]`` for the duration of the block (removed on error too)."""
    handles = []
    try:
        for module, hook in zip(modules, hooks, strict=True):
            handles.append(module.register_forward_pre_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _model_id(model: Any) -> str:
    """The model's name or path plus a checksum of its weights (distinguishes fine-tunes of one base)."""
    import torch

    with torch.no_grad():
        sums = [f"{float(p.detach().float().sum()):.6e}" for p in model.parameters()]
    name = getattr(model, "name_or_path", None) or getattr(model.config, "_name_or_path", "") or type(model).__name__
    return f"{name}#{fingerprint(sums=sums)[:16]}"


class AttentionHeadValueFunction:
    """Head-ablation value function: ``(m, n)`` bool masks over attention heads -> ``(m,)`` target log-probs.

    Parameters
    ----------
    model, tokenizer
        A Llama-style ``transformers`` causal LM (eval mode) and its tokenizer.
    prompt : str
        The prompt; with ``chat_template`` it is the user message of the tokenizer's chat template.
    target : str, optional
        The continuation scored under teacher forcing. Default: the unablated model's greedy answer
        (at most ``max_new_tokens`` tokens), as in the LLM text front-end.
    layers : sequence of int, optional
        Decoder layers whose heads are the features (default all). Features are ordered layer by layer,
        head by head, and named ``"L{layer}.H{head}"``.
    ablation : {"zero", "mean"}
        A removed head's output is zeroed, or replaced by its mean output over the prompt tokens of the
        unablated model.
    batch_size : int
        Masks per forward pass.
    chat_template : bool
        Wrap the prompt in the tokenizer's chat template (ignored when the tokenizer has none).
    max_new_tokens : int
        Length limit of the default (greedy) target.
    model_id : str, optional
        Identifier for the disk-cache fingerprint; default: the model's name plus a checksum of its weights.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        prompt: str,
        target: str | None = None,
        *,
        layers: Sequence[int] | None = None,
        ablation: str = "zero",
        batch_size: int = 16,
        chat_template: bool = True,
        max_new_tokens: int = 32,
        model_id: str | None = None,
    ) -> None:
        if ablation not in ABLATIONS:
            raise ValueError(f"ablation must be one of {ABLATIONS}, got {ablation!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.prompt = str(prompt)
        self.ablation = ablation
        self.batch_size = int(batch_size)
        self._projections = output_projections(model)
        n_layers = len(self._projections)
        self.n_heads = int(model.config.num_attention_heads)
        width = int(self._projections[0].in_features)
        if width % self.n_heads:
            raise ValueError(f"o_proj input width {width} is not a multiple of {self.n_heads} heads")
        self.head_dim = width // self.n_heads
        if layers is None:
            layers = range(n_layers)
        chosen = [int(layer) for layer in layers]
        if not chosen:
            raise ValueError("layers must name at least one layer")
        bad = [layer for layer in chosen if not 0 <= layer < n_layers]
        if bad:
            raise ValueError(f"layer {bad[0]} is out of range: the model has layers 0..{n_layers - 1}")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"layers lists a layer twice: {chosen}")
        self.layers = tuple(sorted(chosen))
        self.feature_names = [f"L{layer}.H{head}" for layer in self.layers for head in range(self.n_heads)]

        self.scorer = CausalLMScorer(model, tokenizer, template=PromptTemplate(chat=bool(chat_template)))
        self.chat_template = self.scorer.template.chat
        self.prompt_ids = self.scorer.encode([self.prompt])[0]
        if target is None:
            self.scorer.greedy_answer(self.prompt, max_new_tokens=max_new_tokens)
        else:
            self.scorer.set_target(target)
        assert self.scorer.target_ids is not None, "greedy_answer / set_target set it"
        self.target_ids = list(self.scorer.target_ids)
        self.target = self.scorer.target
        self.means = self._mean_outputs() if ablation == "mean" else None
        self.model_id = model_id or _model_id(model)
        self.fingerprint = fingerprint(
            frontend="attention_heads",
            model=self.model_id,
            prompt_ids=self.prompt_ids,
            target_ids=self.target_ids,
            layers=list(self.layers),
            n_heads=self.n_heads,
            ablation=ablation,
        )

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def _input_ids(self, rows: int) -> Any:
        import torch

        return torch.tensor([self.prompt_ids + self.target_ids]).expand(rows, -1)

    def _mean_outputs(self) -> Any:
        """``(len(layers), H*D)``: each explained layer's ``o_proj`` input averaged over the prompt tokens."""
        import torch

        n_prompt = len(self.prompt_ids)
        captured: list[Any] = []

        def capture(module: Any, args: tuple[Any, ...]) -> None:
            captured.append(args[0][0, :n_prompt].float().mean(0))

        modules = [self._projections[layer] for layer in self.layers]
        with _pre_hooks(modules, [capture] * len(modules)), torch.inference_mode():
            self.model(input_ids=self._input_ids(1), use_cache=False, logits_to_keep=1)
        return torch.stack(captured)

    @contextlib.contextmanager
    def head_masks(self, masks: np.ndarray | Sequence[bool]) -> Iterator[None]:
        """Run the model with heads ablated: row ``r`` of ``masks`` applies to batch row ``r``.

        ``masks`` is ``(B, n_features)`` (the model must then be called with batch size ``B``) or a single
        mask ``(n_features,)`` applied to every batch row (e.g. for ``model.generate``). The hooks are
        removed when the block exits, also on error.
        """
        import torch

        masks = np.asarray(masks)
        masks = check_masks(masks[None] if masks.ndim == 1 else masks, self.n_features)
        dtype = self._projections[0].weight.dtype
        keep = torch.from_numpy(masks).to(dtype).reshape(len(masks), len(self.layers), self.n_heads)
        # (B, L, H) -> (L, B, 1, H*D): one multiplier per batch row and channel of each layer's o_proj input
        scales = keep.repeat_interleave(self.head_dim, dim=2).permute(1, 0, 2).unsqueeze(2)
        fills = None if self.means is None else (1 - scales) * self.means.to(dtype)[:, None, None, :]

        def make_hook(j: int) -> Callable[..., tuple[Any, ...]]:
            scale = scales[j]
            fill = None if fills is None else fills[j]

            def hook(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
                x = args[0]
                if scale.shape[0] not in (1, x.shape[0]):
                    raise ValueError(f"{scale.shape[0]} head masks for a batch of {x.shape[0]} rows")
                return (x * scale if fill is None else torch.addcmul(fill, x, scale), *args[1:])

            return hook

        modules = [self._projections[layer] for layer in self.layers]
        with _pre_hooks(modules, [make_hook(j) for j in range(len(modules))]):
            yield

    def _target_logprob(self, rows: int) -> np.ndarray:
        """Teacher-forced ``log p(target | prompt)`` of ``rows`` copies of the sequence (hooks decide the heads)."""
        import torch

        n_target = len(self.target_ids)
        target = torch.tensor(self.target_ids).expand(rows, -1)
        ids = self._input_ids(rows)
        with torch.inference_mode():
            logits = self.model(
                input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False, logits_to_keep=n_target + 1
            ).logits
            logits = logits[:, -(n_target + 1) : -1, :].float()  # position t predicts target token t
            chosen = logits.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            total = (chosen - torch.logsumexp(logits, dim=-1)).sum(-1)
        return total.double().numpy()

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        """``log p(target | prompt)`` with each mask's removed heads ablated, ``batch_size`` masks per forward."""
        masks = check_masks(masks, self.n_features)
        if len(masks) == 0:
            return np.zeros(0)
        unique, inverse = np.unique(masks, axis=0, return_inverse=True)
        out = np.empty(len(unique))
        for start in range(0, len(unique), self.batch_size):
            block = unique[start : start + self.batch_size]
            with self.head_masks(block):
                out[start : start + len(block)] = self._target_logprob(len(block))
        return out[inverse.reshape(-1)]

    def describe(self) -> dict[str, Any]:
        """Metadata for reports: model, prompt, target, explained layers, heads per layer, ablation."""
        return {
            "frontend": "attention_heads",
            "model": self.model_id,
            "prompt": self.prompt,
            "target": self.target,
            "value": "log_prob",
            "layers": list(self.layers),
            "n_heads": self.n_heads,
            "head_dim": self.head_dim,
            "ablation": self.ablation,
            "chat_template": self.chat_template,
        }

    def __repr__(self) -> str:
        return (
            f"AttentionHeadValueFunction(model={self.model_id!r}, n_features={self.n_features}, "
            f"layers={list(self.layers)}, ablation={self.ablation!r}, target={self.target!r})"
        )
