"""The OpenAI-compatible API scorer against a tiny fake completions server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

pytest.importorskip("openai")

from interspect.frontends import build_text_value_function  # noqa: E402
from interspect.frontends.llm import PromptTemplate  # noqa: E402
from interspect.frontends.openai_api import OpenAICompletionScorer  # noqa: E402

KEY = "sk-fake-test-key-123"  # a dummy value for the fake server, not a secret
TOKEN = re.compile(r"\s*\S+|\s+$")


def fake_logprob(index: int, token: str) -> float:
    """The fake model: token ``index`` of the whole text gets log-prob -(len(token.strip()) + index) / 10."""
    return -(len(token.strip()) + index) / 10.0


class FakeCompletions(BaseHTTPRequestHandler):
    reject_zero = False
    requests: list[dict] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._reply(401, {"error": {"message": "bad key"}})
        type(self).requests.append(body)
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        if body.get("echo") and body.get("max_tokens") == 0 and type(self).reject_zero:
            return self._reply(400, {"error": {"message": "max_tokens must be at least 1", "type": "invalid"}})
        choices = []
        for i, prompt in enumerate(prompts):
            if body.get("echo"):
                tokens = [m.group() for m in TOKEN.finditer(prompt)]
                offsets = [m.start() for m in TOKEN.finditer(prompt)]
                logprobs = [None] + [fake_logprob(k, t) for k, t in enumerate(tokens)][1:]
                if body.get("max_tokens", 0) > 0:  # one generated token after the echo
                    tokens, offsets, logprobs = tokens + [" zzz"], offsets + [len(prompt)], logprobs + [-0.5]
                lp = {"tokens": tokens, "text_offset": offsets, "token_logprobs": logprobs, "top_logprobs": None}
                text = prompt + (" zzz" if body.get("max_tokens", 0) > 0 else "")
            else:
                lp, text = None, " Paris is nice."
            choices.append({"index": i, "text": text, "logprobs": lp, "finish_reason": "length"})
        choices.reverse()  # the scorer must order choices by index, not by position
        return self._reply(
            200,
            {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": body["model"], "choices": choices},
        )


@pytest.fixture()
def server(monkeypatch):
    FakeCompletions.requests = []
    FakeCompletions.reject_zero = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeCompletions)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{httpd.server_port}/v1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    yield FakeCompletions
    httpd.shutdown()
    httpd.server_close()


def expected_logprob(prompt: str, target: str) -> float:
    """Independent computation: the target's words come after the prompt's whitespace-separated tokens."""
    n_prompt = len(prompt.split())
    return sum(fake_logprob(n_prompt + k, w) for k, w in enumerate(target.split()))


@pytest.mark.parametrize("reject_zero", [False, True])
def test_scores_target_logprobs_through_echo(server, reject_zero):
    server.reject_zero = reject_zero
    template = PromptTemplate("Context: {context}\nQ: {question}\nA:", question="Where?", chat=False)
    scorer = OpenAICompletionScorer("fake-model", template=template, batch_size=2)
    scorer.set_target(" in Paris")
    contexts = ["one two three", "one", "", "a b c d e f"]
    values = scorer(contexts)
    expected = [expected_logprob(template.fill(c), " in Paris") for c in contexts]
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-12)
    batches = [r for r in server.requests if r.get("echo")]
    assert all(len(r["prompt"]) <= 2 for r in batches) and batches[-1]["max_tokens"] == (1 if reject_zero else 0)


def test_builder_uses_greedy_answer_and_never_exposes_the_key(server):
    vf = build_text_value_function(
        "openai:fake-model", "Paris is big. Rome is old. Oslo is cold.", question="Which city?", unit="sentence"
    )
    assert vf.target == " Paris is nice."
    assert vf.n_features == 3
    masks = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 0]], dtype=bool)
    values = vf(masks)
    expected = [expected_logprob(vf.scorer.prompt(t), vf.target) for t in vf.render(masks)]
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-12)
    assert values[0] < values[1] < values[2]  # fewer context words -> earlier target tokens -> higher log-prob
    dumped = json.dumps(vf.describe()) + vf.fingerprint + repr(vf)
    assert KEY not in dumped
    assert vf.describe()["model"].startswith("openai:fake-model@http://127.0.0.1:")


def test_missing_logprobs_is_a_clear_error():
    class Choice:
        index, text, logprobs = 0, "x", None

    class Client:
        class completions:  # noqa: N801
            @staticmethod
            def create(**kwargs):
                return type("R", (), {"choices": [Choice()]})()

    scorer = OpenAICompletionScorer("m", client=Client())
    scorer.set_target(" x")
    with pytest.raises(ValueError, match="echoed logprobs"):
        scorer(["ctx"])
