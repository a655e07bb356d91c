"""The least-squares head (:ref:`ch-lemma1`).

Head tuning fits ``B`` in ``y ~ B^T x`` on ``n`` pairs ``(X, Y)``:

* minimum-norm least squares, ``B_hat = (X^T X)^+ X^T Y`` (the unique
  least-squares solution for ``p <= n``, the interpolator of least Frobenius
  norm for ``p > n``);
* ridge, ``B_hat_lam = (X^T X / n + lam I)^{-1} X^T Y / n`` for ``lam > 0``.

Both come from one thin SVD ``X = U S V^T``:
``B_hat = V diag(f(s)) U^T Y`` with ``f(s) = 1/s`` (on the numerical range of
``X``) or ``f(s) = s / (s^2 + n lam)``.
"""

from __future__ import annotations

import numpy as np

from . import _validate as check


def spectral_filter(s: np.ndarray, n: int, ridge: float) -> np.ndarray:
    """``f(s)`` of the module docstring: ``1/s`` on the range, ``s/(s^2 + n lam)``.

    Singular values below ``max(n, p) * eps * s_max`` count as zero (the
    ``numpy.linalg.pinv`` rule), so the minimum-norm head ignores them.

    Parameters
    ----------
    s : (..., m) array
        Singular values ``>= 0`` (last axis non-empty).
    n : int
        Number of training pairs, ``n >= 1``.
    ridge : float
        ``lam >= 0``.
    """
    s = check.finite_array("s", s)
    if s.ndim < 1 or s.shape[-1] == 0 or np.any(s < 0):
        raise ValueError(f"s must be a non-empty array of singular values >= 0, got {s!r}")
    return _filter(s, check.integer("n", n), check.real("ridge", ridge, low=0.0))


def _filter(s: np.ndarray, n: int, ridge: float) -> np.ndarray:
    """:func:`spectral_filter` on arguments already checked."""
    if ridge > 0:
        return s / (s**2 + n * ridge)
    tol = s.max(axis=-1, keepdims=True) * max(s.shape[-1], n) * np.finfo(float).eps
    safe = np.where(s > tol, s, 1.0)
    return np.where(s > tol, 1.0 / safe, 0.0)




def fit_head(X: np.ndarray, Y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """Fit the head ``B_hat`` (:prf:ref:`lem-bias-variance`).

    Parameters
    ----------
    X : (..., n, p) array
        Features; leading axes index independent training sets.
    Y : (..., n, d) array
        Targets.
    ridge : float
        ``lam >= 0``; 0 gives the minimum-norm least-squares head.

    Returns
    -------
    (..., p, d) array

    Examples
    --------
    >>> import numpy as np
    >>> from hmmrisk import fit_head
    >>> X = np.eye(3)
    >>> fit_head(X, 2 * X)                 # n = p, X invertible: the exact solution
    array([[2., 0., 0.],
           [0., 2., 0.],
           [0., 0., 2.]])
    """
    X, Y = check.training_data(X, Y)
    ridge = check.real("ridge", ridge, low=0.0)
    with check.finite_result("X", X) as out:
        out.append(head_from_svd(np.linalg.svd(X, full_matrices=False), Y, ridge))
    return out[0]


def head_from_svd(svd, Y: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """The head of :func:`fit_head` from a thin SVD ``X = U S V^T`` already computed.

    ``B_hat = V diag(f(s)) U^T Y`` (the module docstring), for callers that
    need the SVD of ``X`` for other quantities too (Lemma 1's terms in
    :func:`hmmrisk.risk.fitted_risk`): one factorisation instead of two.

    Parameters
    ----------
    svd : tuple ``(U, s, Vt)``
        ``numpy.linalg.svd(X, full_matrices=False)``: shapes ``(..., n, m)``,
        ``(..., m)``, ``(..., m, p)``.
    Y : (..., n, d) array
        Targets.
    ridge : float
        ``lam >= 0``.
    """
    try:
        U, s, Vt = (np.asarray(a, dtype=float) for a in svd)
    except (TypeError, ValueError):
        raise ValueError(f"svd must be the triple (U, s, Vt) of numpy.linalg.svd, got {type(svd).__name__}") from None
    Y = check.finite_array("Y", Y)
    ridge = check.real("ridge", ridge, low=0.0)
    if (U.ndim < 2 or s.ndim < 1 or Vt.ndim < 2 or Y.ndim < 2 or U.shape[-2] != Y.shape[-2]
            or s.shape[-1] != U.shape[-1] or Vt.shape[-2] != s.shape[-1]):
        raise ValueError(f"svd and Y do not fit: U {U.shape}, s {s.shape}, Vt {Vt.shape}, Y {Y.shape}")
    f = _filter(s, U.shape[-2], ridge)
    return np.swapaxes(Vt, -1, -2) @ (f[..., :, None] * (np.swapaxes(U, -1, -2) @ Y))
