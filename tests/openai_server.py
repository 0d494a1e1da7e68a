"""An OpenAI-compatible HTTP server on 127.0.0.1 for the tests and benchmarks (FastAPI + uvicorn in a thread).

It serves ``/v1/completions`` (with ``echo`` + ``logprobs``: teacher forcing) and ``/v1/chat/completions`` (with
``logprobs`` / ``top_logprobs``) from one of three backends:

- :class:`SmolLM2Backend`: the offline SmolLM2-135M-Instruct, for real (the same model the local scorer runs);
- :class:`DeterministicBackend`: a tiny hash-defined "model", instant, for throughput and fault tests;
- :class:`CaptionVLMBackend`: a vision chat model (image content parts) built on the offline zero-shot caption scorer.

Each request can wait ``latency`` seconds and, with probability ``faults.rate``, fail in one of four ways: HTTP
429 with ``Retry-After``, HTTP 500, a stall longer than the client's timeout, or a truncated JSON body. Faults
are transient (drawn per attempt), so a client that retries gets the fault-free answers. Requests need
``Authorization: Bearer <key>`` (or any Basic auth, which httpx sends for ``user:password@`` in the URL); a
wrong key gets a 401 whose message repeats it, as OpenAI's does.
Run ``python tests/openai_server.py --port 8000 [--smollm2]`` to use it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import random
import re
import socket
import string
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

KEY = "sk-test-fake-4f1c9e"  # a dummy value for the test server, not a secret
FAULTS = ("429", "500", "stall", "malformed")
TOKEN = re.compile(r"\s*\S+|\s+$")
CHAT_VOCABULARY = ("True", " True", "False", " False", "Paris", " Paris", "Rome", "Yes", "No", "The", "It", "A",
                   "Maybe", "Oslo", "Berlin", "London", "Madrid", "Lisbon", "Vienna", "Prague", "I", "We", "This",
                   "None")  # fmt: skip
LIFETIME = 900.0  # seconds: a server a test forgot to stop ends itself


@dataclass
class Faults:
    """Fault injection: each attempt fails with probability ``rate``, the kind drawn uniformly from ``kinds``."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULTS
    retry_after: float = 1.0  # seconds sent in Retry-After with a 429
    stall: float = 3.0  # seconds a stalled request sleeps before answering (set it above the client's timeout)
    seed: int = 0
    fail_after: int | None = None  # from this many requests on, every request gets HTTP 500 (a server that died)
    injected: dict[str, int] = field(default_factory=dict)


def _unit(*parts: object) -> float:
    """A deterministic number in [-1, 1] from ``parts``."""
    return zlib.crc32("|".join(map(str, parts)).encode()) % 20001 / 10000 - 1


def _user_text(messages: list[dict[str, Any]]) -> str:
    """The text of every message (text parts of multi-part contents included), joined."""
    texts = []
    for message in messages:
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        texts += [p.get("text", "") for p in parts if p.get("type") == "text"]
    return "\n".join(texts)


class DeterministicBackend:
    """A hash-defined model: echoed token ``k`` has log-prob ``-(len(token) + k) / 10 - 0.05 * (crc of the previous
    token mod 5)``; the chat model's next-token logits are sums over the distinct words of the messages."""

    def echo(self, text: str) -> tuple[list[str], list[float | None]]:
        tokens = [m.group() for m in TOKEN.finditer(text)]
        logprobs: list[float | None] = [None]
        for k in range(1, len(tokens)):
            logprobs.append(-(len(tokens[k].strip()) + k) / 10 - 0.05 * (zlib.crc32(tokens[k - 1].encode()) % 5))
        return tokens, logprobs

    def complete(self, text: str, max_tokens: int) -> str:
        return " Paris is nice."[: 1 + 4 * max_tokens]

    def next_token(self, messages: list[dict[str, Any]], k: int) -> list[tuple[str, float]]:
        words = sorted(set(_user_text(messages).split()))
        logits = [sum(_unit(w, j) for w in words) for j in range(len(CHAT_VOCABULARY))]
        top = max(logits)
        norm = top + math.log(sum(math.exp(v - top) for v in logits))
        ranked = sorted(zip(CHAT_VOCABULARY, logits, strict=True), key=lambda t: -t[1])[:k]
        return [(token, logit - norm) for token, logit in ranked]

    def chat(self, messages: list[dict[str, Any]], max_tokens: int) -> str:
        return self.next_token(messages, 1)[0][0] + " is the answer."


