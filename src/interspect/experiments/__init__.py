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
    "vlm": ("vlm", "image regions + a question -> the answer: two objects needed together (zero-shot scorer)"),
    "heads": ("heads", "attention-head pruning by interaction vs marginal scores (SmolLM2)"),
    "data": ("data", "training-data groups: synergy and redundancy pairs, duplicated rows"),
    "recall": ("recall", "top-10 Shapley recall vs a Monte-Carlo reference at a·n·log2 n queries, n >= 100"),
    "removal": ("removal", "real output change after removing the top-k units, n >= 60"),
}


#: size options of the command line -> the keyword argument of each experiment's ``run`` that they set
SIZE_OPTIONS: dict[str, dict[str, str]] = {
    "items": {"rag": "n_items", "multires": "n_items", "heads": "n_explain"},
    "seeds": {"recall": "seeds"},
    "budget": {"heads": "budget", "data": "budget", "removal": "budget", "vlm": "budget"},
    "permutations": {"recall": "permutations"},
    "models": {"recall": "models", "removal": "models"},
}


#: the smallest value of each numeric size option (the Shapley reference needs a permutation and its reverse)
SIZE_MINIMUM: dict[str, int] = {"items": 1, "seeds": 1, "budget": 1, "permutations": 2}


def size_options(name: str, **sizes: int | str | None) -> dict[str, Any]:
    """Keyword arguments of experiment ``name`` for the given sizes (``items=8``, ``seeds=2`` ...), None: default.

    ``seeds=N`` means seeds ``0 .. N-1``; ``models`` is a comma-separated list of model names. A size the
    experiment has no use for, one below its minimum, more items than the bundled set holds or an empty model
    list raises ``ValueError`` before anything runs.
    """
    options: dict[str, Any] = {}
    for size, value in sizes.items():
        if value is None:
            continue
        target = SIZE_OPTIONS[size].get(name)
        if target is None:
            users = ", ".join(sorted(SIZE_OPTIONS[size]))
            raise ValueError(f"--{size} does not apply to experiment {name!r} (it sets the size of: {users})")
        if size == "models":
            models = tuple(dict.fromkeys(part.strip() for part in str(value).split(",") if part.strip()))
            if not models:
                raise ValueError(f"--models needs at least one model name, e.g. vader,sentiment; got {value!r}")
            options[target] = models
            continue
        number = int(value)
        if number < SIZE_MINIMUM[size]:
            raise ValueError(f"--{size} must be at least {SIZE_MINIMUM[size]} for experiment {name!r}, got {number}")
        if size == "items" and number > (available := _bundled_items(name)):
            raise ValueError(f"--items {number}: experiment {name!r} has {available} bundled questions")
        options[target] = tuple(range(number)) if size == "seeds" else number
    return options


def _bundled_items(name: str) -> int:
    """How many bundled questions (rag, multires) or prompts (heads) ``--items`` can take."""
    from ..data import heads_qa, multihop_qa

    return len(heads_qa() if name == "heads" else multihop_qa())


def run(
    name: str,
    quick: bool = True,
    *,
    json: str | Path | None = None,
    png: str | Path | None = None,
    cache: str | Path | None = None,
    **options: Any,
) -> ExperimentResult:
    """Run experiment ``name`` (``quick``: the < 5 minute configuration); write JSON / PNG on request.

    ``cache``: an SQLite file keeping every model answer as it returns, so a rerun after a crash asks the
    model only for what is missing (the results are recomputed from the stored answers).
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    from .common import answer_cache

    module = importlib.import_module(f"{__name__}.{EXPERIMENTS[name][0]}")
    with answer_cache(cache):
        result = module.run(quick, **options)
    if json is not None:
        result.write_json(json)
    if png is not None:
        from .plots import save_png

        save_png(result, png)
    return result


__all__ = ["EXPERIMENTS", "SIZE_MINIMUM", "SIZE_OPTIONS", "ExperimentResult", "run", "size_options"]
