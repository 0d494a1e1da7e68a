"""Query engine: batching, de-duplication, caching and accounting between algorithms and the model."""

from .engine import QueryEngine, QueryError

__all__ = ["QueryEngine", "QueryError"]
