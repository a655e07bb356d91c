"""The paper's results: Theorem 1, Definitions 1-3 and the large-``p`` limit.

Statements of Luo, Wang & Huang (arXiv 2410.00699) as the book derives them
(:ref:`ch-theorem1`, :ref:`ch-overparameterised`, :ref:`ch-double-descent`).
Extensions beyond the paper (ridge heads) live in ``hmmrisk.theory.ridge``;
both are thin wrappers of one kernel (``hmmrisk/theory/_kernel.py``).
"""

from __future__ import annotations

import numpy as np

from .. import _validate as check
from .._validate import NOISE, SNR, Integer, Options, Real, validate
from .._resources import MAX_SIGNAL
from ..population import Population
from . import _kernel as kernel
from ._results import Prediction, Predictions

__all__ = ["definition2", "definition3", "definition3_proportional", "kappa_orthogonal",
           "large_p_limit", "orthogonal_spectrum", "predicted_curve", "predicted_risk",
           "solve_kappa", "theorem1"]


def _scalar_or_array(x, was_scalar):
    return float(x) if was_scalar else x


# ---------------------------------------------------------------------------
# Theorem 1
# ---------------------------------------------------------------------------

@validate(n=Real(gt=1.0, array=True), p=Real(ge=1.0, array=True),
          irreducible=Real(ge=0.0, array=True))
def theorem1(n, p, *, irreducible, exact: bool = True):
    """:prf:ref:`Theorem 1 <thm-under>`: the under-parameterised variance.

    For ``p < n`` the bias is zero and the mean variance is

    * ``exact=True``:  ``tr Sigma_r * p / (n - p - 1)`` for ``p < n - 1``
      (inverse-Wishart mean, Gaussian inputs, any ``Sigma_x``), ``inf`` for
      ``n - 1 <= p <= n``;
    * ``exact=False``: ``tr Sigma_r * gamma / (1 - gamma)``, ``gamma = p/n``
      (the almost-sure limit as ``p/n -> gamma < 1``), ``inf`` at ``p = n``.

    The arguments follow the package's order ``(n, p, ...)``; ``irreducible``
    is keyword-only.

    Parameters
    ----------
    n : float or array
        Sample size, ``n > 1``, broadcast against ``p`` (a real ``n`` is the
        effective sample size of :prf:ref:`rem-trajectory-neff`).
    p : float or array
        Model sizes, ``1 <= p <= n`` (non-integer ``p`` interpolates).
    irreducible : float or array
        ``tr Sigma_r >= 0`` (broadcast against ``p``), keyword-only.
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

    Examples
    --------
    >>> from hmmrisk.theory import theorem1
    >>> theorem1(31, 10, irreducible=2.0)
    1.0
    """
    scalar = np.ndim(p) == 0 and np.ndim(irreducible) == 0 and np.ndim(n) == 0
    nn, tr = n, irreducible
    try:
        p, tr, nn = np.broadcast_arrays(p, tr, nn)
    except ValueError:
        raise ValueError(f"n of shape {nn.shape} does not broadcast against p {p.shape}") from None
    if np.any(p > nn):
        raise ValueError(f"Theorem 1 covers p <= n = {nn[p > nn].ravel()[0]:g}; got "
                         f"p = {p[p > nn].ravel()[0]!r} (use definition2 for p > n)")
    gap = (nn - 1.0 - p) if exact else (nn - p)
    factor = np.where(gap > 0, p / np.where(gap > 0, gap, 1.0), np.inf)
    # tr Sigma_r = 0 means V_X = 0 for every X, so its mean is 0 even at the threshold.
    out = np.where(tr == 0, 0.0, tr * np.where(tr == 0, 0.0, factor))
    return _scalar_or_array(out, scalar)


# ---------------------------------------------------------------------------
# Definitions 1 and 2 on a spectrum
# ---------------------------------------------------------------------------

