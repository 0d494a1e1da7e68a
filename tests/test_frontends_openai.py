"""The OpenAI-compatible scorers against the deterministic test server: values, chunking, concurrency, label
log-odds and floors, images, rate limits, secrets and clear errors."""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openai")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sys.path.insert(0, str(Path(__file__).parent))

from openai_server import KEY, DeterministicBackend, OpenAIServer  # noqa: E402

from interspect.cli import main  # noqa: E402
from interspect.frontends import build_text_value_function  # noqa: E402
from interspect.frontends.llm import PromptTemplate  # noqa: E402
from interspect.frontends.openai_api import OpenAIChatScorer, OpenAICompletionScorer  # noqa: E402
from interspect.frontends.openai_chat import check_labels, first_token_value, image_url  # noqa: E402
from interspect.frontends.openai_transport import (  # noqa: E402
    EndpointError,
    MinuteBudget,
    SecretFilter,
    redact_url,
    retry_after,
)

TEXT = "Paris is big. Rome is old. Oslo is cold. Bern is calm."


@pytest.fixture()
def server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with OpenAIServer(DeterministicBackend(), latency=0.02) as running:
        monkeypatch.setenv("OPENAI_BASE_URL", running.url)
        yield running


def expected_echo(text: str, target: str) -> float:
    """Independent computation of the deterministic model's target log-probability (its tokens are words)."""
    tokens, logprobs = DeterministicBackend().echo(text)
    n_target = len(target.split())
    return float(sum(logprobs[-n_target:]))


def test_completions_scores_the_target_and_spreads_prompts_over_concurrent_requests(server):
    template = PromptTemplate("Context: {context}\nQ: {question}\nA:", question="Where?", chat=False)
    scorer = OpenAICompletionScorer("fake", template=template, batch_size=16, concurrency=4)
    scorer.set_target("in Paris")  # a leading space is added after "A:"
    contexts = ["one two three", "one", "", "a b c d e f", "x y", "z", "p q r", "s", "t u", "v"]
    values = scorer(contexts)
    expected = [expected_echo(template.fill(c) + " in Paris", " in Paris") for c in contexts]
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-12)
    echo = [r for r in server.app.state.requests if r.get("echo")]
    assert sorted(len(r["prompt"]) for r in echo) == [1, 3, 3, 3]  # ceil(10 / 4) prompts per request, concurrently
    assert scorer.report()["prompt_tokens"] > 0 and scorer.report()["requests"] == 4


def test_concurrency_bounds_the_requests_in_flight(server):
    server.app.state.latency = 0.3  # long enough for every slot to fill even on a busy machine
    scorer = OpenAIChatScorer("fake", concurrency=3)
    scorer.set_target("Paris")
    scorer([f"word{i}" for i in range(12)])
    assert server.app.state.max_in_flight == 3


def test_chat_label_log_odds_match_the_server_distribution(server):
    scorer = OpenAIChatScorer("fake", labels=["True", "False"], top_logprobs=20)
    target = scorer.greedy_answer("Is it true?")
    assert target in ("True", "False")
    contexts = [f"w{i} Paris Rome" for i in range(12)]
    values = scorer(contexts)
    backend = DeterministicBackend()
    for context, value in zip(contexts, values, strict=True):
        top = dict(backend.next_token(scorer.messages(context), 20))
        floor = min(top.values())
        mass = {lab: sum(math.exp(v) for t, v in top.items() if t.strip() == lab) or math.exp(floor)
                for lab in ("True", "False")}  # fmt: skip
        other = "False" if target == "True" else "True"
        assert value == pytest.approx(math.log(mass[target]) - math.log(mass[other]), abs=1e-9)
    report = scorer.report()
    assert report["scored"] == 12 and 0 <= report["floored"] <= 12


def test_first_token_value_prefixes_labels_and_floor():
    candidates = {"True": math.log(0.5), " True": math.log(0.1), "Tr": math.log(0.05), "No": math.log(0.02)}
    value, floored = first_token_value(candidates, ["True"], 0)
    assert value == pytest.approx(math.log(0.65)) and not floored  # "Tr" begins "True" too
    value, floored = first_token_value(candidates, ["True", "False"], 0)
    assert floored and value == pytest.approx(math.log(0.65) - math.log(0.02))  # False absent: the floor
    value, floored = first_token_value(candidates, ["Yes", "No"], 1)
    assert floored and value == pytest.approx(math.log(0.02) - math.log(0.02))
    with pytest.raises(ValueError, match="begin another"):
        check_labels(["Yes", "Yesterday"])
    with pytest.raises(ValueError, match="at least two"):
        check_labels(["True"])


