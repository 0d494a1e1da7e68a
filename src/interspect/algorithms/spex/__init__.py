"""SPEX: BCH-coded sparse Fourier recovery for thousands of features."""

from .bch import BCHCode, bch_code
from .planner import SpexPlan, plan_spex, spex_query_count
from .spex import fit_spex

__all__ = ["BCHCode", "SpexPlan", "bch_code", "fit_spex", "plan_spex", "spex_query_count"]
