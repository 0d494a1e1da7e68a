"""Cost of the reports and of the CLI end to end.

1. ``render_html`` / ``format_top_table`` / ``save_png`` on synthetic explanations of growing size
   (n units, k surrogate terms of order <= 4): milliseconds and page size.
2. Start-up: ``interspect --help`` and ``interspect report --help`` against a bare ``python -c pass`` (the floor
   any Python command pays) as median wall and CPU seconds over repeats, and a no-op rerun of
   ``scripts/setup.sh test`` (with ``--setup``).
3. ``interspect explain`` as a subprocess on VADER (word units, the bundled review) and, with
   ``--llm``, on the offline default SmolLM2 (the bundled QA demo, the README's first command):
   wall time, model time, algorithm time, queries, R².

Run: ``OMP_WAIT_POLICY=PASSIVE python bench/bench_report.py [--llm] [--setup]``
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from interspect import Explanation, SparseTransform
from interspect.report import format_top_table, render_html, save_png
from interspect.report.table import method_label


def bench_render() -> None:
    rng = np.random.default_rng(0)
    print("| n units | terms | render_html ms | page KiB | format_top_table ms | save_png ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n, k in [(50, 200), (300, 2000), (1000, 5000)]:
            supports = [tuple(rng.choice(n, size=rng.integers(1, 5), replace=False)) for _ in range(k)]
            expl = Explanation(SparseTransform(supports, rng.normal(size=k), n))
            start = time.perf_counter()
            page = render_html(expl, k=20)
            html_ms = 1000 * (time.perf_counter() - start)
            start = time.perf_counter()
            format_top_table(expl, 20)
            table_ms = 1000 * (time.perf_counter() - start)
            start = time.perf_counter()
            save_png(expl, Path(tmp) / "p.png", k=20)
            png_ms = 1000 * (time.perf_counter() - start)
            print(f"| {n} | {k} | {html_ms:.0f} | {len(page) / 1024:.0f} | {table_ms:.0f} | {png_ms:.0f} |")


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_startup(repeats: int = 7, setup: bool = False) -> None:
    interspect = shutil.which("interspect") or "interspect"
    commands = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "interspect --help": [interspect, "--help"],
        "interspect report --help": [interspect, "report", "--help"],
        "interspect explain --help": [interspect, "explain", "--help"],
    }
    print("| command | median wall s | median CPU s | CPU / floor |")
    print("|---|---:|---:|---:|")
    floor = None
    for label, command in commands.items():
        runs = [timed(command) for _ in range(repeats)]
        wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        floor = floor or cpu
        print(f"| `{label}` | {wall:.2f} | {cpu:.2f} | {cpu / floor:.1f} |")
    if setup:
        root = Path(__file__).resolve().parents[1]
        wall, cpu = timed(["bash", str(root / "scripts" / "setup.sh"), "test"])
        print(f"| `bash scripts/setup.sh test` (nothing to do) | {wall:.2f} | {cpu:.2f} | {cpu / floor:.1f} |")


def bench_cli(args: list[str], label: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "e.json"
        command = [sys.executable, "-m", "interspect.cli", "explain", *args, "--json", str(out)]
        command += ["--html", str(Path(tmp) / "r.html")]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - start
        expl = Explanation.from_json(out.read_text())
    r2, kind = expl.faithfulness.r2, expl.faithfulness.kind
    r2_text = "n/a" if r2 is None else f"{r2:.3f} ({kind})"
    queries = f"{expl.n_fit_queries} + {expl.n_heldout_queries}"
    print(
        f"| {label} | {expl.n_features} | {method_label(expl)} | {queries} | {r2_text} | {wall:.1f} |"
        f" {expl.timing['model_s']:.1f} | {expl.timing['algorithm_s']:.2f} |"
    )
    print(f"<!-- interspect explain {' '.join(json.dumps(a) if ' ' in a else a for a in args)} -->")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", action="store_true", help="also run the README command on SmolLM2")
    parser.add_argument("--setup", action="store_true", help="also time a no-op rerun of scripts/setup.sh test")
    options = parser.parse_args()
    bench_render()
    print()
    bench_startup(setup=options.setup)
    print()
    print("| run | units | method | queries (+held out) | R² | wall s | model s | algorithm s |")
    print("|---|---:|---|---:|---|---:|---:|---:|")
    bench_cli(["--model", "vader", "--budget", "500", "--holdout", "100"], "vader, bundled review, auto")
    if options.llm:
        bench_cli([], "smollm2, bundled QA demo (README default)")


if __name__ == "__main__":
    main()
