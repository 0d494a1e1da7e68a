"""Benchmark the sparse-transform core at n = 1,000: evaluation, Fourier<->Möbius conversion, every index.

Times (median of ``--repeats`` runs) and peak traced memory (tracemalloc, one extra run) for:

- ``SparseTransform.predict`` on 10,000 random masks with 500 and 1,000 terms of degree <= 5;
- Fourier -> Möbius and back, against the converters the peers use (sparse-transform 0.2.1's
  ``fourier_to_mobius``, which shapiq's SPEX calls, and shapiq's ``ProxySPEX.fourier_to_moebius``);
- Shapley, Banzhaf and every interaction index against shapiq's ``MoebiusConverter`` (from the same
  Möbius coefficients), checking that the values agree;
- top-k removal on the same surrogate: the HiGHS MILP (with a time limit) against the greedy heuristic.

Run with the benchmark environment, which has the peers::

    /work/benchenv/bin/python bench/bench_transforms.py --out bench/results/transforms.md

Without shapiq / sparse-transform installed the peer columns are left empty.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np

from interspect.evaluation.removal import top_k_removal
from interspect.indices import banzhaf_values, interaction_values, shapley_values
from interspect.transforms.sparse import SparseTransform

try:  # peers (benchmark environment only)
    import shapiq
    from shapiq.game_theory.moebius_converter import MoebiusConverter
except ImportError:  # pragma: no cover
    shapiq = None
try:
    from sparse_transform.qsft.utils.general import fourier_to_mobius as qsft_fourier_to_mobius
except ImportError:  # pragma: no cover
    qsft_fourier_to_mobius = None

N_FEATURES = 1000
N_MASKS = 10_000
MAX_DEGREE = 5
SHAPIQ_NAMES = {"sii": "SII", "bii": "BII", "stii": "STII", "fsii": "FSII", "fbii": "FBII", "k-sii": "k-SII"}


def random_fourier(n_terms: int, seed: int) -> SparseTransform:
    """The empty set plus ``n_terms - 1`` distinct supports with degrees uniform in 1..MAX_DEGREE."""
    rng = np.random.default_rng(seed)
    supports = {()}
    while len(supports) < n_terms:
        supports.add(tuple(rng.choice(N_FEATURES, size=rng.integers(1, MAX_DEGREE + 1), replace=False)))
    return SparseTransform(list(supports), rng.normal(size=n_terms), N_FEATURES)


def measure(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(median seconds, peak traced MiB, result). Memory comes from one extra traced run."""
    result = fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return statistics.median(times), peak, result


def shapiq_moebius(mobius: SparseTransform):
    return shapiq.InteractionValues(
        values=mobius.coefs.copy(),
        index="Moebius",
        max_order=N_FEATURES,
        min_order=0,
        n_players=N_FEATURES,
        interaction_lookup={s: i for i, s in enumerate(mobius.supports())},
        baseline_value=mobius.get(()),
    )


def max_diff(ours: dict, theirs: dict, skip_empty: bool = False) -> float:
    keys = (set(ours) | set(theirs)) - ({()} if skip_empty else set())
    return max((abs(ours.get(s, 0.0) - theirs.get(s, 0.0)) for s in keys), default=0.0)


def fmt_ratio(peer: float | None, ours: float) -> str:
    return "" if peer is None else f"{peer / ours:,.1f}x"


