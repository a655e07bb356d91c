"""Risk of the fitted head: Lemma 1 and Monte Carlo (:ref:`ch-lemma1`).

:prf:ref:`Lemma 1 <lem-bias-variance>`: conditional on the training inputs
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

from . import _resources
from . import _validate as check
from ._blas import blas_single_thread
from ._validate import MAX_INT, RNG, Integer, Options, Real, validate
from .head import head_from_svd, spectral_filter
from .hmm import HeadTuningModel
from .montecarlo import _conditional_draws, route_of
from .population import Population, population

METHODS = ("conditional", "fit")


@validate(ridge=Real(ge=0.0))
def conditional_risk(pop: Population, X: np.ndarray, ridge: float = 0.0):
    """:prf:ref:`Lemma 1 <lem-bias-variance>`: ``(B_X, V_X)`` given ``X``.

    With ``X = U S V^T`` and the head ``B_hat = V diag(f) U^T Y``
    (``f = 1/s`` or ``s/(s^2 + n lam)``, see :mod:`hmmrisk.head`):

    * ``B_X = tr(Delta^T Sigma_x Delta)``, ``Delta = B* - V diag(f s) V^T B*``;
    * ``V_X = tr(Sigma_r) * sum_j f_j^2 v_j^T Sigma_x v_j``.

    For ``lam = 0`` these are exactly the formulas of the lemma.
    ``X`` may carry leading batch axes; the results then do too.
    """
    if not isinstance(pop, Population):
        raise TypeError(f"pop must be a Population (see hmmrisk.population), got {type(pop).__name__}")
    X = check.training_data(X)
    if X.shape[-1] != pop.p:
        raise ValueError(f"X must have p = {pop.p} columns, got shape {X.shape}")
    with check.finite_result("X", X) as out:
        out.extend(_conditional(pop, X, ridge))
    return tuple(out)


def _conditional(pop, X, ridge):
    """:func:`conditional_risk` of checked arguments."""
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    return _lemma1_terms(pop, s, Vt, X.shape[-2], ridge)


def _lemma1_terms(pop: Population, s, Vt, n: int, ridge: float):
    """``(B_X, V_X)`` of :func:`conditional_risk` from the singular values and right vectors of ``X``."""
    f = spectral_filter(s, n, ridge)
    V = np.swapaxes(Vt, -1, -2)                                  # (..., p, m)
    delta = pop.B_star - V @ ((f * s)[..., :, None] * (Vt @ pop.B_star))
    bias = np.sum(delta**2, axis=(-2, -1)) + np.sum((pop.W.T @ delta) ** 2, axis=(-2, -1))
    vSv = 1.0 + np.sum((Vt @ pop.W) ** 2, axis=-1)               # v_j^T Sigma_x v_j
    variance = pop.irreducible * np.sum(f**2 * vSv, axis=-1)
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

    def __post_init__(self):
        arrays = [np.asarray(getattr(self, k), dtype=float) for k in ("risks", "biases", "variances")]
        if any(a.ndim != 1 or a.shape != arrays[0].shape for a in arrays) or arrays[0].size == 0:
            raise ValueError(f"risks, biases and variances must be non-empty 1-d arrays of one "
                             f"length, got shapes {[a.shape for a in arrays]}")
        for k, a in zip(("risks", "biases", "variances"), arrays):
            object.__setattr__(self, k, a)
        object.__setattr__(self, "irreducible", check.real("irreducible", self.irreducible, low=0.0))

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


@validate(ridge=Real(ge=0.0))
def fitted_risk(pop: Population, X: np.ndarray, Y: np.ndarray, ridge: float = 0.0,
                *, lemma1: bool = True) -> RiskEstimate:
    """Realised excess risk of the head fitted on each of given training sets, with Lemma 1's terms.

    For each training set ``(X, Y)`` (leading axis: the sets): the head
    ``B_hat`` of :func:`hmmrisk.head.fit_head`, its excess risk
    ``tr((B_hat - B*)^T Sigma_x (B_hat - B*))`` against ``pop``, and Lemma 1's
    ``(B_X, V_X)`` at ``X`` (:func:`conditional_risk`), all from one SVD of
    ``X`` per set.  ``lemma1=False`` skips Lemma 1's terms (``NaN``).  This is
    ``simulate_risk(..., method="fit")`` for training sets drawn elsewhere
    (:func:`hmmrisk.trajectory.simulate_trajectory_risk`).

    Examples
    --------
    >>> import hmmrisk as hr
    >>> model = hr.make_model(10, 5, 0.5, rng=0)
    >>> X, Y = model.sample(40, 1, 3)
    >>> est = hr.fitted_risk(hr.population(model), X, Y)
    >>> est.reps, bool(abs(est.risks - hr.population(model).excess_risk(hr.fit_head(X, Y))).max() < 1e-9)
    (3, True)
    """
    if not isinstance(pop, Population):
        raise TypeError(f"pop must be a Population (see hmmrisk.population), got {type(pop).__name__}")
    if not isinstance(lemma1, (bool, np.bool_)):
        raise TypeError(f"lemma1 must be True or False, got {lemma1!r}")
    X, Y = check.training_data(X, Y)
    if X.ndim != 3 or X.shape[-1] != pop.p or Y.shape[-1] != pop.d:
        raise ValueError(f"X and Y must be (sets, n, p = {pop.p}) and (sets, n, d = {pop.d}), "
                         f"got shapes {X.shape} and {Y.shape}")
    with check.finite_result("X", X) as out:
        parts = _fitted(pop, X, Y, ridge, lemma1)
        out.extend(parts if lemma1 else parts[:1])
    return RiskEstimate(*parts, irreducible=pop.irreducible)


def _fitted(pop, X, Y, ridge, lemma1=True):
    """``(risks, biases, variances)`` of :func:`fitted_risk` for checked arguments."""
    svd = np.linalg.svd(X, full_matrices=False)
    risks = pop._excess_risk(head_from_svd(svd, Y, ridge))
    if not lemma1:
        return risks, np.full(X.shape[0], np.nan), np.full(X.shape[0], np.nan)
    return (risks, *_lemma1_terms(pop, svd[1], svd[2], X.shape[-2], ridge))


@validate(n=Integer(min=2, max=MAX_INT), reps=Integer(min=2, max=MAX_INT), rng=RNG, ridge=Real(ge=0.0),
          method=Options(METHODS))
def simulate_risk(model: HeadTuningModel, n: int, reps: int = 200, rng=None,
                  ridge: float = 0.0, method: str = "conditional") -> RiskEstimate:
    """Monte Carlo excess risk of the head over ``reps`` i.i.d. training sets.

    Parameters
    ----------
    model : HeadTuningModel
        The HMM and encoder (:func:`~hmmrisk.hmm.make_model`).
    n : int
        Training pairs per set, ``n >= 2``.
    reps : int
        Number of independent training sets, ``reps >= 2``.
    rng : int, Generator or None
        Source of randomness (SPEC 7: an int seed or a ``numpy.random.Generator``).
    ridge : float
        ``lam >= 0`` of the head (:func:`hmmrisk.head.fit_head`).
    method : {"conditional", "fit"}
        See the module docstring.  Both are unbiased for the mean excess risk.

    Notes
    -----
    For ``|p - n| <= 1`` the mean risk of the minimum-norm head is infinite
    and for ``|p - n| <= 3`` its Monte Carlo estimate has infinite variance:
    estimates there are not meaningful (:prf:ref:`thm-under`).

    Training sets are processed in chunks of at most
    ``hmmrisk._resources.CHUNK_BYTES`` (1 GiB) of working arrays, so the
    peak memory is ``O(p d) + 1 GiB + 48 bytes x reps`` whatever ``reps``;
    a run whose estimated memory or work exceeds the caps of
    ``hmmrisk._resources`` (4 GiB, ``1e12`` operations by default; see
    ``hmmrisk._resources.limits``) raises ``ValueError``, as
    does a top eigenvalue of ``Sigma_x`` above ``1e8`` (see ``_check_signal``).
    The simulation runs with one BLAS thread, so its bits do not depend on
    ``OPENBLAS_NUM_THREADS``.

    Examples
    --------
    >>> import hmmrisk as hr
    >>> model = hr.make_model(10, 5, 0.5, rng=0)
    >>> est = hr.simulate_risk(model, 40, reps=50, rng=1)
    >>> est.reps, est.risk > 0
    (50, True)
    """
    if not isinstance(model, HeadTuningModel):
        raise TypeError(f"model must be a HeadTuningModel (see hmmrisk.make_model), got {type(model).__name__}")
    _resources.require(f"simulate_risk with n = {n}, p = {model.p}, d = {model.d}, reps = {_resources.fmt(reps)}",
                       *_resources.sim_cost(n, model.p, model.d, reps, method, ridge))
    with blas_single_thread():
        pop = population(model)
    _check_signal(pop)
    # training sets in chunks of bounded working memory (hmmrisk._resources.CHUNK_BYTES);
    # one chunk, i.e. the very same draws as unchunked, whenever reps fits in it
    chunk = _resources.sim_chunk(n, model.p, model.d, method, ridge)
    how = route_of(pop, n, method, ridge)
    with blas_single_thread():       # bits independent of the BLAS thread count
        parts = [_simulate_chunk(model, pop, n, min(chunk, reps - start), rng, ridge, how)
                 for start in range(0, reps, chunk)]
    risks, bias, variance = (np.concatenate(x) for x in zip(*parts))
    return RiskEstimate(risks=risks, biases=bias, variances=variance,
                        irreducible=pop.irreducible)


def _check_signal(pop: Population) -> None:
    """Refuse signal eigenvalues beyond :data:`hmmrisk._resources.MAX_SIGNAL_EIGENVALUE`.

    The conditional route adds and subtracts terms of the size of the top
    eigenvalue ``1 + s_1^2`` of ``Sigma_x``.  Measured at ``n = 100, p = 150,
    d = 50, sigma^2 = 0.5`` with the same draws: the estimate is unchanged to
    1e-6 up to an eigenvalue of 3e9, 3e-4 off at 3e11 and meaningless at 3e13
    (126 to 288 instead of 77); the bound ``1e8`` leaves a margin.  For the
    orthogonal embedding ``s^2 = snr p / d`` (``p >= d``), so the documented
    range is ``snr <= 1e8 d / p``.
    """
    top = float(pop.eigvals.max()) if pop.eigvals.size else 1.0
    if not top <= _resources.MAX_SIGNAL_EIGENVALUE:
        raise ValueError(
            f"snr too large for the simulation: the top eigenvalue of Sigma_x is {top:.3g} "
            f"(= 1 + snr p / d for the orthogonal embedding), over the accurate range "
            f"<= {_resources.MAX_SIGNAL_EIGENVALUE:.0e}; choose snr <= about "
            f"{_resources.MAX_SIGNAL_EIGENVALUE * pop.d / pop.p:.3g} (or use the theory)")


def _simulate_chunk(model, pop, n, reps, rng, ridge, how):
    """``(risks, biases, variances)`` of ``reps`` training sets by the route ``how``
    (:func:`hmmrisk.montecarlo.route`; one chunk of :func:`simulate_risk`)."""
    if how == "fit":
        return _fitted(pop, *model._sample(n, reps, rng), ridge)
    if how == "ridge":
        X, _ = model._sample(n, reps, rng)
        bias, variance = _conditional(pop, X, ridge)
    else:
        bias, variance = _conditional_draws(pop, n, reps, rng, how)
    return bias + variance, bias, variance
