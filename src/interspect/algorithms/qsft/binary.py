"""q-SFT as a method of :func:`interspect.explain` on 0/1 masks (``q = 2``, value ``1`` keeps a feature)."""

from __future__ import annotations

from typing import cast

import numpy as np

from ...contracts import Engine, FitResult
from ...query.qary import QaryQueryEngine
from ...transforms.qary import SparseQaryTransform
from .design import DEFAULT_DELAYS
from .qsft import fit_qsft

DEFAULT_MAX_ORDER = 4  # the binary methods' usual bound on the interaction order
#: rows handed to the binary engine per call: it batches and de-duplicates them itself
_FORWARD_ROWS = 1 << 16


def fit_qsft_binary(
    engine: Engine,
    *,
    budget: int | None = None,
    max_order: int | None = None,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    noise_robust: bool = False,
    sparsity: int | None = None,
    n_groups: int | None = None,
    n_repeats: int | None = None,
    delays: str = DEFAULT_DELAYS,
    max_iter: int = 64,
    false_alarm: float = 1e-4,
) -> FitResult:
    """Binary q-SFT: the q-ary algorithm with ``q = 2`` on the engine's masks.

    With ``q = 2`` and ``1`` meaning "keep", q-ary and binary Fourier coefficients coincide
    (``docs/qary.md``). Detected frequencies of degree above ``max_order`` (default 4) are rejected; the
    other options are :func:`~interspect.algorithms.qsft.qsft.fit_qsft`'s.
    """
    qary = QaryQueryEngine(lambda x: engine(x.astype(bool)), engine.n_features, 2, batch_size=_FORWARD_ROWS)
    result = fit_qsft(
        qary, budget=budget, max_order=DEFAULT_MAX_ORDER if max_order is None else max_order,
        random_state=random_state, n_jobs=n_jobs, noise_robust=noise_robust, sparsity=sparsity, n_groups=n_groups,
        n_repeats=n_repeats, delays=delays, max_iter=max_iter, false_alarm=false_alarm,
    )  # fmt: skip
    transform = cast(SparseQaryTransform, result.transform)  # fit_qsft fits q-ary transforms only
    return FitResult(transform.to_binary(keep_value=1), result.info, result.faithfulness, "qsft")
