"""Analytical risk of the least-squares head: Theorem 1 and Definitions 1-3.

This subpackage is the single home of the book's risk formulas
(:ref:`ch-theorem1`, :ref:`ch-overparameterised`, :ref:`ch-double-descent`).
Write ``s_i`` for the eigenvalues of ``Sigma_x``, ``b_i = ||B*^T v_i||^2`` for
the weights of ``B*`` on its eigenvectors and ``n`` for the sample size.

* :prf:ref:`Theorem 1 <thm-under>`, ``p < n``: the bias is zero and the
  variance is ``tr Sigma_r * p / (n - p - 1)`` (exact mean, ``p < n - 1``) or
  ``tr Sigma_r * gamma / (1 - gamma)`` (limit ``p / n -> gamma < 1``).
* :prf:ref:`Definition 1 <def-kappa>`, ``p > n``: ``kappa > 0`` solves
  ``sum_i s_i / (s_i + kappa) = n``.
* :prf:ref:`Definition 2 <def-predicted-risk>`:
  ``bias = kappa^2 sum_i s_i b_i / (s_i + kappa)^2 / (1 - D2)``,
  ``variance = tr Sigma_r * D2 / (1 - D2)``,
  ``D2 = (1/n) sum_i s_i^2 / (s_i + kappa)^2``.
* :prf:ref:`Definition 3 <def-hmm-risk>`: Definition 2 for the orthogonal
  embedding in closed form in ``(n, p, d, sigma^2, snr)``, and per output
  coordinate in the proportional coordinates ``gamma = p/n``, ``psi = d/p``.
* Ridge heads (:prf:ref:`def-ridge-risk`, :ref:`ch-ridge`), any ``p`` and
  ``lam > 0``: ``kappa > lam`` solves
  ``lam = kappa (1 - (1/n) sum_i s_i / (s_i + kappa))`` and the bias and
  variance are those of Definition 2 on that ``kappa``
  (:func:`ridge_risk`, :func:`ridge_orthogonal`, :func:`optimal_ridge`).

Layout (as ``quantecon.markov``: one module per topic, this ``__init__``
re-exports): ``hmmrisk.theory.paper`` holds the paper's statements
(Theorem 1, Definitions 1-3, the large-``p`` limit of Theorem 3),
``hmmrisk.theory.ridge`` the extension to ridge heads; both are thin
wrappers of one kernel (``_kernel.py``: one spectrum representation, one
validator, one ``kappa`` solver for ``lam >= 0``, one bias/variance formula)
with one fast path, the closed-form ``kappa`` of the two-point spectrum.

Numerically stable, overflow-safe forms are used throughout.  With
``t_i = s_i / (s_i + kappa)`` and ``u_i = kappa / (s_i + kappa)``, both in
``[0, 1]``, on the root of Definition 1

    1 - D2 = (1/n) sum_i t_i u_i                               (no cancellation)
    bias   = sum_i b_i s_i u_i^2 / (1 - D2),

so no eigenvalue or ``kappa`` is ever squared: the formulas hold from
eigenvalues, ``p``, ``n`` and ridge penalties from ``1e-300`` to ``1e300`` (the
documented domain of the orthogonal embedding is ``snr max(p, d)/d <= 1e300``,
as for :func:`hmmrisk.hmm.make_model`; beyond it ``ValueError`` names
``snr``).  An eigenvalue 1 of multiplicity ``n_unit`` (the encoder noise, on which
``B*`` has no weight) enters every sum as one term times ``n_unit``, so the
cost never grows with ``p``.  At the interpolation threshold the mean risk is
infinite and the functions return ``inf``; outside their domain they raise
``ValueError`` naming the offending argument.
"""

from ._results import FORMULAS, RIDGE_FORMULA, Prediction, Predictions, RidgePredictions
from .paper import (definition2, definition3, definition3_proportional, kappa_orthogonal,
                    large_p_limit, large_p_tau, orthogonal_spectrum, predicted_curve,
                    predicted_risk, solve_kappa, theorem1)
from .ridge import optimal_ridge, ridge_kappa, ridge_orthogonal, ridge_risk

__all__ = [
    "FORMULAS", "Prediction", "Predictions", "definition2", "definition3",
    "definition3_proportional", "kappa_orthogonal", "large_p_limit", "large_p_tau",
    "orthogonal_spectrum", "predicted_curve", "predicted_risk", "solve_kappa", "theorem1",
    "RIDGE_FORMULA", "RidgePredictions", "optimal_ridge", "ridge_kappa", "ridge_orthogonal",
    "ridge_risk",
]

# One public home per name: the objects report hmmrisk.theory as their module
# (as numpy does), which is where the API reference documents them and where
# pickle finds them.
for _name in __all__:
    _obj = globals()[_name]
    if callable(_obj) and getattr(_obj, "__module__", "").startswith(__name__ + "."):
        _obj.__module__ = __name__
del _name, _obj
