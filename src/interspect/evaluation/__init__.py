"""How good is an explanation: faithfulness (R²), top-k feature removal, Shapley recall@k."""

from .faithfulness import r2_dense, r2_exact, r2_heldout
from .recall import shapley_recall_at_k, top_k_features
from .removal import Removal, removal_curve, top_k_removal

__all__ = [
    "Removal",
    "r2_dense",
    "r2_exact",
    "r2_heldout",
    "removal_curve",
    "shapley_recall_at_k",
    "top_k_features",
    "top_k_removal",
]
