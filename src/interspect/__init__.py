"""interspect: find the feature interactions that drive a black-box model's output.

Only light modules are imported here; ``explain`` and the result types load on first use, so
``import interspect`` (and ``interspect --help``) stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import explain, explain_qary
    from .contracts import Faithfulness, FitResult
    from .explanation import BaseExplanation, Explanation, Interaction, QaryExplanation, load
    from .query.engine import QueryEngine, QueryError
    from .transforms.sparse import SparseTransform

#: public name -> module that defines it (imported lazily)
_EXPORTS = {
    "explain": "api",
    "explain_qary": "api",
    "Faithfulness": "contracts",
    "FitResult": "contracts",
    "BaseExplanation": "explanation",
    "Explanation": "explanation",
    "Interaction": "explanation",
    "QaryExplanation": "explanation",
    "load": "explanation",
    "QueryEngine": "query.engine",
    "QueryError": "query.engine",
    "SparseTransform": "transforms.sparse",
}
__all__ = [
    "BaseExplanation",
    "Explanation",
    "Faithfulness",
    "FitResult",
    "Interaction",
    "QaryExplanation",
    "QueryEngine",
    "QueryError",
    "SparseTransform",
    "explain",
    "explain_qary",
    "load",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'interspect' has no attribute {name!r}")