def _over_spectrum(eigvals, n, n_unit, signal=None, irreducible=None):
    """:func:`kernel.spectrum` plus the rank condition ``p > n`` of Definitions 1-2."""
    batch, sp = kernel.spectrum(eigvals, n, n_unit, signal, irreducible)
    rank = (sp.s > 0).sum(axis=-1) + sp.n_unit
    if np.any(rank <= sp.n):
        i = int(np.argmax(rank <= sp.n))
        raise ValueError(f"Definitions 1-2 need more than n non-zero eigenvalues (p > n): "
                         f"got {int(rank[i])} (with n_unit={int(sp.n_unit[i])}) for n = {int(sp.n[i])}")
    return batch, sp


def solve_kappa(eigvals, n, n_unit=0):
    """:prf:ref:`Definition 1 <def-kappa>`: the root ``kappa > 0`` of

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

    Examples
    --------
    >>> from hmmrisk.theory import solve_kappa
    >>> round(solve_kappa([1.0] * 30, 20), 12)    # one eigenvalue: kappa = s (p - n)/n
    0.5
    """
    batch, sp = _over_spectrum(eigvals, n, n_unit)
    k = kernel.solve_kappa(sp, 0.0)
    return float(k[0]) if batch == () else k


def definition2(eigvals, signal, n, irreducible, n_unit=0):
    """:prf:ref:`Definition 2 <def-predicted-risk>`: predicted bias and variance, ``p > n``.

    With ``kappa`` from :prf:ref:`Definition 1 <def-kappa>` and
    ``D2 = (1/n) sum_i s_i^2 / (s_i + kappa)^2``,

        bias     = kappa^2 sum_i s_i b_i / (s_i + kappa)^2 / (1 - D2),
        variance = tr Sigma_r * D2 / (1 - D2),

    evaluated in the stable forms of the kernel (``1 - D2`` as a sum of
    positive terms).

    Parameters
    ----------
    eigvals : (r,) or (m, r) array
        Eigenvalues ``s_i >= 0`` of ``Sigma_x`` outside the unit block.
    signal : array like ``eigvals``
        ``b_i = ||B*^T v_i||^2 >= 0``, the weight of ``B*`` on each eigenvector.
    n : int or (m,) array
        Sample size(s); the spectrum must have more than ``n`` non-zero
        eigenvalues (``p > n``).
    irreducible : float or (m,) array
        ``tr Sigma_r >= 0``.
    n_unit : int or (m,) array
        Multiplicity of the eigenvalue 1 on which ``B*`` has no weight.

    Returns
    -------
    Prediction or Predictions
        One :class:`Prediction` for a single spectrum, else
        :class:`Predictions` with ``p = r_nonzero + n_unit``.

    Examples
    --------
    >>> from hmmrisk.theory import definition2
    >>> pred = definition2([1.0] * 30, [0.0] * 30, 20, irreducible=1.0)
    >>> round(pred.variance, 12)                  # D2 = n/p: variance = tr n/(p - n)
    2.0
    """
    batch, sp = _over_spectrum(eigvals, n, n_unit, signal, irreducible)
    bias, variance = kernel.bias_variance(sp, kernel.solve_kappa(sp, 0.0))
    if batch == ():
        return Prediction(float(bias[0]), float(variance[0]), float(sp.tr[0]), "definition2")
    p = (sp.s > 0).sum(axis=-1) + sp.n_unit
    return Predictions(p=p.astype(float), bias=bias, variance=variance, irreducible=sp.tr,
                       formula=np.full(p.size, "definition2"))


# ---------------------------------------------------------------------------
# The theory for a Population: Theorem 1, threshold, Definition 2
# ---------------------------------------------------------------------------

