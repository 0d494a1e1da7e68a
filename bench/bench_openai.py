"""Throughput and fault tolerance of the OpenAI-compatible path against the test server (tests/openai_server.py).

1. Throughput: ``--queries`` chat requests (one prompt each) with ``--latency`` seconds per request, for several
   concurrency levels; the ideal is ``concurrency / latency`` requests a second.
2. Faults: one explanation (``exact`` on 8 sentence units: 256 masks) fault-free and with ``--fault-rate`` injected
   faults (429 + Retry-After, 500, a stall past the timeout, a truncated body); the two must be identical.

    python bench/bench_openai.py [--latency 0.2] [--queries 800] [--fault-rate 0.2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from openai_server import KEY, DeterministicBackend, Faults, OpenAIServer  # noqa: E402

import interspect  # noqa: E402
from interspect.frontends import build_text_value_function  # noqa: E402
from interspect.frontends.openai_api import OpenAIChatScorer  # noqa: E402

TEXT = ("Paris is big. Rome is old. Oslo is cold. Bern is calm. Lima is far. Kyiv is brave. Nice is sunny. "
        "Ulm is small.")  # fmt: skip


def serve(latency: float) -> tuple[subprocess.Popen, str]:
    """The deterministic test server in its own process (as a real server is: it does not share our GIL)."""
    script = Path(__file__).resolve().parents[1] / "tests" / "openai_server.py"
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--latency", str(latency)], stdout=subprocess.PIPE, text=True
    )
    return process, process.stdout.readline().split()[2]  # "serving on <url> ..."


def throughput(url: str, latency: float, queries: int, concurrency: int) -> tuple[float, float]:
    """(requests per second, share of the ideal concurrency / latency)."""
    scorer = OpenAIChatScorer("bench", base_url=url, concurrency=concurrency)
    scorer.set_target("Paris")
    scorer([f"warm up {i}" for i in range(concurrency)])
    contexts = [f"context number {i}" for i in range(queries)]
    start = time.perf_counter()
    scorer(contexts)
    rate = queries / (time.perf_counter() - start)
    scorer.close()
    return rate, rate / (concurrency / latency)


def explanation(faults: Faults | None, batch_size: int) -> tuple[interspect.Explanation, float]:
    with OpenAIServer(DeterministicBackend(), faults=faults) as server:
        os.environ["OPENAI_BASE_URL"] = server.url
        options = {"labels": ["Paris", "Rome"], "timeout": 1.0, "max_retries": 30}
        vf = build_text_value_function("openai-chat:bench", TEXT, question="Which city?", options=options)
        start = time.perf_counter()
        expl = interspect.explain(vf, method="exact", random_state=0, batch_size=batch_size)
        return expl, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--queries", type=int, default=800)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    args = parser.parse_args()
    os.environ["OPENAI_API_KEY"] = KEY
    print(f"throughput at {args.latency * 1000:.0f} ms latency, {args.queries} chat requests")
    process, url = serve(0.0)  # no latency: how many requests a second client + server manage on this machine
    try:
        ceiling = throughput(url, 1.0, args.queries, 16)[0]
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(f"CPU ceiling (no latency, concurrency 16): {ceiling:.1f} req/s")
    print(f"{'concurrency':>11} {'req/s':>8} {'ideal':>8} {'share':>6} {'of min(ideal, ceiling)':>23}")
    process, url = serve(args.latency)
    try:
        for concurrency in (1, 4, 16, 32):
            queries = args.queries if concurrency > 1 else max(20, args.queries // 40)
            rate, share = throughput(url, args.latency, queries, concurrency)
            bound = min(concurrency / args.latency, ceiling)
            print(f"{concurrency:>11} {rate:8.1f} {concurrency / args.latency:8.1f} {share:6.1%} {rate / bound:23.1%}")
    finally:
        process.terminate()
        process.wait(timeout=10)
    clean, t_clean = explanation(None, 16)
    faults = Faults(rate=args.fault_rate, retry_after=0.5, stall=2.0, seed=1)
    noisy, t_noisy = explanation(faults, 16)
    same = np.array_equal(clean.fourier.coefs, noisy.fourier.coefs) and np.array_equal(
        clean.shapley_values(), noisy.shapley_values()
    )
    print(f"\nexplanation (exact, 256 masks, concurrency 16): fault-free {t_clean:.1f} s, "
          f"{args.fault_rate:.0%} faults {t_noisy:.1f} s, injected {faults.injected}")  # fmt: skip
    print(f"retries: {noisy.metadata['api']}")
    print(f"identical explanation: {same}")


if __name__ == "__main__":
    main()
