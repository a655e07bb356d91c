"""Analytical risk of the least-squares head: Theorem 1 and Definitions 1-3.

This module is the single home of the book's risk formulas
({ref}`ch-theorem1`, {ref}`ch-overparameterised`, {ref}`ch-double-descent`).
Write ``s_i`` for the eigenvalues of ``Sigma_x``, ``b_i = ||B*^T v_i||^2`` for
the weights of ``B*`` on its eigenvectors and ``n`` for the sample size.

* Theorem 1 ({prf:ref}`thm-under`), ``p < n``: the bias is zero and the
  variance is ``tr Sigma_r * p / (n - p - 1)`` (exact mean, ``p < n - 1``) or
  ``tr Sigma_r * gamma / (1 - gamma)`` (limit ``p / n -> gamma < 1``).
* Definition 1 ({prf:ref}`def-kappa`), ``p > n``: ``kappa > 0`` solves
  ``sum_i s_i / (s_i + kappa) = n``.
* Definition 2 ({prf:ref}`def-predicted-risk`):
  ``bias = kappa^2 sum_i s_i b_i / (s_i + kappa)^2 / (1 - D2)``,
  ``variance = tr Sigma_r * D2 / (1 - D2)``,
  ``D2 = (1/n) sum_i s_i^2 / (s_i + kappa)^2``.
* Definition 3 ({prf:ref}`def-hmm-risk`): Definition 2 for the orthogonal
  embedding in closed form in ``(n, p, d, sigma^2, rho)``, and per output
  coordinate in the proportional coordinates ``gamma = p/n``, ``psi = d/p``.
* Ridge heads ({prf:ref}`def-ridge-risk`, {ref}`ch-ridge`), any ``p`` and
  ``lam > 0``: ``kappa > lam`` solves
  ``lam = kappa (1 - (1/n) sum_i s_i / (s_i + kappa))`` and the bias and
  variance are those of Definition 2 on that ``kappa``
  (:func:`ridge_risk`, :func:`ridge_orthogonal`, :func:`optimal_ridge`).

Numerically stable forms are used throughout.  On the root of Definition 1,

    1 - D2 = (kappa / n) sum_i s_i / (s_i + kappa)^2          (no cancellation)
    bias   = n kappa sum_i s_i b_i / (s_i + kappa)^2 / sum_i s_i / (s_i + kappa)^2,

and an eigenvalue 1 of multiplicity ``n_unit`` (the encoder noise, on which
``B*`` has no weight) enters every sum as one term times ``n_unit``, so the
cost never grows with ``p``.  At the interpolation threshold the mean risk is
infinite and the functions return ``inf``; outside their domain they raise
``ValueError`` naming the offending argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as check
from .population import Population

__all__ = [
    "FORMULAS", "Prediction", "Predictions", "definition2", "definition3",
    "definition3_proportional", "kappa_orthogonal", "large_p_limit",
    "orthogonal_spectrum", "predicted_curve", "predicted_risk", "solve_kappa",
    "theorem1",
]

#: Names of the formulas a :class:`Prediction` may come from.
FORMULAS = ("theorem1-exact", "theorem1-asymptotic", "threshold", "definition2")


# ---------------------------------------------------------------------------
# Result containers
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Prediction:
    """Predicted excess risk of the least-squares head at one ``(n, p)``.

    Attributes
    ----------
    bias, variance : float
        The two parts of Lemma 1 ({prf:ref}`lem-bias-variance`) as predicted
        by the theory; ``variance`` is ``inf`` at the interpolation threshold.
    irreducible : float
        ``tr Sigma_r``, the next-token error no head can remove.
    formula : str
        Which statement was used: ``"theorem1-exact"``,
        ``"theorem1-asymptotic"``, ``"threshold"`` or ``"definition2"``.
    """

    bias: float
    variance: float
    irreducible: float
    formula: str

    @property
    def risk(self) -> float:
        """Excess risk, ``bias + variance``."""
        return self.bias + self.variance

    @property
    def total(self) -> float:
        """Total next-token risk, ``risk + irreducible``."""
        return self.risk + self.irreducible


@dataclass(frozen=True, eq=False)
class Predictions:
    """:class:`Prediction` over a grid of model sizes (arrays of equal length).

    ``formula`` holds one name per point; ``pred[i]`` is the ``i``-th
    :class:`Prediction`.
    """

    p: np.ndarray
    bias: np.ndarray
    variance: np.ndarray
    irreducible: np.ndarray
    formula: np.ndarray

    @property
    def risk(self) -> np.ndarray:
        """Excess risk, ``bias + variance``."""
        return self.bias + self.variance

    @property
    def total(self) -> np.ndarray:
        """Total next-token risk, ``risk + irreducible``."""
        return self.risk + self.irreducible

    def __len__(self) -> int:
        return self.p.size

    def __getitem__(self, i) -> Prediction:
        return Prediction(float(self.bias[i]), float(self.variance[i]),
                          float(self.irreducible[i]), str(self.formula[i]))


# ---------------------------------------------------------------------------
# Input checks for array arguments
# ---------------------------------------------------------------------------

# the array checks live in _validate with the others; these short names keep
# the formulas below readable
_array = check.real_array
_int_array = check.integer_array


def _scalar_or_array(x, was_scalar):
    return float(x) if was_scalar else x


# ---------------------------------------------------------------------------
# Theorem 1
# ---------------------------------------------------------------------------

def theorem1(tr_sigma_r, p, n, exact: bool = True):
    """Theorem 1 ({prf:ref}`thm-under`): the under-parameterised variance.

    For ``p < n`` the bias is zero and the mean variance is

    * ``exact=True``:  ``tr Sigma_r * p / (n - p - 1)`` for ``p < n - 1``
      (inverse-Wishart mean, Gaussian inputs, any ``Sigma_x``), ``inf`` for
      ``n - 1 <= p <= n``;
    * ``exact=False``: ``tr Sigma_r * gamma / (1 - gamma)``, ``gamma = p/n``
      (the almost-sure limit as ``p/n -> gamma < 1``), ``inf`` at ``p = n``.

    Parameters
    ----------
    tr_sigma_r : float or array
        ``tr Sigma_r >= 0`` (broadcast against ``p``).
    p : float or array
        Model sizes, ``1 <= p <= n`` (non-integer ``p`` interpolates).
    n : int
        Sample size, ``n >= 2``.
    exact : bool
        Exact finite-``n`` mean or the proportional limit.

    Returns
    -------
    float or array
        The variance, which here is the whole excess risk.

    Raises
    ------
    ValueError
        If ``p > n`` (use Definition 2, :func:`definition2`) or an argument
        is out of range.
    """
    n = check.integer("n", n, minimum=2)
    scalar = np.ndim(p) == 0 and np.ndim(tr_sigma_r) == 0
    p = _array("p", p, low=1.0)
    tr = _array("tr_sigma_r", tr_sigma_r, low=0.0)
    if np.any(p > n):
        raise ValueError(f"Theorem 1 covers p <= n = {n}; got p = {p[p > n].ravel()[0]!r} "
                         f"(use definition2 for p > n)")
    p, tr = np.broadcast_arrays(p, tr)
    gap = (n - 1.0 - p) if exact else (n - p)
    factor = np.where(gap > 0, p / np.where(gap > 0, gap, 1.0), np.inf)
    # tr Sigma_r = 0 means V_X = 0 for every X, so its mean is 0 even at the threshold.
    out = np.where(tr == 0, 0.0, tr * np.where(tr == 0, 0.0, factor))
    return _scalar_or_array(out, scalar)


# ---------------------------------------------------------------------------
# Definition 1: the kappa equation
# ---------------------------------------------------------------------------

def _solve_kappa(s, n_unit, n, rtol=4 * np.finfo(float).eps, maxiter=200):
    """Vectorised root of ``g(k) = sum_i s_i/(s_i+k) + n_unit/(1+k) - n``.

    ``s`` is ``(m, r)`` with entries ``>= 0`` (zeros add nothing), ``n_unit``
    and ``n`` are ``(m,)``.  ``g`` is strictly decreasing and convex on
    ``k > 0``, and the root lies in ``[s_min (p-n)/n, s_max (p-n)/n]``
    ({prf:ref}`def-kappa`); :func:`_newton_in_bracket` finds it.
    """
    pos = s > 0
    rank = pos.sum(axis=-1) + n_unit
    unit = n_unit > 0
    s_max = np.where(unit, np.maximum(s.max(axis=-1), 1.0), s.max(axis=-1))
    s_min = np.where(pos, s, np.inf).min(axis=-1)
    s_min = np.where(unit, np.minimum(s_min, 1.0), s_min)
    excess = (rank - n) / n

    def g_dg(k):
        kk = k[:, None]
        t = s / (s + kk)
        df = t.sum(axis=-1) + n_unit / (1.0 + k)
        return df - n, -(t / (s + kk)).sum(axis=-1) - n_unit / (1.0 + k) ** 2, df + n

    # lo == hi: one distinct eigenvalue, and lo is the root exactly
    return _newton_in_bracket(g_dg, s_min * excess, s_max * excess, rtol, maxiter)


def _newton_in_bracket(g_dg, lo, hi, rtol, maxiter):
    """Vectorised root of a decreasing convex ``g`` in the brackets ``[lo, hi]``.

    ``g_dg(k)`` returns ``(g, g', scale)`` with ``scale`` the size of the
    terms summed into ``g`` (for the rounding-error test).  Newton's method
    started at ``lo`` increases monotonically to the root (convexity); a step
    that would leave the bracket is replaced by a geometric bisection.  A
    point stops when its step is a few ulp, when ``|g|`` is at the level of its
    own rounding error, or when its bracket has collapsed.  Shared by
    Definition 1 ({prf:ref}`def-kappa`) and the ridge equation
    ({prf:ref}`def-ridge-risk`).
    """
    lo = np.minimum(lo, hi)
    k = lo.copy()
    done = lo >= hi * (1 - rtol)
    for _ in range(maxiter):
        if np.all(done):
            break
        g, dg, scale = g_dg(k)
        lo = np.where(g >= 0, k, lo)
        hi = np.where(g <= 0, k, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = k - g / dg
        inside = np.isfinite(newton) & (newton >= lo) & (newton <= hi)
        k_new = np.where(inside, newton, np.sqrt(lo * hi))
        step_small = np.abs(k_new - k) <= rtol * k_new
        at_noise = np.abs(g) <= 8 * np.finfo(float).eps * scale
        done = done | step_small | at_noise | (hi <= lo * (1 + rtol))
        k = np.where(done & ~step_small, k, k_new)
    return k


def _spectrum_args(eigvals, n, n_unit, signal=None):
    """Validate and broadcast ``(eigvals, signal, n_unit, n)`` to a batch."""
    s = _array("eigvals", eigvals, low=0.0)
    if s.ndim not in (1, 2):
        raise ValueError(f"eigvals must be a 1-d spectrum or a 2-d batch of spectra, got shape {s.shape}")
    single = s.ndim == 1
    s2 = np.atleast_2d(s)
    m = s2.shape[0]
    nu = _int_array("n_unit", n_unit, minimum=0)
    nn = _int_array("n", n, minimum=2)
    if nu.ndim > 1 or (nu.ndim == 1 and nu.size not in (1, m)):
        raise ValueError(f"n_unit must be a scalar or have one entry per spectrum ({m}), got shape {nu.shape}")
    if nn.ndim > 1 or (nn.ndim == 1 and nn.size not in (1, m)):
        raise ValueError(f"n must be a scalar or have one entry per spectrum ({m}), got shape {nn.shape}")
    nu = np.broadcast_to(nu, (m,)).astype(float)
    nn = np.broadcast_to(nn, (m,)).astype(float)
    rank = (s2 > 0).sum(axis=-1) + nu
    if np.any(rank <= nn):
        i = int(np.argmax(rank <= nn))
        raise ValueError(f"Definitions 1-2 need more than n non-zero eigenvalues (p > n): "
                         f"got {int(rank[i])} (with n_unit={int(nu[i])}) for n = {int(nn[i])}")
    b2 = None
    if signal is not None:
        b = _array("signal", signal, low=0.0)
        if b.shape != s.shape:
            raise ValueError(f"signal must have the shape of eigvals {s.shape}, got {b.shape}")
        b2 = np.atleast_2d(b)
    return single, s2, b2, nu, nn


def solve_kappa(eigvals, n, n_unit=0):
    """Definition 1 ({prf:ref}`def-kappa`): the root ``kappa > 0`` of

        sum_i s_i / (s_i + kappa) + n_unit / (1 + kappa) = n.

    Parameters
    ----------
    eigvals : (r,) or (m, r) array
        Eigenvalues ``s_i >= 0`` of ``Sigma_x`` other than the unit block (a
        batch of ``m`` spectra may be zero-padded: a zero eigenvalue adds
        nothing to any sum of Definitions 1-2).
    n : int or (m,) array of int
        Sample size(s), ``n >= 2``.
    n_unit : int or (m,) array of int
        Multiplicity of the eigenvalue 1, handled analytically.

    Returns
    -------
    float or (m,) array
        ``kappa``, to a relative accuracy of a few ulp.  The root is unique
        and lies in ``[s_min (p - n)/n, s_max (p - n)/n]`` with ``p`` the
        number of non-zero eigenvalues; it exists only for ``p > n``.
    """
    single, s, _, nu, nn = _spectrum_args(eigvals, n, n_unit)
    k = _solve_kappa(s, nu, nn)
    return float(k[0]) if single else k


# ---------------------------------------------------------------------------
# Definition 2
# ---------------------------------------------------------------------------

def _definition2(s, b, nu, nn, tr):
    """Definition 2 on validated batches; returns ``(bias, variance, kappa)``."""
    k = _solve_kappa(s, nu, nn)
    kk = k[:, None]
    w = s / (s + kk) ** 2                                   # s_i / (s_i + kappa)^2
    den = w.sum(axis=-1) + nu / (1.0 + k) ** 2              # = n (1 - D2) / kappa
    one_minus_d2 = k * den / nn
    d2 = ((s * w).sum(axis=-1) + nu / (1.0 + k) ** 2) / nn  # (1/n) sum s^2/(s+kappa)^2
    bias = nn * k * (b * w).sum(axis=-1) / den
    variance = tr * d2 / one_minus_d2
    return bias, variance, k


def definition2(eigvals, signal, n, tr_sigma_r, n_unit=0):
    """Definition 2 ({prf:ref}`def-predicted-risk`): predicted bias and variance, ``p > n``.

    With ``kappa`` from Definition 1 ({prf:ref}`def-kappa`) and
    ``D2 = (1/n) sum_i s_i^2 / (s_i + kappa)^2``,

        bias     = kappa^2 sum_i s_i b_i / (s_i + kappa)^2 / (1 - D2),
        variance = tr Sigma_r * D2 / (1 - D2),

    evaluated in the stable forms of the module docstring.

    Parameters
    ----------
    eigvals : (r,) or (m, r) array
        Eigenvalues ``s_i >= 0`` of ``Sigma_x`` outside the unit block.
    signal : array like ``eigvals``
        ``b_i = ||B*^T v_i||^2 >= 0``, the weight of ``B*`` on each eigenvector.
    n : int or (m,) array
        Sample size(s); the spectrum must have more than ``n`` non-zero
        eigenvalues (``p > n``).
    tr_sigma_r : float or (m,) array
        ``tr Sigma_r >= 0``.
    n_unit : int or (m,) array
        Multiplicity of the eigenvalue 1 on which ``B*`` has no weight.

    Returns
    -------
    Prediction or Predictions
        One :class:`Prediction` for a single spectrum, else
        :class:`Predictions` with ``p = r_nonzero + n_unit``.
    """
    single, s, b, nu, nn = _spectrum_args(eigvals, n, n_unit, signal)
    tr = _array("tr_sigma_r", tr_sigma_r, low=0.0)
    if tr.ndim > 1 or (tr.ndim == 1 and tr.size not in (1, s.shape[0])):
        raise ValueError(f"tr_sigma_r must be a scalar or have one entry per spectrum, got shape {tr.shape}")
    tr = np.broadcast_to(tr, (s.shape[0],)).astype(float)
    bias, variance, _ = _definition2(s, b, nu, nn, tr)
    if single:
        return Prediction(float(bias[0]), float(variance[0]), float(tr[0]), "definition2")
    p = (s > 0).sum(axis=-1) + nu
    return Predictions(p=p.astype(float), bias=bias, variance=variance, irreducible=tr,
                       formula=np.full(p.size, "definition2"))


# ---------------------------------------------------------------------------
# The theory for a Population: Theorem 1, threshold, Definition 2
# ---------------------------------------------------------------------------

def predicted_risk(pop: Population, n: int) -> Prediction:
    """The theory's excess risk of the head on ``pop`` at sample size ``n``.

    * ``p < n - 1``: Theorem 1, exact ({prf:ref}`thm-under`): bias 0,
      variance ``tr Sigma_r p / (n - p - 1)``;
    * ``n - 1 <= p <= n``: the mean risk is infinite (``formula="threshold"``,
      bias 0, variance ``inf``);
    * ``p > n``: Definition 2 ({prf:ref}`def-predicted-risk`) on the spectrum
      of ``Sigma_x``; the eigenvalue 1 of multiplicity ``pop.n_unit`` is
      handled analytically, so the cost is ``O(d)`` after the ``O(p d^2)``
      population.

    For ``p = n + 1`` Definition 2 is finite while the Gaussian mean risk is
    not: Definition 2 is a deterministic equivalent of the conditional risk
    ``R_X`` (Theorem 2, {prf:ref}`thm-over`), not of its mean.
    """
    if not isinstance(pop, Population):
        raise ValueError(f"pop must be a Population (see hmmrisk.population), got {type(pop).__name__}")
    n = check.integer("n", n, minimum=2)
    p, tr = pop.p, pop.tr_Sigma_r
    if p < n - 1:
        return Prediction(0.0, float(tr * p / (n - p - 1)), tr, "theorem1-exact")
    if p <= n:
        return Prediction(0.0, float("inf"), tr, "threshold")
    return definition2(pop.eigvals, pop.signal, n, tr, n_unit=pop.n_unit)


def predicted_curve(pops, n) -> Predictions:
    """:func:`predicted_risk` for a sequence of populations (one solver call).

    ``pops`` is a sequence of :class:`~hmmrisk.population.Population`;
    ``n`` an int or one int per population.  The over-parameterised points
    share one vectorised Definition 1 solve (spectra zero-padded).
    """
    pops = list(pops)
    if not pops:
        raise ValueError("pops must hold at least one Population, got an empty sequence")
    for pop in pops:
        if not isinstance(pop, Population):
            raise ValueError(f"pops must hold Population objects, got {type(pop).__name__}")
    nn = _int_array("n", n, minimum=2)
    if nn.ndim > 1 or (nn.ndim == 1 and nn.size not in (1, len(pops))):
        raise ValueError(f"n must be a scalar or have one entry per population, got shape {nn.shape}")
    nn = np.broadcast_to(nn, (len(pops),))
    m = len(pops)
    p = np.array([pop.p for pop in pops], dtype=float)
    tr = np.array([pop.tr_Sigma_r for pop in pops])
    bias, variance = np.zeros(m), np.zeros(m)
    formula = np.empty(m, dtype=object)
    under = p < nn - 1
    variance[under] = tr[under] * p[under] / (nn[under] - p[under] - 1)
    formula[under] = "theorem1-exact"
    thr = (p >= nn - 1) & (p <= nn)
    variance[thr] = np.inf
    formula[thr] = "threshold"
    over = np.flatnonzero(p > nn)
    if over.size:
        r = max(pops[i].eigvals.size for i in over)
        s = np.zeros((over.size, r))
        b = np.zeros((over.size, r))
        for j, i in enumerate(over):
            s[j, :pops[i].eigvals.size] = pops[i].eigvals
            b[j, :pops[i].signal.size] = pops[i].signal
        nu = np.array([pops[i].n_unit for i in over], dtype=float)
        bias[over], variance[over], _ = _definition2(s, b, nu, nn[over].astype(float), tr[over])
        formula[over] = "definition2"
    return Predictions(p=p, bias=bias, variance=variance, irreducible=tr,
                       formula=formula.astype(str))


# ---------------------------------------------------------------------------
# Definition 3: the orthogonal embedding in closed form
# ---------------------------------------------------------------------------

def orthogonal_spectrum(p, d, noise, snr=1.0):
    """Population of the orthogonal embedding (Lemma 2, {prf:ref}`lem-well-specified`).

    With ``r = min(p, d)``, ``Sigma_x`` has the eigenvalue
    ``s1 = 1 + rho max(p, d) / d`` with multiplicity ``r`` and 1 with
    multiplicity ``p - r``; ``B*`` has weight
    ``b1 = (s1 - 1)(1 - sigma^2) / s1^2`` on each top eigenvector and none on
    the unit block, and ``tr Sigma_r = (1 - sigma^2)(d - r + r / s1) + d sigma^2``.

    Returns
    -------
    (s1, r, b1, tr_sigma_r) : arrays shaped like ``p``
    """
    p = _array("p", p, low=1.0)
    d = check.integer("d", d)
    noise, rho = check.noise(noise), check.snr(snr)
    r = np.minimum(p, d)
    s1 = 1.0 + rho * np.maximum(p, d) / d
    b1 = (s1 - 1.0) * (1.0 - noise) / s1**2
    tr = (1.0 - noise) * (d - r + r / s1) + d * noise
    return s1, r, b1, tr


def _kappa_two_point(n, p, r, s1):
    """Positive root of ``n k^2 + k [n (1 + s1) - r s1 - (p - r)] + s1 (n - p) = 0``.

    This is ``r s1/(s1 + k) + (p - r)/(1 + k) = n`` cleared of denominators;
    for ``p > n`` the constant term is negative, so exactly one root is
    positive.  The form without cancellation is chosen by the sign of the
    linear coefficient.
    """
    bq = n * (1.0 + s1) - r * s1 - (p - r)
    c = s1 * (p - n)                                   # = -(constant term) > 0
    root = np.sqrt(bq * bq + 4.0 * n * c)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bq > 0, 2.0 * c / (bq + root), (root - bq) / (2.0 * n))


def kappa_orthogonal(n, p, d, snr=1.0):
    """Definition 1 ({prf:ref}`def-kappa`) for the orthogonal embedding, in closed form.

    ``kappa`` solves ``r s1/(s1 + kappa) + (p - r)/(1 + kappa) = n``
    (``r = min(p, d)``, ``s1 = 1 + rho max(p, d)/d``), a quadratic with one
    positive root for ``p > n`` (Definition 3, {prf:ref}`def-hmm-risk`).
    """
    n = check.integer("n", n, minimum=2)
    scalar = np.ndim(p) == 0
    p = _array("p", p, low=1.0)
    if np.any(p <= n):
        raise ValueError(f"kappa exists only for p > n = {n}; got p = {p[p <= n].ravel()[0]!r}")
    s1, r, _, _ = orthogonal_spectrum(p, d, 0.0, snr)
    return _scalar_or_array(_kappa_two_point(float(n), p, r, s1), scalar)


def _over_two_point(n, p, r, s1, b1, tr):
    """Definition 2 for the two-point spectrum (``p > n``): ``(bias, variance)``."""
    k = _kappa_two_point(n, p, r, s1)
    w1 = s1 / (s1 + k) ** 2
    w0 = 1.0 / (1.0 + k) ** 2
    den = r * w1 + (p - r) * w0                        # = n (1 - D2) / kappa
    d2 = (r * s1 * w1 + (p - r) * w0) / n
    bias = n * k * r * b1 * w1 / den
    variance = tr * d2 / (k * den / n)
    return bias, variance


def definition3(n, p, d, noise, snr=1.0, under: str = "exact"):
    """Definition 3 ({prf:ref}`def-hmm-risk`): the HMM risk curve, orthogonal embedding.

    Closed form in ``(n, p, d, sigma^2, rho)``, vectorised over ``p``:

    * ``p > n``: Definition 2 on the two-point spectrum of
      :func:`orthogonal_spectrum`, with ``kappa`` the positive root of the
      quadratic of :func:`kappa_orthogonal`;
    * ``p < n``: Theorem 1 ({prf:ref}`thm-under`), ``under="exact"``
      (``p / (n - p - 1)``, ``inf`` for ``n - 1 <= p <= n``) or
      ``"asymptotic"`` (``gamma / (1 - gamma)``, ``inf`` at ``p = n``).

    Non-integer ``p`` is accepted (the formulas are analytic in ``p``), which
    draws smooth theory lines.

    Returns
    -------
    Prediction (scalar ``p``) or Predictions
    """
    n = check.integer("n", n, minimum=2)
    d = check.integer("d", d)
    check.choice("under", under, ("exact", "asymptotic"))
    scalar = np.ndim(p) == 0
    p = np.atleast_1d(_array("p", p, low=1.0)).astype(float)
    s1, r, b1, tr = orthogonal_spectrum(p, d, noise, snr)
    bias = np.zeros_like(p)
    variance = np.empty_like(p)
    formula = np.empty(p.shape, dtype=object)
    over = p > n
    if np.any(over):
        bias[over], variance[over] = _over_two_point(float(n), p[over], r[over], s1[over],
                                                     b1[over], tr[over])
        formula[over] = "definition2"
    below = ~over
    if np.any(below):
        variance[below] = theorem1(tr[below], p[below], n, exact=(under == "exact"))
        formula[below] = "theorem1-" + under
        formula[below & np.isinf(variance)] = "threshold"
    pred = Predictions(p=p, bias=bias, variance=variance, irreducible=tr,
                       formula=formula.astype(str))
    return pred[0] if scalar else pred


def definition3_proportional(gamma, psi, noise, snr=1.0) -> Predictions:
    """Definition 3 ({prf:ref}`def-hmm-risk`) per output coordinate, in ``(gamma, psi)``.

    With ``gamma = p/n`` and ``psi = d/p``, everything Definition 3 returns is
    ``d`` times a function of ``(gamma, psi, sigma^2, rho)`` alone.  Writing
    ``a = gamma min(1, psi)`` (``= r/n``), ``c = gamma max(0, 1 - psi)``
    (``= (p - r)/n``), ``s1 = 1 + rho max(1, 1/psi)``:

    * ``gamma > 1``: ``kappa`` solves ``a s1/(s1 + kappa) + c/(1 + kappa) = 1`` and
      bias/d, variance/d follow Definition 2;
    * ``gamma < 1``: Theorem 1 asymptotic, variance/d =
      ``(tr Sigma_r / d) gamma / (1 - gamma)``; ``inf`` at ``gamma = 1``.

    ``gamma`` and ``psi`` broadcast against each other.  The finite-size
    Definition 3 with ``under="asymptotic"`` equals ``d`` times this exactly.
    """
    g = _array("gamma", gamma, low=0.0, low_open=True)
    s = _array("psi", psi, low=0.0, low_open=True)
    noise, rho = check.noise(noise), check.snr(snr)
    g, s = np.broadcast_arrays(g, s)
    g, s = np.atleast_1d(g).astype(float), np.atleast_1d(s).astype(float)
    frac_r = np.minimum(1.0, 1.0 / s)                  # r/d
    s1 = 1.0 + rho * np.maximum(1.0, 1.0 / s)
    b1 = (s1 - 1.0) * (1.0 - noise) / s1**2
    tr = (1.0 - noise) * (1.0 - frac_r + frac_r / s1) + noise      # tr Sigma_r / d
    bias = np.zeros_like(g)
    variance = np.empty_like(g)
    formula = np.empty(g.shape, dtype=object)
    over = g > 1
    if np.any(over):
        # The two-point formulas at "n = 1" with r -> a = r/n and p -> gamma:
        # kappa and D2 are unchanged, the bias comes out divided by n (so
        # multiply by n/d = 1/(gamma psi)) and the variance is linear in tr.
        a = g[over] * np.minimum(1.0, s[over])
        bo, vo = _over_two_point(1.0, g[over], a, s1[over], b1[over], tr[over])
        bias[over], variance[over] = bo / (g[over] * s[over]), vo
        formula[over] = "definition2"
    below = ~over
    with np.errstate(divide="ignore"):
        gb = g[below]
        variance[below] = np.where(gb < 1, tr[below] * gb / np.where(gb < 1, 1 - gb, 1.0), np.inf)
    formula[below] = np.where(gb < 1, "theorem1-asymptotic", "threshold")
    return Predictions(p=g, bias=bias, variance=variance, irreducible=tr,
                       formula=formula.astype(str))


def large_p_limit(n, d, noise, snr=1.0) -> Prediction:
    """Limit of Definition 3 as ``p -> infinity`` at fixed ``n, d`` (Theorem 3, {prf:ref}`thm-double-descent`).

    ``s1/(s1 + kappa) -> tau``, the root in ``(0, 1)`` of
    ``d rho tau^2 - (d rho + d + n rho) tau + n rho = 0``; then, with
    ``q = d tau^2 / n`` (the limit of ``D2``),

        bias     -> d (1 - sigma^2) (1 - tau)^2 / (1 - q),
        variance -> d sigma^2 q / (1 - q),
        tr Sigma_r -> d sigma^2.
    """
    n = check.integer("n", n, minimum=2)
    d = check.integer("d", d)
    noise, rho = check.noise(noise), check.snr(snr)
    B = d * rho + d + n * rho
    tau = 2.0 * n * rho / (B + np.sqrt(B * B - 4.0 * d * n * rho * rho))
    q = d * tau**2 / n
    return Prediction(float(d * (1 - noise) * (1 - tau) ** 2 / (1 - q)),
                      float(d * noise * q / (1 - q)), float(d * noise), "definition2")


# ---------------------------------------------------------------------------
# Ridge heads: the deterministic equivalent with lambda > 0 ({ref}`ch-ridge`)
# ---------------------------------------------------------------------------
#
# The ridge head B_lam = (X^T X / n + lam I)^{-1} X^T Y / n
# (:func:`hmmrisk.head.fit_head` with ``ridge=lam``).  Its deterministic
# equivalent is Definition 2 with ``kappa`` moved off the interpolation
# equation: ``kappa > lam`` solves
#
#     lam = kappa (1 - (1/n) sum_i s_i / (s_i + kappa)),
#
# i.e. ``g(kappa) = sum_i s_i/(s_i + kappa) + n lam / kappa - n = 0``, and on
# that root
#
#     1 - D2 = lam / kappa + (kappa / n) sum_i s_i / (s_i + kappa)^2,
#
# a sum of two positive terms (no cancellation, for every p and lam > 0).
# Internally a spectrum is a list of distinct eigenvalues with
# multiplicities ``m_k`` (the unit block of the encoder noise is one entry),
# so the two-point spectrum of the orthogonal embedding costs O(1) per point.

#: ``formula`` of every :class:`Prediction` made by the ridge functions.
RIDGE_FORMULA = "ridge"

__all__ += ["RIDGE_FORMULA", "RidgePredictions", "optimal_ridge", "ridge_kappa",
            "ridge_orthogonal", "ridge_risk"]


@dataclass(frozen=True, eq=False)
class RidgePredictions(Predictions):
    """:class:`Predictions` of the ridge head, with the penalty and ``kappa``.

    All arrays share one shape (the broadcast shape of the model sizes and
    penalties asked for); ``formula`` is ``"ridge"`` everywhere.

    Attributes
    ----------
    ridge : array
        The penalty ``lam > 0`` of each point.
    kappa : array
        The root ``kappa > lam`` of the ridge ``kappa``-equation
        ({prf:ref}`def-ridge-risk`).
    """

    ridge: np.ndarray
    kappa: np.ndarray


def _ridge_kappa(s, m, nn, lam, rtol=4 * np.finfo(float).eps, maxiter=400):
    """Vectorised root of ``g(k) = sum_j m_j s_j/(s_j + k) + n lam/k - n``.

    ``s`` and ``m`` are ``(M, k)`` (eigenvalues ``>= 0`` and multiplicities
    ``>= 0``), ``nn`` and ``lam > 0`` are ``(M,)``.  ``g`` is strictly
    decreasing and convex on ``k > 0``, from ``+inf`` to ``-n``, so the root is
    unique.  It lies in ``[lo, hi]`` with ``lo = max(lam, s_min (P - n)/n)``
    (the second term only when the rank ``P > n``: ``kappa`` increases with
    ``lam`` from Definition 1's root) and ``hi = lam + sum_j m_j s_j / n``
    (from ``kappa = lam + kappa df1(kappa)/n`` and ``kappa df1 <= tr Sigma_x``).
    :func:`_newton_in_bracket` finds it.
    """
    pos = (s > 0) & (m > 0)
    rank = np.where(pos, m, 0.0).sum(axis=-1)
    s_min = np.where(pos, s, np.inf).min(axis=-1)
    lo = np.maximum(lam, np.where(rank > nn, s_min * (rank - nn) / nn, 0.0))
    hi = lam + np.where(pos, m * s, 0.0).sum(axis=-1) / nn

    def g_dg(k):
        kk = k[:, None]
        t = m * s / (s + kk)
        df1, shrink = t.sum(axis=-1), nn * lam / k
        return df1 + shrink - nn, -(t / (s + kk)).sum(axis=-1) - shrink / k, df1 + shrink + nn

    return _newton_in_bracket(g_dg, lo, hi, rtol, maxiter)


def _ridge_core(s, m, b, nn, lam, tr):
    """Bias, variance and ``kappa`` of the ridge deterministic equivalent (flat batches)."""
    k = _ridge_kappa(s, m, nn, lam)
    kk = k[:, None]
    w = m * s / (s + kk) ** 2                                # m_j s_j / (s_j + kappa)^2
    one_minus_d2 = lam / k + k * w.sum(axis=-1) / nn
    d2 = (w * s).sum(axis=-1) / nn
    bias = k**2 * (w * b).sum(axis=-1) / one_minus_d2
    variance = tr * d2 / one_minus_d2
    return bias, variance, k


def _ridge_result(shape, p, bias, variance, tr, lam, k):
    if shape == ():
        return Prediction(float(bias[0]), float(variance[0]), float(tr[0]), RIDGE_FORMULA)
    r = lambda a: np.asarray(a, dtype=float).reshape(shape)    # noqa: E731
    return RidgePredictions(p=r(p), bias=r(bias), variance=r(variance), irreducible=r(tr),
                            formula=np.full(shape, RIDGE_FORMULA), ridge=r(lam), kappa=r(k))


def _ridge_spectrum(eigvals, n, ridge, n_unit, signal=None, tr_sigma_r=None):
    """Validate a spectrum batch and a penalty array; flatten to one batch.

    Returns ``(shape, s, m, b, nn, lam, tr, p)`` with ``s, m, b`` of shape
    ``(M, r + 1)`` (the unit block appended as one entry of multiplicity
    ``n_unit``) and the rest ``(M,)``, ``M = prod(shape)``.
    """
    s = _array("eigvals", eigvals, low=0.0)
    if s.ndim not in (1, 2):
        raise ValueError(f"eigvals must be a 1-d spectrum or a 2-d batch of spectra, got shape {s.shape}")
    batch = () if s.ndim == 1 else (s.shape[0],)
    s2 = np.atleast_2d(s)
    ms = s2.shape[0]
    b2 = np.zeros_like(s2)
    if signal is not None:
        b = _array("signal", signal, low=0.0)
        if b.shape != s.shape:
            raise ValueError(f"signal must have the shape of eigvals {s.shape}, got {b.shape}")
        b2 = np.atleast_2d(b)

    def per_spectrum(name, arr):
        if arr.ndim > 1 or (arr.ndim == 1 and arr.size not in (1, ms)):
            raise ValueError(f"{name} must be a scalar or have one entry per spectrum ({ms}), "
                             f"got shape {arr.shape}")
        return np.broadcast_to(arr.reshape(-1) if arr.ndim else arr, (ms,)).astype(float)

    nu = per_spectrum("n_unit", _int_array("n_unit", n_unit, minimum=0))
    nn = per_spectrum("n", _int_array("n", n, minimum=2))
    tr = per_spectrum("tr_sigma_r", _array("tr_sigma_r", 0.0 if tr_sigma_r is None else tr_sigma_r,
                                           low=0.0))
    lam = _array("ridge", ridge, low=0.0, low_open=True)
    rank = (s2 > 0).sum(axis=-1) + nu
    if np.any(rank == 0):
        raise ValueError("eigvals must hold at least one positive eigenvalue (or n_unit > 0), got none")
    try:
        shape = np.broadcast_shapes(batch, lam.shape)
    except ValueError:
        raise ValueError(f"ridge of shape {lam.shape} does not broadcast against the batch of "
                         f"{ms} spectra") from None
    idx = np.broadcast_to(np.arange(ms).reshape(batch), shape).ravel()
    lam = np.broadcast_to(lam, shape).ravel().astype(float)
    ones = np.ones((ms, 1))
    s_all = np.hstack([s2, ones])
    m_all = np.hstack([np.ones_like(s2), nu[:, None]])
    b_all = np.hstack([b2, 0.0 * ones])
    return (shape, s_all[idx], m_all[idx], b_all[idx], nn[idx], lam, tr[idx], rank[idx])


def ridge_kappa(eigvals, n, ridge, n_unit=0):
    """``kappa`` of the ridge deterministic equivalent ({prf:ref}`def-ridge-risk`).

    The unique root ``kappa > lam`` of

        lam = kappa (1 - (1/n) [sum_i s_i/(s_i + kappa) + n_unit/(1 + kappa)]),

    for any number of eigenvalues (``p < n``, ``p = n`` or ``p > n``).  As
    ``lam -> 0`` it tends to Definition 1's root ({prf:ref}`def-kappa`) when
    ``p > n`` and to 0 (as ``lam n/(n - p)``) when ``p < n``.

    Parameters
    ----------
    eigvals : (r,) or (m, r) array
        Eigenvalues ``s_i >= 0`` of ``Sigma_x`` outside the unit block (zeros
        add nothing: a batch may be zero-padded).
    n : int or (m,) array of int
        Sample size(s), ``n >= 2``.
    ridge : float or array
        ``lam > 0``; broadcast against the batch shape (``()`` for one
        spectrum, ``(m,)`` for a batch).
    n_unit : int or (m,) array of int
        Multiplicity of the eigenvalue 1.

    Returns
    -------
    float or array of the broadcast shape
    """
    shape, s, m, _, nn, lam, _, _ = _ridge_spectrum(eigvals, n, ridge, n_unit)
    k = _ridge_kappa(s, m, nn, lam)
    return float(k[0]) if shape == () else k.reshape(shape)


def ridge_risk(eigvals, signal, n, tr_sigma_r, ridge, n_unit=0):
    """Deterministic equivalent of the ridge head's risk ({prf:ref}`def-ridge-risk`).

    With ``kappa > lam`` from :func:`ridge_kappa` and
    ``D2 = (1/n) sum_i s_i^2 / (s_i + kappa)^2``,

        bias     = kappa^2 sum_i s_i b_i / (s_i + kappa)^2 / (1 - D2),
        variance = tr Sigma_r * D2 / (1 - D2),

    computed with ``1 - D2 = lam/kappa + (kappa/n) sum_i s_i/(s_i + kappa)^2``
    (Hastie, Montanari, Rosset & Tibshirani 2022; Bach 2024).  Valid for every
    ``p`` and ``lam > 0``; ``lam -> 0`` gives Definition 2
    ({prf:ref}`def-predicted-risk`) for ``p > n`` and the limit form of
    Theorem 1 ({prf:ref}`thm-under`) for ``p < n``; ``lam -> inf`` gives bias
    ``sum_i s_i b_i = ||B*||^2_{Sigma_x}`` and variance 0
    ({prf:ref}`prop-ridge-limits`).

    Parameters
    ----------
    eigvals, signal : (r,) or (m, r) arrays
        Eigenvalues ``s_i >= 0`` outside the unit block and the weights
        ``b_i = ||B*^T v_i||^2 >= 0`` of ``B*`` on their eigenvectors.
    n : int or (m,) array of int
        Sample size(s), ``n >= 2``.
    tr_sigma_r : float or (m,) array
        ``tr Sigma_r >= 0``.
    ridge : float or array
        ``lam > 0``, broadcast against the batch shape (``()`` or ``(m,)``):
        a 1-d spectrum with an array of penalties sweeps ``lam``.
    n_unit : int or (m,) array of int
        Multiplicity of the eigenvalue 1, on which ``B*`` has no weight.

    Returns
    -------
    Prediction (one spectrum, scalar ``ridge``) or RidgePredictions
        ``formula`` is ``"ridge"``; ``p`` is the number of non-zero eigenvalues.
    """
    shape, s, m, b, nn, lam, tr, p = _ridge_spectrum(eigvals, n, ridge, n_unit, signal, tr_sigma_r)
    bias, variance, k = _ridge_core(s, m, b, nn, lam, tr)
    return _ridge_result(shape, p, bias, variance, tr, lam, k)


def _ridge_two_point(n, p, d, noise, snr, ridge):
    """Validated, flattened two-point spectra of the orthogonal embedding."""
    n = check.integer("n", n, minimum=2)
    d = check.integer("d", d)
    p = _array("p", p, low=1.0)
    lam = _array("ridge", ridge, low=0.0, low_open=True)
    try:
        shape = np.broadcast_shapes(p.shape, lam.shape)
    except ValueError:
        raise ValueError(f"p of shape {p.shape} and ridge of shape {lam.shape} do not broadcast") from None
    p = np.broadcast_to(p, shape).ravel().astype(float)
    lam = np.broadcast_to(lam, shape).ravel().astype(float)
    s1, r, b1, tr = orthogonal_spectrum(p, d, noise, snr)
    s = np.stack([s1, np.ones_like(s1)], axis=-1)
    m = np.stack([r, p - r], axis=-1)
    b = np.stack([b1, np.zeros_like(b1)], axis=-1)
    return shape, s, m, b, np.full(p.size, float(n)), lam, tr, p


def ridge_orthogonal(n, p, d, noise, snr=1.0, *, ridge):
    """Ridge deterministic equivalent for the orthogonal embedding ({prf:ref}`def-ridge-risk`).

    The two-point spectrum of :func:`orthogonal_spectrum` (``s1`` with
    multiplicity ``r = min(p, d)`` and weight ``b1``, ``1`` with multiplicity
    ``p - r`` and no weight) makes every sum two terms: the ``kappa``-equation
    is the cubic

        kappa^3 + [1 + s1 - lam - (r s1 + p - r)/n] kappa^2
                + [s1 - lam (1 + s1) - s1 p/n] kappa - lam s1 = 0

    with exactly one positive root, found by the safeguarded Newton iteration
    of :func:`ridge_kappa`, O(1) per point.  ``p`` (non-integer allowed) and
    ``ridge`` broadcast against each other, e.g. ``p[:, None]`` against
    ``ridge[None, :]`` for a grid.

    Returns
    -------
    Prediction (scalar ``p`` and ``ridge``) or RidgePredictions
    """
    shape, s, m, b, nn, lam, tr, p = _ridge_two_point(n, p, d, noise, snr, ridge)
    bias, variance, k = _ridge_core(s, m, b, nn, lam, tr)
    return _ridge_result(shape, p, bias, variance, tr, lam, k)


def optimal_ridge(n, p, d, noise, snr=1.0, bounds=(1e-8, 1e8), grid: int = 97):
    """The risk-minimising ridge penalty ``lam* >= 0`` for the orthogonal embedding ({ref}`ch-ridge`).

    Minimises the excess risk of :func:`ridge_orthogonal` over
    ``log lam in [log bounds[0], log bounds[1]]``, vectorised over ``p``: a
    grid of ``grid`` log-spaced penalties locates the best cell, then a
    golden-section search on the two neighbouring cells refines it (the
    minimiser of a smooth function is determined only to about the square root
    of the machine precision in relative terms, ~1e-8).  For ``p <= d``
    (``Sigma_x`` a multiple of the identity, ``B*`` spread evenly over it) the
    minimiser is ``lam* = tr Sigma_r / (n b1)`` exactly
    ({prf:ref}`prop-ridge-optimal`), which the tests use as an independent
    check.

    If for some ``p > n`` the smallest risk on the grid is at its lower end,
    the risk still increases at ``lam = bounds[0]``: among penalties
    ``lam >= 0`` the minimum-norm head is best (the unconstrained optimum would
    be ``lam <= 0``).  That point gets ``lam* = 0`` and Definition 2
    ({prf:ref}`def-predicted-risk`, the ``lam -> 0`` limit,
    {prf:ref}`prop-ridge-limits`), with ``formula = "definition2"``.

    Parameters
    ----------
    n, p, d, noise, snr
        As in :func:`ridge_orthogonal` (``p`` is flattened); ``noise < 1``
        (for ``sigma^2 = 1``, ``B* = 0`` and the best penalty is infinite).
    bounds : (float, float)
        Search interval for ``lam``, ``0 < low < high``.
    grid : int
        Number of grid points, ``>= 5``.

    Returns
    -------
    lam_star : float or 1-d array
        The minimiser (``0.0`` where the minimum-norm head is best).
    pred : Prediction or RidgePredictions
        The predicted risk at ``lam_star``.

    Raises
    ------
    ValueError
        If the minimum lies at the upper end of ``bounds``, or at the lower end
        for some ``p <= n`` (widen ``bounds``), or an argument is out of range.
    """
    noise = check.real("noise", noise, low=0.0, high=1.0, high_open=True)
    n = check.integer("n", n, minimum=2)
    grid = check.integer("grid", grid, minimum=5)
    try:
        low, high = bounds
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be a pair (low, high), got {bounds!r}") from None
    low = check.real("bounds[0]", low, low=0.0, low_open=True)
    high = check.real("bounds[1]", high, low=low, low_open=True)
    scalar = np.ndim(p) == 0
    p = np.atleast_1d(_array("p", p, low=1.0)).ravel().astype(float)
    logs = np.linspace(np.log(low), np.log(high), grid)
    risk = ridge_orthogonal(n, p[:, None], d, noise, snr, ridge=np.exp(logs)[None, :]).risk
    j = np.argmin(risk, axis=1)
    zero = (j == 0) & (p > n)
    bad = ((j == 0) & ~zero) | (j == grid - 1)
    if np.any(bad):
        i = int(np.argmax(bad))
        where = "lower" if j[i] == 0 else "upper"
        raise ValueError(f"the best ridge for p = {p[i]:g} lies at the {where} end of "
                         f"bounds={bounds!r}; widen bounds")
    j = np.clip(j, 1, grid - 2)
    a, c = logs[j - 1], logs[j + 1]
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = c - golden * (c - a), a + golden * (c - a)
    f = lambda x: ridge_orthogonal(n, p, d, noise, snr, ridge=np.exp(x)).risk   # noqa: E731
    f1, f2 = f(x1), f(x2)
    while np.max(c - a) > 1e-10:
        left = f1 <= f2                       # the minimum is in [a, x2]
        a, c = np.where(left, a, x1), np.where(left, x2, c)
        x1n = np.where(left, c - golden * (c - a), x2)
        x2n = np.where(left, x1, a + golden * (c - a))
        fn = f(np.where(left, x1n, x2n))
        f1, f2 = np.where(left, fn, f2), np.where(left, f1, fn)
        x1, x2 = x1n, x2n
    lam_star = np.exp(0.5 * (a + c))
    pred = ridge_orthogonal(n, p, d, noise, snr, ridge=lam_star)
    if np.any(zero):
        lam_star[zero] = 0.0
        s1, r, b1, tr = orthogonal_spectrum(p[zero], d, noise, snr)
        bias, variance = _over_two_point(float(n), p[zero], r, s1, b1, tr)
        arrays = {k: getattr(pred, k).copy() for k in ("bias", "variance", "ridge", "kappa", "formula")}
        arrays["bias"][zero], arrays["variance"][zero] = bias, variance
        arrays["ridge"][zero] = 0.0
        arrays["kappa"][zero] = _kappa_two_point(float(n), p[zero], r, s1)
        arrays["formula"] = arrays["formula"].astype(object)
        arrays["formula"][zero] = "definition2"
        arrays["formula"] = arrays["formula"].astype(str)
        pred = RidgePredictions(p=pred.p, irreducible=pred.irreducible, **arrays)
    if scalar:
        return float(lam_star[0]), pred[0]
    return lam_star, pred
