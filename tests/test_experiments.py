"""The experiments package: bundled data, shared answers, metrics, the Monte-Carlo reference, tiny real runs."""

import numpy as np
import pytest

from interspect.cli import build_parser
from interspect.data import context_of, heads_qa, multihop_qa, rag_demo
from interspect.experiments import EXPERIMENTS, run
from interspect.experiments.common import SharedAnswers, markdown_table, mean_rows, precision_at_k, rank_correlation
from interspect.experiments.reference import permutation_shapley
from interspect.transforms.exact import all_masks


def test_bundled_multihop_set_has_labelled_multi_document_questions():
    items = multihop_qa()
    assert len(items) >= 20 and len({item["id"] for item in items}) == len(items)
    for item in [*items, rag_demo()]:
        text, spans, support = context_of(item)
        assert len(item["documents"]) >= 3 and 8 <= len(spans) <= 32 and len(support) == 2
        sentences = [s for doc in item["documents"] for s in doc["sentences"]]
        assert [text[a:b] for a, b in spans] == sentences
        assert item["answer"] in " ".join(sentences[i] for i in support)  # the answer is in a supporting fact
    assert len(context_of(rag_demo())[1]) >= 30
    qa = heads_qa()
    assert len(qa) >= 30 and all(item["answer"] in item["prompt"] for item in qa)


def test_shared_answers_ask_the_model_once_per_distinct_mask():
    calls = []

    def f(masks):
        calls.append(len(masks))
        return masks.sum(1).astype(float)

    shared = SharedAnswers(f, 5)
    masks = np.array([[1, 0, 1, 0, 1], [1, 1, 1, 1, 1], [1, 0, 1, 0, 1]], dtype=bool)
    np.testing.assert_array_equal(shared(masks), [3, 5, 3])
    np.testing.assert_array_equal(shared(masks[::-1]), [3, 5, 3])
    assert calls == [2] and shared.n_model_calls == 2


def test_shared_answers_resume_from_the_answer_cache(tmp_path):
    from interspect.experiments.common import answer_cache

    calls = []

    def f(masks):
        calls.append(len(masks))
        return masks.sum(1).astype(float)

    f.fingerprint = "sum-of-5"  # type: ignore[attr-defined]
    masks = np.random.default_rng(0).random((40, 5)) < 0.5
    with answer_cache(tmp_path / "a.sqlite"):
        first = SharedAnswers(f, 5)
        first.chunk = 4
        np.testing.assert_array_equal(first(masks[:20]), masks[:20].sum(1))
        distinct = first.n_model_calls
        assert max(calls) <= 4  # each chunk is stored as it returns
        again = SharedAnswers(f, 5)  # a rerun after a crash: only the new masks reach the model
        assert again.n_from_disk == distinct
        np.testing.assert_array_equal(again(masks), masks.sum(1))
        assert again.n_model_calls == len(np.unique(masks, axis=0)) - distinct
    assert SharedAnswers(f, 5).n_from_disk == 0  # outside the block: memory only


def test_size_options_map_to_each_experiments_arguments():
    from interspect.experiments import size_options

    assert size_options("rag", items=8, seeds=None) == {"n_items": 8}
    assert size_options("heads", items=6, budget=200) == {"n_explain": 6, "budget": 200}
    assert size_options("recall", seeds=2, models="vader, sentiment") == {"seeds": (0, 1),
                                                                           "models": ("vader", "sentiment")}
    with pytest.raises(ValueError, match="--seeds does not apply"):
        size_options("rag", seeds=2)


def test_metrics():
    scores = np.array([0.1, 0.9, 0.5, 0.8])
    assert precision_at_k(scores, [1, 2], 2) == 0.5 and precision_at_k(scores, [1, 3], 2) == 1.0
    assert rank_correlation(scores, np.array([0, 1, 0, 1])) > 0.8
    assert rank_correlation(np.zeros(4), np.array([0, 1, 0, 1])) == 0.0
    rows = [{"m": "a", "p": 1.0}, {"m": "a", "p": float("nan")}, {"m": "b", "p": float("nan")}]
    merged = mean_rows(rows, ("m",), ("p",))
    assert merged[0]["p"] == 1.0 and np.isnan(merged[1]["p"])  # a metric that does not apply is left out
    assert "n/a" in markdown_table(merged, ["m", "p"])


def test_permutation_reference_matches_brute_force_shapley():
    from math import factorial

    n = 6
    weights = np.arange(1, n + 1, dtype=float)

    def f(masks):  # additive part + a pair and a triple interaction
        m = masks.astype(float)
        return m @ weights + 3 * m[:, 0] * m[:, 1] - 2 * m[:, 2] * m[:, 3] * m[:, 4]

    table = f(all_masks(n))
    exact = np.zeros(n)
    for s in range(1 << n):
        for i in range(n):
            if not s >> i & 1:
                size = bin(s).count("1")
                exact[i] += factorial(size) * factorial(n - size - 1) / factorial(n) * (table[s | 1 << i] - table[s])
    estimate, halves = permutation_shapley(f, n, 400, random_state=1)
    np.testing.assert_allclose(estimate, exact, atol=0.15)
    assert halves.shape == (2, n)


