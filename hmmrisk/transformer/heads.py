"""The heads of Figure 3: a batched softmax-head solver and the minimum-norm squared-loss head.

Chapter of origin: :ref:`ch-transformer` (Figure 3, :numref:`fig-transformer`).
Both heads see a frozen feature matrix through :func:`head_design`
(standardise with training statistics, append a bias column, rotate to the
training row space). :func:`fit_softmax_head` minimises ridge-penalised
softmax cross-entropy by damped Newton's method, many problems at once;
:func:`min_norm_squared_head` is the estimator of the theory chapters on
one-hot targets; :func:`fit_heads` runs both on a batch of problems and
returns a :class:`HeadScores`. Nothing here depends on the Transformer: the
synthetic feature families of the chapter use the same functions.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import NamedTuple

import numpy as np
import torch

from .. import _validate as _v
from .network import threads

__all__ = [
    "head_design",
    "softmax_objective",
    "SoftmaxFit",
    "fit_softmax_head",
    "softmax_metrics",
    "min_norm_squared_head",
    "squared_loss",
    "HeadScores",
    "fit_heads",
    "early_stopped_head",
]


# ----------------------------------------------------------------------------
# the head's design matrix
# ----------------------------------------------------------------------------

def head_design(train, test, *, rcond: float = 1e-10):
    """Standardise frozen features, add a bias column, rotate to the training row space.

    With training features ``X`` (``n x p``) and test features ``X'``: every
    column is standardised with the *training* mean and standard deviation
    (a constant column is only centred); a column of ones is appended,
    ``X_a = [X_std, 1]``; with the thin SVD ``X_a = U S V^T`` (singular values
    below ``rcond * s_max`` dropped, ``r`` kept) the head's coordinates are
    ``F = U S = X_a V`` and ``F' = X'_a V``.

    Why this is exact: both heads of Figure 3 (:numref:`fig-transformer`)
    penalise (or minimise) the Frobenius norm of the full weight matrix
    ``W_a`` (weights and bias together) and see the training data only through
    ``X_a W_a``. The part of ``W_a`` orthogonal to the row space of ``X_a``
    changes no training logit and only adds norm, so it is 0 at the optimum;
    hence ``W_a = V Z``, and fitting ``Z`` (``r x V``, ``r <= min(n, p + 1)``)
    on ``F`` gives the same head, ``||Z|| = ||W_a||``, and the same test
    predictions ``F' Z = X'_a W_a``.

    Parameters
    ----------
    train : array, shape (n, p) or (B, n, p)
    test : array, shape (m, p) or (B, m, p)
    rcond : float
        Relative singular-value cut-off, ``0 <= rcond < 1``.

    Returns
    -------
    f_train : numpy.ndarray, shape (..., n, r_max)
    f_test : numpy.ndarray, shape (..., m, r_max)
    rank : numpy.ndarray of int, shape (...)
        ``r`` of each problem; columns beyond it are zero (padding to the
        largest rank of the batch, which leaves every optimum unchanged).
    """
    xtr = _v.finite_array("train", train)
    xte = _v.finite_array("test", test)
    rcond = _v.real("rcond", rcond, low=0.0, high=1.0, high_open=True)
    if xtr.ndim not in (2, 3) or xtr.shape[-2] < 1 or xtr.shape[-1] < 1:
        raise ValueError(f"train must have shape (n, p) or (B, n, p), got {xtr.shape}")
    if (xte.ndim != xtr.ndim or xte.shape[-1] != xtr.shape[-1]
            or xte.shape[:-2] != xtr.shape[:-2] or xte.shape[-2] < 1):
        raise ValueError(f"test must have shape {xtr.shape[:-2] + ('m', xtr.shape[-1])}, "
                         f"got {xte.shape}")
    squeeze = xtr.ndim == 2
    if squeeze:
        xtr, xte = xtr[None], xte[None]
    mean = xtr.mean(axis=1, keepdims=True)
    std = xtr.std(axis=1, keepdims=True)
    std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    ztr = np.concatenate([(xtr - mean) / std, np.ones(xtr.shape[:2] + (1,))], axis=2)
    zte = np.concatenate([(xte - mean) / std, np.ones(xte.shape[:2] + (1,))], axis=2)
    u, s, vt = np.linalg.svd(ztr, full_matrices=False)
    keep = s > rcond * s[:, :1]
    rank = keep.sum(axis=1)
    r_max = int(rank.max())
    s = np.where(keep, s, 0.0)
    f_train = (u * s[:, None, :])[:, :, :r_max]
    v = np.where(keep[:, None, :], np.swapaxes(vt, 1, 2), 0.0)[:, :, :r_max]
    f_test = zte @ v
    if squeeze:
        return f_train[0], f_test[0], rank[0]
    return f_train, f_test, rank


# ----------------------------------------------------------------------------
# softmax head
# ----------------------------------------------------------------------------

def _check_head_inputs(features, labels, n_classes):
    f = _v.finite_array("features", features)
    if f.ndim not in (2, 3) or f.shape[-2] < 1 or f.shape[-1] < 1:
        raise ValueError(f"features must have shape (n, r) or (B, n, r), got {f.shape}")
    n_classes = _v.integer("n_classes", n_classes, minimum=2)
    y = np.asarray(labels)
    if y.shape != f.shape[:-1]:
        raise ValueError(f"labels must have shape {f.shape[:-1]}, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes - 1}], got range "
                         f"[{y.min()}, {y.max()}]")
    squeeze = f.ndim == 2
    if squeeze:
        f, y = f[None], y[None]
    return np.ascontiguousarray(f), y.astype(np.int64), n_classes, squeeze


def _check_weights(weights, f, n_classes):
    w = _v.finite_array("weights", weights)
    if w.ndim == 2:
        w = w[None]
    if w.shape != (f.shape[0], f.shape[2], n_classes):
        raise ValueError(f"weights must have shape {(f.shape[0], f.shape[2], n_classes)} "
                         f"(batch dimension optional), got {np.shape(weights)}")
    return np.ascontiguousarray(w)


def _n_classes(weights, n_classes):
    """``n_classes``, by default the last axis of ``weights`` (checked later)."""
    if n_classes is not None:
        return n_classes
    shape = np.shape(weights)
    if len(shape) not in (2, 3):
        raise ValueError(f"weights must have shape (r, V) or (B, r, V), got {shape}")
    return shape[-1]


def _objective(f, onehot, z, ridge):
    """Loss, gradient and softmax probabilities, batched (torch, float64)."""
    n = f.shape[1]
    logits = f @ z
    lse = torch.logsumexp(logits, dim=2)
    ce = (lse - (logits * onehot).sum(dim=2)).mean(dim=1)
    loss = ce + 0.5 * ridge * (z * z).sum(dim=(1, 2))
    prob = torch.exp(logits - lse[:, :, None])
    grad = f.transpose(1, 2) @ (prob - onehot) / n + ridge * z
    return loss, grad, prob


def softmax_objective(features, labels, weights, ridge: float, *, n_classes: int | None = None):
    """Ridge-penalised softmax cross-entropy of a linear head, and its gradient.

    ``L(Z) = (1/n) sum_i [ logsumexp(f_i Z) - (f_i Z)_{y_i} ] + (ridge/2) ||Z||_F^2``,
    ``grad L = F^T (softmax(F Z) - onehot(y)) / n + ridge * Z``,
    with ``f_i`` the rows of ``F`` (bias column included, see
    :func:`head_design`). Minimised by :func:`fit_softmax_head` for Figure 3
    (:numref:`fig-transformer`).

    Parameters
    ----------
    features : array, shape (n, r) or (B, n, r)
    labels : int array, shape (n,) or (B, n)
    weights : array, shape (r, V) or (B, r, V)
    ridge : float
        ``>= 0``.
    n_classes : int, optional
        ``V``; defaults to ``weights.shape[-1]``.

    Returns
    -------
    loss : numpy.ndarray, shape () or (B,)
    grad : numpy.ndarray, shape of ``weights``
    """
    n_classes = _n_classes(weights, n_classes)
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    w = _check_weights(weights, f, n_classes)
    ridge = _v.real("ridge", ridge, low=0.0)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(y), n_classes).double()
    loss, grad, _ = _objective(torch.from_numpy(f), onehot, torch.from_numpy(w), ridge)
    loss, grad = loss.numpy(), grad.numpy()
    return (loss[0], grad[0]) if squeeze else (loss, grad)


def _hess_vec(f, prob, ridge, d):
    """Hessian of the objective times ``d`` (batched)."""
    g = f @ d
    t = prob * g - prob * (prob * g).sum(dim=2, keepdim=True)
    return f.transpose(1, 2) @ t / f.shape[1] + ridge * d


def _newton_direction(f, prob, ridge, grad):
    """Solve ``H delta = grad`` exactly, using the structure of the softmax Hessian.

    ``H = (1/n) sum_i f_i f_i^T (x) (diag(p_i) - p_i p_i^T) + ridge I``
    is a class-block-diagonal part ``H_v = (1/n) F^T diag(P[:, v]) F + ridge I``
    (``V`` blocks of size ``r x r``) minus the rank-``n`` term ``U U^T / n``
    with ``u_i[:, v] = p_{iv} f_i``. Woodbury:
    ``H^{-1} g = H0^{-1} g + H0^{-1} U (n I - U^T H0^{-1} U)^{-1} U^T H0^{-1} g``,
    so the cost is ``V`` Cholesky factorisations of ``r x r`` and one of
    ``n x n`` instead of one of ``rV x rV``.
    """
    b, n, r = f.shape
    v = prob.shape[2]
    p_t = prob.transpose(1, 2)                                   # (B, V, n)
    f_t = f.transpose(1, 2)                                      # (B, r, n)
    h0 = ((f_t[:, None] * p_t[:, :, None, :]).reshape(b, v * r, n) @ f).reshape(b, v, r, r) / n
    h0.diagonal(dim1=2, dim2=3).add_(ridge)
    chol, info = torch.linalg.cholesky_ex(h0)
    x = torch.linalg.solve_triangular(chol, f_t[:, None].expand(b, v, r, n), upper=False)
    y = (x * p_t[:, :, None, :]).reshape(b, v * r, n)
    schur = -(y.transpose(1, 2) @ y)
    schur.diagonal(dim1=1, dim2=2).add_(n)
    a = torch.cholesky_solve(grad.transpose(1, 2)[..., None], chol)[..., 0]      # (B, V, r)
    ua = (prob * (f @ a.transpose(1, 2))).sum(dim=2)                            # (B, n)
    chol_s, info_s = torch.linalg.cholesky_ex(schur)
    c = torch.cholesky_solve(ua[..., None], chol_s)[..., 0]
    rhs = (f_t @ (prob * c[:, :, None])).transpose(1, 2)                        # (B, V, r)
    delta = a + torch.cholesky_solve(rhs[..., None], chol)[..., 0]
    return delta.transpose(1, 2), (info > 0).any(dim=1) | (info_s > 0)


def _dense_direction(f, prob, ridge, grad):
    """Fallback: build the full ``rV x rV`` Hessian of one problem and solve it."""
    n, r = f.shape
    v = prob.shape[1]
    a = torch.diag_embed(prob) - prob[:, :, None] * prob[:, None, :]          # (n, V, V)
    h = torch.einsum("nr,nvw,ns->rvsw", f, a, f).reshape(r * v, r * v) / n
    h += ridge * torch.eye(r * v, dtype=f.dtype)
    sol = np.linalg.solve(h.numpy(), grad.reshape(-1).numpy())
    return torch.from_numpy(sol).reshape(r, v)


@dataclass
class SoftmaxFit:
    """Result of :func:`fit_softmax_head` (arrays with the batch shape ``(B,)``).

    Attributes
    ----------
    weights : numpy.ndarray, shape (B, r, V)
        The fitted head ``Z``.
    loss : numpy.ndarray
        Objective :func:`softmax_objective` at ``weights``.
    grad_norm : numpy.ndarray
        Largest absolute gradient entry at ``weights``.
    n_iter : numpy.ndarray
        Newton steps taken.
    converged : numpy.ndarray of bool
        ``grad_norm <= gtol``.
    residual : numpy.ndarray
        Largest relative residual ``||H delta - g|| / ||g||`` of the Newton
        systems solved along the way (a check on the linear algebra).
    """

    weights: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    residual: np.ndarray


def fit_softmax_head(features, labels, n_classes: int, *, ridge: float = 1e-6,
                     gtol: float = 1e-8, max_iter: int = 300, init=None,
                     n_threads: int | None = 1) -> SoftmaxFit:
    """Fit softmax heads to the minimiser of :func:`softmax_objective`, many at once.

    Damped Newton's method in float64: the exact Newton direction (solved by
    the structured Woodbury route of ``_newton_direction``, its residual
    checked, with a dense solve as fallback), then Armijo backtracking from the
    unit step (or, if the unit step is accepted, doubling it while the
    objective keeps falling). The objective is strictly convex for ``ridge > 0``, so the
    minimiser is unique and Newton converges to it quadratically; a problem
    stops once its largest gradient entry is ``<= gtol``. The ``B`` problems are
    independent and advance together. Used for Figure 3
    (:numref:`fig-transformer`).

    Why a ridge at all: without one the objective has no finite minimiser as
    soon as some class can be separated from the rest (its logits can grow
    without bound), which happens with ``n = 100`` and 16 classes already at
    tiny widths; the head then depends on when an optimiser is stopped. A tiny
    ridge picks one well-defined head; on a separable training set it is
    close to the maximum-margin direction, scaled to a large norm.

    Parameters
    ----------
    features : array, shape (n, r) or (B, n, r)
        Head inputs (typically from :func:`head_design`).
    labels : int array, shape (n,) or (B, n)
    n_classes : int
        ``V >= 2``.
    ridge, gtol : float
        Both ``> 0``.
    max_iter : int
        Newton steps allowed, ``>= 1``.
    init : array, shape (r, V) or (B, r, V), optional
        Starting point (default 0); used to warm-start a path of ridges.
    n_threads : int or None
        Torch threads during the fit (restored afterwards; ``None``: leave as is).

    Returns
    -------
    SoftmaxFit
        Without the batch dimension if the input had none.
    """
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    ridge = _v.real("ridge", ridge, low=0.0, low_open=True)
    gtol = _v.real("gtol", gtol, low=0.0, low_open=True)
    max_iter = _v.integer("max_iter", max_iter)
    z0 = np.zeros((f.shape[0], f.shape[2], n_classes)) if init is None else \
        _check_weights(init, f, n_classes)
    with threads(n_threads):
        out = _newton(torch.from_numpy(f), torch.from_numpy(y), n_classes, ridge, gtol,
                      max_iter, torch.from_numpy(z0.copy()))
    if squeeze:
        out = SoftmaxFit(*(np.asarray(a)[0] for a in astuple(out)))
    return out


# the loss's rounding level, relative: 64 float64 ulps (see _newton)
_FLAT = 64 * float(np.finfo(np.float64).eps)


def _newton(f, y, n_classes, ridge, gtol, max_iter, z, c1=1e-4, max_halvings=60, max_expand=12):
    b = f.shape[0]
    onehot = torch.nn.functional.one_hot(y, n_classes).double()
    loss, grad, prob = _objective(f, onehot, z, ridge)
    n_iter = torch.zeros(b, dtype=torch.long)
    residual = torch.zeros(b, dtype=torch.float64)
    active = grad.abs().amax(dim=(1, 2)) > gtol
    for _ in range(max_iter):
        idx = torch.nonzero(active).flatten()
        if idx.numel() == 0:
            break
        fi, oi, zi, gi, li, pi = f[idx], onehot[idx], z[idx], grad[idx], loss[idx], prob[idx]
        delta, failed = _newton_direction(fi, pi, ridge, gi)
        gnorm = gi.flatten(1).norm(dim=1)
        res = (_hess_vec(fi, pi, ridge, delta) - gi).flatten(1).norm(dim=1) / gnorm
        redo = failed | ~torch.isfinite(res) | (res > 1e-6)
        for j in torch.nonzero(redo).flatten().tolist():
            delta[j] = _dense_direction(fi[j], pi[j], ridge, gi[j])
            res[j] = ((_hess_vec(fi[j:j + 1], pi[j:j + 1], ridge, delta[j:j + 1]) - gi[j:j + 1])
                      .norm() / gnorm[j])
        residual[idx] = torch.maximum(residual[idx], res)
        direction = -delta
        slope = (gi * direction).sum(dim=(1, 2))
        bad = ~(slope < 0)
        direction[bad] = -gi[bad]
        slope[bad] = -(gi[bad] ** 2).sum(dim=(1, 2))
        step = torch.ones(idx.numel(), dtype=torch.float64)
        todo = torch.arange(idx.numel())
        moved = torch.zeros(idx.numel(), dtype=torch.bool)
        for _h in range(max_halvings):
            zt = zi[todo] + step[todo, None, None] * direction[todo]
            lt, gt, pt = _objective(fi[todo], oi[todo], zt, ridge)
            ok = lt <= li[todo] + c1 * step[todo] * slope[todo]
            # Near the optimum the predicted decrease -slope / 2 falls below
            # the objective's float64 rounding: Armijo can no longer tell a
            # step that helps from one that hurts. There a step is taken
            # when it shrinks the gradient instead (Newton's own merit).
            flat = -slope[todo] <= _FLAT * li[todo].abs().clamp(min=1.0)
            ok |= flat & (gt.abs().amax(dim=(1, 2)) < gi[todo].abs().amax(dim=(1, 2)))
            acc = todo[ok]
            zi[acc], li[acc], gi[acc], pi[acc] = zt[ok], lt[ok], gt[ok], pt[ok]
            moved[acc] = True
            todo = todo[~ok]
            if todo.numel() == 0:
                break
            step[todo] *= 0.5
        # where the unit step was taken, keep doubling it while the objective
        # falls: in the flat exponential tails of a nearly separable problem the
        # Newton step can be too short; near the optimum t = 1 wins at once.
        grow = torch.nonzero(moved & (step == 1.0)).flatten()
        t = 1.0
        for _e in range(max_expand):
            if grow.numel() == 0:
                break
            t *= 2.0
            zt = z[idx[grow]] + t * direction[grow]
            lt, gt, pt = _objective(fi[grow], oi[grow], zt, ridge)
            better = lt < li[grow]
            acc = grow[better]
            zi[acc], li[acc], gi[acc], pi[acc] = zt[better], lt[better], gt[better], pt[better]
            grow = acc
        z[idx], loss[idx], grad[idx], prob[idx] = zi, li, gi, pi
        n_iter[idx] += 1
        active[idx] = (gi.abs().amax(dim=(1, 2)) > gtol) & moved
    gmax = grad.abs().amax(dim=(1, 2))
    return SoftmaxFit(weights=z.numpy(), loss=loss.numpy(), grad_norm=gmax.numpy(),
                      n_iter=n_iter.numpy(), converged=(gmax <= gtol).numpy(),
                      residual=residual.numpy())


def softmax_metrics(features, labels, weights, *, n_classes: int | None = None):
    """Mean cross-entropy (nats) and accuracy of the softmax head ``softmax(f Z)``.

    ``CE = -(1/m) sum_i log softmax(f_i Z)_{y_i}``; accuracy
    ``= (1/m) #{i : argmax_v (f_i Z)_v = y_i}``. Test CE is the y-axis of
    Figure 3 (:numref:`fig-transformer`).

    Returns
    -------
    ce, accuracy : numpy.ndarray, shape () or (B,)
    """
    n_classes = _n_classes(weights, n_classes)
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    w = _check_weights(weights, f, n_classes)
    logits = torch.from_numpy(f) @ torch.from_numpy(w)
    yt = torch.from_numpy(y)
    ce = -torch.gather(torch.log_softmax(logits, dim=2), 2, yt[:, :, None])[:, :, 0].mean(dim=1)
    acc = (logits.argmax(dim=2) == yt).double().mean(dim=1)
    ce, acc = ce.numpy(), acc.numpy()
    return (ce[0], acc[0]) if squeeze else (ce, acc)


# ----------------------------------------------------------------------------
# squared-loss head
# ----------------------------------------------------------------------------

def min_norm_squared_head(features, labels, n_classes: int, *, rcond: float = 1e-10):
    """Minimum-norm least-squares head on one-hot targets: ``Z = F^+ Y``.

    ``Y = onehot(y)`` (``n x V``) and ``F^+`` is the Moore-Penrose
    pseudo-inverse (singular values below ``rcond * s_max`` treated as 0).
    While ``F`` has full column rank this is ordinary least squares; once its
    rank reaches ``n`` it interpolates the training targets with the smallest
    ``||Z||_F``: the estimator of the theory chapters, here on Transformer
    features. Companion head of Figure 3 (:numref:`fig-transformer`).

    Returns
    -------
    numpy.ndarray, shape (r, V) or (B, r, V)
    """
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    rcond = _v.real("rcond", rcond, low=0.0, high=1.0, high_open=True)
    u, s, vt = np.linalg.svd(f, full_matrices=False)
    keep = s > rcond * s[:, :1]
    inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    w = np.swapaxes(vt, 1, 2) @ (inv[:, :, None] * (np.swapaxes(u, 1, 2) @ np.eye(n_classes)[y]))
    return w[0] if squeeze else w


def squared_loss(features, labels, weights, *, n_classes: int | None = None):
    """Mean squared loss of a linear head on one-hot targets.

    ``(1/m) sum_i || onehot(y_i) - f_i Z ||^2`` (summed over the ``V``
    classes). Reported for the minimum-norm head next to Figure 3
    (:numref:`fig-transformer`).

    Returns
    -------
    numpy.ndarray, shape () or (B,)
    """
    n_classes = _n_classes(weights, n_classes)
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    w = _check_weights(weights, f, n_classes)
    loss = ((np.eye(n_classes)[y] - f @ w) ** 2).sum(axis=2).mean(axis=1)
    return loss[0] if squeeze else loss



class HeadScores(NamedTuple):
    """Both heads on a batch of ``B`` problems: what :func:`fit_heads` returns.

    Softmax-head fields have axes ``(ridge, problem)``; squared-loss and design
    fields have axes ``(problem,)``. Chapter of origin: :ref:`ch-transformer`.
    The fields (each also listed below by position, as for any ``NamedTuple``):

    test_ce, train_ce : (ridge, problem)
        Mean cross-entropy (nats) of the softmax head on the test / training pairs.
    test_acc, train_acc : (ridge, problem)
        Accuracy of its argmax.
    weight_norm : (ridge, problem)
        ``||W_a||_F`` (weights and bias).
    train_margin : (ridge, problem)
        ``min_i [s_{i y_i} - max_{k != y_i} s_{ik}] / max(1, max_{i,k} |s_{ik}|)`` for the
        head's training logits ``s``: if it exceeds ``1e-9`` the head strictly
        separates the training set, a certificate of exact linear separability
        (the experiment then skips the linear programme).
    grad_norm, n_iter, converged, residual : (ridge, problem)
        Solver diagnostics (see :class:`SoftmaxFit`).
    sq_test_loss, sq_train_loss : (problem,)
        Mean squared loss of the minimum-norm least-squares head on one-hot targets.
    rank : (problem,)
        Rank of the standardised training design with its bias column.
    eff_rank : (problem,)
        Its participation ratio ``(sum s_j^2)^2 / sum s_j^4``.
    sv_min_rel : (problem,)
        Its smallest kept singular value over the largest.
    val_ce : (ridge, problem)
        Mean cross-entropy of the softmax head on the validation pairs (NaN without them).
    """

    test_ce: np.ndarray
    train_ce: np.ndarray
    test_acc: np.ndarray
    train_acc: np.ndarray
    weight_norm: np.ndarray
    train_margin: np.ndarray
    grad_norm: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    residual: np.ndarray
    sq_test_loss: np.ndarray
    sq_train_loss: np.ndarray
    rank: np.ndarray
    eff_rank: np.ndarray
    sv_min_rel: np.ndarray
    val_ce: np.ndarray


def _relative_margin(logits, labels):
    """``min_i [s_{i y_i} - max_{k != y_i} s_{ik}] / max(1, max |s|)``, per problem, shape (B,)."""
    s = np.array(logits, dtype=float)
    rows = np.arange(s.shape[1])[None, :]
    probs = np.arange(s.shape[0])[:, None]
    true = s[probs, rows, labels].copy()
    s[probs, rows, labels] = -np.inf
    scale = np.maximum(1.0, np.abs(true).max(axis=1))
    scale = np.maximum(scale, np.abs(np.where(np.isfinite(s), s, 0.0)).max(axis=(1, 2)))
    return (true - s.max(axis=2)).min(axis=1) / scale


SOFTMAX_FIELDS = ("test_ce", "train_ce", "test_acc", "train_acc", "weight_norm", "grad_norm",
                  "n_iter", "converged", "residual")
#: Softmax-head fields of :class:`HeadScores` that are diagnostics of the fit, not results.
_EXTRA_FIELDS = ("train_margin",)


def fit_heads(train_features, y_train, test_features, y_test, n_classes: int, *,
              ridges=(1e-6,), gtol: float = 1e-8, max_iter: int = 300,
              val_features=None, y_val=None, n_threads: int | None = 1) -> HeadScores:
    """Both heads on a batch of frozen-feature problems (one width of Figure 3).

    For each problem: :func:`head_design`, then the softmax head at each ridge
    (largest first, each warm-started from the previous one), the
    minimum-norm squared-loss head; with validation pairs, the softmax head's
    validation cross-entropy at each ridge (to choose the ridge without the
    test set). Chapter of origin: :ref:`ch-transformer`.

    Parameters
    ----------
    train_features : array, shape (B, n, p)
    y_train : int array, shape (B, n)
    test_features : array, shape (B, m, p) or (m, p) (shared by all problems)
    y_test : int array, shape (m,) or (B, m)
    n_classes : int
    ridges : sequence of float
        Each ``> 0``.
    val_features : array, shape (B, m', p) or (m', p), optional
    y_val : int array, shape (m',) or (B, m'), optional

    Returns
    -------
    HeadScores
    """
    xtr = _v.finite_array("train_features", train_features, ndim=3)
    xte, y_te = _eval_set("test", test_features, y_test, xtr)
    y_tr = np.asarray(y_train)
    if y_tr.shape != xtr.shape[:2] or not np.issubdtype(y_tr.dtype, np.integer):
        raise ValueError(f"y_train must be an integer array of shape {xtr.shape[:2]}, "
                         f"got {y_tr.dtype} array of shape {y_tr.shape}")
    ridges = [_v.real("ridges", r, low=0.0, low_open=True) for r in np.atleast_1d(ridges)]
    if not ridges:
        raise ValueError(f"ridges must not be empty, got {ridges!r}")
    m_te = xte.shape[1]
    if val_features is not None:
        xva, y_va = _eval_set("val", val_features, y_val, xtr)
        xte, y_te = np.concatenate([xte, xva], axis=1), np.concatenate([y_te, y_va], axis=1)
    f_tr, f_all, rank = head_design(xtr, xte)
    f_te, f_va = f_all[:, :m_te], f_all[:, m_te:]
    y_te, y_va = y_te[:, :m_te], y_te[:, m_te:]
    out = {k: np.empty((len(ridges), xtr.shape[0])) for k in SOFTMAX_FIELDS + _EXTRA_FIELDS}
    out["val_ce"] = np.full((len(ridges), xtr.shape[0]), np.nan)
    out["converged"] = np.zeros((len(ridges), xtr.shape[0]), dtype=bool)
    out["n_iter"] = np.zeros((len(ridges), xtr.shape[0]), dtype=np.int64)
    order = np.argsort(ridges)[::-1]
    z = None
    for k in order:
        fit = fit_softmax_head(f_tr, y_tr, n_classes, ridge=ridges[k], gtol=gtol,
                               max_iter=max_iter, init=z, n_threads=n_threads)
        z = fit.weights
        out["test_ce"][k], out["test_acc"][k] = softmax_metrics(f_te, y_te, z)
        out["train_ce"][k], out["train_acc"][k] = softmax_metrics(f_tr, y_tr, z)
        if f_va.shape[1]:
            out["val_ce"][k] = softmax_metrics(f_va, y_va, z)[0]
        out["weight_norm"][k] = np.sqrt((z ** 2).sum(axis=(1, 2)))
        out["train_margin"][k] = _relative_margin(f_tr @ z, y_tr)
        for key in ("grad_norm", "n_iter", "converged", "residual"):
            out[key][k] = getattr(fit, key)
    w_sq = min_norm_squared_head(f_tr, y_tr, n_classes)
    out["sq_test_loss"] = squared_loss(f_te, y_te, w_sq)
    out["sq_train_loss"] = squared_loss(f_tr, y_tr, w_sq)
    out["rank"] = rank
    sv2 = (f_tr ** 2).sum(axis=1)          # squared singular values of [X_std, 1]
    out["eff_rank"] = sv2.sum(axis=1) ** 2 / (sv2 ** 2).sum(axis=1)
    sv = np.sqrt(np.where(sv2 > 0, sv2, np.inf))
    out["sv_min_rel"] = sv.min(axis=1) / np.sqrt(sv2.max(axis=1))
    return HeadScores(**out)


def _eval_set(name, features, labels, xtr):
    """An evaluation set of :func:`fit_heads` as ``(B, m, p)`` features and ``(B, m)`` labels."""
    x = _v.finite_array(f"{name}_features", features)
    if x.ndim == 2:
        x = np.broadcast_to(x, (xtr.shape[0],) + x.shape)
    if x.ndim != 3 or x.shape[0] != xtr.shape[0] or x.shape[2] != xtr.shape[2]:
        raise ValueError(f"{name}_features must have shape (m, {xtr.shape[2]}) or "
                         f"({xtr.shape[0]}, m, {xtr.shape[2]}), got {np.shape(features)}")
    y = np.asarray(labels)
    if y.ndim == 1:
        y = np.broadcast_to(y, x.shape[:2])
    if y.shape != x.shape[:2] or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y_{name} must be an integer array of shape {x.shape[:2]}, "
                         f"got {y.dtype} array of shape {y.shape}")
    return x, y


def early_stopped_head(train_features, y_train, val_features, y_val, test_features, y_test,
                       n_classes: int, *, steps: int = 2000, n_checks: int = 40,
                       n_threads: int | None = 1):
    """Gradient descent on the unregularised cross-entropy, stopped where the validation loss is least.

    On the design of :func:`head_design` (``F``, bias included), from ``Z = 0``,
    ``Z <- Z - eta * F^T (softmax(F Z) - onehot(y)) / n`` with
    ``eta = 2 / lambda_max(F^T F / n)`` (the softmax Hessian is at most half
    ``F^T F / n``, so every step lowers the loss). The validation
    cross-entropy is measured at ``n_checks`` steps spaced geometrically up to
    ``steps``; the head kept is the one at the best of them, so the stopping
    time, like a tuned ridge, is chosen without the test set. Chapter of
    origin: :ref:`ch-transformer`.

    Parameters
    ----------
    train_features : array, shape (B, n, p)
    val_features, test_features : array, shape (B, m, p) or (m, p)

    Returns
    -------
    test_ce, val_ce : numpy.ndarray, shape (B,)
        At the chosen step.
    step : numpy.ndarray of int, shape (B,)
        The chosen step (0: the bias-free zero head, the uniform prediction).
    """
    xtr = _v.finite_array("train_features", train_features, ndim=3)
    xte, y_te = _eval_set("test", test_features, y_test, xtr)
    xva, y_va = _eval_set("val", val_features, y_val, xtr)
    steps = _v.integer("steps", steps)
    n_checks = _v.integer("n_checks", n_checks)
    f_tr, f_all, _ = head_design(xtr, np.concatenate([xte, xva], axis=1))
    m_te = xte.shape[1]
    f_te, f_va = f_all[:, :m_te], f_all[:, m_te:]
    y_tr = np.asarray(y_train)
    f, y, n_classes, _ = _check_head_inputs(f_tr, y_tr, n_classes)
    checks = set(np.unique(np.geomspace(1, steps, n_checks).round().astype(int)).tolist())
    with threads(n_threads):
        ft = torch.from_numpy(f)
        onehot = torch.nn.functional.one_hot(torch.from_numpy(y), n_classes).double()
        lmax = torch.linalg.eigvalsh(ft.transpose(1, 2) @ ft / ft.shape[1])[:, -1]
        eta = (2.0 / lmax)[:, None, None]
        z = torch.zeros((f.shape[0], f.shape[2], n_classes), dtype=torch.float64)
        best_val = softmax_metrics(f_va, y_va, z.numpy())[0]
        best_z, best_step = z.clone(), np.zeros(f.shape[0], dtype=np.int64)
        for t in range(1, steps + 1):
            prob = torch.softmax(ft @ z, dim=2)
            z = z - eta * (ft.transpose(1, 2) @ (prob - onehot)) / ft.shape[1]
            if t in checks:
                val = softmax_metrics(f_va, y_va, z.numpy())[0]
                better = val < best_val
                best_val = np.where(better, val, best_val)
                best_step = np.where(better, t, best_step)
                best_z[torch.from_numpy(better)] = z[torch.from_numpy(better)]
    test = softmax_metrics(f_te, y_te, best_z.numpy())[0]
    return test, best_val, best_step