@validate(n=Integer(min=2))
def predicted_risk(pop: Population, n: int) -> Prediction:
    """The theory's excess risk of the head on ``pop`` at sample size ``n``.

    * ``p < n - 1``: Theorem 1, exact (:prf:ref:`thm-under`): bias 0,
      variance ``tr Sigma_r p / (n - p - 1)``;
    * ``n - 1 <= p <= n``: the mean risk is infinite (``formula="threshold"``,
      bias 0, variance ``inf``);
    * ``p > n``: :prf:ref:`Definition 2 <def-predicted-risk>` on the spectrum
      of ``Sigma_x``; the eigenvalue 1 of multiplicity ``pop.n_unit`` is
      handled analytically, so the cost is ``O(d)`` after the ``O(p d^2)``
      population.

    For ``p = n + 1`` Definition 2 is finite while the Gaussian mean risk is
    not: Definition 2 is a deterministic equivalent of the conditional risk
    ``R_X`` (:prf:ref:`Theorem 2 <thm-over>`), not of its mean.  This is
    ``predicted_curve([pop], n)[0]``.

    Examples
    --------
    >>> import hmmrisk as hr
    >>> pop = hr.population(hr.make_model(10, 5, 0.5, rng=0))
    >>> hr.theory.predicted_risk(pop, 30).formula
    'theorem1-exact'
    """
    if not isinstance(pop, Population):
        raise TypeError(f"pop must be a Population (see hmmrisk.population), got {type(pop).__name__}")
    return predicted_curve([pop], n)[0]


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
            raise TypeError(f"pops must hold Population objects, got {type(pop).__name__}")
    nn = check.integer_array("n", n, minimum=2)
    if nn.ndim > 1 or (nn.ndim == 1 and nn.size not in (1, len(pops))):
        raise ValueError(f"n must be a scalar or have one entry per population, got shape {nn.shape}")
    nn = np.broadcast_to(nn, (len(pops),))
    m = len(pops)
    p = np.array([pop.p for pop in pops], dtype=float)
    tr = np.array([pop.irreducible for pop in pops])
    bias, variance = np.zeros(m), np.zeros(m)
    formula = np.empty(m, dtype=object)
    under = p <= nn
    if np.any(under):
        variance[under] = theorem1(nn[under], p[under], irreducible=tr[under], exact=True)
        formula[under] = "theorem1-exact"
    thr = under & (p >= nn - 1)
    variance[thr] = np.inf
    formula[thr] = "threshold"
    over = np.flatnonzero(~under)
    if over.size:
        r = max(pops[i].eigvals.size for i in over)
        s = np.zeros((over.size, r))
        b = np.zeros((over.size, r))
        for j, i in enumerate(over):
            s[j, :pops[i].eigvals.size] = pops[i].eigvals
            b[j, :pops[i].signal.size] = pops[i].signal
        nu = np.array([pops[i].n_unit for i in over])
        pred = definition2(s, b, nn[over], tr[over], n_unit=nu)
        bias[over], variance[over] = pred.bias, pred.variance
        formula[over] = "definition2"
    return Predictions(p=p, bias=bias, variance=variance, irreducible=tr,
                       formula=formula.astype(str))


# ---------------------------------------------------------------------------
# Definition 3: the orthogonal embedding in closed form
# ---------------------------------------------------------------------------

