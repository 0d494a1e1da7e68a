"""The papers' applications as experiments anyone can rerun offline on bundled data.

``interspect.experiments.run("rag", quick=True)`` (or ``interspect experiment rag --quick``) runs one and
returns an :class:`~.common.ExperimentResult` (rows, a Markdown table, notes). Every experiment compares
ProxySPEX / ``auto`` with the marginal methods (LASSO, KernelSHAP) and, where its design fits, SPEX, on one
shared memo of model answers. Options of an experiment (smaller sizes for tests, other budgets) are keyword
arguments of its module's ``run``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .common import ExperimentResult

#: experiment name -> (module, one line on what it measures)
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "rag": ("rag", "multi-hop QA: supporting facts vs top sentences and pairs (SmolLM2)"),
    "multires": ("multires", "documents -> sentences -> words, refined where it matters, queries accounted"),
    "vlm": ("vlm", "image regions + a question -> the answer (needs an offline image-text model)"),
    "heads": ("heads", "attention-head pruning by interaction vs marginal scores (SmolLM2)"),
    "data": ("data", "training-data groups: synergy and redundancy pairs, duplicated rows"),
    "recall": ("recall", "top-10 Shapley recall vs a Monte-Carlo reference at a·n·log2 n queries, n >= 100"),
    "removal": ("removal", "real output change after removing the top-k units, n >= 60"),
}


def run(
    name: str, quick: bool = True, *, json: str | Path | None = None, png: str | Path | None = None, **options: Any
) -> ExperimentResult:
    """Run experiment ``name`` (``quick``: the < 5 minute configuration); write JSON / PNG on request."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    module = importlib.import_module(f"{__name__}.{EXPERIMENTS[name][0]}")
    result = module.run(quick, **options)
    if json is not None:
        result.write_json(json)
    if png is not None:
        from .plots import save_png

        save_png(result, png)
    return result


__all__ = ["EXPERIMENTS", "ExperimentResult", "run"]
