"""Rebuild the details part of BENCHMARKS.md from the per-area result files in bench/results/.

Everything above the ``<!-- details -->`` marker (the hand-written summary) is kept; below it each
``bench/results/*.md`` is inserted with its headings pushed one level down.

    python bench/collect.py
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["transforms", "spex", "proxyspex", "baselines", "qsft", "text_models", "frontends", "report_cli"]
MARKER = "<!-- details -->"


def main() -> None:
    target = ROOT / "BENCHMARKS.md"
    head = target.read_text().split(MARKER)[0].rstrip() + "\n\n" + MARKER + "\n"
    results = ROOT / "bench" / "results"
    names = ORDER + sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER)
    parts = []
    for name in names:
        path = results / f"{name}.md"
        if path.exists():
            body = re.sub(r"^(#+)", r"#\1", path.read_text().strip(), flags=re.MULTILINE)
            parts.append(f"\n<!-- from bench/results/{name}.md -->\n{body}\n")
    target.write_text(head + "".join(parts))


if __name__ == "__main__":
    main()
