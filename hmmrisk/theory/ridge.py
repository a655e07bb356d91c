"""Ridge heads: the deterministic equivalent with ``lam > 0`` (:ref:`ch-ridge`).

An extension beyond the paper, which treats only the minimum-norm head.  The
ridge head ``B_lam = (X^T X / n + lam I)^{-1} X^T Y / n``
(:func:`hmmrisk.head.fit_head` with ``ridge=lam``) has the deterministic
equivalent of Definition 2 with ``kappa`` moved off the interpolation
equation: ``kappa > lam`` solves

    lam = kappa (1 - (1/n) sum_i s_i / (s_i + kappa)),

and on that root ``1 - D2 = lam / kappa + (kappa / n) sum_i s_i / (s_i + kappa)^2``,
a sum of two positive terms (no cancellation, for every ``p`` and
``lam > 0``).  The solver and the bias/variance formulas are those of
Definition 2 (one kernel, ``hmmrisk/theory/_kernel.py``), so the two-point
spectrum of the orthogonal embedding costs O(1) per point.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as check
from .._validate import NOISE, SNR, Integer, Real, validate
from . import _kernel as kernel
from ._results import RIDGE_FORMULA, Prediction, RidgePredictions
from .paper import definition3, kappa_orthogonal, orthogonal_spectrum

__all__ = ["optimal_ridge", "ridge_kappa", "ridge_orthogonal", "ridge_risk"]


def _result(shape, p, bias, variance, tr, lam, k):
    if shape == ():
        return Prediction(float(bias[0]), float(variance[0]), float(tr[0]), RIDGE_FORMULA)
    r = lambda a: np.asarray(a, dtype=float).reshape(shape)    # noqa: E731
    return RidgePredictions(p=r(p), bias=r(bias), variance=r(variance), irreducible=r(tr),
                            formula=np.full(shape, RIDGE_FORMULA), ridge=r(lam), kappa=r(k))


def _ridge_spectrum(eigvals, n, ridge, n_unit, signal=None, irreducible=None):
    """Validate a spectrum batch and a penalty array; broadcast to one flat batch.

    Returns ``(shape, sp, lam)`` with ``sp`` a :class:`Spectrum` of
    ``M = prod(shape)`` spectra and ``lam`` of shape ``(M,)``.
    """
    batch, sp = kernel.spectrum(eigvals, n, n_unit, signal, irreducible)
    lam = check.real_array("ridge", ridge, low=0.0, low_open=True)
    if np.any(sp.rank == 0):
        raise ValueError("eigvals must hold at least one positive eigenvalue (or n_unit > 0), got none")
    try:
        shape = np.broadcast_shapes(batch, lam.shape)
    except ValueError:
        raise ValueError(f"ridge of shape {lam.shape} does not broadcast against the batch of "
                         f"{sp.s.shape[0]} spectra") from None
    idx = np.broadcast_to(np.arange(sp.s.shape[0]).reshape(batch), shape).ravel()
    return shape, sp.take(idx), np.broadcast_to(lam, shape).ravel().astype(float)


def ridge_kappa(eigvals, n, ridge, n_unit=0):
    """``kappa`` of the ridge deterministic equivalent (:prf:ref:`def-ridge-risk`).

    The unique root ``kappa > lam`` of

        lam = kappa (1 - (1/n) [sum_i s_i/(s_i + kappa) + n_unit/(1 + kappa)]),

    for any number of eigenvalues (``p < n``, ``p = n`` or ``p > n``).  As
    ``lam -> 0`` it tends to Definition 1's root (:prf:ref:`def-kappa`) when
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
    shape, sp, lam = _ridge_spectrum(eigvals, n, ridge, n_unit)
    k = kernel.solve_kappa(sp, lam)
    return float(k[0]) if shape == () else k.reshape(shape)


