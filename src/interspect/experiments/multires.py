"""Multi-resolution: documents -> sentences -> words, refined only where the coarse level says it matters.

On a bundled multi-hop item: explain the documents (three units), then the sentences of the strongest
document (the rest of the text stays as fixed context), then the words of its strongest sentence. Every
level's queries are counted. The same item is also explained at the word level over the whole context (one
unit per word) with the same total number of queries and with more; the table shows the top words each path
finds, whether the answer word is among them, and what each spent.
"""

from __future__ import annotations

import numpy as np

from .common import ExperimentResult, SharedAnswers, Timer, experiment_config, run_methods
from .rag import TEMPLATE

QUICK = {"n_items": 1, "level_budgets": (8, 24, 48), "word_budgets": (1.0, 4.0), "method": "auto"}
FULL = {"n_items": 6, "level_budgets": (8, 48, 96), "word_budgets": (1.0, 4.0), "method": "auto"}
TOP_WORDS = 3


def _value_function(item: dict, text: str, spans: list[tuple[int, int]]):
    from ..frontends import build_text_value_function

    return build_text_value_function("smollm2", text, question=item["question"], target=item["answer"],
                                     spans=spans, template=TEMPLATE)


def _explain(item, text, spans, budget, method, random_state):
    vf = _value_function(item, text, spans)
    shared = SharedAnswers(vf, vf.n_features)
    return run_methods(shared, (method,), budget, random_state=random_state)[method]


def word_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    from ..frontends.text import split_units

    return [(start + a, start + b) for a, b in split_units(text[start:end], "word").spans]


def refine(item: dict, level_budgets: tuple[int, int, int], method: str, random_state: int = 0) -> dict:
    """Documents -> the strongest document's sentences -> the strongest sentence's words."""
    from ..data import context_of

    text, sentence_spans, _ = context_of(item)
    sizes = [len(doc["sentences"]) for doc in item["documents"]]
    bounds = np.cumsum([0, *sizes])
    doc_spans = [(sentence_spans[a][0], sentence_spans[b - 1][1]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    docs = _explain(item, text, doc_spans, level_budgets[0], method, random_state)
    best_doc = int(np.argmax(docs.shapley_values()))
    inner = sentence_spans[bounds[best_doc] : bounds[best_doc + 1]]
    sentences = _explain(item, text, inner, level_budgets[1], method, random_state)
    best_sentence = inner[int(np.argmax(sentences.shapley_values()))]
    spans = word_spans(text, *best_sentence)
    words = _explain(item, text, spans, level_budgets[2], method, random_state)
    order = np.argsort(-words.shapley_values())[:TOP_WORDS]
    return {
        "queries": docs.n_queries + sentences.n_queries + words.n_queries,
        "levels": f"{docs.n_queries} + {sentences.n_queries} + {words.n_queries}",
        "top_words": [text[spans[i][0] : spans[i][1]] for i in order],
        "path": f"document {best_doc} -> sentence '{text[best_sentence[0]:best_sentence[1]]}'",
    }


def whole_context_words(item: dict, budget: int, method: str, random_state: int = 0) -> dict:
    from ..data import context_of

    text = context_of(item)[0]
    spans = word_spans(text, 0, len(text))
    expl = _explain(item, text, spans, budget, method, random_state)
    order = np.argsort(-expl.shapley_values())[:TOP_WORDS]
    return {"queries": expl.n_queries, "levels": f"{len(spans)} words",
            "top_words": [text[spans[i][0] : spans[i][1]] for i in order], "path": "whole context, word units"}


def run(
    quick: bool = True,
    *,
    n_items: int | None = None,
    level_budgets: tuple[int, int, int] | None = None,
    word_budgets: tuple[float, ...] | None = None,
    method: str | None = None,
    random_state: int = 0,
) -> ExperimentResult:
    from ..data import multihop_qa

    config = experiment_config(
        quick, QUICK, FULL,
        n_items=n_items, level_budgets=level_budgets, word_budgets=word_budgets, method=method
    )
    rows = []
    with Timer() as timer:
        for item in multihop_qa()[: config["n_items"]]:
            coarse = refine(item, config["level_budgets"], config["method"], random_state)
            found = [{"approach": "documents -> sentences -> words", **coarse}]
            for factor in config["word_budgets"]:
                budget = int(round(factor * coarse["queries"]))
                found.append({"approach": f"words only ({factor:g}x the queries)",
                              **whole_context_words(item, budget, config["method"], random_state)})
            for row in found:
                rows.append({"id": item["id"], "answer": item["answer"], **row,
                             "answer_in_top": item["answer"] in row["top_words"],
                             "top_words": ", ".join(row["top_words"])})
    columns = ["id", "answer", "approach", "queries", "levels", "top_words", "answer_in_top"]
    notes = [f"method {config['method']}; top {TOP_WORDS} words by Shapley value; refinement levels' budgets "
             f"{config['level_budgets']}"]
    plot = {"x": "approach", "y": ["queries"], "group": "id"}
    return ExperimentResult("multires", config, rows, columns, notes, {"plot": plot}, timer.seconds)
