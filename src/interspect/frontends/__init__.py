"""Real-model front-ends: turn a model and an input into a value function over masks.

Heavy dependencies (torch, transformers, openai, vaderSentiment, EfficientNet) are imported only when a model is
built.
"""

from .base import TextValueFunction, fingerprint
from .build import build_text_value_function
from .classifier import ClassScorer, HFClassifier, resolve_class, vader_scorer
from .data_attribution import DataAttributionValueFunction
from .heads import AttentionHeadValueFunction
from .llm import CausalLMScorer, PromptTemplate
from .openai_api import OpenAICompletionScorer
from .tabular import TabularValueFunction
from .text import TextUnits, split_units
from .vision import ImageValueFunction, TorchImageClassifier, load_efficientnet_lite0

__all__ = [
    "AttentionHeadValueFunction",
    "CausalLMScorer",
    "ClassScorer",
    "DataAttributionValueFunction",
    "HFClassifier",
    "ImageValueFunction",
    "OpenAICompletionScorer",
    "PromptTemplate",
    "TabularValueFunction",
    "TextUnits",
    "TextValueFunction",
    "TorchImageClassifier",
    "build_text_value_function",
    "fingerprint",
    "load_efficientnet_lite0",
    "resolve_class",
    "split_units",
    "vader_scorer",
]
