"""Real-model front-ends: turn a model and an input into a value function over masks.

Heavy dependencies (torch, transformers, openai, vaderSentiment) are imported only when a model is built.
"""

from .base import TextValueFunction, fingerprint
from .build import build_text_value_function
from .classifier import ClassScorer, HFClassifier, resolve_class, vader_scorer
from .data_attribution import DataAttributionValueFunction
from .llm import CausalLMScorer, PromptTemplate
from .openai_api import OpenAICompletionScorer
from .tabular import TabularValueFunction
from .text import TextUnits, split_units

__all__ = [
    "CausalLMScorer",
    "ClassScorer",
    "DataAttributionValueFunction",
    "HFClassifier",
    "OpenAICompletionScorer",
    "PromptTemplate",
    "TabularValueFunction",
    "TextUnits",
    "TextValueFunction",
    "build_text_value_function",
    "fingerprint",
    "resolve_class",
    "split_units",
    "vader_scorer",
]
