"""Attention-head pruning: heads chosen with the interaction surrogate vs by marginal scores.

SmolLM2-135M on bundled fact + cloze prompts (the answer is copied from the prompt). Value of a head mask:
the mean log p(answer) over the prompts with the removed heads mean-ablated. For each number of pruned
heads, the interaction surrogate (ProxySPEX / ``auto``) picks the heads whose joint removal it predicts to
hurt least (:func:`~interspect.evaluation.removal.top_k_removal`, direction "increase"); the marginal methods
(LASSO, KernelSHAP) prune the heads with the lowest Shapley values. The real model then answers every prompt
(also the ones not used to explain) with those heads pruned: mean log p(answer) and the share of prompts
answered with p(answer) > 0.5. Within one layer and across three. The paper's claim: interactions allow
more aggressive pruning.
"""

from __future__ import annotations

import numpy as np

from ..evaluation.removal import top_k_removal
from ..frontends.base import fingerprint
from .common import ExperimentResult, SharedAnswers, Timer, experiment_config, run_methods

#: removal-search seconds per pruning level (the MILP falls back to its greedy answer when stopped)
SEARCH_SECONDS = 10.0
QUICK = {"settings": {"layer 4": (4,), "layers 3-5": (3, 4, 5)}, "n_explain": 4, "budget": 96,
         "pruned": {"layer 4": (2, 4, 6), "layers 3-5": (6, 12, 18)}}
#: the full run prunes where ablation hurts: with every head of one layer mean-ablated, mean log p(answer) over
#: 8 prompts moved by 0.02-0.15 nats for each of layers 2, 4, ..., 28, and by 2.15 nats for layer 0
FULL = {"settings": {"layer 0": (0,), "layers 0-2": (0, 1, 2)}, "n_explain": 12, "budget": 400,
        "pruned": {"layer 0": (1, 2, 3, 4, 5, 6, 7, 8), "layers 0-2": (3, 6, 9, 12, 15, 18, 21, 24)}}
METHODS = ("auto", "lasso", "kernelshap")


class MeanOverPrompts:
    """Head masks -> mean of the per-prompt head-ablation value functions (each one batched forward)."""

    def __init__(self, functions: list) -> None:
        self.functions = functions
        self.n_features = functions[0].n_features
        self.feature_names = list(functions[0].feature_names)
        self.batch_size = int(getattr(functions[0], "batch_size", 64))
        self.fingerprint = fingerprint(mean_over=[f.fingerprint for f in functions])

    def per_prompt(self, masks: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(f(masks), dtype=np.float64) for f in self.functions], axis=1)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        return self.per_prompt(masks).mean(1)


def prune_choice(method: str, expl, k: int) -> np.ndarray:
    """The ``k`` heads to prune: by the surrogate's joint removal for sparse methods, lowest Shapley otherwise."""
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if method in ("lasso", "kernelshap", "faith_banzhaf"):
        return np.argsort(expl.shapley_values(), kind="stable")[:k]
    return np.asarray(top_k_removal(expl.fourier, k, direction="increase", time_limit=SEARCH_SECONDS).features)


def run(
    quick: bool = True,
    *,
    settings: dict[str, tuple[int, ...]] | None = None,
    pruned: dict[str, tuple[int, ...]] | None = None,
    n_explain: int | None = None,
    n_eval: int | None = None,
    budget: int | None = None,
    methods: tuple[str, ...] = METHODS,
    random_state: int = 0,
) -> ExperimentResult:
    from ..data import heads_qa
    from ..frontends import AttentionHeadValueFunction
    from ..frontends.offline import load_smollm2

    config = experiment_config(
        quick, QUICK, FULL, {"methods": list(methods)},
        settings=settings, pruned=pruned, n_explain=n_explain, budget=budget
    )
    items = heads_qa()
    items = items[: n_eval] if n_eval is not None else items
    model, tokenizer = load_smollm2()
    rows = []
    with Timer() as timer:
        for setting, layers in config["settings"].items():
            functions = [
                AttentionHeadValueFunction(model, tokenizer, item["prompt"], " " + item["answer"], layers=layers,
                                           ablation="mean", chat_template=False, batch_size=64)
                for item in items
            ]
            explain_set = MeanOverPrompts(functions[: config["n_explain"]])
            evaluate = MeanOverPrompts([SharedAnswers(f, f.n_features) for f in functions])  # cached too
            shared = SharedAnswers(explain_set, explain_set.n_features)
            explanations = run_methods(shared, methods, config["budget"], random_state=random_state)
            n = explain_set.n_features
            for method, expl in explanations.items():
                choices = [prune_choice(method, expl, k) for k in (0, *config["pruned"][setting])]
                masks = np.ones((len(choices), n), dtype=bool)
                for row, chosen in enumerate(choices):
                    masks[row, chosen] = False
                logp = evaluate.per_prompt(masks)
                for chosen, values in zip(choices, logp, strict=True):
                    rows.append({"setting": setting, "heads": n, "method": method, "pruned": len(chosen),
                                 "mean_logp": float(values.mean()), "accuracy": float((values > np.log(0.5)).mean()),
                                 "heads_pruned": " ".join(explain_set.feature_names[i] for i in sorted(chosen))})
    notes = [f"{len(items)} prompts evaluated, the first {config['n_explain']} explained, {config['budget']} "
             "queries per method; accuracy = share of prompts with p(answer) > 0.5"]
    columns = ["setting", "heads", "method", "pruned", "mean_logp", "accuracy"]
    plot = {"x": "pruned", "y": ["mean_logp", "accuracy"], "group": "method"}
    return ExperimentResult("heads", config, rows, columns, notes, {"plot": plot}, timer.seconds)
