"""ProxySPEX: a gradient-boosted tree proxy whose exact Fourier transform proposes the interactions.

Influential interactions are hierarchical (a strong ``{i, j, k}`` comes with strong subsets), which greedy
tree splits find with few queries. The method, one module a step:

1. :mod:`.sampling` — ``budget`` distinct uniform masks (optionally paired with their complements), every
   one of them fitted (held-out masks are bought by :func:`interspect.explain`, never here);
2. :mod:`.proxy` — LightGBM trees of depth ``max_order`` with early stopping on one validation split; their
   Fourier transform, read off exactly and truncated to degree ``max_order``, plus every singleton, are the
   candidate terms;
3. :mod:`.selection` — hierarchical ordering, a validated prefix, hierarchical expansion, pruning and the
   final least-squares refit (optionally blended with the trees' own transform);
4. :mod:`.small_budget` — at small budgets (``uses_stack``), the pipeline is cross-validated and stacked
   with a singleton ridge and a pair lasso (:mod:`.pair_lasso`), and the fit reports that cross-validated R²;
5. :mod:`.method` — :func:`fit_proxyspex` (all of it) and :func:`fit_from_queries` (steps 2-4 on masks
   already queried, used by ``auto``).

How each choice was measured is in BENCHMARKS.md ("ProxySPEX").
"""

from .method import DEFAULT_MAX_ORDER, fit_from_queries, fit_proxyspex
from .sampling import default_budget, query_masks
from .small_budget import CV_MAX_ROWS, MIN_FIT_QUERIES

__all__ = [
    "CV_MAX_ROWS",
    "DEFAULT_MAX_ORDER",
    "MIN_FIT_QUERIES",
    "default_budget",
    "fit_from_queries",
    "fit_proxyspex",
    "query_masks",
]
