"""Real-model front-ends: turn a model and an input into a value function over masks.

Heavy dependencies (torch, transformers, openai, vaderSentiment, EfficientNet) are imported only when a model is
built.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import TextValueFunction, fingerprint
    from .build import build_text_value_function
    from .classifier import ClassScorer, HFClassifier, resolve_class, vader_scorer
    from .data_attribution import DataAttributionValueFunction
    from .heads import AttentionHeadValueFunction
    from .llm import CausalLMScorer, PromptTemplate
    from .openai_api import OpenAIChatScorer, OpenAICompletionScorer
    from .tabular import TabularValueFunction
    from .text import TextUnits, split_units
    from .vision import ImageValueFunction, TorchImageClassifier, load_efficientnet_lite0
    from .vlm import ChatVLM, VisualQuestion
    from .zero_shot_vlm import ZeroShotCaptionScorer

#: public name -> submodule that defines it (imported on first use, so ``import interspect.frontends.text``
#: or the CLI's ``--help`` does not load scikit-learn, torch or the other front-ends)
_EXPORTS = {
    "TextValueFunction": "base",
    "fingerprint": "base",
    "build_text_value_function": "build",
    "ClassScorer": "classifier",
    "HFClassifier": "classifier",
    "resolve_class": "classifier",
    "vader_scorer": "classifier",
    "DataAttributionValueFunction": "data_attribution",
    "AttentionHeadValueFunction": "heads",
    "CausalLMScorer": "llm",
    "PromptTemplate": "llm",
    "OpenAIChatScorer": "openai_api",
    "OpenAICompletionScorer": "openai_api",
    "TabularValueFunction": "tabular",
    "TextUnits": "text",
    "split_units": "text",
    "ImageValueFunction": "vision",
    "TorchImageClassifier": "vision",
    "load_efficientnet_lite0": "vision",
    "ChatVLM": "vlm",
    "VisualQuestion": "vlm",
    "ZeroShotCaptionScorer": "zero_shot_vlm",
}

__all__ = [
    "AttentionHeadValueFunction",
    "ChatVLM",
    "CausalLMScorer",
    "ClassScorer",
    "DataAttributionValueFunction",
    "HFClassifier",
    "ImageValueFunction",
    "OpenAIChatScorer",
    "OpenAICompletionScorer",
    "PromptTemplate",
    "TabularValueFunction",
    "TextUnits",
    "TextValueFunction",
    "TorchImageClassifier",
    "VisualQuestion",
    "ZeroShotCaptionScorer",
    "build_text_value_function",
    "fingerprint",
    "load_efficientnet_lite0",
    "resolve_class",
    "split_units",
    "vader_scorer",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
