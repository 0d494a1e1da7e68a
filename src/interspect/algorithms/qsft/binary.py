"""q-SFT as a method of :func:`interspect.explain` on 0/1 masks (``q = 2``, value ``1`` keeps a feature)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...query.engine import QueryEngine
from ...query.qary import QaryQueryEngine
from ..base import FitResult
from .qsft import fit_qsft


def fit_qsft_binary(
    engine: QueryEngine,
    *,
    budget: int | None = None,
    max_order: int = 4,
    random_state: int | np.random.Generator | None = None,
    **options: Any,
) -> FitResult:
    """Binary q-SFT: the q-ary algorithm with ``q = 2`` on the engine's masks.

    With ``q = 2`` and ``1`` meaning "keep", q-ary and binary Fourier coefficients coincide
    (``docs/qary.md``). Detected frequencies of degree above ``max_order`` are rejected. ``options`` go to
    :func:`~interspect.algorithms.qsft.qsft.fit_qsft` (``sparsity``, ``noise_robust``, ``n_groups``, …).
    """
    qary = QaryQueryEngine(lambda x: engine(x.astype(bool)), engine.n_features, 2, batch_size=engine.batch_size)
    result = fit_qsft(qary, budget=budget, random_state=random_state, max_order=max_order, **options)
    return FitResult(result.transform.to_binary(keep_value=1), info=dict(result.info, method="qsft"))
