"""The ``vader`` kind: rule-based VADER sentiment; the value is the VADER score ``target`` (default compound)."""

from __future__ import annotations

from ..base import TextValueFunction
from ..build import check_options, mask_filler, refuse_question, request_units
from ..classifier import vader_scorer
from ..registry import ModelRequest


def build(name: str, request: ModelRequest) -> TextValueFunction:
    check_options(request, "vader", ())
    refuse_question(request, "vader")
    score = request.target or "compound"
    return TextValueFunction(
        request_units(request),
        vader_scorer(score),
        model="vader",
        masking=request.masking,
        filler=mask_filler(request, None),
        target=score,
        extra={"value": f"vader_{score}"},
    )
