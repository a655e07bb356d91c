"""The one kernel behind every formula of :mod:`hmmrisk.theory`.

A *spectrum* (:class:`Spectrum`) is a batch of ``M`` spectra of ``Sigma_x``:
distinct eigenvalues ``s`` with multiplicities ``m`` and per-eigenvector
weights ``b = ||B*^T v||^2``, plus a unit block (eigenvalue 1, multiplicity
``n_unit``, no weight of ``B*``: the encoder noise), a sample size ``n`` and
``tr Sigma_r``.  Every sum of Definitions 1-2 and of the ridge equivalent is
then a sum over the columns of ``s`` plus one term for the unit block, so the
cost never grows with ``p``.

* :func:`solve_kappa`, for a penalty ``lam >= 0``: the root ``kappa`` of

      sum_j m_j s_j/(s_j + kappa) + n_unit/(1 + kappa) + n lam/kappa = n,

  :prf:ref:`Definition 1 <def-kappa>` at ``lam = 0`` (needs rank ``> n``),
  the ridge equation (:prf:ref:`def-ridge-risk`) for ``lam > 0``.
* :func:`bias_variance`: on that root, with ``t_j = s_j/(s_j + kappa)`` and
  ``u_j = kappa/(s_j + kappa) = 1 - t_j`` (``t0``, ``u0`` for the unit block),

      1 - D2   = (1/n) (sum_j m_j t_j u_j + n_unit t0 u0) + lam/kappa,
      D2       = (1/n) (sum_j m_j t_j^2 + n_unit t0^2),
      bias     = sum_j m_j b_j s_j u_j^2 / (1 - D2),
      variance = tr Sigma_r D2 / (1 - D2).

  ``1 - D2`` is a sum of positive terms (no cancellation near the
  threshold).  At ``lam = 0`` this is
  :prf:ref:`Definition 2 <def-predicted-risk>`.

* :func:`kappa_two_point`: the fast path for a two-point spectrum at
  ``lam = 0`` (the orthogonal embedding of Definition 3), a quadratic solved
  in closed form.  It needs no iteration and is 25 to 35 times cheaper than
  the Newton solve on a grid of 2000 model sizes (``bench/bench_fast_path.py``:
  50-65 us against 1.6-1.8 ms on the shared build machine); the two agree to ~3e-14
  relative, which ``tests/test_theory.py`` checks.

Overflow safety: no eigenvalue, ``kappa`` or ``n`` is ever squared
or multiplied by another; every term is a ratio in ``[0, 1]``, such a ratio
over ``s + kappa``, or ``s_j u_j = kappa t_j <= min(s_j, kappa)``.  So the
formulas hold for any finite spectrum whose trace is finite (eigenvalues from
``1e-300`` to ``1e300``, ``p`` and ``n`` up to ``1e300``, penalties from ``1e-300`` to ``1e300``:
``tests/test_extremes.py`` checks them against a 60-digit reference).  Before,
``(s + kappa)^2`` overflowed from ``s ~ 1e154`` on and the top eigenvalue
silently dropped out of ``D2`` (a risk of 25 instead of 75).

The functions here take validated flat batches; :func:`spectrum` validates
user input once for every public entry point.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _validate as check

__all__ = ["Spectrum", "bias_variance", "kappa_two_point", "newton_in_bracket",
           "solve_kappa", "spectrum"]

RTOL = 4 * np.finfo(float).eps


class Spectrum(NamedTuple):
    """A validated batch of ``M`` spectra (all arrays float).

    ``s``, ``m``, ``b``: ``(M, k)`` eigenvalues ``>= 0``, multiplicities
    ``>= 0`` and weights ``>= 0``; ``n_unit``, ``n``, ``tr``: ``(M,)``.
    """

    s: np.ndarray
    m: np.ndarray
    b: np.ndarray
    n_unit: np.ndarray
    n: np.ndarray
    tr: np.ndarray

    @property
    def rank(self) -> np.ndarray:
        """Number of non-zero eigenvalues (``p`` of the model), ``(M,)``."""
        return np.where((self.s > 0) & (self.m > 0), self.m, 0.0).sum(axis=-1) + self.n_unit

    def take(self, idx) -> Spectrum:
        """The spectra ``idx`` (an index array), e.g. to broadcast against penalties."""
        return Spectrum(*(a[idx] for a in self))


def _per_spectrum(name, arr, ms):
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size not in (1, ms)):
        raise ValueError(f"{name} must be a scalar or have one entry per spectrum ({ms}), "
                         f"got shape {arr.shape}")
    return np.broadcast_to(arr.reshape(-1) if arr.ndim else arr, (ms,)).astype(float)


def spectrum(eigvals, n, n_unit=0, signal=None, irreducible=None):
    """Validate user input into a :class:`Spectrum`; the one spectrum validator.

    Returns ``(batch, sp)`` with ``batch`` the batch shape (``()`` for a 1-d
    ``eigvals``, ``(M,)`` for a 2-d one).  ``signal`` defaults to zeros and
    ``irreducible`` to 0.  Raises ``ValueError`` naming the parameter; the rank
    condition of each formula is checked by its caller.
    """
    s = check.real_array("eigvals", eigvals, low=0.0)
    if s.ndim not in (1, 2):
        raise ValueError(f"eigvals must be a 1-d spectrum or a 2-d batch of spectra, got shape {s.shape}")
    batch = () if s.ndim == 1 else (s.shape[0],)
    s2 = np.atleast_2d(s).astype(float)
    ms = s2.shape[0]
    b2 = np.zeros_like(s2)
    if signal is not None:
        b = check.real_array("signal", signal, low=0.0)
        if b.shape != s.shape:
            raise ValueError(f"signal must have the shape of eigvals {s.shape}, got {b.shape}")
        b2 = np.atleast_2d(b).astype(float)
    nu = _per_spectrum("n_unit", check.integer_array("n_unit", n_unit, minimum=0), ms)
    nn = _per_spectrum("n", check.integer_array("n", n, minimum=2), ms)
    tr = _per_spectrum("irreducible", check.real_array(
        "irreducible", 0.0 if irreducible is None else irreducible, low=0.0), ms)
    return batch, Spectrum(s2, np.ones_like(s2), b2, nu, nn, tr)


def newton_in_bracket(g_dg, lo, hi, rtol=RTOL, maxiter=400):
    """Vectorised root of a decreasing convex ``g`` in the brackets ``[lo, hi]``.

    ``g_dg(k)`` returns ``(g, g', scale)`` with ``scale`` the size of the
    terms summed into ``g`` (for the rounding-error test).  Newton's method
    started at ``lo`` increases monotonically to the root (convexity); a step
    that would leave the bracket is replaced by a geometric bisection.  A
    point stops when its step is a few ulp, when ``|g|`` is at the level of its
    own rounding error, or when its bracket has collapsed.
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
        k_new = np.where(inside, newton, np.sqrt(lo) * np.sqrt(hi))    # lo * hi may overflow
        step_small = np.abs(k_new - k) <= rtol * k_new
        at_noise = np.abs(g) <= 8 * np.finfo(float).eps * scale
        done = done | step_small | at_noise | (hi <= lo * (1 + rtol))
        k = np.where(done & ~step_small, k, k_new)
    return k


def solve_kappa(sp: Spectrum, lam) -> np.ndarray:
    """Root ``kappa`` of ``g(k) = sum_j m_j s_j/(s_j + k) + n_unit/(1 + k) + n lam/k - n``.

    ``g`` is strictly decreasing and convex on ``k > 0``.  For ``lam = 0``
    (Definition 1, rank ``P > n`` required) the root lies in
    ``[s_min (P - n)/n, s_max (P - n)/n]``; for ``lam > 0`` in
    ``[max(lam, s_min (P - n)/n), lam + (sum_j m_j s_j + n_unit)/n]`` (the
    second lower bound only when ``P > n``: ``kappa`` increases with ``lam``
    from Definition 1's root; the upper one from
    ``kappa = lam + kappa df1(kappa)/n`` and ``kappa df1 <= tr Sigma_x``).
    """
    s, m, _, nu, nn, _ = sp
    lam = np.broadcast_to(np.asarray(lam, dtype=float), nn.shape)
    pos = (s > 0) & (m > 0)
    rank = np.where(pos, m, 0.0).sum(axis=-1) + nu
    unit = nu > 0
    s_max = np.where(pos, s, 0.0).max(axis=-1)
    s_max = np.where(unit, np.maximum(s_max, 1.0), s_max)
    s_min = np.where(pos, s, np.inf).min(axis=-1)
    s_min = np.where(unit, np.minimum(s_min, 1.0), s_min)
    excess = (rank - nn) / nn
    trace_n = (np.where(pos, m * (s / nn[:, None]), 0.0)).sum(axis=-1) + nu / nn   # tr Sigma_x / n
    lo = np.maximum(lam, np.where(rank > nn, s_min * excess, 0.0))
    # kappa <= tr Sigma_x / n as well (each s/(s + kappa) <= s/kappa): a finite
    # bound where s_max (P - n)/n overflows (huge spectra and p).
    with np.errstate(over="ignore"):
        hi = np.where(lam > 0, lam + trace_n, np.minimum(s_max * excess, trace_n))

    def g_dg(k):
        # no squares: every term is a ratio in [0, 1] or such a ratio over (s + k),
        # finite for spectra and kappa up to the largest float
        kk = k[:, None]
        frac = m * (s / (s + kk))                          # m s/(s + k)
        df = frac.sum(axis=-1) + nu / (1.0 + k)
        shrink = nn * (lam / k)
        slope = (frac / (s + kk)).sum(axis=-1) + nu / (1.0 + k) / (1.0 + k) + shrink / k
        return df + shrink - nn, -slope, df + shrink + nn

    return newton_in_bracket(g_dg, lo, hi)


def kappa_two_point(n, p, r, s1):
    """Fast path: Definition 1 for eigenvalue ``s1`` (multiplicity ``r``) and 1 (``p - r``).

    The positive root of ``n k^2 + k [n (1 + s1) - r s1 - (p - r)] + s1 (n - p) = 0``,
    i.e. ``r s1/(s1 + k) + (p - r)/(1 + k) = n`` cleared of denominators; for
    ``p > n`` the constant term is negative, so exactly one root is positive.
    The form without cancellation is chosen by the sign of the linear
    coefficient.
    """
    # The quadratic divided by n s1 (so that nothing overflows for huge s1, p
    # or n): k^2/s1 + B k - C = 0 with B = 1 + 1/s1 - r/n - (p - r)/(n s1) and
    # C = (p - n)/n > 0; hypot keeps B^2 + 4 C/s1 finite.
    n, p, r, s1 = (np.asarray(a, dtype=float) for a in (n, p, r, s1))
    bq = (1.0 + 1.0 / s1) - r / n - (p - r) / n / s1
    c = (p - n) / n
    root = np.hypot(bq, 2.0 * np.sqrt(c) / np.sqrt(s1))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # the discarded branch
        return np.where(bq > 0, 2.0 * c / (bq + root), (root - bq) * (0.5 * s1))


def two_point(n, p, r, s1, b1, tr) -> Spectrum:
    """The two-point spectrum (``s1`` times ``r``, 1 times ``p - r``) as a :class:`Spectrum`."""
    n, p, r, s1, b1, tr = np.broadcast_arrays(*(np.asarray(a, dtype=float)
                                                for a in (n, p, r, s1, b1, tr)))
    return Spectrum(s1.reshape(-1, 1), r.reshape(-1, 1), b1.reshape(-1, 1),
                    (p - r).ravel(), n.ravel(), tr.ravel())


def bias_variance(sp: Spectrum, kappa, lam=0.0):
    """Bias and variance of Definition 2 / the ridge equivalent on the root ``kappa``.

    See the module docstring; ``lam = 0`` gives
    :prf:ref:`Definition 2 <def-predicted-risk>`, ``lam > 0`` the ridge deterministic
    equivalent (:prf:ref:`def-ridge-risk`).
    """
    s, m, b, nu, nn, tr = sp
    k = np.asarray(kappa, dtype=float)
    lam = np.broadcast_to(np.asarray(lam, dtype=float), k.shape)
    kk = k[:, None]
    # Scaled forms: t = s/(s + kappa) and u = kappa/(s + kappa) lie in
    # [0, 1], so no term overflows or underflows for any finite s and kappa:
    #   1 - D2 = (1/n) [sum_j m_j t_j u_j + n_unit t0 u0] + lam/kappa,
    #   D2     = (1/n) [sum_j m_j t_j^2 + n_unit t0^2],
    #   bias   = sum_j m_j b_j (s_j u_j) u_j / (1 - D2)     (kappa^2 s/(s + kappa)^2 = s u^2).
    t = s / (s + kk)
    u = kk / (s + kk)
    t0, u0 = 1.0 / (1.0 + k), k / (1.0 + k)
    mn = m / nn[:, None]
    un = nu / nn
    one_minus_d2 = (mn * t * u).sum(axis=-1) + un * t0 * u0 + lam / k
    d2 = (mn * t * t).sum(axis=-1) + un * t0 * t0
    bias = (m * (s * u) * u * b).sum(axis=-1) / one_minus_d2
    variance = tr * d2 / one_minus_d2
    return bias, variance
