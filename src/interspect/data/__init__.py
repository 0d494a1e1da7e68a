"""Small bundled inputs for demos and the CLI's default run (read with :mod:`importlib.resources`)."""

from __future__ import annotations

import json
from importlib.resources import files


def qa_demo() -> dict[str, str]:
    """A six-sentence ``context`` and a ``question`` whose answer needs two of its sentences together."""
    return json.loads(files(__package__).joinpath("qa_demo.json").read_text(encoding="utf-8"))


def review_demo() -> str:
    """A short movie review with negations ("not bad at all", "never fails to impress")."""
    return files(__package__).joinpath("review_demo.txt").read_text(encoding="utf-8").strip()
