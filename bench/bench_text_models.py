"""Real offline text models: query-engine throughput, R² versus budget, and top-k removal curves.

Two workloads, both on models that ship inside PyPI packages (see ``src/interspect/frontends/offline.py``):

- **SmolLM2-135M-Instruct QA**, sentence units: value = log p(greedy answer | masked context + question);
- **MiniLM + logistic-regression sentiment**, word units on a review with negations: value = log-odds of
  the predicted class.

Each workload has few enough units that the model is evaluated **once on all 2^n masks** through the
query engine (this is also the engine-throughput measurement). Every method then runs through
``isp.explain`` on a lookup table of those values, so its R² is *exact* (over all 2^n masks), repeated over
seeds at no model cost, and its query count is what it would have cost on the model. Top-k removal
curves measure the real model's drop when the features chosen by each surrogate are removed, against
the best possible drop (brute force over the table).

Usage::

    OMP_WAIT_POLICY=PASSIVE python bench/bench_text_models.py            # full run (~15-20 min on 2 busy cores)
    OMP_WAIT_POLICY=PASSIVE python bench/bench_text_models.py --quick    # smaller texts, fewer seeds
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import interspect as isp  # noqa: E402
from interspect.evaluation.faithfulness import r2_dense  # noqa: E402
from interspect.evaluation.removal import removal_curve  # noqa: E402
from interspect.frontends import build_text_value_function, split_units  # noqa: E402
from interspect.query.engine import QueryEngine  # noqa: E402
from interspect.transforms.exact import all_masks, dense_to_sparse, fourier_dense  # noqa: E402

QA_CONTEXT = (
    "Marie Curie was born in Warsaw in 1867. She moved to Paris to study physics. In Paris she met Pierre Curie. "
    "They married in 1895. Together they discovered polonium and radium. "
    "Marie won the Nobel Prize in Physics in 1903. She won a second Nobel Prize, in Chemistry, in 1911. "
    "Marie later led the Radium Institute in Paris."
)
QA_QUESTION = "In which city was Marie Curie born?"
REVIEW = "The plot drags, but the cast never fails to impress and it is not bad."
METHODS = ("proxyspex", "spex", "lasso", "faith_banzhaf", "kernelshap")
MAX_ORDER = 4
# faith_banzhaf fits every term up to its order by least squares: order 4 on 15 features is 1,941 terms,
# beyond these budgets, so it runs at order 2 (the usual Faith-Banzhaf interaction order).
METHOD_ORDER = {"faith_banzhaf": 2}


class Table:
    """A value function read from a table of all 2^n values (bitmask order): free, exact queries."""

    def __init__(self, values: np.ndarray, n: int) -> None:
        self.values, self.n_features = values, n
        self.weights = 1 << np.arange(n, dtype=np.int64)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        return self.values[np.asarray(masks, dtype=np.int64) @ self.weights]


def measure_throughput(vf, masks: np.ndarray, repeats: int) -> dict[str, float]:
    """Masks per second through the query engine versus the model's own batched forward passes.

    Model: the distinct rendered texts tokenised beforehand, only the forward passes timed, batched as the
    scorer batches them (for the LLM: shared-prefix cache + sorted, left-padded batches; the plain padded
    forward without prefix sharing is reported too). Engine: a fresh ``QueryEngine`` from masks to values,
    everything included (rendering, tokenising, de-duplication, validation). Interleaved, best of
    ``repeats``. Both wall-clock and process CPU time are recorded: on a machine shared with other jobs the
    CPU-time ratio is the steadier measure of the engine's overhead.
    """
    texts = sorted(set(vf.render(masks)))
    scorer = vf.scorer
    timings: dict[str, list[float]] = {"model": [], "plain": [], "engine": []}
    cpu: dict[str, list[float]] = {"model": [], "plain": [], "engine": []}
    if hasattr(scorer, "score_ids"):  # causal LM
        prompts = scorer.encode(texts)

        def model() -> None:
            scorer.score_ids(prompts)

        def plain() -> None:
            scorer.share_prefix = False
            try:
                scorer.score_ids(prompts)
            finally:
                scorer.share_prefix = True

    else:  # classifier: the encoder forward on pre-tokenised, length-sorted batches
        import torch

        encoder = scorer.predict.__self__.encoder
        order = np.argsort([len(t) for t in texts], kind="stable")
        batches = [
            encoder.tokenizer(
                [texts[r] for r in order[s : s + encoder.batch_size]],
                padding=True,
                truncation=True,
                max_length=encoder.max_length,
                return_tensors="pt",
            )
            for s in range(0, len(texts), encoder.batch_size)
        ]

        def model() -> None:
            with torch.inference_mode():
                for batch in batches:
                    encoder.model(**batch)

        plain = None
    vf(masks[:8])  # warm-up (first-call allocations), not timed
    for _ in range(repeats):
        for name, run in (("model", model), ("plain", plain)):
            if run is not None:
                start, start_cpu = time.perf_counter(), time.process_time()
                run()
                timings[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
        engine = QueryEngine(vf, vf.n_features, batch_size=256, progress=False)
        start, start_cpu = time.perf_counter(), time.process_time()
        engine(masks)
        timings["engine"].append(time.perf_counter() - start)
        cpu["engine"].append(time.process_time() - start_cpu)
    rate = {k: len(masks) / min(v) for k, v in timings.items() if v}
    cpu_rate = {k: len(masks) / min(v) for k, v in cpu.items() if v}
    return {
        "masks": len(masks),
        "texts": len(texts),
        "model_per_s": rate["model"],
        "plain_per_s": rate.get("plain"),
        "engine_per_s": rate["engine"],
        "ratio": rate["engine"] / rate["model"],
        "cpu_ratio": cpu_rate["engine"] / cpu_rate["model"],
        "plain_cpu_ratio": cpu_rate["plain"] / cpu_rate["model"] if "plain" in cpu_rate else None,
    }


def truncation_r2(values: np.ndarray, n: int, order: int) -> float:
    """R² of the best degree-<=order approximation (the exact transform truncated): how much is interaction."""
    fourier = dense_to_sparse(fourier_dense(values), n)
    return r2_dense(values, fourier.prune(max_degree=order))


def oracle_drops(values: np.ndarray, n: int, ks: list[int]) -> list[float]:
    """The largest real drop f(1) - f(1 - 1_R) over all |R| = k (brute force on the table)."""
    full = values[(1 << n) - 1]
    out = []
    for k in ks:
        best = max(full - values[(1 << n) - 1 - sum(1 << i for i in r)] for r in combinations(range(n), k))
        out.append(float(best))
    return out


def run_methods(table: Table, values: np.ndarray, budgets: list[int], seeds: int) -> tuple[list[dict], dict]:
    rows, surrogates = [], {}
    for method in METHODS:
        for budget in budgets:
            r2s, queries, algo = [], [], []
            for seed in range(seeds):
                try:
                    expl = isp.explain(
                        table,
                        n_features=table.n_features,
                        method=method,
                        budget=budget,
                        max_order=METHOD_ORDER.get(method, MAX_ORDER),
                        random_state=seed,
                        progress=False,
                    )
                except Exception as exc:  # a method may refuse a budget too small for it: report, continue
                    print(f"  {method} budget={budget}: {type(exc).__name__}: {exc}", file=sys.stderr)
                    break
                r2s.append(r2_dense(values, expl.fourier))
                queries.append(expl.n_queries)
                algo.append(expl.timing["algorithm_s"])
                if seed == 0:
                    surrogates[(method, budget)] = expl
            if r2s:
                rows.append(
                    {
                        "method": method,
                        "budget": budget,
                        "r2_mean": float(np.mean(r2s)),
                        "r2_min": float(np.min(r2s)),
                        "queries": float(np.mean(queries)),
                        "algorithm_s": float(np.mean(algo)),
                        "terms": len(surrogates[(method, budget)].fourier) if (method, budget) in surrogates else 0,
                    }
                )
                print(
                    f"  {method:14s} budget={budget:5d} R²={rows[-1]['r2_mean']:.3f} (min {rows[-1]['r2_min']:.3f}) "
                    f"queries={rows[-1]['queries']:.0f} algo={rows[-1]['algorithm_s']:.2f}s",
                    file=sys.stderr,
                )
    return rows, surrogates


def removal_rows(table: Table, values: np.ndarray, surrogates: dict, budget: int, ks: list[int]) -> list[dict]:
    n = table.n_features
    rows = [{"selection": "oracle (best subset)", "drops": oracle_drops(values, n, ks)}]
    exact = isp.explain(table, n_features=n, method="exact", max_order=n, progress=False)
    rows.append(
        {
            "selection": "exact Shapley ranking",
            "drops": removal_curve(table, np.argsort(-exact.shapley_values()), ks).tolist(),
        }
    )
    for method in METHODS:
        expl = surrogates.get((method, budget))
        if expl is None:
            continue
        if expl.fourier.max_degree <= 1 or method == "kernelshap":
            ranking = np.argsort(-expl.shapley_values())
            rows.append({"selection": f"{method} Shapley ranking", "drops": removal_curve(table, ranking, ks).tolist()})
        else:
            rows.append(
                {
                    "selection": f"{method} surrogate top-k",
                    "drops": removal_curve(table, expl.fourier, ks, direction="decrease").tolist(),
                }
            )
            rows.append(
                {
                    "selection": f"{method} Shapley ranking",
                    "drops": removal_curve(table, np.argsort(-expl.shapley_values()), ks).tolist(),
                }
            )
    return rows


def workload(name: str, vf, budgets: list[int], seeds: int, removal_budget: int, ks: list[int], n_throughput: int):
    n = vf.n_features
    print(f"[{name}] n={n} units, target={vf.target!r}", file=sys.stderr)
    rng = np.random.default_rng(0)  # distinct masks, so neither path can skip repeats
    tmasks = all_masks(n)[rng.choice(1 << n, size=min(n_throughput, 1 << n), replace=False)]
    throughput = measure_throughput(vf, tmasks, repeats=2)
    print(f"  throughput {throughput}", file=sys.stderr)
    # the table of all 2^n values is cached on disk (keyed by the value function's fingerprint): reruns are free
    cache = Path(os.environ.get("INTERSPECT_CACHE", Path.home() / ".cache" / "interspect")) / "bench_text_models.sqlite"
    engine = QueryEngine(vf, n, batch_size=256, progress=sys.stderr.isatty(), cache=cache)
    start = time.perf_counter()
    values = engine(all_masks(n))
    table_s = time.perf_counter() - start
    from_disk = (1 << n) - engine.n_evaluated  # answered by the on-disk cache of an earlier run
    print(f"  all {1 << n} masks in {table_s:.1f}s ({from_disk} from the disk cache)", file=sys.stderr)
    table = Table(values, n)
    reference = {order: truncation_r2(values, n, order) for order in (1, 2, 3, 4)}
    rows, surrogates = run_methods(table, values, budgets, seeds)
    removal = removal_rows(table, values, surrogates, removal_budget, ks)
    return {
        "name": name,
        "vf": vf,
        "throughput": throughput,
        "table_s": table_s,
        "from_disk": from_disk,
        "values": values,
        "reference": reference,
        "rows": rows,
        "removal": removal,
        "ks": ks,
        "removal_budget": removal_budget,
    }


def markdown(results: list[dict], command: str, seeds: int) -> str:
    out = [
        "# Real text models (offline): throughput, R² versus budget, top-k removal",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: 2 shared cores (other jobs running), torch {__import__('torch').__version__}, CPU. "
        f"R² is exact (over all 2^n masks); methods run through `isp.explain` on a table of the model's values "
        f"on every mask, averaged over {seeds} seeds (min in brackets). max_order={MAX_ORDER} "
        f"(faith_banzhaf: {METHOD_ORDER['faith_banzhaf']}).",
        "",
    ]
    for res in results:
        vf, t = res["vf"], res["throughput"]
        out += [
            f"## {res['name']}",
            "",
            f"- model `{vf.model}`, unit `{vf.text_units.unit}`, masking `{vf.masking}`, n = {vf.n_features}, "
            f"target: {vf.target!r}",
            f"- text: {vf.text!r}" + (f"; question: {vf.question!r}" if vf.question else ""),
            f"- all {1 << vf.n_features} masks evaluated in {res['table_s']:.1f} s through the query engine"
            + (
                f" ({res['from_disk']} answered from the engine's disk cache of an earlier run of this script; "
                "the first run's time is in the text below)"
                if res["from_disk"]
                else ""
            ),
            "",
            "### Query-engine throughput",
            "",
            "| masks (distinct texts) | model forward passes (masks/s) | plain padded forward, no prefix sharing "
            "(masks/s) | query engine (masks/s) | engine / model (wall) | engine / model (CPU time) |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {t['masks']} ({t['texts']}) | {t['model_per_s']:.2f} | "
            + (f"{t['plain_per_s']:.2f}" if t["plain_per_s"] else "—")
            + f" | {t['engine_per_s']:.2f} | {t['ratio']:.1%} | {t['cpu_ratio']:.1%} |",
            "",
            "### Best possible R² of a degree-≤d surrogate (exact transform truncated)",
            "",
            "| d=1 (additive) | d=2 | d=3 | d=4 |",
            "|---:|---:|---:|---:|",
            "| " + " | ".join(f"{res['reference'][d]:.3f}" for d in (1, 2, 3, 4)) + " |",
            "",
            "### R² versus budget (exact R²; mean over seeds, min in brackets)",
            "",
        ]
        budgets = sorted({r["budget"] for r in res["rows"]})
        out += [
            "| method | " + " | ".join(f"B={b}" for b in budgets) + " | algorithm s (largest B) |",
            "|---|" + "---:|" * (len(budgets) + 1),
        ]
        for method in METHODS:
            cells, algo = [], ""
            for b in budgets:
                row = next((r for r in res["rows"] if r["method"] == method and r["budget"] == b), None)
                cells.append(f"{row['r2_mean']:.3f} ({row['r2_min']:.3f})" if row else "—")
                algo = f"{row['algorithm_s']:.2f}" if row else algo
            out.append(f"| {method} | " + " | ".join(cells) + f" | {algo} |")
        out += [
            "",
            f"### Top-k removal (budget {res['removal_budget']}): real drop f(all) − f(all − R_k)",
            "",
            "| selection | " + " | ".join(f"k={k}" for k in res["ks"]) + " |",
            "|---|" + "---:|" * len(res["ks"]),
        ]
        for row in res["removal"]:
            out.append(f"| {row['selection']} | " + " | ".join(f"{d:.3f}" for d in row["drops"]) + " |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sentences/words and seeds")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "text_models.md"))
    parser.add_argument("--skip-llm", action="store_true")
    parser.add_argument("--skip-sentiment", action="store_true")
    args = parser.parse_args()
    seeds = args.seeds or (2 if args.quick else 3)
    ks = [1, 2, 3, 4, 5]
    results = []

    if not args.skip_sentiment:
        review = REVIEW if not args.quick else "The plot is thin, but the cast never fails to impress."
        vf = build_text_value_function("sentiment", review, unit="word", batch_size=64)
        budgets = [64, 128, 256, 512, 1024, 2048] if not args.quick else [64, 128, 256]
        results.append(workload("Sentiment classifier, word units", vf, budgets, seeds, budgets[-2], ks, 1024))

    if not args.skip_llm:
        context = QA_CONTEXT if not args.quick else " ".join(split_units(QA_CONTEXT, "sentence").units[:6])
        vf = build_text_value_function("smollm2", context, question=QA_QUESTION, unit="sentence", batch_size=16)
        budgets = [16, 32, 64, 128] if not args.quick else [16, 32]
        results.append(workload("SmolLM2-135M-Instruct QA, sentence units", vf, budgets, seeds, budgets[-1], ks, 48))

    command = "OMP_WAIT_POLICY=PASSIVE python bench/bench_text_models.py" + (" --quick" if args.quick else "")
    text = markdown(results, command, seeds)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
