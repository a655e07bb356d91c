"""Risk against model size: theory curves and Monte Carlo points (:ref:`ch-double-descent`).

:func:`risk_curve` sweeps the model size ``p`` at fixed ``(n, d, sigma^2,
snr, embedding)``.  For every ``p`` it draws one HMM and encoder
(:func:`~hmmrisk.hmm.make_model`), evaluates the theory on that model's
population (:func:`hmmrisk.theory.predicted_risk`: Theorem 1 exact for
``p < n - 1``, Definition 2 for ``p > n``) and estimates the mean excess risk
over ``reps`` training sets with :func:`~hmmrisk.risk.simulate_risk`.

Seeds (``rng=``, SPEC 7): with an int seed the model and the training sets at
model size ``p`` come from ``np.random.SeedSequence([seed, p])``, so a point
does not depend on the rest of the grid, and curves that share the seed share
their encoders (common random numbers across ``sigma^2`` and ``n``).  With a
``numpy.random.Generator`` each point gets one child spawned from it, in grid
order.

Near the interpolation threshold the Monte Carlo mean is useless: for
Gaussian inputs the mean risk is infinite for ``|p - n| <= 1`` and its
estimator has infinite variance for ``|p - n| <= 3``
(:prf:ref:`prop-moments`).  Points with ``|p - n| <= band`` (default 3) are
not simulated; their simulation fields are ``NaN`` and ``excluded`` is
``True``.

:data:`FIGURE1` and :data:`FIGURE2` fix the parameters of the two figures of
the paper; :func:`figure1_curves` and :func:`figure2_curves` compute them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as check
from ._validate import (NOISE, SEED, SNR, Integer, Options, OrNone, spawn_seeds,
                        validate)
from .hmm import EMBEDDINGS
from .risk import METHODS
from .population import population
from .sweep import run_point
from .theory import Predictions, predicted_curve

__all__ = ["FIGURE1", "FIGURE2", "RiskCurve", "figure1_curves", "figure2_curves",
           "risk_curve"]

#: The setting of Figure 1 of the paper (n = 100, d = 50, p in [50, 150], several sigma^2).
FIGURE1 = dict(n=100, d=50, noises=(0.2, 0.5, 0.8), snr=1.0,
               ps=tuple(range(50, 151, 2)), reps=200, seed=2024)
#: The setting of Figure 2 of the paper (sigma^2 = 0.5, d = 50, p in [50, 350], several n).
FIGURE2 = dict(ns=(100, 150, 200), d=50, noise=0.5, snr=1.0,
               ps=tuple(range(50, 351, 10)), reps=200, seed=2024)


@dataclass(frozen=True, eq=False)
class RiskCurve:
    """Theory and simulation of the excess risk over a grid of model sizes.

    Attributes
    ----------
    p : (m,) int array
        Model sizes.
    n, d, noise, snr, embedding, reps, band
        The sweep's parameters.
    seed : int or None
        The int seed of ``rng=`` (``None`` when a Generator was given).
    theory : :class:`~hmmrisk.theory.Predictions`
        Bias, variance, irreducible (``tr Sigma_r``) and formula at each ``p``,
        for the very model that was simulated.
    sim_risk, sim_stderr, sim_bias, sim_variance : (m,) arrays
        Monte Carlo mean excess risk, its standard error, and the means of
        Lemma 1's ``B_X`` and ``V_X``; ``NaN`` where ``excluded``.
    excluded : (m,) bool array
        ``|p - n| <= band``: not simulated.
    """

    p: np.ndarray
    n: int
    d: int
    noise: float
    snr: float
    embedding: str
    reps: int
    seed: int | None
    band: int
    theory: Predictions
    sim_risk: np.ndarray
    sim_stderr: np.ndarray
    sim_bias: np.ndarray
    sim_variance: np.ndarray
    excluded: np.ndarray

    @property
    def irreducible(self) -> np.ndarray:
        """``tr Sigma_r`` at each ``p`` (exact, from the population)."""
        return self.theory.irreducible

    @property
    def sim_total(self) -> np.ndarray:
        """Monte Carlo total next-token risk, ``sim_risk + tr Sigma_r`` (same standard error)."""
        return self.sim_risk + self.irreducible

    @property
    def relative_deviation(self) -> np.ndarray:
        """``sim_risk / theory.risk - 1``; ``NaN`` where excluded."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sim_risk / self.theory.risk - 1.0

    @property
    def z(self) -> np.ndarray:
        """``(sim_risk - theory.risk) / sim_stderr``; ``NaN`` where excluded."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.sim_risk - self.theory.risk) / self.sim_stderr

    def max_relative_deviation(self, outside: int = 10, total: bool = False) -> float:
        """Largest ``|sim / theory - 1|`` over simulated points with ``|p - n| >= outside``.

        ``total=True`` compares total risks (excess + ``tr Sigma_r``) instead.
        Returns ``NaN`` if no point qualifies.
        """
        outside = check.integer("outside", outside, minimum=0)
        if not isinstance(total, (bool, np.bool_)):
            raise TypeError(f"total must be a bool, got {total!r}")
        if total:
            with np.errstate(invalid="ignore"):
                dev = self.sim_total / self.theory.total - 1.0
        else:
            dev = self.relative_deviation
        keep = (np.abs(self.p - self.n) >= outside) & ~self.excluded
        return float(np.max(np.abs(dev[keep]))) if np.any(keep) else float("nan")


def _grid(ps) -> np.ndarray:
    arr = np.asarray(ps)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"ps must be a non-empty 1-d sequence of model sizes, got {ps!r}")
    out = np.array([check.integer("ps", v) for v in arr.tolist()], dtype=np.int64)
    if np.unique(out).size != out.size:
        raise ValueError(f"ps must not repeat a model size, got {ps!r}")
    return out


@validate(n=Integer(min=2), d=Integer(), noise=NOISE, snr=SNR, embedding=Options(EMBEDDINGS),
          reps=Integer(min=2), rng=SEED, band=Integer(min=1), method=Options(METHODS))
def risk_curve(n: int, d: int, noise: float, ps, snr: float = 1.0,
               embedding: str = "orthogonal", reps: int = 200, rng=0,
               band: int = 3, method: str = "conditional") -> RiskCurve:
    """Theory and Monte Carlo excess risk of the head over a grid of ``p``.

    Parameters
    ----------
    n, d : int
        Training pairs (``n >= 2``) and latent dimension (``d >= 1``).
    noise, snr : float
        ``sigma^2`` in ``[0, 1]`` and ``snr > 0``.
    ps : sequence of int
        Model sizes ``p >= 1``, no repeats.
    embedding : {"orthogonal", "gaussian"}
        Encoder of :func:`~hmmrisk.hmm.make_model`.
    reps : int
        Training sets per simulated point (``>= 2``; the figures use 200).
    rng : int, numpy.random.Generator or None
        An int seed ``>= 0`` (default 0): point ``p`` is drawn by
        :func:`hmmrisk.sweep.run_point` with ``rng=[rng, p]``
        (``SeedSequence([rng, p])``).  A Generator: one child per point,
        spawned in grid order.  ``None``: fresh OS entropy.
    band : int
        Points with ``|p - n| <= band`` are excluded (``>= 1``; the mean
        risk is infinite for ``|p - n| <= 1``).
    method : str
        Passed to :func:`~hmmrisk.risk.simulate_risk`.

    Returns
    -------
    RiskCurve
    """
    p = _grid(ps)
    m = p.size
    seed = rng if isinstance(rng, int) else None
    seeds = [np.random.SeedSequence([seed, int(pi)]) for pi in p] if seed is not None else spawn_seeds(rng, m)
    sim = np.full((4, m), np.nan)
    excluded = np.abs(p - n) <= band
    pops = []
    for i, pi in enumerate(p):
        run = run_point(n, int(pi), d, noise, snr, rng=seeds[i], embedding=embedding,
                        reps=reps, method=method, simulate=not excluded[i])
        pops.append(population(run.model))
        if excluded[i]:
            continue
        est = run.estimate
        sim[:, i] = est.risk, est.stderr, est.bias, est.variance
    theory = predicted_curve(pops, n)
    return RiskCurve(p=p, n=n, d=d, noise=noise, snr=snr, embedding=embedding, reps=reps,
                     seed=seed, band=band, theory=theory, sim_risk=sim[0], sim_stderr=sim[1],
                     sim_bias=sim[2], sim_variance=sim[3], excluded=excluded)


@validate(reps=OrNone(Integer(min=2)), rng=OrNone(SEED))
def figure1_curves(reps: int | None = None, ps=None, rng=None, noises=None) -> dict:
    """Figure 1: ``{sigma^2: RiskCurve}`` with :data:`FIGURE1`'s parameters.

    ``reps``, ``ps``, ``rng`` and ``noises`` (the values of ``sigma^2``, one
    curve each) override the defaults, e.g. for a quick run or from
    ``python -m hmmrisk figure 1``.  ``rng=None`` is the figure's seed
    (``FIGURE1["seed"]``, 2024), not fresh entropy; an int or a Generator is
    passed to :func:`risk_curve` (every curve from an int shares its encoders;
    a Generator spawns each curve's points in turn).
    """
    cfg, kw = _figure_config(FIGURE1, reps, ps, rng)
    noises = cfg["noises"] if noises is None else _distinct("noises", noises)
    return {noise: risk_curve(cfg["n"], cfg["d"], noise, **kw) for noise in noises}


@validate(reps=OrNone(Integer(min=2)), rng=OrNone(SEED))
def figure2_curves(reps: int | None = None, ps=None, rng=None, ns=None) -> dict:
    """Figure 2: ``{n: RiskCurve}`` with :data:`FIGURE2`'s parameters (``ns`` overrides the sample sizes).

    ``rng`` as in :func:`figure1_curves` (``None`` is ``FIGURE2["seed"]``).
    """
    cfg, kw = _figure_config(FIGURE2, reps, ps, rng)
    ns = cfg["ns"] if ns is None else _distinct("ns", ns)
    return {n: risk_curve(n, cfg["d"], cfg["noise"], **kw) for n in ns}


def _figure_config(cfg, reps, ps, rng):
    """A figure's parameters with the overrides that are not ``None``: ``(cfg, risk_curve keywords)``."""
    return cfg, dict(ps=cfg["ps"] if ps is None else ps, snr=cfg["snr"],
                     reps=cfg["reps"] if reps is None else reps,
                     rng=cfg["seed"] if rng is None else rng)


def _distinct(name, values) -> tuple:
    values = tuple(np.atleast_1d(np.asarray(values, dtype=object)).tolist())
    if not values or len(set(values)) != len(values):
        raise ValueError(f"{name} must be a non-empty sequence of distinct values, got {values!r}")
    return values
