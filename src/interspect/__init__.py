"""interspect: find the feature interactions that drive a black-box model's output."""

from typing import Any

from .api import explain
from .explanation import Explanation, Interaction
from .query.engine import QueryEngine, QueryError
from .transforms.sparse import SparseTransform

__all__ = [
    "Explanation",
    "Interaction",
    "QueryEngine",
    "QueryError",
    "SparseTransform",
    "explain",
    "explain_qary",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # q-ary machinery is imported only when asked for
    if name == "explain_qary":
        from .algorithms.qsft.api import explain_qary

        return explain_qary
    raise AttributeError(f"module 'interspect' has no attribute {name!r}")