@validate(p=Real(ge=1.0, array=True), d=Integer(), noise=NOISE, snr=SNR)
def orthogonal_spectrum(p, d, noise, snr=1.0):
    """Population of the orthogonal embedding (:prf:ref:`Lemma 2 <lem-well-specified>`).

    With ``d_p = min(p, d)``, ``Sigma_x`` has the eigenvalue
    ``s1 = 1 + snr max(p, d) / d`` with multiplicity ``d_p`` and 1 with
    multiplicity ``p - d_p``; ``B*`` has weight
    ``b1 = (s1 - 1)(1 - sigma^2) / s1^2`` on each top eigenvector and none on
    the unit block, and ``tr Sigma_r = (1 - sigma^2)(d - d_p + d_p / s1) + d sigma^2``.

    The domain is that of :func:`hmmrisk.hmm.make_model`: ``snr max(p, d)/d <= 1e300``
    (``hmmrisk._resources.MAX_SIGNAL``) and a finite ``tr Sigma_x = p + d_p (s1 - 1)``;
    beyond it ``ValueError`` names ``snr`` (and ``p``).  Every function built on
    this spectrum (:func:`definition3`, :func:`kappa_orthogonal`,
    :func:`~hmmrisk.theory.ridge_orthogonal`, :func:`~hmmrisk.theory.optimal_ridge`)
    is accurate over the whole domain (scaled forms, see ``_kernel.py``).

    Returns
    -------
    (s1, d_p, b1, irreducible) : arrays shaped like ``p``
    """
    r = np.minimum(p, d)
    with np.errstate(over="ignore"):                   # refused just below
        signal = snr * (np.maximum(p, d) / d)
    if not np.all(signal <= MAX_SIGNAL):
        raise ValueError(f"snr must satisfy snr * max(p, d) / d <= {MAX_SIGNAL:.0e} (the "
                         f"eigenvalues of Sigma_x must be finite), got snr = {snr!r} with "
                         f"p = {np.max(p):g}, d = {d}")
    with np.errstate(over="ignore"):
        trace = p + r * signal                          # tr Sigma_x
    if not np.all(np.isfinite(trace)):
        i = np.argmax(~np.isfinite(trace))
        raise ValueError(f"p and snr must keep tr Sigma_x = p + min(p, d) snr max(p, d)/d finite, "
                         f"got p = {np.ravel(p)[i]:g}, snr = {snr!r}, d = {d}")
    s1 = 1.0 + signal
    b1 = (signal / s1) * (1.0 - noise) / s1          # (s1 - 1)(1 - sigma^2)/s1^2, no square
    tr = (1.0 - noise) * (d - r + r / s1) + d * noise
    return s1, r, b1, tr


@validate(n=Integer(min=2), p=Real(ge=1.0, array=True), d=Integer(), snr=SNR)
def kappa_orthogonal(n, p, d, snr=1.0):
    """:prf:ref:`Definition 1 <def-kappa>` for the orthogonal embedding, in closed form.

    ``kappa`` solves ``d_p s1/(s1 + kappa) + (p - d_p)/(1 + kappa) = n``
    (``d_p = min(p, d)``, ``s1 = 1 + snr max(p, d)/d``), a quadratic with one
    positive root for ``p > n`` (:prf:ref:`Definition 3 <def-hmm-risk>`).
    """
    scalar = np.ndim(p) == 0
    if np.any(p <= n):
        raise ValueError(f"kappa exists only for p > n = {n}; got p = {p[p <= n].ravel()[0]!r}")
    s1, r, _, _ = orthogonal_spectrum(p, d, 0.0, snr)
    return _scalar_or_array(kernel.kappa_two_point(float(n), p, r, s1), scalar)


def _two_point_definition2(n, p, r, s1, b1, tr):
    """Definition 2 on the two-point spectrum (``p > n``), fast-path ``kappa``."""
    sp = kernel.two_point(n, p, r, s1, b1, tr)
    return kernel.bias_variance(sp, kernel.kappa_two_point(sp.n, p, r, s1).ravel())


@validate(under=Options(("exact", "asymptotic")), d=Integer(), p=Real(ge=1.0, array=True),
          n=Real(gt=1.0, array=True), noise=NOISE, snr=SNR)