def run(repeats: int) -> list[str]:
    lines = []
    env = f"Python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cores"
    if shapiq is not None:
        env += f", shapiq {shapiq.__version__}"
    lines += [f"Environment: {env}.", ""]

    # ---------------------------------------------------------------- evaluation
    masks = np.random.default_rng(0).integers(0, 2, size=(N_MASKS, N_FEATURES)).astype(bool)
    lines += [
        f"### Evaluation: `predict` on {N_MASKS:,} masks, n = {N_FEATURES:,}, degree <= {MAX_DEGREE}",
        "",
        "| terms | basis | time (s) | peak memory (MiB) |",
        "|---:|---|---:|---:|",
    ]
    for n_terms in (500, 1000):
        fourier = random_fourier(n_terms, seed=n_terms)
        for basis, transform in (("fourier", fourier), ("mobius", fourier.with_coefs(fourier.coefs, "mobius"))):
            t, mem, _ = measure(lambda tr=transform: tr.predict(masks), repeats)
            lines.append(f"| {n_terms:,} | {basis} | {t:.3f} | {mem:.0f} |")
    lines.append("")

    # ---------------------------------------------------------------- conversions
    fourier = random_fourier(1000, seed=1)
    as_dict = fourier.to_dict()
    t_mob, m_mob, mobius = measure(fourier.to_mobius, repeats)
    t_four, m_four, back = measure(mobius.to_fourier, repeats)
    assert max_diff(back.to_dict(), fourier.drop_zeros().to_dict()) < 1e-9
    lines += [
        f"### Conversion: 1,000 Fourier terms of degree <= {MAX_DEGREE} -> {len(mobius):,} Möbius terms (n = 1,000)",
        "",
        "| conversion | implementation | time (s) | peak memory (MiB) | peer / interspect time | max abs diff |",
        "|---|---|---:|---:|---:|---:|",
        f"| Fourier -> Möbius | interspect `to_mobius` | {t_mob:.4f} | {m_mob:.1f} | | |",
    ]
    peers = []
    if qsft_fourier_to_mobius is not None:
        peers.append(("sparse-transform 0.2.1 `fourier_to_mobius` (used by shapiq SPEX)", qsft_fourier_to_mobius))
    if shapiq is not None:
        from shapiq.approximator.proxy.proxyspex import ProxySPEX

        peers.append(("shapiq `ProxySPEX.fourier_to_moebius`", lambda d: ProxySPEX.fourier_to_moebius(None, d)))
    ours_mobius = mobius.to_dict()
    for name, fn in peers:
        t, mem, theirs = measure(lambda fn=fn: fn(as_dict), repeats)
        diff = max_diff(ours_mobius, theirs)
        lines.append(f"| Fourier -> Möbius | {name} | {t:.4f} | {mem:.1f} | {fmt_ratio(t, t_mob)} | {diff:.1e} |")
    lines += [f"| Möbius -> Fourier | interspect `to_fourier` | {t_four:.4f} | {m_four:.1f} | | |", ""]

    # ---------------------------------------------------------------- indices
    lines += [
        f"### Indices from the same transform ({len(fourier):,} Fourier / {len(mobius):,} Möbius terms, n = 1,000)",
        "",
        "interspect is timed from the Fourier transform (what an `Explanation` holds) and from the Möbius",
        "transform (what shapiq's `MoebiusConverter` takes); the ratio compares the Möbius-input times.",
        "",
        "| index | order | terms out | interspect from Fourier (s) | interspect from Möbius (s) | peak MiB (ours) "
        "| shapiq MoebiusConverter (s) | peak MiB (shapiq) | shapiq / interspect | max abs diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    iv = shapiq_moebius(mobius) if shapiq is not None else None

    def peer(index: str, order: int):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return MoebiusConverter(iv)(index, order)

    for name, ours_f, ours_m, shapiq_call in (
        ("Shapley", lambda: shapley_values(fourier), lambda: shapley_values(mobius), ("SV", 1)),
        ("Banzhaf", lambda: banzhaf_values(fourier), lambda: banzhaf_values(mobius), ("BV", 1)),
    ):
        t_f, mem, values = measure(ours_f, repeats)
        t_m, _, _ = measure(ours_m, repeats)
        row = f"| {name} | 1 | {N_FEATURES:,} | {t_f:.4f} | {t_m:.4f} | {mem:.1f} |"
        if iv is not None:
            t_p, m_p, theirs = measure(lambda c=shapiq_call: peer(*c), 1)
            diff = max(abs(values[i] - theirs[(i,)]) for i in range(N_FEATURES))
            row += f" {t_p:.3f} | {m_p:.1f} | {fmt_ratio(t_p, t_m)} | {diff:.1e} |"
        else:
            row += " | | | |"
        lines.append(row)
    for order in (2, 3, 4):
        for index in ("mobius", "fourier", "sii", "bii", "stii", "fsii", "fbii", "k-sii"):
            t_f, mem, values = measure(lambda i=index, o=order: interaction_values(fourier, i, o), repeats)
            t_m, _, _ = measure(lambda i=index, o=order: interaction_values(mobius, i, o), repeats)
            row = f"| {index} | {order} | {len(values):,} | {t_f:.4f} | {t_m:.4f} | {mem:.1f} |"
            if iv is not None and index in SHAPIQ_NAMES:
                t_p, m_p, theirs = measure(lambda i=index, o=order: peer(SHAPIQ_NAMES[i], o), 1)
                theirs = {s: float(theirs.values[j]) for s, j in theirs.interaction_lookup.items()}
                # shapiq's converter leaves the empty set out of SII and BII
                diff = max_diff(values.to_dict(), theirs, skip_empty=index in ("sii", "bii"))
                row += f" {t_p:.3f} | {m_p:.1f} | {fmt_ratio(t_p, t_m)} | {diff:.1e} |"
            else:
                row += " | | | |"
            lines.append(row)
    lines.append("")

    # ---------------------------------------------------------------- removal
    lines += [
        "### Top-k removal on 1,000-term surrogates (direction = decrease, MILP time limit 20 s)",
        "",
        "| coefficients | k | method | time (s) | surrogate change | proven optimal |",
        "|---|---:|---|---:|---:|---|",
    ]
    decaying = fourier.with_coefs(fourier.coefs / np.arange(1, len(fourier) + 1))
    for label, surrogate in (("N(0, 1)", fourier), ("N(0, 1) / rank", decaying)):
        for k in (3, 10):
            for method in ("milp", "greedy"):
                start = time.perf_counter()
                res = top_k_removal(surrogate, k, direction="decrease", method=method, time_limit=20.0)
                elapsed = time.perf_counter() - start
                used = method if res.method == method else f"{method} (kept {res.method}'s answer)"
                lines.append(f"| {label} | {k} | {used} | {elapsed:.2f} | {res.change:.4f} | {res.optimal} |")
    lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median reported)")
    parser.add_argument("--out", help="also write the tables to this markdown file")
    args = parser.parse_args()
    lines = run(args.repeats)
    text = "\n".join(lines)
    print(text)
    if args.out:
        command = f"/work/benchenv/bin/python bench/bench_transforms.py --repeats {args.repeats} --out {args.out}"
        with open(args.out, "w") as fh:
            fh.write(f"# Transform core benchmark (raw tables)\n\nCommand: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
