"""The front-end registry: model strings parse to registered kinds, a new kind is one function + one line,
the builder gets every setting in its ModelRequest, and the CLI takes its kinds and flags from the registry."""

from __future__ import annotations

import numpy as np
import pytest

from interspect.cli import build_parser, main
from interspect.frontends import build_text_value_function, registry
from interspect.frontends.base import TextValueFunction
from interspect.frontends.registry import MODEL_KINDS, ModelKind, ModelRequest, parse_model
from interspect.frontends.text import split_units

SEEN: list[tuple[str, ModelRequest]] = []


def count_words_build(name: str, request: ModelRequest) -> TextValueFunction:
    """A toy kind: the value is the number of words left, times the integer after 'words:'."""
    SEEN.append((name, request))
    factor = int(name)
    units = split_units(request.text, request.unit, request.spans)
    return TextValueFunction(units, lambda texts: [factor * len(t.split()) for t in texts], model=f"words:{name}")


@pytest.fixture
def words_kind(monkeypatch):
    """Registering a kind is one line in MODEL_KINDS."""
    SEEN.clear()
    kinds = {**MODEL_KINDS, "words": ModelKind(f"{__name__}:count_words_build", "toy word counter", False, True)}
    monkeypatch.setattr(registry, "MODEL_KINDS", kinds)
    return kinds


def test_parse_model_kinds_names_and_directories(tmp_path):
    assert parse_model("smollm2") == ("smollm2", "")
    assert parse_model("openai-chat:gpt-4o-mini") == ("openai-chat", "gpt-4o-mini")
    assert parse_model("openai:org/model:v2") == ("openai", "org/model:v2")  # only the first ':' separates
    assert parse_model(str(tmp_path)) == ("hf", str(tmp_path))  # a bare directory is the hf kind
    assert parse_model(f"hf:{tmp_path}") == ("hf", str(tmp_path))
    with pytest.raises(ValueError, match=r"unknown model 'gpt-5'.*\"smollm2\".*\"openai-chat:<name>\""):
        parse_model("gpt-5")
    with pytest.raises(ValueError, match="name the model as 'openai:<name>'"):
        parse_model("openai:")
    with pytest.raises(ValueError, match="takes no name"):
        parse_model("vader:large")
    with pytest.raises(ValueError, match="non-empty string"):
        parse_model("")


def test_registered_builders_follow_the_contract():
    assert MODEL_KINDS["openai"].builder == "interspect.frontends.openai_api:build_completions"
    assert MODEL_KINDS["openai-chat"].builder == "interspect.frontends.openai_api:build_chat"
    for name in MODEL_KINDS:
        assert callable(MODEL_KINDS[name].load()), name
    assert [k for k, kind in MODEL_KINDS.items() if not kind.generative] == ["sentiment", "vader"]


def test_a_new_kind_gets_the_whole_request(words_kind):
    vf = build_text_value_function(
        "words:3",
        "one two three four",
        unit="word",
        masking="filler",
        filler="_",
        batch_size=7,
        template="T {context}",
        reduction="mean",
        options={"device": "cpu", "labels": ["a", "b"]},
    )
    name, request = SEEN[-1]
    assert name == "3" and request.unit == "word" and request.batch_size == 7 and request.template == "T {context}"
    assert request.masking == "filler" and request.filler == "_" and request.reduction == "mean"
    assert dict(request.options) == {"device": "cpu", "labels": ["a", "b"]}
    masks = np.array([[1, 1, 1, 1], [1, 0, 0, 1]], dtype=bool)
    np.testing.assert_array_equal(vf(masks), [12, 6])


def test_bad_text_fails_before_any_builder_runs(words_kind):
    with pytest.raises(ValueError, match="text is empty"):
        build_text_value_function("words:1", "   ", unit="word")
    assert SEEN == []


def test_a_kind_refuses_options_it_does_not_use():
    pytest.importorskip("vaderSentiment")
    with pytest.raises(ValueError, match=r"options \['device'\] are not used by the 'vader' model"):
        build_text_value_function("vader", "good food", unit="word", options={"device": "cpu"})
    with pytest.raises(ValueError, match="question is only used by generative models"):
        build_text_value_function("vader", "good food", unit="word", question="why?")


def test_cli_takes_model_kinds_and_flags_from_the_registry(words_kind, capsys):
    parser = build_parser()
    args = parser.parse_args(
        "explain --model words:1 --labels yes,no --concurrency 4 --timeout 2.5 --device cpu".split()
    )
    assert args.labels == ["yes", "no"] and args.concurrency == 4 and args.timeout == 2.5 and args.device == "cpu"
    assert main(["explain", "--model", "no-such-kind", "--text", "a b"]) == 1
    assert "unknown model 'no-such-kind': use \"smollm2\"" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["explain", "--labels", "only-one"])
    assert "at least two comma-separated labels" in capsys.readouterr().err

    argv = "explain --model words:2 --method exact --no-progress --device cpu --timeout 3".split()
    code = main([*argv, "--text", "a b c"])
    assert code == 0
    name, request = SEEN[-1]
    # a non-generative kind defaults to word units; only the flags the user set reach the builder
    assert name == "2" and request.unit == "word" and dict(request.options) == {"device": "cpu", "timeout": 3.0}
    assert "words" in capsys.readouterr().out
