"""Evaluate a value function's batches of masks on a Ray cluster (``pip install 'interspect[ray]'``).

:func:`distribute` wraps a value function so that each call splits its masks into chunks, evaluates them on
Ray workers in parallel and returns the values in mask order, the same values the local call gives. Two ways
to run the function on the workers:

- **actors** for models that load once: each of ``num_workers`` actors unpickles the function (the model's
  weights) once and keeps it for every later chunk;
- **tasks** for stateless functions: any worker process may take a chunk; the pickled function sits once in
  Ray's object store and each worker process unpickles it once.

``mode="auto"`` picks actors when the pickled function is larger than :data:`ACTOR_THRESHOLD_BYTES` (it carries
a model) and tasks otherwise. Ray is imported only here, when :func:`distribute` is called. See docs/ray.md
for setting up a cluster.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

MODES: tuple[str, ...] = ("auto", "actors", "tasks")
#: pickled size above which ``mode="auto"`` keeps the function in actors: a model's weights are megabytes, a
#: closure over a formula or a small table is kilobytes
ACTOR_THRESHOLD_BYTES = 1 << 20
_FUNCTIONS: dict[str, Any] = {}  # in a worker process: unpickled functions by digest (tasks unpickle once)
_MAX_FUNCTIONS = 8  # a worker keeps this many distinct functions before forgetting the oldest


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ImportError("the Ray backend needs Ray: pip install 'interspect[ray]'") from exc
    return ray


def _load(blob: bytes) -> Any:
    import cloudpickle

    return cloudpickle.loads(blob)


def _evaluate_task(digest: str, blob: bytes, masks: np.ndarray) -> np.ndarray:
    """A Ray task: the values of ``masks`` under the function pickled in ``blob`` (unpickled once per process)."""
    function = _FUNCTIONS.get(digest)
    if function is None:
        if len(_FUNCTIONS) >= _MAX_FUNCTIONS:
            _FUNCTIONS.pop(next(iter(_FUNCTIONS)))
        function = _FUNCTIONS[digest] = _load(blob)
    return np.asarray(function(masks), dtype=np.float64).reshape(-1)


def _release(ray: Any, actors: list[Any], shutdown: bool) -> None:
    """Stop the actors, and Ray if :func:`distribute` started it (``close()``, or when the wrapper is collected)."""
    for actor in actors:
        ray.kill(actor)
    if shutdown and ray.is_initialized():
        ray.shutdown()


class _Worker:
    """A Ray actor holding one unpickled value function (a model loaded once)."""

    def __init__(self, blob: bytes) -> None:
        self.function = _load(blob)

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        return np.asarray(self.function(masks), dtype=np.float64).reshape(-1)


class RayValueFunction:
    """A value function whose calls run on Ray workers (built by :func:`distribute`).

    Keeps ``n_features``, ``feature_names``, ``fingerprint`` and ``describe()`` of the wrapped function, so
    caching and reports see the same function. ``close()`` (or leaving a ``with`` block, or dropping the last
    reference) stops the actors, and the Ray runtime if :func:`distribute` started it.
    """

    def __init__(
        self,
        value_function: Any,
        *,
        address: str | None,
        num_workers: int | None,
        mode: str,
        chunk_size: int | None,
        num_cpus: float,
        num_gpus: float,
        init_options: Mapping[str, Any] | None,
    ) -> None:
        import cloudpickle

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if num_workers is not None and int(num_workers) < 1:
            raise ValueError(f"num_workers must be at least 1, got {num_workers}")
        if chunk_size is not None and int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if not float(num_cpus) > 0 or float(num_gpus) < 0:
            raise ValueError(f"num_cpus must be positive and num_gpus non-negative, got {num_cpus}, {num_gpus}")
        ray = _import_ray()
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            ray.init(address=address, **dict(init_options or {}))
        self.value_function = value_function
        for name in ("n_features", "feature_names", "fingerprint"):
            if hasattr(value_function, name):
                setattr(self, name, getattr(value_function, name))
        blob = cloudpickle.dumps(value_function)
        self.mode = mode if mode != "auto" else ("actors" if len(blob) > ACTOR_THRESHOLD_BYTES else "tasks")
        available = ray.cluster_resources().get("CPU", 1.0)
        self.num_workers = int(num_workers) if num_workers is not None else max(1, int(available // num_cpus))
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        resources = {"num_cpus": float(num_cpus), "num_gpus": float(num_gpus)}
        self._blob = ray.put(blob)
        self._actors: list[Any] = []
        if self.mode == "actors":
            actor = ray.remote(**resources)(_Worker)
            self._actors = [actor.remote(self._blob) for _ in range(self.num_workers)]
        else:
            self._digest = hashlib.sha256(blob).hexdigest()
            self._task = ray.remote(**resources)(_evaluate_task)
        self._finalizer = weakref.finalize(self, _release, ray, self._actors, self._started)

    def _chunks(self, masks: np.ndarray) -> list[np.ndarray]:
        size = self.chunk_size or -(-len(masks) // self.num_workers)  # default: one chunk per worker
        return [masks[start : start + size] for start in range(0, len(masks), size)]

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        if self._blob is None:
            raise RuntimeError("this distributed value function was closed")
        masks = np.asarray(masks)  # 0/1 masks or q-ary inputs alike: the wrapped function checks its own input
        if masks.ndim != 2:
            raise ValueError(f"masks must be a 2-D array (one row per query), got shape {masks.shape}")
        if len(masks) == 0:
            return np.zeros(0)
        chunks = self._chunks(masks)
        if self.mode == "actors":
            futures = [self._actors[i % len(self._actors)].evaluate.remote(c) for i, c in enumerate(chunks)]
        else:
            futures = [self._task.remote(self._digest, self._blob, c) for c in chunks]
        values = self._ray.get(futures)
        for chunk, got in zip(chunks, values, strict=True):
            if got.shape != (len(chunk),):
                raise ValueError(f"the value function returned {got.shape[0]} values for {len(chunk)} masks")
        return np.concatenate(values)

    def describe(self) -> dict[str, Any]:
        """The wrapped function's description (empty when it has none)."""
        describe = getattr(self.value_function, "describe", None)
        return dict(describe()) if callable(describe) else {}

    def close(self) -> None:
        """Stop the actors; shut Ray down if :func:`distribute` started it."""
        self._finalizer()
        self._actors, self._blob = [], None

    def __enter__(self) -> RayValueFunction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RayValueFunction({self.value_function!r}, mode={self.mode!r}, num_workers={self.num_workers})"


