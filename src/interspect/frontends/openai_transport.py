"""Talking to an OpenAI-compatible endpoint: many requests in flight, retries, rate limits, no leaked secrets.

:class:`Transport` sends a list of requests through one ``openai.AsyncOpenAI`` client, at most ``concurrency``
at a time, and returns the parsed answers in input order. Its event loop runs in a background thread, so the
synchronous callers (the query engine, a notebook that already runs a loop) simply block until a batch is done,
and connections are reused from batch to batch. A failed attempt is retried with exponential backoff and full
jitter (waiting at least the server's ``Retry-After``) on HTTP 429, 408, 409 and 5xx, timeouts, dropped
connections and malformed bodies; a wrong key, a wrong model name or an endpoint that was never reached fails at
once with a one-line :class:`EndpointError`. Optional requests-per-minute and tokens-per-minute limits are token
buckets. The answers never depend on the retries: only the time does.

Secrets: the API key and any credentials written into the endpoint URL (``https://user:KEY@host``,
``?api-key=KEY``) are removed by :func:`redact_url` / :meth:`Transport.redact` from everything interspect shows or
stores, and a logging filter scrubs them from the ``openai`` and ``httpx`` log lines.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: query parameters whose values are treated as secrets (Azure's ``api-key``, signed URLs, tokens)
SECRET_QUERY = re.compile(r"key|token|secret|password|passwd|pwd|auth|sig|credential|session", re.IGNORECASE)
REDACTED = "***"
#: HTTP statuses worth another attempt: rate limited, request timeout, conflict, and every server error
RETRY_STATUSES = frozenset({408, 409, 429})
BACKOFF_BASE = 0.5  # seconds before the first retry (doubled per attempt, full jitter), as the openai client does
BACKOFF_CAP = 30.0  # longest wait between two attempts
#: loggers whose records can carry a request URL (``httpx2`` is the HTTP layer of openai >= 3)
SCRUBBED_LOGGERS = ("openai", "openai._base_client", "httpx", "httpx2", "httpcore", "httpcore2")


class EndpointError(OSError):
    """The endpoint refused or could not serve a request; the message is one line without secrets."""


class RequestRejected(EndpointError):
    """HTTP 400/422: the server refused the request's content (retrying the same request cannot help)."""


class MalformedResponse(ValueError):
    """A response without the fields the scorer needs (retried: a truncated or garbled body is transient)."""


def redact_url(url: str | None) -> str:
    """``url`` without user name, password, fragment and the values of secret-looking query parameters.

    ``https://user:KEY@host/v1?api-key=KEY&api-version=1`` -> ``https://host/v1?api-key=***&api-version=1``.
    Not a URL at all -> ``"<invalid URL>"`` (its text could itself be a secret).
    """
    if not url:
        return ""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<invalid URL>"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    query = [(k, REDACTED if SECRET_QUERY.search(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, host + port, parts.path, urlencode(query, safe="*"), ""))


def split_query(url: str) -> tuple[str, dict[str, str]]:
    """``(url without its query, query parameters)``: the openai client takes the parameters as ``default_query``
    (appending paths to a base URL that carries a query would garble both)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment="")), dict(parse_qsl(parts.query, keep_blank_values=True))


def url_secrets(url: str | None) -> list[str]:
    """The credential strings inside ``url``: user name, password, their Basic-auth encoding and secret-looking
    query values."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
        found = [parts.username, parts.password]
    except ValueError:
        return [url]
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if SECRET_QUERY.search(k)]
    if parts.username or parts.password:  # httpx sends them as HTTP Basic auth; servers may echo the header
        found.append(base64.b64encode(f"{parts.username or ''}:{parts.password or ''}".encode()).decode())
    return [s for s in found if s]


class SecretFilter(logging.Filter):
    """Replaces the given secrets by ``***`` in every record it sees (formatting the message first)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


class MinuteBudget:
    """A token bucket refilled at ``per_minute`` units a minute (requests or tokens), holding one minute's worth."""

    def __init__(self, per_minute: float) -> None:
        self.capacity = float(per_minute)
        self.level = self.capacity
        self.rate = self.capacity / 60.0
        self.stamp = time.monotonic()
        self._lock: asyncio.Lock | None = None

    async def take(self, amount: float) -> None:
        """Wait until ``amount`` units are available (at most one minute's worth is asked for), then use them."""
        amount = min(float(amount), self.capacity)
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            while True:
                now = time.monotonic()
                self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.level >= amount:
                    self.level -= amount
                    return
                await asyncio.sleep((amount - self.level) / self.rate)


