"""q-SFT: sparse Fourier transforms of functions of q-ary features (Erginbas, Kang, Aghazadeh, Ramchandran 2023).

``query`` (batched, de-duplicated, accounted access to a q-ary value function), ``design`` (subsampling
matrices, delays, budget planner), ``peeling`` (bin transforms, singleton detection, peeling, refit),
``qsft`` (the fit). Users call :func:`interspect.explain` with ``q=`` (or ``interspect.explain_qary``).
"""

from .design import QsftPlan, plan_qsft
from .qsft import fit_qsft

__all__ = ["QsftPlan", "fit_qsft", "plan_qsft"]
