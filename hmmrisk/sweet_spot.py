"""Where the total next-token risk is smallest: the phase diagram of the best model size (:ref:`ch-sweet-spot`).

The total risk of the head is ``T(p) = R(p) + tr Sigma_r(p)`` with ``R`` the
predicted excess risk of :prf:ref:`Definition 3 <def-hmm-risk>` (orthogonal
encoder, Theorem 1 in its exact finite-``n`` form below the threshold).
``p = 0`` means "no features": the head predicts ``0`` and ``T(0) = d``;
``p = inf`` means the limit of :prf:ref:`Theorem 3 <thm-double-descent>`,
``T_inf = R_inf + d sigma^2``.  Write ``m = n - 1`` and
``alpha = snr (1 - sigma^2) / (1 + snr)``.

* Below ``d`` (:prf:ref:`cor-total-small`): ``T(p) = (d - alpha p) m / (m - p)``,
  increasing iff ``alpha m < d``.
* On ``[d, m)`` (:prf:ref:`prop-sweet-under`): with ``x = d + snr p``,
  ``T'(p)`` has the sign of ``h(x) = sigma^2 x^2 + 2 (1 - sigma^2) d x - (1 - sigma^2) d (d + snr m)``,
  increasing in ``p``; so ``T`` is quasi-convex on ``[0, m)`` and its
  minimiser there is ``0`` if ``alpha m <= d``, else ``max(d, p_root)``,
  ``p_root = (x_root - d) / snr`` with ``x_root`` the positive root of ``h``.
* For every fixed ``p``, ``T`` is affine in ``sigma^2`` (``kappa`` does not
  depend on it), and ``T_inf <= d`` iff
  ``sigma^2 <= sigma0^2(snr) = 1 - d tau / (n (2 - tau))``
  (:prf:ref:`prop-sweet-boundary`, ``tau`` as in Theorem 3).

:func:`phase_diagram` uses the affinity: for each ``snr`` it evaluates
Definition 3 at ``sigma^2 = 0`` and ``1`` only and gets every ``sigma^2`` by
broadcasting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _validate as check
from ._validate import NOISE, SNR, Integer, Real, validate
from .theory import definition3, large_p_limit, large_p_tau

__all__ = [
    "KINDS", "OptimalSize", "PhaseDiagram", "optimal_model_size", "phase_diagram",
    "small_model_boundary", "total_risk_curve", "under_optimum",
    "zero_sweet_spot_boundary",
]

#: The codes of ``PhaseDiagram.kind``, in order "the best model has no
#: features", "has a finite size" and "is infinitely large".
KINDS = ("zero", "finite", "infinite")


#: The constraints every function here shares: n >= 3 (so that n - 1 >= 2), d >= 1.
_N, _D = Integer(min=3), Integer()
_SNRS = Real(gt=0.0, array=True)
_NOISES = Real(ge=0.0, le=1.0, array=True)


def _check_p_max(n, p_max):
    if p_max <= n + 1:
        raise ValueError(f"p_max must exceed n + 1 = {n + 1}, got {p_max!r}")
    return p_max


# ---------------------------------------------------------------------------
# The total risk curve, including p = 0 and p = inf
# ---------------------------------------------------------------------------

@validate(n=_N, d=_D, noise=NOISE, snr=SNR)
def total_risk_curve(n, d, noise, snr, ps):
    """Total next-token risk ``T(p) = R(p) + tr Sigma_r`` (:ref:`ch-sweet-spot`).

    * ``p = 0``: no features, the head predicts 0, ``T = E||z_{t+1}||^2 = d``;
    * ``0 < p < 1``: the closed form of :prf:ref:`cor-total-small`,
      ``(d - alpha p)(n - 1)/(n - 1 - p)`` (its analytic continuation;
      Definition 3 itself starts at ``p = 1``, where the two agree);
    * ``1 <= p < inf``: :prf:ref:`Definition 3 <def-hmm-risk>`, ``inf`` for
      ``n - 1 <= p <= n``;
    * ``p = inf``: the limit of :prf:ref:`Theorem 3 <thm-double-descent>`.

    Parameters
    ----------
    n, d : int
        Sample size ``n >= 3`` and latent dimension ``d >= 1``.
    noise, snr : float
        ``sigma^2 in [0, 1]`` and ``snr > 0``.
    ps : float or array
        Model sizes ``p >= 0``; ``np.inf`` allowed.

    Returns
    -------
    float or array shaped like ``ps``
    """
    scalar = np.ndim(ps) == 0
    try:
        p = np.asarray(ps, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"ps must be a real number or array of them, got {ps!r}") from None
    if isinstance(ps, (bool, np.bool_)) or p.size == 0 or np.any(np.isnan(p)) or np.any(p < 0):
        raise ValueError(f"ps must be non-empty model sizes >= 0 (inf allowed), got {ps!r}")
    out = np.empty(p.shape)
    alpha = snr * (1.0 - noise) / (1.0 + snr)
    small = p < 1
    out[small] = (d - alpha * p[small]) * (n - 1) / (n - 1 - p[small])
    inf = np.isinf(p)
    if np.any(inf):
        out[inf] = large_p_limit(n, d, noise, snr).total
    mid = ~small & ~inf
    if np.any(mid):
        out[mid] = definition3(n, p[mid], d, noise, snr).total
    return float(out) if scalar else out


# ---------------------------------------------------------------------------
# The boundaries
# ---------------------------------------------------------------------------

@validate(n=_N, d=_D, snr=_SNRS)
def zero_sweet_spot_boundary(n, d, snr):
    """``sigma0^2(snr) = 1 - d tau / (n (2 - tau))`` (:prf:ref:`prop-sweet-boundary`).

    ``T_inf = d`` exactly at ``sigma^2 = sigma0^2``, ``T_inf < d`` below it:
    below the curve a large enough model beats ``p = 0`` (proved); at and
    above it ``p = 0`` beats every ``p < n - 1`` (proved) and every ``p > n``
    (checked numerically, :ref:`ch-sweet-spot`).  ``tau`` is the smaller root
    of ``d snr tau^2 - (d snr + d + n snr) tau + n snr = 0``.

    Parameters
    ----------
    n, d : int
    snr : float or array of ``snr > 0``

    Returns
    -------
    float or array shaped like ``snr``, in ``(0, 1)``
    """
    scalar = np.ndim(snr) == 0
    tau = large_p_tau(n, d, snr)
    out = 1.0 - d * tau / (n * (2.0 - tau))
    return float(out) if scalar else out


@validate(n=_N, d=_D, snr=_SNRS)
def small_model_boundary(n, d, snr):
    """``sigma_u^2(snr) = 1 - d (1 + snr) / ((n - 1) snr)``: where ``alpha (n - 1) = d``.

    By :prf:ref:`cor-total-small` and :prf:ref:`prop-sweet-under`, the total
    risk is increasing on ``[0, n - 1)`` iff ``sigma^2 >= sigma_u^2`` (so no
    under-parameterised model beats ``p = 0``); below the curve it first
    falls.  The value may be negative (then it never falls).
    """
    scalar = np.ndim(snr) == 0
    out = 1.0 - d * (1.0 + snr) / ((n - 1.0) * snr)
    return float(out) if scalar else out


@validate(n=_N, d=_D, noise=_NOISES, snr=_SNRS)
def under_optimum(n, d, noise, snr):
    """Minimiser of the total risk over ``0 <= p < n - 1`` in closed form (:prf:ref:`prop-sweet-under`).

    With ``m = n - 1``, ``alpha = snr (1 - sigma^2)/(1 + snr)``:
    ``p_u = 0`` if ``alpha m <= d`` (or ``d >= m``); otherwise
    ``p_u = max(d, (x_root - d)/snr)`` with

        x_root = a (d + snr m) / (a + sqrt(a^2 + sigma^2 a (d + snr m))),   a = (1 - sigma^2) d,

    the positive root of ``sigma^2 x^2 + 2 a x - a (d + snr m)``.

    ``noise`` and ``snr`` broadcast against each other.

    Returns
    -------
    (p_u, T_u) : floats or arrays
        The minimiser and the minimum total risk ``T(p_u)``.
    """
    scalar = np.ndim(noise) == 0 and np.ndim(snr) == 0
    s2, snr = np.broadcast_arrays(noise, snr)
    m = n - 1.0
    alpha = snr * (1.0 - s2) / (1.0 + snr)
    c = (1.0 - s2) * d
    e = d + snr * m
    with np.errstate(divide="ignore", invalid="ignore"):
        x_root = np.where(c > 0, c * e / (c + np.sqrt(c * c + s2 * c * e)), 0.0)
    falls = (alpha * m > d) & (d < m)
    p_u = np.where(falls, np.maximum(float(d), (x_root - d) / snr), 0.0)
    # T(p_u): tr Sigma_r m / (m - p) with tr Sigma_r of Definition 3 (p_u >= d when it is > 0)
    tr = np.where(p_u > 0, d * (s2 + (1.0 - s2) * d / (d + snr * p_u)), float(d))
    t_u = tr * m / (m - p_u)
    if scalar:
        return float(p_u), float(t_u)
    return p_u, t_u


# ---------------------------------------------------------------------------
# The optimum over {0} U [1, p_max] U {inf}
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class OptimalSize:
    """Best model size for the total risk at one ``(n, d, sigma^2, snr)``.

    Attributes
    ----------
    p : float
        ``p*``: ``0.0``, a finite size, or ``inf``.
    total : float
        ``T(p*)``.
    kind : str
        ``"zero"``, ``"finite"`` or ``"infinite"``.
    p_under, total_under : float
        Best ``p`` over ``[0, n - 1)`` and its total risk (:func:`under_optimum`).
    p_over, total_over : float
        Best ``p`` on the search grid of ``(n, p_max]`` and its total risk.
    total_inf : float
        ``T_inf``, the limit as ``p -> inf``.
    """

    p: float
    total: float
    kind: str
    p_under: float
    total_under: float
    p_over: float
    total_over: float
    total_inf: float


@dataclass(frozen=True, eq=False)
class PhaseDiagram:
    """:func:`phase_diagram` on a ``(len(noises), len(snrs))`` grid.

    Every array attribute is shaped ``(len(noises), len(snrs))`` and holds the
    field of :class:`OptimalSize` of that name; ``kind`` holds indices into
    :data:`KINDS`.  ``boundary`` is :func:`zero_sweet_spot_boundary` and
    ``small_boundary`` :func:`small_model_boundary` at ``snrs``.
    """

    n: int
    d: int
    noises: np.ndarray
    snrs: np.ndarray
    p: np.ndarray
    total: np.ndarray
    kind: np.ndarray
    p_under: np.ndarray
    total_under: np.ndarray
    p_over: np.ndarray
    total_over: np.ndarray
    total_inf: np.ndarray
    boundary: np.ndarray
    small_boundary: np.ndarray

    def fraction(self, kind: str) -> float:
        """Share of grid cells whose best model is of ``kind`` (one of :data:`KINDS`)."""
        check.choice("kind", kind, KINDS)
        return float(np.mean(self.kind == KINDS.index(kind)))


def _over_grid(n, p_max, n_grid):
    """Model sizes searched above the threshold: geometric in ``p - n`` from 0.5 to ``p_max - n``."""
    return n + np.geomspace(0.5, p_max - n, n_grid)


def _column(n, d, s2, snr, p_over):
    """The optimum for one ``snr`` and a vector ``s2`` of noise levels."""
    # T(p, sigma^2) is affine in sigma^2 for every fixed p: two Definition 3 calls give all rows.
    t0 = definition3(n, p_over, d, 0.0, snr).total
    t1 = definition3(n, p_over, d, 1.0, snr).total
    t_over = t0[None, :] + s2[:, None] * (t1 - t0)[None, :]
    j = np.argmin(t_over, axis=1)
    tot_over = t_over[np.arange(s2.size), j]
    p_u, tot_u = under_optimum(n, d, s2, np.full_like(s2, snr))
    lim0, lim1 = large_p_limit(n, d, 0.0, snr).total, large_p_limit(n, d, 1.0, snr).total
    tot_inf = lim0 + s2 * (lim1 - lim0)
    # the finite candidate: under- or over-parameterised, whichever is smaller
    fin_is_over = tot_over < tot_u
    p_fin = np.where(fin_is_over, p_over[j], p_u)
    tot_fin = np.minimum(tot_over, tot_u)
    # p* = 0 unless something is strictly better; then inf unless a finite p is strictly better
    best_other = np.minimum(tot_fin, tot_inf)
    kind = np.where(best_other < d, np.where(tot_inf <= tot_fin, 2, 1), 0)
    kind = np.where((kind == 1) & (p_fin == 0), 0, kind)
    p = np.select([kind == 0, kind == 1], [0.0, p_fin], np.inf)
    total = np.select([kind == 0, kind == 1], [float(d), tot_fin], tot_inf)
    return p, total, kind, p_u, tot_u, p_over[j], tot_over, tot_inf


@validate(n=_N, d=_D, noise=NOISE, snr=SNR, p_max=Real(), n_grid=Integer(min=2))
def optimal_model_size(n, d, noise, snr, p_max=1e6, n_grid=400) -> OptimalSize:
    """Minimiser ``p*`` of the total risk over ``{0} U [1, p_max] U {inf}`` (:ref:`ch-sweet-spot`).

    Below the threshold the minimiser is the closed form of
    :func:`under_optimum` (:prf:ref:`prop-sweet-under`); above it the total
    risk is evaluated (Definition 3) on ``n_grid`` sizes geometric in
    ``p - n`` up to ``p_max``; ``p = inf`` is the limit of Theorem 3.  Ties go
    to the smaller model (``0`` before a finite ``p``, a finite ``p`` before ``inf``
    only if strictly better).

    Returns
    -------
    OptimalSize
    """
    p_max = _check_p_max(n, p_max)
    out = _column(n, d, np.array([noise]), snr, _over_grid(n, p_max, n_grid))
    p, total, kind, p_u, t_u, p_o, t_o, t_inf = (float(np.ravel(a)[0]) for a in out)
    return OptimalSize(p, total, KINDS[int(kind)], p_u, t_u, p_o, t_o, t_inf)


@validate(n=_N, d=_D, noises=_NOISES, snrs=_SNRS, p_max=Real(), n_grid=Integer(min=2))
def phase_diagram(n, d, noises, snrs, p_max=1e6, n_grid=400) -> PhaseDiagram:
    """:func:`optimal_model_size` on the grid ``noises x snrs`` (:ref:`ch-sweet-spot`).

    Vectorised: for each ``snr``, two Definition 3 curves (``sigma^2 = 0`` and
    ``1``) on the ``p > n`` grid give the total risk at every ``sigma^2`` by
    affinity (:prf:ref:`prop-sweet-boundary`); the under-parameterised optimum
    and ``T_inf`` are closed forms.
    """
    s2 = np.atleast_1d(noises).astype(float)
    snrs = np.atleast_1d(snrs).astype(float)
    if s2.ndim != 1 or snrs.ndim != 1:
        raise ValueError(f"noises and snrs must be 1-d, got shapes {s2.shape} and {snrs.shape}")
    p_max = _check_p_max(n, p_max)
    grid = _over_grid(n, p_max, n_grid)
    cols = [_column(n, d, s2, snr, grid) for snr in snrs]
    fields = [np.stack([c[k] for c in cols], axis=1) for k in range(8)]
    return PhaseDiagram(n, d, s2, snrs, fields[0], fields[1], fields[2].astype(int), *fields[3:],
                        boundary=zero_sweet_spot_boundary(n, d, snrs),
                        small_boundary=small_model_boundary(n, d, snrs))