def definition3(n, p, d, noise, snr=1.0, under: str = "exact"):
    """:prf:ref:`Definition 3 <def-hmm-risk>`: the HMM risk curve, orthogonal embedding.

    Closed form in ``(n, p, d, sigma^2, snr)``, vectorised over ``p``:

    * ``p > n``: Definition 2 on the two-point spectrum of
      :func:`orthogonal_spectrum`, with ``kappa`` the positive root of the
      quadratic of :func:`kappa_orthogonal`;
    * ``p <= n``: :prf:ref:`Theorem 1 <thm-under>` (:func:`theorem1`),
      ``under="exact"`` (``p / (n - p - 1)``, ``inf`` for
      ``n - 1 <= p <= n``) or ``"asymptotic"`` (``gamma / (1 - gamma)``,
      ``inf`` at ``p = n``).

    Non-integer ``p`` is accepted (the formulas are analytic in ``p``), which
    draws smooth theory lines; so is a real ``n > 1`` (scalar or shaped like
    ``p``), the effective sample size of :prf:ref:`rem-trajectory-neff`.

    Returns
    -------
    Prediction (scalar ``p``) or Predictions

    Examples
    --------
    >>> from hmmrisk.theory import definition3
    >>> pred = definition3(100, [50, 200], 50, noise=0.5)
    >>> pred.formula.tolist()
    ['theorem1-exact', 'definition2']
    """
    scalar = np.ndim(p) == 0
    p = np.atleast_1d(p).astype(float)
    nn = n
    if nn.ndim > 1 or (nn.ndim == 1 and (scalar or nn.shape != p.shape)):
        raise ValueError(f"n must be a scalar or shaped like p {np.shape(p) if not scalar else ()}, "
                         f"got shape {nn.shape}")
    nn = np.broadcast_to(nn, p.shape).astype(float)
    s1, r, b1, tr = orthogonal_spectrum(p, d, noise, snr)
    bias = np.zeros_like(p)
    variance = np.empty_like(p)
    formula = np.empty(p.shape, dtype=object)
    over = p > nn
    if np.any(over):
        bias[over], variance[over] = _two_point_definition2(nn[over], p[over], r[over], s1[over],
                                                            b1[over], tr[over])
        formula[over] = "definition2"
    below = ~over
    if np.any(below):
        variance[below] = theorem1(nn[below], p[below], irreducible=tr[below],
                                   exact=(under == "exact"))
        formula[below] = "theorem1-" + under
        formula[below & np.isinf(variance)] = "threshold"
    pred = Predictions(p=p, bias=bias, variance=variance, irreducible=tr,
                       formula=formula.astype(str))
    return pred[0] if scalar else pred


@validate(gamma=Real(gt=0.0, array=True), psi=Real(gt=0.0, array=True), noise=NOISE, snr=SNR)
def definition3_proportional(gamma, psi, noise, snr=1.0) -> Predictions:
    """:prf:ref:`Definition 3 <def-hmm-risk>` per output coordinate, in ``(gamma, psi)``.

    With ``gamma = p/n`` and ``psi = d/p``, everything Definition 3 returns is
    ``d`` times a function of ``(gamma, psi, sigma^2, snr)`` alone.  Writing
    ``a = gamma min(1, psi)`` (``= r/n``), ``c = gamma max(0, 1 - psi)``
    (``= (p - r)/n``), ``s1 = 1 + snr max(1, 1/psi)``:

    * ``gamma > 1``: ``kappa`` solves ``a s1/(s1 + kappa) + c/(1 + kappa) = 1`` and
      bias/d, variance/d follow Definition 2;
    * ``gamma <= 1``: Theorem 1 asymptotic (:func:`theorem1` with ``n = 1``,
      ``p = gamma``), variance/d = ``(tr Sigma_r / d) gamma / (1 - gamma)``;
      ``inf`` at ``gamma = 1``.

    ``gamma`` and ``psi`` broadcast against each other.  The finite-size
    Definition 3 with ``under="asymptotic"`` equals ``d`` times this exactly.
    """
    g, s = np.broadcast_arrays(gamma, psi)
    g, s = np.atleast_1d(g).astype(float), np.atleast_1d(s).astype(float)
    frac_r = np.minimum(1.0, 1.0 / s)                  # r/d
    with np.errstate(over="ignore"):                   # refused just below
        signal = snr * np.maximum(1.0, 1.0 / s)
    if not np.all(signal <= MAX_SIGNAL):
        raise ValueError(f"snr must satisfy snr * max(1, 1/psi) <= {MAX_SIGNAL:.0e} (the "
                         f"eigenvalues of Sigma_x must be finite), got snr = {snr!r} with "
                         f"psi = {np.min(s):g}")
    with np.errstate(over="ignore"):
        trace = g + g * np.minimum(1.0, s) * signal      # tr Sigma_x / n
    if not np.all(np.isfinite(trace)):
        i = np.argmax(~np.isfinite(trace))
        raise ValueError(f"gamma, psi and snr must keep tr Sigma_x / n = gamma (1 + min(1, psi) "
                         f"snr max(1, 1/psi)) finite, got gamma = {g.ravel()[i]:g}, "
                         f"psi = {s.ravel()[i]:g}, snr = {snr!r}")
    s1 = 1.0 + signal
    b1 = (signal / s1) * (1.0 - noise) / s1
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
        bo, vo = _two_point_definition2(1.0, g[over], a, s1[over], b1[over], tr[over])
        bias[over], variance[over] = bo / (g[over] * s[over]), vo
        formula[over] = "definition2"
    below = ~over
    if np.any(below):
        # theorem1 needs p >= 1; per coordinate gamma/(1 - gamma) is its limit form at n = 1
        gb = g[below]
        with np.errstate(divide="ignore"):
            variance[below] = np.where(gb < 1, tr[below] * (gb / np.where(gb < 1, 1 - gb, 1.0)),
                                       np.inf)
        formula[below] = np.where(gb < 1, "theorem1-asymptotic", "threshold")
    return Predictions(p=g, bias=bias, variance=variance, irreducible=tr,
                       formula=formula.astype(str))


