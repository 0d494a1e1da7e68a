"""Removal curves: the real model's output change after removing the top-k units each method picks.

Real models with n >= 60 units: VADER and the offline MiniLM sentiment classifier on a 109-word review.
Each method's surrogate chooses the ``k`` units whose joint removal lowers the output most
(:func:`~interspect.evaluation.removal.top_k_removal`, which uses the interactions), then the real model is
asked. A larger real drop at a given ``k`` is a better explanation. ProxySPEX and SPEX against LASSO.
"""

from __future__ import annotations

import numpy as np

from ..evaluation.removal import removal_curve
from .common import ExperimentResult, SharedAnswers, Timer, experiment_config, run_methods
from .recall import word_value_function

KS = (1, 2, 4, 8, 16)
#: seconds the removal MILP may take per k (it falls back to the greedy choice when stopped)
MILP_SECONDS = 10.0
QUICK = {"models": ("vader",), "budget": 512, "methods": ("proxyspex", "lasso")}
FULL = {"models": ("vader", "sentiment"), "budget": 1024, "methods": ("proxyspex", "auto", "spex", "lasso")}


def run(
    quick: bool = True,
    *,
    models: tuple[str, ...] | None = None,
    budget: int | None = None,
    methods: tuple[str, ...] | None = None,
    ks: tuple[int, ...] = KS,
    text: str | None = None,
    random_state: int = 0,
) -> ExperimentResult:
    config = experiment_config(quick, QUICK, FULL, {"ks": list(ks)}, models=models, budget=budget, methods=methods)
    rows, notes = [], []
    with Timer() as timer:
        for model in config["models"]:
            vf = word_value_function(model, text)
            shared = SharedAnswers(vf, vf.n_features)
            full = float(shared(np.ones((1, vf.n_features), dtype=bool))[0])
            notes.append(f"{model}: n = {vf.n_features}, output on the whole text {full:.3f}")
            for method, expl in run_methods(shared, config["methods"], config["budget"],
                                            random_state=random_state).items():
                drops = removal_curve(shared, expl.fourier, list(ks), n_features=vf.n_features,
                                      direction="decrease", time_limit=MILP_SECONDS)
                for k, drop in zip(ks, drops, strict=True):
                    rows.append({"model": model, "method": method, "picked": expl.method,
                                 "queries": expl.n_queries, "k": k, "real_drop": float(drop)})
    columns = ["model", "method", "picked", "queries", "k", "real_drop"]
    plot = {"x": "k", "y": ["real_drop"], "group": "method"}
    return ExperimentResult("removal", config, rows, columns, notes, {"plot": plot}, timer.seconds)
