"""q-SFT: sparse Fourier transforms of functions of q-ary features (Erginbas, Kang, Aghazadeh, Ramchandran 2023).

``design`` (subsampling matrices, delays, budget planner), ``coded`` and ``gf`` (coded delays: BCH codes over
GF(p) lifted to ``Z_q``), ``bins`` (bin transforms), ``peeling`` (singleton detection, peeling), ``qsft`` (the
fit and refit); q-ary inputs are queried through :mod:`interspect.query.qary`. Users call
:func:`interspect.explain` with ``q=`` (or ``interspect.explain_qary``).
"""

from .design import QsftPlan, plan_qsft
from .qsft import fit_qsft

__all__ = ["QsftPlan", "fit_qsft", "plan_qsft"]
