"""Exact linear separability of a K-class training set (chapter :ref:`ch-transformer`).

A training set ``(x_i, y_i)``, ``i = 1..n``, with labels in ``{0..K-1}`` is
*linearly separable with bias* if some weights ``w_k`` and biases ``b_k`` put
every point strictly on its own class's side:

``(w_k - w_{y_i}) . x_i + (b_k - b_{y_i}) < 0`` for every ``i`` and ``k != y_i``.

The inequalities are homogeneous, so strict feasibility is equivalent (by
scaling) to feasibility of ``... <= -1``: a linear programme with a zero
objective, solved exactly by HiGHS (``scipy.optimize.linprog(method="highs-ipm")``).
This is the threshold at which a nearly unregularised softmax head stops having
a finite optimum and its test cross-entropy peaks (Cover 1965; Candès & Sur
2020; Deng, Kammoun & Thrampoulidis 2022), rather than a fitted head's training
accuracy, which depends on the solver and the ridge.

Two exact reductions keep the programme small:

* Only classes present in the training set carry constraints that matter: an
  absent class ``k`` is pushed away by ``w_k = 0``, ``b_k`` very negative.
* Only the row space of the design matters: with ``X_a = [X, 1] = U S V^T``
  every training logit is ``X_a W = U S (V^T W)``, so the programme is solved
  on ``F = U S`` (``n x r``, ``r = rank X_a``). If ``r = n`` any logits are
  reachable and the set is separable without solving anything.

Before the programme, two cheap certificates: a head whose training scores
rank every true class strictly first *proves* separability (the least-squares
fit of one-hot scores, then a ridge-``1e-6`` softmax head on the whitened
coordinates ``U``, for programmes of at least ``_CERTIFY_MIN_VARIABLES``
variables); only sets neither certifies go to HiGHS, which is then the judge
of "not separable". The answer is the same; far above the threshold, where
the programme is slowest, it is rarely needed.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize as so
import scipy.sparse as sp

from .. import _validate as _v
from .heads import fit_softmax_head

__all__ = ["is_separable", "separability_threshold", "cover_probability"]


def _check(features, labels):
    x = _v.finite_array("features", features)
    if x.ndim not in (2, 3) or x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(f"features must have shape (n, p) or (B, n, p), got {x.shape}")
    y = np.asarray(labels)
    if y.shape != x.shape[:-1] or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be an integer array of shape {x.shape[:-1]}, "
                         f"got {y.dtype} array of shape {y.shape}")
    if y.size and y.min() < 0:
        raise ValueError(f"labels must be non-negative, got minimum {y.min()!r}")
    return x, y


def _row_space(x, bias, rcond):
    xa = np.c_[x, np.ones(x.shape[0])] if bias else x
    u, s, _ = np.linalg.svd(xa, full_matrices=False)
    keep = s > rcond * s[0] if s.size and s[0] > 0 else np.zeros_like(s, dtype=bool)
    return u[:, keep] * s[keep]


#: Programmes with fewer variables (``r k``) than this go to HiGHS directly: for
#: them the linear programme takes milliseconds, less than the softmax
#: certificate's Newton fit (Cover's small binary sets, for instance).
_CERTIFY_MIN_VARIABLES = 200


def _strictly_ranked(s, yy) -> bool:
    """Do the scores ``s`` (``n x k``) put every true class strictly first (relative margin 1e-9)?"""
    n = s.shape[0]
    s = np.array(s, dtype=float)
    true = s[np.arange(n), yy].copy()
    scale = max(1.0, np.abs(s).max())
    s[np.arange(n), yy] = -np.inf
    return bool(np.all(true - s.max(axis=1) > 1e-9 * scale))


def _softmax_certificate(f, yy, k) -> bool:
    """Certificate of separability from a ridge-1e-6 softmax head on the whitened coordinates of ``f``."""
    u = f / np.linalg.norm(f, axis=0)             # columns of F = U S are orthogonal
    fit = fit_softmax_head(u, yy, k, ridge=1e-6, gtol=1e-8, max_iter=50, n_threads=None)
    return _strictly_ranked(u @ fit.weights, yy)


def _separable_one(f, y) -> bool:
    n, r = f.shape
    classes, yy = np.unique(y, return_inverse=True)
    k = classes.size
    if k < 2:
        return True                    # one class: nothing to separate
    if r == n:
        return True                    # full row rank: any logits are reachable
    if r == 0:
        return False
    # cheap exact certificate of separability: if the least-squares fit of
    # one-hot scores already ranks every true class strictly first, the
    # constraints hold after scaling (skips most programmes far above p_sep)
    onehot = np.eye(k)[yy]
    z, *_ = np.linalg.lstsq(f, onehot, rcond=None)
    if _strictly_ranked(f @ z, yy):
        return True
    if r * k < _CERTIFY_MIN_VARIABLES:
        return _programme(f, yy, k)     # small programmes are cheaper than a Newton fit
    # second certificate: a nearly unregularised softmax head on the whitened
    # row-space coordinates U (separability is invariant under the invertible
    # map F = U S, and whitening lets the head use directions of tiny variance);
    # if its scores rank every true class strictly first, the set is separable.
    # Any head that separates is a proof, converged or not; the programme
    # decides only what this leaves open (near the threshold, where it is cheap)
    if _softmax_certificate(f, yy, k):
        return True
    return _programme(f, yy, k)


def _programme(f, yy, k) -> bool:
    """HiGHS decides: is there ``Z`` with ``(F Z)_{i, y_i} - (F Z)_{i, l} >= 1`` for every ``i`` and ``l != y_i``?"""
    n, r = f.shape
    # variables Z (r x k), column-major: Z[:, c] occupies c*r .. (c+1)*r - 1
    rows_i = np.repeat(np.arange(n), k - 1)
    others = np.array([[c for c in range(k) if c != yy[i]] for i in range(n)]).ravel()
    m = rows_i.size
    cols_pos = others[:, None] * r + np.arange(r)[None, :]         # + f_i on class k
    cols_neg = yy[rows_i][:, None] * r + np.arange(r)[None, :]     # - f_i on class y_i
    vals = f[rows_i]
    a = sp.csr_matrix((np.concatenate([vals.ravel(), -vals.ravel()]),
                       (np.concatenate([np.repeat(np.arange(m), r)] * 2),
                        np.concatenate([cols_pos.ravel(), cols_neg.ravel()]))),
                      shape=(m, r * k))
    res = so.linprog(np.zeros(r * k), A_ub=a, b_ub=-np.ones(m), bounds=(None, None),
                     method="highs-ipm")
    if res.status == 0:
        return True
    if res.status == 2:
        return False
    raise RuntimeError(f"linprog could not decide separability: status {res.status} ({res.message})")


def is_separable(features, labels, *, bias: bool = True, rcond: float = 1e-10):
    """Exact test: is the training set linearly separable (K classes, with bias)?

    Decides feasibility of ``(w_k - w_{y_i}) . x_i + (b_k - b_{y_i}) <= -1``
    for all ``i`` and ``k != y_i`` by linear programming (HiGHS), after the
    exact reductions of the module docstring. Chapter of origin:
    :ref:`ch-transformer`.

    Parameters
    ----------
    features : array, shape (n, p) or (B, n, p)
    labels : int array, shape (n,) or (B, n)
        Non-negative class labels (any number of classes).
    bias : bool
        Append a column of ones (``False`` if ``features`` already hold one,
        e.g. the output of :func:`~hmmrisk.transformer.heads.head_design`).
    rcond : float
        Singular values of the design below ``rcond * s_max`` count as 0.

    Returns
    -------
    bool or numpy.ndarray of bool, shape (B,)
    """
    x, y = _check(features, labels)
    if not isinstance(bias, bool):
        raise ValueError(f"bias must be a bool, got {bias!r}")
    rcond = _v.real("rcond", rcond, low=0.0, high=1.0, high_open=True)
    if x.ndim == 2:
        return _separable_one(_row_space(x, bias, rcond), y)
    return np.array([_separable_one(_row_space(xb, bias, rcond), yb) for xb, yb in zip(x, y)])


def separability_threshold(features, labels, *, bias: bool = True, rcond: float = 1e-10,
                           guess: int | None = None) -> int:
    """Smallest ``p`` such that the first ``p`` columns of ``features`` separate the labels.

    For nested features (column ``j`` added to the model of size ``j - 1``)
    separability can only be gained as ``p`` grows, so a bracketing search
    over ``p = 1..P`` finds the threshold ``p_sep`` exactly with linear
    programmes (:func:`is_separable`): it starts at ``guess``, gallops away
    from it in steps 1, 2, 4, ... until the threshold is bracketed, then
    bisects. The answer does not depend on ``guess``; only the number of
    programmes does (about ``2 + 2 log2 |p_sep - guess|``, against
    ``log2 P`` programmes of full bisection, most of them far from the
    threshold, where the programmes are largest). Returns ``P + 1`` if even
    all ``P`` columns do not separate. Chapter of origin: :ref:`ch-transformer`.

    Parameters
    ----------
    features : array, shape (n, P)
    labels : int array, shape (n,)
    guess : int, optional
        Where to start, clipped to ``1..P``; default ``round(n / 5)`` (the
        order of ``p_sep`` for 16 classes, Cover 1965).

    Returns
    -------
    int
    """
    x, y = _check(features, labels)
    if x.ndim != 2:
        raise ValueError(f"features must have shape (n, P), got {x.shape}")
    n, big_p = x.shape
    guess = max(1, round(n / 5)) if guess is None else _v.integer("guess", guess, minimum=0)
    guess = min(max(guess, 1), big_p)

    def sep(p):
        return bool(is_separable(x[:, :p], y, bias=bias, rcond=rcond))

    # invariant: lo columns do not separate (0 counts as not separating), hi columns do
    lo, hi = 0, None
    if sep(guess):
        hi, step = guess, 1
        while hi - step > lo:
            if sep(hi - step):
                hi, step = hi - step, 2 * step
            else:
                lo = hi - step
                break
    else:
        lo, step = guess, 1
        while hi is None:
            q = min(lo + step, big_p)
            if sep(q):
                hi = q
            elif q == big_p:
                return big_p + 1
            else:
                lo, step = q, 2 * step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if sep(mid):
            hi = mid
        else:
            lo = mid
    return hi


def cover_probability(n: int, p: int) -> float:
    """Cover's (1965) probability that random binary labels of ``n`` points are separable.

    For ``n`` points in general position in ``R^p`` and a linear classifier
    with bias (``p + 1`` parameters), each of the ``2^n`` labellings equally
    likely: ``P = 2^{1-n} sum_{k=0}^{p} binom(n-1, k)``; it is exactly 1/2 at
    ``n = 2 (p + 1)``. The check on :func:`is_separable`, and the reason
    ``p_sep`` is a fraction of ``n``. Chapter of origin: :ref:`ch-transformer`.
    """
    from math import comb

    n = _v.integer("n", n)
    p = _v.integer("p", p, minimum=0)
    return float(min(1.0, 2.0 ** (1 - n) * sum(comb(n - 1, k) for k in range(min(p, n - 1) + 1))))
