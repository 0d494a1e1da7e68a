"""Faithfulness on the real-model front-ends: tabular, data attribution, image regions, attention heads.

Six workloads, each with n <= 13 features so that the model is evaluated **once on all 2^n masks** through
the query engine (the model time reported below):

- **Tabular, wine** (``TabularValueFunction``): a ``HistGradientBoostingClassifier`` on ``load_wine``,
  13 features, one held-out row, 50 background rows;
- **Tabular, breast cancer, grouped** (``TabularValueFunction`` with groups): a
  ``GradientBoostingClassifier`` on ``load_breast_cancer``, 10 groups (mean / standard error / worst of
  each measurement), one held-out row, 50 background rows;
- **Data attribution** (``DataAttributionValueFunction``): ``StandardScaler`` + ``LogisticRegression`` on
  ``load_breast_cancer``, 12 class-balanced chunks of the training set, one held-out test point;
- **Image** x 2 (``ImageValueFunction``): EfficientNet-Lite0 on ``skimage.data.chelsea()`` and ``coffee()``,
  3 x 4 grid, blur baseline, logit of the predicted class;
- **Attention heads** (``AttentionHeadValueFunction``): SmolLM2-135M-Instruct, 12 heads (heads 0-5 of
  layers 10 and 11; the other heads always kept), zero ablation, ``log p(" Paris" | prompt)``.

The exact Fourier transform then gives the exact Shapley values and how much of the variance is
additive. Every method runs through ``isp.explain`` on a lookup table of the 2^n values, so its R² is
*exact* (over all masks), its query count is what it would cost on the model, and its time is the
algorithm's alone. Top-5 Shapley recall compares each surrogate's Shapley values with the exact ones.

Usage::

    OMP_WAIT_POLICY=PASSIVE python bench/bench_frontends.py            # full run (~9 min on 2 cores)
    OMP_WAIT_POLICY=PASSIVE python bench/bench_frontends.py --cases wine cancer --seeds 1
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench_text_models import Table  # noqa: E402  (same folder: the exact lookup-table value function)

import interspect as isp  # noqa: E402
from interspect.evaluation.faithfulness import r2_dense  # noqa: E402
from interspect.evaluation.recall import shapley_recall_at_k  # noqa: E402
from interspect.indices import shapley_values  # noqa: E402
from interspect.query.engine import QueryEngine  # noqa: E402
from interspect.transforms.exact import all_masks, dense_to_sparse, fourier_dense  # noqa: E402

METHODS = ("proxyspex", "spex", "auto", "lasso", "kernelshap")
BUDGETS = (64, 128, 256, 512)
MAX_ORDER = 4
TOP_K = 5
N_BACKGROUND = 50
IMAGES = {
    "chelsea": "a cat; ImageNet 281 is tabby cat, 285 Egyptian cat",
    "coffee": "a cup of coffee; ImageNet 967 is espresso",
}
HEADS_PROMPT = "The Eiffel Tower is located in the city of"
HEADS_TARGET = " Paris"
HEADS_LAYERS = (10, 11)
HEADS_PER_LAYER = 6  # heads 0..5 of each layer are the features; the other 3 per layer stay on


class HeadSubset:
    """Explain a subset ``heads`` of an ``AttentionHeadValueFunction``'s heads; the other heads stay on."""

    def __init__(self, vf: Any, heads: list[int]) -> None:
        self.vf, self.heads = vf, np.asarray(heads)
        self.feature_names = [vf.feature_names[h] for h in heads]
        self.n_features = len(heads)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        full = np.ones((len(masks), self.vf.n_features), dtype=bool)
        full[:, self.heads] = masks
        return self.vf(full)


@dataclass
class Case:
    """One workload: its value function, a description for the report, and everything measured on it."""

    title: str
    vf: Any
    lines: list[str]
    build_s: float
    table_s: float = 0.0
    model_s: float = 0.0
    values: np.ndarray | None = None
    degree_energy: np.ndarray | None = None
    shapley: np.ndarray | None = None
    rows: list[dict] = field(default_factory=list)


