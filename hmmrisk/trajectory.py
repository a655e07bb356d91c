"""One trajectory instead of i.i.d. pairs (:ref:`ch-trajectory`).

The book's training sets are ``n`` i.i.d. draws of the pair
``(x_t, y_t = z_{t+1})``.  Here the head is trained instead on the ``n``
consecutive pairs of one stationary run of the HMM,

    z_1 ~ N(0, I_d),  z_{t+1} = A z_t + eps_t,  x_t = W z_t + u_t,  t = 1..n,

so that ``x_{t+1} = W y_t + u_{t+1}``: the residual ``r_t = y_t - B*^T x_t``
is independent of ``x_t`` (Lemma 2) but not of the other rows of ``X``.

* :func:`sample_trajectory`, :func:`simulate_trajectory_risk`: the sampler and
  the Monte Carlo excess risk over independent trajectories, comparable with
  :func:`~hmmrisk.risk.simulate_risk`;
* :func:`lagged_covariances`: the exact lag-``k`` covariances of features and
  residuals along a trajectory (:prf:ref:`prop-trajectory-covariances`);
* :func:`variance_inflation`, :func:`variance_inflation_aligned`,
  :func:`effective_sample_size`: the exact inflation of the first-order
  (oracle) variance of the head, and the effective sample size it suggests
  (:prf:ref:`prop-trajectory-inflation`);
* :func:`predicted_risk_neff`: Theorem 1 / Definition 3 with ``n`` replaced
  by a real ``n_eff`` (the heuristic of :prf:ref:`rem-trajectory-neff`);
* :func:`aligned_model`: the same encoder with the non-rotating transition
  ``A = sqrt(1 - sigma^2) I``, whose i.i.d.-pairs risk has the same law.

Notation: ``Sigma_x = W W^T + I``, ``M = (I + W^T W)^{-1}``,
``G = W^T Sigma_x^{-1} W = I - M``, ``Sigma_r = A M A^T + sigma^2 I``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import _validate as check
from ._validate import NOISE, RNG, SNR, Integer, OrNone, Real, validate
from .hmm import HeadTuningModel
from .population import population
from .risk import RiskEstimate, fitted_risk
from . import theory

__all__ = ["LaggedCovariances", "aligned_model", "effective_sample_size",
           "lagged_covariances", "predicted_risk_neff", "sample_trajectory",
           "simulate_trajectory_risk", "variance_inflation",
           "variance_inflation_aligned"]


def _check_model(model) -> HeadTuningModel:
    if not isinstance(model, HeadTuningModel):
        raise TypeError(f"model must be a HeadTuningModel (see hmmrisk.make_model), "
                         f"got {type(model).__name__}")
    return model


@validate(n=Integer(), rng=RNG, reps=OrNone(Integer()))
def sample_trajectory(model: HeadTuningModel, n: int, rng=None, reps: int | None = None):
    """Consecutive head-tuning pairs ``(x_t, y_t = z_{t+1})``, ``t = 1..n``, of one stationary run.

    ``z_1 ~ N(0, I_d)``, ``z_{t+1} = A z_t + eps_t`` with
    ``eps_t ~ N(0, sigma^2 I_d)``, ``x_t = W z_t + u_t`` with
    ``u_t ~ N(0, I_p)``; every ``z_t`` is ``N(0, I_d)`` because
    ``A A^T + sigma^2 I = I`` (:ref:`ch-trajectory`).  The loop runs over
    ``t``; ``reps`` independent trajectories are drawn at once.

    Parameters
    ----------
    model : HeadTuningModel
    n : int
        Number of pairs, ``n >= 1`` (the run has ``n + 1`` tokens).
    rng : int, Generator or None
    reps : int, optional
        Number of independent trajectories.

    Returns
    -------
    X : (n, p) or (reps, n, p) array
    Y : (n, d) or (reps, n, d) array
        Row ``t`` of ``Y`` is ``z_{t+1}``, the token after the one encoded
        in row ``t`` of ``X``; so row ``t + 1`` of ``X`` encodes row ``t`` of ``Y``.
    """
    model = _check_model(model)
    lead = () if reps is None else (reps,)
    d, p = model.d, model.p
    z = np.empty(lead + (n + 1, d))
    z[..., 0, :] = rng.standard_normal(lead + (d,))
    scale = np.sqrt(model.noise)
    At = model.A.T
    for t in range(n):
        z[..., t + 1, :] = z[..., t, :] @ At + scale * rng.standard_normal(lead + (d,))
    X = z[..., :n, :] @ model.W.T + rng.standard_normal(lead + (n, p))
    return X, z[..., 1:, :]


@validate(n=Integer(min=2), reps=Integer(min=2), rng=RNG, ridge=Real(ge=0.0))
def simulate_trajectory_risk(model: HeadTuningModel, n: int, reps: int = 200, rng=None,
                             ridge: float = 0.0, lemma1: bool = True) -> RiskEstimate:
    """Monte Carlo excess risk of the head trained on ``reps`` independent trajectories.

    ``rng`` is an int seed or a Generator.

    Each trajectory gives ``(X, Y)`` by :func:`sample_trajectory`; the head
    is :func:`hmmrisk.head.fit_head` and its excess risk
    ``tr((B_hat - B*)^T Sigma_x (B_hat - B*))`` is measured against the
    population of Lemma 2 (a fresh test pair independent of the trajectory),
    exactly as ``hmmrisk.simulate_risk(model, n, reps, rng, method="fit")``
    does for i.i.d. pairs (both through :func:`hmmrisk.risk.fitted_risk`: one
    SVD per trajectory for the head and Lemma 1's terms).  ``lemma1=False``
    skips the Lemma 1 terms below and returns them as ``NaN``.

    Returns
    -------
    RiskEstimate
        ``risks`` are the realised excess risks.  ``biases`` and
        ``variances`` are Lemma 1's ``B_X`` and ``V_X`` evaluated at each
        trajectory's ``X`` (:func:`~hmmrisk.risk.conditional_risk`): for a trajectory
        the noise is not independent of ``X``, so ``B_X + V_X`` is no longer
        the conditional mean of the risk, and the mean of
        ``risks - biases - variances`` measures how far Lemma 1 is off.
    """
    model = _check_model(model)
    pop = population(model)
    X, Y = sample_trajectory(model, n, rng, reps)
    return fitted_risk(pop, X, Y, ridge, lemma1=lemma1)


@dataclass(frozen=True, eq=False)
class LaggedCovariances:
    """Exact lag-``k`` covariances along a stationary trajectory (:prf:ref:`prop-trajectory-covariances`).

    Attributes
    ----------
    k : int
        The lag, ``k >= 0``.
    zz : (d, d) array
        ``Cov(z_{t+k}, z_t) = A^k``.
    xx : (p, p) array
        ``Cov(x_{t+k}, x_t) = W A^k W^T`` (``Sigma_x`` at ``k = 0``).
    res_future : (d, p) array
        ``Cov(r_t, x_{t+k}) = Sigma_r (A^T)^{k-1} W^T`` (0 at ``k = 0``).
    res_past : (d, p) array
        ``Cov(r_{t+k}, x_t) = A M A^k W^T`` (0 at ``k = 0``).
    res_res : (d, d) array
        ``Cov(r_{t+k}, r_t) = A M A^{k-1} Sigma_r`` (``Sigma_r`` at ``k = 0``).
    """

    k: int
    zz: np.ndarray
    xx: np.ndarray
    res_future: np.ndarray
    res_past: np.ndarray
    res_res: np.ndarray


def _blocks(model):
    """``(M, G, Sigma_r)`` of the module docstring, all ``d x d``."""
    d, W = model.d, model.W
    M = np.linalg.inv(np.eye(d) + W.T @ W)
    return M, np.eye(d) - M, population(model).Sigma_r


@validate(k=Integer(min=0))
def lagged_covariances(model: HeadTuningModel, k: int) -> LaggedCovariances:
    """:prf:ref:`prop-trajectory-covariances`: covariances at lag ``k``.

    With ``M = (I + W^T W)^{-1}`` and ``Sigma_r`` of Lemma 2, for ``k >= 1``:

    * ``Cov(z_{t+k}, z_t) = A^k``, ``Cov(x_{t+k}, x_t) = W A^k W^T``;
    * ``Cov(r_t, x_{t+k}) = Sigma_r (A^T)^{k-1} W^T`` (the future row
      ``x_{t+1} = W y_t + u_{t+1}`` carries the noise: lag 1 gives
      ``Sigma_r W^T``);
    * ``Cov(r_{t+k}, x_t) = A M A^k W^T`` (the past helps predict
      ``z_{t+k+1}`` beyond ``x_{t+k}`` because the encoder is noisy);
    * ``Cov(r_{t+k}, r_t) = A M A^{k-1} Sigma_r``.

    At ``k = 0`` the residual covariances with ``x`` vanish (Lemma 2).
    Dense ``p x p`` output: meant for small ``p``.
    """
    model = _check_model(model)
    A, W = model.A, model.W
    M, _, Sigma_r = _blocks(model)
    Ak = np.linalg.matrix_power(A, k)
    xx = W @ Ak @ W.T
    if k == 0:
        xx = xx + np.eye(model.p)
        zero = np.zeros((model.d, model.p))
        return LaggedCovariances(0, Ak, xx, zero, zero.copy(), Sigma_r)
    Akm1 = np.linalg.matrix_power(A, k - 1)
    return LaggedCovariances(k, Ak, xx, Sigma_r @ Akm1.T @ W.T, A @ M @ Ak @ W.T,
                             A @ M @ Akm1 @ Sigma_r)


@validate(n=Integer(min=2))
def variance_inflation(model: HeadTuningModel, n: int) -> float:
    """:prf:ref:`prop-trajectory-inflation`: exact inflation ``f`` of the oracle variance.

    For ``n`` consecutive pairs, with ``theta_1(k) = tr(G A^k) tr(A M A^{k-1} Sigma_r)``
    and ``theta_2(k) = tr(G (A^T)^k M A^T Sigma_r (A^T)^{k-1})`` (``G = I - M``),

    ::

        n^2 E || Sigma_x^{-1/2} X^T R / n ||_F^2
            = n [p tr Sigma_r + 2 sum_{k=1}^{n-1} (1 - k/n) (theta_1(k) + theta_2(k))],

    and ``f`` is the bracket divided by its i.i.d. value ``p tr Sigma_r``.
    ``E ||Sigma_x^{-1/2} X^T R / n||_F^2`` is the risk of the head with
    ``Sigma_hat`` replaced by ``Sigma_x`` (the first-order term as
    ``n -> infinity`` at fixed ``p``).  ``O(n d^3)`` work.
    """
    model = _check_model(model)
    A = model.A
    M, G, Sigma_r = _blocks(model)
    base = model.p * np.trace(Sigma_r)
    if base == 0:
        return 1.0
    AM, At_M_At_Sr = A @ M, M @ A.T @ Sigma_r
    acc, Ak_prev = 0.0, np.eye(model.d)
    for k in range(1, n):
        Ak = Ak_prev @ A
        t1 = np.trace(G @ Ak) * np.trace(AM @ Ak_prev @ Sigma_r)
        t2 = np.sum((G @ Ak.T @ At_M_At_Sr) * Ak_prev)       # tr(G Ak^T M A^T Sr Ak_prev^T)
        acc += (1.0 - k / n) * (t1 + t2)
        Ak_prev = Ak
    return float(1.0 + 2.0 * acc / base)


@validate(n=Integer(min=2), d=Integer(), noise=NOISE, snr=SNR)
def variance_inflation_aligned(n: int, p, d: int, noise: float, snr: float = 1.0):
    """``f`` of :func:`variance_inflation` in closed form for ``A = sqrt(1 - sigma^2) I``.

    Orthogonal encoder with ``p >= d``, so ``W^T W = (s1 - 1) I``,
    ``s1 = 1 + snr p / d`` (:prf:ref:`prop-trajectory-inflation`):

        f = 1 + 2 (s1 - 1) / s1^2 * (d + 1) / p * S,
        S = sum_{k=1}^{n-1} (1 - k/n) (1 - sigma^2)^k.

    Vectorised over ``p``.  For the Haar transition of the book the
    factors ``d (d + 1) a^{2k}`` become ``a^{2k} [(tr Q^k)^2 + tr Q^{2k}]``,
    which is ``O(k)`` instead of ``O(d^2)``: ``f`` is then ``1 + O(1/(p d))``.
    """
    scalar = np.ndim(p) == 0
    p = check.real_array("p", p, low=float(d))
    s1 = 1.0 + snr * p / d
    k = np.arange(1, n)
    S = float(np.sum((1.0 - k / n) * (1.0 - noise) ** k))
    f = 1.0 + 2.0 * (s1 - 1.0) / s1**2 * (d + 1.0) / p * S
    return float(f) if scalar else f


@validate(n=Integer(min=2))
def effective_sample_size(model: HeadTuningModel, n: int) -> float:
    """Heuristic effective sample size ``n_eff = n / f`` (:prf:ref:`rem-trajectory-neff`).

    ``f`` from :func:`variance_inflation`: the number of i.i.d. pairs whose
    oracle head variance equals that of ``n`` consecutive pairs.
    """
    return float(n / variance_inflation(model, n))


@validate(n_eff=Real(gt=1.0, array=True), p=Real(ge=1.0, array=True))
def predicted_risk_neff(n_eff, p, d: int, noise: float, snr: float = 1.0):
    """Theorem 1 / Definition 3 with a real sample size ``n_eff`` (:prf:ref:`rem-trajectory-neff`).

    Orthogonal encoder; vectorised over ``p`` (``n_eff`` a scalar or shaped
    like ``p``).  ``p < n_eff - 1``: ``tr Sigma_r p / (n_eff - p - 1)``
    (:prf:ref:`thm-under`); ``n_eff - 1 <= p <= n_eff``: ``inf``;
    ``p > n_eff``: Definition 2 in the closed form of
    :prf:ref:`Definition 3 <def-hmm-risk>` with ``n`` replaced by ``n_eff``.  For an
    integer ``n_eff`` this is :func:`hmmrisk.theory.definition3`.

    Returns
    -------
    (p.shape) array of excess risks.
    """
    p = np.atleast_1d(p).astype(float)
    if n_eff.ndim > 1 or (n_eff.ndim == 1 and n_eff.size not in (1, p.size)):
        raise ValueError(f"n_eff must be a scalar or shaped like p {p.shape}, got shape {n_eff.shape}")
    n_eff = np.broadcast_to(n_eff, p.shape).astype(float)
    return theory.definition3(n_eff, p, d, noise, snr).risk


def aligned_model(model: HeadTuningModel) -> HeadTuningModel:
    """The same encoder with the non-rotating transition ``A = sqrt(1 - sigma^2) I``.

    The law of the i.i.d.-pairs risk depends on ``A`` only through
    ``A^T A = (1 - sigma^2) I`` (Lemma 2 and Lemma 1 involve ``A`` only via
    ``B* B*^T = W M A^T A M W^T`` and ``tr Sigma_r = tr(M A^T A) + d sigma^2``),
    so this model has the same i.i.d. risk and the same theory as ``model``,
    while each latent coordinate of a trajectory is a scalar AR(1) with
    coefficient ``sqrt(1 - sigma^2)`` (:ref:`ch-trajectory`).
    """
    model = _check_model(model)
    return replace(model, A=np.sqrt(1.0 - model.noise) * np.eye(model.d))
