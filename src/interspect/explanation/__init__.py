"""The results users hold: one explanation family with one versioned JSON envelope.

:class:`Explanation` explains a function of 0/1 masks, :class:`QaryExplanation` one of q-ary inputs; both share
:class:`~.base.BaseExplanation` (cost, faithfulness, trust, provenance) and :func:`load` reads either back.
"""

from .base import BaseExplanation, load
from .binary import Explanation, Interaction
from .qary import QaryExplanation, QaryTerm

__all__ = ["BaseExplanation", "Explanation", "Interaction", "QaryExplanation", "QaryTerm", "load"]