class SmolLM2Backend:
    """The offline SmolLM2, scored as the local ``CausalLMScorer`` does (tokenizer defaults, fp32, CPU)."""

    def __init__(self, model: Any = None, tokenizer: Any = None) -> None:
        if model is None:
            from interspect.frontends.offline import load_smollm2

            model, tokenizer = load_smollm2(device="cpu")
        self.model, self.tokenizer = model, tokenizer
        self.lock = threading.Lock()  # one forward pass at a time

    def _logprobs(self, ids: list[int]) -> Any:
        import torch

        with self.lock, torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0].float()
        return torch.log_softmax(logits, dim=-1)

    def echo(self, text: str) -> tuple[list[str], list[float | None]]:
        ids = self.tokenizer(text)["input_ids"]
        logp = self._logprobs(ids)
        tokens = [self.tokenizer.decode([i]) for i in ids]
        return tokens, [None] + [float(logp[t - 1, ids[t]]) for t in range(1, len(ids))]

    def _generate(self, ids: list[int], max_tokens: int) -> str:
        import torch

        with self.lock, torch.inference_mode():
            out = self.model.generate(torch.tensor([ids]), max_new_tokens=max_tokens, do_sample=False)
        return self.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)

    def complete(self, text: str, max_tokens: int) -> str:
        return self._generate(self.tokenizer(text)["input_ids"], max_tokens)

    def _chat_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        plain = [{"role": m["role"], "content": _user_text([m])} for m in messages]
        text = self.tokenizer.apply_chat_template(plain, add_generation_prompt=True, tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def next_token(self, messages: list[dict[str, Any]], k: int) -> list[tuple[str, float]]:
        import torch

        last = self._logprobs(self._chat_ids(messages))[-1]
        values, ids = torch.topk(last, k)
        return [(self.tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, ids, strict=True)]

    def chat(self, messages: list[dict[str, Any]], max_tokens: int) -> str:
        return self._generate(self._chat_ids(messages), max_tokens)


class CaptionVLMBackend:
    """A vision chat model: the offline zero-shot caption scorer answers lettered multiple-choice questions about
    the image attached to the last user message (a PNG ``data:`` URL), one letter per option."""

    def __init__(self, scorer: Any = None) -> None:
        if scorer is None:
            from interspect.frontends.zero_shot_vlm import ZeroShotCaptionScorer

            scorer = ZeroShotCaptionScorer()
        self.scorer = scorer
        self.lock = threading.Lock()  # one forward pass at a time

    def next_token(self, messages: list[dict[str, Any]], k: int) -> list[tuple[str, float]]:
        from interspect.frontends.vlm import parse_multiple_choice

        options = parse_multiple_choice(_user_text(messages))
        with self.lock:
            log_probs = self.scorer(_attached_image(messages)[None], options)[0]
        ranked = sorted(zip(string.ascii_uppercase, log_probs.tolist(), strict=False), key=lambda t: -t[1])
        return ranked[:k]

    def chat(self, messages: list[dict[str, Any]], max_tokens: int) -> str:
        return self.next_token(messages, 1)[0][0]


def _attached_image(messages: list[dict[str, Any]]) -> Any:
    """The last ``image_url`` part of the messages as a ``(H, W, 3)`` float image in [0, 1]."""
    import io

    import numpy as np
    from PIL import Image

    urls = [p["image_url"]["url"] for m in messages if isinstance(m.get("content"), list) for p in m["content"]
            if p.get("type") == "image_url"]  # fmt: skip
    if not urls or not urls[-1].startswith("data:image/"):
        raise ValueError("the vision backend needs an image attached as a data:image/ URL")
    raw = base64.b64decode(urls[-1].split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=np.float32) / np.float32(255.0)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    total = prompt_tokens + completion_tokens
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": total}


def make_app(backend: Any, *, latency: float = 0.0, faults: Faults | None = None, key: str = KEY) -> FastAPI:
    """The FastAPI app; ``app.state.requests`` keeps every authorised request body and ``app.state.urls`` its URL."""
    app = FastAPI()
    faults = faults or Faults()
    rng = random.Random(faults.seed)
    app.state.requests, app.state.urls, app.state.faults = [], [], faults
    app.state.in_flight = app.state.max_in_flight = 0
    app.state.latency = latency  # seconds each request waits (may be changed while the server runs)

    async def gate(request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        """The request body, or the error response to send instead (bad key, or an injected fault)."""
        given = request.headers.get("authorization", "")
        if given != f"Bearer {key}" and not given.startswith("Basic "):  # Basic: credentials in the URL
            shown = given.removeprefix("Bearer ")
            body = {"error": {"message": f"Incorrect API key provided: {shown}", "type": "invalid_request_error"}}
            return None, JSONResponse(body, status_code=401)
        body = await request.json()
        app.state.requests.append(body)
        app.state.urls.append(str(request.url))
        app.state.in_flight += 1
        app.state.max_in_flight = max(app.state.max_in_flight, app.state.in_flight)
        try:
            await asyncio.sleep(app.state.latency)
        finally:
            app.state.in_flight -= 1
        if faults.fail_after is not None and len(app.state.requests) > faults.fail_after:
            return None, JSONResponse({"error": {"message": "server down", "type": "server"}}, 503)
        if faults.rate and rng.random() < faults.rate:
            kind = rng.choice(faults.kinds)
            faults.injected[kind] = faults.injected.get(kind, 0) + 1
            if kind == "429":
                error = {"error": {"message": "rate limited", "type": "rate_limit"}}
                return None, JSONResponse(error, 429, headers={"Retry-After": str(faults.retry_after)})
            if kind == "500":
                return None, JSONResponse({"error": {"message": "internal error", "type": "server"}}, 500)
            if kind == "malformed":
                return None, Response('{"id": "cmpl-x", "choices": [{"index": 0, "te', media_type="application/json")
            await asyncio.sleep(faults.stall)
        return body, None

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body, error = await gate(request)
        if error is not None:
            return error
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        max_tokens = int(body.get("max_tokens", 16))
        choices, n_prompt = [], 0
        for index, prompt in enumerate(prompts):
            if body.get("echo"):
                tokens, logprobs = await asyncio.to_thread(backend.echo, prompt)
                offsets = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
                text, n_prompt = prompt, n_prompt + len(tokens)
                if max_tokens > 0:  # one (fake) generated token after the echo; the client ignores it
                    tokens, offsets, logprobs = tokens + [" zz"], offsets + [len(prompt)], logprobs + [-0.5]
                    text += " zz"
                lp = {"tokens": tokens, "text_offset": offsets, "token_logprobs": logprobs, "top_logprobs": None}
            else:
                text, lp = await asyncio.to_thread(backend.complete, prompt, max_tokens), None
            choices.append({"index": index, "text": text, "logprobs": lp, "finish_reason": "length"})
        choices.reverse()  # clients must order the choices by index, not by position
        return {"id": "cmpl-1", "object": "text_completion", "created": int(time.time()), "model": body["model"],
                "choices": choices, "usage": _usage(n_prompt, len(prompts) * max_tokens)}  # fmt: skip

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body, error = await gate(request)
        if error is not None:
            return error
        messages, max_tokens = body["messages"], int(body.get("max_tokens") or 16)
        logprobs = None
        if body.get("logprobs"):
            top = await asyncio.to_thread(backend.next_token, messages, max(1, int(body.get("top_logprobs") or 1)))
            first = {"token": top[0][0], "logprob": top[0][1], "bytes": None,
                     "top_logprobs": [{"token": t, "logprob": v, "bytes": None} for t, v in top]}  # fmt: skip
            text, logprobs = top[0][0], {"content": [first]}
        else:
            text = await asyncio.to_thread(backend.chat, messages, max_tokens)
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": logprobs,
                  "finish_reason": "length"}  # fmt: skip
        return {"id": "chat-1", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                "choices": [choice], "usage": _usage(len(_user_text(messages).split()), 1)}  # fmt: skip

    return app


class OpenAIServer:
    """A running server (context manager): ``url`` is its ``/v1`` base URL; it stops itself after ``lifetime`` s."""

    def __init__(self, backend: Any, *, port: int = 0, lifetime: float = LIFETIME, **app_options: Any) -> None:
        self.app = make_app(backend, **app_options)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # answers leave at once: without it a response's header and body writes wait out the client's delayed ACK
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    def start(self) -> OpenAIServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test OpenAI server did not start")
            time.sleep(0.02)
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--smollm2", action="store_true", help="serve SmolLM2 (default: the deterministic model)")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args()
    backend = SmolLM2Backend() if args.smollm2 else DeterministicBackend()
    server = OpenAIServer(backend, port=args.port, latency=args.latency, faults=Faults(rate=args.fault_rate))
    with server:
        print(f"serving on {server.url} (key {KEY})", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
