"""The ``sentiment`` kind: the offline MiniLM + logistic-regression classifier (see :mod:`..offline`)."""

from __future__ import annotations

from ..base import TextValueFunction
from ..build import check_options, classifier_value_function, refuse_question
from ..offline import DEVICE_OPTIONS, load_sentiment_classifier
from ..registry import ModelRequest


def build(name: str, request: ModelRequest) -> TextValueFunction:
    check_options(request, "sentiment", DEVICE_OPTIONS)
    refuse_question(request, "sentiment")
    clf = load_sentiment_classifier(request.cache_dir, device=request.options.get("device", "auto"))
    model_id = f"sentiment-{clf.info['version']}-n{clf.info['n_train']}-seed{clf.info['random_state']}"
    return classifier_value_function(
        clf.predict_logits, list(clf.labels), model_id, request, mask_token=clf.mask_token, weights=clf.fingerprint
    )