def test_experiment_command_line():
    args = build_parser().parse_args(["experiment", "rag", "--quick", "--json", "out.json"])
    assert args.name == "rag" and args.quick and str(args.json) == "out.json"
    args = build_parser().parse_args(["experiment", "rag", "--items", "8", "--cache", "a.sqlite"])
    assert args.items == 8 and str(args.cache) == "a.sqlite" and not args.quick
    with pytest.raises(SystemExit):
        build_parser().parse_args(["experiment", "nonsense"])
    with pytest.raises(ValueError, match="unknown experiment"):
        run("nonsense")
    assert {"rag", "multires", "vlm", "heads", "data", "recall", "removal"} <= set(EXPERIMENTS)


def test_recall_on_vader(tmp_path):
    from interspect.data import long_review

    text = " ".join(long_review().split()[:40])
    result = run("recall", True, permutations=60, alphas=(1.0,), json=tmp_path / "r.json", text=text)
    assert {row["method"] for row in result.rows} == {"auto", "proxyspex", "kernelshap", "lasso"}
    assert all(row["picked"] for row in result.rows)
    assert all(0.0 <= row["recall"] <= 1.0 for row in result.rows)
    best = max(row["recall"] for row in result.rows)
    assert best >= 0.5  # at n log2 n queries some method finds half of the reference's top 10
    assert (tmp_path / "r.json").read_text().count('"recall"') >= 4
    assert "| model |" in str(result)


def test_removal_curve_on_vader(tmp_path):
    from interspect.data import review_demo
    from interspect.frontends import build_text_value_function

    result = run("removal", True, budget=128, ks=(1, 3), text=review_demo(), png=tmp_path / "removal.png")
    assert len(result.rows) == 4 and (tmp_path / "removal.png").stat().st_size > 1000
    vf = build_text_value_function("vader", review_demo(), unit="word")
    full = vf(np.ones((1, vf.n_features), dtype=bool))[0]
    drops = {(row["method"], row["k"]): row["real_drop"] for row in result.rows}
    assert drops[("proxyspex", 3)] > 0 and drops[("proxyspex", 3)] <= full + 1.0  # compound lies in [-1, 1]


@pytest.mark.slow
def test_rag_on_smollm2_finds_the_answer_sentence():
    result = run("rag", True, n_items=1, budgets=(24,), n_test=8, methods=("auto", "lasso"))
    rows = {row["method"]: row for row in result.rows}
    assert set(rows) == {"auto", "lasso"}
    # the sentence that states the answer is among the two highest Shapley values
    assert rows["auto"]["precision_shapley"] >= 0.5 and rows["lasso"]["precision_shapley"] >= 0.5
    assert result.extra["per_item"][0]["n_units"] == len(context_of(multihop_qa()[0])[1])


def test_data_experiment_names_pairs_and_finds_copies_redundant():
    result = run("data", True, n_copies=2, budget=300, methods=("proxyspex", "lasso"), n_test_rows=6)
    rows = {row["method"]: row for row in result.rows}
    assert rows["lasso"]["pairs_found"] == 0 and rows["proxyspex"]["pairs_found"] > 0
    assert rows["proxyspex"]["copies_redundant"] >= 1  # a group and its exact copy stand in for each other
    pairs = result.extra["pairs"]
    assert pairs and all((p["value"] > 0) == (p["relation"] == "synergy") for p in pairs)
    assert all("training rows" in p["rows"] for p in pairs)


@pytest.mark.slow
def test_heads_pruning_curve_on_smollm2():
    result = run("heads", True, settings={"layer 4": (4,)}, pruned={"layer 4": (3,)}, n_explain=2, n_eval=4,
                 budget=40, methods=("auto", "lasso"))
    rows = [(row["method"], row["pruned"]) for row in result.rows]
    assert rows == [("auto", 0), ("auto", 3), ("lasso", 0), ("lasso", 3)]
    unpruned = [row["mean_logp"] for row in result.rows if row["pruned"] == 0]
    assert unpruned[0] == pytest.approx(unpruned[1])  # the same model, nothing pruned
    assert all(len(row["heads_pruned"].split()) == row["pruned"] for row in result.rows)
    assert all(0.0 <= row["accuracy"] <= 1.0 and row["mean_logp"] < 0 for row in result.rows)


@pytest.mark.slow
def test_multires_accounts_for_every_query():
    result = run("multires", True, level_budgets=(8, 8, 8), word_budgets=(1.0,))
    refined, words = result.rows
    levels = [int(part) for part in refined["levels"].split(" + ")]
    assert levels[0] == 8 and refined["queries"] == sum(levels) <= 24  # three documents: all 2^3 masks
    assert words["queries"] == refined["queries"] and words["levels"].endswith("words")
    text = context_of(multihop_qa()[0])[0]
    assert all(word in text for row in result.rows for word in row["top_words"].split(", "))
