"""Query engine: batching, de-duplication, caching and accounting between algorithms and the model."""

from .cache import CacheError
from .engine import QueryEngine, QueryError
from .qary import QaryQueryEngine

__all__ = ["CacheError", "QaryQueryEngine", "QueryEngine", "QueryError"]
