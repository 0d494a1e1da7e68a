"""Small bundled inputs for demos and the CLI's default run (read with :mod:`importlib.resources`)."""

from __future__ import annotations

import json
from importlib.resources import files


def qa_demo() -> dict[str, str]:
    """A six-sentence ``context`` and a ``question`` whose answer needs two of its sentences together."""
    return json.loads(files(__package__).joinpath("qa_demo.json").read_text(encoding="utf-8"))


def review_demo() -> str:
    """A short movie review with negations ("not bad at all", "never fails to impress")."""
    return files(__package__).joinpath("review_demo.txt").read_text(encoding="utf-8").strip()


def _load(name: str) -> dict:
    return json.loads(files(__package__).joinpath(name).read_text(encoding="utf-8"))


def multihop_qa() -> list[dict]:
    """22 multi-hop questions over three short documents each (distractors included), with supporting facts."""
    return _load("multihop_qa.json")["items"]


def rag_demo() -> dict:
    """The CLI's default LLM demo: a 32-sentence, five-document question whose answer needs two sentences."""
    return _load("rag_demo.json")


def heads_qa() -> list[dict]:
    """32 fact + cloze prompts with one-word answers (``prompt``, ``answer``), for attention-head pruning."""
    return _load("heads_qa.json")["items"]


def context_of(item: dict) -> tuple[str, list[tuple[int, int]], list[int]]:
    """A multi-document item as one text (documents apart by a blank line), one span per sentence, and the
    sentence indices of its supporting facts."""
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    index: dict[tuple[int, int], int] = {}
    start = 0
    for d, document in enumerate(item["documents"]):
        for s, sentence in enumerate(document["sentences"]):
            gap = "" if not pieces else (" " if s else "\n\n")
            start += len(gap)
            pieces.append(gap + sentence)
            index[(d, s)] = len(spans)
            spans.append((start, start + len(sentence)))
            start += len(sentence)
    return "".join(pieces), spans, [index[(d, s)] for d, s in item["supporting_facts"]]


def long_review() -> str:
    """A 109-word movie review with negations and a turn ("not good", "Then something changes", "Not bad at all")."""
    return files(__package__).joinpath("long_review.txt").read_text(encoding="utf-8").strip()
