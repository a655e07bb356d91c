"""Exact finite-``n`` means against the asymptotic predictions (:ref:`ch-finite-n`).

Two exact mean risks of the least-squares head are known in closed form
(Gaussian inputs, Lemma 1 :prf:ref:`lem-bias-variance`):

* ``p < n - 1``, any ``Sigma_x`` (:prf:ref:`Theorem 1 <thm-under>`): the bias
  is zero and ``E V_X = tr Sigma_r * p / (n - p - 1)``, against the
  proportional limit ``tr Sigma_r * gamma / (1 - gamma)``;
* ``p > n + 1``, isotropic ``Sigma_x = c I_p`` (:prf:ref:`prop-isotropic`):
  ``E B_X = S (1 - n/p)`` and ``E V_X = tr Sigma_r * n / (p - n - 1)``, with
  ``S = c ||B*||_F^2 = tr(B*^T Sigma_x B*)``, against
  :prf:ref:`Definition 2 <def-predicted-risk>`, which gives ``S (1 - n/p)`` and
  ``tr Sigma_r * n / (p - n)``.

Their relative gap ``exact / asymptotic - 1`` (:prf:ref:`prop-finite-n-gap`)
is ``nu / (|p - n| - 1)``, where ``nu`` is the share of the variance in the
asymptotic risk (``nu = 1`` below the threshold).  At fixed ``gamma = p / n``
it is ``C / n + O(1 / n^2)`` with ``C = nu / |1 - gamma|``.

For the anisotropic spectrum of the HMM with ``p > n`` no exact mean is
known; :func:`measured_gap` measures the gap between
:prf:ref:`Definition 3 <def-hmm-risk>` and the Monte Carlo mean of
:func:`~hmmrisk.risk.simulate_risk` at fixed ``(gamma, psi = d / p)`` as ``n``
grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _validate as check
from ._validate import (NOISE, SEED, SNR, Integer, Real, spawn_seeds,
                        validate)
from .sweep import run_point
from .theory import (Predictions, definition2, definition3,
                     orthogonal_spectrum, theorem1)

_POSITIVE = Real(gt=0.0, array=True)
_SIGNAL = Real(ge=0.0, array=True)

__all__ = ["ExactVsAsymptotic", "MeasuredGap", "distance_for_gap", "isotropic",
           "isotropic_gap", "leading_order", "measured_gap"]


# ---------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ExactVsAsymptotic:
    """Exact finite-``n`` mean risk and its asymptotic prediction (arrays of one shape).

    ``exact_*`` are the exact means of Lemma 1's ``B_X`` and ``V_X``
    (``inf`` where the mean is infinite, ``|p - n| <= 1``);
    ``asymptotic_*`` are Theorem 1's limit form (``p < n``) or Definition 2
    (``p > n``), ``inf`` at ``p = n``.
    """

    n: np.ndarray
    p: np.ndarray
    exact_bias: np.ndarray
    exact_variance: np.ndarray
    asymptotic_bias: np.ndarray
    asymptotic_variance: np.ndarray

    @property
    def exact_risk(self) -> np.ndarray:
        """Exact mean excess risk ``E B_X + E V_X``."""
        return self.exact_bias + self.exact_variance

    @property
    def asymptotic_risk(self) -> np.ndarray:
        """Asymptotic (deterministic-equivalent) excess risk."""
        return self.asymptotic_bias + self.asymptotic_variance

    @property
    def relative_gap(self) -> np.ndarray:
        """``exact_risk / asymptotic_risk - 1``; ``inf`` for ``|p - n| <= 1``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = self.exact_risk / self.asymptotic_risk - 1.0
        return np.where(np.abs(self.p - self.n) <= 1, np.inf, gap)