def ridge_risk(eigvals, signal, n, irreducible, ridge, n_unit=0):
    """Deterministic equivalent of the ridge head's risk (:prf:ref:`def-ridge-risk`).

    With ``kappa > lam`` from :func:`ridge_kappa` and
    ``D2 = (1/n) sum_i s_i^2 / (s_i + kappa)^2``,

        bias     = kappa^2 sum_i s_i b_i / (s_i + kappa)^2 / (1 - D2),
        variance = tr Sigma_r * D2 / (1 - D2),

    computed with ``1 - D2 = lam/kappa + (kappa/n) sum_i s_i/(s_i + kappa)^2``
    (Hastie, Montanari, Rosset & Tibshirani 2022; Bach 2024).  Valid for every
    ``p`` and ``lam > 0``; ``lam -> 0`` gives
    :prf:ref:`Definition 2 <def-predicted-risk>` for ``p > n`` and the limit form of
    :prf:ref:`Theorem 1 <thm-under>` for ``p < n``; ``lam -> inf`` gives bias
    ``sum_i s_i b_i = ||B*||^2_{Sigma_x}`` and variance 0
    (:prf:ref:`prop-ridge-limits`).

    Parameters
    ----------
    eigvals, signal : (r,) or (m, r) arrays
        Eigenvalues ``s_i >= 0`` outside the unit block and the weights
        ``b_i = ||B*^T v_i||^2 >= 0`` of ``B*`` on their eigenvectors.
    n : int or (m,) array of int
        Sample size(s), ``n >= 2``.
    irreducible : float or (m,) array
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
    shape, sp, lam = _ridge_spectrum(eigvals, n, ridge, n_unit, signal, irreducible)
    k = kernel.solve_kappa(sp, lam)
    bias, variance = kernel.bias_variance(sp, k, lam)
    p = (sp.s > 0).sum(axis=-1) + sp.n_unit
    return _result(shape, p, bias, variance, sp.tr, lam, k)


@validate(n=Integer(min=2), d=Integer(), p=Real(ge=1.0, array=True),
          ridge=Real(gt=0.0, array=True), noise=NOISE, snr=SNR)
def ridge_orthogonal(n, p, d, noise, snr=1.0, *, ridge):
    """Ridge risk (deterministic equivalent) for the orthogonal embedding (:prf:ref:`def-ridge-risk`).

    The two-point spectrum of :func:`~hmmrisk.theory.orthogonal_spectrum`
    (``s1`` with multiplicity ``d_p = min(p, d)`` and weight ``b1``, ``1`` with
    multiplicity ``p - d_p`` and no weight) makes every sum two terms: the
    ``kappa``-equation is the cubic

        kappa^3 + [1 + s1 - lam - (d_p s1 + p - d_p)/n] kappa^2
                + [s1 - lam (1 + s1) - s1 p/n] kappa - lam s1 = 0

    with exactly one positive root, found by the safeguarded Newton iteration
    of :func:`ridge_kappa`, O(1) per point.  ``p`` (non-integer allowed) and
    ``ridge`` broadcast against each other, e.g. ``p[:, None]`` against
    ``ridge[None, :]`` for a grid.

    Returns
    -------
    Prediction (scalar ``p`` and ``ridge``) or RidgePredictions
        The predicted bias, variance and risk of the ridge head.

    Examples
    --------
    >>> from hmmrisk.theory import ridge_orthogonal
    >>> pred = ridge_orthogonal(100, 50, 50, 0.5, ridge=0.1)
    >>> pred.formula, pred.risk > 0
    ('ridge', True)
    """
    lam = ridge
    try:
        shape = np.broadcast_shapes(p.shape, lam.shape)
    except ValueError:
        raise ValueError(f"p of shape {p.shape} and ridge of shape {lam.shape} do not broadcast") from None
    p = np.broadcast_to(p, shape).ravel().astype(float)
    lam = np.broadcast_to(lam, shape).ravel().astype(float)
    s1, r, b1, tr = orthogonal_spectrum(p, d, noise, snr)
    sp = kernel.two_point(float(n), p, r, s1, b1, tr)
    k = kernel.solve_kappa(sp, lam)
    bias, variance = kernel.bias_variance(sp, k, lam)
    return _result(shape, p, bias, variance, tr, lam, k)


@validate(noise=Real(ge=0.0, lt=1.0), n=Integer(min=2), grid=Integer(min=5),
          p=Real(ge=1.0, array=True), d=Integer(), snr=SNR)
def optimal_ridge(n, p, d, noise, snr=1.0, bounds=(1e-8, 1e8), grid: int = 97):
    """The risk-minimising ridge penalty ``lam* >= 0`` for the orthogonal embedding (:ref:`ch-ridge`).

    Minimises the excess risk of :func:`ridge_orthogonal` over
    ``log lam in [log bounds[0], log bounds[1]]``, vectorised over ``p``: a
    grid of ``grid`` log-spaced penalties locates the best cell, then a
    golden-section search on the two neighbouring cells refines it (the
    minimiser of a smooth function is determined only to about the square root
    of the machine precision in relative terms, about ``1e-8``).  For ``p <= d``
    (``Sigma_x`` a multiple of the identity, ``B*`` spread evenly over it) the
    minimiser is ``lam* = tr Sigma_r / (n b1)`` exactly
    (:prf:ref:`prop-ridge-optimal`), which the tests use as an independent
    check.

    If for some ``p > n`` the smallest risk on the grid is at its lower end,
    the risk still increases at ``lam = bounds[0]``: among penalties
    ``lam >= 0`` the minimum-norm head is best (the unconstrained optimum would
    be ``lam <= 0``).  That point gets ``lam* = 0`` and
    :prf:ref:`Definition 2 <def-predicted-risk>` (the ``lam -> 0`` limit,
    :prf:ref:`prop-ridge-limits`), with ``formula = "definition2"``.

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
    try:
        low, high = bounds
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be a pair (low, high), got {bounds!r}") from None
    low = check.real("bounds[0]", low, low=0.0, low_open=True)
    high = check.real("bounds[1]", high, low=low, low_open=True)
    scalar = np.ndim(p) == 0
    p = np.atleast_1d(p).ravel().astype(float)
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
        at_zero = definition3(n, p[zero], d, noise, snr)
        arrays = {k: getattr(pred, k).copy() for k in ("bias", "variance", "ridge", "kappa", "formula")}
        arrays["bias"][zero], arrays["variance"][zero] = at_zero.bias, at_zero.variance
        arrays["ridge"][zero] = 0.0
        arrays["kappa"][zero] = kappa_orthogonal(n, p[zero], d, snr)
        arrays["formula"] = arrays["formula"].astype(object)
        arrays["formula"][zero] = "definition2"
        arrays["formula"] = arrays["formula"].astype(str)
        pred = RidgePredictions(p=pred.p, irreducible=pred.irreducible, **arrays)
    if scalar:
        return float(lam_star[0]), pred[0]
    return lam_star, pred