def distribute(
    value_function: Any,
    *,
    address: str | None = None,
    num_workers: int | None = None,
    mode: str = "auto",
    chunk_size: int | None = None,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    init_options: Mapping[str, Any] | None = None,
) -> RayValueFunction:
    """``value_function`` evaluated on a Ray cluster, chunk by chunk, with the values of the local call.

    Parameters
    ----------
    value_function : callable
        ``(m, n)`` bool masks -> ``(m,)`` values; must be picklable with cloudpickle (closures and lambdas are).
    address : str, optional
        The cluster to join when Ray is not running yet (``"auto"``, ``"ray://head:10001"``); default: start a
        local cluster. An already initialised Ray is used as it is.
    num_workers : int, optional
        Actors (``mode="actors"``) or chunks per call (``"tasks"``); default: the cluster's CPUs // ``num_cpus``.
    mode : {"auto", "actors", "tasks"}
        See the module docstring; ``auto`` chooses by the pickled size.
    chunk_size : int, optional
        Masks per chunk; default: a call's masks split evenly over the workers.
    num_cpus, num_gpus : float
        Ray resources reserved by each actor or task (``num_gpus=1`` puts each model on its own GPU).
    init_options : mapping, optional
        Extra keyword arguments of ``ray.init`` (e.g. ``num_cpus``, ``runtime_env``) when this call starts Ray.
    """
    return RayValueFunction(
        value_function,
        address=address,
        num_workers=num_workers,
        mode=mode,
        chunk_size=chunk_size,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        init_options=init_options,
    )