@validate(n=Integer(min=2, array=True), p=Integer(array=True), signal=_SIGNAL, irreducible=_POSITIVE)
def isotropic(n, p, signal=0.0, irreducible=1.0) -> ExactVsAsymptotic:
    """Exact and asymptotic mean risk for isotropic ``Sigma_x`` (:prf:ref:`prop-finite-n-gap`).

    With Gaussian rows, ``Sigma_x = c I_p``, ``S = c ||B*||_F^2`` (``signal``)
    and ``tr Sigma_r`` (``irreducible``):

    * ``p <= n``: exact ``(0, T p / (n - p - 1))`` and asymptotic
      ``(0, T gamma / (1 - gamma))``, both from
      :func:`hmmrisk.theory.theorem1` (this branch holds for any ``Sigma_x``;
      the exact variance is ``inf`` for ``p >= n - 1``, the asymptotic one at ``p = n``);
    * ``p > n``: exact ``(S (1 - n/p), T n / (p - n - 1))``
      (:prf:ref:`prop-isotropic`) and asymptotic from
      :func:`hmmrisk.theory.definition2` on the spectrum ``c I_p``
      (``S (1 - n/p)``, ``T n / (p - n)``).

    ``n``, ``p``, ``signal`` and ``irreducible`` broadcast against each other.
    The risk depends on ``c`` and ``B*`` only through ``S`` (rescale
    ``x -> x / sqrt(c)``, ``B* -> sqrt(c) B*``), so Definition 2 is
    evaluated with ``c = 1``.

    Parameters
    ----------
    n : int or array of int
        Sample sizes, ``n >= 2``.
    p : int or array of int
        Model sizes, ``p >= 1``.
    signal : float or array
        ``S = tr(B*^T Sigma_x B*) >= 0`` (unused for ``p < n``).
    irreducible : float or array
        ``tr Sigma_r > 0``.

    Returns
    -------
    ExactVsAsymptotic
        Float arrays of the broadcast shape of the arguments.
    """
    n, p, s, t = np.broadcast_arrays(n, p, signal, irreducible)
    shape = n.shape
    n, p, s, t = (a.ravel() for a in (n, p, s, t))
    eb, ev, ab, av = (np.zeros(n.size) for _ in range(4))
    under = p <= n
    for nv in np.unique(n[under]):
        k = under & (n == nv)
        ev[k] = theorem1(int(nv), p[k], irreducible=t[k], exact=True)
        av[k] = theorem1(int(nv), p[k], irreducible=t[k], exact=False)
    over = ~under
    if np.any(over):
        no, po, so, to = n[over], p[over], s[over], t[over]
        eb[over] = so * (1.0 - no / po)
        gap = po - no - 1.0
        ev[over] = np.where(gap > 0, to * no / np.where(gap > 0, gap, 1.0), np.inf)
        pred = definition2(np.ones((po.size, 1)), so[:, None], no, to, n_unit=po - 1)
        ab[over], av[over] = pred.bias, pred.variance
    return ExactVsAsymptotic(*(a.astype(float).reshape(shape) for a in (n, p, eb, ev, ab, av)))


