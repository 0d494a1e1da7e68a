"""End to end through the real HTTP test server: SmolLM2 served over both endpoints gives the local scorer's
values; injected faults leave the explanation unchanged; the key and URL credentials are written nowhere."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openai")
pytest.importorskip("fastapi")
sys.path.insert(0, str(Path(__file__).parent))

from openai_server import KEY, DeterministicBackend, Faults, OpenAIServer, SmolLM2Backend  # noqa: E402

import interspect  # noqa: E402
from interspect.cli import main  # noqa: E402
from interspect.frontends import build_text_value_function  # noqa: E402
from interspect.frontends.llm import CausalLMScorer, PromptTemplate  # noqa: E402
from interspect.frontends.openai_api import OpenAIChatScorer, OpenAICompletionScorer  # noqa: E402
from interspect.query.engine import QueryError  # noqa: E402

TEXT = "Paris is the capital of France. Rome is old. Oslo is cold. Bern is calm. Lima is far."
CONTEXTS = ["Paris is the capital of France.", "Rome is old. Oslo is cold.", "Paris is big. Lima is far.", ""]


@pytest.fixture()
def env(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_served_smollm2_equals_the_local_scorer(env, smollm2):
    pytest.importorskip("torch")
    model, tokenizer = smollm2
    with OpenAIServer(SmolLM2Backend(model, tokenizer)) as server:
        template = PromptTemplate("Context: {context}\nQuestion: What is the capital of France?\nAnswer:", chat=False)
        remote = OpenAICompletionScorer("smollm2", template=template, base_url=server.url, concurrency=2)
        local = CausalLMScorer(model, tokenizer, template=template)
        remote.set_target("Paris")
        local.set_target("Paris")
        np.testing.assert_allclose(remote(CONTEXTS), local(CONTEXTS), rtol=0, atol=2e-3)

        chat = PromptTemplate("Context: {context}\nWhich city is the capital of France?", chat=True)
        remote_chat = OpenAIChatScorer("smollm2", template=chat, base_url=server.url, top_logprobs=5)
        local_chat = CausalLMScorer(model, tokenizer, template=chat)
        for context in CONTEXTS[:2]:
            candidates = remote_chat._send_all([context])[0]
            for token, logprob in candidates.items():
                local_chat.target_ids = tokenizer(token, add_special_tokens=False)["input_ids"][:1]
                if tokenizer.decode(local_chat.target_ids) == token:
                    assert logprob == pytest.approx(float(local_chat([context])[0]), abs=2e-3)


def _explain(url: str, **options) -> interspect.Explanation:
    vf = build_text_value_function("openai-chat:fake", TEXT, question="Which city?", options=options)
    return interspect.explain(vf, method="exact", random_state=0)


def test_faults_leave_the_explanation_unchanged(env):
    with OpenAIServer(DeterministicBackend()) as clean:
        env.setenv("OPENAI_BASE_URL", clean.url)
        reference = _explain(clean.url, labels=["Paris", "Rome"])
    faults = Faults(rate=0.2, retry_after=0.1, stall=2.0, seed=3)
    with OpenAIServer(DeterministicBackend(), faults=faults) as faulty:
        env.setenv("OPENAI_BASE_URL", faulty.url)
        noisy = _explain(faulty.url, labels=["Paris", "Rome"], timeout=0.5, max_retries=30)
    assert set(faults.injected) == {"429", "500", "stall", "malformed"}
    np.testing.assert_array_equal(noisy.fourier.coefs, reference.fourier.coefs)
    np.testing.assert_array_equal(noisy.fourier.idx, reference.fourier.idx)
    np.testing.assert_array_equal(noisy.shapley_values(), reference.shapley_values())
    api = noisy.metadata["api"]
    assert api["retries_http_429"] + api["retries_http_500"] + api["retries_malformed"] + api["retries_timeout"] > 0


def test_the_key_and_url_credentials_are_written_nowhere(env, tmp_path, caplog, capsys):
    password, query_key = "pw-9d8e7f", "qk-1a2b3c"
    with OpenAIServer(DeterministicBackend()) as server:
        host = server.url.removeprefix("http://")
        env.setenv("OPENAI_BASE_URL", f"http://user:{password}@{host}?api-key={query_key}")
        out = {name: tmp_path / f"out.{name}" for name in ("json", "html", "sqlite")}
        caplog.set_level(logging.DEBUG)
        argv = ["explain", "--model", "openai:fake", "--text", TEXT, "--question", "Which city?", "--method", "exact",
                "--json", str(out["json"]), "--html", str(out["html"]), "--cache", str(out["sqlite"])]  # fmt: skip
        assert main(argv) == 0
        assert any(query_key in url for url in server.app.state.urls)  # the query credential did reach the server
    written = [p.read_bytes().decode("latin-1") for p in out.values()]
    shown = capsys.readouterr()
    logs = "\n".join(r.getMessage() for r in caplog.records)
    metadata = json.loads(written[0])["metadata"]
    assert "127.0.0.1" in metadata["model"] and metadata["api"]["requests"] >= 32  # usage after the run: 2^5 masks
    for secret in (KEY, password, query_key):
        for text in [*written, shown.out, shown.err, logs]:
            assert secret not in text


def _settled_request_count(server: OpenAIServer, quiet: float = 0.3, timeout: float = 10.0) -> int:
    """Requests the server has seen once none has arrived for ``quiet`` seconds: requests of an aborted batch
    that were already on the wire when the client cancelled them still land after the client raised."""
    count, deadline = len(server.app.state.requests), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(quiet)
        if len(server.app.state.requests) == count:
            return count
        count = len(server.app.state.requests)
    raise AssertionError(f"the server kept receiving requests for {timeout} s")


def test_answers_reach_the_cache_batch_by_batch_and_a_rerun_resumes(env, tmp_path):
    cache = tmp_path / "api.sqlite"
    faults = Faults(fail_after=20)  # the server dies after 20 requests: in the third batch of 8
    with OpenAIServer(DeterministicBackend(), faults=faults) as server:
        env.setenv("OPENAI_BASE_URL", server.url)
        options = {"labels": ["Paris", "Rome"], "max_retries": 0, "concurrency": 8}
        vf = build_text_value_function("openai-chat:fake", TEXT, question="Which?", target="Paris", options=options)
        with pytest.raises(QueryError, match="failed 1 times"):
            interspect.explain(vf, method="exact", random_state=0, batch_size=8, cache=cache)
        served = _settled_request_count(server)
        faults.fail_after = None  # the server is back
        resumed = interspect.explain(vf, method="exact", random_state=0, batch_size=8, cache=cache)
        repeated = len(server.app.state.requests) - served
        reference = interspect.explain(vf, method="exact", random_state=0, batch_size=8)
    assert resumed.info["n_evaluated"] == repeated == 32 - 2 * 8  # the two batches answered before the failure
    np.testing.assert_array_equal(resumed.shapley_values(), reference.shapley_values())