def test_images_are_sent_as_content_parts(server, tmp_path):
    png = tmp_path / "dot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    scorer = OpenAIChatScorer("fake", images=[str(png), "data:image/gif;base64,R0lG"])
    scorer.set_target("Paris")
    scorer(["what is shown?"])
    content = server.app.state.requests[-1]["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "what is shown?"}
    assert content[1]["image_url"]["url"] == image_url(png) and image_url(png).startswith("data:image/png;base64,")
    assert content[2]["image_url"]["url"] == "data:image/gif;base64,R0lG"
    with pytest.raises(ValueError, match="images"):
        image_url(tmp_path / "missing.png")


def test_builders_through_the_registry(server):
    vf = build_text_value_function("openai:fake", TEXT, question="Which city?", unit="sentence")
    assert vf.target == " Paris is nice." and vf.n_features == 4
    masks = np.array([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]], dtype=bool)
    expected = [expected_echo(vf.scorer.prompt(t) + vf.target, vf.target) for t in vf.render(masks)]
    np.testing.assert_allclose(vf(masks), expected, rtol=0, atol=1e-12)
    assert vf.describe()["model"] == f"openai:fake@{server.url}"
    chat = build_text_value_function(
        "openai-chat:fake", TEXT, question="Which city?", options={"labels": ["Paris", "Rome"], "concurrency": 2}
    )
    assert chat.target in ("Paris", "Rome") and chat.describe()["value"] == "label_log_odds"
    assert chat.describe()["api"]["requests"] >= 1
    with pytest.raises(ValueError, match="not used by the 'openai' model"):
        build_text_value_function("openai:fake", TEXT, options={"labels": ["a", "b"]})


def test_retry_after_is_honoured(server):
    server.app.state.faults.rate, server.app.state.faults.kinds = 0.5, ("429",)
    server.app.state.faults.retry_after = 0.3
    scorer = OpenAIChatScorer("fake", max_retries=20)
    scorer.set_target("Paris")
    scorer(["a b", "c d", "e f", "g h"])
    assert scorer.report()["retries_http_429"] == server.app.state.faults.injected["429"] > 0
    assert min(scorer.transport.waits) >= 0.3
    assert retry_after({"retry-after-ms": "1500"}) == 1.5 and retry_after({"retry-after": "soon"}) == 0.0


def test_minute_budget_waits_for_refill(monkeypatch):
    clock = [0.0]
    waits = []

    async def fake_sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    import interspect.frontends.openai_transport as transport

    monkeypatch.setattr(transport.time, "monotonic", lambda: clock[0])
    bucket = MinuteBudget(120)  # 2 a second
    monkeypatch.setattr(transport.asyncio, "sleep", fake_sleep)

    async def take_all():
        for _ in range(121):
            await bucket.take(1)

    asyncio.new_event_loop().run_until_complete(take_all())
    assert waits == [pytest.approx(0.5)]  # 120 at once, the 121st after half a second


def test_redact_url_and_log_filter():
    url = "https://alice:s3cr3t@example.com:8443/v1?api-key=K123&api-version=2024-01&sig=abc#frag"
    assert redact_url(url) == "https://example.com:8443/v1?api-key=***&api-version=2024-01&sig=***"
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert redact_url("http://[::1]:80/x") == "http://[::1]:80/x"
    record = logging.LogRecord("httpx2", logging.INFO, __file__, 1, "POST %s", (url,), None)
    SecretFilter(["s3cr3t", "K123", "abc"]).filter(record)
    assert "s3cr3t" not in record.getMessage() and "K123" not in record.getMessage()


def test_missing_wrong_key_and_refused_connection_are_clear_errors(server, monkeypatch, capsys):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(EndpointError, match="no API key: set OPENAI_API_KEY"):
        OpenAIChatScorer("fake")
    wrong = "sk-wrong-key-777"
    monkeypatch.setenv("OPENAI_API_KEY", wrong)
    scorer = OpenAIChatScorer("fake")
    scorer.set_target("Paris")
    with pytest.raises(EndpointError, match="refused the API key") as info:
        scorer(["x"])
    assert wrong not in str(info.value)
    argv = ["explain", "--model", "openai-chat:fake", "--text", TEXT, "--question", "Where?", "--target", "Paris"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "refused the API key" in err and wrong not in err and "Traceback" not in err
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # discard port: nothing listens
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "cannot connect to http://127.0.0.1:9/v1" in err and "Traceback" not in err
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(argv) == 1
    assert "set OPENAI_API_KEY" in capsys.readouterr().err


def test_a_pickled_scorer_works_in_a_fresh_process_state(server):
    import pickle

    scorer = OpenAIChatScorer("fake", requests_per_minute=6000)
    scorer.set_target("Paris")
    before = scorer(["a b", "c d"])
    copy = pickle.loads(pickle.dumps(scorer))  # as a Ray worker receives it: no loop, no client
    assert copy.transport._loop is None
    np.testing.assert_array_equal(copy(["a b", "c d"]), before)