def _split(data: Any, seed: int = 0) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    return train_test_split(data.data, data.target, test_size=0.25, random_state=seed, stratify=data.target)


def _fit_tabular(data: Any, model: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``model`` on the 75 % split; returns it, the held-out rows and labels, and the background rows."""
    x_tr, x_te, y_tr, y_te = _split(data)
    model = model.fit(x_tr, y_tr)
    background = x_tr[np.random.default_rng(0).choice(len(x_tr), N_BACKGROUND, replace=False)]
    return model, x_te, y_te, background


def build_wine() -> tuple[Any, list[str]]:
    """HistGradientBoosting on wine (13 features), first held-out row, 50 training rows as background."""
    from sklearn.datasets import load_wine
    from sklearn.ensemble import HistGradientBoostingClassifier

    from interspect.frontends import TabularValueFunction

    data = load_wine()
    model, x_te, y_te, background = _fit_tabular(data, HistGradientBoostingClassifier(random_state=0))
    vf = TabularValueFunction(model, x_te[0], background, feature_names=list(data.feature_names), model="hgb-wine")
    p = model.predict_proba(x_te[:1])[0, vf.output]
    return vf, [
        f"model: `HistGradientBoostingClassifier(random_state=0)` on `load_wine` (75/25 stratified split, seed 0; "
        f"test accuracy {model.score(x_te, y_te):.3f})",
        f"input: the first held-out row (true class {y_te[0]}); value = predicted probability of class "
        f"{vf.target} (p = {p:.3f} on the full row)",
        f"n = {vf.n_features} features; removed features take the values of {N_BACKGROUND} random training rows "
        "(interventional expectation)",
    ]


def build_cancer_groups() -> tuple[Any, list[str]]:
    """GradientBoosting on breast cancer, 10 groups of 3 columns (mean / error / worst of one measurement)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier

    from interspect.frontends import TabularValueFunction

    data = load_breast_cancer()
    model, x_te, y_te, background = _fit_tabular(data, GradientBoostingClassifier(random_state=0))
    names = [str(c).removeprefix("mean ") for c in data.feature_names[:10]]
    groups = {name: [j, j + 10, j + 20] for j, name in enumerate(names)}
    vf = TabularValueFunction(model, x_te[0], background, groups=groups, model="gb-breast-cancer")
    p = model.predict_proba(x_te[:1])[0, vf.output]
    return vf, [
        f"model: `GradientBoostingClassifier(random_state=0)` on `load_breast_cancer` (75/25 stratified split, "
        f"seed 0; test accuracy {model.score(x_te, y_te):.3f})",
        f"input: the first held-out row (true class {data.target_names[y_te[0]]}); value = predicted probability "
        f"of class {data.target_names[int(vf.target)]} (p = {p:.3f} on the full row)",
        f"n = {vf.n_features} feature groups (each measurement's mean, standard error and worst value removed "
        f"together); removed groups take the values of {N_BACKGROUND} random training rows",
    ]


def build_data_attribution() -> tuple[Any, list[str]]:
    """Scaled logistic regression on breast cancer; 12 class-balanced training chunks; a borderline test point."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from interspect.frontends import DataAttributionValueFunction

    data = load_breast_cancer()
    x_tr, x_te, y_tr, y_te = _split(data)
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    full = estimator.fit(x_tr, y_tr)
    p_true = full.predict_proba(x_te)[np.arange(len(y_te)), y_te]
    test = int(np.argmin(np.abs(p_true - 0.5)))  # the most uncertain held-out point
    n_groups = 12
    rng = np.random.default_rng(0)
    chunk = np.empty(len(y_tr), dtype=np.intp)  # each class dealt round-robin over the chunks, in random order
    for label in np.unique(y_tr):
        rows = rng.permutation(np.flatnonzero(y_tr == label))
        chunk[rows] = np.arange(len(rows)) % n_groups
    vf = DataAttributionValueFunction(
        estimator,
        x_tr,
        y_tr,
        x_te[test : test + 1],
        y_te[test : test + 1],
        groups=[np.flatnonzero(chunk == g).tolist() for g in range(n_groups)],
        feature_names=[f"chunk{g}" for g in range(n_groups)],
        model="scaler+logreg-breast-cancer",
    )
    sizes = np.bincount(chunk)
    return vf, [
        "model: `StandardScaler` + `LogisticRegression(max_iter=1000)` retrained from scratch on each training "
        f"subset; `load_breast_cancer`, {len(y_tr)} training rows (75/25 stratified split, seed 0)",
        f"input: the held-out point whose true-label probability under the full-data model is closest to 0.5 "
        f"(p = {p_true[test]:.3f}, true class {data.target_names[y_te[test]]}); value = log-probability of its "
        "true label",
        f"n = {n_groups} class-balanced random chunks of {sizes.min()}-{sizes.max()} training rows; the empty "
        "subset scores the uniform prediction log(1/2)",
    ]


def build_image(name: str, threads: int) -> tuple[Any, list[str]]:
    """EfficientNet-Lite0 on one of skimage's photos, 3 x 4 grid, blur baseline, logit of the top class."""
    import skimage.data

    from interspect.frontends import ImageValueFunction, load_efficientnet_lite0

    image = getattr(skimage.data, name)()
    vf = ImageValueFunction(load_efficientnet_lite0(threads=threads), image, regions=(3, 4))
    return vf, [
        f"model: {vf.model_id} (torch, {threads} thread(s))",
        f"input: `skimage.data.{name}()` ({vf.image.shape[0]} x {vf.image.shape[1]} photo of {IMAGES[name]}); "
        f"value = logit of the predicted ImageNet {vf.target}, {vf.full_value:.2f} on the full image",
        f"n = {vf.n_features} regions (3 x 4 grid); removed regions show the image under a Gaussian blur "
        f"(sigma = {vf.blur_sigma:.0f} px)",
    ]


def build_heads(threads: int) -> tuple[Any, list[str]]:
    """SmolLM2-135M-Instruct, heads 0-5 of layers 10 and 11 (12 features), zero ablation, log p(target)."""
    from interspect.frontends import AttentionHeadValueFunction
    from interspect.frontends.offline import configure_torch, load_smollm2

    configure_torch(threads)
    model, tokenizer = load_smollm2()
    base = AttentionHeadValueFunction(
        model, tokenizer, HEADS_PROMPT, HEADS_TARGET, layers=HEADS_LAYERS, chat_template=False, batch_size=64
    )
    heads = [j * base.n_heads + h for j in range(len(HEADS_LAYERS)) for h in range(HEADS_PER_LAYER)]
    vf = HeadSubset(base, heads)
    return vf, [
        f"model: SmolLM2-135M-Instruct (30 layers x {base.n_heads} heads, offline GGUF weights; torch, "
        f"{threads} thread(s))",
        f"input: prompt {HEADS_PROMPT!r} without chat template, target {base.target!r}; value = "
        "teacher-forced log p(target | prompt)",
        f"n = {vf.n_features} heads: {', '.join(vf.feature_names)} (the other "
        f"{base.n_features - vf.n_features} heads of those layers always on; all other layers untouched); "
        "a removed head's output is zeroed",
    ]


def degree_energy(values: np.ndarray, n: int) -> tuple[np.ndarray, Any]:
    """Fourier energy per degree ``(n + 1,)`` (degree 0 set to 0) and the exact sparse transform."""
    coefs = fourier_dense(values)
    degrees = np.bitwise_count(np.arange(1 << n, dtype=np.uint64)).astype(np.intp)
    energy = np.bincount(degrees, weights=coefs**2, minlength=n + 1)
    energy[0] = 0.0
    return energy, dense_to_sparse(coefs, n)


def run_methods(case: Case, seeds: int) -> None:
    """Every method x budget x seed on the lookup table: exact R², top-k recall, queries, algorithm time."""
    n = case.vf.n_features
    table = Table(case.values, n)
    for method in METHODS:
        for budget in [b for b in BUDGETS if b < 1 << n]:
            r2s, recalls, queries, algo, choices = [], [], [], [], []
            for seed in range(seeds):
                try:
                    expl = isp.explain(
                        table, n_features=n, method=method, budget=budget, max_order=MAX_ORDER, random_state=seed
                    )
                except Exception as exc:  # a method may refuse a budget too small for it: report, continue
                    print(f"  {method} budget={budget}: {type(exc).__name__}: {exc}", file=sys.stderr)
                    break
                r2s.append(r2_dense(case.values, expl.fourier))
                recalls.append(shapley_recall_at_k(expl.shapley_values(), case.shapley, TOP_K))
                queries.append(expl.n_queries)
                algo.append(expl.timing["algorithm_s"])
                choices.append(expl.info.get("auto", {}).get("choice", method))
            if not r2s:
                continue
            row = {
                "method": method,
                "budget": budget,
                "r2_mean": float(np.mean(r2s)),
                "r2_min": float(np.min(r2s)),
                "recall": float(np.mean(recalls)),
                "queries": float(np.mean(queries)),
                "algorithm_s": float(np.mean(algo)),
                "choices": sorted(set(choices)),
            }
            case.rows.append(row)
            print(
                f"  {method:10s} B={budget:4d} R²={row['r2_mean']:.3f} (min {row['r2_min']:.3f}) "
                f"recall@{TOP_K}={row['recall']:.2f} queries={row['queries']:.0f} algo={row['algorithm_s']:.2f}s "
                f"{'/'.join(row['choices'])}",
                file=sys.stderr,
            )


def run_case(title: str, build: Callable[[], tuple[Any, list[str]]], seeds: int) -> Case:
    """Build the value function, evaluate all 2^n masks through the engine, then fit every method."""
    print(f"[{title}] building", file=sys.stderr)
    start = time.perf_counter()
    vf, lines = build()
    case = Case(title, vf, lines, time.perf_counter() - start)
    n = vf.n_features
    engine = QueryEngine(vf, n, batch_size=256, progress=False)
    start = time.perf_counter()
    case.values = engine(all_masks(n))
    case.table_s, case.model_s = time.perf_counter() - start, engine.model_time
    print(f"  n={n}: all {1 << n} masks in {case.table_s:.1f}s (model {case.model_s:.1f}s)", file=sys.stderr)
    case.degree_energy, exact = degree_energy(case.values, n)
    case.shapley = shapley_values(exact)
    run_methods(case, seeds)
    return case


def additive_r2(case: Case) -> float:
    """Best R² of any additive surrogate: degree-1 share of the non-constant Fourier energy."""
    return float(case.degree_energy[1] / case.degree_energy.sum())


def _row(case: Case, method: str, budget: int) -> dict | None:
    return next((r for r in case.rows if r["method"] == method and r["budget"] == budget), None)


def summary_lines(cases: list[Case]) -> list[str]:
    """Facts computed from the tables: interaction share and where ProxySPEX beats the additive methods."""
    out = []
    for case in cases:
        budgets = sorted({r["budget"] for r in case.rows})
        ceiling = additive_r2(case)
        diffs = []
        for b in budgets:
            proxy = _row(case, "proxyspex", b)
            best_add = max(
                (r["r2_mean"] for m in ("lasso", "kernelshap") if (r := _row(case, m, b)) is not None),
                default=None,
            )
            if proxy is not None and best_add is not None:
                diffs.append(f"{proxy['r2_mean'] - best_add:+.3f} at B={b}")
        best = max(case.rows, key=lambda r: r["r2_mean"])
        out.append(
            f"- **{case.title}**: {1 - ceiling:.1%} of the variance is interaction (best additive R² "
            f"{ceiling:.3f}). ProxySPEX minus the better additive method (lasso / KernelSHAP): "
            f"{', '.join(diffs) or 'n/a'}. Best R² overall: {best['method']} at B={best['budget']} "
            f"({best['r2_mean']:.3f})."
        )
    cells = [
        (case, r, max(a["r2_mean"] for m in ("lasso", "kernelshap") if (a := _row(case, m, r["budget"]))))
        for case in cases
        for r in case.rows
        if r["method"] == "proxyspex"
    ]
    losses = [f"{c.title} B={r['budget']} ({r['r2_mean']:.3f} vs {a:.3f})" for c, r, a in cells if r["r2_mean"] < a]
    above = [(c, r) for c, r, _ in cells if r["r2_mean"] > additive_r2(c)]
    out.append(
        f"- ProxySPEX beats the better additive method in {len(cells) - len(losses)} of {len(cells)} "
        f"(case, budget) cells; it loses in: {'; '.join(losses) or 'none'}. It exceeds the best *possible* "
        f"additive R² in {len(above)} of {len(cells)} cells."
    )
    kernel = [
        f"{c.title} {r['r2_mean']:.3f} vs ceiling {additive_r2(c):.3f}"
        for c in cases
        if (r := _row(c, "kernelshap", max(x["budget"] for x in c.rows)))
    ]
    out.append(
        "- KernelSHAP's additive surrogate satisfies efficiency (it is anchored at f(none) and f(all)), so its R² "
        "under uniform masks falls short of the additive ceiling when the uniform-mask mean is far from "
        f"(f(none) + f(all)) / 2 (largest budget: {'; '.join(kernel)}), even where its Shapley recall is high."
    )
    return out


def markdown(cases: list[Case], command: str, seeds: int, wall_s: float, threads: int) -> str:
    import sklearn
    import torch

    out = [
        "# Real-model front-ends: exact faithfulness (R² over all 2^n masks) and Shapley recall",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: 2 shared cores (other jobs running), CPU, torch {torch.__version__} ({threads} thread(s)), "
        f"scikit-learn {sklearn.__version__}. Whole run: {wall_s / 60:.1f} min wall time.",
        "",
        "Method: each value function is evaluated once on all 2^n masks through `QueryEngine` (model time "
        "below). Its exact Fourier transform gives the exact Shapley values and the energy per degree. Every "
        "method then runs through `isp.explain` on a lookup table of those values, so **R² is exact** (over "
        f"all 2^n masks), query counts are what the method would spend on the model, and the algorithm time "
        f"excludes the model. Means over random_state = 0..{seeds - 1} (min R² in brackets); "
        f"max_order = {MAX_ORDER}; budgets below 2^n only. Recall@{TOP_K}: fraction of the {TOP_K} features with "
        f"the largest exact |Shapley value| that the method's Shapley values also rank in their top {TOP_K}. "
        "`lasso` (first-order LIME-like) and `kernelshap` are additive surrogates, so their R² cannot exceed "
        "the 'best additive R²' column.",
        "",
        "## Cases",
        "",
    ]
    for case in cases:
        out += [f"### {case.title}", ""] + [f"- {line}" for line in case.lines] + [""]
    out += [
        "## How much of each function is interaction",
        "",
        "Shares of the non-constant Fourier energy (= variance over uniform masks) by degree; "
        "'best additive R²' = degree-1 share = the R² of the best possible additive surrogate.",
        "",
        "| case | n | all 2^n masks: model s (wall s) | f(none) | f(all) | mean f | Var f | best additive R² "
        "| degree 2 | degree 3 | degree ≥ 4 | interaction share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        e, v = case.degree_energy / case.degree_energy.sum(), case.values
        out.append(
            f"| {case.title} | {case.vf.n_features} | {case.model_s:.1f} ({case.table_s:.1f}) | {v[0]:.4g} | "
            f"{v[-1]:.4g} | {v.mean():.4g} | {v.var():.4g} | {e[1]:.3f} | {e[2]:.3f} | {e[3]:.3f} | "
            f"{e[4:].sum():.3f} | {1 - e[1]:.3f} |"
        )
    common = sorted(set.intersection(*[{r["budget"] for r in c.rows} for c in cases])) if cases else []
    if common:
        b = common[-1]
        out += [
            "",
            f"## Overview at B = {b} (exact R², mean over seeds)",
            "",
            "| case | best additive R² | " + " | ".join(METHODS) + " |",
            "|---|---:|" + "---:|" * len(METHODS),
        ]
        for case in cases:
            cells = [f"{r['r2_mean']:.3f}" if (r := _row(case, m, b)) else "—" for m in METHODS]
            out.append(f"| {case.title} | {additive_r2(case):.3f} | " + " | ".join(cells) + " |")
        out += [
            "",
            f"## Means over the {len(cases)} cases: exact R² / recall@{TOP_K}",
            "",
            "| method | " + " | ".join(f"B={b}" for b in common) + " |",
            "|---|" + "---:|" * len(common),
        ]
        for method in METHODS:
            cells = []
            for b in common:
                rows = [r for case in cases if (r := _row(case, method, b))]
                ok = len(rows) == len(cases)
                r2 = np.mean([r["r2_mean"] for r in rows]) if ok else None
                cells.append(f"{r2:.3f} / {np.mean([r['recall'] for r in rows]):.2f}" if ok else "—")
            out.append(f"| {method} | " + " | ".join(cells) + " |")
        ceiling = np.mean([additive_r2(case) for case in cases])
        out.append("| best possible additive R² | " + " | ".join(f"{ceiling:.3f}" for _ in common) + " |")
    out += ["", "## Per case: R², recall, queries, algorithm time", ""]
    for case in cases:
        budgets = sorted({r["budget"] for r in case.rows})
        out += [
            f"### {case.title} (best additive R² {additive_r2(case):.3f})",
            "",
            "| method | "
            + " | ".join(f"R² B={b}" for b in budgets)
            + f" | recall@{TOP_K} (B="
            + " / ".join(str(b) for b in budgets)
            + f") | queries at B={budgets[-1]} | algorithm s per fit "
            f"(B={budgets[-1]}) |",
            "|---|" + "---:|" * (len(budgets) + 3),
        ]
        for method in METHODS:
            rows = [_row(case, method, b) for b in budgets]
            if not any(rows):
                out.append(f"| {method} | " + " | ".join("—" for _ in budgets) + " | — | — | — |")
                continue
            r2 = " | ".join(f"{r['r2_mean']:.3f} ({r['r2_min']:.3f})" if r else "—" for r in rows)
            rec = " / ".join(f"{r['recall']:.2f}" if r else "—" for r in rows)
            last = rows[-1]
            out.append(
                f"| {method} | {r2} | {rec} | {last['queries']:.0f} | {last['algorithm_s']:.2f} |"
                if last
                else f"| {method} | {r2} | {rec} | — | — |"
            )
        picks = sorted({c for r in case.rows if r["method"] == "auto" for c in r["choices"]})
        out += ["", f"`auto` chose: {', '.join(picks) or '—'}.", ""]
    out += ["## Summary (computed from the tables)", ""] + summary_lines(cases) + [""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the image and LLM models")
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["wine", "cancer", "data", "chelsea", "coffee", "heads"],
        help="subset of the cases",
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "frontends.md"))
    args = parser.parse_args()
    builders: dict[str, tuple[str, Callable[[], tuple[Any, list[str]]]]] = {
        "wine": ("Tabular: wine, gradient boosting", build_wine),
        "cancer": ("Tabular: breast cancer, grouped", build_cancer_groups),
        "data": ("Data attribution: logistic regression", build_data_attribution),
        "chelsea": ("Image: EfficientNet-Lite0, chelsea", lambda: build_image("chelsea", args.threads)),
        "coffee": ("Image: EfficientNet-Lite0, coffee", lambda: build_image("coffee", args.threads)),
        "heads": ("Attention heads: SmolLM2-135M", lambda: build_heads(args.threads)),
    }
    unknown = sorted(set(args.cases) - set(builders))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {sorted(builders)}")
    start = time.perf_counter()
    cases = [run_case(*builders[key], seeds=args.seeds) for key in args.cases]
    wall = time.perf_counter() - start
    command = shlex.join(["OMP_WAIT_POLICY=PASSIVE", "python", "bench/bench_frontends.py", *sys.argv[1:]])
    text = markdown(cases, command, args.seeds, wall, args.threads)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    print(text)
    print(f"total wall time {wall:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