def _variance_share(n, p, s, t):
    """Share ``v`` of the variance in the asymptotic risk (1 for ``p < n``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        var = t * n / (p - n)
        bias = s * (1.0 - n / p)
        return np.where(p > n, var / (var + bias), 1.0)


@validate(n=_POSITIVE, p=_POSITIVE, signal=_SIGNAL, irreducible=_POSITIVE)
def isotropic_gap(n, p, signal=0.0, irreducible=1.0):
    """Relative gap ``exact / asymptotic - 1`` in closed form (:prf:ref:`prop-finite-n-gap`).

    ``gap = nu / (|p - n| - 1)`` for ``|p - n| > 1`` (``inf`` otherwise), with
    ``nu = 1`` for ``p < n`` (any ``Sigma_x``) and, for ``p > n`` and
    ``Sigma_x = c I``, ``nu = V / (B + V)`` the variance share of
    Definition 2: ``V = tr(Sigma_r) n / (p - n)``, ``B = S (1 - n / p)``.  With
    ``p = gamma n``: ``gap = nu / (|1 - gamma| n - 1) = C / n + C / (|1 - gamma| n^2) + ...``,
    ``C`` = :func:`leading_order`.

    Unlike :func:`isotropic`, ``n`` and ``p`` may be any reals (``n > 0``,
    ``p > 0``) so that smooth lines can be drawn at fixed ``gamma``.

    Returns
    -------
    float or array
        Broadcast shape of the arguments; a float if all are scalars.
    """
    scalar = all(np.ndim(a) == 0 for a in (n, p, signal, irreducible))   # 0-d after validation
    n, p, s, t = np.broadcast_arrays(n, p, signal, irreducible)
    dist = np.abs(p - n) - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(dist > 0, _variance_share(n, p, s, t) / np.where(dist > 0, dist, 1.0), np.inf)
    return float(out) if scalar else out


@validate(gamma=_POSITIVE, signal=_SIGNAL, irreducible=_POSITIVE)
def leading_order(gamma, signal=0.0, irreducible=1.0):
    """``C = lim n * gap`` at fixed ``gamma = p / n`` (:prf:ref:`prop-finite-n-gap`).

    ``C = 1 / (1 - gamma)`` for ``gamma < 1``;
    ``C = nu / (gamma - 1)`` with ``nu = 1 / (1 + (S / tr Sigma_r)(gamma - 1)^2 / gamma)``
    for ``gamma > 1`` (isotropic ``Sigma_x``), where the ratio ``S / tr Sigma_r`` of
    ``signal`` to ``irreducible`` is held fixed as ``n`` grows.  ``inf`` at
    ``gamma = 1``.
    """
    scalar = all(np.ndim(a) == 0 for a in (gamma, signal, irreducible))   # 0-d after validation
    g, s, t = np.broadcast_arrays(gamma, signal, irreducible)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(g > 1, 1.0 / (1.0 + (s / t) * (g - 1.0) ** 2 / g), 1.0)
        out = np.where(g == 1, np.inf, v / np.abs(1.0 - g))
    return float(out) if scalar else out


@validate(eps=Real(gt=0.0), share=Real(gt=0.0, le=1.0))
def distance_for_gap(eps, share=1.0) -> int:
    """Smallest ``|p - n|`` at which the gap ``share / (|p - n| - 1)`` is ``<= eps``.

    That is ``ceil(1 + share / eps)`` (:prf:ref:`prop-finite-n-gap`): ``101``
    for a 1% gap and ``11`` for 10% when ``share = 1`` (below the threshold,
    or a pure-variance risk above it).  It does not depend on ``n``.
    """
    k = max(2, math.ceil(1.0 + share / eps))
    while k > 2 and share / (k - 2) <= eps:      # rounding of share / eps
        k -= 1
    while share / (k - 1) > eps:
        k += 1
    return int(k)


# ---------------------------------------------------------------------------
# Monte Carlo for the HMM
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class MeasuredGap:
    """Monte Carlo mean against the asymptotic prediction at fixed ``(gamma, psi)``.

    Attributes
    ----------
    n, p, d : (m,) int arrays
        Sample size and the model size and latent dimension used
        (``p = round(gamma n)``, ``d = round(psi p)``).
    asymptotic : Predictions
        :prf:ref:`Definition 3 <def-hmm-risk>` with Theorem 1's limit form
        below the threshold, Definition 2 above it.
    exact : (m,) array
        Exact mean excess risk where known in closed form: Theorem 1 for
        ``p < n - 1`` (any ``Sigma_x``), :prf:ref:`prop-isotropic` for
        ``p > n + 1`` when ``p <= d`` (then ``Sigma_x = (1 + snr) I``);
        ``NaN`` elsewhere.
    sim_risk, sim_stderr, sim_bias, sim_variance : (m,) arrays
        Monte Carlo means over ``reps`` training sets and the standard error
        of ``sim_risk``.
    bias_stderr, variance_stderr : (m,) arrays
        Standard errors of ``sim_bias`` and ``sim_variance``.
    reps : (m,) int array
    """

    n: np.ndarray
    p: np.ndarray
    d: np.ndarray
    asymptotic: Predictions
    exact: np.ndarray
    sim_risk: np.ndarray
    sim_stderr: np.ndarray
    sim_bias: np.ndarray
    sim_variance: np.ndarray
    bias_stderr: np.ndarray
    variance_stderr: np.ndarray
    reps: np.ndarray

    @property
    def relative_gap(self) -> np.ndarray:
        """Measured ``sim_risk / asymptotic.risk - 1``."""
        return self.sim_risk / self.asymptotic.risk - 1.0

    @property
    def gap_stderr(self) -> np.ndarray:
        """Standard error of :attr:`relative_gap`."""
        return self.sim_stderr / self.asymptotic.risk

    @property
    def exact_gap(self) -> np.ndarray:
        """``exact / asymptotic.risk - 1`` where the exact mean is known, else ``NaN``."""
        return self.exact / self.asymptotic.risk - 1.0

    @property
    def isotropic_formula(self) -> np.ndarray:
        """The isotropic gap ``nu / (|p - n| - 1)`` with ``nu`` Definition 3's variance share.

        Exact for ``p < n`` and for isotropic ``Sigma_x``; for the HMM's
        two-point spectrum above the threshold, a heuristic to compare
        :attr:`relative_gap` with.
        """
        v = self.asymptotic.variance / self.asymptotic.risk
        return v / (np.abs(self.p - self.n) - 1.0)


@validate(gamma=Real(gt=0.0), psi=Real(gt=0.0), noise=NOISE, snr=SNR, rng=SEED)
def measured_gap(ns, gamma, psi, noise, snr=1.0, reps=200, rng=0) -> MeasuredGap:
    """Definition 3 against the Monte Carlo mean risk of the HMM head as ``n`` grows.

    For each ``n`` in ``ns``: ``p = round(gamma n)``, ``d = max(1, round(psi p))``,
    one orthogonal-embedding model (:func:`~hmmrisk.hmm.make_model`) and ``reps``
    training sets (:func:`~hmmrisk.risk.simulate_risk`), drawn by the runner
    :func:`hmmrisk.sweep.run_point` with ``rng=[rng, n]`` (an int ``rng``) so that a point
    does not depend on the rest of ``ns``.  With ``psi >= 1`` (``d >= p``) the features are
    isotropic and the exact mean is known on both sides of the threshold.

    Parameters
    ----------
    ns : sequence of int
        Sample sizes ``n >= 2``, no repeats; every ``p`` must satisfy
        ``|p - n| >= 4`` (the Monte Carlo variance is infinite closer,
        :prf:ref:`prop-moments`).
    gamma, psi : float
        ``p / n > 0`` and ``d / p > 0``.
    noise, snr : float
        ``sigma^2`` in ``[0, 1]`` and ``snr > 0``.
    reps : int or sequence of int
        Training sets per ``n`` (``>= 2``), one value or one per ``n``.
    rng : int, numpy.random.Generator or None
        An int seed ``>= 0`` (default 0; point ``n`` uses ``SeedSequence([rng, n])``),
        a Generator (one spawned child per ``n``, in the order of ``ns``) or
        ``None`` (fresh OS entropy).

    Returns
    -------
    MeasuredGap
    """
    arr = np.asarray(ns)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"ns must be a non-empty 1-d sequence of sample sizes, got {ns!r}")
    n = np.array([check.integer("ns", v, minimum=2) for v in arr.tolist()], dtype=np.int64)
    if np.unique(n).size != n.size:
        raise ValueError(f"ns must not repeat a sample size, got {ns!r}")
    seeds = [np.random.SeedSequence([rng, int(v)]) for v in n] if isinstance(rng, int) else spawn_seeds(rng, n.size)
    r = np.asarray(reps)
    if r.ndim > 1 or (r.ndim == 1 and r.size != n.size):
        raise ValueError(f"reps must be one integer or one per sample size ({n.size}), got {reps!r}")
    reps_arr = np.array([check.integer("reps", v, minimum=2) for v in np.broadcast_to(r, n.shape).tolist()],
                        dtype=np.int64)
    p = np.maximum(1, np.rint(gamma * n)).astype(np.int64)
    d = np.maximum(1, np.rint(psi * p)).astype(np.int64)
    close = np.abs(p - n) <= 3
    if np.any(close):
        i = int(np.argmax(close))
        raise ValueError(f"gamma = {gamma!r} puts p = {int(p[i])} within 3 of n = {int(n[i])}, "
                         f"where the Monte Carlo mean is meaningless")
    m = n.size
    sim = np.empty((6, m))
    bias, variance, irr = np.empty(m), np.empty(m), np.empty(m)
    formula = np.empty(m, dtype=object)
    exact = np.full(m, np.nan)
    for i in range(m):
        ni, pi, di = int(n[i]), int(p[i]), int(d[i])
        est = run_point(ni, pi, di, noise, snr, rng=seeds[i], reps=int(reps_arr[i])).estimate
        k = np.sqrt(est.reps)
        sim[:, i] = (est.risk, est.stderr, est.bias, est.variance,
                     est.biases.std(ddof=1) / k, est.variances.std(ddof=1) / k)
        pred = definition3(ni, float(pi), di, noise, snr, under="asymptotic")
        bias[i], variance[i], irr[i], formula[i] = pred.bias, pred.variance, pred.irreducible, pred.formula
        s1, rr, b1, tr = orthogonal_spectrum(float(pi), di, noise, snr)
        if pi < ni - 1:
            exact[i] = theorem1(ni, pi, irreducible=float(tr), exact=True)
        elif pi > ni + 1 and pi <= di:
            exact[i] = float(isotropic(ni, pi, float(rr * s1 * b1), float(tr)).exact_risk)
    asym = Predictions(p=p.astype(float), bias=bias, variance=variance, irreducible=irr,
                       formula=formula.astype(str))
    return MeasuredGap(n=n, p=p, d=d, asymptotic=asym, exact=exact, sim_risk=sim[0],
                       sim_stderr=sim[1], sim_bias=sim[2], sim_variance=sim[3],
                       bias_stderr=sim[4], variance_stderr=sim[5], reps=reps_arr)