@validate(n=Integer(min=2), d=Integer(), noise=NOISE, snr=SNR)
def large_p_limit(n, d, noise, snr=1.0) -> Prediction:
    """Limit of Definition 3 as ``p -> infinity`` at fixed ``n, d`` (:prf:ref:`Theorem 3 <thm-double-descent>`).

    ``s1/(s1 + kappa) -> tau`` (:func:`large_p_tau`); then, with
    ``q = d tau^2 / n`` (the limit of ``D2``),

        bias     -> d (1 - sigma^2) (1 - tau)^2 / (1 - q),
        variance -> d sigma^2 q / (1 - q),
        tr Sigma_r -> d sigma^2.
    """
    tau = large_p_tau(n, d, snr)
    q = d * tau**2 / n
    return Prediction(float(d * (1 - noise) * (1 - tau) ** 2 / (1 - q)),
                      float(d * noise * q / (1 - q)), float(d * noise), "definition2")


@validate(n=Integer(min=2), d=Integer(), snr=Real(gt=0.0, array=True))
def large_p_tau(n, d, snr):
    """``tau = lim s1/(s1 + kappa)`` as ``p -> infinity`` (:prf:ref:`Theorem 3 <thm-double-descent>`).

    The root in ``(0, 1)`` of ``d snr tau^2 - (d snr + d + n snr) tau + n snr = 0``,
    in the form without cancellation; ``snr`` may be an array.
    """
    # Divided by b = d snr + n snr + d (weights a_d + a_n + a_1 = 1, each in [0, 1]);
    # the discriminant b^2 - 4 d n snr^2 = snr^2 (n - d)^2 + 2 d snr (d + n) + d^2
    # is a sum of squares and products without cancellation, and nothing overflows.
    big = snr >= 1.0
    with np.errstate(over="ignore", divide="ignore"):   # the branch np.where discards
        w_d = np.where(big, float(d), d * snr)          # (d snr, n snr, d) / max(snr, 1)
        w_n = np.where(big, float(n), n * snr)
        w_1 = np.where(big, d / snr, float(d))
    b = w_d + w_n + w_1
    a_d, a_n, a_1 = w_d / b, w_n / b, w_1 / b
    disc = (a_n - a_d) ** 2 + 2.0 * a_1 * (a_d + a_n) + a_1**2
    tau = 2.0 * a_n / (1.0 + np.sqrt(disc))
    return float(tau) if np.ndim(snr) == 0 else tau
