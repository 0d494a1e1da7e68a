"""Query engine: batching, de-duplication, caching and accounting between algorithms and the model."""

from .engine import QueryEngine, QueryError
from .qary import QaryQueryEngine

__all__ = ["QaryQueryEngine", "QueryEngine", "QueryError"]
