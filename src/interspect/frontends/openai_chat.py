"""Reading a chat answer: the first token's top candidates -> the value of a target or a label set; labels and
images checked and prepared for the chat request (used by :class:`~.openai_api.OpenAIChatScorer`).

The value is the log of the summed probability of the candidates that begin the target (whitespace ignored); with
labels, the log-odds of the target label against the others. A label no candidate begins gets the **floor**: the
probability of the least likely listed candidate, an upper bound on its true probability.
"""

from __future__ import annotations

import base64
import math
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .openai_transport import MalformedResponse

FLOOR_RULE = "absent label: probability of the least likely listed candidate"


def top_candidates(response: Any) -> dict[str, float]:
    """``{token: logprob}`` of the first generated token's top candidates (the chosen token included)."""
    logprobs = response.choices[0].logprobs
    if logprobs is None or not logprobs.content:
        raise MalformedResponse("no logprobs (the server must support logprobs=True with top_logprobs)")
    first = logprobs.content[0]
    candidates = {c.token: float(c.logprob) for c in first.top_logprobs or ()}
    candidates.setdefault(first.token, float(first.logprob))
    if not all(math.isfinite(v) and v <= 1e-9 for v in candidates.values()):  # log-probabilities are <= 0
        raise MalformedResponse("log-probabilities that are not finite non-positive numbers")
    return candidates


def label_masses(candidates: dict[str, float], labels: Sequence[str]) -> np.ndarray:
    """Probability that the answer starts with each label: the summed probability of the candidate tokens that
    begin that label (whitespace ignored) and no other one."""
    masses = np.zeros(len(labels))
    stripped = [label.strip() for label in labels]
    for token, logprob in candidates.items():
        key = token.strip()
        matches = [i for i, label in enumerate(stripped) if key and label.startswith(key)]
        if len(matches) == 1:
            masses[matches[0]] += math.exp(logprob)
    return masses


def floored_masses(candidates: dict[str, float], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(masses, absent)``: :func:`label_masses` with the floor put in for every label no candidate begins."""
    masses = label_masses(candidates, labels)
    absent = masses == 0
    masses[absent] = math.exp(min(candidates.values()))
    return masses, absent


def first_token_value(candidates: dict[str, float], labels: Sequence[str], target: int) -> tuple[float, bool]:
    """``(value, floored)``: ``log p(labels[target])`` for one label, else its log-odds against the other labels.

    A label with no candidate gets the floor (the least likely candidate's probability); ``floored`` says so.
    """
    masses, absent = floored_masses(candidates, labels)
    own = math.log(masses[target])
    if len(labels) == 1:
        return own, bool(absent[target])
    return own - math.log(masses.sum() - masses[target]), bool(absent.any())


def check_labels(labels: Sequence[str] | None) -> list[str] | None:
    """``labels`` as a list of at least two distinct non-empty strings none of which begins another, or None."""
    if labels is None:
        return None
    if isinstance(labels, str) or not all(isinstance(x, str) and x.strip() for x in labels) or len(labels) < 2:
        raise ValueError(f"labels must be a list of at least two non-empty strings, got {labels!r}")
    stripped = [x.strip() for x in labels]
    for i, a in enumerate(stripped):
        for j, b in enumerate(stripped):
            if i != j and b.startswith(a):
                raise ValueError(f"labels {labels[i]!r} and {labels[j]!r}: no label may begin another one")
    return list(labels)


def image_url(image: str | Path) -> str:
    """An image for a chat message: ``data:`` and ``http(s)`` URLs as they are, a file path as a base64 data URL."""
    text = str(image)
    if text.startswith(("data:image/", "http://", "https://")):
        return text
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError(f"images: {text!r} is neither a data:image/ URL, an http(s) URL nor an image file")
    mime = mimetypes.guess_type(path.name)[0]
    if mime is None or not mime.startswith("image/"):
        raise ValueError(f"images: {text!r} does not have an image file extension (.png, .jpg, ...)")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def png_data_url(image: np.ndarray) -> str:
    """A ``(H, W, 3)`` float image in ``[0, 1]`` as a lossless PNG ``data:`` URL (pixels rounded to 8 bits)."""
    import io

    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError("sending images needs Pillow: pip install 'interspect[vision]'") from exc
    pixels = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(buffer, format="PNG")
    return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"
