"""Risk of the fitted head: Lemma 1 and Monte Carlo ({ref}`ch-lemma1`).

Lemma 1 ({prf:ref}`lem-bias-variance`): conditional on the training inputs
``X``, the excess next-token risk of the least-squares head splits as

    R_X = E[ ||B_hat^T x_0 - B*^T x_0||^2 | X ] = B_X + V_X,
    B_X = tr(B*^T Pi Sigma_x Pi B*),          Pi = I_p - Sigma_hat^+ Sigma_hat,
    V_X = (tr Sigma_r / n) tr(Sigma_hat^+ Sigma_x),   Sigma_hat = X^T X / n.

:func:`conditional_risk` evaluates ``(B_X, V_X)`` for given ``X`` (ridge
included).  :func:`simulate_risk` averages over training sets, by one of two
independent routes:

* ``method="fit"`` draws ``(X, Y)`` from the HMM, fits the head and measures
  its excess risk against the population (the plain definition);
* ``method="conditional"`` (default) draws only what Lemma 1 needs, in the
  eigenbasis of ``Sigma_x``, and returns ``B_X + V_X`` (noise integrated out
  exactly, so a smaller standard error at far lower cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as check
from .head import _check_data, fit_head, spectral_filter
from .hmm import HeadTuningModel
from .population import Population, population

METHODS = ("conditional", "fit")


def conditional_risk(pop: Population, X: np.ndarray, ridge: float = 0.0):
    """Lemma 1 ({prf:ref}`lem-bias-variance`): ``(B_X, V_X)`` given ``X``.

    With ``X = U S V^T`` and the head ``B_hat = V diag(f) U^T Y``
    (``f = 1/s`` or ``s/(s^2 + n lam)``, see :mod:`hmmrisk.head`):

    * ``B_X = tr(Delta^T Sigma_x Delta)``, ``Delta = B* - V diag(f s) V^T B*``;
    * ``V_X = tr(Sigma_r) * sum_j f_j^2 v_j^T Sigma_x v_j``.

    For ``lam = 0`` these are exactly the formulas of the lemma.
    ``X`` may carry leading batch axes; the results then do too.
    """
    if not isinstance(pop, Population):
        raise ValueError(f"pop must be a Population (see hmmrisk.population), got {type(pop).__name__}")
    X = _check_data(X)
    if X.shape[-1] != pop.p:
        raise ValueError(f"X must have p = {pop.p} columns, got shape {X.shape}")
    ridge = check.real("ridge", ridge, low=0.0)
    n = X.shape[-2]
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    f = spectral_filter(s, n, ridge)
    V = np.swapaxes(Vt, -1, -2)                                  # (..., p, m)
    delta = pop.B_star - V @ ((f * s)[..., :, None] * (Vt @ pop.B_star))
    bias = np.sum(delta**2, axis=(-2, -1)) + np.sum((pop.W.T @ delta) ** 2, axis=(-2, -1))
    vSv = 1.0 + np.sum((Vt @ pop.W) ** 2, axis=-1)               # v_j^T Sigma_x v_j
    variance = pop.tr_Sigma_r * np.sum(f**2 * vSv, axis=-1)
    return bias, variance


@dataclass(frozen=True, eq=False)
class RiskEstimate:
    """Monte Carlo estimate of the excess risk over ``reps`` training sets.

    Attributes
    ----------
    risks, biases, variances : (reps,) arrays
        Per training set: the excess risk (``B_X + V_X`` for the conditional
        route, the realised excess risk of the fitted head for the fit route),
        and the conditional bias ``B_X`` and variance ``V_X`` of Lemma 1.
    irreducible : float
        ``tr Sigma_r``; the total next-token risk is ``risk + irreducible``.
    """

    risks: np.ndarray
    biases: np.ndarray
    variances: np.ndarray
    irreducible: float

    @property
    def reps(self) -> int:
        return self.risks.size

    @property
    def risk(self) -> float:
        """Mean excess risk."""
        return float(self.risks.mean())

    @property
    def stderr(self) -> float:
        """Standard error of :attr:`risk` (sample s.d. / sqrt(reps))."""
        return float(self.risks.std(ddof=1) / np.sqrt(self.reps))

    @property
    def bias(self) -> float:
        return float(self.biases.mean())

    @property
    def variance(self) -> float:
        return float(self.variances.mean())

    @property
    def total(self) -> float:
        """Mean total next-token risk, ``risk + tr Sigma_r``."""
        return self.risk + self.irreducible


def _wishart(rng, dim: int, dof: int, reps: int) -> np.ndarray:
    """``reps`` draws of ``G^T G``, ``G`` a ``dof x dim`` standard Gaussian matrix.

    Bartlett's decomposition ``T T^T`` (``T`` lower triangular,
    ``T_ii^2 ~ chi^2_{dof - i}``, ``T_ij ~ N(0, 1)`` below the diagonal) when
    ``dof >= dim``: ``O(dim^2)`` draws instead of ``O(dim dof)``.
    """
    if dof < dim:
        G = rng.standard_normal((reps, dof, dim))
        return np.swapaxes(G, -1, -2) @ G
    T = np.zeros((reps, dim, dim))
    rows, cols = np.tril_indices(dim, k=-1)
    T[:, rows, cols] = rng.standard_normal((reps, rows.size))
    idx = np.arange(dim)
    T[:, idx, idx] = np.sqrt(rng.chisquare(dof - idx, size=(reps, dim)))
    return T @ np.swapaxes(T, -1, -2)


def _conditional_draws(pop: Population, n: int, reps: int, rng):
    """``(B_X, V_X)`` for ``reps`` training sets, drawn in the eigenbasis of ``Sigma_x``.

    The risk is invariant under rotations of feature space, so write
    ``x = (x1, x2)`` with ``x1 ~ N(0, diag(lam))`` on the ``r`` top
    eigenvectors and ``x2 ~ N(0, I_{p-r})``; ``B*`` and ``W`` live on the
    first block.  Then

    * ``p <= n``: ``B_X = 0`` and ``V_X = tr(Sigma_r) tr((X^T X)^{-1} Sigma_x)``,
      whose law is that of ``tr(Sigma_r) tr(K^{-1})``, ``K ~ Wishart_p(n, I)``;
    * ``p > n``: with ``G = X X^T = X1 X1^T + K``, ``K = X2 X2^T ~
      Wishart_n(p - r, I)``, ``M = G^{-1} X1 b`` (``b = V_1^T B*``):
      ``V_X = tr(Sigma_r) [tr G^{-1} + ||G^{-1} X1 (Lam - I)^{1/2}||^2]`` and
      ``B_X = tr((b - X1^T M)^T Lam (b - X1^T M)) + tr(M^T G M) - ||X1^T M||^2``.
    """
    p = pop.p
    if p <= n:
        K = _wishart(rng, p, n, reps)
        variance = pop.tr_Sigma_r * np.trace(np.linalg.inv(K), axis1=-2, axis2=-1)
        return np.zeros(reps), variance
    lam = pop.eigvals
    b = pop.eigvecs.T @ pop.B_star                                   # r x d
    X1 = rng.standard_normal((reps, n, lam.size)) * np.sqrt(lam)
    G = X1 @ np.swapaxes(X1, -1, -2)
    if pop.n_unit > 0:
        G = G + _wishart(rng, n, pop.n_unit, reps)
    Ginv = np.linalg.inv(G)
    GX1 = Ginv @ X1                                                  # (reps, n, r)
    variance = pop.tr_Sigma_r * (np.trace(Ginv, axis1=-2, axis2=-1)
                                 + np.sum(GX1**2 * (lam - 1.0), axis=(-2, -1)))
    M = GX1 @ b                                                      # (reps, n, d)
    X1tM = np.swapaxes(X1, -1, -2) @ M                               # (reps, r, d)
    resid = b - X1tM
    bias = (np.sum(resid**2 * lam[:, None], axis=(-2, -1))
            + np.sum(M * (G @ M), axis=(-2, -1)) - np.sum(X1tM**2, axis=(-2, -1)))
    return bias, variance


def simulate_risk(model: HeadTuningModel, n: int, reps: int = 200, seed=None,
                  ridge: float = 0.0, method: str = "conditional") -> RiskEstimate:
    """Monte Carlo excess risk of the head over ``reps`` i.i.d. training sets.

    Parameters
    ----------
    model : HeadTuningModel
        The HMM and encoder (:func:`hmmrisk.make_model`).
    n : int
        Training pairs per set, ``n >= 2``.
    reps : int
        Number of independent training sets, ``reps >= 2``.
    seed : int, Generator or None
        Source of randomness.
    ridge : float
        ``lam >= 0`` of the head (:func:`hmmrisk.head.fit_head`).
    method : {"conditional", "fit"}
        See the module docstring.  Both are unbiased for the mean excess risk.

    Notes
    -----
    For ``|p - n| <= 1`` the mean risk of the minimum-norm head is infinite
    and for ``|p - n| <= 3`` its Monte Carlo estimate has infinite variance:
    estimates there are not meaningful ({prf:ref}`thm-under`).
    """
    if not isinstance(model, HeadTuningModel):
        raise ValueError(f"model must be a HeadTuningModel (see hmmrisk.make_model), got {type(model).__name__}")
    n = check.integer("n", n, minimum=2)
    reps = check.integer("reps", reps, minimum=2)
    ridge = check.real("ridge", ridge, low=0.0)
    check.choice("method", method, METHODS)
    rng = check.rng(seed)
    pop = population(model)
    if method == "fit":
        X, Y = model.sample(n, rng, reps)
        risks = pop.excess_risk(fit_head(X, Y, ridge))
        bias, variance = conditional_risk(pop, X, ridge)
    elif ridge > 0:
        X, _ = model.sample(n, rng, reps)
        bias, variance = conditional_risk(pop, X, ridge)
        risks = bias + variance
    else:
        bias, variance = _conditional_draws(pop, n, reps, rng)
        risks = bias + variance
    return RiskEstimate(risks=risks, biases=bias, variances=variance,
                        irreducible=pop.tr_Sigma_r)