class Transport:
    """Concurrent, retried, rate-limited calls to one OpenAI-compatible endpoint.

    Parameters
    ----------
    base_url : str, optional
        The endpoint (default ``$OPENAI_BASE_URL``, else OpenAI's). Credentials inside it are used but never shown.
    api_key : str, optional
        Default ``$OPENAI_API_KEY``; a local server without authentication still needs some value.
    concurrency : int
        Requests in flight at once.
    timeout : float
        Seconds one attempt may take in total (a stalled answer is abandoned and retried).
    max_retries : int
        Further attempts after a failed one.
    requests_per_minute, tokens_per_minute : float, optional
        Client-side limits (tokens estimated before sending; see :meth:`map`).
    random_state : int, optional
        Seed of the backoff jitter (the answers never depend on it).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        concurrency: int = 16,
        timeout: float = 60.0,
        max_retries: int = 8,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        random_state: int | None = None,
    ) -> None:
        for name, value, low in (("concurrency", concurrency, 1), ("max_retries", max_retries, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name, limit in (("timeout", timeout), ("requests_per_minute", requests_per_minute),
                            ("tokens_per_minute", tokens_per_minute)):  # fmt: skip
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0):
                raise ValueError(f"{name} must be a positive number, got {limit!r}")
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not self._api_key:
            raise EndpointError(
                "no API key: set OPENAI_API_KEY (for a local server without authentication any value works, "
                "e.g. OPENAI_API_KEY=none)"
            )
        self.endpoint = redact_url(self.base_url)
        self.concurrency, self.timeout, self.max_retries = concurrency, float(timeout), max_retries
        self.requests_per_minute, self.tokens_per_minute = requests_per_minute, tokens_per_minute
        self._filter = SecretFilter([self._api_key, *url_secrets(self.base_url)])
        for name in SCRUBBED_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)
        weakref.finalize(self, _remove_filter, self._filter)
        self._rng = random.Random(random_state)
        self._buckets = [MinuteBudget(v) if v else None for v in (requests_per_minute, tokens_per_minute)]
        self.stats: Counter[str] = Counter()
        self.waits: list[float] = []  # seconds waited before each retry
        self._reached = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._start_lock = threading.Lock()

    # -- secrets ---------------------------------------------------------------------------------
    def redact(self, text: object) -> str:
        """``text`` (as ``str``) with the key and the URL's credentials replaced by ``***``."""
        return self._filter.scrub(str(text))

    def __repr__(self) -> str:
        return f"Transport(endpoint={self.endpoint!r}, concurrency={self.concurrency}, timeout={self.timeout:g})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. for Ray workers, in memory) without the loop and client, with what connecting needs."""
        state = dict(self.__dict__)
        state.update(_loop=None, _client=None, _start_lock=None, _stop_loop=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._start_lock = threading.Lock()

    # -- the event loop ----------------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="interspect-openai", daemon=True).start()
                self._loop = loop
                self._stop_loop = weakref.finalize(self, loop.call_soon_threadsafe, loop.stop)  # when collected
        return self._loop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the background loop and wait for it (Ctrl-C cancels the requests in flight)."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._ensure_loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def _make_client(self) -> Any:
        try:
            import openai
        except ImportError as exc:
            raise ImportError(
                "the OpenAI front-end needs the openai package: pip install 'interspect[openai]'"
            ) from exc
        base, query = split_query(self.base_url)
        return openai.AsyncOpenAI(
            api_key=self._api_key, base_url=base, default_query=query or None, timeout=self.timeout, max_retries=0
        )

    # -- requests ----------------------------------------------------------------------------------
    def map(self, send: Callable[[Any, T], Awaitable[Any]], items: Sequence[T], costs: Sequence[float]) -> list[Any]:
        """``[await send(client, item) for item in items]``, concurrently, in input order.

        ``costs`` are the estimated tokens of each request (for ``tokens_per_minute``). ``send`` parses the
        response and raises :class:`MalformedResponse` when it lacks what is needed (retried like a 5xx).
        """
        return self.run(self._map(send, items, costs))

    async def _map(self, send: Callable[[Any, T], Awaitable[Any]], items: Sequence[T], costs: Sequence[float]) -> list:
        if self._client is None:
            self._client = self._make_client()
        slots = asyncio.Semaphore(self.concurrency)
        tasks = [
            asyncio.ensure_future(self._attempts(send, item, cost, slots))
            for item, cost in zip(items, costs, strict=True)
        ]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def _attempts(self, send: Callable, item: Any, cost: float, slots: asyncio.Semaphore) -> Any:
        last = ""
        for attempt in range(self.max_retries + 1):
            for bucket, amount in zip(self._buckets, (1.0, cost), strict=True):
                if bucket is not None:
                    await bucket.take(amount)
            async with slots:  # the slot is free again while this request backs off
                self.stats["requests"] += 1
                try:
                    result = await asyncio.wait_for(send(self._client, item), self.timeout)
                    self._reached = True
                    return result
                except Exception as exc:
                    reason, wait = self._classify(exc)
            self.stats[f"retries_{reason}"] += 1
            last = reason
            if attempt < self.max_retries:
                backoff = self._rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
                self.waits.append(max(backoff, wait))
                await asyncio.sleep(self.waits[-1])
        raise EndpointError(f"{self.endpoint}: a request failed {self.max_retries + 1} times (last: {last})")

    def _classify(self, exc: Exception) -> tuple[str, float]:
        """``(reason, seconds to wait at least)`` of a retryable failure; any other failure is raised."""
        import openai

        if isinstance(exc, MalformedResponse | openai.APIResponseValidationError | json.JSONDecodeError):
            return "malformed", 0.0
        if isinstance(exc, asyncio.TimeoutError | openai.APITimeoutError):
            return "timeout", 0.0
        if isinstance(exc, openai.APIConnectionError):
            if self._reached:  # the endpoint answered before: a dropped connection is transient
                return "connection", 0.0
            cause = exc.__cause__ or exc.__context__
            raise EndpointError(
                f"cannot connect to {self.endpoint}: {self.redact(cause or exc)} (is the server running? check "
                "OPENAI_BASE_URL)"
            ) from None
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in RETRY_STATUSES or status >= 500:
                return f"http_{status}", retry_after(exc.response.headers)
            message = self.redact(server_message(exc))
            if status in (401, 403):
                raise EndpointError(
                    f"{self.endpoint} refused the API key (HTTP {status}: {message}); check OPENAI_API_KEY"
                ) from None
            if status == 404:
                raise EndpointError(f"{self.endpoint}: not found (HTTP 404: {message}); check the model name") from None
            raise RequestRejected(f"{self.endpoint} rejected the request (HTTP {status}: {message})") from None
        raise exc

    def count_usage(self, usage: Any) -> None:
        """Add a response's ``usage`` (prompt and completion tokens) to :meth:`usage`."""
        for field in ("prompt_tokens", "completion_tokens"):
            self.stats[field] += int(getattr(usage, field, 0) or 0)

    def usage(self) -> dict[str, int]:
        """Requests sent, retries by reason, and the token usage the server reported."""
        return dict(sorted(self.stats.items()))

    def close(self) -> None:
        """Close the connections and stop the background loop (a later call starts them again)."""
        loop, client = self._loop, self._client
        if loop is None:
            return
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.close(), loop).result(timeout=10)
        self._stop_loop()
        self._loop, self._client = None, None


def _remove_filter(secret_filter: SecretFilter) -> None:
    for name in SCRUBBED_LOGGERS:
        logging.getLogger(name).removeFilter(secret_filter)


def retry_after(headers: Any) -> float:
    """Seconds the server asked to wait (``retry-after-ms`` or ``Retry-After`` in seconds), 0 if none, at most
    :data:`BACKOFF_CAP`. (An HTTP-date ``Retry-After`` counts as none: the backoff still applies.)"""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            return min(BACKOFF_CAP, max(0.0, float(value) * scale))
        except (TypeError, ValueError):
            continue
    return 0.0


def server_message(exc: Any) -> str:
    """The ``error.message`` of an error body, else the HTTP reason, on one line."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        body = body.get("error", body)
        message = body.get("message") if isinstance(body, dict) else body
    else:
        message = getattr(exc, "message", "") or str(exc)
    return " ".join(str(message).split())[:300]
