"""Vision-language: which image regions make a model answer "a cat next to a coffee cup", and which act together.

The bundled scene is scikit-image's cat (``chelsea``) beside its cup of coffee (``coffee``), 224 x 448 pixels,
cut into a ``rows x cols`` grid; removed regions show the image blurred. Question: "What is in the picture?",
options "a cat", "a coffee cup", "a cat next to a coffee cup", "an empty scene"; the value is the log-odds of
the joint answer against the others, from the offline zero-shot caption scorer
(:class:`~interspect.frontends.zero_shot_vlm.ZeroShotCaptionScorer`). The same value function runs on any
OpenAI-compatible vision endpoint with :class:`~interspect.frontends.vlm.ChatVLM` (the tests send it through a
real HTTP server as image content parts).

The compositional check: the answer needs both objects, so the model's joint effect of the two halves,
``v(both) - v(cat side) - v(coffee side) + v(neither)`` with whole halves removed, is large, and a faithful
surrogate must carry it in pair terms joining a cat region with a coffee region; an additive one predicts 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .common import ExperimentResult, SharedAnswers, Timer, experiment_config, r2_on, run_methods, test_masks

QUESTION = "What is in the picture?"
OPTIONS = ("a cat", "a coffee cup", "a cat next to a coffee cup", "an empty scene")
TARGET = "a cat next to a coffee cup"
SIDE = 224  # pixels: each photo is resized to SIDE x SIDE, the scene is SIDE x 2 SIDE
QUICK = {"grid": (3, 6), "budget": 256, "methods": ("auto", "lasso", "kernelshap"), "n_test": 100}
FULL = {"grid": (4, 8), "budget": 480, "methods": ("auto", "proxyspex", "lasso", "kernelshap"), "n_test": 300}


def cat_and_coffee() -> np.ndarray:
    """The ``(SIDE, 2 SIDE, 3)`` float scene: scikit-image's cat on the left, its cup of coffee on the right."""
    try:
        from PIL import Image
        from skimage import data
    except ImportError as exc:
        raise ImportError("the vlm experiment needs its images and Pillow: pip install 'interspect[vision]'") from exc
    halves = [np.asarray(Image.fromarray(photo).resize((SIDE, SIDE), Image.Resampling.LANCZOS)) for photo in
              (data.chelsea(), data.coffee())]  # fmt: skip
    return np.concatenate(halves, axis=1).astype(np.float32) / np.float32(255.0)


def value_function(grid: tuple[int, int], vlm: Any = None) -> Any:
    """The scene's regions -> log-odds of :data:`TARGET` under ``vlm`` (default the offline zero-shot scorer)."""
    from ..frontends.vision import ImageValueFunction
    from ..frontends.vlm import VisualQuestion

    if vlm is None:
        from ..frontends.zero_shot_vlm import ZeroShotCaptionScorer

        vlm = ZeroShotCaptionScorer()
    model = VisualQuestion(vlm, QUESTION, OPTIONS)
    return ImageValueFunction(model, cat_and_coffee(), regions=grid, target=TARGET, output="log_odds")


def half_masks(grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(masks, cat_side)``: the four masks (both halves, cat side only, coffee side only, neither) and which
    regions lie on the cat's side (the left half of the columns)."""
    rows, cols = grid
    cat_side = np.tile(np.arange(cols) < cols / 2, rows)
    masks = np.array([np.ones_like(cat_side), cat_side, ~cat_side, np.zeros_like(cat_side)])
    return masks, cat_side


def joint_effect(values: np.ndarray) -> float:
    """``v(both) - v(cat) - v(coffee) + v(neither)`` for the values of :func:`half_masks`' four masks."""
    both, cat, coffee, neither = np.asarray(values, dtype=np.float64)
    return float(both - cat - coffee + neither)


def run(
    quick: bool = True,
    *,
    grid: tuple[int, int] | None = None,
    budget: int | None = None,
    methods: tuple[str, ...] | None = None,
    n_test: int | None = None,
    vlm: Any = None,
    random_state: int = 0,
) -> ExperimentResult:
    config = experiment_config(quick, QUICK, FULL, grid=grid, budget=budget, methods=methods, n_test=n_test)
    rows = []
    with Timer() as timer:
        vf = value_function(tuple(config["grid"]), vlm)
        shared = SharedAnswers(vf, vf.n_features)
        halves, cat_side = half_masks(tuple(config["grid"]))
        half_values = shared(halves)
        model_joint = joint_effect(half_values)
        masks = test_masks(vf.n_features, config["n_test"], random_state)
        values = shared(masks)
        for method, expl in run_methods(shared, config["methods"], config["budget"], random_state=random_state).items():
            pairs = expl.top(10**6, index="mobius", order=2, min_order=2)
            crossing = [t for t in pairs if cat_side[list(t.features)].sum() == 1]
            mass = sum(abs(t.value) for t in pairs)
            strongest = max(pairs, key=lambda t: abs(t.value), default=None)
            rows.append({
                "method": method,
                "picked": expl.method,
                "queries": expl.n_queries,
                "r2": r2_on(expl, masks, values),
                "joint_model": model_joint,
                "joint_surrogate": joint_effect(expl.predict(halves)),
                "crossing_share": sum(abs(t.value) for t in crossing) / mass if mass else float("nan"),
                "strongest_pair": f"{' x '.join(strongest.names)} {strongest.value:+.2f}" if strongest else "none",
            })
    full, cat, coffee, neither = half_values
    notes = [
        f"scene: cat | coffee, {config['grid'][0]}x{config['grid'][1]} regions (columns < {config['grid'][1] / 2:g}: "
        f"the cat's side), blurred when removed; value: log-odds of {TARGET!r} among {list(OPTIONS)}",
        f"model: {vf.model_id}",
        f"whole halves: both {full:+.2f}, cat side only {cat:+.2f}, coffee side only {coffee:+.2f}, neither "
        f"{neither:+.2f} -> joint effect {model_joint:+.2f} (a synergy: the answer needs both objects)",
        "joint_surrogate: the same joint effect predicted by each surrogate (additive methods predict 0); "
        "crossing_share: share of the pair terms' absolute mass that joins a cat-side with a coffee-side region",
    ]
    columns = ["method", "picked", "queries", "r2", "joint_model", "joint_surrogate", "crossing_share",
               "strongest_pair"]  # fmt: skip
    plot = {"x": "method", "y": ["r2", "joint_surrogate"], "group": "method"}
    return ExperimentResult("vlm", config, rows, columns, notes, {"plot": plot}, timer.seconds)
